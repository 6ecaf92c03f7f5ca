//! The chunk codec of `.data` files: a zero-copy slice reader, a sans-I/O push decoder and an
//! encoder (spec §2, `docs/FORMAT.md` §2).
//!
//! ```
//! use bsr_core::chunk::{ChunkEncoder, ChunkReader, Compression};
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
    self, CHUNK_BASE_SIZE, CHUNK_DONE, CHUNK_HEAD, CHUNK_OVERHEAD, Direction, MAGIC,
    MAX_CHUNK_DATA_LENGTH, MAX_DECOMPRESSED_LENGTH, MAX_NANOS, Timestamp,
};
use bytes::Bytes;
use std::borrow::Cow;
use std::io::Read;

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

/// A decoded, CRC-checked chunk borrowing its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

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
        Location::chunk(self.offset, self.index)
    }
    /// The data, decompressed when compressed (capped at
    /// [`MAX_DECOMPRESSED_LENGTH`]; going over is [`Error::TooLarge`]).
    pub fn data(&self) -> Result<Cow<'a, [u8]>> {
        if !self.compressed {
            return Ok(Cow::Borrowed(self.stored));
        }
        gunzip(self.stored, self.loc()).map(Cow::Owned)
    }
    /// Parses HEAD data.
    pub fn header(&self) -> Result<Header> {
        if !self.is_head() {
            return Err(Error::malformed(self.loc(), "not a HEAD chunk"));
        }
        parse_header(self.stored, self.loc())
    }
}

