//! `ChunkStream::open` with a sliding memory map must see exactly what the `read` path sees:
//! the same chunks, offsets, indices, errors, SHA-256 and byte count, on files spanning several
//! map windows (chunks straddling every window edge, chunks of the largest legal size), on
//! every truncation of a small file, and after corruption. A file that shrinks while it is read
//! is an I/O error, not a crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::format::Compression;
use bsr_core::format::{self, CHUNK_DATA, MAGIC, PROTOCOL_SSH};
use bsr_core::read::{ChunkStream, STREAM_MAP_WINDOW};
use bsr_core::store::{FsStore, MemStore, ReadStore};
use bsr_core::write::chunk::{ChunkEncoder, encode_raw};
use bsr_core::{Direction, Timestamp};
use sha2::Digest;

/// What a pass over a file saw: one line per chunk, then the error or the end.
fn scan(store: &dyn ReadStore, path: &str, map: bool) -> (Vec<String>, String) {
    let mut s = ChunkStream::open_mapped_from(store, path, map.then_some(0))
        .unwrap()
        .with_sha256();
    let mut seen = Vec::new();
    loop {
        match s.next_chunk() {
            Ok(Some(c)) => seen.push(format!(
                "{} {} {:?} {} {:x}",
                c.index,
                c.offset,
                String::from_utf8_lossy(&c.chunk_type),
                c.stored.len(),
                sha2::Sha256::digest(c.stored)
            )),
            Ok(None) => break,
            Err(e) => {
                seen.push(format!("error: {e}"));
                break;
            }
        }
    }
    let end = match s.finish() {
        Ok(e) => format!("{:?}", e),
        Err(e) => format!("finish error: {e}"),
    };
    (seen, end)
}

/// A data file: HEAD, `sizes.len()` DATA chunks of those sizes, DONE.
fn data_file(sizes: &[usize]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let mut enc = ChunkEncoder::new(Compression::None);
    let t = Timestamp::new(1_700_000_000, 0);
    enc.head(
        &mut out,
        PROTOCOL_SSH,
        Direction::Outbound,
        t,
        b"s_mapped01",
    )
    .unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..n).map(|j| (i * 31 + j * 7) as u8).collect();
        let t = Timestamp::new(1_700_000_000 + i as u64, 0);
        encode_raw(
            &mut out,
            PROTOCOL_SSH,
            CHUNK_DATA,
            Direction::Outbound,
            t,
            &data,
        )
        .unwrap();
    }
    enc.done(&mut out, PROTOCOL_SSH, Direction::Outbound, t)
        .unwrap();
    out
}

/// Pseudo-random sizes (xorshift) up to 256 KiB, with a few chunks of the largest legal size.
fn sizes(total: usize) -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::new();
    let mut sum = 0;
    while sum < total {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = if v.len() % 37 == 36 {
            format::MAX_CHUNK_DATA_LENGTH as usize
        } else {
            (x % (256 * 1024 + 1)) as usize
        };
        sum += n + format::CHUNK_OVERHEAD;
        v.push(n);
    }
    v
}

fn fs_with(name: &str, bytes: &[u8]) -> (tempfile::TempDir, FsStore) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    let store = FsStore::new(dir.path());
    (dir, store)
}

#[test]
fn mapped_equals_read_over_several_windows() {
    let file = data_file(&sizes(STREAM_MAP_WINDOW * 5 / 2));
    assert!(file.len() > 2 * STREAM_MAP_WINDOW);
    let (_d, fs) = fs_with("f.data", &file);
    let (a, end_a) = scan(&fs, "f.data", true);
    let (b, end_b) = scan(&fs, "f.data", false);
    assert_eq!(a, b);
    assert_eq!(end_a, end_b);
    // The stream's hash and byte count are the file's.
    let want = format!(
        "StreamEnd {{ sha256: Some({:?}), bytes: {}, chunks: {} }}",
        <[u8; 32]>::from(sha2::Sha256::digest(&file)),
        file.len(),
        a.len()
    );
    assert_eq!(end_a, want);
    assert!(a.last().unwrap().contains("DONE"), "{:?}", a.last());
    // And the memory store (never mapped) agrees too.
    let mem = MemStore::new();
    mem.put("f.data", file.clone()).unwrap();
    assert_eq!(scan(&mem, "f.data", true), (a, end_a));
}

