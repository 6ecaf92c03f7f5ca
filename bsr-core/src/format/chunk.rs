//! The chunk header fields announced by HEAD (spec §2, `docs/FORMAT.md` §2).

use crate::error::{Error, Location, Result};
use crate::format;

/// Per-chunk compression announced by HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as is (byte 0).
    #[default]
    None,
    /// Each chunk's data is one gzip member (byte 1).
    Gzip,
}

impl Compression {
    /// HEAD byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Compression::None => format::COMPRESSION_NONE,
            Compression::Gzip => format::COMPRESSION_GZIP,
        }
    }
    /// From the HEAD byte; unknown bytes read as `None` (as Boundary does; the verifier flags them).
    pub fn from_byte(b: u8) -> Self {
        if b == format::COMPRESSION_GZIP {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

/// Parsed HEAD data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Compression of later chunks.
    pub compression: Compression,
    /// The raw compression byte (anything above 1 is unknown).
    pub compression_byte: u8,
    /// Encryption byte (0 is the only defined value).
    pub encryption: u8,
    /// Session id bytes.
    pub session_id: Vec<u8>,
}

impl Header {
    /// Parses the data of a HEAD chunk.
    pub(crate) fn parse(d: &[u8], loc: Location) -> Result<Header> {
        if d.len() < 2 {
            return Err(Error::malformed(
                loc,
                "HEAD chunk needs at least 2 data bytes",
            ));
        }
        Ok(Header {
            compression: Compression::from_byte(d[0]),
            compression_byte: d[0],
            encryption: d[1],
            session_id: d[2..].to_vec(),
        })
    }
}
