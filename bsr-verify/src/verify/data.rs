//! Scanning one `.data` file: hash, CRCs, structure, payload decoding, DATA totals.

use super::ctx::{Ctx, class_of};
use crate::report::{Class, Problem, Severity};
use bsr_core::error::Error as CoreError;
use bsr_core::format::{self, Direction, Timestamp};
use bsr_core::read::ChunkStream;
use bsr_core::read::chunk::Chunk;
use bsr_core::read::structure::{StreamKind, StructureChecker, Violation};
use bsr_core::ssh::Request;

/// Result of scanning one `.data` file.
#[derive(Default)]
pub(super) struct DataScan {
    /// Every chunk was read (no error stopped the scan): the DATA total is meaningful.
    pub complete: bool,
    pub sha256: Option<[u8; 32]>,
    pub bytes: u64,
    pub chunks: u64,
    pub data_bytes: u64,
}

/// `inbound`/`outbound` for `messages-*.data` (the files whose DATA the summary counts).
pub(super) fn data_dir(name: &str) -> Option<&'static str> {
    match name {
        "messages-inbound.data" => Some("inbound"),
        "messages-outbound.data" => Some("outbound"),
        _ => None,
    }
}

/// The per-chunk checks of one file, and what they found. The structure rules are
/// bsr-core's [`StructureChecker`]; this adds the verifier's warnings and totals.
struct Scanner<'p> {
    path: &'p str,
    structure: StructureChecker,
    want_dir: Option<Direction>,
    after_done_reported: bool,
    dir_mismatch: u64,
    problems: Vec<Problem>,
    chunks: u64,
    data_bytes: u64,
    /// Decoded requests, when kept (`None`: not kept).
    requests: Option<Vec<(Timestamp, Request)>>,
    undecodable: bool,
}

impl<'p> Scanner<'p> {
    fn new(path: &'p str, name: &str) -> Self {
        Scanner {
            path,
            structure: StructureChecker::new(StreamKind::of_file(name)),
            want_dir: format::data_file_direction(name),
            after_done_reported: false,
            dir_mismatch: 0,
            problems: Vec::new(),
            chunks: 0,
            data_bytes: 0,
            requests: None,
            undecodable: false,
        }
    }

    fn at(
        &mut self,
        code: &'static str,
        class: Class,
        severity: Severity,
        at: Option<(u64, u64)>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            class,
            code,
            path: self.path.to_string(),
            offset: at.map(|a| a.0),
            chunk: at.map(|a| a.1),
            message,
        });
    }

    fn warning(&mut self, code: &'static str, off: u64, idx: u64, message: String) {
        self.at(
            code,
            Class::Structure,
            Severity::Warning,
            Some((off, idx)),
            message,
        );
    }

    /// The structure rules (bsr-core's checker: each one malformed), then the warnings
    /// every chunk gets: direction and time.
    fn placement(&mut self, chunk: &Chunk<'_>) {
        let (off, idx) = (chunk.offset, chunk.index);
        for v in self.structure.check(chunk) {
            if v == Violation::AfterDone {
                if self.after_done_reported {
                    continue;
                }
                self.after_done_reported = true;
            }
            self.at(
                v.code(),
                Class::Malformed,
                Severity::Error,
                Some((off, idx)),
                v.to_string(),
            );
        }
        if let Some(d) = self.want_dir
            && chunk.direction != d
        {
            self.dir_mismatch += 1;
        }
    }

    fn payload(&mut self, chunk: &Chunk<'_>) {
        match bsr_core::ssh::decode_chunk_payload(chunk, true) {
            Ok(bsr_core::ssh::Decoded::Data(d)) => self.data_bytes += d.len() as u64,
            Ok(bsr_core::ssh::Decoded::Request(r)) => {
                if let Some(v) = self.requests.as_mut()
                    && v.len() <= crate::facts::MAX_EVENTS_PER_RECORDING
                {
                    v.push((chunk.time, r));
                }
            }
            Ok(_) => {}
            Err(e) => {
                self.undecodable = true;
                let m = super::ctx::what(&e, self.path);
                let at = Some((chunk.offset, chunk.index));
                self.at("undecodable-chunk", class_of(&e), Severity::Error, at, m);
            }
        }
    }

    fn chunk(&mut self, chunk: &Chunk<'_>) {
        self.chunks += 1;
        self.placement(chunk);
        if !chunk.is_head() && !chunk.is_done() {
            self.payload(chunk);
        }
    }

    /// The findings about the file as a whole, once every chunk was seen.
    fn end(&mut self, stopped: bool, unsigned: bool, end_offset: u64) {
        if !stopped && !self.structure.is_done() {
            let class = if unsigned {
                Class::Incomplete
            } else {
                Class::Malformed
            };
            let m = "file ends without a DONE chunk".into();
            let chunks = self.chunks;
            self.at(
                "no-done",
                class,
                Severity::Error,
                Some((end_offset, chunks)),
                m,
            );
        }
        let s = self.structure.summary();
        if s.non_monotonic_count > 0 {
            let (idx, off) = s.non_monotonic.first().copied().unwrap_or((0, 0));
            let m = format!(
                "{} chunk(s) with a timestamp earlier than the previous chunk",
                s.non_monotonic_count
            );
            self.warning("non-monotonic-time", off, idx, m);
        }
        if self.dir_mismatch > 0 {
            let m = format!(
                "{} chunk(s) whose direction differs from the file name",
                self.dir_mismatch
            );
            self.at("direction", Class::Structure, Severity::Warning, None, m);
        }
    }
}

