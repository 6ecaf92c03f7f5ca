//! `bsr-verify --original DIR`: a redacted copy compared with its original.
//!
//! The original must verify on its own (intact; authentic when anchors were given) and be the
//! one the copy's `REDACTION.json` names (recording id, session id, SHA-256 of its session
//! `SHA256SUM.sig` and `SHA256SUM`). Then the two trees are walked side by side: the same
//! connections and channels, equal summaries and `session-meta.json`, and every data file
//! streamed chunk against chunk (two bounded stream buffers, one chunk's data each): the same
//! chunk types, directions and times, equal request payloads, HEADs naming the same session,
//! and DATA of the same length whose bytes are equal everywhere outside the listed ranges. The
//! first difference in a file is an integrity problem naming the copy's file, byte offset and
//! chunk.

use super::VerifyOptions;
use crate::report::{Class, OriginalCheck, Problem, Report, Severity, Verdict};
use bsr_core::error::Error as CoreError;
use bsr_core::format::redaction::{Redaction, RedactionManifest};
use bsr_core::format::{self, Direction};
use bsr_core::read::chunk::Chunk;
use bsr_core::read::{ChunkStream, Recording};
use bsr_core::store::{ReadStore, exists, join};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The original of a redacted copy, verified once for every copy compared with it.
#[derive(Debug)]
pub struct OriginalRef {
    /// Its store.
    pub store: Arc<dyn ReadStore>,
    /// Its folder in the store.
    pub dir: String,
    /// Its own verification.
    pub report: Report,
}

impl OriginalRef {
    /// Verifies the original `dir` of `store`.
    pub fn verify(store: Arc<dyn ReadStore>, dir: &str, opts: &VerifyOptions) -> Self {
        let report = super::verify(&*store, dir, opts);
        OriginalRef {
            store,
            dir: dir.to_string(),
            report,
        }
    }
}

fn problem(class: Class, code: &'static str, path: &str, message: String) -> Problem {
    Problem {
        severity: Severity::Error,
        class,
        code,
        path: path.to_string(),
        offset: None,
        chunk: None,
        message,
    }
}

/// Compares the redacted copy whose report is `report` (in `store`) with `original`, adding
/// the problems found to the report, its comparison to `report.redaction`, and deciding the
/// verdict again.
pub fn check_against_original(
    report: &mut Report,
    store: Arc<dyn ReadStore>,
    original: &OriginalRef,
) {
    let mut problems = Vec::new();
    let o = &original.report;
    let intact = matches!(o.verdict, Verdict::Authentic | Verdict::Unauthenticated);
    if report.redaction.is_none() {
        let m =
            "--original was given, but this recording is not a redacted copy (no REDACTION.json)";
        problems.push(problem(
            Class::Structure,
            "not-a-redacted-copy",
            &report.recording,
            m.into(),
        ));
    } else if !intact {
        let m = format!("the original {} is {}", o.location, o.verdict.describe());
        problems.push(problem(
            Class::Structure,
            "original-not-intact",
            &report.recording,
            m,
        ));
    } else if let Err(e) = compare(report, &store, original, &mut problems) {
        let loc = e.location().map(|l| l.path.clone()).unwrap_or_default();
        let m = format!("comparing with the original: {}", e.chain());
        problems.push(problem(Class::Io, "unreadable", &loc, m));
    }
    let identical = problems.is_empty();
    report.problems.append(&mut problems);
    if let Some(rd) = report.redaction.as_mut() {
        rd.original = Some(OriginalCheck {
            location: o.location.clone(),
            verdict: o.verdict,
            identical_outside_redactions: identical,
        });
    }
    report.verdict = super::verdict::decide(&report.problems, report.finished, &report.trust);
    report.exit_code = report.verdict.exit_code();
}

