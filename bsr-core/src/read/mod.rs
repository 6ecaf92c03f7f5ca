//! Opening and navigating recordings.
//!
//! [`Recording`] opens a session container from any [`ReadStore`] and walks session →
//! connections → channels through the `.meta` files. Data files come back as [`DataFile`]s whose
//! bytes are a [`Bytes`] (a memory map for local folders, so iteration is zero copy); their chunks
//! are iterated with [`ChunkReader`]. Reading needs no keys and checks nothing beyond what it
//! parses: verification is a separate step (`bsr-verify`).
//!
//! Reading is lenient about what an unfinished recording lacks: a missing summary is `None`.
//!
//! Rooms: [`chunk`] (decoding chunks from a slice), [`decoder`] (the push decoder),
//! [`structure`] (the chunk-structure rules, once), `stream` ([`ChunkStream`]: a file read
//! or mapped window by window, CRC and SHA-256 in one pass), [`share`] (one read of a file for the
//! verifier and a view), and this module (the tree).
//!
//! Imports: [`crate::error`], [`crate::format`], [`crate::keys`] (to parse key files),
//! [`crate::ssh`] and [`crate::store`]. Never `write`.
//!
//! ```
//! # use bsr_core::store::MemStore;
//! # use std::sync::Arc;
//! use bsr_core::read::Recording;
//! # fn demo(store: Arc<MemStore>) -> bsr_core::Result<()> {
//! let rec = Recording::open(store, "sr_1234567890.bsr")?;
//! for conn in rec.connections()? {
//!     for chan in conn.channels()? {
//!         let out = chan.messages(bsr_core::Direction::Outbound)?;
//!         for chunk in out.chunks()? {
//!             let chunk = chunk?;
//!             if chunk.is_data() {
//!                 println!("{} bytes at {:?}", chunk.data()?.len(), chunk.time);
//!             }
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod chunk;
pub mod decoder;
pub mod follow;
mod hash_thread;
pub mod share;
mod stream;
pub mod structure;

pub use chunk::ChunkReader;
pub use stream::{ChunkStream, HASH_THREAD_FROM, STREAM_MAP_MIN, STREAM_MAP_WINDOW, StreamEnd};

use crate::error::{Error, Result};
use crate::format::checksum::{self, ChecksumEntry};
use crate::format::meta::{
    ChannelRecordingMeta, ChannelSummary, ConnectionRecordingMeta, ConnectionSummary, SessionMeta,
    SessionRecordingMeta, SessionSummary,
};
use crate::format::{self, ContainerKind, Direction};
use crate::keys::SessionKeyFiles;
use crate::store::{EntryKind, ReadStore, exists, join};
use bytes::Bytes;
use std::sync::Arc;

/// Largest `.meta`, summary, `session-meta.json` or key file read into memory.
pub const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;
/// Largest `SHA256SUM` read into memory.
pub const MAX_CHECKSUM_FILE: u64 = 16 * 1024 * 1024;

fn read_small(store: &dyn ReadStore, path: &str) -> Result<Vec<u8>> {
    store.read_limited(path, MAX_SMALL_FILE)
}

/// Checks that `name` is `<id><suffix>` with a plain id, returning the id.
pub fn container_id(name: &str, kind: ContainerKind) -> Option<&str> {
    let id = name.strip_suffix(kind.dir_suffix())?;
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(id)
}

/// What a container's meta type says about it: its kind, its summary and how both parse.
pub trait ContainerMeta: Clone + std::fmt::Debug {
    /// The container kind.
    const KIND: ContainerKind;
    /// The parsed summary file.
    type Summary;
    /// Parses the meta file at `path`.
    fn parse_meta(bytes: &[u8], path: &str) -> Result<Self>;
    /// Parses the summary file at `path`.
    fn parse_summary(bytes: &[u8], path: &str) -> Result<Self::Summary>;
    /// The container's id (the meta's `id` line).
    fn container_id(&self) -> &str;
}

