//! The chunk-structure rules of a `.data` file, written once: [`StructureChecker`] is fed the
//! chunks of a file one by one (from any reader: the verifier's mapped stream, a slice) and
//! says which rule each chunk breaks; [`validate_structure`] and [`validate_stream`] run it
//! over a whole file in memory and fail at the first broken rule.
//!
//! The rules: HEAD first and only once, one protocol, `BSSH`, known compression and encryption
//! bytes, nothing after DONE, DONE at the end, and each stream holding only its own chunk
//! types (a messages stream: DATA; a requests stream: request chunks).

use super::chunk::{Chunk, ChunkReader};
use crate::error::{Error, Location, Result};
use crate::format::{
    CHUNK_DATA, CHUNK_DONE, CHUNK_HEAD, CHUNK_OVERHEAD, Header, PROTOCOL_SSH, Timestamp,
};

/// Which stream a `.data` file is, and so which chunk types it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamKind {
    /// `messages-<dir>.data`: DATA chunks (besides HEAD and DONE).
    Messages,
    /// `requests-<dir>.data`: request chunks (besides HEAD and DONE).
    Requests,
    /// A file whose stream is not known: any chunk type.
    Any,
}

impl StreamKind {
    /// The stream of a data file, from its name.
    pub fn of_file(name: &str) -> Self {
        if name.starts_with("messages-") {
            StreamKind::Messages
        } else if name.starts_with("requests-") {
            StreamKind::Requests
        } else {
            StreamKind::Any
        }
    }
}

/// A rule a chunk breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A chunk after DONE.
    AfterDone,
    /// The first chunk is not HEAD.
    HeadNotFirst,
    /// A second HEAD.
    SecondHead,
    /// The protocol differs from the first chunk's.
    ProtocolChanged,
    /// The protocol is not `BSSH`.
    Protocol([u8; 4]),
    /// HEAD data that does not parse.
    BadHead(String),
    /// A compression byte above 1.
    Compression(u8),
    /// An encryption byte other than 0.
    Encryption(u8),
    /// A chunk other than HEAD, DATA or DONE in a messages stream.
    RequestInMessages([u8; 4]),
    /// A DATA chunk in a requests stream.
    DataInRequests,
}

impl Violation {
    /// A short stable code (`after-done`, `request-in-messages`, …), as the verifier reports.
    pub fn code(&self) -> &'static str {
        match self {
            Violation::AfterDone => "after-done",
            Violation::HeadNotFirst => "head-not-first",
            Violation::SecondHead => "second-head",
            Violation::ProtocolChanged => "protocol-changed",
            Violation::Protocol(_) => "protocol",
            Violation::BadHead(_) => "head",
            Violation::Compression(_) => "compression",
            Violation::Encryption(_) => "encryption",
            Violation::RequestInMessages(_) => "request-in-messages",
            Violation::DataInRequests => "data-in-requests",
        }
    }

    /// Whether [`validate_structure`] fails on it. The protocol name and the compression and
    /// encryption bytes are values Boundary's own reader passes through; the checker reports
    /// them for the verifier, and the whole-file validators leave them to it.
    pub fn breaks_structure(&self) -> bool {
        !matches!(
            self,
            Violation::Protocol(_) | Violation::Compression(_) | Violation::Encryption(_)
        )
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lossy = |b: &[u8; 4]| String::from_utf8_lossy(b).into_owned();
        match self {
            Violation::AfterDone => write!(f, "chunk after DONE"),
            Violation::HeadNotFirst => write!(f, "first chunk is not HEAD"),
            Violation::SecondHead => write!(f, "second HEAD chunk"),
            Violation::ProtocolChanged => write!(f, "protocol changes within the file"),
            Violation::Protocol(p) => write!(f, "protocol {:?} is not BSSH", lossy(p)),
            Violation::BadHead(e) => write!(f, "{e}"),
            Violation::Compression(b) => write!(f, "unknown compression byte {b}"),
            Violation::Encryption(b) => write!(f, "unknown encryption byte {b}"),
            Violation::RequestInMessages(t) => {
                write!(f, "{} chunk in a messages stream", lossy(t))
            }
            Violation::DataInRequests => write!(f, "DATA chunk in a requests stream"),
        }
    }
}

/// The structure rules, fed one chunk at a time in file order.
#[derive(Debug, Clone)]
pub struct StructureChecker {
    kind: StreamKind,
    protocol: Option<[u8; 4]>,
    seen_head: bool,
    summary: FileSummary,
}

impl StructureChecker {
    /// A checker for a stream of `kind`.
    pub fn new(kind: StreamKind) -> Self {
        StructureChecker {
            kind,
            protocol: None,
            seen_head: false,
            summary: FileSummary::default(),
        }
    }