fn parse_header(d: &[u8], loc: Location) -> Result<Header> {
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

/// Decompresses one or more concatenated gzip members with a hard output cap.
pub(crate) fn gunzip(stored: &[u8], loc: Location) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = MAX_DECOMPRESSED_LENGTH as u64;
    let mut dec = flate2::read::MultiGzDecoder::new(stored).take(cap + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| Error::malformed(loc.clone(), format!("gzip: {e}")))?;
    if out.len() as u64 > cap {
        return Err(Error::TooLarge {
            loc,
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

fn check_magic(file: &[u8]) -> Result<()> {
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

/// What [`validate_structure`] found in a well-formed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Chunks, HEAD and DONE included.
    pub chunks: u64,
    /// The HEAD.
    pub head: Option<Header>,
    /// Time of DONE.
    pub done_time: Option<Timestamp>,
    /// Sum of the decompressed DATA lengths.
    pub data_bytes: u64,
    /// Time of the first chunk.
    pub first_time: Option<Timestamp>,
    /// Time of the last chunk.
    pub last_time: Option<Timestamp>,
    /// (chunk index, offset) of chunks whose time is before the previous chunk's.
    pub non_monotonic: Vec<(u64, u64)>,
}

/// Reads a whole file and checks its structure: magic, CRCs, HEAD first and only once, a
/// single protocol, DONE last with nothing after it. A file without DONE is
/// [`Error::Truncated`] (`what: "DONE chunk"`): an unfinished file.
pub fn validate_structure(file: &[u8]) -> Result<FileSummary> {
    let mut r = ChunkReader::new(file)?;
    let mut s = FileSummary::default();
    let mut protocol = None;
    while let Some(c) = r.next_chunk()? {
        let loc = Location::chunk(c.offset, c.index);
        if s.done_time.is_some() {
            return Err(Error::malformed(loc, "chunk after DONE"));
        }
        if c.index == 0 && !c.is_head() {
            return Err(Error::malformed(loc, "first chunk is not HEAD"));
        }
        if c.index > 0 && c.is_head() {
            return Err(Error::malformed(loc, "second HEAD chunk"));
        }
        match protocol {
            None => protocol = Some(c.protocol),
            Some(p) if p != c.protocol => {
                return Err(Error::malformed(loc, "protocol changes within the file"));
            }
            _ => {}
        }
        if let Some(prev) = s.last_time
            && c.time < prev
            && s.non_monotonic.len() < 1024
        {
            s.non_monotonic.push((c.index, c.offset));
        }
        s.first_time.get_or_insert(c.time);
        s.last_time = Some(c.time);
        s.chunks += 1;
        if c.is_head() {
            s.head = Some(c.header()?);
        } else if c.is_done() {
            s.done_time = Some(c.time);
        } else if c.is_data() {
            s.data_bytes += c.data()?.len() as u64;
        }
    }
    if s.done_time.is_none() {
        return Err(Error::Truncated {
            loc: Location::chunk(r.offset(), s.chunks),
            what: "DONE chunk",
            needed: CHUNK_OVERHEAD as u64,
            available: 0,
        });
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Push decoder
// ---------------------------------------------------------------------------------------------

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
        }
    }
    /// The data, decompressed when compressed.
    pub fn data(&self) -> Result<Bytes> {
        if self.compressed {
            gunzip(&self.stored, Location::chunk(self.offset, self.index)).map(Bytes::from)
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

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// Appends one chunk with `stored` as its data (no compression applied).
#[inline]
pub fn encode_raw(
    out: &mut Vec<u8>,
    protocol: [u8; 4],
    chunk_type: [u8; 4],
    dir: Direction,
    time: Timestamp,
    stored: &[u8],
) -> Result<()> {
    if stored.len() > MAX_CHUNK_DATA_LENGTH as usize {
        return Err(Error::TooLarge {
            loc: Location::default(),
            what: "chunk data to write",
            size: stored.len() as u64,
            limit: MAX_CHUNK_DATA_LENGTH as u64,
        });
    }
    if time.nanos > MAX_NANOS {
        return Err(Error::Usage(format!(
            "timestamp nanoseconds {} > 999999999",
            time.nanos
        )));
    }
    out.reserve(CHUNK_OVERHEAD + stored.len());
    let start = out.len();
    out.extend_from_slice(&(stored.len() as u32).to_be_bytes());
    let mut hdr = [0u8; format::CRC_DATA_SIZE];
    hdr[0..4].copy_from_slice(&protocol);
    hdr[4..8].copy_from_slice(&chunk_type);
    hdr[8] = dir.to_byte();
    hdr[9..17].copy_from_slice(&time.secs.to_be_bytes());
    hdr[17..21].copy_from_slice(&time.nanos.to_be_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(stored);
    let crc = crc32fast::hash(&out[start + format::LENGTH_SIZE..]);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Encodes chunks, compressing data per chunk when the compression is gzip.
#[derive(Debug)]
pub struct ChunkEncoder {
    compression: Compression,
    scratch: Vec<u8>,
}

impl ChunkEncoder {
    /// A new encoder.
    pub fn new(compression: Compression) -> Self {
        ChunkEncoder {
            compression,
            scratch: Vec::new(),
        }
    }
    /// The compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// Appends the HEAD chunk (data never compressed).
    pub fn head(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        dir: Direction,
        time: Timestamp,
        session_id: &[u8],
    ) -> Result<()> {
        self.scratch.clear();
        self.scratch.push(self.compression.to_byte());
        self.scratch.push(format::ENCRYPTION_NONE);
        self.scratch.extend_from_slice(session_id);
        encode_raw(out, protocol, CHUNK_HEAD, dir, time, &self.scratch)
    }
    /// Appends a chunk, gzipping `data` when the compression is gzip.
    #[inline]
    pub fn chunk(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        chunk_type: [u8; 4],
        dir: Direction,
        time: Timestamp,
        data: &[u8],
    ) -> Result<()> {
        if chunk_type == CHUNK_HEAD || chunk_type == CHUNK_DONE {
            return Err(Error::Usage("use head()/done() for HEAD and DONE".into()));
        }
        match self.compression {
            Compression::None => encode_raw(out, protocol, chunk_type, dir, time, data),
            Compression::Gzip => {
                use std::io::Write;
                self.scratch.clear();
                let mut gz = flate2::GzBuilder::new().operating_system(255).write(
                    std::mem::take(&mut self.scratch),
                    flate2::Compression::default(),
                );
                gz.write_all(data)
                    .map_err(|e| Error::Usage(format!("gzip: {e}")))?;
                self.scratch = gz
                    .finish()
                    .map_err(|e| Error::Usage(format!("gzip: {e}")))?;
                encode_raw(out, protocol, chunk_type, dir, time, &self.scratch)
            }
        }
    }
    /// Appends the DONE chunk.
    pub fn done(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        dir: Direction,
        time: Timestamp,
    ) -> Result<()> {
        encode_raw(out, protocol, CHUNK_DONE, dir, time, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_spec() {
        // spec §2.10: HEAD + DONE, protocol TEST.
        let t = Timestamp::new(0x6412_F3A7, 14);
        let mut out = Vec::new();
        let mut enc = ChunkEncoder::new(Compression::None);
        enc.head(&mut out, *b"TEST", Direction::Inbound, t, b"sess_123456789")
            .unwrap();
        assert_eq!(&out[out.len() - 4..], &[0xbe, 0x4c, 0x7c, 0x20]);
        enc.done(
            &mut out,
            *b"TEST",
            Direction::Inbound,
            Timestamp::new(0x6412_F3A7, 19),
        )
        .unwrap();
        assert_eq!(&out[out.len() - 4..], &[0x50, 0x91, 0xfe, 0x72]);
        let mut foo = Vec::new();
        encode_raw(&mut foo, *b"TEST", *b"TEST", Direction::Inbound, t, b"foo").unwrap();
        assert_eq!(&foo[foo.len() - 4..], &[0xa4, 0x6e, 0x48, 0x70]);
    }

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