macro_rules! container_meta {
    ($meta:ty, $kind:expr, $summary:ty) => {
        impl ContainerMeta for $meta {
            const KIND: ContainerKind = $kind;
            type Summary = $summary;
            fn parse_meta(bytes: &[u8], path: &str) -> Result<Self> {
                <$meta>::parse(bytes, path)
            }
            fn parse_summary(bytes: &[u8], path: &str) -> Result<Self::Summary> {
                <$summary>::parse(bytes, path)
            }
            fn container_id(&self) -> &str {
                &self.id
            }
        }
    };
}
container_meta!(SessionRecordingMeta, ContainerKind::Session, SessionSummary);
container_meta!(
    ConnectionRecordingMeta,
    ContainerKind::Connection,
    ConnectionSummary
);
container_meta!(ChannelRecordingMeta, ContainerKind::Channel, ChannelSummary);

/// An opened container (session, connection or channel): its store, its folder and its
/// parsed meta file. [`Recording`], [`ConnectionRecording`] and [`ChannelRecording`] name
/// the three kinds.
#[derive(Debug, Clone)]
pub struct Container<M> {
    store: Arc<dyn ReadStore>,
    dir: String,
    meta: M,
}

/// An opened session recording (a `*.bsr` folder).
pub type Recording = Container<SessionRecordingMeta>;
/// A connection container (a `*.connection` folder).
pub type ConnectionRecording = Container<ConnectionRecordingMeta>;
/// A channel container (a `*.channel` folder).
pub type ChannelRecording = Container<ChannelRecordingMeta>;

impl<M: ContainerMeta> Container<M> {
    /// Opens `<dir>` in `store` and parses its meta file.
    pub fn open(store: Arc<dyn ReadStore>, dir: &str) -> Result<Self> {
        crate::store::check_path(dir)?;
        let path = join(dir, M::KIND.meta_file());
        let meta = M::parse_meta(&read_small(&*store, &path)?, &path)?;
        Ok(Container {
            store,
            dir: dir.to_string(),
            meta,
        })
    }
    /// The store.
    pub fn store(&self) -> &Arc<dyn ReadStore> {
        &self.store
    }
    /// The folder in the store.
    pub fn dir(&self) -> &str {
        &self.dir
    }
    /// The container's recording id (from the meta).
    pub fn id(&self) -> &str {
        self.meta.container_id()
    }
    /// The parsed meta file.
    pub fn meta(&self) -> &M {
        &self.meta
    }
    /// The summary file, or `None` if absent (an unfinished container).
    pub fn summary(&self) -> Result<Option<M::Summary>> {
        let p = join(&self.dir, M::KIND.summary_file());
        if !exists(&*self.store, &p)? {
            return Ok(None);
        }
        M::parse_summary(&read_small(&*self.store, &p)?, &p).map(Some)
    }
    /// The container's `SHA256SUM` entries (`None` if absent).
    pub fn checksums(&self) -> Result<Option<Vec<ChecksumEntry>>> {
        read_checksums(&*self.store, &self.dir)
    }
    /// Opens the child containers named in `names`, in order.
    fn children<C: ContainerMeta>(&self, names: &[String]) -> Result<Vec<Container<C>>> {
        names
            .iter()
            .map(|name| Container::open(self.store.clone(), &join(&self.dir, name)))
            .collect()
    }
    /// Opens one of the container's data files.
    fn data_file(&self, name: &str) -> Result<DataFile> {
        DataFile::open(&*self.store, &join(&self.dir, name))
    }
}

impl Recording {
    /// Opens a local `*.bsr` folder.
    pub fn open_path(path: &std::path::Path) -> Result<Self> {
        let parent = path.parent().unwrap_or_else(|| std::path::Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Usage(format!("{} is not a recording folder", path.display())))?;
        Recording::open(Arc::new(crate::store::FsStore::new(parent)), &name)
    }

