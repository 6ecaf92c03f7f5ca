//! The worker pool: many recordings in parallel, results handed back on the calling thread.

use super::{VerifyOptions, verify};
use crate::report::Report;
use bsr_core::store::ReadStore;

/// Runs `work` on every item with `jobs` worker threads and hands each result to `sink` on the
/// calling thread, in completion order. At most `2 × jobs` results wait to be consumed.
pub fn map_many<T: Send>(
    dirs: &[String],
    jobs: usize,
    work: impl Fn(&str) -> T + Sync,
    sink: impl FnMut(T),
) {
    let jobs = jobs.max(1).min(dirs.len().max(1));
    map_iter(dirs.iter().cloned(), jobs, work, sink);
}

/// As [`map_many`], over items that arrive while the work runs (a listing that streams): the
/// workers take the next item from `items` as each finishes one. `items` is shared behind a
/// lock, so it may block (a channel fed by the listing) without holding up finished results.
pub fn map_iter<T: Send>(
    items: impl Iterator<Item = String> + Send,
    jobs: usize,
    work: impl Fn(&str) -> T + Sync,
    mut sink: impl FnMut(T),
) {
    let jobs = jobs.max(1);
    if jobs == 1 {
        for d in items {
            sink(work(&d));
        }
        return;
    }
    let items = std::sync::Mutex::new(items);
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(jobs * 2);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (items, work) = (&items, &work);
            scope.spawn(move || {
                loop {
                    let next = items.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(d) = next else { break };
                    if tx.send(work(&d)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            sink(r);
        }
    });
}

/// Verifies every recording in `dirs` with `jobs` worker threads, calling `on_report` (on the
/// calling thread) as each finishes. Memory is bounded: each worker holds one recording's
/// state, and at most `2 × jobs` finished reports wait to be consumed.
pub fn verify_many(
    store: &dyn ReadStore,
    dirs: &[String],
    opts: &VerifyOptions,
    jobs: usize,
    on_report: impl FnMut(Report),
) {
    map_many(dirs, jobs, |d| verify(store, d, opts), on_report);
}
