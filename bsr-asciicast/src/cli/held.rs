//! Output held back until the verification's verdict.
//!
//! `convert`, `text` and `commands` read the recording while it is verified on another thread
//! ([`Pending`]). Whatever they write is held until [`Pending::finish`] has the verdict and has
//! compared the digests of the files read with those that verified:
//! * `-o FILE` (a new or regular file) is written under a temporary name and renamed only then
//!   ([`super::Staged`]); a refusal removes it.
//! * Standard output, and `-o` naming a device, FIFO or terminal, get nothing before the
//!   verdict: the output is kept in memory up to [`HOLD_IN_MEMORY`] bytes, then in an unlinked
//!   temporary file (in `$TMPDIR`), and copied out once the recording verified. A refusal
//!   writes nothing.
//! * The null device (`> /dev/null`, `-o /dev/null`) is written as the output is made: nobody
//!   can read it, so there is nothing to hold back (and no temporary file to fill); the verdict
//!   still sets the exit status.

use bsr_asciicast::convert::ChannelFiles;
use bsr_asciicast::verified::{GateError, Pending, Verification};
use std::io::{Seek, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Output kept in memory before it spills to a temporary file.
pub const HOLD_IN_MEMORY: usize = 8 * 1024 * 1024;
/// Buffer between the writer and the destination.
const BUF: usize = 256 * 1024;

/// Bytes written and not yet released: in memory, then in an unlinked temporary file.
#[derive(Debug, Default)]
pub struct Held {
    mem: Vec<u8>,
    spill: Option<std::fs::File>,
}

impl Write for Held {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.spill.is_none() && self.mem.len() + buf.len() > HOLD_IN_MEMORY {
            let mut f = tempfile::tempfile()
                .map_err(|e| std::io::Error::new(e.kind(), format!("holding the output back until the recording is verified: creating a temporary file in {}: {e}", std::env::temp_dir().display())))?;
            f.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.spill = Some(f);
        }
        match &mut self.spill {
            Some(f) => f.write_all(buf)?,
            None => self.mem.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Held {
    /// Copies everything held to `to` (from the temporary file, by `std::io::copy`, which lets
    /// the kernel copy where it can).
    pub fn release<W: Write>(self, to: &mut W) -> std::io::Result<()> {
        match self.spill {
            None => to.write_all(&self.mem)?,
            Some(mut f) => {
                f.rewind()?;
                std::io::copy(&mut f, to)?;
            }
        }
        to.flush()
    }
}

/// Blocks in flight between a [`Pipe`] and its thread.
const PIPE_BLOCKS: usize = 4;

/// A writer whose writes happen on a thread of its own: the caller fills blocks of [`BUF`]
/// bytes, the thread writes them to `W` in order. So the work that makes the output (a
/// conversion, the emulator) keeps its core, and the copy into the page cache goes to the
/// other, beside the verification.
struct Pipe<W: Write + Send + 'static> {
    cur: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    back: Receiver<Vec<u8>>,
    allocated: usize,
    handle: Option<std::thread::JoinHandle<std::io::Result<W>>>,
}

impl<W: Write + Send + 'static> Pipe<W> {
    fn new(mut w: W) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Vec<u8>>(PIPE_BLOCKS);
        let (back_tx, back) = sync_channel::<Vec<u8>>(PIPE_BLOCKS + 1);
        let handle = std::thread::Builder::new()
            .name("bsr-output".into())
            .spawn(move || {
                while let Ok(b) = rx.recv() {
                    w.write_all(&b)?;
                    let _ = back_tx.try_send(b);
                }
                w.flush()?;
                Ok(w)
            })?;
        Ok(Pipe {
            cur: Vec::with_capacity(BUF),
            tx: Some(tx),
            back,
            allocated: 1,
            handle: Some(handle),
        })
    }

    fn send(&mut self) -> std::io::Result<()> {
        let next = match self.back.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) if self.allocated < PIPE_BLOCKS + 2 => {
                self.allocated += 1;
                Vec::with_capacity(BUF)
            }
            Err(_) => match self.back.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.stopped()),
            },
        };
        let full = std::mem::replace(&mut self.cur, next);
        self.cur.clear();
        match &self.tx {
            Some(tx) if tx.send(full).is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// The thread's own error, when it stopped.
    fn stopped(&mut self) -> std::io::Error {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => e,
            _ => std::io::Error::other("the output thread stopped"),
        }
    }

    /// Writes what is left and returns the writer.
    fn finish(mut self) -> std::io::Result<W> {
        if !self.cur.is_empty() {
            self.send()?;
        }
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            _ => Err(std::io::Error::other("the output thread stopped")),
        }
    }
}

