//! Follow mode: reading a recording that a writer in another process is still appending to.
//!
//! [`Follower`] watches a session folder (`<id>.bsr`) in a local folder and yields
//! [`FollowEvent`]s as the writer makes data durable: new connections and channels as their
//! folders appear, each chunk of each data file in file order, [`FollowEvent::ChannelDone`] when
//! a channel's four files have their DONE chunk, and at the end [`FollowEvent::Finished`] (the
//! session container is sealed) or [`FollowEvent::WriterGone`] (nothing changed for
//! [`FollowOptions::writer_timeout`] while the recording is unfinished).
//!
//! * Files are read with plain reads from where the last read stopped, and decoded with the
//!   sans-I/O [`StreamDecoder`](super::decoder::StreamDecoder): a growing file is never
//!   memory-mapped.
//! * A torn tail (half a chunk) is kept in the decoder and means "wait for the rest"; it is an
//!   error only once the session is sealed, or never (the follower then ends with
//!   [`FollowEvent::WriterGone`]). A complete chunk that breaks the format (bad CRC, a
//!   structure rule of [`StructureChecker`](super::structure::StructureChecker)) is an error.
//! * Wake-ups come from inotify (through the `notify` crate, cargo feature `inotify`) with a
//!   rescan every [`FollowOptions::rescan_interval`] in case an event was lost; without the
//!   feature, when inotify cannot be set up, or with [`Watch::Poll`], the folder is polled every
//!   [`FollowOptions::poll_interval`].
//! * Data is not verified here: checksums and signatures exist only once a container is
//!   sealed. Callers that show live data must say it is unverified.
//!
//! Writer-gone detection: the writer writes no heartbeat and its process is not known, so the
//! follower can only see that the folder stopped changing (no new bytes, no new file or folder,
//! no change in size or modification time of any meta, `SHA256SUM` or signature file). After
//! [`FollowOptions::writer_timeout`] of that while unfinished it reports
//! [`FollowEvent::WriterGone`]. A live session where nobody types for longer than the timeout
//! looks the same, so the timeout should be longer than the idle time sessions are allowed.
//!
//! ```no_run
//! use bsr_core::read::follow::{Follower, FollowEvent, FollowOptions};
//! # fn demo() -> bsr_core::Result<()> {
//! let mut f = Follower::open("/var/lib/boundary/sr_1234567890.bsr", FollowOptions::default())?;
//! while let Some(ev) = f.next_event(None)? {
//!     match ev {
//!         FollowEvent::Chunk { stream, chunk } => println!("{}: chunk {}", stream.path(), chunk.index),
//!         FollowEvent::WriterGone { .. } => eprintln!("writer gone, recording unfinished"),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod tree;
mod watch;

use super::decoder::OwnedChunk;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tree::Tree;
use watch::Waker;

/// How the follower learns that something changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watch {
    /// inotify when the `inotify` feature is on and it can be set up, polling otherwise.
    #[default]
    Auto,
    /// Always poll (tests, filesystems without inotify such as NFS).
    Poll,
}

/// What a follower actually uses (see [`Follower::watching`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watching {
    /// inotify events, plus a rescan every [`FollowOptions::rescan_interval`].
    Inotify,
    /// A scan every [`FollowOptions::poll_interval`].
    Poll,
}

/// Options of a [`Follower`].
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    /// inotify or polling.
    pub watch: Watch,
    /// Time between two scans when polling (default 50 ms).
    pub poll_interval: Duration,
    /// Time between two scans with inotify when no event came (default 1 s).
    pub rescan_interval: Duration,
    /// How long the folder may stay unchanged while unfinished before the writer is taken to be
    /// gone (default 10 minutes).
    pub writer_timeout: Duration,
    /// Most bytes read from one file per scan (default 1 MiB); a scan reads at most eight
    /// times this in all, which bounds the queued events.
    pub read_budget: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            watch: Watch::Auto,
            poll_interval: Duration::from_millis(50),
            rescan_interval: Duration::from_secs(1),
            writer_timeout: Duration::from_secs(600),
            read_budget: 1 << 20,
        }
    }
}

/// One data file of the recording.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The connection recording id.
    pub connection: String,
    /// The channel recording id; `None` for the connection's own request files.
    pub channel: Option<String>,
    /// The file name (`messages-outbound.data`, `requests-inbound.data`, …).
    pub file: &'static str,
}

impl StreamId {
    /// The file's path relative to the session folder.
    pub fn path(&self) -> String {
        let conn = format!(
            "{}{}",
            self.connection,
            crate::format::CONNECTION_DIR_SUFFIX
        );
        match &self.channel {
            Some(ch) => format!(
                "{conn}/{ch}{}/{}",
                crate::format::CHANNEL_DIR_SUFFIX,
                self.file
            ),
            None => format!("{conn}/{}", self.file),
        }
    }
}

