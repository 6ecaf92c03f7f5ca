//! **Live** sessions: the place for following recordings while they are written.
//!
//! Not built here. The follow library (`bsr-core` read/follow, `convert --follow`) is being
//! written separately; when it lands, its views go in this module and its routes under
//! `/live/…` and `/api/v1/live/…` in [`super::router`]. Until then the server has no live
//! route at all (a request for one is `404`), and an unfinished recording is listed with
//! its verdict `incomplete` and refused by the gate, like any recording that is not signed.
