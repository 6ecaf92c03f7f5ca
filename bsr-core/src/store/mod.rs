//! Where recordings live.
//!
//! A store holds files under `/`-separated relative paths (`sr_x.bsr/SHA256SUM`). Two traits:
//! [`ReadStore`] for readers and verifiers (local folders, memory, S3 behind the cargo feature
//! `s3`), and
//! [`WriteStore`] for the writer (local folders, memory). Paths are checked by
//! [`check_path`]: no empty, `.` or `..` component, no NUL, no backslash, no leading `/`.
//!
//! [`FsStore`] never follows a symbolic link: a link anywhere in a path makes the operation fail
//! with an error, and [`ReadStore::list`] reports links as [`EntryKind::Symlink`].
//!
//! Imports: only [`crate::error`]. The store knows nothing of the recording format; the
//! reader (`read`) and the writer (`write`) reach files only through these traits.

use crate::error::{Error, Result};
use bytes::Bytes;
use std::fs::File;
use std::io::{Read, Write};

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
    /// Entries directly below `dir`, handed to `each` as they arrive, in the store's own order
    /// (not sorted): a local folder's entries one by one, an object store's one page at a time,
    /// so that a caller walking a large archive can start on the first entries before the last
    /// are listed, holding no more than a page. An error from `each` ends the listing and is
    /// returned. The default lists everything with [`ReadStore::list`] first.
    fn list_each(&self, dir: &str, each: &mut dyn FnMut(DirEntry) -> Result<()>) -> Result<()> {
        for e in self.list(dir)? {
            each(e)?;
        }
        Ok(())
    }
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
    /// Writes `data` as the whole content of `path`, durably, replacing what a regular file
    /// there held. The default creates the file, so it fails if the file exists: stores that
    /// recovery works on (local folders, memory) override it.
    fn replace(&self, path: &str, data: &[u8]) -> Result<()> {
        let mut f = self.create(path)?;
        f.write_all(data).map_err(|e| Error::io(path, e))?;
        f.sync()
    }
    /// Cuts the regular file at `path` to `len` bytes and appends `tail`, durably (recovery
    /// closing a torn data file). The default refuses: the store cannot rewrite files.
    fn truncate_append(&self, path: &str, len: u64, tail: &[u8]) -> Result<()> {
        let _ = (len, tail);
        Err(Error::Usage(format!(
            "{path}: this store cannot rewrite files in place"
        )))
    }
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

/// Whether an optional file is there: `false` only when it does not exist; a file that
/// exists but cannot be read or is not a regular file (a FIFO, a folder) is an error naming it.
pub fn exists(store: &dyn ReadStore, path: &str) -> Result<bool> {
    match store.size(path) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Joins a directory and a base name into a store path.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

mod fs;
mod mem;
#[cfg(feature = "s3")]
pub mod s3;

pub use fs::FsStore;
pub(crate) use fs::file_kind;
pub use mem::MemStore;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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

#[cfg(test)]
mod hostile_files {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and fails the test if it does not return within 10 s (a FIFO
    /// opened for reading blocks until a writer comes).
    fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(v) => v,
            Err(_) => panic!("hung on a FIFO"),
        }
    }

    /// Issue 14 finding 1: a FIFO inside a recording hung `facts`, `events` and `convert`.
    /// Every way the library opens a recording file refuses it, naming the file, without
    /// blocking.
    #[test]
    fn fifo_in_a_recording_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("requests-inbound.data");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let root = d.path().to_path_buf();
        let results = within_deadline(move || {
            let s = FsStore::new(root);
            let name = "requests-inbound.data";
            vec![
                s.open(name).map(|_| ()),
                s.read_bytes(name).map(|_| ()),
                s.size(name).map(|_| ()),
                s.open_local(name).map(|_| ()),
                s.read_limited(name, 10).map(|_| ()),
                crate::read::ChunkStream::open(&s, name, false).map(|_| ()),
                crate::read::ChunkStream::open(&s, name, true).map(|_| ()),
                s.replace(name, b"x"),
                s.truncate_append(name, 0, b"x"),
            ]
        });
        for r in results {
            match r {
                Err(Error::NotRegularFile { path, kind }) => {
                    assert!(path.ends_with("requests-inbound.data"), "{path}");
                    assert_eq!(kind, "FIFO");
                }
                other => panic!("FIFO not refused: {other:?}"),
            }
        }
    }

    /// Symbolic links inside a recording are refused the same way (never followed).
    #[test]
    fn symlink_in_a_recording_is_refused_as_not_regular() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("target"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("target"), d.path().join("link")).unwrap();
        let s = FsStore::new(d.path());
        for r in [s.open("link").map(|_| ()), s.size("link").map(|_| ())] {
            assert!(
                matches!(r, Err(Error::NotRegularFile { kind, .. }) if kind.starts_with("symbolic link")),
                "{r:?}"
            );
        }
    }
}
