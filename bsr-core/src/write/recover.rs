//! Recovery of recordings left unfinished by a crash.
//!
//! [`recover`] turns an unfinished recording in a local folder into a closed, signed one (see
//! `docs/FORMAT.md` §8): in every unfinished container, bottom-up, it keeps every complete
//! chunk, cuts a torn tail, appends DONE, completes the meta, writes a summary computed from
//! the data, rebuilds `SHA256SUM` and signs it with the recording's private key (unwrapped
//! through the KMS). Containers that were already finished are left untouched. The session
//! gets a listed, signed `RECOVERED.json` marker.
//!
//! Recovery reads and writes only through the store traits ([`ReadStore`], [`WriteStore`]):
//! [`recover`] on a local folder, [`recover_in`] on any store that can rewrite files in place
//! ([`WriteStore::replace`], [`WriteStore::truncate_append`]). It refuses a recording that
//! holds anything but regular files and folders (a symbolic link, a FIFO, a socket, a device)
//! before it reads or writes anything of it.

use crate::error::{Error, Result};
use crate::format::checksum;
use crate::format::meta::{ChannelSummary, ConnectionSummary, MetaFile, SessionSummary};
use crate::format::{self, Compression, ContainerKind, Direction, Timestamp, complete_lines};
use crate::keys::{KeyWrapper, RecordingKeys, SessionKeyFiles};
use crate::read::chunk::ChunkReader;
use crate::read::{MAX_CHECKSUM_FILE, MAX_SMALL_FILE};
use crate::ssh::{Request, SessionProgram};
use crate::store::{EntryKind, FsStore, ReadStore, WriteStore, join};
use crate::write::chunk::ChunkEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// What recovery did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryReport {
    /// Always true in the marker.
    pub recovered: bool,
    /// When recovery ran (RFC 3339).
    pub recovered_at: String,
    /// `bsr-core <version>`.
    pub tool: String,
    /// Containers that were unfinished and are now closed (paths relative to the recording).
    pub containers: Vec<String>,
    /// Data files that were closed by recovery.
    pub truncated_files: Vec<TruncatedFile>,
    /// Complete chunks kept in the recovered data files (HEAD included, DONE excluded).
    pub kept_chunks: u64,
}

/// One data file closed by recovery.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TruncatedFile {
    /// Path relative to the recording folder.
    pub path: String,
    /// Bytes of torn tail removed.
    pub cut_bytes: u64,
    /// Complete chunks kept.
    pub kept_chunks: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Span {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
}

impl Span {
    fn add(&mut self, t: Timestamp) {
        self.start = Some(self.start.map_or(t, |s| s.min(t)));
        self.end = Some(self.end.map_or(t, |e| e.max(t)));
    }
    fn merge(&mut self, o: Span) {
        if let Some(s) = o.start {
            self.add(s);
        }
        if let Some(e) = o.end {
            self.add(e);
        }
    }
}

/// Totals of a container, for its parent's summary.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    span: Span,
    up: u64,
    down: u64,
}

struct Ctx<'a> {
    r: &'a dyn ReadStore,
    w: &'a dyn WriteStore,
    root: String,
    keys: &'a RecordingKeys,
    report: RecoveryReport,
}

/// The entries of a container folder, each list sorted by name.
#[derive(Debug, Default)]
struct Entries {
    files: Vec<String>,
    dirs: Vec<String>,
    /// Whether it holds a non-empty `SHA256SUM.sig`: the container is finished.
    finished: bool,
}

/// Lists a container folder: regular files and container folders (`*.connection`,
/// `*.channel`); anything else (symbolic link, FIFO, socket, device, or a folder where a file
/// belongs) refuses the recording.
fn entries(r: &dyn ReadStore, dir: &str) -> Result<Entries> {
    let mut out = Entries::default();
    for e in r.list(dir)? {
        match e.kind {
            EntryKind::File => {
                out.finished |= e.name == format::SIG_FILE && e.size > 0;
                out.files.push(e.name);
            }
            EntryKind::Dir
                if e.name.ends_with(format::CONNECTION_DIR_SUFFIX)
                    || e.name.ends_with(format::CHANNEL_DIR_SUFFIX) =>
            {
                out.dirs.push(e.name)
            }
            EntryKind::Dir => return Err(not_regular(r, dir, &e.name, "folder")),
            EntryKind::Symlink => return Err(not_regular(r, dir, &e.name, "symbolic link")),
            _ => {
                return Err(not_regular(
                    r,
                    dir,
                    &e.name,
                    "special file (FIFO, socket or device)",
                ));
            }
        }
    }
    out.files.sort();
    out.dirs.sort();
    Ok(out)
}

