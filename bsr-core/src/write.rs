//! The streaming recording writer that proxies and workers embed.
//!
//! ```text
//! SessionWriter ──new_connection──▶ ConnectionWriter ──new_channel──▶ ChannelWriter
//!      │ finish()                         │ finish()                       │ write_data / write_request
//!      ▼                                  ▼                                ▼ finish()
//! session meta, summary,           connection meta, summary,        DONE in each data file,
//! SHA256SUM, SHA256SUM.sig         SHA256SUM, SHA256SUM.sig         meta, summary, SHA256SUM, .sig
//! ```
//!
//! * Chunks are appended as traffic flows; each data file holds one buffer of
//!   [`WriterOptions::buffer_size`] bytes, so memory is bounded by the number of open files.
//! * DATA above [`MAX_PACKET_SIZE`] is split.
//! * A [`ChannelWriter`] is `Send`: the channels of one connection can be written from
//!   different threads.
//! * `finish()` is explicit. Nothing is finished, sealed or signed in `Drop`: a writer that is
//!   dropped unfinished leaves a recording without DONE chunks and without `SHA256SUM.sig`, which
//!   readers and the verifier report as unfinished.
//! * `sync()` makes everything acknowledged so far durable (file data and directory entries).
//! * A child dropped without `finish()` keeps its parent from finishing (`finish()` on the
//!   parent returns [`Error::Usage`]): nothing is ever signed over a torn child. The recording
//!   then stays unfinished, and `bsr_core::recover` closes it.
//!
//! # Example
//! ```
//! use bsr_core::{Direction, Timestamp};
//! use bsr_core::kms::{AeadWrapper, RecordingKeys};
//! use bsr_core::ssh::{Request, ShellRequest};
//! use bsr_core::store::MemStore;
//! use bsr_core::write::{SessionWriter, SessionOptions};
//! use std::sync::Arc;
//!
//! let store = Arc::new(MemStore::new());
//! let kek = AeadWrapper::new([7u8; 32], "kek_test");
//! let keys = RecordingKeys::generate("s_1234567890")?;
//! let t0 = Timestamp::new(1_700_000_000, 0);
//! let opts = SessionOptions::new("sr_1234567890", "s_1234567890", t0);
//! let session = SessionWriter::create(store.clone(), "", opts, keys, &kek, None)?;
//! let conn = session.new_connection("cr_1234567890", t0)?;
//! let mut chan = conn.new_channel("chr_1234567890", "session", t0)?;
//! chan.write_request(Direction::Inbound, t0, &Request::Shell(ShellRequest {
//!     request_type: "shell".into(), want_reply: true }))?;
//! chan.write_data(Direction::Outbound, Timestamp::new(1_700_000_001, 0), b"hello\r\n")?;
//! chan.finish(Timestamp::new(1_700_000_002, 0))?;
//! conn.finish(Timestamp::new(1_700_000_002, 0))?;
//! session.finish(Timestamp::new(1_700_000_002, 0))?;
//! assert!(store.get("sr_1234567890.bsr/SHA256SUM.sig").is_some());
//! # Ok::<(), bsr_core::Error>(())
//! ```

use crate::checksum;
use crate::chunk::{ChunkEncoder, Compression};
use crate::error::{Error, Result};
use crate::format::{
    self, CHUNK_DATA, ContainerKind, Direction, MAX_PACKET_SIZE, PROTOCOL_SSH, Timestamp,
};
use crate::kms::{KeyWrapper, RecorderKey, RecordingKeys};
use crate::meta::{ChannelSummary, ConnectionSummary, SessionMeta, SessionSummary};
use crate::ssh::Request;
use crate::store::{StoreFile, WriteStore, join};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Options of a recording.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Session recording id (`sr_…`); the folder is `<id>.bsr`.
    pub recording_id: String,
    /// Boundary session id (`s_…`): the key id of the recording keys and the id in every HEAD chunk.
    pub session_id: String,
    /// Start time of the session.
    pub start_time: Timestamp,
    /// The `session-meta.json` snapshot (default: only `PublicId` = session id).
    pub session_meta: Option<SessionMeta>,
    /// Writer tuning.
    pub writer: WriterOptions,
}

