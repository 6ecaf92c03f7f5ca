//! SHA-256 on a second thread: [`ChunkStream::with_sha256_on_thread`](super::ChunkStream::with_sha256_on_thread).
//!
//! The reading thread copies each block it read into one of a few pooled buffers and sends it
//! to the hashing thread, which feeds the hasher in order and sends the buffer back. Memory is
//! bounded by the pool ([`MAX_BLOCKS`] buffers of at most one read each). The copy costs a few
//! per cent of the hash, so a reader that also converts or renders what it reads (as
//! `bsr-asciicast` does) keeps one core for its own work and leaves the hash to another.

use crate::error::{Error, Result};
use sha2::Digest;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

/// Buffers in flight at most (sent and not yet hashed, or waiting to be reused).
const MAX_BLOCKS: usize = 4;

/// The reading side of a hashing thread.
pub(super) struct HashThread {
    tx: Option<SyncSender<Vec<u8>>>,
    back: Receiver<Vec<u8>>,
    allocated: usize,
    handle: Option<JoinHandle<sha2::Sha256>>,
}

impl HashThread {
    /// Moves `hasher` (which may have been fed already) to a new thread. `None` when no thread
    /// could be started; the caller then keeps hashing itself.
    pub(super) fn spawn(hasher: sha2::Sha256) -> std::result::Result<Self, sha2::Sha256> {
        let (tx, rx) = sync_channel::<Vec<u8>>(MAX_BLOCKS);
        let (back_tx, back) = sync_channel::<Vec<u8>>(MAX_BLOCKS);
        // The hasher goes in only if the thread starts: keep a copy to hand back otherwise.
        let spare = hasher.clone();
        let spawned = std::thread::Builder::new()
            .name("bsr-sha256".into())
            .spawn(move || {
                let mut h = hasher;
                while let Ok(block) = rx.recv() {
                    h.update(&block);
                    // The reader may be gone (it dropped the pool): then the block is freed.
                    let _ = back_tx.try_send(block);
                }
                h
            });
        match spawned {
            Ok(handle) => Ok(HashThread {
                tx: Some(tx),
                back,
                allocated: 0,
                handle: Some(handle),
            }),
            Err(_) => Err(spare),
        }
    }

    /// Hands `bytes` (a copy) to the hashing thread, in order.
    pub(super) fn update(&mut self, bytes: &[u8], path: &str) -> Result<()> {
        let mut block = match self.back.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) if self.allocated < MAX_BLOCKS => {
                self.allocated += 1;
                Vec::with_capacity(bytes.len())
            }
            Err(_) => self.back.recv().map_err(|_| gone(path))?,
        };
        block.clear();
        block.extend_from_slice(bytes);
        match &self.tx {
            Some(tx) => tx.send(block).map_err(|_| gone(path)),
            None => Err(gone(path)),
        }
    }

    /// Waits for the hash of everything sent.
    pub(super) fn finish(mut self, path: &str) -> Result<[u8; 32]> {
        self.tx = None;
        let h = self
            .handle
            .take()
            .ok_or_else(|| gone(path))?
            .join()
            .map_err(|_| gone(path))?;
        Ok(h.finalize().into())
    }
}

impl Drop for HashThread {
    fn drop(&mut self) {
        // Close the channel so that the thread ends; it is not waited for (a stream dropped
        // after an error does not need the hash).
        self.tx = None;
    }
}

fn gone(path: &str) -> Error {
    Error::io(
        path,
        std::io::Error::other("the SHA-256 thread stopped unexpectedly"),
    )
}