fn not_regular(r: &dyn ReadStore, dir: &str, name: &str, kind: &'static str) -> Error {
    Error::NotRegularFile {
        path: r.describe(&join(dir, name)),
        kind,
    }
}

/// Recovers the unfinished recording at `dir` (a `*.bsr` folder), unwrapping its private key
/// with `wrapper`. Returns what was done; a recording that is already finished is an error.
pub fn recover(dir: &Path, wrapper: &dyn KeyWrapper, now: Timestamp) -> Result<RecoveryReport> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let store = FsStore::new(parent);
    recover_in(&store, &store, &name, wrapper, now)
}

/// [`recover`] for the recording folder `dir` of a store, read through `r` and rewritten
/// through `w` (the same store, seen through its two traits).
pub fn recover_in(
    r: &dyn ReadStore,
    w: &dyn WriteStore,
    dir: &str,
    wrapper: &dyn KeyWrapper,
    now: Timestamp,
) -> Result<RecoveryReport> {
    let name = dir.rsplit('/').next().unwrap_or(dir);
    let id = crate::read::container_id(name, ContainerKind::Session)
        .ok_or_else(|| Error::Usage(format!("{}: not a <id>.bsr folder", r.describe(dir))))?
        .to_string();
    if entries(r, dir)?.finished {
        return Err(Error::Usage(format!(
            "{}: the recording is finished; nothing to recover",
            r.describe(dir)
        )));
    }
    let read = |n: &str| r.read_limited(&join(dir, n), MAX_SMALL_FILE);
    let files = SessionKeyFiles::parse(
        &read(format::PUB_KEY_FILE)?,
        &read(format::WRAPPED_BSR_KEY_FILE)?,
        &read(format::WRAPPED_PRIV_KEY_FILE)?,
        &read(format::PUB_KEY_SELF_SIG_FILE)?,
        &read(format::PUB_KEY_BSR_SIG_FILE)?,
    )?;
    files.verify_self_signature()?;
    files.verify_kms_binding(wrapper)?;
    let keys = RecordingKeys::unwrap_from(&files, wrapper)?;
    let mut cx = Ctx {
        r,
        w,
        root: dir.to_string(),
        keys: &keys,
        report: RecoveryReport {
            recovered: true,
            recovered_at: now.to_rfc3339(),
            tool: format!("bsr-core {}", env!("CARGO_PKG_VERSION")),
            ..RecoveryReport::default()
        },
    };
    recover_container(&mut cx, dir, ContainerKind::Session, &id, None)?;
    Ok(cx.report)
}

fn rel(cx: &Ctx, p: &str) -> String {
    match p.strip_prefix(&cx.root) {
        Some("") => ".".into(),
        Some(r) => r.trim_start_matches('/').to_string(),
        None => p.to_string(),
    }
}
/// What the complete chunks of a data file hold.
#[derive(Debug, Default)]
struct Kept {
    span: Span,
    data_bytes: u64,
    /// End of the last complete chunk (DONE included when there is one).
    good_end: usize,
    /// Complete chunks before DONE.
    chunks: u64,
    compression: Compression,
    has_done: bool,
}

/// Walks the complete chunks of `bytes`, stopping at DONE or at the first damaged chunk.
fn scan_kept(bytes: &[u8], programs: &mut Vec<Request>) -> Kept {
    let mut k = Kept::default();
    if bytes.len() < format::MAGIC.len() || bytes[..format::MAGIC.len()] != format::MAGIC {
        return k;
    }
    k.good_end = format::MAGIC.len();
    let Ok(mut r) = ChunkReader::new(bytes) else {
        return k;
    };
    while let Ok(Some(c)) = r.next_chunk() {
        k.span.add(c.time);
        k.good_end = (c.offset as usize) + c.len();
        if c.is_done() {
            k.has_done = true;
            break;
        }
        if c.is_head() {
            if let Ok(h) = c.header() {
                k.compression = h.compression;
            }
        } else if let Ok(d) = c.data() {
            if c.is_data() {
                k.data_bytes += d.len() as u64;
            } else if let Ok(req) = Request::decode(c.chunk_type, &d)
                && SessionProgram::of(&req).is_some()
            {
                programs.push(req);
            }
        }
        k.chunks += 1;
    }
    k
}

