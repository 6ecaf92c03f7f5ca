//! `bsr-perf follow-latency`: the time from a writer's `sync()` to a follower's event for the
//! chunk it made durable, with inotify and with polling.
//!
//! A writer thread writes one DATA chunk, syncs it, notes when `sync()` was called and when it
//! returned, and waits for the follower to report the chunk before a pause and the next one, so every
//! chunk finds the follower asleep, as a live session's keystrokes do. The pauses (0.5 to
//! 60.5 ms, spread by a fixed pseudo-random sequence) are longer than the poll interval, so
//! that chunks land at every phase of the polling instead of locking onto one.
//! The writer buffers chunks until `sync()`, whose `write()` puts them in the file before its
//! `fsync()`; so a follower can see a chunk before `sync()` returned. Two latencies: from the
//! call of `sync()` (the chunk reaching the file), and from its return (0 when the event came
//! first; those events are counted).

use anyhow::{Context, bail};
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::read::follow::{FollowEvent, FollowOptions, Follower, Watch, Watching};
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Latencies of one run, in milliseconds.
#[derive(Debug)]
pub(crate) struct Latency {
    /// From the call of `sync()`: median, p99.
    pub call: (f64, f64),
    /// From the return of `sync()` (0 when earlier): median, p99.
    pub ret: (f64, f64),
    /// Events that came before `sync()` returned.
    pub early: usize,
}

/// The pause before chunk `i`: 0.5 to 60.5 ms (splitmix64 of `i`).
fn pause(i: usize) -> Duration {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Duration::from_micros(500 + z % 60_000)
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (pick(0.5), pick(0.99))
}

/// Follows a recording while a writer thread writes `n` synced chunks into `dir`.
pub(crate) fn latency(dir: &Path, mode: &str, n: usize) -> anyhow::Result<Latency> {
    if n == 0 {
        bail!("n must be at least 1");
    }
    let watch = match mode {
        "inotify" => Watch::Auto,
        "poll" => Watch::Poll,
        m => bail!("mode {m:?}: inotify or poll"),
    };
    let _ = std::fs::remove_dir_all(dir.join("sr_follow.bsr"));
    std::fs::create_dir_all(dir)?;
    let t0 = Timestamp::new(1_700_000_000, 0);
    let s = SessionWriter::create(
        Arc::new(FsStore::new(dir)),
        "",
        SessionOptions::new("sr_follow", "s_follow", t0),
        RecordingKeys::from_seed("s_follow", [9; 32]),
        &AeadWrapper::from_kek_bytes(&super::KEK)?,
        None,
    )?;
    let opts = FollowOptions {
        watch,
        ..FollowOptions::default()
    };
    let mut f = Follower::open(dir.join("sr_follow.bsr"), opts)?;
    let want = if mode == "inotify" {
        Watching::Inotify
    } else {
        Watching::Poll
    };
    if f.watching() != want {
        bail!("asked for {mode}, the follower uses {:?}", f.watching());
    }
    let (synced_tx, synced_rx) = mpsc::channel::<(Instant, Instant)>();
    let (seen_tx, seen_rx) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || -> anyhow::Result<()> {
        let conn = s.new_connection("cr_follow", t0)?;
        let mut ch = conn.new_channel("chr_follow", "session", t0)?;
        ch.sync()?;
        for i in 0..n {
            std::thread::sleep(pause(i));
            let t = Timestamp::from_nanos(t0.as_nanos() + i as i128 * 1000);
            ch.write_data(Direction::Outbound, t, b"keystroke echo\r\n")?;
            let called = Instant::now();
            ch.sync()?;
            synced_tx.send((called, Instant::now()))?;
            seen_rx.recv()?;
        }
        let end = Timestamp::from_nanos(t0.as_nanos() + n as i128 * 1000);
        ch.finish(end)?;
        conn.finish(end)?;
        s.finish(end)?;
        Ok(())
    });
    let (mut from_call, mut from_ret) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut early = 0;
    while from_call.len() < n {
        let ev = f
            .next_event(Some(Duration::from_secs(30)))?
            .context("no event for 30 s")?;
        let FollowEvent::Chunk { stream, chunk } = ev else {
            continue;
        };
        if stream.file != "messages-outbound.data" || !chunk.as_chunk().is_data() {
            continue;
        }
        let seen = Instant::now();
        let (called, returned) = synced_rx.recv()?;
        from_call.push(seen.saturating_duration_since(called).as_secs_f64() * 1e3);
        match seen.checked_duration_since(returned) {
            Some(d) => from_ret.push(d.as_secs_f64() * 1e3),
            None => {
                early += 1;
                from_ret.push(0.0);
            }
        }
        seen_tx.send(())?;
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    let _ = std::fs::remove_dir_all(dir.join("sr_follow.bsr"));
    Ok(Latency {
        call: quantiles(from_call),
        ret: quantiles(from_ret),
        early,
    })
}
