//! The two passes of a redaction: [`plan`] finds the ranges of every channel direction,
//! [`write`] copies the recording chunk by chunk, filling the ranges.

use super::find::{Finder, Found, push_range};
use super::hidden::{chars_to_bytes, hidden_chars};
use super::{RedactError, Redacted, Rules, check_digest};
use crate::convert::ChannelFiles;
use crate::verified::Verification;
use bsr_core::format::redaction::{Original, RedactedFile, Redaction, RedactionManifest, SCHEMA};
use bsr_core::format::{self, Compression, Direction, Timestamp};
use bsr_core::keys::{KeyWrapper, RecorderKey, RecordingKeys};
use bsr_core::read::chunk::Chunk;
use bsr_core::read::structure::StreamKind;
use bsr_core::read::{ChunkStream, Recording};
use bsr_core::store::{ReadStore, WriteStore, exists, join};
use bsr_core::write::{SessionOptions, SessionWriter, WriterOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest `SHA256SUM.sig` or `SHA256SUM` read.
const MAX_SMALL: u64 = 16 * 1024 * 1024;

/// What the first pass found.
#[derive(Debug)]
pub(super) struct Plan {
    /// Ranges per `messages-*.data` path relative to the session folder, sorted by start.
    ranges: BTreeMap<String, Vec<Found>>,
    original: Original,
}

/// Where and how the copy is written.
pub(super) struct Output<'a> {
    pub store: Arc<dyn WriteStore>,
    pub parent: &'a str,
    pub wrapper: &'a dyn KeyWrapper,
    pub recorder: Option<&'a RecorderKey>,
    pub filler: u8,
    pub limit: usize,
}

