//! Honest floors for the writer and the reader (issue 18): what any implementation of the
//! format must do for the same bytes, measured the same way as the raw floors in main.rs.
//!
//! * `sha-crc-encoded MIB CHUNK`: SHA-256 over the *encoded* chunks (a chunk is its data plus
//!   29 bytes: length, protocol, type, direction, time, CRC), and one CRC-32 per chunk over its
//!   CRC range (header and data). The raw floor (`sha-crc`) hashes the data alone, which for
//!   16-byte chunks is a third of the bytes the format makes the writer hash.
//! * `sha-crc-write DIR MIB CHUNK [sync]`: the same, plus `write(2)` of the encoded bytes into
//!   a file in the page cache through a 256 KiB buffer (the writer's default), and with `sync`
//!   an `fsync` at the end (what the writer's `finish` does to make the recording durable).
//! * `crc-chunks FILE`: one CRC-32 call per chunk of a `.data` file over its CRC range (the
//!   chunk boundaries are found first, not timed). The raw floor (`crc`) runs one CRC over the
//!   whole file, which for 16-byte chunks is a single long run instead of a call per chunk.

use anyhow::{Context, bail};
use bsr_core::format::{CHUNK_OVERHEAD, CRC_DATA_SIZE, CRC_SIZE, LENGTH_SIZE};
use sha2::Digest;
use std::io::Write;
use std::time::Instant;

/// One encoded chunk of `data` (a fixed header; only the bytes' count and shape matter here).
fn encoded(data: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let mut v = Vec::with_capacity(CHUNK_OVERHEAD + data.len());
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(b"BSSHDATA");
    v.push(b'o');
    v.extend_from_slice(&[0u8; CRC_DATA_SIZE - 9]);
    v.extend_from_slice(data);
    let crc_range = LENGTH_SIZE..v.len();
    v.extend_from_slice(&[0u8; CRC_SIZE]);
    (v, crc_range)
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "sha-crc-encoded" => {
            let secs = sha_crc_write(None, arg(2).parse()?, arg(3).parse()?, false)?;
            println!("{secs:.6}");
        }
        "sha-crc-write" => {
            let dir = arg(2);
            std::fs::create_dir_all(&dir)?;
            let path = std::path::Path::new(&dir).join("floor.data");
            let _ = std::fs::remove_file(&path);
            let secs = sha_crc_write(
                Some(&path),
                arg(3).parse()?,
                arg(4).parse()?,
                arg(5) == "sync",
            )?;
            let _ = std::fs::remove_file(&path);
            println!("{secs:.6}");
        }
        "crc-chunks" => {
            let b = std::fs::read(arg(2))?;
            let ranges = chunk_crc_ranges(&b)?;
            let start = Instant::now();
            let mut acc = 0u32;
            for r in &ranges {
                acc ^= crc32fast::hash(&b[r.clone()]);
            }
            std::hint::black_box(acc);
            println!("{:.6}", start.elapsed().as_secs_f64());
        }
        other => bail!("not a floor subcommand: {other:?}"),
    }
    Ok(())
}

fn sha_crc_write(
    path: Option<&std::path::Path>,
    mib: u64,
    chunk: usize,
    sync: bool,
) -> anyhow::Result<f64> {
    let blocks: Vec<(Vec<u8>, std::ops::Range<usize>)> =
        (0..8).map(|i| encoded(&super::payload(chunk, i))).collect();
    let n = (mib << 20) / chunk as u64;
    let mut file = match path {
        Some(p) => Some(std::fs::File::create(p).with_context(|| p.display().to_string())?),
        None => None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024 + 64);
    let start = Instant::now();
    let mut h = sha2::Sha256::new();
    let mut acc = 0u32;
    for i in 0..n {
        let (b, r) = &blocks[(i % 8) as usize];
        acc ^= crc32fast::hash(&b[r.clone()]);
        buf.extend_from_slice(b);
        if buf.len() >= 256 * 1024 {
            h.update(&buf);
            if let Some(f) = &mut file {
                f.write_all(&buf)?;
            }
            buf.clear();
        }
    }
    h.update(&buf);
    if let Some(f) = &mut file {
        f.write_all(&buf)?;
        if sync {
            f.sync_all()?;
        }
    }
    std::hint::black_box((h.finalize(), acc));
    Ok(start.elapsed().as_secs_f64())
}

/// The CRC range of every chunk of a `.data` file (after the 4-byte magic).
fn chunk_crc_ranges(b: &[u8]) -> anyhow::Result<Vec<std::ops::Range<usize>>> {
    let mut out = Vec::new();
    let mut at = bsr_core::format::MAGIC.len();
    while at + LENGTH_SIZE <= b.len() {
        let mut len = [0u8; 4];
        len.copy_from_slice(&b[at..at + 4]);
        let end = at + CHUNK_OVERHEAD + u32::from_be_bytes(len) as usize;
        if end > b.len() {
            bail!("chunk at {at} runs past the end");
        }
        out.push(at + LENGTH_SIZE..end - CRC_SIZE);
        at = end;
    }
    Ok(out)
}
