//! Which channel to convert, and where its files are.

use crate::error::ConvertError;
use crate::human::escape;
use bsr_core::format::{self, Direction};
use bsr_core::read::structure::StreamKind;
use bsr_core::read::{ChannelRecording, ChunkStream, Recording};
use bsr_core::store::{ReadStore, join};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a channel's files are.
#[derive(Debug, Clone)]
pub struct ChannelFiles {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// A name for messages (the channel folder).
    pub name: String,
    /// SSH channel type.
    pub channel_type: String,
    /// `requests-inbound.data` (pty-req, env, shell, exec, window-change, …).
    pub requests_inbound: Option<String>,
    /// `requests-outbound.data` (exit-status, exit-signal).
    pub requests_outbound: Option<String>,
    /// `messages-outbound.data` (terminal output).
    pub messages_outbound: String,
    /// `messages-inbound.data` (keystrokes).
    pub messages_inbound: Option<String>,
    /// The connection's `requests-inbound.data` (global requests such as tcpip-forward).
    pub connection_requests: Option<String>,
    /// Expected SHA-256 of files by path (from the container's `SHA256SUM`, or pinned by
    /// [`crate::verified::Verification::pin`]), or, while a verification runs beside the reading
    /// ([`crate::verified::Pending`]), the files to hash and where their digests go.
    pub checksums: Digests,
}

/// The SHA-256 that the files of a channel must have, by store path.
///
/// Either known before the reading ([`Digests::expect`]: a mismatch fails the file when its
/// stream ends), or deferred ([`Digests::deferred`]: every listed file is hashed as it is read
/// and its digest is recorded, for [`crate::verified::Pending::finish`] to compare with the
/// verification's once both are done).
#[derive(Debug, Clone, Default)]
pub struct Digests {
    expected: BTreeMap<String, [u8; 32]>,
    observed: Option<Observed>,
    /// A file read from the verifier's read of it (its path, and the reader until opened).
    shared: Option<(String, SharedSlot)>,
}

type Observed = Arc<std::sync::Mutex<BTreeMap<String, [u8; 32]>>>;
type SharedSlot = Arc<std::sync::Mutex<Option<bsr_core::read::share::SharedReader>>>;

fn take_slot(slot: &SharedSlot) -> Option<bsr_core::read::share::SharedReader> {
    match slot.lock() {
        Ok(mut s) => s.take(),
        Err(p) => p.into_inner().take(),
    }
}

impl Digests {
    /// Digests known before reading.
    pub fn expect(expected: BTreeMap<String, [u8; 32]>) -> Self {
        Digests {
            expected,
            observed: None,
            shared: None,
        }
    }

    /// The files `paths` are hashed as they are read, and their digests recorded.
    pub fn deferred<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        Digests {
            expected: paths
                .into_iter()
                .map(|p| (p.to_string(), [0; 32]))
                .collect(),
            observed: Some(Arc::default()),
            shared: None,
        }
    }

    /// [`Digests::deferred`], with the file `path` read from the verifier's read of it
    /// ([`bsr_core::read::share`]) instead of from the store: the first stream opened on it
    /// gets `reader` (later ones read the file, hashed).
    pub fn deferred_sharing<'a>(
        paths: impl IntoIterator<Item = &'a str>,
        path: &str,
        reader: bsr_core::read::share::SharedReader,
    ) -> Self {
        let mut d = Self::deferred(paths);
        d.shared = Some((
            path.to_string(),
            Arc::new(std::sync::Mutex::new(Some(reader))),
        ));
        d
    }

    /// The file read from the verifier's read of it, if any.
    pub fn shared_path(&self) -> Option<&str> {
        self.shared.as_ref().map(|(p, _)| p.as_str())
    }

    /// The verifier's read of `path`, the first time it is asked for.
    fn take_shared(&self, path: &str) -> Option<bsr_core::read::share::SharedReader> {
        match &self.shared {
            Some((p, slot)) if p == path => take_slot(slot),
            _ => None,
        }
    }

    /// Lets the verifier go on alone if the shared file was never opened (it would otherwise
    /// wait for its reader).
    pub fn release_shared(&self) {
        if let Some((_, slot)) = &self.shared {
            drop(take_slot(slot));
        }
    }

    /// Whether `path` is hashed as it is read.
    pub fn contains_key(&self, path: &str) -> bool {
        self.expected.contains_key(path)
    }

    /// The digest `path` must have (`None` when none is expected, or when it is deferred).
    pub fn get(&self, path: &str) -> Option<&[u8; 32]> {
        if self.observed.is_some() {
            return None;
        }
        self.expected.get(path)
    }

    /// Records the digest a read of `path` computed (deferred digests only).
    pub fn observe(&self, path: &str, digest: [u8; 32]) {
        if let Some(o) = &self.observed {
            match o.lock() {
                Ok(mut m) => {
                    m.insert(path.to_string(), digest);
                }
                Err(poisoned) => {
                    poisoned.into_inner().insert(path.to_string(), digest);
                }
            }
        }
    }

    /// The digests recorded so far (deferred digests only), by path.
    pub fn observed(&self) -> BTreeMap<String, [u8; 32]> {
        match &self.observed {
            Some(o) => match o.lock() {
                Ok(m) => m.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
            None => BTreeMap::new(),
        }
    }

    /// Whether nothing is hashed.
    pub fn is_empty(&self) -> bool {
        self.expected.is_empty()
    }
}