fn last(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn too_many(limit: usize) -> RedactError {
    RedactError::TooMany { limit }
}

fn missing(what: &str, dir: &str) -> RedactError {
    RedactError::Usage(format!(
        "{}: no {what} (the recording is not finished)",
        crate::human::escape(dir)
    ))
}

/// Streams the chunks of `path` (skipping HEAD and DONE) and checks the file against the
/// digest the gate verified. An absent file has no chunks.
fn each_chunk(
    store: &dyn ReadStore,
    v: &Verification,
    path: &str,
    kind: StreamKind,
    mut f: impl FnMut(&Chunk<'_>) -> Result<(), RedactError>,
) -> Result<(), RedactError> {
    if !exists(store, path)? {
        return Ok(());
    }
    let mut s = ChunkStream::new(store.open(path)?, &store.describe(path))
        .with_sha256()
        .with_structure(kind);
    while let Some(c) = s.next_chunk()? {
        if !c.is_head() && !c.is_done() {
            f(&c)?;
        }
    }
    let end = s.finish()?;
    check_digest(&store.describe(path), v.digest(path), end.sha256)
}

/// The original's identity: ids and the digests of its session `SHA256SUM(.sig)`.
fn identify(original: &Recording, v: &Verification) -> Result<Original, RedactError> {
    let store = &**original.store();
    let read = |name: &str| store.read_limited(&join(original.dir(), name), MAX_SMALL);
    let sums = hex::encode(Sha256::digest(read(format::CHECKSUM_FILE)?));
    if v.session_sha256sum.as_deref() != Some(sums.as_str()) {
        return Err(RedactError::Changed {
            path: crate::human::escape(&join(original.dir(), format::CHECKSUM_FILE)),
        });
    }
    let session_id = v
        .signing_key_id
        .clone()
        .ok_or_else(|| missing("session id", original.dir()))?;
    Ok(Original {
        recording_id: original.id().to_string(),
        session_id,
        signature_sha256: hex::encode(Sha256::digest(read(format::SIG_FILE)?)),
        checksums_sha256: sums,
    })
}

/// The first pass: every range every rule selects, per channel direction.
pub(super) fn plan(
    original: &Recording,
    v: &Verification,
    rules: &Rules,
    max_match: usize,
    limit: usize,
) -> Result<Plan, RedactError> {
    let store = &**original.store();
    let mut ranges = BTreeMap::new();
    let mut spans_used = vec![false; rules.spans.len()];
    let mut total = 0usize;
    for conn in original.connections()? {
        for ch in conn.channels()? {
            let summary = ch.summary()?.ok_or_else(|| missing("summary", ch.dir()))?;
            for dir in [Direction::Inbound, Direction::Outbound] {
                let path = join(ch.dir(), format::messages_file(dir));
                let mut found = Vec::new();
                if !rules.patterns.is_empty() {
                    let mut finder = Finder::new(&rules.patterns, max_match, limit);
                    each_chunk(store, v, &path, StreamKind::Messages, |c| {
                        if c.is_data() {
                            finder.push(&c.data()?).map_err(too_many)?;
                        }
                        Ok(())
                    })?;
                    found = finder.finish().map_err(too_many)?;
                }
                if let (Some(rule), Direction::Inbound) = (rules.hidden, dir)
                    && exists(store, &path)?
                {
                    let mut files = ChannelFiles::of_channel(&ch, Some(conn.dir()))?;
                    v.pin(&mut files)?;
                    let chars = hidden_chars(&files, limit)?;
                    for r in chars_to_bytes(&files, &path, v.digest(&path), &chars)? {
                        push_range(&mut found, r, rule, limit).map_err(too_many)?;
                    }
                }
                let len = match dir {
                    Direction::Inbound => summary.bytes_up,
                    Direction::Outbound => summary.bytes_down,
                };
                for (k, (rule, span)) in rules.spans.iter().enumerate() {
                    if span.channel != ch.id() || span.direction != dir {
                        continue;
                    }
                    spans_used[k] = true;
                    if span.range.end > len {
                        return Err(RedactError::Usage(format!(
                            "--span {}: the {} data of {} has {len} bytes",
                            crate::human::escape(&span.text),
                            dir.as_str(),
                            crate::human::escape(ch.id())
                        )));
                    }
                    push_range(&mut found, span.range.clone(), *rule, limit).map_err(too_many)?;
                }
                total += found.len();
                if total > limit {
                    return Err(too_many(limit));
                }
                if !found.is_empty() {
                    found.sort_by_key(|f| (f.range.start, f.rule));
                    let rel = format!(
                        "{}/{}/{}",
                        last(conn.dir()),
                        last(ch.dir()),
                        format::messages_file(dir)
                    );
                    ranges.insert(rel, found);
                }
            }
        }
    }
    if let Some(k) = spans_used.iter().position(|u| !u) {
        return Err(RedactError::Usage(format!(
            "--span {}: the recording has no channel {}",
            crate::human::escape(&rules.spans[k].1.text),
            crate::human::escape(&rules.spans[k].1.channel)
        )));
    }
    Ok(Plan {
        ranges,
        original: identify(original, v)?,
    })
}

/// Fills the ranges of one stream, chunk after chunk.
struct Filler<'a> {
    ranges: &'a [Found],
    first: usize,
    pos: u64,
}

impl Filler<'_> {
    /// Fills the ranges that meet `data` (the next chunk's data) and lists them.
    fn apply(&mut self, data: &mut [u8], filler: u8, chunk: &Chunk<'_>, out: &mut Vec<Redaction>) {
        let (pos, end) = (self.pos, self.pos + data.len() as u64);
        while self
            .ranges
            .get(self.first)
            .is_some_and(|r| r.range.end <= pos)
        {
            self.first += 1;
        }
        for f in self.ranges[self.first.min(self.ranges.len())..]
            .iter()
            .take_while(|f| f.range.start < end)
        {
            let (lo, hi) = (f.range.start.max(pos), f.range.end.min(end));
            if lo >= hi {
                continue;
            }
            data[(lo - pos) as usize..(hi - pos) as usize].fill(filler);
            out.push(Redaction {
                chunk: chunk.index,
                offset: lo - pos,
                length: hi - lo,
                time: chunk.time.to_rfc3339(),
                rule: f.rule,
            });
        }
        self.pos = end;
    }
}

/// The compression of the original (from the first HEAD of its first connection).
fn compression_of(original: &Recording) -> Result<Compression, RedactError> {
    let store = &**original.store();
    for conn in original.connections()? {
        let p = join(conn.dir(), format::requests_file(Direction::Inbound));
        if !exists(store, &p)? {
            continue;
        }
        let mut s = ChunkStream::new(store.open(&p)?, &store.describe(&p));
        if let Some(c) = s.next_chunk()? {
            return Ok(c.header()?.compression);
        }
    }
    Ok(Compression::None)
}

