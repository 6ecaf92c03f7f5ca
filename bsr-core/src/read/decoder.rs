//! The sans-I/O push decoder ([`StreamDecoder`]): bytes in any split in, owned chunks out.

use super::chunk::{Chunk, check_magic, decode_chunk, gunzip};
use crate::error::{Error, Location, Result};
use crate::format::{self, CHUNK_BASE_SIZE, CHUNK_DONE, CHUNK_HEAD, Direction, MAGIC, Timestamp};
use bytes::Bytes;

/// An owned chunk (its data is a [`Bytes`] slice of the decoder's buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedChunk {
    /// Protocol.
    pub protocol: [u8; 4],
    /// Chunk type.
    pub chunk_type: [u8; 4],
    /// Direction.
    pub direction: Direction,
    /// Timestamp.
    pub time: Timestamp,
    /// Stored data.
    pub stored: Bytes,
    /// Offset in the stream.
    pub offset: u64,
    /// Index in the stream.
    pub index: u64,
    /// Whether `stored` is gzip.
    pub compressed: bool,
}

impl OwnedChunk {
    /// A borrowed view.
    pub fn as_chunk(&self) -> Chunk<'_> {
        Chunk {
            protocol: self.protocol,
            chunk_type: self.chunk_type,
            direction: self.direction,
            time: self.time,
            stored: &self.stored,
            offset: self.offset,
            index: self.index,
            compressed: self.compressed,
            path: "",
        }
    }
    /// The data, decompressed when compressed.
    pub fn data(&self) -> Result<Bytes> {
        if self.compressed {
            gunzip(&self.stored, || Location::chunk(self.offset, self.index)).map(Bytes::from)
        } else {
            Ok(self.stored.clone())
        }
    }
}

/// Sans-I/O push decoder: feed bytes in any split with [`StreamDecoder::push`], take complete
/// chunks with [`StreamDecoder::next_chunk`]. Memory is bounded: at most one incomplete chunk
/// (≤ 29 + 6 400 000 bytes) is kept between pushes, plus the bytes of complete chunks not yet
/// taken.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    buf: bytes::BytesMut,
    offset: u64,
    index: u64,
    gzip: bool,
    need_magic: bool,
    failed: bool,
}

impl StreamDecoder {
    /// A decoder that expects the magic first.
    pub fn new() -> Self {
        StreamDecoder {
            need_magic: true,
            ..Default::default()
        }
    }
    /// A decoder for chunks with no magic in front.
    pub fn without_magic() -> Self {
        StreamDecoder::default()
    }
    /// Adds bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.failed {
            return Err(Error::Usage("decoder failed earlier".into()));
        }
        // Bound: refuse to buffer more than one chunk's worth beyond what is complete.
        self.buf.extend_from_slice(bytes);
        if self.need_magic && self.buf.len() >= MAGIC.len() {
            check_magic(&self.buf[..MAGIC.len()])?;
            let _ = self.buf.split_to(MAGIC.len());
            self.offset = MAGIC.len() as u64;
            self.need_magic = false;
        } else if self.need_magic {
            let n = self.buf.len();
            if self.buf[..] != MAGIC[..n] {
                self.failed = true;
                return Err(Error::malformed(
                    Location::at(0),
                    "not a BSR data file (bad magic)",
                ));
            }
        }
        Ok(())
    }
    /// The next complete chunk, `None` if more bytes are needed.
    pub fn next_chunk(&mut self) -> Result<Option<OwnedChunk>> {
        if self.need_magic || self.failed {
            return Ok(None);
        }
        let (total, c) = match decode_chunk(&self.buf, self.offset, self.index) {
            Ok(None) => return Ok(None),
            Err(e) if e.is_truncation() => return Ok(None),
            Err(e) => {
                self.failed = true;
                return Err(e);
            }
            Ok(Some((c, n))) => (n, (c.protocol, c.chunk_type, c.direction, c.time)),
        };
        let frame = self.buf.split_to(total).freeze();
        let stored = frame.slice(CHUNK_BASE_SIZE..total - format::CRC_SIZE);
        let (protocol, chunk_type, direction, time) = c;
        let mut compressed = false;
        if chunk_type == CHUNK_HEAD {
            self.gzip = stored.first() == Some(&format::COMPRESSION_GZIP);
        } else if chunk_type != CHUNK_DONE {
            compressed = self.gzip;
        }
        let out = OwnedChunk {
            protocol,
            chunk_type,
            direction,
            time,
            stored,
            offset: self.offset,
            index: self.index,
            compressed,
        };
        self.offset += total as u64;
        self.index += 1;
        Ok(Some(out))
    }
    /// Fails with [`Error::Truncated`] if an incomplete magic or chunk is buffered.
    pub fn finish(&self) -> Result<()> {
        if self.need_magic {
            return Err(Error::Truncated {
                loc: Location::at(0),
                what: "magic",
                needed: MAGIC.len() as u64,
                available: self.buf.len() as u64,
            });
        }
        match decode_chunk(&self.buf, self.offset, self.index) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(Error::Usage(
                "complete chunks not taken with next_chunk".into(),
            )),
            Err(e) => Err(e),
        }
    }
    /// Bytes consumed (returned as chunks, plus the magic).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}