/// Closes a data file: keeps complete chunks, cuts the torn tail, appends DONE.
/// Returns the span of its chunks and its DATA bytes.
fn recover_data_file(
    cx: &mut Ctx,
    path: &str,
    dir: Direction,
    programs: &mut Vec<Request>,
) -> Result<(Span, u64)> {
    let bytes = cx.r.read_bytes(path)?;
    let k = scan_kept(&bytes, programs);
    if k.has_done {
        if k.good_end < bytes.len() {
            cx.w.truncate_append(path, k.good_end as u64, &[])?;
        }
        return Ok((k.span, k.data_bytes));
    }
    let t = k.span.end.unwrap_or_default();
    if k.chunks == 0 {
        // Not even a HEAD survived: nothing of this file can be kept. Write a fresh HEAD so the
        // file is a valid empty stream (the session id comes from the keys).
        let mut out = format::MAGIC.to_vec();
        let mut enc = ChunkEncoder::new(Compression::None);
        let sid = cx.keys.key_id().to_string();
        enc.head(&mut out, format::PROTOCOL_SSH, dir, t, sid.as_bytes())?;
        enc.done(&mut out, format::PROTOCOL_SSH, dir, t)?;
        cx.w.replace(path, &out)?;
        cx.report.truncated_files.push(TruncatedFile {
            path: rel(cx, path),
            cut_bytes: bytes.len() as u64,
            kept_chunks: 0,
        });
        return Ok((k.span, 0));
    }
    let mut tail = Vec::new();
    ChunkEncoder::new(k.compression).done(&mut tail, format::PROTOCOL_SSH, dir, t)?;
    cx.w.truncate_append(path, k.good_end as u64, &tail)?;
    cx.report.truncated_files.push(TruncatedFile {
        path: rel(cx, path),
        cut_bytes: (bytes.len() - k.good_end) as u64,
        kept_chunks: k.chunks,
    });
    cx.report.kept_chunks += k.chunks;
    Ok((k.span, k.data_bytes))
}

/// Reads the totals of an already finished container from its summary.
fn finished_totals(r: &dyn ReadStore, dir: &str, kind: ContainerKind) -> Totals {
    let p = join(dir, kind.summary_file());
    let Ok(b) = r.read_limited(&p, MAX_SMALL_FILE) else {
        return Totals::default();
    };
    let mut t = Totals::default();
    let (start, end, up, down) = match kind {
        ContainerKind::Channel => match ChannelSummary::parse(&b, &p) {
            Ok(s) => (s.start_time, s.end_time, s.bytes_up, s.bytes_down),
            Err(_) => return t,
        },
        ContainerKind::Connection => match ConnectionSummary::parse(&b, &p) {
            Ok(s) => (s.start_time, s.end_time, s.bytes_up, s.bytes_down),
            Err(_) => return t,
        },
        ContainerKind::Session => return t,
    };
    t.span.add(start);
    t.span.add(end);
    t.up = up;
    t.down = down;
    t
}

