//! Verification of one recording, and of many in parallel.
//!
//! What is checked (beyond Boundary's own `Validate`, see `docs/VERIFY.md`):
//! * the trust chain: self-signature, every container's `SHA256SUM.sig` (canonical encoding,
//!   key id, `verify_strict`), the KMS binding (`--kek`) and the recorder attestation;
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

use crate::report::*;
use bsr_core::error::Error as CoreError;
use bsr_core::format::{self, ContainerKind};
use bsr_core::kms::{KeyWrapper, RecorderTrust, SessionKeyFiles};
use bsr_core::meta::{
    ChannelRecordingMeta, ChannelSummary, ConnectionRecordingMeta, ConnectionSummary,
    SessionRecordingMeta, SessionSummary,
};
use bsr_core::read::{ChunkStream, container_id};
use bsr_core::store::{EntryKind, ReadStore, join};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

/// Largest non-data file (meta, summary, keys, `SHA256SUM`) read into memory.
pub const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Trust anchors.
#[derive(Debug, Default, Clone)]
pub struct Trust {
    /// The KMS wrapper that unwraps the BSR key (`--kek`).
    pub kek: Option<Arc<dyn KeyWrapper>>,
    /// Trusted recorder public keys (`--recorder-key`).
    pub recorder: Option<Arc<RecorderTrust>>,
}

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

struct Ctx<'a> {
    store: &'a dyn ReadStore,
    opts: &'a VerifyOptions,
    problems: Vec<Problem>,
    containers: Vec<ContainerReport>,
    stats: Stats,
    keys: Option<SessionKeyFiles>,
    head_ids: BTreeMap<Vec<u8>, String>,
    session_id: Option<String>,
    sig_ok: bool,
    sig_checked: bool,
}

/// Result of scanning one `.data` file.
#[derive(Default)]
struct DataScan {
    /// Every chunk was read (no error stopped the scan): the DATA total is meaningful.
    complete: bool,
    sha256: Option<[u8; 32]>,
    bytes: u64,
    chunks: u64,
    data_bytes: u64,
}

fn loc_of(e: &CoreError) -> (Option<u64>, Option<u64>) {
    match e.location() {
        Some(l) => (Some(l.offset), l.chunk),
        None => (None, None),
    }
}

fn class_of(e: &CoreError) -> Class {
    match e {
        CoreError::Crc { .. } | CoreError::Checksum { .. } => Class::Integrity,
        CoreError::Signature { .. } | CoreError::KeyBinding { .. } | CoreError::Crypto { .. } => {
            Class::Authentication
        }
        CoreError::Io { .. } => Class::Io,
        CoreError::Truncated { .. } => Class::Malformed,
        _ => Class::Malformed,
    }
}

fn is_not_found(e: &CoreError) -> bool {
    matches!(e, CoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

impl<'a> Ctx<'a> {
    fn push(
        &mut self,
        severity: Severity,
        class: Class,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            severity,
            class,
            code,
            path: path.to_string(),
            offset: None,
            chunk: None,
            message: message.into(),
        });
    }

    fn err(&mut self, class: Class, code: &'static str, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, class, code, path, message);
    }

    fn warn(&mut self, code: &'static str, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, Class::Structure, code, path, message);
    }

    /// Records a core error; in an unsigned container, parse failures count as incomplete.
    fn core_err(&mut self, code: &'static str, path: &str, e: &CoreError, unsigned: bool) {
        let (offset, chunk) = loc_of(e);
        let mut class = class_of(e);
        if unsigned && matches!(class, Class::Malformed) {
            class = Class::Incomplete;
        }
        if unsigned && matches!(e, CoreError::Truncated { .. }) {
            class = Class::Incomplete;
        }
        // The problem carries path, offset and chunk; keep only "what" in the message.
        let mut message = e.to_string();
        if let Some(rest) = e
            .location()
            .and_then(|l| message.strip_prefix(&format!("{l}: ")))
        {
            message = rest.to_string();
        }
        self.problems.push(Problem {
            severity: Severity::Error,
            class,
            code,
            path: path.to_string(),
            offset,
            chunk,
            message,
        });
    }

    fn read_small(&mut self, path: &str) -> Result<Vec<u8>, CoreError> {
        let b = self.store.read_limited(path, MAX_SMALL_FILE)?;
        self.stats.files += 1;
        self.stats.bytes += b.len() as u64;
        Ok(b)
    }
}

/// Keeps the complete lines of an unfinished text file (drops a torn last line).
fn complete_lines(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &[],
    }
}

