//! The followed folder: its connections, channels and data files, each read from where the
//! last read stopped.

use super::{FollowEvent, StreamId};
use crate::error::{Error, Location, Result};
use crate::format::{self, ContainerKind, Direction};
use crate::read::container_id;
use crate::read::decoder::StreamDecoder;
use crate::read::structure::{StreamKind, StructureChecker};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A scan reads at most this many times the per-file budget in all.
const SCAN_FILES: usize = 8;

/// Most bytes of a channel meta file read to find its type.
const MAX_META: u64 = 64 * 1024;

/// One data file being followed.
#[derive(Debug)]
struct Stream {
    id: StreamId,
    path: PathBuf,
    file: Option<File>,
    dec: StreamDecoder,
    checker: StructureChecker,
    /// Bytes read so far.
    read: u64,
}

impl Stream {
    fn new(dir: &Path, id: StreamId) -> Self {
        Stream {
            path: dir.join(id.file),
            checker: StructureChecker::new(StreamKind::of_file(id.file)),
            id,
            file: None,
            dec: StreamDecoder::new(),
            read: 0,
        }
    }

    fn done(&self) -> bool {
        self.checker.is_done()
    }

    /// Reads what is new (at most `budget` bytes) and queues its complete chunks; returns the
    /// bytes read.
    fn pump(
        &mut self,
        buf: &mut [u8],
        budget: usize,
        q: &mut VecDeque<FollowEvent>,
    ) -> Result<usize> {
        if self.file.is_none() {
            // A file with its DONE is closed: nothing more may come (bounds open files in a
            // session with many channels).
            if self.done() {
                return Ok(0);
            }
            match open_regular(&self.path)? {
                Some(f) => self.file = Some(f),
                None => return Ok(0),
            }
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(0);
        };
        let mut got = 0usize;
        while got < budget {
            let want = buf.len().min(budget - got);
            let n = match f.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(self.path.display().to_string(), e)),
            };
            got += n;
            self.read += n as u64;
            let rel = self.id.path();
            if self.checker.is_done() {
                return Err(Error::malformed(
                    Location::at(self.read - n as u64).in_file(rel),
                    "bytes after the DONE chunk",
                ));
            }
            self.dec.push(&buf[..n]).map_err(|e| e.in_file(&rel))?;
            while let Some(c) = self.dec.next_chunk().map_err(|e| e.in_file(&rel))? {
                let violations = self.checker.check(&c.as_chunk());
                if let Some(v) = violations.iter().find(|v| v.breaks_structure()) {
                    return Err(Error::malformed(
                        Location::chunk(c.offset, c.index).in_file(rel),
                        v.to_string(),
                    ));
                }
                q.push_back(FollowEvent::Chunk {
                    stream: self.id.clone(),
                    chunk: c,
                });
            }
        }
        if self.checker.is_done() {
            self.file = None;
        }
        Ok(got)
    }

    /// At the end of a sealed recording: the file must be complete.
    fn finish(&self) -> Result<()> {
        let rel = self.id.path();
        self.dec.finish().map_err(|e| e.in_file(&rel))?;
        if !self.done() {
            return Err(Error::Truncated {
                loc: Location::chunk(self.dec.offset(), self.checker.summary().chunks).in_file(rel),
                what: "DONE chunk (the recording is sealed)",
                needed: format::CHUNK_OVERHEAD as u64,
                available: 0,
            });
        }
        Ok(())
    }
}

/// A channel folder.
#[derive(Debug)]
struct Channel {
    dir: PathBuf,
    announced: bool,
    done_reported: bool,
    /// Done and sealed: nothing more can change, so it is no longer scanned.
    closed: bool,
    streams: Vec<Stream>,
}

/// A connection folder.
#[derive(Debug)]
struct Connection {
    dir: PathBuf,
    streams: Vec<Stream>,
    channels: BTreeMap<String, Channel>,
}

/// The session folder and everything found in it so far.
#[derive(Debug)]
pub(super) struct Tree {
    root: PathBuf,
    conns: BTreeMap<String, Connection>,
    budget: usize,
    buf: Vec<u8>,
    /// Sizes and modification times of the meta, checksum and signature files, and folder
    /// entry counts, at the last scan.
    fingerprint: u64,
}

