//! Reading `.data` files from a slice: decoding one chunk, and the zero-copy [`ChunkReader`]
//! (spec §2, `docs/FORMAT.md` §2).
//!
//! ```
//! use bsr_core::read::chunk::ChunkReader;
//! use bsr_core::write::chunk::ChunkEncoder;
//! use bsr_core::format::Compression;
//! use bsr_core::{Direction, Timestamp};
//! use bsr_core::format::{MAGIC, PROTOCOL_SSH, CHUNK_DATA};
//!
//! let t = Timestamp::new(1_700_000_000, 5);
//! let mut file = MAGIC.to_vec();
//! let mut enc = ChunkEncoder::new(Compression::Gzip);
//! enc.head(&mut file, PROTOCOL_SSH, Direction::Outbound, t, b"s_123")?;
//! enc.chunk(&mut file, PROTOCOL_SSH, CHUNK_DATA, Direction::Outbound, t, b"hello")?;
//! enc.done(&mut file, PROTOCOL_SSH, Direction::Outbound, t)?;
//!
//! let chunks: Vec<_> = ChunkReader::new(&file)?.collect::<Result<_, _>>()?;
//! assert_eq!(chunks.len(), 3);
//! assert_eq!(&*chunks[1].data()?, b"hello");
//! # Ok::<(), bsr_core::Error>(())
//! ```

use crate::error::{Error, Location, Result};
use crate::format::{
    self, CHUNK_BASE_SIZE, CHUNK_DONE, CHUNK_HEAD, CHUNK_OVERHEAD, Direction, Header, MAGIC,
    MAX_CHUNK_DATA_LENGTH, MAX_DECOMPRESSED_LENGTH, MAX_NANOS, Timestamp,
};
use std::borrow::Cow;
use std::io::Read;

/// A decoded, CRC-checked chunk borrowing its input. Two chunks are equal when their fields
/// and bytes are, whichever reader (and so whichever `path`) they came from.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Protocol (`BSSH`).
    pub protocol: [u8; 4],
    /// Chunk type (`HEAD`, `DATA`, …).
    pub chunk_type: [u8; 4],
    /// Direction.
    pub direction: Direction,
    /// Timestamp.
    pub time: Timestamp,
    /// Stored data bytes (gzip bytes when `compressed`).
    pub stored: &'a [u8],
    /// Byte offset of the chunk's length field in its file.
    pub offset: u64,
    /// Index of the chunk in its file (0 = first after the magic).
    pub index: u64,
    /// Whether `stored` is a gzip member (set by readers from HEAD).
    pub compressed: bool,
    /// The file the chunk is in, as its reader names it (empty for an unnamed input); errors
    /// about the chunk's data name it.
    pub path: &'a str,
}

impl PartialEq for Chunk<'_> {
    fn eq(&self, o: &Self) -> bool {
        (self.protocol, self.chunk_type, self.direction, self.time)
            == (o.protocol, o.chunk_type, o.direction, o.time)
            && (self.stored, self.offset, self.index, self.compressed)
                == (o.stored, o.offset, o.index, o.compressed)
    }
}

impl Eq for Chunk<'_> {}

impl<'a> Chunk<'a> {
    /// Bytes the chunk occupies: 29 + stored length.
    pub fn len(&self) -> usize {
        CHUNK_OVERHEAD + self.stored.len()
    }
    /// Never true: a chunk has at least 29 bytes (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        false
    }
    /// HEAD chunk.
    pub fn is_head(&self) -> bool {
        self.chunk_type == CHUNK_HEAD
    }
    /// DONE chunk.
    pub fn is_done(&self) -> bool {
        self.chunk_type == CHUNK_DONE
    }
    /// DATA chunk.
    pub fn is_data(&self) -> bool {
        self.chunk_type == format::CHUNK_DATA
    }
    fn loc(&self) -> Location {
        Location::chunk(self.offset, self.index).in_file(self.path)
    }
    /// The data, decompressed when compressed (capped at
    /// [`MAX_DECOMPRESSED_LENGTH`]; going over is [`Error::TooLarge`]).
    pub fn data(&self) -> Result<Cow<'a, [u8]>> {
        if !self.compressed {
            return Ok(Cow::Borrowed(self.stored));
        }
        gunzip(self.stored, || self.loc()).map(Cow::Owned)
    }
    /// Parses HEAD data.
    pub fn header(&self) -> Result<Header> {
        if !self.is_head() {
            return Err(Error::malformed(self.loc(), "not a HEAD chunk"));
        }
        Header::parse(self.stored, self.loc())
    }
}

/// Decompresses one or more concatenated gzip members with a hard output cap.
pub(crate) fn gunzip(stored: &[u8], loc: impl Fn() -> Location) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = MAX_DECOMPRESSED_LENGTH as u64;
    let mut dec = flate2::read::MultiGzDecoder::new(stored).take(cap + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| Error::malformed(loc(), format!("gzip: {e}")))?;
    if out.len() as u64 > cap {
        return Err(Error::TooLarge {
            loc: loc(),
            what: "decompressed chunk data",
            size: out.len() as u64,
            limit: cap,
        });
    }
    Ok(out)
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Decodes one chunk at the start of `buf` (no magic). `Ok(None)` if `buf` is empty.
///
/// Checks, in order: the length (≤ 6 400 000, before anything else), that enough bytes are
/// there ([`Error::Truncated`]), the CRC ([`Error::Crc`]), the direction, the nanoseconds, an
/// empty DONE and a HEAD of at least 2 bytes. Returns the chunk and the bytes it took.
#[inline]
pub fn decode_chunk(buf: &[u8], offset: u64, index: u64) -> Result<Option<(Chunk<'_>, usize)>> {
    decode_chunk_crc_with(buf, offset, index, crc32fast::hash)
}