/// Verifies the recording in folder `dir` (a `*.bsr` folder) of `store`.
pub fn verify(store: &dyn ReadStore, dir: &str, opts: &VerifyOptions) -> Report {
    let started = Instant::now();
    let mut cx = Ctx {
        store,
        opts,
        problems: Vec::new(),
        containers: Vec::new(),
        stats: Stats::default(),
        keys: None,
        head_ids: BTreeMap::new(),
        session_id: None,
        sig_ok: true,
        sig_checked: false,
    };
    let mut trust = TrustReport {
        self_signature: Check::NotChecked,
        checksum_signatures: Check::NotChecked,
        kms_binding: Check::NotChecked,
        recorder_attestation: Check::NotChecked,
        mode: "none",
    };
    let mut recording_id = None;
    let mut finished = false;
    let mut recovered = false;

    let session_name = dir.rsplit('/').next().unwrap_or(dir);
    let expected_id = container_id(session_name, ContainerKind::Session).map(str::to_string);
    if expected_id.is_none() {
        cx.err(
            Class::Structure,
            "bad-folder-name",
            dir,
            "a session recording folder is named <id>.bsr with a plain id",
        );
    }

    match store.list(dir) {
        Err(e) => {
            cx.core_err("unreadable", dir, &e, false);
        }
        Ok(entries) => {
            let names: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            let sig_path = join(dir, format::SIG_FILE);
            finished = names.contains(format::SIG_FILE)
                && store.size(&sig_path).map(|s| s > 0).unwrap_or(false);
            let unsigned = !finished;
            // Keys.
            load_keys(&mut cx, dir, unsigned, &mut trust);
            // The trust anchors.
            if let (Some(kek), Some(keys)) = (cx.opts.trust.kek.clone(), cx.keys.as_ref()) {
                match keys.verify_kms_binding(&*kek) {
                    Ok(()) => trust.kms_binding = Check::Passed,
                    Err(e) => {
                        trust.kms_binding = Check::Failed;
                        let p = join(dir, format::PUB_KEY_BSR_SIG_FILE);
                        cx.core_err("kms-binding", &p, &e, false);
                        if let Some(last) = cx.problems.last_mut() {
                            last.class = Class::Authentication;
                        }
                    }
                }
            }
            if let (Some(rt), Some(keys)) = (cx.opts.trust.recorder.clone(), cx.keys.as_ref()) {
                let p = join(dir, format::RECORDER_ATTESTATION_FILE);
                let att = cx.store.read_limited(&p, MAX_SMALL_FILE);
                let rid = expected_id.clone().unwrap_or_default();
                match att {
                    Ok(att) => match rt.verify_attestation(&att, &rid, keys) {
                        Ok(()) => trust.recorder_attestation = Check::Passed,
                        Err(e) => {
                            trust.recorder_attestation = Check::Failed;
                            cx.core_err("recorder-attestation", &p, &e, false);
                            if let Some(last) = cx.problems.last_mut() {
                                last.class = Class::Authentication;
                            }
                        }
                    },
                    Err(e) if is_not_found(&e) => {
                        trust.recorder_attestation = Check::Failed;
                        cx.err(
                            Class::Authentication,
                            "no-recorder-attestation",
                            &p,
                            "the recording has no recorder attestation",
                        );
                    }
                    Err(e) => {
                        trust.recorder_attestation = Check::Failed;
                        cx.core_err("unreadable", &p, &e, false);
                    }
                }
            }
            let eid = expected_id.clone();
            let meta = check_container(
                &mut cx,
                dir,
                ContainerKind::Session,
                eid.as_deref(),
                None,
                true,
                &entries,
            );
            if let Some(m) = meta {
                recording_id = Some(m);
            }
            recovered = names.contains(format::RECOVERY_MARKER_FILE);
        }
    }

    // Every HEAD in the recording names the same session, the key id.
    if cx.head_ids.len() > 1 {
        let list: Vec<String> = cx
            .head_ids
            .iter()
            .map(|(id, p)| format!("{:?} in {p}", String::from_utf8_lossy(id)))
            .collect();
        cx.err(
            Class::Structure,
            "session-id-mismatch",
            dir,
            format!("HEAD chunks name different sessions: {}", list.join(", ")),
        );
    }
    if let (Some(sid), Some((hid, p))) = (cx.session_id.clone(), cx.head_ids.iter().next())
        && hid.as_slice() != sid.as_bytes()
    {
        let p = p.clone();
        cx.warn(
            "head-session-id",
            &p,
            format!(
                "HEAD session id {:?} differs from the key id {sid:?}",
                String::from_utf8_lossy(hid)
            ),
        );
    }

    if cx.sig_checked {
        trust.checksum_signatures = if cx.sig_ok {
            Check::Passed
        } else {
            Check::Failed
        };
    }
    trust.mode = match (
        trust.kms_binding == Check::Passed,
        trust.recorder_attestation == Check::Passed,
    ) {
        (true, true) => "kms+recorder",
        (true, false) => "kms",
        (false, true) => "recorder",
        (false, false) => "none",
    };

    let has = |cx: &Ctx, f: &dyn Fn(&Problem) -> bool| {
        cx.problems
            .iter()
            .any(|p| p.severity == Severity::Error && f(p))
    };
    let verdict = if has(&cx, &|p| {
        matches!(
            p.class,
            Class::Integrity | Class::Authentication | Class::Malformed | Class::Structure
        )
    }) {
        Verdict::Invalid
    } else if has(&cx, &|p| p.class == Class::Io) {
        Verdict::Error
    } else if !finished || has(&cx, &|p| p.class == Class::Incomplete) {
        Verdict::Incomplete
    } else if trust.mode != "none"
        && trust.self_signature == Check::Passed
        && trust.checksum_signatures == Check::Passed
    {
        Verdict::Authentic
    } else {
        Verdict::Unauthenticated
    };
    if !finished && !has(&cx, &|p| p.class == Class::Incomplete) {
        let p = join(dir, format::SIG_FILE);
        cx.err(
            Class::Incomplete,
            "unfinished",
            &p,
            "the recording was never finished (no SHA256SUM.sig in the session folder)",
        );
    }
    let mut problems = cx.problems;
    problems.sort_by_key(|p| (p.severity == Severity::Warning, p.path.clone(), p.offset));
    Report {
        schema: "bsr-verify/report/v1",
        recording: dir.to_string(),
        location: store.describe(dir),
        recording_id,
        session_id: cx.session_id,
        verdict,
        exit_code: verdict.exit_code(),
        finished,
        recovered,
        trust,
        problems,
        containers: cx.containers,
        stats: cx.stats,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

fn load_keys(cx: &mut Ctx, dir: &str, unsigned: bool, trust: &mut TrustReport) {
    let mut raw = Vec::new();
    for name in [
        format::PUB_KEY_FILE,
        format::WRAPPED_BSR_KEY_FILE,
        format::WRAPPED_PRIV_KEY_FILE,
        format::PUB_KEY_SELF_SIG_FILE,
        format::PUB_KEY_BSR_SIG_FILE,
    ] {
        let p = join(dir, name);
        match cx.store.read_limited(&p, MAX_SMALL_FILE) {
            Ok(b) => raw.push(b),
            Err(e) => {
                if is_not_found(&e) {
                    let class = if unsigned {
                        Class::Incomplete
                    } else {
                        Class::Structure
                    };
                    cx.err(class, "key-file-missing", &p, "key file missing");
                } else {
                    cx.core_err("unreadable", &p, &e, unsigned);
                }
                return;
            }
        }
    }
    let keys = match SessionKeyFiles::parse(&raw[0], &raw[1], &raw[2], &raw[3], &raw[4]) {
        Ok(k) => k,
        Err(e) => {
            let path = e
                .location()
                .map(|l| join(dir, &l.path))
                .unwrap_or_else(|| dir.to_string());
            cx.core_err("key-file-malformed", &path, &e, unsigned);
            return;
        }
    };
    match keys.verify_self_signature() {
        Ok(()) => trust.self_signature = Check::Passed,
        Err(e) => {
            trust.self_signature = Check::Failed;
            cx.core_err(
                "self-signature",
                &join(dir, format::PUB_KEY_SELF_SIG_FILE),
                &e,
                false,
            );
            if let Some(last) = cx.problems.last_mut() {
                last.class = Class::Authentication;
            }
        }
    }
    cx.session_id = Some(keys.key_id().to_string());
    cx.keys = Some(keys);
}

/// Checks one container and, recursively, its children. Returns the id from its meta.
fn check_container(
    cx: &mut Ctx,
    dir: &str,
    kind: ContainerKind,
    expected_id: Option<&str>,
    parent_id: Option<&str>,
    parent_signed_or_root: bool,
    entries: &[bsr_core::store::DirEntry],
) -> Option<String> {
    cx.stats.containers += 1;
    let names: BTreeMap<&str, &bsr_core::store::DirEntry> =
        entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let sum_path = join(dir, format::CHECKSUM_FILE);
    let sig_path = join(dir, format::SIG_FILE);
    let sig_present = names
        .get(format::SIG_FILE)
        .map(|e| e.kind == EntryKind::File && e.size > 0)
        .unwrap_or(false);
    let unsigned = !sig_present;
    if unsigned && kind != ContainerKind::Session && parent_signed_or_root {
        cx.err(
            Class::Structure,
            "unsigned-child",
            &sig_path,
            "this container is unfinished but its parent was finished and signed (impossible for a crash)",
        );
    } else if unsigned {
        cx.err(
            Class::Incomplete,
            "unfinished-container",
            &sig_path,
            "container not finished (no SHA256SUM.sig)",
        );
    }

    // SHA256SUM and its signature.
    let mut signed = false;
    let mut listed: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    match cx.read_small(&sum_path) {
        Err(e) if is_not_found(&e) => {
            let class = if unsigned {
                Class::Incomplete
            } else {
                Class::Structure
            };
            cx.err(
                class,
                "checksum-file-missing",
                &sum_path,
                "SHA256SUM missing",
            );
        }
        Err(e) => cx.core_err("unreadable", &sum_path, &e, unsigned),
        Ok(sum_bytes) => {
            if sig_present {
                match cx.read_small(&sig_path) {
                    Ok(sig) => {
                        if let Some(keys) = &cx.keys {
                            cx.sig_checked = true;
                            match keys.verify_checksums(&sum_bytes, &sig) {
                                Ok(()) => signed = true,
                                Err(e) => {
                                    cx.sig_ok = false;
                                    cx.core_err("checksum-signature", &sig_path, &e, false);
                                    if let Some(last) = cx.problems.last_mut() {
                                        last.class = Class::Authentication;
                                    }
                                }
                            }
                        } else {
                            cx.sig_ok = false;
                            cx.err(
                                Class::Authentication,
                                "checksum-signature",
                                &sig_path,
                                "cannot verify: the session keys are unusable",
                            );
                        }
                    }
                    Err(e) => cx.core_err("unreadable", &sig_path, &e, false),
                }
            }
            let parse_bytes = if unsigned {
                complete_lines(&sum_bytes)
            } else {
                &sum_bytes[..]
            };
            if unsigned && parse_bytes.len() < sum_bytes.len() {
                cx.err(
                    Class::Incomplete,
                    "torn-checksum-line",
                    &sum_path,
                    "last SHA256SUM line is incomplete",
                );
            }
            match bsr_core::checksum::parse(parse_bytes, &sum_path) {
                Ok(entries) => {
                    for e in entries {
                        if e.binary {
                            cx.warn(
                                "binary-mode-line",
                                &sum_path,
                                format!("line {} uses the binary-mode separator", e.line),
                            );
                        }
                        listed.insert(e.name, e.digest);
                    }
                }
                Err(e) => cx.core_err("checksum-file-malformed", &sum_path, &e, unsigned),
            }
        }
    }

    let mut files: Vec<FileReport> = Vec::new();
    let mut data_totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut child_dirs: Vec<String> = Vec::new();
    let mut metas: Option<Vec<u8>> = None;
    let mut summary_bytes: Option<Vec<u8>> = None;

    for e in entries {
        let name = e.name.as_str();
        let path = join(dir, name);
        if name == format::CHECKSUM_FILE || name == format::SIG_FILE {
            continue;
        }
        match e.kind {
            EntryKind::Symlink => {
                cx.err(
                    Class::Structure,
                    "symlink",
                    &path,
                    "symbolic link inside a recording (not followed)",
                );
                continue;
            }
            EntryKind::Other => {
                cx.err(
                    Class::Structure,
                    "special-file",
                    &path,
                    "not a regular file or folder",
                );
                continue;
            }
            EntryKind::Dir => {
                child_dirs.push(name.to_string());
                continue;
            }
            EntryKind::File => {}
        }
        let is_listed = listed.contains_key(name);
        let mut fr = FileReport {
            name: name.to_string(),
            size: Some(e.size),
            sha256: None,
            listed: is_listed,
            status: FileStatus::Ok,
            chunks: None,
            data_bytes: None,
            store_checksum_ok: None,
        };
        let digest: Option<[u8; 32]> = if name.ends_with(".data") {
            let scan = scan_data(cx, &path, name, unsigned);
            fr.chunks = Some(scan.chunks);
            fr.data_bytes = Some(scan.data_bytes);
            if let Some(d) = data_dir(name).filter(|_| scan.complete) {
                data_totals.insert(d, scan.data_bytes);
            }
            scan.sha256
        } else {
            match cx.read_small(&path) {
                Ok(b) => {
                    let d: [u8; 32] = Sha256::digest(&b).into();
                    if name == kind.meta_file() {
                        metas = Some(b);
                    } else if name == kind.summary_file() {
                        summary_bytes = Some(b);
                    }
                    Some(d)
                }
                Err(err) => {
                    cx.core_err("unreadable", &path, &err, false);
                    if let Some(l) = cx.problems.last_mut()
                        && matches!(err, CoreError::TooLarge { .. })
                    {
                        l.class = Class::Malformed;
                    }
                    None
                }
            }
        };
        match digest {
            None => fr.status = FileStatus::Unreadable,
            Some(d) => {
                fr.sha256 = Some(hex::encode(d));
                match listed.get(name) {
                    Some(want) if *want == d => {}
                    Some(want) => {
                        fr.status = FileStatus::Mismatch;
                        cx.err(
                            Class::Integrity,
                            "checksum-mismatch",
                            &path,
                            format!(
                                "SHA-256 {} differs from the SHA256SUM entry {}",
                                hex::encode(d),
                                hex::encode(want)
                            ),
                        );
                    }
                    None if name == format::JOURNAL_FILE => {
                        fr.status = FileStatus::Unlisted;
                        cx.warn(
                            "journal",
                            &path,
                            "local journal, not covered by SHA256SUM (Boundary never uploads it)",
                        );
                    }
                    None if unsigned => fr.status = FileStatus::Pending,
                    None => {
                        fr.status = FileStatus::Unlisted;
                        cx.err(
                            Class::Structure,
                            "unlisted-file",
                            &path,
                            "file present but not listed in SHA256SUM",
                        );
                    }
                }
                if cx.opts.store_checksums {
                    match cx.store.stored_sha256(&path) {
                        Ok(Some(s)) => {
                            fr.store_checksum_ok = Some(s == d);
                            if s != d {
                                cx.err(
                                    Class::Integrity,
                                    "store-checksum-mismatch",
                                    &path,
                                    format!(
                                        "object store SHA-256 {} differs from the content's {}",
                                        hex::encode(s),
                                        hex::encode(d)
                                    ),
                                );
                            }
                        }
                        Ok(None) => {}
                        Err(err) => cx.core_err("unreadable", &path, &err, false),
                    }
                }
            }
        }
        files.push(fr);
    }
    for name in listed.keys() {
        if !names.contains_key(name.as_str()) {
            let p = join(dir, name);
            cx.err(
                Class::Structure,
                "listed-file-missing",
                &p,
                "listed in SHA256SUM but missing",
            );
            files.push(FileReport {
                name: name.clone(),
                size: None,
                sha256: None,
                listed: true,
                status: FileStatus::Missing,
                chunks: None,
                data_bytes: None,
                store_checksum_ok: None,
            });
        } else if names
            .get(name.as_str())
            .map(|e| e.kind != EntryKind::File)
            .unwrap_or(false)
        {
            let p = join(dir, name);
            cx.err(
                Class::Structure,
                "listed-not-a-file",
                &p,
                "listed in SHA256SUM but not a regular file",
            );
        }
    }

    // Meta.
    let meta_path = join(dir, kind.meta_file());
    let mut id = None;
    let mut children: Vec<String> = Vec::new();
    let mut declared: Vec<&'static str> = Vec::new();
    let mut channel_type = None;
    match metas {
        None => {
            if !names.contains_key(kind.meta_file()) {
                let class = if unsigned {
                    Class::Incomplete
                } else {
                    Class::Structure
                };
                cx.err(class, "meta-missing", &meta_path, "meta file missing");
            }
        }
        Some(b) => {
            let b = if unsigned {
                complete_lines(&b).to_vec()
            } else {
                b
            };
            let parsed = match kind {
                ContainerKind::Session => SessionRecordingMeta::parse(&b, &meta_path).map(|m| {
                    if m.protocol != "BSSH" {
                        cx.warn(
                            "protocol",
                            &meta_path,
                            format!("protocol {:?} is not BSSH", m.protocol),
                        );
                    }
                    (m.id, m.connections, Vec::new(), None)
                }),
                ContainerKind::Connection => {
                    ConnectionRecordingMeta::parse(&b, &meta_path).map(|m| {
                        let mut d = Vec::new();
                        d.extend(m.requests.iter().map(|x| format::requests_file(*x)));
                        d.extend(m.messages.iter().map(|x| format::messages_file(*x)));
                        (m.id, m.channels, d, None)
                    })
                }
                ContainerKind::Channel => ChannelRecordingMeta::parse(&b, &meta_path).map(|m| {
                    let mut d = Vec::new();
                    d.extend(m.requests.iter().map(|x| format::requests_file(*x)));
                    d.extend(m.messages.iter().map(|x| format::messages_file(*x)));
                    (m.id, Vec::new(), d, Some(m.channel_type))
                }),
            };
            match parsed {
                Ok((mid, ch, d, ct)) => {
                    if let Some(exp) = expected_id
                        && mid != exp
                    {
                        cx.err(
                            Class::Structure,
                            "id-mismatch",
                            &meta_path,
                            format!("meta id {mid:?} does not match the folder name (id {exp:?})"),
                        );
                    }
                    id = Some(mid);
                    children = ch;
                    declared = d;
                    channel_type = ct;
                }
                Err(e) => cx.core_err("meta-malformed", &meta_path, &e, unsigned),
            }
        }
    }
    let mut seen = BTreeSet::new();
    for d in &declared {
        if !seen.insert(*d) {
            cx.err(
                Class::Structure,
                "duplicate-meta-entry",
                &meta_path,
                format!("{d} declared twice"),
            );
        }
        if !names.contains_key(d) {
            let class = if unsigned {
                Class::Incomplete
            } else {
                Class::Structure
            };
            cx.err(
                class,
                "declared-file-missing",
                &join(dir, d),
                "declared in the meta file but missing",
            );
        }
    }
    for f in &files {
        if f.name.ends_with(".data")
            && !declared.contains(&f.name.as_str())
            && f.status != FileStatus::Missing
        {
            cx.warn(
                "undeclared-data-file",
                &join(dir, &f.name),
                "data file not declared in the meta file",
            );
        }
    }

    // Children.
    let child_kind = match kind {
        ContainerKind::Session => Some(ContainerKind::Connection),
        ContainerKind::Connection => Some(ContainerKind::Channel),
        ContainerKind::Channel => None,
    };
    let mut child_set = BTreeSet::new();
    let mut child_summaries: Vec<(u64, u64)> = Vec::new();
    for c in &children {
        if !child_set.insert(c.clone()) {
            cx.err(
                Class::Structure,
                "duplicate-child",
                &meta_path,
                format!("{c} listed twice"),
            );
            continue;
        }
        let Some(ck) = child_kind else { continue };
        let Some(cid) = container_id(c, ck) else {
            cx.err(
                Class::Malformed,
                "bad-child-name",
                &meta_path,
                format!(
                    "invalid {} name {c:?} (path traversal or bad id)",
                    ck.name()
                ),
            );
            continue;
        };
        let cpath = join(dir, c);
        match names.get(c.as_str()) {
            Some(e) if e.kind == EntryKind::Dir => match cx.store.list(&cpath) {
                Ok(ents) => {
                    check_container(cx, &cpath, ck, Some(cid), id.as_deref(), !unsigned, &ents);
                    if ck == ContainerKind::Channel
                        && let Some(s) = read_channel_summary(cx, &cpath)
                    {
                        child_summaries.push((s.bytes_up, s.bytes_down));
                    }
                }
                Err(e) => cx.core_err("unreadable", &cpath, &e, false),
            },
            Some(_) => cx.err(
                Class::Structure,
                "child-not-a-folder",
                &cpath,
                "listed child is not a folder",
            ),
            None => {
                let class = if unsigned {
                    Class::Incomplete
                } else {
                    Class::Structure
                };
                cx.err(
                    class,
                    "listed-container-missing",
                    &cpath,
                    format!("{} listed in the meta but missing", ck.name()),
                );
            }
        }
    }
    for d in &child_dirs {
        if !child_set.contains(d) {
            cx.err(
                Class::Structure,
                "unlisted-container",
                &join(dir, d),
                "folder not listed in the meta file",
            );
        }
    }

    // Summary.
    let sum_file = join(dir, kind.summary_file());
    if let Some(b) = summary_bytes {
        let rid = id.clone().unwrap_or_default();
        match kind {
            ContainerKind::Session => match SessionSummary::parse(&b, &sum_file) {
                Ok(s) => {
                    if s.id != rid {
                        cx.err(
                            Class::Structure,
                            "summary-id",
                            &sum_file,
                            format!("summary id {:?} differs from {rid:?}", s.id),
                        );
                    }
                    if s.connection_count != children.len() as u64 {
                        cx.err(
                            Class::Structure,
                            "summary-count",
                            &sum_file,
                            format!(
                                "ConnectionCount {} but {} connections listed",
                                s.connection_count,
                                children.len()
                            ),
                        );
                    }
                    summary_times(cx, &sum_file, s.start_time, s.end_time);
                }
                Err(e) => cx.core_err("summary-malformed", &sum_file, &e, unsigned),
            },
            ContainerKind::Connection => match ConnectionSummary::parse(&b, &sum_file) {
                Ok(s) => {
                    if s.id != rid {
                        cx.err(
                            Class::Structure,
                            "summary-id",
                            &sum_file,
                            format!("summary id {:?} differs from {rid:?}", s.id),
                        );
                    }
                    if s.channel_count != children.len() as u64 {
                        cx.err(
                            Class::Structure,
                            "summary-count",
                            &sum_file,
                            format!(
                                "ChannelCount {} but {} channels listed",
                                s.channel_count,
                                children.len()
                            ),
                        );
                    }
                    let up: u64 = child_summaries.iter().map(|x| x.0).sum();
                    let down: u64 = child_summaries.iter().map(|x| x.1).sum();
                    if child_summaries.len() == children.len()
                        && (s.bytes_up != up || s.bytes_down != down)
                    {
                        cx.warn("summary-bytes", &sum_file, format!("BytesUp/BytesDown {}/{} differ from the channels' totals {up}/{down}", s.bytes_up, s.bytes_down));
                    }
                    summary_times(cx, &sum_file, s.start_time, s.end_time);
                }
                Err(e) => cx.core_err("summary-malformed", &sum_file, &e, unsigned),
            },
            ContainerKind::Channel => {
                match ChannelSummary::parse(&b, &sum_file) {
                    Ok(s) => {
                        if s.id != rid {
                            cx.err(
                                Class::Structure,
                                "summary-id",
                                &sum_file,
                                format!("summary id {:?} differs from {rid:?}", s.id),
                            );
                        }
                        if let Some(pid) = parent_id
                            && s.connection_recording_id != pid
                        {
                            cx.err(Class::Structure, "channel-moved", &sum_file, format!("channel summary names connection {:?}, but it is inside {pid:?}", s.connection_recording_id));
                        }
                        if let Some(ct) = &channel_type
                            && &s.channel_type != ct
                        {
                            cx.err(
                                Class::Structure,
                                "channel-type",
                                &sum_file,
                                format!(
                                    "summary channel type {:?} differs from the meta's {ct:?}",
                                    s.channel_type
                                ),
                            );
                        }
                        let up = data_totals.get("inbound").copied();
                        let down = data_totals.get("outbound").copied();
                        if let Some(up) = up
                            && s.bytes_up != up
                        {
                            cx.err(
                                Class::Structure,
                                "summary-bytes",
                                &sum_file,
                                format!(
                                    "BytesUp {} but messages-inbound.data holds {up} DATA bytes",
                                    s.bytes_up
                                ),
                            );
                        }
                        if let Some(down) = down
                            && s.bytes_down != down
                        {
                            cx.err(Class::Structure, "summary-bytes", &sum_file, format!("BytesDown {} but messages-outbound.data holds {down} DATA bytes", s.bytes_down));
                        }
                        summary_times(cx, &sum_file, s.start_time, s.end_time);
                    }
                    Err(e) => cx.core_err("summary-malformed", &sum_file, &e, unsigned),
                }
            }
        }
    } else if !unsigned {
        cx.err(
            Class::Structure,
            "summary-missing",
            &sum_file,
            "summary file missing",
        );
    }

    cx.containers.push(ContainerReport {
        path: dir.to_string(),
        kind: kind.name(),
        id: id.clone(),
        signed,
        files,
    });
    id
}

fn summary_times(cx: &mut Ctx, path: &str, start: format::Timestamp, end: format::Timestamp) {
    if end < start {
        cx.warn(
            "summary-times",
            path,
            format!(
                "EndTime {} is before StartTime {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            ),
        );
    }
}

fn read_channel_summary(cx: &mut Ctx, dir: &str) -> Option<ChannelSummary> {
    let p = join(dir, ContainerKind::Channel.summary_file());
    let b = cx.store.read_limited(&p, MAX_SMALL_FILE).ok()?;
    ChannelSummary::parse(&b, &p).ok()
}

/// `inbound`/`outbound` for `messages-*.data` (the files whose DATA the summary counts).
fn data_dir(name: &str) -> Option<&'static str> {
    match name {
        "messages-inbound.data" => Some("inbound"),
        "messages-outbound.data" => Some("outbound"),
        _ => None,
    }
}

/// Scans a `.data` file: hash, CRCs, structure, payload decoding, DATA totals.
fn scan_data(cx: &mut Ctx, path: &str, name: &str, unsigned: bool) -> DataScan {
    let mut out = DataScan::default();
    // An unsigned (unfinished) container may still have a live writer: never map its files,
    // whose truncation under a mapping would raise SIGBUS. Signed ones are immutable.
    let map = (cx.opts.map_files && !unsigned).then_some(cx.opts.map_min_len);
    let mut s = match ChunkStream::open_mapped_from(cx.store, path, map) {
        Ok(s) => s.with_sha256(),
        Err(e) => {
            cx.core_err("unreadable", path, &e, false);
            return out;
        }
    };
    let is_messages = name.starts_with("messages-");
    let is_requests = name.starts_with("requests-");
    let want_dir = format::data_file_direction(name);
    let mut seen_head = false;
    let mut seen_done = false;
    let mut after_done_reported = false;
    let mut last_time = None;
    let mut nonmono = 0u64;
    let mut first_nonmono: Option<(u64, u64)> = None;
    let mut dir_mismatch = 0u64;
    let mut problems: Vec<Problem> = Vec::new();
    let mut head_id: Option<Vec<u8>> = None;
    let mut chunks = 0u64;
    let mut data_bytes = 0u64;
    let mut fatal: Option<CoreError> = None;
    let mut p =
        |code: &'static str, class: Class, sev: Severity, off: u64, idx: u64, msg: String| {
            problems.push(Problem {
                severity: sev,
                class,
                code,
                path: path.to_string(),
                offset: Some(off),
                chunk: Some(idx),
                message: msg,
            });
        };
    loop {
        let chunk = match s.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        chunks += 1;
        let (off, idx) = (chunk.offset, chunk.index);
        if seen_done && !after_done_reported {
            after_done_reported = true;
            p(
                "after-done",
                Class::Malformed,
                Severity::Error,
                off,
                idx,
                "chunk after DONE".into(),
            );
        }
        if idx == 0 && !chunk.is_head() {
            p(
                "head-not-first",
                Class::Malformed,
                Severity::Error,
                off,
                idx,
                "first chunk is not HEAD".into(),
            );
        }
        if &chunk.protocol != b"BSSH" {
            p(
                "protocol",
                Class::Malformed,
                Severity::Error,
                off,
                idx,
                format!(
                    "protocol {:?} is not BSSH",
                    String::from_utf8_lossy(&chunk.protocol)
                ),
            );
        }
        if let Some(d) = want_dir
            && chunk.direction != d
        {
            dir_mismatch += 1;
        }
        if let Some(prev) = last_time
            && chunk.time < prev
        {
            nonmono += 1;
            first_nonmono.get_or_insert((off, idx));
        }
        last_time = Some(chunk.time);
        if chunk.is_head() {
            if seen_head {
                p(
                    "second-head",
                    Class::Malformed,
                    Severity::Error,
                    off,
                    idx,
                    "second HEAD chunk".into(),
                );
            }
            seen_head = true;
            match chunk.header() {
                Ok(h) => {
                    if h.compression_byte > 1 {
                        p(
                            "compression",
                            Class::Malformed,
                            Severity::Error,
                            off,
                            idx,
                            format!("unknown compression byte {}", h.compression_byte),
                        );
                    }
                    if h.encryption != 0 {
                        p(
                            "encryption",
                            Class::Malformed,
                            Severity::Error,
                            off,
                            idx,
                            format!("unknown encryption byte {}", h.encryption),
                        );
                    }
                    head_id = Some(h.session_id.clone());
                }
                Err(e) => p(
                    "head",
                    Class::Malformed,
                    Severity::Error,
                    off,
                    idx,
                    e.to_string(),
                ),
            }
            continue;
        }
        if chunk.is_done() {
            seen_done = true;
            continue;
        }
        match bsr_core::ssh::decode_chunk_payload(&chunk, true) {
            Ok(bsr_core::ssh::Decoded::Data(d)) => {
                data_bytes += d.len() as u64;
                if is_requests {
                    p(
                        "data-in-requests",
                        Class::Structure,
                        Severity::Warning,
                        off,
                        idx,
                        "DATA chunk in a requests file".into(),
                    );
                }
            }
            Ok(_) => {
                if is_messages {
                    p(
                        "request-in-messages",
                        Class::Structure,
                        Severity::Warning,
                        off,
                        idx,
                        "request chunk in a messages file".into(),
                    );
                }
            }
            Err(e) => {
                let class = class_of(&e);
                p(
                    "undecodable-chunk",
                    class,
                    Severity::Error,
                    off,
                    idx,
                    e.to_string(),
                );
            }
        }
    }
    out.complete = fatal.is_none();
    if let Some(e) = fatal {
        cx.core_err("chunk", path, &e, unsigned);
    } else if !seen_done {
        let class = if unsigned {
            Class::Incomplete
        } else {
            Class::Malformed
        };
        let off = s.offset();
        problems.push(Problem {
            severity: Severity::Error,
            class,
            code: "no-done",
            path: path.to_string(),
            offset: Some(off),
            chunk: Some(chunks),
            message: "file ends without a DONE chunk".into(),
        });
    }
    if nonmono > 0 {
        let (off, idx) = first_nonmono.unwrap_or((0, 0));
        problems.push(Problem {
            severity: Severity::Warning,
            class: Class::Structure,
            code: "non-monotonic-time",
            path: path.to_string(),
            offset: Some(off),
            chunk: Some(idx),
            message: format!("{nonmono} chunk(s) with a timestamp earlier than the previous chunk"),
        });
    }
    if dir_mismatch > 0 {
        problems.push(Problem {
            severity: Severity::Warning,
            class: Class::Structure,
            code: "direction",
            path: path.to_string(),
            offset: None,
            chunk: None,
            message: format!("{dir_mismatch} chunk(s) whose direction differs from the file name"),
        });
    }
    cx.problems.extend(problems);
    if let Some(h) = head_id {
        cx.head_ids.entry(h).or_insert_with(|| path.to_string());
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
    cx.stats.chunks += chunks;
    out.chunks = chunks;
    out.data_bytes = data_bytes;
    out
}

/// Runs `work` on every item with `jobs` worker threads and hands each result to `sink` on the
/// calling thread, in completion order. At most `2 × jobs` results wait to be consumed.
pub fn map_many<T: Send>(
    dirs: &[String],
    jobs: usize,
    work: impl Fn(&str) -> T + Sync,
    mut sink: impl FnMut(T),
) {
    let jobs = jobs.max(1).min(dirs.len().max(1));
    if jobs == 1 {
        for d in dirs {
            sink(work(d));
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(jobs * 2);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(d) = dirs.get(i) else { break };
                    if tx.send(work(d)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            sink(r);
        }
    });
}

/// Verifies every recording in `dirs` with `jobs` worker threads, calling `on_report` (on the
/// calling thread) as each finishes. Memory is bounded: each worker holds one recording's
/// state, and at most `2 × jobs` finished reports wait to be consumed.
pub fn verify_many(
    store: &dyn ReadStore,
    dirs: &[String],
    opts: &VerifyOptions,
    jobs: usize,
    on_report: impl FnMut(Report),
) {
    map_many(dirs, jobs, |d| verify(store, d, opts), on_report);
}
