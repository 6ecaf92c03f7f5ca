//! The server's cache on disk (`--cache-dir`): the list's rows and the keyframe checkpoints,
//! kept across restarts so that a restarted server neither verifies every recording again
//! before its list is fast nor replays a channel through the emulator before it can open it
//! at a time T.
//!
//! **What an entry is.** One file per entry, `DIR/KIND/xx/KEY` (`KEY` the hex of a 32-byte
//! key, `xx` its first byte, so no folder grows past a few hundred entries per 100,000). The
//! key is a SHA-256 over everything the entry depends on (see [`key`]): for a row, the
//! recording's cache key (the SHA-256 of its `SHA256SUM.sig` and the name, size and
//! modification time of every file in its tree) and the trust anchors; for checkpoints, the
//! same cache key, the channel, and the checkpoint spacing. A recording that changed has
//! another key, so a stale entry is never found (it stays on disk, unused; delete the folder
//! to reclaim it).
//!
//! **How an entry is checked.** A file is `bsr-serve-cache v1\n`, the hex SHA-256 of the
//! payload, `\n`, then the payload. A file that does not match (torn write, bit rot, a size
//! over the reader's bound) is ignored, deleted, and the entry is computed again. Files are
//! written to a temporary file in the same folder and renamed into place, so a reader sees a
//! whole file or none.
//!
//! **Trust.** The cache holds verified conclusions (a verdict, a screen), so whoever can write
//! to it could make the server show something else. [`DiskCache::open`] creates the folder
//! with mode `0700`, and refuses a folder that is not owned by the server's user or that
//! others can write to (group or world writable). The server writes nothing anywhere else.

use super::ServeError;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"bsr-serve-cache v1\n";

/// A folder of cached entries (see the module documentation).
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

/// A SHA-256 over `parts`, each length-prefixed (so no two lists of parts give the same key).
pub fn key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

impl DiskCache {
    /// Opens (creating it, mode `0700`) the cache folder `dir`. Refuses a folder that is not
    /// owned by this process's user or that its group or others can write to.
    pub fn open(dir: &Path) -> Result<Self, ServeError> {
        let bad = |message: String| ServeError::CacheDir {
            path: crate::human::escape(&dir.display().to_string()),
            message,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| bad(e.to_string()))?;
        let meta = std::fs::symlink_metadata(dir).map_err(|e| bad(e.to_string()))?;
        if !meta.is_dir() {
            return Err(bad("not a folder".into()));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(bad(format!(
                "its group or others can write to it (mode {:o}); the cache holds verified \
                 conclusions, so only the server's user may write there (chmod go-w)",
                meta.permissions().mode() & 0o7777
            )));
        }
        // Our user id is the owner of a file we create.
        let probe = tempfile::Builder::new()
            .prefix(".owner-")
            .tempfile_in(dir)
            .map_err(|e| bad(format!("cannot write in it: {e}")))?;
        let me = probe
            .as_file()
            .metadata()
            .map_err(|e| bad(e.to_string()))?
            .uid();
        if meta.uid() != me {
            return Err(bad(format!(
                "it is owned by user {} and the server runs as user {me}; the cache holds \
                 verified conclusions, so it must be the server's own",
                meta.uid()
            )));
        }
        Ok(DiskCache {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, kind: &str, key: &[u8; 32]) -> PathBuf {
        let h = hex(key);
        self.dir.join(kind).join(&h[..2]).join(h)
    }

    /// The payload of entry `key` of `kind`, if a whole, matching file of at most `max`
    /// payload bytes is there. A file that fails its check is deleted.
    pub fn get(&self, kind: &str, key: &[u8; 32], max: u64) -> Option<Vec<u8>> {
        let p = self.path(kind, key);
        let f = std::fs::File::open(&p).ok()?;
        let head = MAGIC.len() as u64 + 65;
        let mut buf = Vec::new();
        // One byte more than allowed shows an oversized file.
        if f.take(head + max + 1).read_to_end(&mut buf).is_err() {
            return None;
        }
        let ok = buf.len() as u64 <= head + max
            && buf.len() as u64 >= head
            && buf.starts_with(MAGIC)
            && buf[head as usize - 1] == b'\n'
            && buf[MAGIC.len()..head as usize - 1]
                == *hex(&Sha256::digest(&buf[head as usize..])).as_bytes();
        if !ok {
            let _ = std::fs::remove_file(&p);
            return None;
        }
        buf.drain(..head as usize);
        Some(buf)
    }

    /// Stores `payload` as entry `key` of `kind` (a temporary file renamed into place). Errors
    /// are returned for the caller to drop: the cache is an optimisation.
    pub fn put(&self, kind: &str, key: &[u8; 32], payload: &[u8]) -> std::io::Result<()> {
        let p = self.path(kind, key);
        let parent = p.parent().unwrap_or(&self.dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".new-")
            .tempfile_in(parent)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(hex(&Sha256::digest(payload)).as_bytes())?;
        tmp.write_all(b"\n")?;
        tmp.write_all(payload)?;
        tmp.persist(&p).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_damaged_one_is_dropped() -> Result<(), Box<dyn std::error::Error>> {
        let d = tempfile::tempdir()?;
        let c = DiskCache::open(&d.path().join("cache"))?;
        let k = key(&[b"a", b"bc"]);
        assert_ne!(k, key(&[b"ab", b"c"]), "parts are length-prefixed");
        assert_eq!(c.get("rows", &k, 100), None);
        c.put("rows", &k, b"payload")?;
        assert_eq!(c.get("rows", &k, 100).as_deref(), Some(&b"payload"[..]));
        // Over the reader's bound: not taken.
        assert_eq!(c.get("rows", &k, 3), None);
        c.put("rows", &k, b"payload")?;
        // One byte of the payload changed: its digest no longer matches.
        let p = c.path("rows", &k);
        let mut b = std::fs::read(&p)?;
        let n = b.len();
        b[n - 1] ^= 1;
        std::fs::write(&p, &b)?;
        assert_eq!(c.get("rows", &k, 100), None);
        assert!(!p.exists(), "a damaged entry is deleted");
        Ok(())
    }

    #[test]
    fn a_folder_others_can_write_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let d = tempfile::tempdir()?;
        let p = d.path().join("open");
        std::fs::create_dir(&p)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777))?;
        let e = DiskCache::open(&p).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|m| m.contains("others can write")),
            "{e:?}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))?;
        assert!(DiskCache::open(&p).is_ok());
        let made = d.path().join("new/cache");
        DiskCache::open(&made)?;
        assert_eq!(
            std::fs::metadata(&made)?.permissions().mode() & 0o777,
            0o700
        );
        Ok(())
    }
}
