//! `bsr-perf`: input generation and raw baselines for `benches/compare.sh`.
//!
//! Every measuring subcommand prints one line: the seconds its measured section took.

mod index;

use anyhow::{Context, bail};
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::read::chunk::ChunkReader;
use bsr_core::ssh::{Request, ShellRequest};
use bsr_core::store::{FsStore, ReadStore};
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

mod floors;
mod follow;
mod scale;
mod serve;

const KEK: [u8; 32] = *b"bsr-test-kek-DO-NOT-USE-IN-PROD!";

/// Terminal-like output (text, escapes, UTF-8) of `size` bytes.
fn payload(size: usize, seed: usize) -> Vec<u8> {
    let line = format!(
        "drwxr-xr-x 2 root root {seed:5} Nov 24 \x1b[01;34mbsr-core\x1b[0m — ✓ données\r\n"
    );
    let mut v = line.as_bytes().repeat(size / line.len() + 1);
    v.truncate(size);
    // Keep the cut on a character boundary so each chunk is valid UTF-8.
    while std::str::from_utf8(&v).is_err() {
        v.pop();
        v.push(b'.');
    }
    v
}

/// A store that discards what is written (the writer's own CPU cost, no kernel copy).
#[derive(Debug)]
struct Null;
struct NullFile;
impl std::io::Write for NullFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(std::hint::black_box(b).len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl bsr_core::store::StoreFile for NullFile {
    fn sync(&mut self) -> bsr_core::Result<()> {
        Ok(())
    }
}
impl bsr_core::store::WriteStore for Null {
    fn create_dir(&self, _: &str) -> bsr_core::Result<()> {
        Ok(())
    }
    fn create(&self, _: &str) -> bsr_core::Result<Box<dyn bsr_core::store::StoreFile>> {
        Ok(Box::new(NullFile))
    }
    fn sync_dir(&self, _: &str) -> bsr_core::Result<()> {
        Ok(())
    }
}

/// Writes `sr_<tag>.bsr` below `dir` (or into a discarding store when `dir` is `null`) with
/// `total` bytes of outbound DATA in `chunk`-byte chunks.
pub(crate) fn write_recording(
    dir: &Path,
    tag: &str,
    total: u64,
    chunk: usize,
) -> anyhow::Result<(f64, u64)> {
    let store: Arc<dyn bsr_core::store::WriteStore> = if dir == Path::new("null") {
        Arc::new(Null)
    } else {
        std::fs::create_dir_all(dir)?;
        Arc::new(FsStore::new(dir))
    };
    write_recording_to(store, tag, total, chunk)
}

thread_local! {
    /// The seconds the last [`write_recording_to`] spent in its DATA loop, before the channel's
    /// `finish` (DONE, flush, fsync).
    static LAST_LOOP_SECS: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// [`write_recording`] into any store.
fn write_recording_to(
    store: Arc<dyn bsr_core::store::WriteStore>,
    tag: &str,
    total: u64,
    chunk: usize,
) -> anyhow::Result<(f64, u64)> {
    let t0 = Timestamp::new(1_700_000_000, 0);
    let rid = format!("sr_{tag}");
    let sid = format!("s_{tag}");
    let keys = RecordingKeys::from_seed(&sid, [9; 32]);
    let s = SessionWriter::create(
        store,
        "",
        SessionOptions::new(&rid, &sid, t0),
        keys,
        &AeadWrapper::from_kek_bytes(&KEK)?,
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
    let blocks: Vec<Vec<u8>> = (0..8).map(|i| payload(chunk, i)).collect();
    let n = total / chunk as u64;
    let start = Instant::now();
    for i in 0..n {
        let t = Timestamp::from_nanos(t0.as_nanos() + i as i128 * 1000);
        ch.write_data(Direction::Outbound, t, &blocks[(i % 8) as usize])?;
    }
    LAST_LOOP_SECS.with(|c| c.set(start.elapsed().as_secs_f64()));
    ch.finish(Timestamp::from_nanos(t0.as_nanos() + n as i128 * 1000))?;
    let secs = start.elapsed().as_secs_f64();
    conn.finish(Timestamp::from_nanos(t0.as_nanos() + n as i128 * 1000))?;
    s.finish(Timestamp::from_nanos(t0.as_nanos() + n as i128 * 1000))?;
    Ok((secs, n))
}

fn data_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            data_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "data") {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        // gen DIR TAG MIB CHUNK: one recording
        "gen" => {
            let (secs, n) = write_recording(
                Path::new(&arg(2)),
                &arg(3),
                arg(4).parse::<u64>()? << 20,
                arg(5).parse()?,
            )?;
            eprintln!("wrote {n} chunks in {secs:.3}s");
        }
        // gen-many DIR N MIB: N recordings of MIB each, 64 KiB chunks
        "gen-many" => {
            let n: usize = arg(3).parse()?;
            for i in 0..n {
                write_recording(
                    Path::new(&arg(2)),
                    &format!("many{i:07}"),
                    arg(4).parse::<u64>()? << 20,
                    64 * 1024,
                )?;
            }
        }
        // gen-small DIR N: N small shell recordings (about 1 KiB of text each), for the index
        "gen-small" => index::gen_small(Path::new(&arg(2)), arg(3).parse()?, &KEK)?,
        // index-query DIR PATTERN REPS [-i] [--regex]: median seconds of a query, in process
        "index-query" => println!("{:.6}", index::index_query(&args[2..])?),
        // write DIR MIB CHUNK: writer throughput into a fresh folder (page cache); prints seconds
        "write" | "write-loop" => {
            let a2 = arg(2);
            let d = Path::new(&a2);
            let _ = std::fs::remove_dir_all(d.join("sr_w.bsr"));
            let (secs, _) = write_recording(d, "w", arg(3).parse::<u64>()? << 20, arg(4).parse()?)?;
            let _ = std::fs::remove_dir_all(d.join("sr_w.bsr"));
            // `write-loop`: the DATA loop alone, without the channel's finish (fsync)
            if arg(1) == "write-loop" {
                println!("{:.6}", LAST_LOOP_SECS.with(|c| c.get()));
            } else {
                println!("{secs:.6}");
            }
        }
        // sha-crc MIB CHUNK: the floor of the writer, SHA-256 over the encoded bytes plus CRC-32 per chunk
        "sha-crc" => {
            let chunk: usize = arg(3).parse()?;
            let blocks: Vec<Vec<u8>> = (0..8).map(|i| payload(chunk, i)).collect();
            let n = (arg(2).parse::<u64>()? << 20) / chunk as u64;
            let start = Instant::now();
            let mut h = sha2::Sha256::new();
            let mut acc = 0u32;
            for i in 0..n {
                let b = &blocks[(i % 8) as usize];
                acc ^= crc32fast::hash(b);
                h.update(b);
            }
            std::hint::black_box((h.finalize(), acc));
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // sha DIR: raw sha2 over every .data file below DIR (read into memory first)
        "sha" => {
            let mut files = Vec::new();
            data_files(Path::new(&arg(2)), &mut files)?;
            let bytes: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
            let start = Instant::now();
            for b in &bytes {
                std::hint::black_box(sha2::Sha256::digest(b));
            }
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // sha-hot DIR: raw sha2 at its best, over a cache-resident 256 KiB buffer hashed as many
        // times as DIR's .data files hold bytes (the crate's pure single-core speed)
        "sha-hot" => {
            let mut files = Vec::new();
            data_files(Path::new(&arg(2)), &mut files)?;
            let mut total = 0u64;
            for f in &files {
                total += std::fs::metadata(f)?.len();
            }
            let block = payload(256 * 1024, 1);
            let n = total / block.len() as u64;
            let rest = (total % block.len() as u64) as usize;
            let start = Instant::now();
            let mut h = sha2::Sha256::new();
            for _ in 0..n {
                h.update(std::hint::black_box(&block));
            }
            h.update(&block[..rest]);
            std::hint::black_box(h.finalize());
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // read FILE: iterate every chunk with CRC (zero copy over mmap)
        "read" => {
            let a2 = arg(2);
            let p = Path::new(&a2);
            let store = FsStore::new(p.parent().context("file")?);
            let b = store.read_bytes(&p.file_name().context("file")?.to_string_lossy())?;
            let start = Instant::now();
            let mut n = 0u64;
            for c in ChunkReader::new(&b)? {
                n += c?.stored.len() as u64;
            }
            std::hint::black_box(n);
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // crc FILE: raw crc32fast over the same bytes
        "crc" => {
            let b = std::fs::read(arg(2))?;
            let start = Instant::now();
            std::hint::black_box(crc32fast::hash(&b));
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // avt-floor FILE: avt fed the DATA of a messages file (the text view's floor)
        "avt-floor" => println!("{:.6}", avt_floor(&arg(2))?),
        // serde-floor FILE [staged|held OUT]: serialize the DATA chunks of a messages file as
        // [time,"o",text] lines, into nothing; or, as `convert -o OUT` does, into OUT.partial
        // renamed over OUT (staged); or, as `convert > OUT` does, into a temporary file then
        // copied into OUT (held). The honest floors of the convert rows that write a file.
        "serde-floor" => {
            let b = std::fs::read(arg(2))?;
            let mut events = Vec::new();
            let mut head = None;
            for c in ChunkReader::new(&b)? {
                let c = c?;
                if c.is_head() {
                    head = Some(c.time);
                } else if c.is_data() {
                    let base = head.unwrap_or_default();
                    events.push((
                        (c.time.as_nanos() - base.as_nanos()) as f64 / 1e9,
                        String::from_utf8_lossy(c.stored).into_owned(),
                    ));
                }
            }
            let lines = |w: &mut dyn std::io::Write| -> anyhow::Result<()> {
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, w);
                for (t, d) in &events {
                    serde_json::to_writer(&mut out, &(t, "o", d))?;
                    std::io::Write::write_all(&mut out, b"\n")?;
                }
                std::io::Write::flush(&mut out)?;
                Ok(())
            };
            let start = Instant::now();
            match (args.get(3).map(String::as_str), args.get(4)) {
                (None, _) => lines(&mut std::io::sink())?,
                (Some("staged"), Some(out)) => {
                    let tmp = format!("{out}.partial");
                    lines(&mut std::fs::File::create(&tmp)?)?;
                    std::fs::rename(&tmp, out)?;
                }
                (Some("held"), Some(out)) => {
                    let mut held = tempfile::tempfile()?;
                    lines(&mut held)?;
                    std::io::Seek::rewind(&mut held)?;
                    std::io::copy(&mut held, &mut std::fs::File::create(out)?)?;
                }
                _ => anyhow::bail!("serde-floor FILE [staged|held OUT]"),
            }
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        // gen-archive, list, s3-serve: the listing-at-scale benchmark (benches/scale.sh)
        "gen-archive" | "list" | "s3-serve" => scale::main(&args)?,
        // sha-crc-encoded, sha-crc-write, crc-chunks: the honest floors (floors.rs)
        "sha-crc-encoded" | "sha-crc-write" | "crc-chunks" => floors::main(&args)?,
        // follow-latency DIR inotify|poll N: writer sync → follower event; prints, in ms, the
        // median and p99 from the call of sync(), the same from its return, and how many events
        // came before sync() returned
        "follow-latency" => {
            let l = follow::latency(Path::new(&arg(2)), &arg(3), arg(4).parse()?)?;
            println!(
                "{:.3} {:.3} {:.3} {:.3} {}",
                l.call.0, l.call.1, l.ret.0, l.ret.1, l.early
            );
        }
        // serve-big DIR: the server over DIR/sr_big.bsr (first screen, open at T)
        "serve-big" => serve::big(&arg(2))?,
        // serve-list DIR: the server's session list over every recording below DIR
        "serve-list" => serve::list(Path::new(&arg(2)))?,
        // gen-copies REC DIR N: N hard-linked copies of a recording (many recordings, fast)
        "gen-copies" => serve::copies(Path::new(&arg(2)), Path::new(&arg(3)), arg(4).parse()?)?,
        other => bail!(
            "unknown subcommand {other:?}: gen, gen-many, write, sha-crc, sha, sha-hot, read, crc, serde-floor, gen-small, index-query, gen-archive, list, s3-serve, sha-crc-encoded, sha-crc-write, crc-chunks, follow-latency, serve-big, serve-list, gen-copies"
        ),
    }
    Ok(())
}

/// The text view's floor: the DATA of a messages file, decoded into memory first (not timed),
/// fed straight into avt (the emulator `text` runs), 80x24 as `text` models a channel without
/// a pty-req. Returns the seconds the feeding took.
fn avt_floor(path: &str) -> anyhow::Result<f64> {
    let b = std::fs::read(path)?;
    let mut pieces = Vec::new();
    for c in ChunkReader::new(&b)? {
        let c = c?;
        if c.is_data() {
            pieces.push(String::from_utf8_lossy(&c.data()?).into_owned());
        }
    }
    let start = Instant::now();
    let mut term = avt::Terminal::new(80, 24)?;
    for piece in &pieces {
        term.feed(piece);
    }
    std::hint::black_box(term.cursor());
    Ok(start.elapsed().as_secs_f64())
}
