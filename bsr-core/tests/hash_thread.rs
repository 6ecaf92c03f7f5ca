//! `ChunkStream::with_sha256_on_thread` must give the same chunks and the same SHA-256 as the
//! inline hash, whatever the sizes of the reads (files below, at and above the size from which
//! the hash moves to its thread; reads of odd sizes that straddle it), and a stream dropped
//! half-way (after an error) must not hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::format::Compression;
use bsr_core::format::{CHUNK_DATA, MAGIC, PROTOCOL_SSH};
use bsr_core::read::{ChunkStream, HASH_THREAD_FROM};
use bsr_core::write::chunk::{ChunkEncoder, encode_raw};
use bsr_core::{Direction, Timestamp};
use sha2::Digest;
use std::io::Read;

fn data_file(total: usize, piece: usize) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let mut enc = ChunkEncoder::new(Compression::None);
    let t = Timestamp::new(1_700_000_000, 0);
    enc.head(
        &mut out,
        PROTOCOL_SSH,
        Direction::Outbound,
        t,
        b"s_thread01",
    )
    .unwrap();
    let mut i = 0usize;
    while out.len() < total {
        let data: Vec<u8> = (0..piece).map(|j| (i * 31 + j * 7) as u8).collect();
        encode_raw(
            &mut out,
            PROTOCOL_SSH,
            CHUNK_DATA,
            Direction::Outbound,
            t,
            &data,
        )
        .unwrap();
        i += 1;
    }
    enc.done(&mut out, PROTOCOL_SSH, Direction::Outbound, t)
        .unwrap();
    out
}

/// A reader that returns at most `step` bytes per call.
struct Steps<'a> {
    b: &'a [u8],
    step: usize,
}

impl Read for Steps<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.b.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.b[..n]);
        self.b = &self.b[n..];
        Ok(n)
    }
}

fn pass(b: &[u8], step: usize, threaded: bool) -> (Vec<(u64, u64, usize)>, [u8; 32], u64) {
    let s = ChunkStream::new(Steps { b, step }, "f.data");
    let mut s = if threaded {
        s.with_sha256_on_thread()
    } else {
        s.with_sha256()
    };
    let mut seen = Vec::new();
    while let Some(c) = s.next_chunk().unwrap() {
        seen.push((c.index, c.offset, c.stored.len()));
    }
    let end = s.finish().unwrap();
    (seen, end.sha256.unwrap(), end.bytes)
}

#[test]
fn threaded_hash_equals_inline_hash() {
    let from = HASH_THREAD_FROM as usize;
    for total in [100, from - 1, from, from + 1, 3 * from + 12345, 9 * from] {
        let b = data_file(total, 4093);
        let want: [u8; 32] = sha2::Sha256::digest(&b).into();
        for step in [1 << 20, 65_536, 4_099, from - 7] {
            let inline = pass(&b, step, false);
            let threaded = pass(&b, step, true);
            assert_eq!(inline, threaded, "total {total}, reads of {step}");
            assert_eq!(threaded.1, want, "total {total}, reads of {step}");
            assert_eq!(threaded.2, b.len() as u64);
        }
    }
}

#[test]
fn a_changed_byte_changes_the_threaded_hash() {
    let mut b = data_file(5 * HASH_THREAD_FROM as usize, 60_000);
    let before = pass(&b, 1 << 20, true).1;
    // A byte of a chunk's CRC field is not checked by the CRC of the chunk after it, but it is
    // in the hash: change the last byte of the file (the DONE chunk's CRC) and stop reading
    // chunks before it.
    let n = b.len();
    b[n - 1] ^= 1;
    let mut s = ChunkStream::new(
        Steps {
            b: &b,
            step: 1 << 20,
        },
        "f.data",
    )
    .with_sha256_on_thread();
    let mut chunks = 0;
    while chunks < 10 {
        s.next_chunk().unwrap().unwrap();
        chunks += 1;
    }
    let after = s.finish().unwrap().sha256.unwrap();
    assert_ne!(before, after);
    assert_eq!(after, <[u8; 32]>::from(sha2::Sha256::digest(&b)));
}

#[test]
fn dropped_half_way_does_not_hang() {
    let b = data_file(6 * HASH_THREAD_FROM as usize, 100_000);
    for _ in 0..20 {
        let mut s = ChunkStream::new(
            Steps {
                b: &b,
                step: 1 << 20,
            },
            "f.data",
        )
        .with_sha256_on_thread();
        for _ in 0..30 {
            s.next_chunk().unwrap().unwrap();
        }
        drop(s);
    }
}