/// Scans a `.data` file: hash, CRCs, structure, payload decoding, DATA totals.
pub(super) fn scan_data(cx: &mut Ctx, path: &str, name: &str, unsigned: bool) -> DataScan {
    let mut out = DataScan::default();
    // An unsigned (unfinished) container may still have a live writer: never map its files,
    // whose truncation under a mapping would raise SIGBUS. Signed ones are immutable.
    let map = (cx.opts.map_files && !unsigned).then_some(cx.opts.map_min_len);
    // Never open what is not a regular file (a FIFO would block the open): the store checks
    // the kind without following links or opening.
    if let Err(e) = cx.store.size(path) {
        cx.core_err("unreadable", path, &e, false);
        return out;
    }
    let shared = cx.share.as_ref().filter(|s| s.path() == path);
    let opened = match shared {
        // The first read of the shared file (a second one, if the listing had it twice, reads
        // the file itself).
        Some(share) => cx.store.open(path).map(|f| match share.take(path, f) {
            Ok(tee) => ChunkStream::new(Box::new(tee) as Box<dyn std::io::Read + Send>, path),
            Err(f) => ChunkStream::new(f, path),
        }),
        None => ChunkStream::open_mapped_from(cx.store, path, map),
    };
    let mut s = match opened {
        Ok(s) => s.with_sha256(),
        Err(e) => {
            cx.core_err("unreadable", path, &e, false);
            return out;
        }
    };
    let mut sc = Scanner::new(path, name);
    if cx.keep_requests && StreamKind::of_file(name) == StreamKind::Requests {
        sc.requests = Some(Vec::new());
    }
    let mut ranges = super::redaction::ranges_for(cx, path);
    let mut fatal: Option<CoreError> = None;
    loop {
        match s.next_chunk() {
            Ok(Some(c)) => {
                sc.chunk(&c);
                if let Some(rc) = ranges.as_mut()
                    && c.is_data()
                    && let Ok(d) = c.data()
                {
                    rc.data(path, &c, &d, &mut sc.problems);
                }
            }
            Ok(None) => break,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        }
    }
    out.complete = fatal.is_none();
    if let Some(e) = &fatal {
        cx.core_err("chunk", path, e, unsigned);
    }
    sc.end(fatal.is_some(), unsigned, s.offset());
    if let Some(rc) = ranges.filter(|_| fatal.is_none()) {
        rc.end(path, &mut sc.problems);
    }
    cx.problems.append(&mut sc.problems);
    if let Some(reqs) = sc.requests.take()
        && fatal.is_none()
        && !sc.undecodable
    {
        cx.seen.requests.insert(path.to_string(), reqs);
    }
    if let Some(h) = &sc.structure.summary().head {
        let id = h.session_id.clone();
        cx.head_ids.entry(id).or_insert_with(|| path.to_string());
    }
    match s.finish() {
        Ok(end) => {
            out.sha256 = end.sha256;
            out.bytes = end.bytes;
        }
        Err(e) => cx.core_err("unreadable", path, &e, false),
    }
    cx.stats.files += 1;
    cx.stats.bytes += out.bytes;
    cx.stats.chunks += sc.chunks;
    out.chunks = sc.chunks;
    out.data_bytes = sc.data_bytes;
    out
}
