//! Verification of one recording, and of many in parallel.
//!
//! What is checked (beyond Boundary's own `Validate`, see `docs/VERIFY.md`):
//! * the trust chain ([`trust`](self::Trust)): self-signature, every container's
//!   `SHA256SUM.sig` (canonical encoding, key id, `verify_strict`), the KMS binding (`--kek`)
//!   and the recorder attestation;
//! * every file of every container: listed files present and matching, no unlisted files,
//!   no symlinks or special files, the object store's own SHA-256 where it keeps one;
//! * the tree: children listed in the meta exist, no unlisted child folders, ids match the
//!   folder names, no duplicate or path-traversing names, channel summaries name their parent;
//! * each `.data` file: magic, every CRC, HEAD first, a single HEAD, DONE last, nothing after
//!   DONE, every chunk decodable for `BSSH`, one session id in every HEAD of the recording,
//!   monotonic timestamps (warning), summary byte counts equal to the DATA totals.
//!
//! An unfinished container (no `SHA256SUM.sig`) is judged as a crash would leave it: torn
//! tails and missing pieces make the recording *incomplete*, while anything a crash cannot
//! produce (a listed file whose hash differs, a bad CRC inside a file, an unlisted folder)
//! still makes it *invalid*.
//!
//! The rooms: `ctx` (the state of one run, problems from core errors), `trust` (keys and
//! anchors), `container` (checksums, signature, the file loop), `tree` (meta, declared files,
//! children), `summary`, `data` (scanning `.data` files), `verdict` and `pool` (many
//! recordings in parallel). Every file is read once.

mod container;
mod ctx;
mod data;
mod original;
mod pool;
mod redaction;
mod summary;
mod tree;
mod trust;
mod verdict;

pub use ctx::Seen;
pub use original::{OriginalRef, check_against_original};
pub use pool::{map_iter, map_many, verify_many};
pub use trust::Trust;

use crate::report::*;
use bsr_core::format::{self, ContainerKind};
use bsr_core::read::container_id;
use bsr_core::store::{ReadStore, join};
use container::{Place, check_container};
use ctx::Ctx;
use std::collections::BTreeSet;
use std::time::Instant;

/// Largest non-data file (meta, summary, keys, `SHA256SUM`) read into memory.
pub const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Options of a verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Trust anchors.
    pub trust: Trust,
    /// Compare the object store's own SHA-256 (S3 `ChecksumSHA256`) where it keeps one.
    pub store_checksums: bool,
    /// Read local data files through a sliding memory map (no copy out of the page cache; see
    /// the safety contract of [`bsr_core::read::ChunkStream::open`]). Off: plain `read` calls,
    /// for folders that another process may still be truncating.
    pub map_files: bool,
    /// With `map_files`, files smaller than this are still read with `read` calls (default
    /// [`bsr_core::read::STREAM_MAP_MIN`]: for small files a map costs more than the copy).
    pub map_min_len: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            trust: Trust::default(),
            store_checksums: true,
            map_files: true,
            map_min_len: bsr_core::read::STREAM_MAP_MIN,
        }
    }
}

/// Verifies the recording in folder `dir` (a `*.bsr` folder) of `store`.
pub fn verify(store: &dyn ReadStore, dir: &str, opts: &VerifyOptions) -> Report {
    run(store, dir, opts, false).0
}

/// [`verify`], also returning what it read that facts and events need (the parsed summaries
/// and the decoded requests), so that [`crate::facts`] need not read those files again.
pub fn verify_keeping(store: &dyn ReadStore, dir: &str, opts: &VerifyOptions) -> (Report, Seen) {
    run(store, dir, opts, true)
}

/// [`verify`], handing the bytes of the file `share` names to its
/// [`SharedReader`](bsr_core::read::share::SharedReader) as they are read and hashed: a view
/// that shows the file reads exactly what was verified, in one read of the file, on another
/// core. That file is read with `read` calls (never mapped: its bytes are copied anyway).
pub fn verify_sharing(
    store: &dyn ReadStore,
    dir: &str,
    opts: &VerifyOptions,
    share: bsr_core::read::share::Share,
) -> Report {
    run_with(store, dir, opts, false, Some(share)).0
}

