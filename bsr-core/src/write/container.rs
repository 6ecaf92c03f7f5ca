//! A container being written: a folder with its meta file, `SHA256SUM` and signature.

use super::WriterOptions;
use super::file::ChunkFile;
use super::lock;
use crate::error::{Error, Result};
use crate::format::checksum;
use crate::format::{self, ContainerKind, Direction, Timestamp};
use crate::keys::RecordingKeys;
use crate::store::{StoreFile, WriteStore, join};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::{Arc, Mutex};

pub(super) struct ContainerState {
    pub(super) sums: Box<dyn StoreFile>,
    pub(super) sums_bytes: Vec<u8>,
    pub(super) meta: Box<dyn StoreFile>,
    pub(super) meta_hash: Sha256,
    pub(super) open_children: usize,
    pub(super) finished: bool,
    pub(super) failed: Option<String>,
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
pub(super) struct Container {
    pub(super) store: Arc<dyn WriteStore>,
    pub(super) dir: String,
    pub(super) kind: ContainerKind,
    pub(super) keys: Arc<RecordingKeys>,
    pub(super) state: Mutex<ContainerState>,
}

impl Container {
    pub(super) fn create(
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

    /// Opens the child container `name` of `kind`: lists it in this meta (under `key`), creates
    /// it and makes the listing durable.
    pub(super) fn open_child(
        &self,
        key: &str,
        name: &str,
        kind: ContainerKind,
        id: &str,
    ) -> Result<Arc<Self>> {
        self.meta_line(key, name)?;
        let c = Container::create(
            self.store.clone(),
            self.path(name),
            kind,
            self.keys.clone(),
            id,
        )?;
        self.sync()?;
        Ok(c)
    }

    /// Lists and creates the `messages` (`requests: false`) or `requests` data files, one per
    /// direction, inbound first, with the session's id and options.
    pub(super) fn data_files(
        &self,
        requests: bool,
        (session_id, opts): (&str, WriterOptions),
        time: Timestamp,
    ) -> Result<[ChunkFile; 2]> {
        let open = |d: Direction| {
            let (key, file) = match requests {
                false => ("messages", format::messages_file(d)),
                true => ("requests", format::requests_file(d)),
            };
            self.meta_line(key, d.as_str())?;
            ChunkFile::create(self, file, d, session_id, time, opts)
        };
        Ok([open(Direction::Inbound)?, open(Direction::Outbound)?])
    }

    pub(super) fn path(&self, name: &str) -> String {
        join(&self.dir, name)
    }

    pub(super) fn fail(&self, st: &mut ContainerState, e: Error) -> Error {
        st.failed.get_or_insert_with(|| e.to_string());
        e
    }

    pub(super) fn check_usable(&self, st: &ContainerState) -> Result<()> {
        if st.finished {
            return Err(Error::Usage(format!("{} is already finished", self.dir)));
        }
        if let Some(f) = &st.failed {
            return Err(Error::Usage(format!("{} failed earlier: {f}", self.dir)));
        }
        Ok(())
    }

    /// Appends `key: value` to the meta file (kept durable by `sync`).
    pub(super) fn meta_line(&self, key: &str, value: &str) -> Result<()> {
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
    pub(super) fn add_sum(&self, name: &str, digest: &[u8; 32]) -> Result<()> {
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
    pub(super) fn write_file(&self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.path(name);
        let mut f = self.store.create(&path)?;
        f.write_all(data).map_err(|e| Error::io(path.clone(), e))?;
        f.sync()?;
        drop(f);
        self.add_sum(name, &Sha256::digest(data).into())
    }

    pub(super) fn child_opened(&self) -> Result<()> {
        let mut st = lock(&self.state);
        self.check_usable(&st)?;
        st.open_children += 1;
        Ok(())
    }

    pub(super) fn child_closed(&self) {
        let mut st = lock(&self.state);
        st.open_children = st.open_children.saturating_sub(1);
    }

    pub(super) fn sync(&self) -> Result<()> {
        let mut st = lock(&self.state);
        st.meta.sync()?;
        st.sums.sync()?;
        drop(st);
        self.store.sync_dir(&self.dir)
    }

    /// Closes the container in Boundary's order: meta → summary → SHA256SUM → SHA256SUM.sig.
    pub(super) fn close(&self, summary: &[u8]) -> Result<()> {
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
        let sums = std::mem::take(&mut st.sums_bytes);
        drop(st);
        super::seal::seal(self.store.as_ref(), &self.dir, &self.keys, &sums)
    }
}
