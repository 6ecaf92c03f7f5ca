//! Where recordings live.
//!
//! A store holds files under `/`-separated relative paths (`sr_x.bsr/SHA256SUM`). Two traits:
//! [`ReadStore`] for readers and verifiers (local folders, memory, S3 in `bsr-verify`), and
//! [`WriteStore`] for the writer (local folders, memory). Paths are checked by
//! [`check_path`]: no empty, `.` or `..` component, no NUL, no backslash, no leading `/`.
//!
//! [`FsStore`] never follows a symbolic link: a link anywhere in a path makes the operation fail
//! with an error, and [`ReadStore::list`] reports links as [`EntryKind::Symlink`].

use crate::error::{Error, Result};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (an object in an object store).
    File,
    /// A directory (a common prefix in an object store).
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// One entry of [`ReadStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Base name.
    pub name: String,
    /// Kind.
    pub kind: EntryKind,
    /// Size in bytes (files only; 0 otherwise).
    pub size: u64,
}

/// Read access to a store.
pub trait ReadStore: Send + Sync + std::fmt::Debug {
    /// Entries directly below `dir` (`""` is the root), sorted by name.
    fn list(&self, dir: &str) -> Result<Vec<DirEntry>>;
    /// Opens `path` for sequential reading.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>>;
    /// Size of the file at `path`.
    fn size(&self, path: &str) -> Result<u64>;
    /// Reads the whole file, failing with [`Error::TooLarge`] (before reading) when it is larger
    /// than `limit` bytes.
    fn read_limited(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let size = self.size(path)?;
        if size > limit {
            return Err(Error::TooLarge {
                loc: crate::Location::at(0).in_file(path),
                what: "file",
                size,
                limit,
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        self.open(path)?
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::io(path, e))?;
        if out.len() as u64 > limit {
            return Err(Error::TooLarge {
                loc: crate::Location::at(0).in_file(path),
                what: "file",
                size: out.len() as u64,
                limit,
            });
        }
        Ok(out)
    }
    /// The whole file as [`Bytes`]; local stores map it (zero copy), others read it.
    fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.read_limited(path, u64::MAX).map(Bytes::from)
    }
    /// The regular file at `path` opened read-only when the store is a local folder (no
    /// symbolic link followed), `Ok(None)` for every other store. Readers use it to map large
    /// files window by window ([`crate::read::ChunkStream::open`]).
    fn open_local(&self, _path: &str) -> Result<Option<File>> {
        Ok(None)
    }
    /// The SHA-256 the store itself keeps for the object (S3 `ChecksumSHA256`), if any.
    fn stored_sha256(&self, _path: &str) -> Result<Option<[u8; 32]>> {
        Ok(None)
    }
    /// A human-readable name of `path` for messages (`/abs/dir/path`, `s3://bucket/key`).
    fn describe(&self, path: &str) -> String {
        path.to_string()
    }
    /// True when [`ReadStore::read_bytes`] is cheap (a memory map or memory), so readers may
    /// take whole files at once; false for remote stores, which are read as streams.
    fn is_local(&self) -> bool {
        false
    }
}

/// A file being written.
pub trait StoreFile: Write + Send {
    /// Makes everything written so far durable (data and file metadata).
    fn sync(&mut self) -> Result<()>;
}

/// Write access to a store.
pub trait WriteStore: Send + Sync + std::fmt::Debug {
    /// Creates directory `dir` (its parent must exist). Fails if it exists.
    fn create_dir(&self, dir: &str) -> Result<()>;
    /// Creates a new file at `path` (fails if it exists).
    fn create(&self, path: &str) -> Result<Box<dyn StoreFile>>;
    /// Makes the directory entries of `dir` durable (after files were created in it).
    fn sync_dir(&self, dir: &str) -> Result<()>;
}

/// Checks a store path: relative, `/`-separated, no empty/`.`/`..` component, no NUL or `\`.
pub fn check_path(path: &str) -> Result<()> {
    if path.is_empty() {
        return Ok(());
    }
    let bad = |why: &str| Err(Error::Usage(format!("invalid store path {path:?}: {why}")));
    if path.starts_with('/') {
        return bad("absolute");
    }
    if path.contains('\0') || path.contains('\\') {
        return bad("NUL or backslash");
    }
    for c in path.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            return bad("empty, '.' or '..' component");
        }
    }
    Ok(())
}

