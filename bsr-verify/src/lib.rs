//! # bsr-verify
//!
//! Verification of BSR recordings in local folders and S3-compatible object stores, as a
//! library ([`verify()`], [`verify_many`]) and as the `bsr-verify` binary.
//!
//! ```no_run
//! use bsr_core::store::FsStore;
//! use bsr_verify::{verify, VerifyOptions, Verdict};
//!
//! let store = FsStore::new("testdata/recordings");
//! let report = verify(&store, "sr_shell00001.bsr", &VerifyOptions::default());
//! // No trust anchor was given: at best "intact, authenticity not established".
//! assert_eq!(report.verdict, Verdict::Unauthenticated);
//! ```
#![deny(missing_docs)]

pub mod facts;
pub mod report;
pub mod s3;
pub mod shard;
pub mod target;
pub mod verify;

pub use report::{Report, Verdict};
pub use verify::{Trust, VerifyOptions, verify, verify_many};