fn compare(
    report: &Report,
    store: &Arc<dyn ReadStore>,
    original: &OriginalRef,
    out: &mut Vec<Problem>,
) -> Result<(), CoreError> {
    let dir = report.recording.as_str();
    let mpath = join(dir, format::REDACTION_FILE);
    let manifest =
        RedactionManifest::parse(&store.read_limited(&mpath, super::MAX_SMALL_FILE)?, &mpath)?;
    let os = &*original.store;
    let digest = |name: &str| -> Result<String, CoreError> {
        let b = os.read_limited(&join(&original.dir, name), super::MAX_SMALL_FILE)?;
        Ok(hex::encode(Sha256::digest(b)))
    };
    let named = &manifest.original;
    let o = &original.report;
    if o.recording_id.as_deref() != Some(named.recording_id.as_str())
        || o.session_id.as_deref() != Some(named.session_id.as_str())
        || digest(format::SIG_FILE)? != named.signature_sha256
        || digest(format::CHECKSUM_FILE)? != named.checksums_sha256
    {
        let m = format!(
            "REDACTION.json names {} (signature SHA-256 {}), not the original given ({})",
            named.recording_id, named.signature_sha256, o.location
        );
        out.push(problem(Class::Structure, "original-mismatch", &mpath, m));
        return Ok(());
    }
    let mut ranges: BTreeMap<String, Vec<Redaction>> = BTreeMap::new();
    for f in manifest.files {
        ranges.insert(join(dir, &f.path), f.redactions);
    }
    let copy = Recording::open(store.clone(), dir)?;
    let orig = Recording::open(original.store.clone(), &original.dir)?;
    let differ = |out: &mut Vec<Problem>, path: &str, what: &str| {
        let m = format!("{what} differs from the original's");
        out.push(problem(Class::Integrity, "differs-from-original", path, m));
    };
    let (cs, osum) = (copy.summary()?, orig.summary()?);
    let key = |s: &Option<bsr_core::format::meta::SessionSummary>| {
        s.as_ref().map(|s| {
            (
                s.start_time,
                s.end_time,
                s.connection_count,
                s.errors.clone(),
            )
        })
    };
    if key(&cs) != key(&osum) {
        differ(
            out,
            &join(dir, format::ContainerKind::Session.summary_file()),
            "the session summary",
        );
    }
    if copy.session_meta()? != orig.session_meta()? {
        differ(
            out,
            &join(dir, format::SESSION_META_FILE),
            "session-meta.json",
        );
    }
    if copy.meta().connections != orig.meta().connections {
        differ(
            out,
            &join(dir, format::ContainerKind::Session.meta_file()),
            "the list of connections",
        );
        return Ok(());
    }
    for (c, oc) in copy.connections()?.iter().zip(orig.connections()?.iter()) {
        if c.summary()? != oc.summary()? {
            differ(
                out,
                &join(c.dir(), format::ContainerKind::Connection.summary_file()),
                "the connection summary",
            );
        }
        for d in [Direction::Inbound, Direction::Outbound] {
            let name = format::requests_file(d);
            compare_file(
                store,
                &join(c.dir(), name),
                os,
                &join(oc.dir(), name),
                &[],
                out,
            )?;
        }
        if c.meta().channels != oc.meta().channels {
            differ(
                out,
                &join(c.dir(), format::ContainerKind::Connection.meta_file()),
                "the list of channels",
            );
            continue;
        }
        for (ch, och) in c.channels()?.iter().zip(oc.channels()?.iter()) {
            if ch.summary()? != och.summary()? || ch.channel_type() != och.channel_type() {
                differ(
                    out,
                    &join(ch.dir(), format::ContainerKind::Channel.summary_file()),
                    "the channel summary or type",
                );
            }
            for d in [Direction::Inbound, Direction::Outbound] {
                for name in [format::requests_file(d), format::messages_file(d)] {
                    let p = join(ch.dir(), name);
                    let r = ranges.get(&p).map_or(&[][..], |v| &v[..]);
                    compare_file(store, &p, os, &join(och.dir(), name), r, out)?;
                }
            }
        }
    }
    Ok(())
}