    /// Checks the next chunk; returns the rules it breaks (empty when none).
    pub fn check(&mut self, c: &Chunk<'_>) -> Vec<Violation> {
        let mut v = Vec::new();
        let s = &mut self.summary;
        if s.done_time.is_some() {
            v.push(Violation::AfterDone);
        }
        if c.index == 0 && c.chunk_type != CHUNK_HEAD {
            v.push(Violation::HeadNotFirst);
        }
        match self.protocol {
            None => self.protocol = Some(c.protocol),
            Some(p) if p != c.protocol => v.push(Violation::ProtocolChanged),
            _ => {}
        }
        if c.protocol != PROTOCOL_SSH {
            v.push(Violation::Protocol(c.protocol));
        }
        if let Some(prev) = s.last_time
            && c.time < prev
        {
            s.non_monotonic_count += 1;
            if s.non_monotonic.len() < MAX_NON_MONOTONIC_KEPT {
                s.non_monotonic.push((c.index, c.offset));
            }
        }
        s.first_time.get_or_insert(c.time);
        s.last_time = Some(c.time);
        s.chunks += 1;
        match c.chunk_type {
            CHUNK_HEAD => {
                if self.seen_head {
                    v.push(Violation::SecondHead);
                }
                self.seen_head = true;
                match c.header() {
                    Ok(h) => {
                        if h.compression_byte > 1 {
                            v.push(Violation::Compression(h.compression_byte));
                        }
                        if h.encryption != 0 {
                            v.push(Violation::Encryption(h.encryption));
                        }
                        s.head = Some(h);
                    }
                    Err(Error::Malformed { reason, .. }) => v.push(Violation::BadHead(reason)),
                    Err(e) => v.push(Violation::BadHead(e.to_string())),
                }
            }
            CHUNK_DONE => s.done_time = Some(c.time),
            CHUNK_DATA => {
                if self.kind == StreamKind::Requests {
                    v.push(Violation::DataInRequests);
                }
            }
            other => {
                if self.kind == StreamKind::Messages {
                    v.push(Violation::RequestInMessages(other));
                }
            }
        }
        v
    }

    /// Whether DONE has been seen.
    pub fn is_done(&self) -> bool {
        self.summary.done_time.is_some()
    }

    /// What the chunks so far showed.
    pub fn summary(&self) -> &FileSummary {
        &self.summary
    }

    /// Ends the file at byte `end` after `chunks` chunks: a file without DONE is
    /// [`Error::Truncated`] (`what: "DONE chunk"`), an unfinished file.
    pub fn finish(self, end: u64) -> Result<FileSummary> {
        if self.summary.done_time.is_none() {
            return Err(Error::Truncated {
                loc: Location::chunk(end, self.summary.chunks),
                what: "DONE chunk",
                needed: CHUNK_OVERHEAD as u64,
                available: 0,
            });
        }
        Ok(self.summary)
    }
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
    /// (chunk index, offset) of chunks whose time is before the previous chunk's (the first
    /// [`MAX_NON_MONOTONIC_KEPT`]).
    pub non_monotonic: Vec<(u64, u64)>,
    /// How many chunks have a time before the previous chunk's (all of them).
    pub non_monotonic_count: u64,
}

/// Most out-of-order chunks whose places a [`FileSummary`] keeps.
pub const MAX_NON_MONOTONIC_KEPT: usize = 1024;

/// Reads a whole file and checks its structure: magic, CRCs, HEAD first and only once, a
/// single protocol, DONE last with nothing after it, and the DATA lengths (decompressed). A
/// file without DONE is [`Error::Truncated`] (`what: "DONE chunk"`): an unfinished file.
pub fn validate_structure(file: &[u8]) -> Result<FileSummary> {
    validate_stream(file, StreamKind::Any)
}