    /// Every `*.bsr` folder at or below `dir` (depth-first, sorted, symlinks skipped), up to
    /// `max_depth` levels deep.
    pub fn find_all(store: &dyn ReadStore, dir: &str, max_depth: usize) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if dir.ends_with(format::SESSION_DIR_SUFFIX) {
            out.push(dir.to_string());
            return Ok(out);
        }
        let mut stack = vec![(dir.to_string(), 0usize)];
        while let Some((d, depth)) = stack.pop() {
            let mut subdirs = Vec::new();
            for e in store.list(&d)? {
                if e.kind != EntryKind::Dir {
                    continue;
                }
                let p = join(&d, &e.name);
                if e.name.ends_with(format::SESSION_DIR_SUFFIX) {
                    out.push(p);
                } else if depth < max_depth {
                    subdirs.push((p, depth + 1));
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        out.sort();
        Ok(out)
    }

    /// `session-meta.json`, or `None` if absent.
    pub fn session_meta(&self) -> Result<Option<SessionMeta>> {
        let p = join(&self.dir, format::SESSION_META_FILE);
        if !exists(&*self.store, &p)? {
            return Ok(None);
        }
        SessionMeta::parse(&read_small(&*self.store, &p)?, &p).map(Some)
    }
    /// The five key files, parsed.
    pub fn key_files(&self) -> Result<SessionKeyFiles> {
        let r = |n: &str| read_small(&*self.store, &join(&self.dir, n));
        SessionKeyFiles::parse(
            &r(format::PUB_KEY_FILE)?,
            &r(format::WRAPPED_BSR_KEY_FILE)?,
            &r(format::WRAPPED_PRIV_KEY_FILE)?,
            &r(format::PUB_KEY_SELF_SIG_FILE)?,
            &r(format::PUB_KEY_BSR_SIG_FILE)?,
        )
    }
    /// The connections listed in the meta, in order.
    pub fn connections(&self) -> Result<Vec<ConnectionRecording>> {
        self.children(&self.meta.connections)
    }
    /// Whether the recording was finished (the session `SHA256SUM.sig` exists as a regular
    /// file; a FIFO or folder in its place is not a finished recording).
    pub fn is_finished(&self) -> bool {
        exists(&*self.store, &join(&self.dir, format::SIG_FILE)).unwrap_or(false)
    }
}

/// The entries of `<dir>/SHA256SUM`, `None` if the file does not exist.
pub fn read_checksums(store: &dyn ReadStore, dir: &str) -> Result<Option<Vec<ChecksumEntry>>> {
    let p = join(dir, format::CHECKSUM_FILE);
    if !exists(store, &p)? {
        return Ok(None);
    }
    let bytes = store.read_limited(&p, MAX_CHECKSUM_FILE)?;
    checksum::parse(&bytes, &p).map(Some)
}

impl ConnectionRecording {
    /// The channels listed in the meta, in order.
    pub fn channels(&self) -> Result<Vec<ChannelRecording>> {
        self.children(&self.meta.channels)
    }
    /// `requests-<dir>.data` of the connection.
    pub fn requests(&self, d: Direction) -> Result<DataFile> {
        self.data_file(format::requests_file(d))
    }
}

impl ChannelRecording {
    /// The SSH channel type from the meta (`session`, `direct-tcpip`, …).
    pub fn channel_type(&self) -> &str {
        &self.meta.channel_type
    }
    /// `messages-<dir>.data`.
    pub fn messages(&self, d: Direction) -> Result<DataFile> {
        self.data_file(format::messages_file(d))
    }
    /// `requests-<dir>.data`.
    pub fn requests(&self, d: Direction) -> Result<DataFile> {
        self.data_file(format::requests_file(d))
    }
}

/// A whole `.data` file in memory (mapped for local stores).
#[derive(Debug, Clone)]
pub struct DataFile {
    path: String,
    bytes: Bytes,
}

impl DataFile {
    /// Reads (maps) `path`.
    pub fn open(store: &dyn ReadStore, path: &str) -> Result<Self> {
        let bytes = store.read_bytes(path)?;
        Ok(DataFile {
            path: path.to_string(),
            bytes,
        })
    }
    /// Wraps bytes that came from elsewhere.
    pub fn from_bytes(path: &str, bytes: Bytes) -> Self {
        DataFile {
            path: path.to_string(),
            bytes,
        }
    }
    /// The path in its store.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The raw bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// Iterates the chunks (zero copy). Errors name this file.
    pub fn chunks(&self) -> Result<Chunks<'_>> {
        let reader = ChunkReader::new(&self.bytes).map_err(|e| e.in_file(&self.path))?;
        Ok(Chunks {
            reader,
            path: &self.path,
        })
    }
    /// SHA-256 of the whole file.
    pub fn sha256(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(&self.bytes).into()
    }
}

/// Iterator over the chunks of a [`DataFile`]; errors carry the file's path.
#[derive(Debug)]
pub struct Chunks<'a> {
    reader: ChunkReader<'a>,
    path: &'a str,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<crate::read::chunk::Chunk<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.reader
            .next()
            .map(|r| r.map_err(|e| e.in_file(self.path)))
    }
}
