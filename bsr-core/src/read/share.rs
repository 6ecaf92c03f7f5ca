//! One read of a file for two readers: the verifier and a view (issue 18).
//!
//! The verifier reads the file, hashes and checks it, and hands a copy of every block it read
//! to the view, which reads those blocks instead of the file ([`SharedReader`]). So the view
//! sees exactly the bytes whose SHA-256 the verifier computed (a file changed between two
//! reads cannot show one thing and verify as another), the file is read and hashed once, and
//! the two run on two cores.
//!
//! Nobody waits for a reader that is gone: when the view stops reading (it failed, or it has
//! what it needs), or never starts ([`Share::withdraw`]), the verifier goes on alone; when the
//! verifier stops early (an error), the view sees the end of the file there, and the verdict
//! refuses the recording anyway. Memory is a few blocks of at most one read each.
//!
//! ```
//! use bsr_core::read::share::share;
//! use std::io::Read;
//! let (sharer, mut reader) = share("f.data");
//! let t = std::thread::spawn(move || {
//!     let mut tee = sharer.take("f.data", &b"some bytes"[..]).ok().unwrap();
//!     std::io::copy(&mut tee, &mut std::io::sink()).unwrap();
//! });
//! let mut got = Vec::new();
//! reader.read_to_end(&mut got).unwrap();
//! t.join().unwrap();
//! assert_eq!(got, b"some bytes");
//! ```

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};

/// Blocks in flight at most.
const MAX_BLOCKS: usize = 4;

/// The verifier's side: the file to share, until [`Share::take`] takes it.
#[derive(Debug, Clone)]
pub struct Share {
    path: String,
    slot: Arc<Mutex<Option<Sender>>>,
}

#[derive(Debug)]
struct Sender {
    tx: SyncSender<Vec<u8>>,
    back: Receiver<Vec<u8>>,
}

/// A file to be read once for two readers: the [`Share`] goes to the one that reads the file
/// (the verifier), the [`SharedReader`] to the one that reads what it read.
pub fn share(path: &str) -> (Share, SharedReader) {
    let (tx, rx) = sync_channel(MAX_BLOCKS);
    let (back_tx, back) = sync_channel(MAX_BLOCKS);
    (
        Share {
            path: path.to_string(),
            slot: Arc::new(Mutex::new(Some(Sender { tx, back }))),
        },
        SharedReader {
            rx,
            back: back_tx,
            block: Vec::new(),
            pos: 0,
        },
    )
}

impl Share {
    /// The shared file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// When `path` is the shared file and it was not taken yet: `inner` (the file), wrapped so
    /// that every byte read from it is also handed to the [`SharedReader`]; otherwise `inner`
    /// back.
    pub fn take<R: Read>(&self, path: &str, inner: R) -> std::result::Result<Tee<R>, R> {
        if path != self.path {
            return Err(inner);
        }
        let sender = match self.slot.lock() {
            Ok(mut s) => s.take(),
            Err(p) => p.into_inner().take(),
        };
        let Some(sender) = sender else {
            return Err(inner);
        };
        Ok(Tee {
            inner,
            sender: Some(sender),
            allocated: 0,
        })
    }

    /// The file will not be read through this share: the [`SharedReader`] sees an empty file.
    pub fn withdraw(&self) {
        match self.slot.lock() {
            Ok(mut s) => s.take(),
            Err(p) => p.into_inner().take(),
        };
    }
}

/// A reader that hands a copy of everything it reads to a [`SharedReader`].
#[derive(Debug)]
pub struct Tee<R> {
    inner: R,
    sender: Option<Sender>,
    allocated: usize,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0
            && let Some(s) = &self.sender
        {
            let block = match s.back.try_recv() {
                Ok(b) => Some(b),
                Err(TryRecvError::Empty) if self.allocated < MAX_BLOCKS + 1 => {
                    self.allocated += 1;
                    Some(Vec::with_capacity(n))
                }
                Err(_) => s.back.recv().ok(),
            };
            let sent = block.is_some_and(|mut b| {
                b.clear();
                b.extend_from_slice(&buf[..n]);
                s.tx.send(b).is_ok()
            });
            if !sent {
                // The other reader is gone: go on alone.
                self.sender = None;
            }
        }
        Ok(n)
    }
}

/// The reading side: the bytes of the shared file as the other reader reads them; the end of
/// the file when it has read all of it (or stopped, or never started).
#[derive(Debug)]
pub struct SharedReader {
    rx: Receiver<Vec<u8>>,
    back: SyncSender<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
}

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.block.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            let used = std::mem::replace(&mut self.block, next);
            if used.capacity() > 0 {
                let _ = self.back.try_send(used);
            }
            self.pos = 0;
        }
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
