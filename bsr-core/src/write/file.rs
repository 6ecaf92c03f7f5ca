//! One `.data` file being written.

use super::{Container, WriterOptions};
use crate::error::{Error, Result};
use crate::format::{self, CHUNK_DATA, Direction, MAX_PACKET_SIZE, PROTOCOL_SSH, Timestamp};
use crate::ssh::Request;
use crate::store::StoreFile;
use crate::write::chunk::ChunkEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;

/// One `.data` file being written: magic, HEAD, chunks, and DONE at `close`.
pub(super) struct ChunkFile {
    pub(super) name: &'static str,
    pub(super) path: String,
    pub(super) file: Box<dyn StoreFile>,
    pub(super) buf: Vec<u8>,
    pub(super) buffer_size: usize,
    pub(super) hasher: Sha256,
    pub(super) encoder: ChunkEncoder,
    pub(super) direction: Direction,
    pub(super) chunks: u64,
    pub(super) synced_chunks: u64,
    pub(super) closed: bool,
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
    pub(super) fn create(
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

    pub(super) fn flush_buf(&mut self) -> Result<()> {
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

    pub(super) fn maybe_flush(&mut self) -> Result<()> {
        if self.buf.len() >= self.buffer_size {
            self.flush_buf()
        } else {
            Ok(())
        }
    }

    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Usage(format!("{} is closed", self.path)))
        } else {
            Ok(())
        }
    }

    pub(super) fn data(&mut self, time: Timestamp, data: &[u8]) -> Result<u64> {
        self.check_open()?;
        let mut n = 0;
        // Zero-length DATA is allowed by the format; keep it as one chunk.
        let empty = data.is_empty().then_some(data);
        for part in empty.into_iter().chain(data.chunks(MAX_PACKET_SIZE)) {
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

    /// Appends one chunk with `data` as it is (compressed per the file's compression), never
    /// split: a copy keeps the original's chunks one for one.
    pub(super) fn copy(&mut self, time: Timestamp, chunk_type: [u8; 4], data: &[u8]) -> Result<()> {
        self.check_open()?;
        self.encoder.chunk(
            &mut self.buf,
            PROTOCOL_SSH,
            chunk_type,
            self.direction,
            time,
            data,
        )?;
        self.chunks += 1;
        self.maybe_flush()
    }

    pub(super) fn request(&mut self, time: Timestamp, req: &Request) -> Result<()> {
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

    pub(super) fn sync(&mut self) -> Result<u64> {
        self.flush_buf()?;
        self.file.sync()?;
        self.synced_chunks = self.chunks;
        Ok(self.synced_chunks)
    }

    /// Writes DONE, flushes, syncs and returns the file's SHA-256.
    pub(super) fn close(&mut self, time: Timestamp) -> Result<[u8; 32]> {
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