impl SessionOptions {
    /// Options with defaults.
    pub fn new(recording_id: &str, session_id: &str, start_time: Timestamp) -> Self {
        SessionOptions {
            recording_id: recording_id.to_string(),
            session_id: session_id.to_string(),
            start_time,
            session_meta: None,
            writer: WriterOptions::default(),
        }
    }
}

/// Writer tuning.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Per-chunk gzip of DATA and request chunks (HEAD compression byte 1).
    pub compression: Compression,
    /// Bytes buffered per data file before they are written to the store.
    pub buffer_size: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: Compression::None,
            buffer_size: 256 * 1024,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid recording id {id:?}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Container: a folder with its SHA256SUM, meta file and signature
// ---------------------------------------------------------------------------------------------

struct ContainerState {
    sums: Box<dyn StoreFile>,
    sums_bytes: Vec<u8>,
    meta: Box<dyn StoreFile>,
    meta_hash: Sha256,
    open_children: usize,
    finished: bool,
    failed: Option<String>,
}

impl std::fmt::Debug for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerState")
            .field("sums_bytes", &self.sums_bytes.len())
            .field("open_children", &self.open_children)
            .field("finished", &self.finished)
            .field("failed", &self.failed)
            .finish()
    }
}

#[derive(Debug)]
struct Container {
    store: Arc<dyn WriteStore>,
    dir: String,
    kind: ContainerKind,
    keys: Arc<RecordingKeys>,
    state: Mutex<ContainerState>,
}

impl Container {
    fn create(
        store: Arc<dyn WriteStore>,
        dir: String,
        kind: ContainerKind,
        keys: Arc<RecordingKeys>,
        id: &str,
    ) -> Result<Arc<Self>> {
        store.create_dir(&dir)?;
        let sums = store.create(&join(&dir, format::CHECKSUM_FILE))?;
        let meta = store.create(&join(&dir, kind.meta_file()))?;
        let c = Arc::new(Container {
            store,
            dir,
            kind,
            keys,
            state: Mutex::new(ContainerState {
                sums,
                sums_bytes: Vec::new(),
                meta,
                meta_hash: Sha256::new(),
                open_children: 0,
                finished: false,
                failed: None,
            }),
        });
        c.meta_line("id", id)?;
        Ok(c)
    }

    fn path(&self, name: &str) -> String {
        join(&self.dir, name)
    }

    fn fail(&self, st: &mut ContainerState, e: Error) -> Error {
        st.failed.get_or_insert_with(|| e.to_string());
        e
    }

    fn check_usable(&self, st: &ContainerState) -> Result<()> {
        if st.finished {
            return Err(Error::Usage(format!("{} is already finished", self.dir)));
        }
        if let Some(f) = &st.failed {
            return Err(Error::Usage(format!("{} failed earlier: {f}", self.dir)));
        }
        Ok(())
    }

    /// Appends `key: value` to the meta file (kept durable by `sync`).
    fn meta_line(&self, key: &str, value: &str) -> Result<()> {
        let mut st = lock(&self.state);
        self.check_usable(&st)?;
        let line = format!("{key}: {value}\n");
        st.meta_hash.update(line.as_bytes());
        let path = self.path(self.kind.meta_file());
        if let Err(e) = st.meta.write_all(line.as_bytes()) {
            return Err(self.fail(&mut st, Error::io(path, e)));
        }
        Ok(())
    }

    /// Appends the checksum line of a closed file.
    fn add_sum(&self, name: &str, digest: &[u8; 32]) -> Result<()> {
        let mut st = lock(&self.state);
        let line = checksum::line(digest, name)?;
        st.sums_bytes.extend_from_slice(line.as_bytes());
        let path = self.path(format::CHECKSUM_FILE);
        if let Err(e) = st.sums.write_all(line.as_bytes()) {
            return Err(self.fail(&mut st, Error::io(path, e)));
        }
        Ok(())
    }

    /// Writes a small file completely and lists it.
    fn write_file(&self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.path(name);
        let mut f = self.store.create(&path)?;
        f.write_all(data).map_err(|e| Error::io(path.clone(), e))?;
        f.sync()?;
        drop(f);
        self.add_sum(name, &Sha256::digest(data).into())
    }

