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
//! * DATA above [`MAX_PACKET_SIZE`](crate::format::MAX_PACKET_SIZE) is split.
//! * A [`ChannelWriter`] is `Send`: the channels of one connection can be written from
//!   different threads.
//! * `finish()` is explicit. Nothing is finished, sealed or signed in `Drop`: a writer that is
//!   dropped unfinished leaves a recording without DONE chunks and without `SHA256SUM.sig`, which
//!   readers and the verifier report as unfinished.
//! * `sync()` makes everything acknowledged so far durable (file data and directory entries).
//! * A child dropped without `finish()` keeps its parent from finishing (`finish()` on the
//!   parent returns [`Error::Usage`]): nothing is ever signed over a torn child. The recording
//!   then stays unfinished, and [`recover`] closes it.
//!
//! # Example
//! ```
//! use bsr_core::{Direction, Timestamp};
//! use bsr_core::keys::{AeadWrapper, RecordingKeys};
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
//!
//! Rooms: [`chunk`] (the chunk encoder), `file` (one `.data` file), `container` (a folder with
//! its meta file and `SHA256SUM`), `seal` (closing a container: `SHA256SUM` and its signature,
//! shared with recovery), `connection` and `channel` (the writers), [`recover`].
//!
//! Imports: [`crate::error`], [`crate::format`], [`crate::keys`], [`crate::ssh`],
//! [`crate::store`], and [`crate::read`] (recovery reads what it closes).

mod channel;
pub mod chunk;
mod connection;
mod container;
mod file;
pub mod recover;
mod seal;

pub use crate::ssh::classify_exec;
pub use channel::ChannelWriter;
pub use connection::ConnectionWriter;

use container::Container;
use file::ChunkFile;

use crate::error::{Error, Result};
use crate::format::meta::{SessionMeta, SessionSummary};
use crate::format::{self, Compression, ContainerKind, Timestamp};
use crate::keys::{KeyWrapper, RecorderKey, RecordingKeys};
use crate::store::{WriteStore, join};
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

/// Refuses a time the reader would refuse: summaries hold RFC 3339 times, which end at
/// 9999-12-31T23:59:59.999999999Z, and a chunk's nanoseconds are at most 999 999 999.
pub(crate) fn check_time(t: Timestamp, what: &str) -> Result<()> {
    if t.secs <= format::MAX_RFC3339_SECS && t.nanos <= format::MAX_NANOS {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{what} {}.{:09} s after the epoch cannot be recorded: times must be at most \
         9999-12-31T23:59:59.999999999Z with at most 999999999 ns (readers refuse later ones)",
        t.secs, t.nanos
    )))
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
        check_time(opts.start_time, "session start time")?;
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
        check_time(start_time, "connection start time")?;
        let s = &self.shared;
        s.container.child_opened()?;
        let name = format!("{id}{}", format::CONNECTION_DIR_SUFFIX);
        let res = (|| {
            let c = s
                .container
                .open_child("connection", &name, ContainerKind::Connection, id)?;
            let files = c.data_files(true, (s.session_id.as_str(), s.opts), start_time)?;
            c.sync()?;
            Ok(ConnectionWriter {
                session: s.clone(),
                container: c,
                id: id.to_string(),
                start_time,
                files: Mutex::new(Vec::from(files)),
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

    /// Writes the redaction manifest of a redacted copy (`REDACTION.json`, listed in the
    /// session's `SHA256SUM`, so the session signature covers it).
    pub fn write_redaction_manifest(
        &self,
        manifest: &crate::format::redaction::RedactionManifest,
    ) -> Result<()> {
        let bytes = manifest.to_bytes()?;
        let c = &self.shared.container;
        c.check_usable(&lock(&c.state))?;
        c.write_file(format::REDACTION_FILE, &bytes)
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
        check_time(end_time, "session end time")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Direction;
    use crate::keys::AeadWrapper;
    use crate::store::MemStore;

    fn session(start: Timestamp) -> Result<SessionWriter> {
        let store = Arc::new(MemStore::new());
        let kek = AeadWrapper::new([7u8; 32], "kek_test");
        let keys = RecordingKeys::from_seed("s_1234567890", [3; 32]);
        let opts = SessionOptions::new("sr_1234567890", "s_1234567890", start);
        SessionWriter::create(store, "", opts, keys, &kek, None)
    }

    /// Issue 14 finding 6: `import` wrote a header timestamp of year 10000, which its own
    /// verifier then refused (`summary-malformed`). The writer refuses every time the reader
    /// would refuse, before writing it.
    #[test]
    fn writer_refuses_a_timestamp_of_year_10000() {
        let year_10000 = Timestamp::new(format::MAX_RFC3339_SECS + 1, 0);
        assert!(
            matches!(session(year_10000), Err(Error::Usage(m)) if m.contains("9999-12-31")),
            "start time"
        );
        let t0 = Timestamp::new(1_700_000_000, 0);
        let s = session(t0).unwrap();
        let c = s.new_connection("cr_1234567890", t0).unwrap();
        assert!(c.new_channel("chr_1", "session", year_10000).is_err());
        let mut ch = c.new_channel("chr_1234567890", "session", t0).unwrap();
        assert!(matches!(
            ch.write_data(Direction::Outbound, year_10000, b"x"),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            ch.write_data(Direction::Outbound, Timestamp::new(1, 1_000_000_000), b"x"),
            Err(Error::Usage(_))
        ));
        assert!(ch.finish(year_10000).is_err());
        assert!(c.finish(year_10000).is_err());
        assert!(s.finish(year_10000).is_err());
        // The last representable time is written and read back.
        let last = Timestamp::new(format::MAX_RFC3339_SECS, format::MAX_NANOS);
        assert_eq!(Timestamp::parse_rfc3339(&last.to_rfc3339()), Some(last));
        assert!(session(last).is_ok());
    }
}
