//! `bsr-perf serve-big` and `serve-list`: the web server (`bsr-asciicast serve`) measured over
//! HTTP on loopback, in this process.

use anyhow::{Context, bail};
use bsr_asciicast::serve::{App, CacheOptions, ServeOptions, serve};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn start(
    targets: Vec<String>,
    cache: Option<&Path>,
    warm: bool,
) -> anyhow::Result<(SocketAddr, Arc<App>)> {
    let opts = ServeOptions {
        targets,
        warm,
        cache: cache.map(|dir| CacheOptions {
            dir: dir.to_path_buf(),
            anchors: [0; 32],
        }),
        ..ServeOptions::default()
    };
    let app = App::open(&opts)?;
    let a2 = app.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            tx.send(l.local_addr()?)?;
            serve(l, a2).await?;
            Ok(())
        })
    });
    Ok((rx.recv()?, app))
}

/// Seconds until the first body bytes of `GET path` arrive, and the seconds to read the whole
/// body (the status must be 200).
fn timed_get(addr: SocketAddr, path: &str) -> anyhow::Result<(f64, f64, u64)> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = vec![0u8; 1 << 16];
    let mut head = Vec::new();
    let mut first = None;
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if first.is_none() {
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                if !head.starts_with(b"HTTP/1.1 200") {
                    bail!("{path}: {}", String::from_utf8_lossy(&head[..end.min(200)]));
                }
                if head.len() > end + 4 {
                    first = Some(t0.elapsed().as_secs_f64());
                    total += (head.len() - end - 4) as u64;
                }
            }
        } else {
            total += n as u64;
        }
    }
    let first = first.context("no body")?;
    Ok((first, t0.elapsed().as_secs_f64(), total))
}

/// A fresh cache folder `NAME` beside `dir`.
fn fresh_cache(dir: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let c = dir.parent().unwrap_or(Path::new(".")).join(name);
    let _ = std::fs::remove_dir_all(&c);
    Ok(c)
}

/// Whether the disk cache `cache` holds any checkpoints.
fn has_checkpoints(cache: &Path) -> bool {
    std::fs::read_dir(cache.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|d| {
            std::fs::read_dir(d.path())
                .into_iter()
                .flatten()
                .next()
                .is_some()
        })
}

/// The channel of `sr_big`, pinned.
fn big_channel(app: &App, i: usize) -> anyhow::Result<bsr_asciicast::convert::ChannelFiles> {
    let e = app.catalog.entry(i).context("entry")?;
    let rec = bsr_core::read::Recording::open(e.store.clone(), &e.dir)?;
    let mut files = bsr_asciicast::convert::select_channel(&rec, None, None)?;
    app.catalog.verification(i)?.pin(&mut files)?;
    Ok(files)
}