type Stream<'a> = ChunkStream<Box<dyn std::io::Read + Send + 'a>>;

fn open<'a>(store: &'a dyn ReadStore, path: &str) -> Result<Option<Stream<'a>>, CoreError> {
    if !exists(store, path)? {
        return Ok(None);
    }
    ChunkStream::open(store, path, false).map(Some)
}

/// Streams the copy's file `cp` and the original's `op` side by side; reports the first
/// difference outside `ranges`. An absent original file counts as one without chunks.
fn compare_file(
    cstore: &Arc<dyn ReadStore>,
    cp: &str,
    ostore: &dyn ReadStore,
    op: &str,
    ranges: &[Redaction],
    out: &mut Vec<Problem>,
) -> Result<(), CoreError> {
    let Some(mut cs) = open(&**cstore, cp)? else {
        if exists(ostore, op)? {
            let m = "the original has this file, the copy does not".to_string();
            out.push(problem(Class::Integrity, "differs-from-original", cp, m));
        }
        return Ok(());
    };
    let mut os = open(ostore, op)?;
    let no_original = os.is_none();
    let mut next = 0usize;
    loop {
        let a = cs.next_chunk()?;
        let b = match os.as_mut() {
            Some(s) => s.next_chunk()?,
            None => None,
        };
        let why = match (&a, &b) {
            (None, None) => return Ok(()),
            (Some(a), Some(b)) => chunk_differs(a, b, ranges, &mut next)?,
            (Some(a), None) if no_original && (a.is_head() || a.is_done()) => None,
            (Some(_), None) => Some("the copy has a chunk the original does not have".into()),
            (None, Some(_)) => Some("the copy ends before the original".into()),
        };
        if let Some(m) = why {
            let at = a.as_ref().map(|a| (a.offset, a.index));
            out.push(Problem {
                offset: at.map(|a| a.0),
                chunk: at.map(|a| a.1),
                ..problem(Class::Integrity, "differs-from-original", cp, m)
            });
            return Ok(());
        }
    }
}

/// Why chunk `a` of the copy is not chunk `b` of the original with `ranges` filled.
fn chunk_differs(
    a: &Chunk<'_>,
    b: &Chunk<'_>,
    ranges: &[Redaction],
    next: &mut usize,
) -> Result<Option<String>, CoreError> {
    if a.chunk_type != b.chunk_type || a.direction != b.direction {
        return Ok(Some(format!(
            "chunk type or direction differs from the original's ({}, {:?})",
            String::from_utf8_lossy(&b.chunk_type),
            b.direction
        )));
    }
    if a.is_head() {
        let same = a.header()?.session_id == b.header()?.session_id;
        return Ok((!same).then(|| "the HEAD names another session than the original's".into()));
    }
    if a.is_done() {
        return Ok(None);
    }
    if a.time != b.time {
        return Ok(Some(format!(
            "chunk time {} differs from the original's {}",
            a.time.to_rfc3339(),
            b.time.to_rfc3339()
        )));
    }
    let (da, db) = (a.data()?, b.data()?);
    if da.len() != db.len() {
        return Ok(Some(format!(
            "chunk data of {} bytes, the original's has {}",
            da.len(),
            db.len()
        )));
    }
    while ranges.get(*next).is_some_and(|r| r.chunk < a.index) {
        *next += 1;
    }
    let mut listed = Vec::new();
    while let Some(r) = ranges.get(*next).filter(|r| r.chunk == a.index) {
        listed.push((r.offset, r.end()));
        *next += 1;
    }
    let first = da
        .iter()
        .zip(db.iter())
        .enumerate()
        .position(|(i, (x, y))| {
            x != y && !listed.iter().any(|(s, e)| (*s..*e).contains(&(i as u64)))
        });
    Ok(first.map(|i| {
        format!(
            "data byte {i} of the chunk differs from the original's outside the listed redactions"
        )
    }))
}
