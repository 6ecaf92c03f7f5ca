//! Throughput of the cast writer (Go-compatible escaping and float formatting), the
//! incremental UTF-8 decoder and the strict reader, on terminal-like 4 KB events.
#![allow(missing_docs, clippy::unwrap_used)]

use bsr_asciicast::cast::{CastReader, CastWriter, EventKind, Header};
use bsr_asciicast::utf8::Utf8Stream;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn chunk(line: &str) -> String {
    line.repeat(4096 / line.len() + 1)
        .chars()
        .take(4000)
        .collect()
}

fn bench(c: &mut Criterion) {
    let h = Header {
        width: 80,
        height: 24,
        timestamp: Some(1_700_000_000),
        ..Header::default()
    };
    let inputs = [
        (
            "terminal",
            chunk(
                "drwxr-xr-x  2 root root 4096 Nov 24 01:57 \x1b[01;34mbsr-core\x1b[0m — ✓ données\r\n",
            ),
        ),
        (
            "ascii",
            chunk("the quick brown fox jumps over the lazy dog 0123456789 "),
        ),
        (
            "escape_heavy",
            chunk("\x1b[0m<a href=\"x\">&</a>\t\r\n\u{2028}"),
        ),
    ];
    let total = 16 * 1024 * 1024;
    for (name, data) in &inputs {
        let n = total / data.len();
        let mut g = c.benchmark_group(format!("cast_16MiB_{name}"));
        g.throughput(Throughput::Bytes((n * data.len()) as u64));
        g.sample_size(10);
        g.bench_function("write_v2", |b| {
            b.iter(|| {
                let mut w = CastWriter::new_v2(std::io::sink(), &h).unwrap();
                for i in 0..n {
                    w.event(i as i128 * 1_234_567, &EventKind::Output, data)
                        .unwrap();
                }
                w.finish().unwrap();
            })
        });
        g.bench_function("write_v2_raw_bytes", |b| {
            b.iter(|| {
                let mut w = CastWriter::new_v2(std::io::sink(), &h).unwrap();
                for i in 0..n {
                    w.event_bytes(i as i128 * 1_234_567, &EventKind::Output, data.as_bytes())
                        .unwrap();
                }
                w.finish().unwrap();
            })
        });
        g.bench_function("utf8_stream", |b| {
            b.iter(|| {
                let mut d = Utf8Stream::new();
                let mut s = String::with_capacity(8192);
                for _ in 0..n {
                    s.clear();
                    d.push(data.as_bytes(), &mut s);
                }
                d.finish(&mut s);
                s.len()
            })
        });
        let mut w = CastWriter::new_v2(Vec::new(), &h).unwrap();
        for i in 0..n {
            w.event(i as i128 * 1_234_567, &EventKind::Output, data)
                .unwrap();
        }
        let cast = w.finish().unwrap();
        g.bench_function("read_v2", |b| {
            b.iter(|| {
                CastReader::new(&cast[..])
                    .unwrap()
                    .map(|e| e.unwrap().data.len())
                    .sum::<usize>()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
