//! Recovery of recordings left unfinished by a crash.
//!
//! [`recover`] turns an unfinished recording in a local folder into a closed, signed one (see
//! `docs/FORMAT.md` §8): in every unfinished container, bottom-up, it keeps every complete
//! chunk, cuts a torn tail, appends DONE, completes the meta, writes a summary computed from
//! the data, rebuilds `SHA256SUM` and signs it with the recording's private key (unwrapped
//! through the KMS). Containers that were already finished are left untouched. The session
//! gets a listed, signed `RECOVERED.json` marker.
//!
//! Recovery works on local folders only (it truncates and rewrites files in place) and refuses
//! to run on a folder that holds symbolic links.

use crate::checksum;
use crate::chunk::{ChunkEncoder, ChunkReader, Compression};
use crate::error::{Error, Result};
use crate::format::{self, ContainerKind, Direction, Timestamp};
use crate::kms::{KeyWrapper, RecordingKeys, SessionKeyFiles};
use crate::meta::{ChannelSummary, ConnectionSummary, MetaFile, SessionSummary};
use crate::ssh::Request;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    root: PathBuf,
    keys: &'a RecordingKeys,
    report: RecoveryReport,
}

fn io(p: &Path, e: std::io::Error) -> Error {
    Error::io(p.display().to_string(), e)
}

fn no_symlink(p: &Path) -> Result<std::fs::Metadata> {
    let m = std::fs::symlink_metadata(p).map_err(|e| io(p, e))?;
    if m.file_type().is_symlink() {
        return Err(Error::Usage(format!(
            "{}: symbolic link in a recording; recovery refuses to follow it",
            p.display()
        )));
    }
    Ok(m)
}

fn write_synced(p: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
        .map_err(|e| io(p, e))?;
    f.write_all(data).map_err(|e| io(p, e))?;
    f.sync_all().map_err(|e| io(p, e))
}

fn is_finished(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(format::SIG_FILE))
        .map(|m| m.is_file() && m.len() > 0)
        .unwrap_or(false)
}

/// Recovers the unfinished recording at `dir` (a `*.bsr` folder), unwrapping its private key
/// with `wrapper`. Returns what was done; a recording that is already finished is an error.
pub fn recover(dir: &Path, wrapper: &dyn KeyWrapper, now: Timestamp) -> Result<RecoveryReport> {
    no_symlink(dir)?;
    if is_finished(dir) {
        return Err(Error::Usage(format!(
            "{}: the recording is finished; nothing to recover",
            dir.display()
        )));
    }
    let read = |n: &str| -> Result<Vec<u8>> {
        let p = dir.join(n);
        no_symlink(&p)?;
        std::fs::read(&p).map_err(|e| io(&p, e))
    };
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
        root: dir.to_path_buf(),
        keys: &keys,
        report: RecoveryReport {
            recovered: true,
            recovered_at: now.to_rfc3339(),
            tool: format!("bsr-core {}", env!("CARGO_PKG_VERSION")),
            ..RecoveryReport::default()
        },
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = crate::read::container_id(&name, ContainerKind::Session)
        .ok_or_else(|| Error::Usage(format!("{}: not a <id>.bsr folder", dir.display())))?
        .to_string();
    recover_container(&mut cx, dir, ContainerKind::Session, &id, None)?;
    Ok(cx.report)
}