    fn child_opened(&self) -> Result<()> {
        let mut st = lock(&self.state);
        self.check_usable(&st)?;
        st.open_children += 1;
        Ok(())
    }

    fn child_closed(&self) {
        let mut st = lock(&self.state);
        st.open_children = st.open_children.saturating_sub(1);
    }

    fn sync(&self) -> Result<()> {
        let mut st = lock(&self.state);
        st.meta.sync()?;
        st.sums.sync()?;
        drop(st);
        self.store.sync_dir(&self.dir)
    }

    /// Closes the container in Boundary's order: meta → summary → SHA256SUM → SHA256SUM.sig.
    fn close(&self, summary: &[u8]) -> Result<()> {
        let mut st = lock(&self.state);
        self.check_usable(&st)?;
        if st.open_children > 0 {
            return Err(Error::Usage(format!(
                "{}: {} child container(s) or file(s) still open; finish them first",
                self.dir, st.open_children
            )));
        }
        st.finished = true;
        let meta_name = self.kind.meta_file();
        st.meta.sync()?;
        let meta_digest: [u8; 32] = std::mem::take(&mut st.meta_hash).finalize().into();
        drop(st);
        self.add_sum(meta_name, &meta_digest)?;
        self.write_file(self.kind.summary_file(), summary)?;
        let mut st = lock(&self.state);
        st.sums.sync()?;
        let sig = self.keys.sign_checksums(&st.sums_bytes);
        drop(st);
        let sig_path = self.path(format::SIG_FILE);
        let mut f = self.store.create(&sig_path)?;
        f.write_all(&sig)
            .map_err(|e| Error::io(sig_path.clone(), e))?;
        f.sync()?;
        self.store.sync_dir(&self.dir)
    }
}

// ---------------------------------------------------------------------------------------------
// Chunk file: one `.data` file
// ---------------------------------------------------------------------------------------------

/// One `.data` file being written: magic, HEAD, chunks, and DONE at `close`.
struct ChunkFile {
    name: &'static str,
    path: String,
    file: Box<dyn StoreFile>,
    buf: Vec<u8>,
    buffer_size: usize,
    hasher: Sha256,
    encoder: ChunkEncoder,
    direction: Direction,
    chunks: u64,
    synced_chunks: u64,
    closed: bool,
}

impl std::fmt::Debug for ChunkFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkFile")
            .field("path", &self.path)
            .field("chunks", &self.chunks)
            .finish()
    }
}

impl ChunkFile {
    fn create(
        c: &Container,
        name: &'static str,
        direction: Direction,
        session_id: &str,
        time: Timestamp,
        opts: WriterOptions,
    ) -> Result<Self> {
        let path = c.path(name);
        let file = c.store.create(&path)?;
        let mut buf = Vec::with_capacity(opts.buffer_size.max(64) + 64);
        buf.extend_from_slice(&format::MAGIC);
        let mut encoder = ChunkEncoder::new(opts.compression);
        encoder.head(
            &mut buf,
            PROTOCOL_SSH,
            direction,
            time,
            session_id.as_bytes(),
        )?;
        Ok(ChunkFile {
            name,
            path,
            file,
            buf,
            buffer_size: opts.buffer_size.max(64),
            hasher: Sha256::new(),
            encoder,
            direction,
            chunks: 1,
            synced_chunks: 0,
            closed: false,
        })
    }

