//! # bsr-asciicast
//!
//! SSH channel → asciicast conversion with a header-security report, and asciicast import.
#![deny(missing_docs)]