fn rel(cx: &Ctx, p: &Path) -> String {
    p.strip_prefix(&cx.root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// Closes a data file: keeps complete chunks, cuts the torn tail, appends DONE.
/// Returns (digest, span, DATA bytes, session program info).
fn recover_data_file(
    cx: &mut Ctx,
    p: &Path,
    dir: Direction,
    programs: &mut Vec<Request>,
) -> Result<(Span, u64)> {
    let bytes = std::fs::read(p).map_err(|e| io(p, e))?;
    let mut span = Span::default();
    let mut data_bytes = 0u64;
    let mut good_end = 0usize;
    let mut kept = 0u64;
    let mut compression = Compression::None;
    let mut has_done = false;
    if bytes.len() >= format::MAGIC.len() && bytes[..format::MAGIC.len()] == format::MAGIC {
        good_end = format::MAGIC.len();
        if let Ok(mut r) = ChunkReader::new(&bytes) {
            while let Ok(Some(c)) = r.next_chunk() {
                if c.is_done() {
                    has_done = true;
                    good_end = (c.offset as usize) + c.len();
                    span.add(c.time);
                    break;
                }
                if c.is_head() {
                    if let Ok(h) = c.header() {
                        compression = h.compression;
                    }
                } else if let Ok(d) = c.data() {
                    if c.is_data() {
                        data_bytes += d.len() as u64;
                    } else if let Ok(req) = Request::decode(c.chunk_type, &d)
                        && matches!(
                            req,
                            Request::Shell(_) | Request::Exec(_) | Request::Subsystem(_)
                        )
                    {
                        programs.push(req);
                    }
                }
                span.add(c.time);
                good_end = (c.offset as usize) + c.len();
                kept += 1;
            }
        }
    }
    if has_done {
        if good_end < bytes.len() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| io(p, e))?;
            f.set_len(good_end as u64).map_err(|e| io(p, e))?;
            f.sync_all().map_err(|e| io(p, e))?;
        }
        return Ok((span, data_bytes));
    }
    if kept == 0 {
        // Not even a HEAD survived: nothing of this file can be kept. Write a fresh HEAD so the
        // file is a valid empty stream (the session id comes from the keys).
        let mut out = format::MAGIC.to_vec();
        let mut enc = ChunkEncoder::new(Compression::None);
        let t = span.end.unwrap_or_default();
        enc.head(
            &mut out,
            format::PROTOCOL_SSH,
            dir,
            t,
            self_session_id(cx).as_bytes(),
        )?;
        enc.done(&mut out, format::PROTOCOL_SSH, dir, t)?;
        write_synced(p, &out)?;
        cx.report.truncated_files.push(TruncatedFile {
            path: rel(cx, p),
            cut_bytes: bytes.len() as u64,
            kept_chunks: 0,
        });
        return Ok((span, 0));
    }
    let mut tail = Vec::new();
    let mut enc = ChunkEncoder::new(compression);
    let t = span.end.unwrap_or_default();
    enc.done(&mut tail, format::PROTOCOL_SSH, dir, t)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map_err(|e| io(p, e))?;
    f.set_len(good_end as u64).map_err(|e| io(p, e))?;
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(good_end as u64)).map_err(|e| io(p, e))?;
    f.write_all(&tail).map_err(|e| io(p, e))?;
    f.sync_all().map_err(|e| io(p, e))?;
    cx.report.truncated_files.push(TruncatedFile {
        path: rel(cx, p),
        cut_bytes: (bytes.len() - good_end) as u64,
        kept_chunks: kept,
    });
    cx.report.kept_chunks += kept;
    Ok((span, data_bytes))
}

fn self_session_id(cx: &Ctx) -> String {
    cx.keys.key_id().to_string()
}

/// Reads the totals of an already finished container from its summary.
fn finished_totals(dir: &Path, kind: ContainerKind) -> Totals {
    let p = dir.join(kind.summary_file());
    let Ok(b) = std::fs::read(&p) else {
        return Totals::default();
    };
    let ps = p.display().to_string();
    let mut t = Totals::default();
    match kind {
        ContainerKind::Channel => {
            if let Ok(s) = ChannelSummary::parse(&b, &ps) {
                t.span.add(s.start_time);
                t.span.add(s.end_time);
                t.up = s.bytes_up;
                t.down = s.bytes_down;
            }
        }
        ContainerKind::Connection => {
            if let Ok(s) = ConnectionSummary::parse(&b, &ps) {
                t.span.add(s.start_time);
                t.span.add(s.end_time);
                t.up = s.bytes_up;
                t.down = s.bytes_down;
            }
        }
        ContainerKind::Session => {}
    }
    t
}