    fn flush_buf(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.buf);
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io(self.path.clone(), e))?;
        self.buf.clear();
        Ok(())
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.buf.len() >= self.buffer_size {
            self.flush_buf()
        } else {
            Ok(())
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Usage(format!("{} is closed", self.path)))
        } else {
            Ok(())
        }
    }

    fn data(&mut self, time: Timestamp, data: &[u8]) -> Result<u64> {
        self.check_open()?;
        let mut n = 0;
        // Zero-length DATA is allowed by the format; keep it as one chunk.
        if data.is_empty() {
            self.encoder.chunk(
                &mut self.buf,
                PROTOCOL_SSH,
                CHUNK_DATA,
                self.direction,
                time,
                data,
            )?;
            self.chunks += 1;
            return self.maybe_flush().map(|_| 1);
        }
        for part in data.chunks(MAX_PACKET_SIZE) {
            self.encoder.chunk(
                &mut self.buf,
                PROTOCOL_SSH,
                CHUNK_DATA,
                self.direction,
                time,
                part,
            )?;
            self.chunks += 1;
            n += 1;
            self.maybe_flush()?;
        }
        Ok(n)
    }

    fn request(&mut self, time: Timestamp, req: &Request) -> Result<()> {
        self.check_open()?;
        let payload = req.encode();
        self.encoder.chunk(
            &mut self.buf,
            PROTOCOL_SSH,
            req.chunk_type(),
            self.direction,
            time,
            &payload,
        )?;
        self.chunks += 1;
        self.maybe_flush()
    }

    fn sync(&mut self) -> Result<u64> {
        self.flush_buf()?;
        self.file.sync()?;
        self.synced_chunks = self.chunks;
        Ok(self.synced_chunks)
    }

    /// Writes DONE, flushes, syncs and returns the file's SHA-256.
    fn close(&mut self, time: Timestamp) -> Result<[u8; 32]> {
        self.check_open()?;
        self.encoder
            .done(&mut self.buf, PROTOCOL_SSH, self.direction, time)?;
        self.chunks += 1;
        self.flush_buf()?;
        self.file.sync()?;
        self.closed = true;
        self.synced_chunks = self.chunks;
        Ok(std::mem::take(&mut self.hasher).finalize().into())
    }
}

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct SessionShared {
    container: Arc<Container>,
    session_id: String,
    opts: WriterOptions,
    connections: AtomicUsize,
}

/// Writes one session recording (`<recording_id>.bsr/`).
#[derive(Debug)]
pub struct SessionWriter {
    shared: Arc<SessionShared>,
    recording_id: String,
    start_time: Timestamp,
    errors: Mutex<Vec<String>>,
}

impl SessionWriter {
    /// Creates `<parent>/<recording_id>.bsr/` in `store` with its key files, the recorder
    /// attestation (when `recorder` is given) and `session-meta.json`.
    ///
    /// `wrapper` is the KMS that wraps the BSR key and the private key.
    pub fn create(
        store: Arc<dyn WriteStore>,
        parent: &str,
        opts: SessionOptions,
        keys: RecordingKeys,
        wrapper: &dyn KeyWrapper,
        recorder: Option<&RecorderKey>,
    ) -> Result<Self> {
        check_id(&opts.recording_id)?;
        if keys.key_id() != opts.session_id {
            return Err(Error::Usage(format!(
                "recording keys are for {:?}, the session is {:?}",
                keys.key_id(),
                opts.session_id
            )));
        }
        let dir = join(
            parent,
            &format!("{}{}", opts.recording_id, format::SESSION_DIR_SUFFIX),
        );
        let key_files = keys.key_files(wrapper)?;
        let attestation = recorder.map(|r| r.attest(&opts.recording_id, &keys));
        let keys = Arc::new(keys);
        let container = Container::create(
            store.clone(),
            dir,
            ContainerKind::Session,
            keys,
            &opts.recording_id,
        )?;
        container.meta_line("protocol", "BSSH")?;
        for (name, bytes) in &key_files {
            container.write_file(name, bytes)?;
        }
        if let Some(a) = attestation {
            container.write_file(format::RECORDER_ATTESTATION_FILE, &a)?;
        }
        let meta = opts
            .session_meta
            .clone()
            .unwrap_or_else(|| SessionMeta::with_id(&opts.session_id));
        container.write_file(format::SESSION_META_FILE, &meta.to_bytes()?)?;
        container.sync()?;
        if !parent.is_empty() {
            store.sync_dir(parent)?;
        }
        Ok(SessionWriter {
            shared: Arc::new(SessionShared {
                container,
                session_id: opts.session_id,
                opts: opts.writer,
                connections: AtomicUsize::new(0),
            }),
            recording_id: opts.recording_id,
            start_time: opts.start_time,
            errors: Mutex::new(Vec::new()),
        })
    }

    /// The folder of the recording in its store.
    pub fn dir(&self) -> &str {
        &self.shared.container.dir
    }