/// `serve-big DIR`: DIR holds `sr_big.bsr`. Prints `name seconds` lines: the first cast bytes
/// cold (the gate verifies the recording) and warm (verification cached), opening at the
/// middle before and after the checkpoints are built, and the whole cast; then, with the
/// disk cache (`--cache-dir`): opening at the middle as the first request of a restarted
/// server, and how long a fresh server's background pass takes to prepare the checkpoints.
pub fn big(dir: &str) -> anyhow::Result<()> {
    let cache = fresh_cache(Path::new(dir), "serve-cache-big")?;
    let (addr, app) = start(vec![dir.to_string()], Some(&cache), false)?;
    let i = app.catalog.find("sr_big").context("sr_big not found")?;
    let cold = timed_get(addr, "/api/v1/sessions/sr_big/cast")?;
    println!("first-screen-cold {:.6}", cold.0);
    println!("whole-cast {:.6} {}", cold.1, cold.2);
    let warm = timed_get(addr, "/api/v1/sessions/sr_big/cast")?;
    println!("first-screen {:.6}", warm.0);
    // The recording's last event time, from the facts.
    let row = app.catalog.row(i)?;
    let dur = row
        .shown_facts
        .as_ref()
        .and_then(|f| f.duration_seconds)
        .unwrap_or(0.0);
    let mid = dur / 2.0;
    let t0 = Instant::now();
    let at_cold = timed_get(addr, &format!("/api/v1/sessions/sr_big/cast?t={mid}"))?;
    println!("open-at-t-cold {:.6}", at_cold.0);
    // Wait for the checkpoints that request started building.
    let files = big_channel(&app, i)?;
    while app.catalog.checkpoints(i, &files).is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("checkpoints-built-after {:.6}", t0.elapsed().as_secs_f64());
    let at = timed_get(addr, &format!("/api/v1/sessions/sr_big/cast?t={mid}"))?;
    println!("open-at-t {:.6}", at.0);
    let page = timed_get(addr, "/sessions/sr_big")?;
    println!("replay-page {:.6}", page.1);

    // A restart: a new server over the same disk cache; its very first request opens at T.
    let (addr2, _app2) = start(vec![dir.to_string()], Some(&cache), false)?;
    let at_restart = timed_get(addr2, &format!("/api/v1/sessions/sr_big/cast?t={mid}"))?;
    println!("open-at-t-restart {:.6}", at_restart.0);

    // A fresh server with an empty disk cache and the background pass on: how long until
    // every channel's checkpoints are prepared, then a first request at T.
    let cache3 = fresh_cache(Path::new(dir), "serve-cache-big-warm")?;
    let t3 = Instant::now();
    let (addr3, _app3) = start(vec![dir.to_string()], Some(&cache3), true)?;
    while !has_checkpoints(&cache3) {
        if t3.elapsed() > Duration::from_secs(900) {
            bail!("the background pass prepared no checkpoints in 900 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("prepared-after {:.6}", t3.elapsed().as_secs_f64());
    let at_prepared = timed_get(addr3, &format!("/api/v1/sessions/sr_big/cast?t={mid}"))?;
    println!("open-at-t-prepared {:.6}", at_prepared.0);
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&cache3);
    Ok(())
}

/// Resident memory of this process now and at its peak, MiB.
fn rss() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

/// `serve-list DIR`: every recording below DIR listed; prints the listing time, the time to
/// fill the facts cache, and the first page (100 rows) of the API and the HTML list with the
/// cache warm, then a filtered first page, and the memory; then a restarted server over the
/// same disk cache (`--cache-dir`): its first page, and filling its cache from the disk.
pub fn list(dir: &Path) -> anyhow::Result<()> {
    let cache = fresh_cache(dir, "serve-cache-list")?;
    let t0 = Instant::now();
    let (addr, app) = start(vec![dir.display().to_string()], Some(&cache), false)?;
    println!("recordings {}", app.catalog.len());
    println!("listing {:.6}", t0.elapsed().as_secs_f64());
    let t1 = Instant::now();
    let first_cold = timed_get(addr, "/api/v1/sessions?page=1&page_size=100")?;
    println!("first-page-cold {:.6}", first_cold.1);
    let n = app.catalog.len();
    let fill = |app: &Arc<App>| {
        std::thread::scope(|s| {
            for k in 0..2 {
                s.spawn(move || {
                    for i in (k..n).step_by(2) {
                        let _ = app.catalog.row(i);
                    }
                });
            }
        })
    };
    fill(&app);
    println!("cache-fill {:.6}", t1.elapsed().as_secs_f64());
    let (now, peak) = rss();
    println!("rss-after-fill {now:.1}");
    println!("rss-peak-after-fill {peak:.1}");
    println!("rows-in-memory {}", app.catalog.rows_in_memory());
    let api = timed_get(addr, "/api/v1/sessions?page=1&page_size=100")?;
    println!("first-page {:.6}", api.1);
    let html = timed_get(addr, "/?page=1&page_size=100")?;
    println!("first-page-html {:.6}", html.1);
    let last = n.div_ceil(100);
    let lp = timed_get(addr, &format!("/api/v1/sessions?page={last}&page_size=100"))?;
    println!("last-page {:.6}", lp.1);
    let f = timed_get(
        addr,
        "/api/v1/sessions?page=1&page_size=100&verdict=unauthenticated",
    )?;
    println!("first-page-filtered {:.6}", f.1);

    // A restart over the same disk cache: nothing in memory, every row on disk.
    let (addr2, app2) = start(vec![dir.display().to_string()], Some(&cache), false)?;
    let r = timed_get(addr2, "/api/v1/sessions?page=1&page_size=100")?;
    println!("first-page-restart {:.6}", r.1);
    let t2 = Instant::now();
    fill(&app2);
    println!("cache-fill-from-disk {:.6}", t2.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// Copies (`link` false) or hard-links (`link` true) the tree `from` to `to`.
fn link_tree(from: &Path, to: &Path, link: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            link_tree(&e.path(), &to.join(e.file_name()), link)?;
        } else if link {
            std::fs::hard_link(e.path(), to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Hard links per copied file (ext4 allows 65,000 links to one inode).
const LINKS_PER_COPY: usize = 50_000;

/// `gen-copies REC DIR N`: N copies of the recording folder REC (hard links to one real copy
/// per 50,000), as
/// `DIR/dNNNNNNN/<name>` (each verifies as the original does; the server ids them
/// `<name>`, `<name>~2`, …). Quick where writing N signed recordings is not.
pub fn copies(rec: &Path, dir: &Path, n: usize) -> anyhow::Result<()> {
    let name = rec.file_name().context("REC has no name")?;
    let mut base = rec.to_path_buf();
    for i in 0..n {
        let to = dir.join(format!("d{i:07}")).join(name);
        if i % LINKS_PER_COPY == 0 {
            link_tree(rec, &to, false)?;
            base = to;
        } else {
            link_tree(&base, &to, true)?;
        }
    }
    Ok(())
}