impl<W: Write + Send + 'static> Write for Pipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cur.len() + buf.len() > BUF && !self.cur.is_empty() {
            self.send()?;
        }
        self.cur.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a gated run ended.
#[derive(Debug)]
pub enum Gated<T, E> {
    /// The recording verified, the files read were the files verified, and the output was
    /// released.
    Shown(T, Verification),
    /// The verification refused: nothing was shown.
    Refused(GateError),
    /// The work failed (after the recording verified): nothing was shown.
    Failed(E),
}

/// Runs `work` on `files`, writing to `output` (or standard output), while `pending` verifies;
/// releases the output only once the recording verified and every file read had the digest
/// that verified. A refusal wins over the work's own failure (the recording is the cause).
pub fn run_gated<T, E>(
    output: Option<&Path>,
    files: &ChannelFiles,
    pending: Pending,
    work: impl FnOnce(&mut (dyn Write + Send)) -> Result<T, E>,
) -> std::io::Result<Gated<T, E>> {
    if pending.is_decided() {
        // Unverified, or verified before reading: the output goes out as it is made.
        let v = match pending.wait() {
            Ok(v) => v,
            Err(g) => return Ok(Gated::Refused(g)),
        };
        let r = match output {
            Some(p) => {
                let (f, staged) = super::Staged::create(p, ".partial")?;
                let mut w = std::io::BufWriter::with_capacity(BUF, f);
                let r = work(&mut w);
                match (r, w.flush()) {
                    (Ok(t), Ok(())) => {
                        staged.commit()?;
                        Ok(t)
                    }
                    (Err(e), _) => {
                        staged.abandon();
                        Err(e)
                    }
                    (Ok(_), Err(e)) => {
                        staged.abandon();
                        return Err(e);
                    }
                }
            }
            None => {
                let mut w = std::io::BufWriter::with_capacity(BUF, std::io::stdout());
                let r = work(&mut w);
                w.flush()?;
                r
            }
        };
        return Ok(match r {
            Ok(t) => Gated::Shown(t, v),
            Err(e) => Gated::Failed(e),
        });
    }
    if discards(output) {
        // Nobody can read what goes to the null device: nothing to hold back. The verdict
        // still decides the exit status.
        let mut w = std::io::BufWriter::with_capacity(BUF, null_writer(output)?);
        let r = work(&mut w);
        let flushed = w.flush();
        let verdict = pending.finish(files);
        return Ok(match (verdict, r) {
            (Err(g), _) => Gated::Refused(g),
            (Ok(_), Err(e)) => Gated::Failed(e),
            (Ok(v), Ok(t)) => {
                flushed?;
                Gated::Shown(t, v)
            }
        });
    }
    let direct = output.filter(|p| !std::fs::metadata(p).is_ok_and(|m| !m.is_file()));
    if let Some(p) = direct {
        let (f, staged) = super::Staged::create(p, ".partial")?;
        let mut w = Pipe::new(f)?;
        let r = work(&mut w);
        let flushed = w.finish().map(drop);
        let verdict = pending.finish(files);
        return Ok(match (verdict, r) {
            (Err(g), _) => {
                staged.abandon();
                Gated::Refused(g)
            }
            (Ok(_), Err(e)) => {
                staged.abandon();
                Gated::Failed(e)
            }
            (Ok(v), Ok(t)) => {
                if let Err(e) = flushed {
                    staged.abandon();
                    return Err(e);
                }
                staged.commit()?;
                Gated::Shown(t, v)
            }
        });
    }
    let mut held = Pipe::new(Held::default())?;
    let r = work(&mut held);
    let held = held.finish();
    let verdict = pending.finish(files);
    let held = match (held, &verdict, &r) {
        (Ok(h), _, _) => h,
        // Nothing will be shown: the refusal or the work's failure says why.
        (Err(_), Err(_), _) | (Err(_), _, Err(_)) => Held::default(),
        (Err(e), Ok(_), Ok(_)) => return Err(e),
    };
    Ok(match (verdict, r) {
        (Err(g), _) => Gated::Refused(g),
        (Ok(_), Err(e)) => Gated::Failed(e),
        (Ok(v), Ok(t)) => {
            match output {
                Some(p) => {
                    let (f, staged) = super::Staged::create(p, ".partial")?;
                    let mut f = f;
                    held.release(&mut f)?;
                    staged.commit()?;
                }
                None => held.release(&mut std::io::stdout().lock())?,
            }
            Gated::Shown(t, v)
        }
    })
}

