//! `text` on a channel of coloured shell output, against feeding the same bytes straight into
//! avt (the same emulator, no observer, no recording to read) in the same run. The issue's
//! target: `text` at least 0.8x of straight avt. Size: `BSR_TEXT_BENCH_MIB` (default 16).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use bsr_asciicast::convert::select_channel;
use bsr_asciicast::text::{TextOptions, write_text};
use bsr_core::read::Recording;
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let mib: usize = std::env::var("BSR_TEXT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let d = tempfile::tempdir().unwrap();
    let t0 = Timestamp::new(1_700_000_000, 0);
    let kek = bsr_core::keys::AeadWrapper::new([1; 32], "k");
    let s = SessionWriter::create(
        Arc::new(FsStore::new(d.path())),
        "",
        SessionOptions::new("sr_textb00001", "s_textb00001", t0),
        bsr_core::keys::RecordingKeys::from_seed("s_textb00001", [1; 32]),
        &kek,
        None,
    )
    .unwrap();
    let conn = s.new_connection("cr_textb00001", t0).unwrap();
    let mut ch = conn.new_channel("chr_textb0001", "session", t0).unwrap();
    ch.write_request(
        Direction::Inbound,
        t0,
        &bsr_core::ssh::Request::Shell(bsr_core::ssh::ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )
    .unwrap();
    // Coloured shell output (ls --color, a prompt, UTF-8), 4000 bytes per chunk.
    let lines = [
        "drwxr-xr-x  2 root root 4096 Nov 24 01:57 \x1b[01;34mbsr-core\x1b[0m — ✓ données\r\n",
        "-rw-r--r--  1 root root  812 Nov 24 01:57 \x1b[00mCargo.toml\x1b[0m\r\n",
        "\x1b[01;32malice@db1\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ls -la --color\r\n",
        "-rwxr-xr-x  1 root root 9120 Nov 24 01:57 \x1b[01;32mrun.sh\x1b[0m\r\n",
    ];
    let text: String = lines.concat();
    let chunk: String = text
        .repeat(4096 / text.len() + 1)
        .chars()
        .take(4000)
        .collect();
    let n = mib * 1024 * 1024 / chunk.len();
    for i in 0..n {
        let t = Timestamp::from_nanos(t0.as_nanos() + i as i128 * 1_000_000);
        ch.write_data(Direction::Outbound, t, chunk.as_bytes())
            .unwrap();
    }
    ch.finish(t0).unwrap();
    conn.finish(t0).unwrap();
    s.finish(t0).unwrap();
    let rec = Recording::open(Arc::new(FsStore::new(d.path())), "sr_textb00001.bsr").unwrap();
    let files = select_channel(&rec, None, None).unwrap();
    let mut g = c.benchmark_group(format!("text_{mib}MiB"));
    g.throughput(Throughput::Bytes((n * chunk.len()) as u64));
    g.sample_size(10);
    g.bench_function("bsr_asciicast_text", |b| {
        b.iter(|| {
            let s = write_text(&files, &TextOptions::default(), std::io::sink()).unwrap();
            assert!(s.lines > 0);
        })
    });
    g.bench_function("avt_feed", |b| {
        b.iter(|| {
            let mut term = avt::Terminal::new(80, 24).unwrap();
            for _ in 0..n {
                term.feed(chunk.as_str());
            }
            std::hint::black_box(term.cursor());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
