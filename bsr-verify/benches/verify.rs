//! Verification of a recording holding 256 MiB of channel data (page cache), memory-mapped
//! (default) and with `read` calls (`--no-mmap`), against the raw single-core speed of the sha2
//! crate over the same bytes in memory and over a cache-resident 256 KiB buffer (its best).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use bsr_verify::{VerifyOptions, verify};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest;
use std::sync::Arc;

const MIB: usize = 256;

fn bench(c: &mut Criterion) {
    let d = tempfile::tempdir().unwrap();
    let t = Timestamp::new(1_700_000_000, 0);
    let kek = bsr_core::keys::AeadWrapper::new([1; 32], "k");
    let s = SessionWriter::create(
        Arc::new(FsStore::new(d.path())),
        "",
        SessionOptions::new("sr_bench00001", "s_bench00001", t),
        bsr_core::keys::RecordingKeys::from_seed("s_bench00001", [1; 32]),
        &kek,
        None,
    )
    .unwrap();
    let conn = s.new_connection("cr_bench00001", t).unwrap();
    let mut ch = conn.new_channel("chr_bench0001", "session", t).unwrap();
    let block: Vec<u8> = (0..256 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    for _ in 0..MIB * 4 {
        ch.write_data(Direction::Outbound, t, &block).unwrap();
    }
    ch.finish(t).unwrap();
    conn.finish(t).unwrap();
    s.finish(t).unwrap();
    let store = FsStore::new(d.path());
    let data = std::fs::read(d.path().join(
        "sr_bench00001.bsr/cr_bench00001.connection/chr_bench0001.channel/messages-outbound.data",
    ))
    .unwrap();
    let mut g = c.benchmark_group("verify_256MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("sha2_raw", |b| {
        b.iter(|| std::hint::black_box(sha2::Sha256::digest(&data)))
    });
    g.bench_function("sha2_raw_hot_buffer", |b| {
        b.iter(|| {
            let mut h = sha2::Sha256::new();
            for piece in data.chunks(block.len()) {
                h.update(std::hint::black_box(&block[..piece.len()]));
            }
            std::hint::black_box(h.finalize())
        })
    });
    for (name, map_files) in [
        ("bsr_verify_jobs1", true),
        ("bsr_verify_jobs1_no_mmap", false),
    ] {
        let opts = VerifyOptions {
            map_files,
            ..VerifyOptions::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = verify(&store, "sr_bench00001.bsr", &opts);
                assert_eq!(r.verdict, bsr_verify::Verdict::Unauthenticated);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
