//! An in-memory store ([`MemStore`]), for tests and fuzzing.

use super::{DirEntry, EntryKind, ReadStore, StoreFile, WriteStore, check_path, join};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

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

    fn replace(&self, path: &str, data: &[u8]) -> Result<()> {
        if let Some(MemNode::Dir) = lock(&self.nodes).get(path) {
            return Err(Error::NotRegularFile {
                path: path.to_string(),
                kind: "folder",
            });
        }
        self.put(path, data)
    }

    fn truncate_append(&self, path: &str, len: u64, tail: &[u8]) -> Result<()> {
        match lock(&self.nodes).get(path) {
            Some(MemNode::File(f)) => {
                let mut d = lock(f);
                d.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                d.extend_from_slice(tail);
                Ok(())
            }
            Some(MemNode::Dir) => Err(Error::NotRegularFile {
                path: path.to_string(),
                kind: "folder",
            }),
            None => Err(Self::not_found(path)),
        }
    }
}