fn run(store: &dyn ReadStore, dir: &str, opts: &VerifyOptions, keep: bool) -> (Report, Seen) {
    run_with(store, dir, opts, keep, None)
}

fn run_with(
    store: &dyn ReadStore,
    dir: &str,
    opts: &VerifyOptions,
    keep: bool,
    share: Option<bsr_core::read::share::Share>,
) -> (Report, Seen) {
    let started = Instant::now();
    let mut cx = Ctx::new(store, opts);
    cx.keep_requests = keep;
    cx.share = share;
    let mut trust = TrustReport::unchecked();
    let mut recording_id = None;
    let mut finished = false;
    let mut recovered = false;

    let session_name = dir.rsplit('/').next().unwrap_or(dir);
    let expected_id = container_id(session_name, ContainerKind::Session);
    if expected_id.is_none() {
        cx.err(
            Class::Structure,
            "bad-folder-name",
            dir,
            "a session recording folder is named <id>.bsr with a plain id",
        );
    }

    match store.list(dir) {
        Err(e) => cx.core_err("unreadable", dir, &e, false),
        Ok(entries) => {
            let names: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            let sig_path = join(dir, format::SIG_FILE);
            finished = names.contains(format::SIG_FILE)
                && store.size(&sig_path).map(|s| s > 0).unwrap_or(false);
            trust::load_keys(&mut cx, dir, !finished, &mut trust);
            let rid = expected_id.unwrap_or_default();
            trust::check_anchors(&mut cx, dir, rid, !finished, &mut trust);
            let place = Place {
                dir,
                kind: ContainerKind::Session,
                expected_id,
                parent_id: None,
                parent_signed_or_root: true,
            };
            recording_id = check_container(&mut cx, &place, &entries);
            recovered = names.contains(format::RECOVERY_MARKER_FILE);
        }
    }
    check_head_ids(&mut cx, dir);
    let redaction = redaction::finish(&mut cx);
    if cx.sig_checked {
        trust.checksum_signatures = if cx.sig_ok {
            Check::Passed
        } else {
            Check::Failed
        };
    }
    trust.mode = trust::trust_mode(&trust);
    let verdict = verdict::decide(&cx.problems, finished, &trust);
    let incomplete_said = cx
        .problems
        .iter()
        .any(|p| p.severity == Severity::Error && p.class == Class::Incomplete);
    if !finished && !incomplete_said {
        cx.err(
            Class::Incomplete,
            "unfinished",
            &join(dir, format::SIG_FILE),
            "the recording was never finished (no SHA256SUM.sig in the session folder)",
        );
    }
    let mut problems = cx.problems;
    problems.sort_by_key(|p| (p.severity == Severity::Warning, p.path.clone(), p.offset));
    let report = Report {
        schema: "bsr-verify/report/v1",
        recording: dir.to_string(),
        location: store.describe(dir),
        recording_id,
        session_id: cx.session_id,
        verdict,
        exit_code: verdict.exit_code(),
        finished,
        recovered,
        redaction,
        trust,
        problems,
        containers: cx.containers,
        stats: cx.stats,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    (report, cx.seen)
}

/// Every HEAD in the recording names the same session, the key id.
fn check_head_ids(cx: &mut Ctx, dir: &str) {
    if cx.head_ids.len() > 1 {
        let list: Vec<String> = cx
            .head_ids
            .iter()
            .map(|(id, p)| format!("{:?} in {p}", String::from_utf8_lossy(id)))
            .collect();
        let m = format!("HEAD chunks name different sessions: {}", list.join(", "));
        cx.err(Class::Structure, "session-id-mismatch", dir, m);
    }
    if let (Some(sid), Some((hid, p))) = (cx.session_id.clone(), cx.head_ids.iter().next())
        && hid.as_slice() != sid.as_bytes()
    {
        let p = p.clone();
        let m = format!(
            "HEAD session id {:?} differs from the key id {sid:?}",
            String::from_utf8_lossy(hid)
        );
        cx.warn("head-session-id", &p, m);
    }
}
