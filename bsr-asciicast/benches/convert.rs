//! SSH → asciicast on a 64 MiB channel, against serializing the same events with serde_json.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use bsr_asciicast::convert::{ConvertOptions, convert, select_channel};
use bsr_core::read::Recording;
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let d = tempfile::tempdir().unwrap();
    let t0 = Timestamp::new(1_700_000_000, 0);
    let kek = bsr_core::keys::AeadWrapper::new([1; 32], "k");
    let s = SessionWriter::create(
        Arc::new(FsStore::new(d.path())),
        "",
        SessionOptions::new("sr_bench00001", "s_bench00001", t0),
        bsr_core::keys::RecordingKeys::from_seed("s_bench00001", [1; 32]),
        &kek,
        None,
    )
    .unwrap();
    let conn = s.new_connection("cr_bench00001", t0).unwrap();
    let mut ch = conn.new_channel("chr_bench0001", "session", t0).unwrap();
    ch.write_request(
        Direction::Inbound,
        t0,
        &bsr_core::ssh::Request::Shell(bsr_core::ssh::ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )
    .unwrap();
    // Terminal-like output: text with escapes and UTF-8, 4 KiB per chunk.
    let line =
        "drwxr-xr-x  2 root root 4096 Nov 24 01:57 \x1b[01;34mbsr-core\x1b[0m — ✓ données\r\n";
    let chunk: String = line
        .repeat(4096 / line.len() + 1)
        .chars()
        .take(4000)
        .collect();
    let n = 64 * 1024 * 1024 / chunk.len();
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let t = Timestamp::from_nanos(t0.as_nanos() + i as i128 * 1_000_000);
        ch.write_data(Direction::Outbound, t, chunk.as_bytes())
            .unwrap();
        events.push((i as f64 / 1000.0, "o", chunk.clone()));
    }
    ch.finish(t0).unwrap();
    conn.finish(t0).unwrap();
    s.finish(t0).unwrap();
    let rec = Recording::open(Arc::new(FsStore::new(d.path())), "sr_bench00001.bsr").unwrap();
    let files = select_channel(&rec, None, None).unwrap();
    let mut g = c.benchmark_group("convert_64MiB");
    g.throughput(Throughput::Bytes((n * chunk.len()) as u64));
    g.sample_size(10);
    g.bench_function("bsr_asciicast", |b| {
        b.iter(|| {
            let mut out = std::io::BufWriter::new(std::io::sink());
            convert(&files, &ConvertOptions::default(), &mut out).unwrap();
        })
    });
    g.bench_function("serde_json_floor", |b| {
        b.iter(|| {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::sink());
            for e in &events {
                serde_json::to_writer(&mut out, e).unwrap();
                out.write_all(b"\n").unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
