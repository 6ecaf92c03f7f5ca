//! The chunk-structure rules of a `.data` file, written once: [`validate_structure`] for a
//! whole file in memory.

use super::chunk::ChunkReader;
use crate::error::{Error, Location, Result};
use crate::format::{CHUNK_OVERHEAD, Header, Timestamp};

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