fn recover_container(
    cx: &mut Ctx,
    dir: &Path,
    kind: ContainerKind,
    id: &str,
    parent_id: Option<&str>,
) -> Result<Totals> {
    no_symlink(dir)?;
    if is_finished(dir) {
        return Ok(finished_totals(dir, kind));
    }
    let meta_path = dir.join(kind.meta_file());
    let old_meta = match std::fs::read(&meta_path) {
        Ok(b) => {
            let end = b.iter().rposition(|&x| x == b'\n').map_or(0, |i| i + 1);
            MetaFile::parse(&b[..end], &meta_path.display().to_string()).unwrap_or_default()
        }
        Err(_) => MetaFile::default(),
    };
    // Entries of the folder.
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let e = e.map_err(|e| io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let m = no_symlink(&e.path())?;
        if m.is_dir() {
            dirs.push(name);
        } else if m.is_file() {
            files.push(name);
        }
    }
    files.sort();
    dirs.sort();

    // Children first (bottom-up), in meta order, then any folder the meta does not name.
    let child_kind = match kind {
        ContainerKind::Session => Some(ContainerKind::Connection),
        ContainerKind::Connection => Some(ContainerKind::Channel),
        ContainerKind::Channel => None,
    };
    let child_key = child_kind.map(|k| k.name()).unwrap_or("");
    let mut children: Vec<String> = Vec::new();
    if let Some(ck) = child_kind {
        for c in old_meta.get_all(child_key) {
            if dirs.iter().any(|d| d == c) && !children.iter().any(|x| x == c) {
                children.push(c.to_string());
            }
        }
        for d in &dirs {
            if d.ends_with(ck.dir_suffix()) && !children.contains(d) {
                children.push(d.clone());
            }
        }
    }
    let mut totals = Totals::default();
    let mut child_count = 0u64;
    for c in &children {
        let Some(ck) = child_kind else { break };
        let Some(cid) = crate::read::container_id(c, ck) else {
            continue;
        };
        let t = recover_container(cx, &dir.join(c), ck, cid, Some(id))?;
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
        let (span, data) = recover_data_file(cx, &dir.join(f), d, &mut programs)?;
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

    // Meta: the complete lines that were there, plus anything missing.
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
    for (k, v) in &declared {
        if !meta.get_all(k).any(|x| x == v) {
            meta.push(k, v);
        }
    }
    for c in &children {
        if !meta.get_all(child_key).any(|x| x == c) {
            meta.push(child_key, c);
        }
    }
    write_synced(&meta_path, &meta.to_bytes())?;

    // Summary.
    let start = totals.span.start.unwrap_or_default();
    let end = totals.span.end.unwrap_or(start);
    let errors = "recovered after an unclean shutdown".to_string();
    let summary = match kind {
        ContainerKind::Session => SessionSummary {
            id: id.to_string(),
            connection_count: child_count,
            start_time: start,
            end_time: end,
            errors,
        }
        .to_bytes()?,
        ContainerKind::Connection => ConnectionSummary {
            id: id.to_string(),
            channel_count: child_count,
            start_time: start,
            end_time: end,
            bytes_up: totals.up,
            bytes_down: totals.down,
            errors,
        }
        .to_bytes()?,
        ContainerKind::Channel => {
            let channel_type = meta.get("channelType").unwrap_or("session").to_string();
            let na = "not applicable";
            let mut s = ChannelSummary {
                id: id.to_string(),
                connection_recording_id: parent_id.unwrap_or_default().to_string(),
                start_time: start,
                end_time: end,
                bytes_up: up,
                bytes_down: down,
                session_program: if channel_type == "session" {
                    "none".into()
                } else {
                    na.into()
                },
                channel_type,
                subsystem_name: String::new(),
                exec_program: na.into(),
                file_transfer_direction: na.into(),
                open_failure: None,
            };
            match programs.first() {
                Some(Request::Shell(_)) => s.session_program = "shell".into(),
                Some(Request::Exec(e)) => {
                    s.session_program = "exec".into();
                    let (p, d) = crate::write::classify_exec(&e.command);
                    s.exec_program = p.into();
                    s.file_transfer_direction = d.into();
                }
                Some(Request::Subsystem(x)) => {
                    s.session_program = "subsystem".into();
                    s.subsystem_name = x.subsystem_name.clone();
                }
                _ => {}
            }
            s.to_bytes()?
        }
    };
    write_synced(&dir.join(kind.summary_file()), &summary)?;

    if kind == ContainerKind::Session {
        cx.report.containers.push(".".into());
        let marker = serde_json::to_vec(&cx.report).map_err(|e| Error::Usage(e.to_string()))?;
        let mut m = marker;
        m.push(b'\n');
        write_synced(&dir.join(format::RECOVERY_MARKER_FILE), &m)?;
        if !files.iter().any(|f| f == format::RECOVERY_MARKER_FILE) {
            files.push(format::RECOVERY_MARKER_FILE.to_string());
        }
    } else {
        let r = rel(cx, dir);
        cx.report.containers.push(r);
    }

    // SHA256SUM: every regular file, in the order of the complete old lines, then the rest.
    let sum_path = dir.join(format::CHECKSUM_FILE);
    let mut order: Vec<String> = Vec::new();
    if let Ok(b) = std::fs::read(&sum_path) {
        let end = b.iter().rposition(|&x| x == b'\n').map_or(0, |i| i + 1);
        if let Ok(entries) = checksum::parse(&b[..end], &sum_path.display().to_string()) {
            order.extend(entries.into_iter().map(|e| e.name));
        }
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
        let p = dir.join(name);
        let data = std::fs::read(&p).map_err(|e| io(&p, e))?;
        sums.extend_from_slice(checksum::line(&Sha256::digest(&data).into(), name)?.as_bytes());
    }
    write_synced(&sum_path, &sums)?;
    write_synced(&dir.join(format::SIG_FILE), &cx.keys.sign_checksums(&sums))?;
    let d = std::fs::File::open(dir).map_err(|e| io(dir, e))?;
    d.sync_all().map_err(|e| io(dir, e))?;
    Ok(totals)
}