impl ChannelFiles {
    /// The files of a channel in a recording, with its `SHA256SUM` entries.
    pub fn of_channel(
        ch: &ChannelRecording,
        connection_dir: Option<&str>,
    ) -> Result<Self, ConvertError> {
        let store = ch.store().clone();
        let dir = ch.dir();
        let mut checksums = BTreeMap::new();
        if let Some(entries) = ch.checksums()? {
            for e in entries {
                checksums.insert(join(dir, &e.name), e.digest);
            }
        }
        // An optional file is absent only when it does not exist: a FIFO, a folder or an
        // unreadable file in its place is an error that names it, never "no such file".
        let present = |p: String| -> Result<_, ConvertError> {
            Ok(bsr_core::store::exists(&*store, &p)?.then_some(p))
        };
        let opt = |name: &str| present(join(dir, name));
        Ok(ChannelFiles {
            name: dir.to_string(),
            channel_type: ch.channel_type().to_string(),
            requests_inbound: opt(format::requests_file(Direction::Inbound))?,
            requests_outbound: opt(format::requests_file(Direction::Outbound))?,
            messages_outbound: join(dir, format::messages_file(Direction::Outbound)),
            messages_inbound: opt(format::messages_file(Direction::Inbound))?,
            connection_requests: match connection_dir {
                Some(c) => present(join(c, format::requests_file(Direction::Inbound)))?,
                None => None,
            },
            checksums: Digests::expect(checksums),
            store,
        })
    }
}

impl ChannelFiles {
    /// Opens one of the channel's files as a chunk stream under the structure rules of `kind`,
    /// hashing it (SHA-256, on a second thread for files over 1 MiB) only when a digest is
    /// expected for it: pinned by the gate, or from `SHA256SUM` for raw files. `--unverified` expects none, so nothing is hashed (as its
    /// warning says, no checksum was checked); the CRC of every chunk is checked either way.
    pub fn stream(
        &self,
        path: &str,
        kind: StreamKind,
    ) -> Result<ChunkStream<Box<dyn std::io::Read + Send + '_>>, bsr_core::Error> {
        open_stream(&*self.store, &self.checksums, path, kind)
    }
}

/// [`ChannelFiles::stream`] for a store and digests given apart.
pub fn open_stream<'a>(
    store: &'a dyn ReadStore,
    checksums: &Digests,
    path: &str,
    kind: StreamKind,
) -> Result<ChunkStream<Box<dyn std::io::Read + Send + 'a>>, bsr_core::Error> {
    if let Some(r) = checksums.take_shared(path) {
        // What the verifier reads and hashes, block by block: nothing to hash here.
        let src: Box<dyn std::io::Read + Send + 'a> = Box::new(r);
        return Ok(ChunkStream::new(src, &store.describe(path)).with_structure(kind));
    }
    let s = ChunkStream::new(store.open(path)?, &store.describe(path)).with_structure(kind);
    Ok(if checksums.contains_key(path) {
        // The conversion or the emulator keeps this core busy: the hash runs on another.
        s.with_sha256_on_thread()
    } else {
        s
    })
}

/// Picks the channel to convert: the given ids, or the only shell/exec channel. When the
/// choice is ambiguous the error lists the channels.
pub fn select_channel(
    rec: &Recording,
    connection: Option<&str>,
    channel: Option<&str>,
) -> Result<ChannelFiles, ConvertError> {
    let mut candidates = Vec::new();
    let mut all = Vec::new();
    for conn in rec.connections()? {
        if connection.is_some_and(|c| c != conn.id()) {
            continue;
        }
        for ch in conn.channels()? {
            if channel.is_some_and(|c| c != ch.id()) {
                continue;
            }
            let program = ch.summary()?.map(|s| s.session_program).unwrap_or_default();
            all.push(escape(&format!(
                "  --connection {} --channel {}  ({}, {})",
                conn.id(),
                ch.id(),
                ch.channel_type(),
                if program.is_empty() { "?" } else { &program }
            )));
            let interactive = ch.channel_type() == "session"
                && (program == "shell" || program == "exec" || program.is_empty());
            if channel.is_some() || interactive {
                candidates.push((conn.dir().to_string(), ch));
            }
        }
    }
    match candidates.len() {
        1 => {
            let (cdir, ch) = candidates.remove(0);
            ChannelFiles::of_channel(&ch, Some(&cdir))
        }
        0 if all.is_empty() => Err(ConvertError::Selection(format!(
            "{}: no such channel",
            escape(rec.dir())
        ))),
        0 => Err(ConvertError::NotInteractive(format!(
            "{}: no shell or exec channel to convert; the channels are:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
        _ => Err(ConvertError::Selection(format!(
            "{}: several channels could be converted; pick one with --connection and --channel:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
    }
}