#[test]
fn mapped_equals_read_after_corruption_and_trailing_bytes() {
    let mut file = data_file(&sizes(STREAM_MAP_WINDOW * 3 / 2));
    let base = file.clone();
    // A flipped bit past the first window: CRC error at the same chunk either way.
    let at = STREAM_MAP_WINDOW + 12_345;
    file[at] ^= 0x10;
    let (_d, fs) = fs_with("f.data", &file);
    let (a, end_a) = scan(&fs, "f.data", true);
    assert!(a.last().unwrap().starts_with("error:"), "{:?}", a.last());
    assert_eq!((a, end_a), scan(&fs, "f.data", false));
    // Garbage after DONE, and a file cut inside the last window's chunk.
    let mut tail = base.clone();
    tail.extend_from_slice(b"trailing bytes after DONE");
    let (_d2, fs2) = fs_with("t.data", &tail);
    assert_eq!(scan(&fs2, "t.data", true), scan(&fs2, "t.data", false));
    let cut = &base[..base.len() - 1000];
    let (_d3, fs3) = fs_with("c.data", cut);
    let (a, end_a) = scan(&fs3, "c.data", true);
    assert!(a.last().unwrap().starts_with("error:"), "{:?}", a.last());
    assert_eq!((a, end_a), scan(&fs3, "c.data", false));
}

#[test]
fn every_truncation_of_a_small_file_is_seen_alike() {
    let file = data_file(&[0, 1, 17, 300, 4096, 70]);
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::new(dir.path());
    for len in 0..=file.len() {
        std::fs::write(dir.path().join("f.data"), &file[..len]).unwrap();
        let (a, end_a) = scan(&fs, "f.data", true);
        let (b, end_b) = scan(&fs, "f.data", false);
        assert_eq!(a, b, "cut at {len}");
        assert_eq!(end_a, end_b, "cut at {len}");
        // A cut file never ends with DONE: either an error, or (cut at a chunk boundary) a
        // clean end that the verifier reports as "no DONE".
        if len < file.len() {
            assert!(
                a.last()
                    .is_none_or(|l| l.starts_with("error:") || !l.contains("DONE")),
                "cut at {len}: {:?}",
                a.last()
            );
        } else {
            assert!(a.last().unwrap().contains("DONE"));
        }
    }
}

#[test]
fn a_file_that_shrinks_while_mapped_is_an_io_error() {
    let file = data_file(&sizes(STREAM_MAP_WINDOW * 3));
    let (d, fs) = fs_with("f.data", &file);
    let mut s = ChunkStream::open(&fs, "f.data", true)
        .unwrap()
        .with_sha256();
    assert!(s.next_chunk().unwrap().unwrap().is_head());
    // Cut the file beyond the first window, which is mapped now; the next window's size check
    // must catch it.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(d.path().join("f.data"))
        .unwrap();
    f.set_len((STREAM_MAP_WINDOW + STREAM_MAP_WINDOW / 2) as u64)
        .unwrap();
    let err = loop {
        match s.next_chunk() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a shrunk file ended cleanly"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, bsr_core::Error::Io { .. }), "{err:?}");
    // The cause is the error's source, said once in its chain.
    assert!(err.chain().contains("shrank"), "{}", err.chain());
}

/// Map mode computes a large chunk's CRC in the same pass as the file's SHA-256 (small chunks:
/// CRC first, hash after). Whichever way a chunk went, an error in it, found by the CRC or
/// after it, must leave the stream's hash where the read path leaves it.
#[test]
fn errors_in_small_and_large_chunks_leave_the_hash_as_the_read_path_does() {
    let sizes = [100, 1_500, 3_000, 70_000, 10, 300_000];
    let file = data_file(&sizes);
    // Chunk offsets: HEAD first, then the DATA chunks in order.
    let mut offsets = Vec::new();
    let mut at = MAGIC.len();
    let head_len = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    at += format::CHUNK_OVERHEAD + head_len;
    for &n in &sizes {
        offsets.push(at);
        at += format::CHUNK_OVERHEAD + n;
    }
    let mut cases = 0;
    for (&off, &n) in offsets.iter().zip(&sizes) {
        // A flipped data byte (CRC error), and a bad direction under a correct CRC (an error
        // after the CRC was computed).
        let mut flipped = file.clone();
        flipped[off + format::CHUNK_BASE_SIZE + n / 2] ^= 0x01;
        let mut bad_dir = file.clone();
        bad_dir[off + 12] = 9;
        let body_end = off + format::CHUNK_BASE_SIZE + n;
        let crc = crc32fast::hash(&bad_dir[off + format::LENGTH_SIZE..body_end]);
        bad_dir[body_end..body_end + 4].copy_from_slice(&crc.to_be_bytes());
        for (what, bytes) in [("flip", &flipped), ("direction", &bad_dir)] {
            let (_d, fs) = fs_with("f.data", bytes);
            let (a, end_a) = scan(&fs, "f.data", true);
            assert!(
                a.last().unwrap().starts_with("error:"),
                "{what} in chunk at {off}: {:?}",
                a.last()
            );
            let (b, end_b) = scan(&fs, "f.data", false);
            assert_eq!((&a, &end_a), (&b, &end_b), "{what} in chunk at {off}");
            let want = format!(
                "sha256: Some({:?})",
                <[u8; 32]>::from(sha2::Sha256::digest(bytes))
            );
            assert!(end_a.contains(&want), "{what} in chunk at {off}: {end_a}");
            cases += 1;
        }
    }
    assert_eq!(cases, 2 * sizes.len());
}
