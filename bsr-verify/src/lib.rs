//! # bsr-verify
//!
//! Verification of BSR recordings.
#![deny(missing_docs)]