    /// Opens a connection container `<id>.connection/` (one per TCP connection).
    pub fn new_connection(&self, id: &str, start_time: Timestamp) -> Result<ConnectionWriter> {
        check_id(id)?;
        let s = &self.shared;
        s.container.child_opened()?;
        let name = format!("{id}{}", format::CONNECTION_DIR_SUFFIX);
        let res = (|| {
            s.container.meta_line("connection", &name)?;
            let c = Container::create(
                s.container.store.clone(),
                s.container.path(&name),
                ContainerKind::Connection,
                s.container.keys.clone(),
                id,
            )?;
            s.container.sync()?;
            let mut files = Vec::new();
            for d in [Direction::Inbound, Direction::Outbound] {
                c.meta_line("requests", d.as_str())?;
                files.push(ChunkFile::create(
                    &c,
                    format::requests_file(d),
                    d,
                    &s.session_id,
                    start_time,
                    s.opts,
                )?);
            }
            c.sync()?;
            Ok(ConnectionWriter {
                session: s.clone(),
                container: c,
                id: id.to_string(),
                start_time,
                files: Mutex::new(files),
                channels: AtomicUsize::new(0),
                bytes_up: Arc::new(AtomicU64::new(0)),
                bytes_down: Arc::new(AtomicU64::new(0)),
                errors: Mutex::new(Vec::new()),
                finished: std::sync::atomic::AtomicBool::new(false),
            })
        })();
        if res.is_err() {
            s.container.child_closed();
        } else {
            s.connections.fetch_add(1, Ordering::Relaxed);
        }
        res
    }

    /// Records an error message in the session summary's `Errors`.
    pub fn record_error(&self, message: &str) {
        lock(&self.errors).push(message.to_string());
    }

    /// Makes the session container's files durable.
    pub fn sync(&self) -> Result<()> {
        self.shared.container.sync()
    }

    /// Closes the session: meta, summary, `SHA256SUM` and its signature. Every connection must
    /// be finished first.
    pub fn finish(self, end_time: Timestamp) -> Result<SessionSummary> {
        let summary = SessionSummary {
            id: self.recording_id.clone(),
            connection_count: self.shared.connections.load(Ordering::Relaxed) as u64,
            start_time: self.start_time,
            end_time,
            errors: lock(&self.errors).join("\n"),
        };
        self.shared.container.close(&summary.to_bytes()?)?;
        Ok(summary)
    }
}

// ---------------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------------

/// Writes one connection container. Shareable between threads (`&self` methods).
#[derive(Debug)]
pub struct ConnectionWriter {
    session: Arc<SessionShared>,
    container: Arc<Container>,
    id: String,
    start_time: Timestamp,
    files: Mutex<Vec<ChunkFile>>,
    channels: AtomicUsize,
    bytes_up: Arc<AtomicU64>,
    bytes_down: Arc<AtomicU64>,
    errors: Mutex<Vec<String>>,
    finished: std::sync::atomic::AtomicBool,
}