/// What a [`Follower`] saw.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FollowEvent {
    /// A connection folder appeared.
    NewConnection {
        /// Its id.
        connection: String,
    },
    /// A channel folder appeared (announced once its meta names its type).
    NewChannel {
        /// The connection id.
        connection: String,
        /// The channel id.
        channel: String,
        /// The SSH channel type (`session`, `direct-tcpip`, …).
        channel_type: String,
    },
    /// A complete chunk (HEAD and DONE included), in file order per stream.
    Chunk {
        /// The file it is in.
        stream: StreamId,
        /// The chunk.
        chunk: OwnedChunk,
    },
    /// The four data files of a channel have their DONE chunk.
    ChannelDone {
        /// The connection id.
        connection: String,
        /// The channel id.
        channel: String,
    },
    /// The session container is sealed: every chunk has been yielded. The last event.
    Finished,
    /// Nothing changed for the writer timeout while unfinished: the writer is gone and the
    /// recording is unfinished. The last event.
    WriterGone {
        /// How long nothing changed.
        idle: Duration,
        /// What is still open: unsealed containers and files without DONE (paths relative to
        /// the session folder).
        open: Vec<String>,
    },
}

impl FollowEvent {
    /// Whether this is the last event ([`FollowEvent::Finished`] or [`FollowEvent::WriterGone`]).
    pub fn is_end(&self) -> bool {
        matches!(self, FollowEvent::Finished | FollowEvent::WriterGone { .. })
    }
}

/// The message of [`FollowEvent::WriterGone`] for people.
pub const WRITER_GONE: &str = "writer gone, recording unfinished";

/// Follows one session folder being written (see the [module](self) documentation).
#[derive(Debug)]
pub struct Follower {
    tree: Tree,
    waker: Waker,
    watching: Watching,
    queue: VecDeque<FollowEvent>,
    opts: FollowOptions,
    last_change: Instant,
    ended: bool,
    /// An error found by a scan, returned after the events queued before it.
    failed: Option<Error>,
}

impl Follower {
    /// Starts following the session folder `dir` (which must exist).
    pub fn open(dir: impl AsRef<Path>, opts: FollowOptions) -> Result<Self> {
        let root: PathBuf = dir.as_ref().to_path_buf();
        let meta = std::fs::symlink_metadata(&root)
            .map_err(|e| Error::io(root.display().to_string(), e))?;
        if !meta.file_type().is_dir() {
            return Err(Error::NotRegularFile {
                path: root.display().to_string(),
                kind: "not a folder (a session recording is a folder)",
            });
        }
        let (waker, watching) = Waker::new(&root, &opts);
        Ok(Follower {
            tree: Tree::new(root, opts.read_budget),
            waker,
            watching,
            queue: VecDeque::new(),
            opts,
            last_change: Instant::now(),
            ended: false,
            failed: None,
        })
    }

    /// What wakes this follower up.
    pub fn watching(&self) -> Watching {
        self.watching
    }

    /// What is still open: unsealed containers and data files without DONE, relative to the
    /// session folder.
    pub fn open_items(&self) -> Vec<String> {
        self.tree.open_items()
    }

    /// The data files held open now: files are opened when they appear and closed at their
    /// DONE chunk, so this stays at four per open channel (plus two per open connection)
    /// however many channels a session had.
    pub fn open_files(&self) -> usize {
        self.tree.open_files()
    }

    /// The next event, waiting at most `timeout` (`None`: until there is one). `Ok(None)`: the
    /// timeout passed with no event, or the follower has ended (after [`FollowEvent::Finished`],
    /// [`FollowEvent::WriterGone`] or an error). An error (a complete chunk that is corrupt, a
    /// torn tail in a sealed recording, I/O) comes after the events found before it, and ends
    /// the follower.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<FollowEvent>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(ev) = self.queue.pop_front() {
                if ev.is_end() {
                    self.ended = true;
                }
                return Ok(Some(ev));
            }
            if let Some(e) = self.failed.take() {
                self.ended = true;
                return Err(e);
            }
            if self.ended {
                return Ok(None);
            }
            let (changed, more) = match self.tree.scan(&mut self.queue) {
                Ok(c) => c,
                Err(e) => {
                    // The events found before the error come first.
                    self.failed = Some(e);
                    continue;
                }
            };
            let now = Instant::now();
            if changed {
                self.last_change = now;
            }
            // Events to give, or bytes left to read past the scan's budget: no waiting.
            if !self.queue.is_empty() || more {
                continue;
            }
            let idle = now.saturating_duration_since(self.last_change);
            if idle >= self.opts.writer_timeout {
                self.queue.push_back(FollowEvent::WriterGone {
                    idle,
                    open: self.tree.open_items(),
                });
                continue;
            }
            let mut wait = self.opts.writer_timeout - idle;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(now);
                if left.is_zero() {
                    return Ok(None);
                }
                wait = wait.min(left);
            }
            self.waker.wait(wait, &self.opts);
        }
    }
}

impl Iterator for Follower {
    type Item = Result<FollowEvent>;

    /// Blocks until the next event; `None` after the last one.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event(None).transpose()
    }
}

#[cfg(test)]
mod tests;