/// The second pass: the copy, with its manifest.
pub(super) fn write(
    original: &Recording,
    v: &Verification,
    rules: &Rules,
    plan: Plan,
    out: Output<'_>,
) -> Result<Redacted, RedactError> {
    let store = &**original.store();
    let id = super::copy_id(&plan.original.signature_sha256, &rules.rules, out.filler);
    let summary = original
        .summary()?
        .ok_or_else(|| missing("summary", original.dir()))?;
    let sid = plan.original.session_id.clone();
    let mut opts = SessionOptions::new(&id, &sid, summary.start_time);
    opts.session_meta = original.session_meta()?;
    opts.writer = WriterOptions {
        compression: compression_of(original)?,
        ..WriterOptions::default()
    };
    let keys = RecordingKeys::generate(&sid)?;
    let s = SessionWriter::create(out.store, out.parent, opts, keys, out.wrapper, out.recorder)?;
    let mut files = Vec::new();
    let mut count = 0usize;
    for conn in original.connections()? {
        let cs = conn
            .summary()?
            .ok_or_else(|| missing("summary", conn.dir()))?;
        let cw = s.new_connection(conn.id(), cs.start_time)?;
        for dir in [Direction::Inbound, Direction::Outbound] {
            let p = join(conn.dir(), format::requests_file(dir));
            each_chunk(store, v, &p, StreamKind::Requests, |c| {
                Ok(cw.copy_request(dir, c.time, c.chunk_type, &c.data()?)?)
            })?;
        }
        for ch in conn.channels()? {
            let chs = ch.summary()?.ok_or_else(|| missing("summary", ch.dir()))?;
            let mut w = cw.new_channel(ch.id(), ch.channel_type(), chs.start_time)?;
            for dir in [Direction::Inbound, Direction::Outbound] {
                let p = join(ch.dir(), format::requests_file(dir));
                each_chunk(store, v, &p, StreamKind::Requests, |c| {
                    Ok(w.copy_chunk(dir, c.time, c.chunk_type, &c.data()?)?)
                })?;
                let rel = format!(
                    "{}/{}/{}",
                    last(conn.dir()),
                    last(ch.dir()),
                    format::messages_file(dir)
                );
                let ranges = plan.ranges.get(&rel).map_or(&[][..], |r| &r[..]);
                let mut filler = Filler {
                    ranges,
                    first: 0,
                    pos: 0,
                };
                let mut listed = Vec::new();
                let p = join(ch.dir(), format::messages_file(dir));
                each_chunk(store, v, &p, StreamKind::Messages, |c| {
                    let mut data = c.data()?.into_owned();
                    filler.apply(&mut data, out.filler, c, &mut listed);
                    if count + listed.len() > out.limit {
                        return Err(too_many(out.limit));
                    }
                    Ok(w.copy_chunk(dir, c.time, c.chunk_type, &data)?)
                })?;
                count += listed.len();
                if !listed.is_empty() {
                    files.push(RedactedFile {
                        path: rel,
                        redactions: listed,
                    });
                }
            }
            if let Some(f) = &chs.open_failure {
                w.set_open_failure(f.reason, &f.message);
            }
            w.finish(chs.end_time)?;
        }
        if !cs.errors.is_empty() {
            cw.record_error(&cs.errors);
        }
        cw.finish(cs.end_time)?;
    }
    if !summary.errors.is_empty() {
        s.record_error(&summary.errors);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = RedactionManifest {
        schema: SCHEMA.into(),
        original: plan.original,
        tool: format!("bsr-asciicast {}", env!("CARGO_PKG_VERSION")),
        redacted_at: Timestamp::now().to_rfc3339(),
        filler: out.filler,
        rules: rules.rules.clone(),
        files,
    };
    s.write_redaction_manifest(&manifest)?;
    let dir = s.dir().to_string();
    s.finish(summary.end_time)?;
    Ok(Redacted {
        dir,
        recording_id: id,
        manifest,
    })
}
