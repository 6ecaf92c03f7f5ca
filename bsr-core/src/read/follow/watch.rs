//! Waiting for the next change: inotify through `notify` (feature `inotify`) or a sleep.

use super::{FollowOptions, Watch, Watching};
use std::path::Path;
use std::time::Duration;

/// What a follower waits on between scans.
pub(super) enum Waker {
    /// Sleeps for the poll interval.
    Poll,
    /// Waits for an inotify event (other than an access) or the rescan interval.
    #[cfg(feature = "inotify")]
    Inotify {
        /// Kept alive: dropping it stops the watch.
        _watcher: notify::RecommendedWatcher,
        /// The watcher's events.
        rx: std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
    },
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waker::Poll => f.write_str("Waker::Poll"),
            #[cfg(feature = "inotify")]
            Waker::Inotify { .. } => f.write_str("Waker::Inotify"),
        }
    }
}

impl Waker {
    /// inotify when asked for and possible, polling otherwise.
    pub(super) fn new(root: &Path, opts: &FollowOptions) -> (Waker, Watching) {
        if opts.watch == Watch::Poll {
            return (Waker::Poll, Watching::Poll);
        }
        #[cfg(feature = "inotify")]
        if let Some(w) = inotify(root) {
            return (w, Watching::Inotify);
        }
        let _ = root;
        (Waker::Poll, Watching::Poll)
    }

    /// Waits until something may have changed, at most `max`.
    pub(super) fn wait(&mut self, max: Duration, opts: &FollowOptions) {
        match self {
            Waker::Poll => std::thread::sleep(max.min(opts.poll_interval)),
            #[cfg(feature = "inotify")]
            Waker::Inotify { rx, .. } => {
                let until = std::time::Instant::now() + max.min(opts.rescan_interval);
                let left = until.saturating_duration_since(std::time::Instant::now());
                // A change, or an error of the watcher (overflow), wakes up for a rescan.
                if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) = rx.recv_timeout(left)
                {
                    // The watcher thread is gone: poll from now on.
                    *self = Waker::Poll;
                    std::thread::sleep(left.min(opts.poll_interval));
                }
                // Coalesce what came together into this one wake-up.
                if let Waker::Inotify { rx, .. } = self {
                    while rx.try_recv().is_ok() {}
                }
            }
        }
    }
}

/// A recursive inotify watch on `root`, `None` when it cannot be set up (no inotify, the
/// watch limit reached).
#[cfg(feature = "inotify")]
fn inotify(root: &Path) -> Option<Waker> {
    use notify::Watcher;
    // Bounded: one queued event is enough to wake up and rescan, so a full queue loses
    // nothing. Accesses (our own opens and reads) are dropped here.
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    let handler = move |res: notify::Result<notify::Event>| {
        if !matches!(&res, Ok(ev) if ev.kind.is_access()) {
            let _ = tx.try_send(res);
        }
    };
    let mut w = notify::recommended_watcher(handler).ok()?;
    w.watch(root, notify::RecursiveMode::Recursive).ok()?;
    Some(Waker::Inotify { _watcher: w, rx })
}
