//! The listing streams: `Opened::run` works on the first recordings an archive's listing
//! yields while the listing is still going, and keeps nothing per recording beyond the queue.

use bsr_core::store::{DirEntry, EntryKind, ReadStore};
use bsr_verify::shard::{Listing, Shard};
use bsr_verify::target::Opened;
use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A store whose root listing yields `first` recordings, then waits until the test says that a
/// result came back, then yields `rest` more. A run that lists everything before working waits
/// forever here; the wait gives up after a while and fails the listing instead.
#[derive(Debug)]
struct GatedStore {
    first: usize,
    rest: usize,
    go: Mutex<Receiver<()>>,
}

impl ReadStore for GatedStore {
    fn list(&self, dir: &str) -> bsr_core::Result<Vec<DirEntry>> {
        let mut v = Vec::new();
        self.list_each(dir, &mut |e| {
            v.push(e);
            Ok(())
        })?;
        Ok(v)
    }
    fn list_each(
        &self,
        dir: &str,
        each: &mut dyn FnMut(DirEntry) -> bsr_core::Result<()>,
    ) -> bsr_core::Result<()> {
        if !dir.is_empty() {
            return Ok(());
        }
        let entry = |i: usize| DirEntry {
            name: format!("sr_{i:05}.bsr"),
            kind: EntryKind::Dir,
            size: 0,
        };
        for i in 0..self.first {
            each(entry(i))?;
        }
        let waited = self
            .go
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recv_timeout(Duration::from_secs(20));
        if waited.is_err() {
            return Err(bsr_core::Error::io(
                "gated",
                std::io::Error::other("no result came back while the listing was going on"),
            ));
        }
        for i in self.first..self.first + self.rest {
            each(entry(i))?;
        }
        Ok(())
    }
    fn open(&self, path: &str) -> bsr_core::Result<Box<dyn Read + Send + '_>> {
        Err(bsr_core::Error::io(
            path,
            std::io::ErrorKind::NotFound.into(),
        ))
    }
    fn size(&self, path: &str) -> bsr_core::Result<u64> {
        Err(bsr_core::Error::io(
            path,
            std::io::ErrorKind::NotFound.into(),
        ))
    }
}

fn gated(first: usize, rest: usize) -> (Opened, Sender<()>) {
    let (tx, rx) = channel();
    let store = GatedStore {
        first,
        rest,
        go: Mutex::new(rx),
    };
    (Opened::new(Arc::new(store), None), tx)
}

#[test]
fn work_starts_before_the_listing_ends() {
    for jobs in [1, 2, 4] {
        let (target, go) = gated(10, 30);
        let mut results = Vec::new();
        let ran = target.run(
            None,
            jobs,
            &|_| {},
            |d| d.to_string(),
            |r| {
                if results.is_empty() {
                    go.send(()).unwrap();
                }
                results.push(r);
            },
        );
        let (listing, skipped) = ran.unwrap_or_else(|e| panic!("jobs {jobs}: {e:#}"));
        assert!(skipped.is_empty());
        assert_eq!(listing.count(), 40, "jobs {jobs}");
        results.sort();
        let want: Vec<String> = (0..40).map(|i| format!("sr_{i:05}.bsr")).collect();
        assert_eq!(results, want, "jobs {jobs}: every recording once");
        assert_eq!(listing.digest(), Listing::new(&want, 0).digest());
    }
}

#[test]
fn a_shard_works_on_its_own_recordings_and_lists_them_all() {
    let n = 3;
    let mut union = Vec::new();
    let mut digests = Vec::new();
    for k in 0..n {
        let (target, go) = gated(0, 200);
        go.send(()).unwrap();
        let shard = Shard { k, n };
        let mine = Mutex::new(0u64);
        let (listing, _) = target
            .run(
                Some(shard),
                2,
                &|m| {
                    if m {
                        *mine.lock().unwrap() += 1;
                    }
                },
                |d| d.to_string(),
                |r| union.push(r),
            )
            .unwrap();
        assert_eq!(
            listing.count(),
            200,
            "the listing counts every shard's recordings"
        );
        digests.push(listing.digest());
        assert!(*mine.lock().unwrap() > 0);
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    union.sort();
    let len = union.len();
    union.dedup();
    assert_eq!(len, union.len(), "shards are disjoint");
    assert_eq!(len, 200, "shards cover everything");
}

#[test]
fn a_listing_that_fails_part_way_fails_the_run_after_the_work_on_what_was_listed() {
    // Nobody sends `go`: the listing gives up after the first 5 (the gate's timeout is cut
    // short by dropping the sender).
    let (target, go) = gated(5, 5);
    drop(go);
    let mut results = Vec::new();
    let ran = target.run(None, 2, &|_| {}, |d| d.to_string(), |r| results.push(r));
    let err = ran.expect_err("a failed listing fails the run");
    assert!(
        format!("{err:#}").contains("no result came back"),
        "{err:#}"
    );
    assert_eq!(results.len(), 5, "what was listed was still worked on");
}