/// Opens a regular file for reading without following a symbolic link or blocking; `None`
/// when it does not exist (yet).
fn open_regular(p: &Path) -> Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(p)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::NotRegularFile {
                path: p.display().to_string(),
                kind: "symbolic link (not followed)",
            });
        }
        Err(e) => return Err(Error::io(p.display().to_string(), e)),
    };
    let m = f
        .metadata()
        .map_err(|e| Error::io(p.display().to_string(), e))?;
    if !m.file_type().is_file() {
        return Err(Error::NotRegularFile {
            path: p.display().to_string(),
            kind: crate::store::file_kind(&m.file_type()),
        });
    }
    Ok(Some(f))
}

/// The child container folders of `dir` of `kind`, by id (real folders only).
fn children(dir: &Path, kind: ContainerKind) -> Result<Vec<(String, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir.display().to_string(), e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(dir.display().to_string(), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = container_id(&name, kind) else {
            continue;
        };
        let ft = e
            .file_type()
            .map_err(|err| Error::io(e.path().display().to_string(), err))?;
        if ft.is_dir() {
            out.push((id.to_string(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `dir`'s container is sealed (a non-empty `SHA256SUM.sig`).
fn sealed(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(format::SIG_FILE))
        .is_ok_and(|m| m.file_type().is_file() && m.len() > 0)
}

/// The `channelType` a channel meta file names so far (complete lines only).
fn channel_type(dir: &Path) -> Result<Option<String>> {
    let p = dir.join(ContainerKind::Channel.meta_file());
    let Some(f) = open_regular(&p)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    f.take(MAX_META)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(p.display().to_string(), e))?;
    let text = String::from_utf8_lossy(format::complete_lines(&bytes)).into_owned();
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("channelType: "))
        .map(str::to_string))
}

/// Adds the size and modification time of a file (0 when absent) to a fingerprint.
fn mix(fp: &mut u64, p: &Path) {
    use std::os::unix::fs::MetadataExt;
    let (len, mtime) = std::fs::symlink_metadata(p)
        .map(|m| (m.len(), m.mtime_nsec() as u64 ^ (m.mtime() as u64) << 30))
        .unwrap_or((0, 0));
    *fp = fp.rotate_left(7) ^ len.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ mtime;
}

fn container_files(fp: &mut u64, dir: &Path, kind: ContainerKind) {
    mix(fp, &dir.join(kind.meta_file()));
    mix(fp, &dir.join(format::CHECKSUM_FILE));
    mix(fp, &dir.join(format::SIG_FILE));
}

fn streams(dir: &Path, connection: &str, channel: Option<&str>) -> Vec<Stream> {
    let mut names = Vec::new();
    if channel.is_some() {
        names.extend([Direction::Inbound, Direction::Outbound].map(format::messages_file));
    }
    names.extend([Direction::Inbound, Direction::Outbound].map(format::requests_file));
    names
        .into_iter()
        .map(|file| {
            let id = StreamId {
                connection: connection.to_string(),
                channel: channel.map(str::to_string),
                file,
            };
            Stream::new(dir, id)
        })
        .collect()
}

/// What one scan may read: at most `per_file` bytes of a file and `left` bytes in all (the
/// events they make are queued until taken, so this bounds the queue).
struct Budget {
    per_file: usize,
    left: usize,
}

/// Pumps every stream within `budget`; returns whether bytes were read, and whether a stream
/// may have more (it read its whole share, or the scan's budget ran out before it).
fn pump_all(
    streams: &mut [Stream],
    buf: &mut [u8],
    budget: &mut Budget,
    q: &mut VecDeque<FollowEvent>,
) -> Result<(bool, bool)> {
    let (mut changed, mut more) = (false, false);
    for s in streams.iter_mut() {
        if budget.left == 0 {
            more = true;
            break;
        }
        let share = budget.per_file.min(budget.left);
        let n = s.pump(buf, share, q)?;
        budget.left -= n.min(budget.left);
        changed |= n > 0;
        more |= n >= share;
    }
    Ok((changed, more))
}

impl Tree {
    pub(super) fn new(root: PathBuf, budget: usize) -> Self {
        Tree {
            root,
            conns: BTreeMap::new(),
            budget: budget.max(4096),
            buf: vec![0; 64 * 1024],
            fingerprint: 0,
        }
    }

    /// One scan: new folders, new bytes, the end. Returns whether anything changed, and whether
    /// the scan stopped at its read budget with more to read.
    pub(super) fn scan(&mut self, q: &mut VecDeque<FollowEvent>) -> Result<(bool, bool)> {
        // Sealed before reading: everything written before the seal is then read below.
        let was_sealed = sealed(&self.root);
        let (mut changed, mut more) = (false, false);
        let mut fp = 0u64;
        container_files(&mut fp, &self.root, ContainerKind::Session);
        for (id, dir) in children(&self.root, ContainerKind::Connection)? {
            if let std::collections::btree_map::Entry::Vacant(e) = self.conns.entry(id) {
                q.push_back(FollowEvent::NewConnection {
                    connection: e.key().clone(),
                });
                let streams = streams(&dir, e.key(), None);
                e.insert(Connection {
                    streams,
                    dir,
                    channels: BTreeMap::new(),
                });
                changed = true;
            }
        }
        let buf = &mut self.buf;
        let budget = &mut Budget {
            per_file: self.budget,
            left: self.budget.saturating_mul(SCAN_FILES),
        };
        for (cid, conn) in self.conns.iter_mut() {
            container_files(&mut fp, &conn.dir, ContainerKind::Connection);
            let (c, m) = pump_all(&mut conn.streams, buf, budget, q)?;
            (changed, more) = (changed | c, more | m);
            for (id, dir) in children(&conn.dir, ContainerKind::Channel)? {
                conn.channels.entry(id).or_insert_with(|| {
                    changed = true;
                    Channel {
                        dir,
                        announced: false,
                        done_reported: false,
                        closed: false,
                        streams: Vec::new(),
                    }
                });
            }
            for (id, ch) in conn.channels.iter_mut().filter(|(_, c)| !c.closed) {
                container_files(&mut fp, &ch.dir, ContainerKind::Channel);
                if !ch.announced {
                    let ty = match channel_type(&ch.dir)? {
                        Some(t) => t,
                        None if was_sealed => String::new(),
                        None => continue,
                    };
                    q.push_back(FollowEvent::NewChannel {
                        connection: cid.clone(),
                        channel: id.clone(),
                        channel_type: ty,
                    });
                    ch.announced = true;
                    ch.streams = streams(&ch.dir, cid, Some(id));
                }
                let (c, m) = pump_all(&mut ch.streams, buf, budget, q)?;
                (changed, more) = (changed | c, more | m);
                if !ch.done_reported && ch.streams.iter().all(Stream::done) {
                    ch.done_reported = true;
                    q.push_back(FollowEvent::ChannelDone {
                        connection: cid.clone(),
                        channel: id.clone(),
                    });
                }
                ch.closed = ch.done_reported && sealed(&ch.dir);
            }
        }
        if fp != self.fingerprint {
            self.fingerprint = fp;
            changed = true;
        }
        // Sealed before this scan read everything there is: the end.
        if was_sealed && !more {
            self.finish()?;
            q.push_back(FollowEvent::Finished);
        }
        Ok((changed, more))
    }

    /// The session is sealed and everything is read: every file must be complete.
    fn finish(&self) -> Result<()> {
        for conn in self.conns.values() {
            for s in &conn.streams {
                s.finish()?;
            }
            for ch in conn.channels.values() {
                for s in &ch.streams {
                    s.finish()?;
                }
            }
        }
        Ok(())
    }

    /// Data files held open now.
    pub(super) fn open_files(&self) -> usize {
        let conns = self.conns.values();
        let chans = conns.clone().flat_map(|c| c.channels.values());
        conns
            .flat_map(|c| &c.streams)
            .chain(chans.flat_map(|c| &c.streams))
            .filter(|s| s.file.is_some())
            .count()
    }

    /// Unsealed containers and data files without DONE.
    pub(super) fn open_items(&self) -> Vec<String> {
        let mut out = Vec::new();
        let rel = |p: &Path| {
            p.strip_prefix(&self.root)
                .map(|r| r.display().to_string())
                .unwrap_or_else(|_| p.display().to_string())
        };
        if !sealed(&self.root) {
            out.push(format!(
                "session container {} (not sealed)",
                self.root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
        }
        for conn in self.conns.values() {
            if !sealed(&conn.dir) {
                out.push(format!("{} (not sealed)", rel(&conn.dir)));
            }
            let chans = conn.channels.values();
            for s in conn
                .streams
                .iter()
                .chain(chans.clone().flat_map(|c| &c.streams))
            {
                if !s.done() {
                    out.push(format!("{} (no DONE chunk)", s.id.path()));
                }
            }
            for ch in chans.filter(|c| !sealed(&c.dir)) {
                out.push(format!("{} (not sealed)", rel(&ch.dir)));
            }
        }
        out
    }
}
