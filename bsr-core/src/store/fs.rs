//! A local folder as a store ([`FsStore`]). Symbolic links are never followed.

use super::{DirEntry, EntryKind, ReadStore, StoreFile, WriteStore, check_path};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

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
                        return Err(Error::NotRegularFile {
                            path: p.display().to_string(),
                            kind: "symbolic link (not followed)",
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(p)
    }

    /// Opens the regular file at `p` for reading without following a symbolic link and without
    /// blocking (a FIFO opened for reading would wait for a writer), then refuses anything the
    /// descriptor shows is not a regular file, before a byte is read.
    fn open_nofollow(p: &Path) -> Result<File> {
        Self::open_regular(p, OpenOptions::new().read(true))
    }

    /// Opens `p` with `how`, never following a symbolic link nor blocking, and refuses what is
    /// not a regular file.
    fn open_regular(p: &Path, how: &mut OpenOptions) -> Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = how
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(p)
            .map_err(|e| Self::open_error(p, e))?;
        Self::check_regular(p, &f)?;
        Ok(f)
    }

    fn open_error(p: &Path, e: std::io::Error) -> Error {
        let path = p.display().to_string();
        match e.raw_os_error() {
            // O_NOFOLLOW on a symbolic link.
            Some(libc::ELOOP) => Error::NotRegularFile {
                path,
                kind: "symbolic link (not followed)",
            },
            // A FIFO opened for writing without a reader.
            Some(libc::ENXIO) => Error::NotRegularFile { path, kind: "FIFO" },
            _ => Error::io(path, e),
        }
    }

    fn check_regular(p: &Path, f: &File) -> Result<()> {
        let m = f
            .metadata()
            .map_err(|e| Error::io(p.display().to_string(), e))?;
        if m.file_type().is_file() {
            return Ok(());
        }
        Err(Error::NotRegularFile {
            path: p.display().to_string(),
            kind: file_kind(&m.file_type()),
        })
    }
}

/// The kind of a file that is not a regular file, for messages.
pub(crate) fn file_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "folder"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

impl ReadStore for FsStore {
    fn list_each(&self, dir: &str, each: &mut dyn FnMut(DirEntry) -> Result<()>) -> Result<()> {
        let p = self.resolve(dir)?;
        let meta =
            std::fs::symlink_metadata(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        if meta.file_type().is_symlink() {
            return Err(Error::NotRegularFile {
                path: p.display().to_string(),
                kind: "symbolic link (not followed)",
            });
        }
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
            each(DirEntry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind,
                size,
            })?;
        }
        Ok(())
    }

    fn list(&self, dir: &str) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        self.list_each(dir, &mut |e| {
            out.push(e);
            Ok(())
        })?;
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
            return Err(Error::NotRegularFile {
                path: p.display().to_string(),
                kind: file_kind(&m.file_type()),
            });
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
        Ok(Some(Self::open_nofollow(&p)?))
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

    fn replace(&self, path: &str, data: &[u8]) -> Result<()> {
        let p = self.resolve(path)?;
        let mut f = Self::open_regular(&p, OpenOptions::new().write(true).create(true))?;
        let at = |e| Error::io(p.display().to_string(), e);
        f.set_len(0).map_err(at)?;
        f.write_all(data).map_err(at)?;
        f.sync_all().map_err(at)
    }

    fn truncate_append(&self, path: &str, len: u64, tail: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let p = self.resolve(path)?;
        let mut f = Self::open_regular(&p, OpenOptions::new().write(true))?;
        let at = |e| Error::io(p.display().to_string(), e);
        f.set_len(len).map_err(at)?;
        f.seek(SeekFrom::Start(len)).map_err(at)?;
        f.write_all(tail).map_err(at)?;
        f.sync_all().map_err(at)
    }
}