/// Whether output to `output` (or standard output) goes to the null device (`/dev/null`, or
/// a character device with its device number), where nobody can read it.
pub fn discards(output: Option<&Path>) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(null) = std::fs::metadata("/dev/null") else {
        return false;
    };
    let is_null = |m: &std::fs::Metadata| m.file_type().is_char_device() && m.rdev() == null.rdev();
    match output {
        Some(p) => std::fs::metadata(p).is_ok_and(|m| is_null(&m)),
        None => stdout_metadata().is_ok_and(|m| is_null(&m)),
    }
}

/// What standard output is (its `fstat`).
fn stdout_metadata() -> std::io::Result<std::fs::Metadata> {
    use std::os::fd::AsFd;
    std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
}

/// The null device named by `output`, or standard output (which [`discards`] found to be it).
fn null_writer(output: Option<&Path>) -> std::io::Result<Box<dyn Write + Send>> {
    Ok(match output {
        Some(p) => Box::new(std::fs::OpenOptions::new().write(true).open(p)?),
        None => Box::new(std::io::stdout()),
    })
}

/// Whether output to `output` (or standard output) has a reader waiting for it as it is made
/// (a pipe, a socket or a terminal): it then gets the recording verified first and the output
/// as it is made, instead of all of it at the end. Files and other devices get held output.
pub fn streams(output: Option<&Path>) -> bool {
    use std::io::IsTerminal;
    use std::os::unix::fs::FileTypeExt;
    let live = |m: std::fs::Metadata| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket()
    };
    match output {
        Some(p) => match std::fs::metadata(p) {
            Ok(m) if live(m.clone()) => true,
            Ok(m) if m.file_type().is_char_device() => std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .is_ok_and(|f| f.is_terminal()),
            _ => false,
        },
        None => {
            let out = std::io::stdout();
            if out.is_terminal() {
                return true;
            }
            stdout_metadata().is_ok_and(live)
        }
    }
}

/// The channel to show, chosen, with its verification begun ([`Opening::begin`](bsr_asciicast::verified::Opening::begin)).
/// When choosing it fails, a refusal of the recording is reported instead (it is the cause).
pub fn channel(
    opening: bsr_asciicast::verified::Opening,
    connection: Option<&str>,
    channel: Option<&str>,
) -> anyhow::Result<(ChannelFiles, Pending)> {
    let chosen = bsr_asciicast::convert::select_channel(&opening.recording, connection, channel)
        .map_err(anyhow::Error::from)
        .and_then(|mut f| {
            let p = opening.begin(&mut f)?;
            Ok((f, p))
        });
    match chosen {
        Ok(x) => Ok(x),
        Err(e) => match opening.verdict() {
            Err(g) => Err(g.into()),
            Ok(_) => Err(e),
        },
    }
}
