//! The search index's inputs and measurements: many small shell recordings, and a query's
//! median time in the process (no process start, no output).

use anyhow::Context;
use bsr_asciicast::search::Matcher;
use bsr_asciicast::search_index::SearchIndex;
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::ssh::{Request, ShellRequest};
use bsr_core::store::{FsStore, WriteStore};
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// What small recording `i` shows: a short shell session (about 1 KiB) with words shared by
/// many recordings and a token of its own (`token-00NNNN`).
fn session_text(i: usize) -> Vec<String> {
    vec![
        format!("ops@host-{}:~$ ls /srv/app-{}\r\n", i % 50, i % 97),
        format!(
            "config-{i}.yaml  data  logs  release-{}  \x1b[01;34mshared\x1b[0m\r\n",
            i % 13
        ),
        format!(
            "ops@host-{}:~$ sudo systemctl status app-{}\r\n",
            i % 50,
            i % 97
        ),
        "● app.service - Application server\r\n   Active: active (running) since Mon\r\n"
            .to_string(),
        format!(
            "ops@host-{}:~$ grep -r token-{i:06} /etc/app\r\n/etc/app/token.conf: token-{i:06} = ok\r\n",
            i % 50
        ),
        format!("ops@host-{}:~$ exit\r\nlogout\r\n", i % 50),
    ]
}

/// Writes small shell recording `i` (`sr_small{i:06}.bsr`) into `dir`.
fn write_small(dir: &Path, i: usize, kek: &AeadWrapper) -> anyhow::Result<()> {
    let t0 = Timestamp::new(1_700_000_000 + i as u64, 0);
    let tag = format!("small{i:06}");
    let store: Arc<dyn WriteStore> = Arc::new(crate::scale::NoSync(FsStore::new(dir)));
    let sid = format!("s_{tag}");
    let keys = RecordingKeys::from_seed(&sid, [7; 32]);
    let s = SessionWriter::create(
        store,
        "",
        SessionOptions::new(&format!("sr_{tag}"), &sid, t0),
        keys,
        kek,
        None,
    )?;
    let conn = s.new_connection(&format!("cr_{tag}"), t0)?;
    let mut ch = conn.new_channel(&format!("chr_{tag}"), "session", t0)?;
    ch.write_request(
        Direction::Inbound,
        t0,
        &Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )?;
    let mut t = t0.as_nanos();
    for piece in session_text(i) {
        t += 250_000_000;
        ch.write_data(
            Direction::Outbound,
            Timestamp::from_nanos(t),
            piece.as_bytes(),
        )?;
    }
    let end = Timestamp::from_nanos(t + 1_000_000);
    ch.finish(end)?;
    conn.finish(end)?;
    s.finish(end)?;
    Ok(())
}

/// `gen-small DIR N`: N small shell recordings, written by two threads.
pub fn gen_small(dir: &Path, n: usize, kek: &[u8; 32]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let kek = AeadWrapper::from_kek_bytes(kek)?;
    let next = AtomicUsize::new(0);
    let work = || -> anyhow::Result<()> {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return Ok(());
            }
            write_small(dir, i, &kek)?;
        }
    };
    std::thread::scope(|s| {
        let other = s.spawn(work);
        let mine = work();
        other
            .join()
            .map_err(|_| anyhow::anyhow!("a writer thread failed"))
            .and_then(|r| r)
            .and(mine)
    })
}

/// `index-query DIR PATTERN REPS [-i] [--regex]`: opens the index once, runs the query REPS
/// times, prints the median seconds (hits and candidates on stderr).
pub fn index_query(args: &[String]) -> anyhow::Result<f64> {
    let dir = args.first().context("index folder")?;
    let pattern = args.get(1).context("pattern")?;
    let reps: usize = args.get(2).context("repetitions")?.parse()?;
    let flag = |f: &str| args.iter().skip(3).any(|a| a == f);
    let m = Matcher::new(pattern, flag("--regex"), flag("-i"))?;
    let ix = SearchIndex::open(Path::new(dir))?;
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let mut n = 0u64;
        let stats = ix.query(&m, &mut |h| {
            n += 1;
            std::hint::black_box(h);
        })?;
        times.push(start.elapsed().as_secs_f64());
        last = Some(stats);
    }
    times.sort_by(f64::total_cmp);
    eprintln!("{last:?}");
    Ok(times[times.len() / 2])
}