/// Joins a directory and a base name into a store path.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

// ---------------------------------------------------------------------------------------------
// Local filesystem
// ---------------------------------------------------------------------------------------------

/// A local folder. Symbolic links are never followed.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// A store rooted at `root` (which must exist for reading).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsStore { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a store path to a filesystem path, refusing symlinks in every existing
    /// component below the root.
    fn resolve(&self, path: &str) -> Result<PathBuf> {
        check_path(path)?;
        let mut p = self.root.clone();
        if path.is_empty() {
            return Ok(p);
        }
        let comps: Vec<&str> = path.split('/').collect();
        for (i, c) in comps.iter().enumerate() {
            p.push(c);
            if i + 1 < comps.len() {
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(Error::io(
                            p.display().to_string(),
                            std::io::Error::other("symbolic link in path (not followed)"),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(p)
    }

    fn open_nofollow(p: &Path) -> Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(p)
            .map_err(|e| Error::io(p.display().to_string(), e))
    }
}

impl ReadStore for FsStore {
    fn list(&self, dir: &str) -> Result<Vec<DirEntry>> {
        let p = self.resolve(dir)?;
        let meta =
            std::fs::symlink_metadata(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        if meta.file_type().is_symlink() {
            return Err(Error::io(
                p.display().to_string(),
                std::io::Error::other("symbolic link (not followed)"),
            ));
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(&p).map_err(|e| Error::io(p.display().to_string(), e))? {
            let e = e.map_err(|e| Error::io(p.display().to_string(), e))?;
            let ft = e
                .file_type()
                .map_err(|err| Error::io(e.path().display().to_string(), err))?;
            let kind = if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            let size = if kind == EntryKind::File {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            };
            out.push(DirEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind,
                size,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let p = self.resolve(path)?;
        Ok(Box::new(Self::open_nofollow(&p)?))
    }

    fn size(&self, path: &str) -> Result<u64> {
        let p = self.resolve(path)?;
        let m = std::fs::symlink_metadata(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        if !m.file_type().is_file() {
            return Err(Error::io(
                p.display().to_string(),
                std::io::Error::other("not a regular file (symbolic links are not followed)"),
            ));
        }
        Ok(m.len())
    }

    /// Maps the file (zero copy).
    ///
    /// # Mmap safety contract
    /// The mapping is only sound while nobody truncates or rewrites the file. Recordings are
    /// immutable once closed; a verifier that maps a file that another process modifies may see
    /// changing bytes (never undefined behaviour in safe code that only reads `&[u8]`, except if
    /// the file shrinks, which raises SIGBUS). Callers that cannot rule this out use
    /// [`ReadStore::open`] instead. Empty files are not mapped.
    fn read_bytes(&self, path: &str) -> Result<Bytes> {
        let p = self.resolve(path)?;
        let f = Self::open_nofollow(&p)?;
        let len = f
            .metadata()
            .map_err(|e| Error::io(p.display().to_string(), e))?
            .len();
        if len == 0 {
            return Ok(Bytes::new());
        }
        #[allow(unsafe_code)]
        // SAFETY: see the contract above; the file is opened read-only and the map is private.
        let map =
            unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(p.display().to_string(), e))?;
        Ok(Bytes::from_owner(map))
    }

    fn open_local(&self, path: &str) -> Result<Option<File>> {
        let p = self.resolve(path)?;
        let f = Self::open_nofollow(&p)?;
        let m = f
            .metadata()
            .map_err(|e| Error::io(p.display().to_string(), e))?;
        if !m.file_type().is_file() {
            return Err(Error::io(
                p.display().to_string(),
                std::io::Error::other("not a regular file"),
            ));
        }
        Ok(Some(f))
    }

    fn describe(&self, path: &str) -> String {
        self.root.join(path).display().to_string()
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[derive(Debug)]
struct FsFile {
    file: File,
    path: String,
}

impl Write for FsFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl StoreFile for FsFile {
    fn sync(&mut self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| Error::io(self.path.clone(), e))
    }
}

impl WriteStore for FsStore {
    fn create_dir(&self, dir: &str) -> Result<()> {
        let p = self.resolve(dir)?;
        std::fs::create_dir(&p).map_err(|e| Error::io(p.display().to_string(), e))
    }

    fn create(&self, path: &str) -> Result<Box<dyn StoreFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.resolve(path)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&p)
            .map_err(|e| Error::io(p.display().to_string(), e))?;
        Ok(Box::new(FsFile {
            file,
            path: p.display().to_string(),
        }))
    }

    fn sync_dir(&self, dir: &str) -> Result<()> {
        let p = self.resolve(dir)?;
        let f = File::open(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        f.sync_all()
            .map_err(|e| Error::io(p.display().to_string(), e))
    }
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum MemNode {
    Dir,
    File(Arc<Mutex<Vec<u8>>>),
}

/// An in-memory store, for tests and fuzzing. Cloning shares the same contents.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    nodes: Arc<Mutex<BTreeMap<String, MemNode>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a file (creating parent directories), replacing any previous content.
    pub fn put(&self, path: &str, data: impl Into<Vec<u8>>) -> Result<()> {
        check_path(path)?;
        let mut nodes = lock(&self.nodes);
        let mut acc = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            acc = join(&acc, c);
            nodes.entry(acc.clone()).or_insert(MemNode::Dir);
        }
        nodes.insert(
            path.to_string(),
            MemNode::File(Arc::new(Mutex::new(data.into()))),
        );
        Ok(())
    }

    /// Removes a file or an empty directory; returns whether it existed.
    pub fn remove(&self, path: &str) -> bool {
        lock(&self.nodes).remove(path).is_some()
    }

    /// A copy of a file's content.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        match lock(&self.nodes).get(path) {
            Some(MemNode::File(f)) => Some(lock(f).clone()),
            _ => None,
        }
    }

    /// All file paths, sorted.
    pub fn files(&self) -> Vec<String> {
        lock(&self.nodes)
            .iter()
            .filter(|(_, n)| matches!(n, MemNode::File(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Copies every file and directory below `src` in `from` to the same paths in this store.
    pub fn copy_from(&self, from: &dyn ReadStore, dir: &str) -> Result<()> {
        for e in from.list(dir)? {
            let p = join(dir, &e.name);
            match e.kind {
                EntryKind::Dir => {
                    lock(&self.nodes).insert(p.clone(), MemNode::Dir);
                    self.copy_from(from, &p)?;
                }
                EntryKind::File => {
                    let data = from.read_limited(&p, u64::MAX)?;
                    self.put(&p, data)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn not_found(path: &str) -> Error {
        Error::io(path, std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

impl ReadStore for MemStore {
    fn list(&self, dir: &str) -> Result<Vec<DirEntry>> {
        check_path(dir)?;
        let nodes = lock(&self.nodes);
        if !dir.is_empty() && !matches!(nodes.get(dir), Some(MemNode::Dir)) {
            return Err(Self::not_found(dir));
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut out = Vec::new();
        for (k, n) in nodes.range(prefix.clone()..) {
            let Some(rest) = k.strip_prefix(&prefix) else {
                break;
            };
            if rest.is_empty() || rest.contains('/') {
                continue;
            }
            let (kind, size) = match n {
                MemNode::Dir => (EntryKind::Dir, 0),
                MemNode::File(f) => (EntryKind::File, lock(f).len() as u64),
            };
            out.push(DirEntry {
                name: rest.to_string(),
                kind,
                size,
            });
        }
        Ok(out)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let data = self.get(path).ok_or_else(|| Self::not_found(path))?;
        Ok(Box::new(std::io::Cursor::new(data)))
    }

    fn size(&self, path: &str) -> Result<u64> {
        match lock(&self.nodes).get(path) {
            Some(MemNode::File(f)) => Ok(lock(f).len() as u64),
            _ => Err(Self::not_found(path)),
        }
    }

    fn read_bytes(&self, path: &str) -> Result<Bytes> {
        self.get(path)
            .map(Bytes::from)
            .ok_or_else(|| Self::not_found(path))
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[derive(Debug)]
struct MemFile {
    data: Arc<Mutex<Vec<u8>>>,
}

impl Write for MemFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.data).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StoreFile for MemFile {
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

impl WriteStore for MemStore {
    fn create_dir(&self, dir: &str) -> Result<()> {
        check_path(dir)?;
        let mut nodes = lock(&self.nodes);
        if nodes.contains_key(dir) {
            return Err(Error::io(
                dir,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        if let Some((parent, _)) = dir.rsplit_once('/')
            && !matches!(nodes.get(parent), Some(MemNode::Dir))
        {
            return Err(Self::not_found(parent));
        }
        nodes.insert(dir.to_string(), MemNode::Dir);
        Ok(())
    }

    fn create(&self, path: &str) -> Result<Box<dyn StoreFile>> {
        check_path(path)?;
        let mut nodes = lock(&self.nodes);
        if nodes.contains_key(path) {
            return Err(Error::io(
                path,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        if let Some((parent, _)) = path.rsplit_once('/')
            && !matches!(nodes.get(parent), Some(MemNode::Dir))
        {
            return Err(Self::not_found(parent));
        }
        let data = Arc::new(Mutex::new(Vec::new()));
        nodes.insert(path.to_string(), MemNode::File(data.clone()));
        Ok(Box::new(MemFile { data }))
    }

    fn sync_dir(&self, _dir: &str) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(check_path("a/b.bsr/c").is_ok());
        for bad in ["/a", "a//b", "a/../b", "..", "a/.", "a\\b", "a\0"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mem_roundtrip() {
        let s = MemStore::new();
        s.create_dir("x").unwrap();
        let mut f = s.create("x/a").unwrap();
        f.write_all(b"hello").unwrap();
        drop(f);
        assert!(s.create("x/a").is_err());
        assert!(s.create("y/a").is_err());
        assert_eq!(s.read_limited("x/a", 10).unwrap(), b"hello");
        assert!(matches!(
            s.read_limited("x/a", 4),
            Err(Error::TooLarge { .. })
        ));
        let l = s.list("x").unwrap();
        assert_eq!(
            l,
            vec![DirEntry {
                name: "a".into(),
                kind: EntryKind::File,
                size: 5
            }]
        );
        assert_eq!(s.list("").unwrap()[0].kind, EntryKind::Dir);
    }

    #[test]
    fn fs_symlinks_not_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("r")).unwrap();
        std::fs::write(d.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), d.path().join("r/link")).unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("r/dirlink")).unwrap();
        let s = FsStore::new(d.path().join("r"));
        let l = s.list("").unwrap();
        assert!(l.iter().all(|e| e.kind == EntryKind::Symlink));
        assert!(s.open("link").is_err());
        assert!(s.read_bytes("link").is_err());
        assert!(s.size("link").is_err());
        assert!(s.open("dirlink/secret").is_err());
        assert!(s.list("dirlink").is_err());
    }

    #[test]
    fn fs_write_read() {
        let d = tempfile::tempdir().unwrap();
        let s = FsStore::new(d.path());
        s.create_dir("a.bsr").unwrap();
        let mut f = s.create("a.bsr/x").unwrap();
        f.write_all(b"abc").unwrap();
        f.sync().unwrap();
        drop(f);
        s.sync_dir("a.bsr").unwrap();
        assert_eq!(&s.read_bytes("a.bsr/x").unwrap()[..], b"abc");
        assert_eq!(s.size("a.bsr/x").unwrap(), 3);
        assert!(s.create("a.bsr/x").is_err());
    }
}
