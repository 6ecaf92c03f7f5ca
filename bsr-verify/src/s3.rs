//! S3-compatible object stores: moved to [`bsr_core::store::s3`] (cargo feature `s3`).

pub use bsr_core::store::s3::*;