/// [`validate_structure`] for a stream of a known kind: a chunk type the stream may not hold
/// (a request chunk in a messages stream, DATA in a requests stream) is malformed too.
pub fn validate_stream(file: &[u8], kind: StreamKind) -> Result<FileSummary> {
    let mut r = ChunkReader::new(file)?;
    let mut checker = StructureChecker::new(kind);
    let mut data_bytes = 0u64;
    while let Some(c) = r.next_chunk()? {
        if let Some(v) = checker
            .check(&c)
            .into_iter()
            .find(Violation::breaks_structure)
        {
            return Err(Error::malformed(
                Location::chunk(c.offset, c.index),
                v.to_string(),
            ));
        }
        if c.is_data() {
            data_bytes += c.data()?.len() as u64;
        }
    }
    let mut s = checker.finish(r.offset())?;
    s.data_bytes = data_bytes;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Compression, Direction, MAGIC};
    use crate::ssh::{CHUNK_SHLL, Request, ShellRequest};
    use crate::write::chunk::ChunkEncoder;

    fn file(types: &[[u8; 4]]) -> Vec<u8> {
        let t = Timestamp::new(1_700_000_000, 0);
        let d = Direction::Inbound;
        let p = PROTOCOL_SSH;
        let mut f = MAGIC.to_vec();
        let mut enc = ChunkEncoder::new(Compression::None);
        enc.head(&mut f, p, d, t, b"s_1234567890").unwrap();
        for ct in types {
            let data = if *ct == CHUNK_SHLL {
                Request::Shell(ShellRequest {
                    request_type: "shell".into(),
                    want_reply: true,
                })
                .encode()
            } else {
                b"hello".to_vec()
            };
            enc.chunk(&mut f, p, *ct, d, t, &data).unwrap();
        }
        enc.done(&mut f, p, d, t).unwrap();
        f
    }

    #[test]
    fn every_out_of_order_chunk_is_counted_and_the_first_ones_placed() {
        let t0 = Timestamp::new(1_700_000_000, 0);
        let (d, p) = (Direction::Outbound, PROTOCOL_SSH);
        let mut f = MAGIC.to_vec();
        let mut enc = ChunkEncoder::new(Compression::None);
        enc.head(&mut f, p, d, t0, b"s_1234567890").unwrap();
        // Times go down by a second at every chunk: every DATA chunk is out of order.
        let n = MAX_NON_MONOTONIC_KEPT as u64 + 10;
        for i in 1..=n {
            let t = Timestamp::new(1_700_000_000 - i, 0);
            enc.chunk(&mut f, p, CHUNK_DATA, d, t, b"x").unwrap();
        }
        enc.done(&mut f, p, d, Timestamp::new(1_700_000_000 - n - 1, 0))
            .unwrap();
        let s = validate_stream(&f, StreamKind::Messages).unwrap();
        // n DATA chunks and DONE.
        assert_eq!(s.non_monotonic_count, n + 1);
        assert_eq!(s.non_monotonic.len(), MAX_NON_MONOTONIC_KEPT);
        assert_eq!(s.non_monotonic[0].0, 1, "the first DATA chunk is chunk 1");
    }

    /// Issue 14 finding 11: the verifier accepted a request chunk (`SHLL`) placed in a
    /// channel's messages stream. Each stream may hold only its own chunk types.
    #[test]
    fn request_chunk_in_a_messages_stream_is_malformed() {
        let f = file(&[CHUNK_DATA, CHUNK_SHLL]);
        let e = validate_stream(&f, StreamKind::Messages).unwrap_err();
        assert!(
            matches!(&e, Error::Malformed { loc, reason }
            if loc.chunk == Some(2) && reason.contains("SHLL chunk in a messages stream")),
            "{e}"
        );
        // The same chunks are a valid requests-less file of unknown kind.
        assert!(validate_structure(&f).is_ok());
    }

    /// Issue 14 finding 11, the other way: DATA in a requests stream.
    #[test]
    fn data_chunk_in_a_requests_stream_is_malformed() {
        let f = file(&[CHUNK_SHLL, CHUNK_DATA]);
        let e = validate_stream(&f, StreamKind::Requests).unwrap_err();
        assert!(
            matches!(&e, Error::Malformed { reason, .. }
            if reason.contains("DATA chunk in a requests stream")),
            "{e}"
        );
        assert!(validate_stream(&file(&[CHUNK_SHLL]), StreamKind::Requests).is_ok());
        assert!(validate_stream(&file(&[CHUNK_DATA]), StreamKind::Messages).is_ok());
    }

    /// The streaming reader applies the same rules when asked (what the viewers use).
    #[test]
    fn chunk_stream_with_structure_refuses_what_the_checker_refuses() {
        let f = file(&[CHUNK_DATA, CHUNK_SHLL]);
        let read_all = |kind| {
            let mut s = crate::read::ChunkStream::new(std::io::Cursor::new(f.clone()), "m.data")
                .with_structure(kind);
            let mut n = 0;
            loop {
                match s.next_chunk() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => return Ok(n),
                    Err(e) => return Err(e),
                }
            }
        };
        let e = read_all(StreamKind::Messages).unwrap_err();
        assert!(
            matches!(&e, Error::Malformed { loc, reason }
            if loc.chunk == Some(2) && loc.path == "m.data" && reason.contains("SHLL")),
            "{e}"
        );
        assert_eq!(read_all(StreamKind::Any).unwrap(), 4);
    }

    /// The checker reports, chunk by chunk, what the verifier's scan needs.
    #[test]
    fn checker_reports_codes_per_chunk() {
        let f = file(&[CHUNK_SHLL]);
        let mut r = ChunkReader::new(&f).unwrap();
        let mut c = StructureChecker::new(StreamKind::Messages);
        let codes: Vec<Vec<&str>> = std::iter::from_fn(|| r.next_chunk().unwrap())
            .map(|ch| c.check(&ch).iter().map(Violation::code).collect())
            .collect();
        assert_eq!(codes, vec![vec![], vec!["request-in-messages"], vec![]]);
        assert!(c.is_done());
        assert_eq!(c.finish(f.len() as u64).unwrap().chunks, 3);
    }
}