impl ConnectionWriter {
    /// The connection recording id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Opens a channel container `<id>.channel/` with its four data files.
    /// `channel_type` is the SSH channel type (`session`, `direct-tcpip`, …).
    pub fn new_channel(
        &self,
        id: &str,
        channel_type: &str,
        start_time: Timestamp,
    ) -> Result<ChannelWriter> {
        check_id(id)?;
        if channel_type.is_empty() || channel_type.contains(['\n', '\r']) {
            return Err(Error::Usage(format!(
                "invalid channel type {channel_type:?}"
            )));
        }
        self.container.child_opened()?;
        let name = format!("{id}{}", format::CHANNEL_DIR_SUFFIX);
        let res = (|| {
            self.container.meta_line("channel", &name)?;
            let c = Container::create(
                self.container.store.clone(),
                self.container.path(&name),
                ContainerKind::Channel,
                self.container.keys.clone(),
                id,
            )?;
            self.container.sync()?;
            c.meta_line("channelType", channel_type)?;
            let s = &self.session;
            let mut files = Vec::with_capacity(4);
            for d in [Direction::Inbound, Direction::Outbound] {
                c.meta_line("messages", d.as_str())?;
                files.push(ChunkFile::create(
                    &c,
                    format::messages_file(d),
                    d,
                    &s.session_id,
                    start_time,
                    s.opts,
                )?);
            }
            for d in [Direction::Inbound, Direction::Outbound] {
                c.meta_line("requests", d.as_str())?;
                files.push(ChunkFile::create(
                    &c,
                    format::requests_file(d),
                    d,
                    &s.session_id,
                    start_time,
                    s.opts,
                )?);
            }
            c.sync()?;
            let mut files = files.into_iter();
            let (Some(mi), Some(mo), Some(ri), Some(ro)) =
                (files.next(), files.next(), files.next(), files.next())
            else {
                return Err(Error::Usage("internal: channel files".into()));
            };
            Ok(ChannelWriter {
                parent: self.container.clone(),
                container: c,
                id: id.to_string(),
                connection_id: self.id.clone(),
                channel_type: channel_type.to_string(),
                start_time,
                messages: [mi, mo],
                requests: [ri, ro],
                bytes_up: 0,
                bytes_down: 0,
                conn_up: self.bytes_up.clone(),
                conn_down: self.bytes_down.clone(),
                program: Programs::default(),
                open_failure: None,
                finished: false,
            })
        })();
        match &res {
            Ok(_) => {
                self.channels.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => self.container.child_closed(),
        }
        res
    }

    /// Appends a request chunk (global requests, channel opens) to the connection's
    /// `requests-<dir>.data`.
    pub fn write_request(&self, dir: Direction, time: Timestamp, req: &Request) -> Result<()> {
        let mut files = lock(&self.files);
        let i = if dir == Direction::Inbound { 0 } else { 1 };
        match files.get_mut(i) {
            Some(f) => f.request(time, req),
            None => Err(Error::Usage("connection is finished".into())),
        }
    }

    /// Records an error message in the connection summary's `Errors`.
    pub fn record_error(&self, message: &str) {
        lock(&self.errors).push(message.to_string());
    }

    /// Makes the connection's request files and container files durable; returns the number of
    /// chunks now durable in its data files.
    pub fn sync(&self) -> Result<u64> {
        let mut n = 0;
        for f in lock(&self.files).iter_mut() {
            n += f.sync()?;
        }
        self.container.sync()?;
        Ok(n)
    }

    /// Writes DONE in the request files, then meta, summary, `SHA256SUM` and its signature.
    /// Every channel must be finished first.
    pub fn finish(&self, end_time: Timestamp) -> Result<ConnectionSummary> {
        if self.finished.swap(true, Ordering::SeqCst) {
            return Err(Error::Usage(format!(
                "connection {} already finished",
                self.id
            )));
        }
        {
            let st = lock(&self.container.state);
            if st.open_children > 0 {
                self.finished.store(false, Ordering::SeqCst);
                return Err(Error::Usage(format!(
                    "connection {}: {} channel(s) still open; finish them first",
                    self.id, st.open_children
                )));
            }
        }
        let mut files = std::mem::take(&mut *lock(&self.files));
        for f in files.iter_mut() {
            let digest = f.close(end_time)?;
            self.container.add_sum(f.name, &digest)?;
        }
        let summary = ConnectionSummary {
            id: self.id.clone(),
            channel_count: self.channels.load(Ordering::Relaxed) as u64,
            start_time: self.start_time,
            end_time,
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            errors: lock(&self.errors).join("\n"),
        };
        self.container.close(&summary.to_bytes()?)?;
        self.session.container.child_closed();
        Ok(summary)
    }
}

// ---------------------------------------------------------------------------------------------
// Channel
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct Programs {
    session_program: Option<&'static str>,
    subsystem: String,
    exec_program: Option<&'static str>,
    transfer: Option<&'static str>,
}

/// Writes one channel container. `Send`: give each channel to the thread that relays it.
#[derive(Debug)]
pub struct ChannelWriter {
    parent: Arc<Container>,
    container: Arc<Container>,
    id: String,
    connection_id: String,
    channel_type: String,
    start_time: Timestamp,
    messages: [ChunkFile; 2],
    requests: [ChunkFile; 2],
    bytes_up: u64,
    bytes_down: u64,
    conn_up: Arc<AtomicU64>,
    conn_down: Arc<AtomicU64>,
    program: Programs,
    open_failure: Option<(u32, String)>,
    finished: bool,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

/// What an exec command line says about the program (Boundary's `ExecProgram` and
/// `FileTransferDirection` enumerations).
pub fn classify_exec(command: &str) -> (&'static str, &'static str) {
    let mut words = command.split_whitespace();
    let prog = words.next().unwrap_or("");
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let args: Vec<&str> = words.collect();
    match base {
        "scp" => {
            let dir = if args
                .iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('t'))
            {
                "upload"
            } else if args
                .iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
            {
                "download"
            } else {
                "not applicable"
            };
            ("scp", dir)
        }
        "rsync" => {
            let dir = if !args.contains(&"--server") {
                "not applicable"
            } else if args.contains(&"--sender") {
                "download"
            } else {
                "upload"
            };
            ("rsync", dir)
        }
        _ => ("unknown", "not applicable"),
    }
}

impl ChannelWriter {
    /// The channel recording id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Appends channel data (`DATA` chunks, split above 256 KiB) to `messages-<dir>.data`.
    /// Inbound data counts as bytes up, outbound as bytes down. Returns the chunks written.
    pub fn write_data(&mut self, dir: Direction, time: Timestamp, data: &[u8]) -> Result<u64> {
        let n = self.messages[idx(dir)].data(time, data)?;
        let len = data.len() as u64;
        match dir {
            Direction::Inbound => {
                self.bytes_up += len;
                self.conn_up.fetch_add(len, Ordering::Relaxed);
            }
            Direction::Outbound => {
                self.bytes_down += len;
                self.conn_down.fetch_add(len, Ordering::Relaxed);
            }
        }
        Ok(n)
    }

