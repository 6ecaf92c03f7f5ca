//! Chunk encode and decode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use bsr_core::format::Compression;
use bsr_core::format::{CHUNK_DATA, MAGIC, PROTOCOL_SSH};
use bsr_core::read::chunk::ChunkReader;
use bsr_core::read::decoder::StreamDecoder;
use bsr_core::write::chunk::ChunkEncoder;
use bsr_core::{Direction, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn file(size: usize, n: usize) -> Vec<u8> {
    let data = vec![0x5au8; size];
    let mut out = MAGIC.to_vec();
    let mut e = ChunkEncoder::new(Compression::None);
    let t = Timestamp::new(1_700_000_000, 0);
    e.head(&mut out, PROTOCOL_SSH, Direction::Outbound, t, b"s_bench")
        .unwrap();
    for _ in 0..n {
        e.chunk(
            &mut out,
            PROTOCOL_SSH,
            CHUNK_DATA,
            Direction::Outbound,
            t,
            &data,
        )
        .unwrap();
    }
    e.done(&mut out, PROTOCOL_SSH, Direction::Outbound, t)
        .unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let t = Timestamp::new(1_700_000_000, 0);
    for (name, size, n) in [("256KiB", 256 * 1024, 256), ("16B", 16, 1_000_000)] {
        let data = vec![0x5au8; size];
        let mut g = c.benchmark_group(format!("chunk/{name}"));
        g.throughput(if size > 16 {
            Throughput::Bytes((size * n) as u64)
        } else {
            Throughput::Elements(n as u64)
        });
        let mut out = Vec::with_capacity((size + 29) * n);
        g.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                let mut e = ChunkEncoder::new(Compression::None);
                for _ in 0..n {
                    e.chunk(
                        &mut out,
                        PROTOCOL_SSH,
                        CHUNK_DATA,
                        Direction::Outbound,
                        t,
                        black_box(&data),
                    )
                    .unwrap();
                }
                black_box(out.len())
            })
        });
        let f = file(size, n);
        g.bench_function("read_crc", |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                for ch in ChunkReader::new(black_box(&f)).unwrap() {
                    bytes += ch.unwrap().stored.len();
                }
                black_box(bytes)
            })
        });
        if size > 16 {
            g.bench_function("push_decoder", |b| {
                b.iter(|| {
                    let mut d = StreamDecoder::new();
                    let mut n = 0;
                    for piece in f.chunks(1 << 20) {
                        d.push(piece).unwrap();
                        while let Some(c) = d.next_chunk().unwrap() {
                            n += c.stored.len();
                        }
                    }
                    black_box(n)
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
