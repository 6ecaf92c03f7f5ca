//! # bsr-core
//!
//! Byte-compatible reader and streaming writer for HashiCorp Boundary's session recording
//! format (BSR). See `docs/FORMAT.md` in the repository for the complete byte layout.
//!
//! Layers, as in gimli-rs/object:
//! * [`format`](mod@format): on-disk constants and field layouts;
//! * [`chunk`]: the chunk codec (slice reader, sans-I/O push decoder, encoder);
//! * [`ssh`]: the `BSSH` chunk types and their protobuf payloads;
//! * [`kms`]: keys, wrapping, signatures and the key bindings;
//! * [`checksum`], [`meta`]: `SHA256SUM`, `.meta` files, summaries, `session-meta.json`;
//! * [`store`]: where recordings live (local folder, memory);
//! * [`write`](mod@write): the streaming recording writer;
//! * [`read`]: opening and navigating recordings, zero-copy;
//! * [`recover`]: closing recordings left unfinished by a crash.
#![deny(missing_docs)]

pub mod checksum;
pub mod chunk;
pub mod error;
pub mod format;
pub mod kms;
pub mod meta;
pub mod read;
pub mod recover;
pub mod ssh;
pub mod store;
mod time;
pub mod write;

pub use error::{Error, Location, Result};
pub use format::{ContainerKind, Direction, Timestamp};