    /// Appends a request chunk to `requests-<dir>.data`. `shell`, `exec` and `subsystem`
    /// requests set the summary's session program.
    pub fn write_request(&mut self, dir: Direction, time: Timestamp, req: &Request) -> Result<()> {
        self.requests[idx(dir)].request(time, req)?;
        if self.program.session_program.is_none() {
            match req {
                Request::Shell(_) => self.program.session_program = Some("shell"),
                Request::Exec(e) => {
                    self.program.session_program = Some("exec");
                    let (p, t) = classify_exec(&e.command);
                    self.program.exec_program = Some(p);
                    self.program.transfer = Some(t);
                }
                Request::Subsystem(s) => {
                    self.program.session_program = Some("subsystem");
                    self.program.subsystem = s.subsystem_name.clone();
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Records that the channel open failed (summary `OpenFailure`).
    pub fn set_open_failure(&mut self, reason: u32, message: &str) {
        self.open_failure = Some((reason, message.to_string()));
    }

    /// Makes all data written so far durable; returns the number of chunks now durable in the
    /// channel's four data files (HEAD chunks included).
    pub fn sync(&mut self) -> Result<u64> {
        let mut n = 0;
        for f in self.messages.iter_mut().chain(self.requests.iter_mut()) {
            n += f.sync()?;
        }
        self.container.sync()?;
        Ok(n)
    }

    /// Writes DONE in the four data files, then meta, summary, `SHA256SUM` and its signature.
    pub fn finish(mut self, end_time: Timestamp) -> Result<ChannelSummary> {
        if self.finished {
            return Err(Error::Usage("channel already finished".into()));
        }
        self.finished = true;
        for f in self.messages.iter_mut().chain(self.requests.iter_mut()) {
            let digest = f.close(end_time)?;
            self.container.add_sum(f.name, &digest)?;
        }
        let is_session = self.channel_type == "session";
        let na = "not applicable";
        let summary = ChannelSummary {
            id: self.id.clone(),
            connection_recording_id: self.connection_id.clone(),
            start_time: self.start_time,
            end_time,
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
            channel_type: self.channel_type.clone(),
            session_program: self
                .program
                .session_program
                .unwrap_or(if is_session { "none" } else { na })
                .to_string(),
            subsystem_name: self.program.subsystem.clone(),
            exec_program: self.program.exec_program.unwrap_or(na).to_string(),
            file_transfer_direction: self.program.transfer.unwrap_or(na).to_string(),
            open_failure: self
                .open_failure
                .clone()
                .map(|(reason, message)| crate::meta::OpenFailure { reason, message }),
        };
        self.container.close(&summary.to_bytes()?)?;
        self.parent.child_closed();
        Ok(summary)
    }
}