/// [`decode_chunk`], with the CRC of the bytes it covers (`buf[4..4 + 21 + len]`) computed by
/// `crc` (called at most once, after the length and truncation checks), so that a caller can
/// compute it in the same pass as something else over those bytes (the memory-mapped stream
/// does it with SHA-256).
#[inline]
pub(crate) fn decode_chunk_crc_with(
    buf: &[u8],
    offset: u64,
    index: u64,
    crc: impl FnOnce(&[u8]) -> u32,
) -> Result<Option<(Chunk<'_>, usize)>> {
    if buf.is_empty() {
        return Ok(None);
    }
    let loc = || Location::chunk(offset, index);
    if buf.len() < format::LENGTH_SIZE {
        return Err(Error::Truncated {
            loc: loc(),
            what: "chunk length",
            needed: 4,
            available: buf.len() as u64,
        });
    }
    let len = be32(buf);
    if len > MAX_CHUNK_DATA_LENGTH {
        return Err(Error::TooLarge {
            loc: loc(),
            what: "chunk data length",
            size: len as u64,
            limit: MAX_CHUNK_DATA_LENGTH as u64,
        });
    }
    let total = CHUNK_OVERHEAD + len as usize;
    if buf.len() < total {
        return Err(Error::Truncated {
            loc: loc(),
            what: "chunk",
            needed: total as u64,
            available: buf.len() as u64,
        });
    }
    let body_end = CHUNK_BASE_SIZE + len as usize;
    let stored_crc = be32(&buf[body_end..]);
    let computed = crc(&buf[format::LENGTH_SIZE..body_end]);
    if stored_crc != computed {
        return Err(Error::Crc {
            loc: loc(),
            stored: stored_crc,
            computed,
        });
    }
    let protocol = [buf[4], buf[5], buf[6], buf[7]];
    let chunk_type = [buf[8], buf[9], buf[10], buf[11]];
    let direction = Direction::from_byte(buf[12])
        .ok_or_else(|| Error::malformed(loc(), format!("invalid direction {}", buf[12])))?;
    let secs = be64(&buf[13..]);
    let nanos = be32(&buf[21..]);
    if nanos > MAX_NANOS {
        return Err(Error::malformed(
            loc(),
            format!("timestamp nanoseconds {nanos} > 999999999"),
        ));
    }
    let stored = &buf[CHUNK_BASE_SIZE..body_end];
    if chunk_type == CHUNK_DONE && !stored.is_empty() {
        return Err(Error::malformed(loc(), "DONE chunk with data"));
    }
    if chunk_type == CHUNK_HEAD && stored.len() < 2 {
        return Err(Error::malformed(
            loc(),
            "HEAD chunk needs at least 2 data bytes",
        ));
    }
    let chunk = Chunk {
        protocol,
        chunk_type,
        direction,
        time: Timestamp::new(secs, nanos),
        stored,
        offset,
        index,
        compressed: false,
        path: "",
    };
    Ok(Some((chunk, total)))
}

/// Zero-copy reader over a whole `.data` file (magic included). Chunks after a HEAD with
/// compression 1 (other than DONE) are marked `compressed`. After an error the reader ends.
#[derive(Debug, Clone)]
pub struct ChunkReader<'a> {
    buf: &'a [u8],
    pos: usize,
    index: u64,
    gzip: bool,
    failed: bool,
}

impl<'a> ChunkReader<'a> {
    /// Checks the magic and positions the reader at the first chunk.
    pub fn new(file: &'a [u8]) -> Result<Self> {
        check_magic(file)?;
        Ok(ChunkReader {
            buf: file,
            pos: MAGIC.len(),
            index: 0,
            gzip: false,
            failed: false,
        })
    }

    /// A reader over chunks with no magic in front (e.g. Boundary's test vectors).
    pub fn without_magic(chunks: &'a [u8]) -> Self {
        ChunkReader {
            buf: chunks,
            pos: 0,
            index: 0,
            gzip: false,
            failed: false,
        }
    }

    /// Bytes consumed so far (offset of the next chunk).
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// The next chunk, `None` at the end of the input.
    #[inline]
    pub fn next_chunk(&mut self) -> Result<Option<Chunk<'a>>> {
        if self.failed {
            return Ok(None);
        }
        match decode_chunk(&self.buf[self.pos..], self.pos as u64, self.index) {
            Ok(None) => Ok(None),
            Ok(Some((mut c, n))) => {
                self.pos += n;
                self.index += 1;
                if c.is_head() {
                    self.gzip = c.stored[0] == format::COMPRESSION_GZIP;
                } else if !c.is_done() {
                    c.compressed = self.gzip;
                }
                Ok(Some(c))
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

impl<'a> Iterator for ChunkReader<'a> {
    type Item = Result<Chunk<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

pub(super) fn check_magic(file: &[u8]) -> Result<()> {
    let n = file.len().min(MAGIC.len());
    if file[..n] != MAGIC[..n] {
        return Err(Error::malformed(
            Location::at(0),
            "not a BSR data file (bad magic)",
        ));
    }
    if n < MAGIC.len() {
        return Err(Error::Truncated {
            loc: Location::at(0),
            what: "magic",
            needed: MAGIC.len() as u64,
            available: n as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_length_rejected_before_allocation() {
        let mut b = vec![0xff, 0xff, 0xff, 0xff];
        b.extend_from_slice(&[0; 40]);
        assert!(matches!(
            decode_chunk(&b, 0, 0),
            Err(Error::TooLarge {
                size: 0xffff_ffff,
                ..
            })
        ));
    }
}
