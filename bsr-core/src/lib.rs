//! # bsr-core
//!
//! Byte-compatible reader and streaming writer for HashiCorp Boundary's session recording
//! format (BSR). See `docs/FORMAT.md` in the repository for the complete byte layout.
//!
//! Layers, as in gimli-rs/object, each in its own folder:
//! * [`format`](mod@format): on-disk constants, field layouts, [`Timestamp`], the protobuf
//!   messages, `SHA256SUM` lines and `.meta`/summary files (imports nothing else);
//! * [`ssh`]: the `BSSH` chunk types and their protobuf payloads, and the session-program rule;
//! * [`keys`]: keys, wrapping, signatures and the key bindings, attestation;
//! * [`store`]: where recordings live (local folder, memory, S3 behind the feature `s3`);
//! * [`read`]: opening and navigating recordings, decoding chunks (slice reader, push decoder,
//!   streamed and memory-mapped files) and the chunk-structure rules, zero-copy;
//! * [`write`](mod@write): the streaming recording writer, the chunk encoder, sealing a
//!   container, and recovery of unfinished recordings.
//!
//! Nothing reaches up: `format` ← `ssh`, `keys`, `store` ← `read` ← `write`.
#![deny(missing_docs)]

pub mod error;
pub mod format;
pub mod keys;
pub mod read;
pub mod ssh;
pub mod store;
pub mod write;

pub use error::{Error, Location, Result};
pub use format::{ContainerKind, Direction, Timestamp};