/// The complete lines of an unfinished text file of the container (empty when absent).
fn old_lines(cx: &Ctx, path: &str, limit: u64) -> Vec<u8> {
    match cx.r.read_limited(path, limit) {
        Ok(b) => complete_lines(&b).to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The child containers to close, bottom-up: in meta order, then any folder the meta does not
/// name.
fn children_of(old_meta: &MetaFile, dirs: &[String], child: Option<ContainerKind>) -> Vec<String> {
    let mut children: Vec<String> = Vec::new();
    let Some(ck) = child else {
        return children;
    };
    for c in old_meta.get_all(ck.name()) {
        if dirs.iter().any(|d| d == c) && !children.iter().any(|x| x == c) {
            children.push(c.to_string());
        }
    }
    for d in dirs {
        if d.ends_with(ck.dir_suffix()) && !children.contains(d) {
            children.push(d.clone());
        }
    }
    children
}

fn child_kind(kind: ContainerKind) -> Option<ContainerKind> {
    match kind {
        ContainerKind::Session => Some(ContainerKind::Connection),
        ContainerKind::Connection => Some(ContainerKind::Channel),
        ContainerKind::Channel => None,
    }
}

/// The meta file: the complete lines that were there, plus anything missing.
fn rebuilt_meta(
    kind: ContainerKind,
    id: &str,
    old_meta: &MetaFile,
    children: &[String],
    declared: &[(String, String)],
) -> MetaFile {
    let child_key = child_kind(kind).map(|k| k.name()).unwrap_or("");
    let mut meta = MetaFile::default();
    meta.push("id", id);
    for (k, v) in &old_meta.entries {
        if k == "id" || (k == child_key && !children.contains(v)) {
            continue;
        }
        meta.push(k, v);
    }
    if kind == ContainerKind::Session && meta.get("protocol").is_none() {
        meta.push("protocol", "BSSH");
    }
    if kind == ContainerKind::Channel && meta.get("channelType").is_none() {
        meta.push("channelType", "session");
    }
    for (k, v) in declared {
        if !meta.get_all(k).any(|x| x == v) {
            meta.push(k, v);
        }
    }
    for c in children {
        if !meta.get_all(child_key).any(|x| x == c) {
            meta.push(child_key, c);
        }
    }
    meta
}

/// The summary computed from the data.
fn rebuilt_summary(
    kind: ContainerKind,
    id: &str,
    parent_id: Option<&str>,
    meta: &MetaFile,
    totals: &Totals,
    child_count: u64,
    programs: &[Request],
) -> Result<Vec<u8>> {
    let start = totals.span.start.unwrap_or_default();
    let end = totals.span.end.unwrap_or(start);
    let errors = "recovered after an unclean shutdown".to_string();
    match kind {
        ContainerKind::Session => SessionSummary {
            id: id.to_string(),
            connection_count: child_count,
            start_time: start,
            end_time: end,
            errors,
        }
        .to_bytes(),
        ContainerKind::Connection => ConnectionSummary {
            id: id.to_string(),
            channel_count: child_count,
            start_time: start,
            end_time: end,
            bytes_up: totals.up,
            bytes_down: totals.down,
            errors,
        }
        .to_bytes(),
        ContainerKind::Channel => {
            let mut s = ChannelSummary {
                id: id.to_string(),
                connection_recording_id: parent_id.unwrap_or_default().to_string(),
                start_time: start,
                end_time: end,
                bytes_up: totals.up,
                bytes_down: totals.down,
                channel_type: meta.get("channelType").unwrap_or("session").to_string(),
                session_program: String::new(),
                subsystem_name: String::new(),
                exec_program: String::new(),
                file_transfer_direction: String::new(),
                open_failure: None,
            };
            super::channel::set_program(&mut s, SessionProgram::first(programs).as_ref());
            s.to_bytes()
        }
    }
}

/// `SHA256SUM`: every regular file, in the order of the complete old lines, then the rest.
fn rebuilt_sums(
    cx: &Ctx,
    dir: &str,
    kind: ContainerKind,
    mut files: Vec<String>,
) -> Result<Vec<u8>> {
    let sum_path = join(dir, format::CHECKSUM_FILE);
    let mut order: Vec<String> = Vec::new();
    let old = old_lines(cx, &sum_path, MAX_CHECKSUM_FILE);
    if let Ok(entries) = checksum::parse(&old, &sum_path) {
        order.extend(entries.into_iter().map(|e| e.name));
    }
    for name in [kind.meta_file(), kind.summary_file()] {
        if !files.iter().any(|f| f == name) {
            files.push(name.to_string());
        }
    }
    let mut rest: Vec<String> = files
        .iter()
        .filter(|f| *f != format::CHECKSUM_FILE && *f != format::SIG_FILE && !order.contains(f))
        .cloned()
        .collect();
    rest.sort();
    order.retain(|f| files.contains(f));
    order.extend(rest);
    let mut sums = Vec::new();
    for name in &order {
        let data = cx.r.read_bytes(&join(dir, name))?;
        sums.extend_from_slice(checksum::line(&Sha256::digest(&data).into(), name)?.as_bytes());
    }
    Ok(sums)
}

fn recover_container(
    cx: &mut Ctx,
    dir: &str,
    kind: ContainerKind,
    id: &str,
    parent_id: Option<&str>,
) -> Result<Totals> {
    let Entries {
        mut files,
        dirs,
        finished,
    } = entries(cx.r, dir)?;
    if finished {
        return Ok(finished_totals(cx.r, dir, kind));
    }
    let meta_path = join(dir, kind.meta_file());
    let old_meta =
        MetaFile::parse(&old_lines(cx, &meta_path, MAX_SMALL_FILE), &meta_path).unwrap_or_default();

    // Children first (bottom-up).
    let ck = child_kind(kind);
    let children = children_of(&old_meta, &dirs, ck);
    let mut totals = Totals::default();
    let mut child_count = 0u64;
    for c in &children {
        let Some(cid) = ck.and_then(|k| crate::read::container_id(c, k)) else {
            continue;
        };
        let Some(k) = ck else { break };
        let t = recover_container(cx, &join(dir, c), k, cid, Some(id))?;
        totals.span.merge(t.span);
        totals.up += t.up;
        totals.down += t.down;
        child_count += 1;
    }

    // Data files.
    let mut programs = Vec::new();
    let mut declared: Vec<(String, String)> = Vec::new();
    let (mut up, mut down) = (0u64, 0u64);
    for f in files.iter().filter(|f| f.ends_with(".data")) {
        let Some(d) = format::data_file_direction(f) else {
            continue;
        };
        let (span, data) = recover_data_file(cx, &join(dir, f), d, &mut programs)?;
        totals.span.merge(span);
        if f.starts_with("messages-") {
            match d {
                Direction::Inbound => up += data,
                Direction::Outbound => down += data,
            }
            declared.push(("messages".into(), d.as_str().into()));
        } else if f.starts_with("requests-") {
            declared.push(("requests".into(), d.as_str().into()));
        }
    }
    if kind == ContainerKind::Channel {
        totals.up = up;
        totals.down = down;
    }

    let meta = rebuilt_meta(kind, id, &old_meta, &children, &declared);
    cx.w.replace(&meta_path, &meta.to_bytes())?;
    let summary = rebuilt_summary(kind, id, parent_id, &meta, &totals, child_count, &programs)?;
    cx.w.replace(&join(dir, kind.summary_file()), &summary)?;

    if kind == ContainerKind::Session {
        cx.report.containers.push(".".into());
        let mut m = serde_json::to_vec(&cx.report).map_err(|e| Error::Usage(e.to_string()))?;
        m.push(b'\n');
        cx.w.replace(&join(dir, format::RECOVERY_MARKER_FILE), &m)?;
        if !files.iter().any(|f| f == format::RECOVERY_MARKER_FILE) {
            files.push(format::RECOVERY_MARKER_FILE.to_string());
        }
    } else {
        let r = rel(cx, dir);
        cx.report.containers.push(r);
    }

    let sums = rebuilt_sums(cx, dir, kind, files)?;
    cx.w.replace(&join(dir, format::CHECKSUM_FILE), &sums)?;
    super::seal::seal(cx.w, dir, cx.keys, &sums)?;
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AeadWrapper;

    /// Issue 14 finding 1: `recover` "recovered" a recording holding a FIFO. It refuses it,
    /// naming the file, before it reads or writes anything.
    #[test]
    fn recover_refuses_a_fifo_in_the_recording() {
        let d = tempfile::tempdir().unwrap();
        let rec = d.path().join("sr_1234567890.bsr");
        std::fs::create_dir(&rec).unwrap();
        let st = std::process::Command::new("mkfifo")
            .arg(rec.join("session-recording.meta"))
            .status()
            .unwrap();
        assert!(st.success());
        let kek = AeadWrapper::new([1; 32], "kek");
        let r = recover(&rec, &kek, Timestamp::new(1_700_000_000, 0));
        assert!(
            matches!(&r, Err(Error::NotRegularFile { path, .. }) if path.ends_with("session-recording.meta")),
            "{r:?}"
        );
    }
}
