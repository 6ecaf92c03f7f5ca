//! The recording writer: DATA throughput into a store that discards (so the figure is the
//! writer's own cost: chunk encoding, CRC, SHA-256, buffering).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::store::{StoreFile, WriteStore};
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write;
use std::sync::Arc;

#[derive(Debug)]
struct Null;
struct NullFile;
impl Write for NullFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(std::hint::black_box(b).len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl StoreFile for NullFile {
    fn sync(&mut self) -> bsr_core::Result<()> {
        Ok(())
    }
}
impl WriteStore for Null {
    fn create_dir(&self, _: &str) -> bsr_core::Result<()> {
        Ok(())
    }
    fn create(&self, _: &str) -> bsr_core::Result<Box<dyn StoreFile>> {
        Ok(Box::new(NullFile))
    }
    fn sync_dir(&self, _: &str) -> bsr_core::Result<()> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let t = Timestamp::new(1_700_000_000, 0);
    let kek = AeadWrapper::new([1; 32], "k");
    for (name, size, n) in [("256KiB", 256 * 1024, 256usize), ("16B", 16, 1_000_000)] {
        let data = vec![0x5au8; size];
        let mut g = c.benchmark_group(format!("writer/{name}"));
        g.throughput(if size > 16 {
            Throughput::Bytes((size * n) as u64)
        } else {
            Throughput::Elements(n as u64)
        });
        g.sample_size(10);
        let s = SessionWriter::create(
            Arc::new(Null),
            "",
            SessionOptions::new("sr_bench00001", "s_bench00001", t),
            RecordingKeys::from_seed("s_bench00001", [1; 32]),
            &kek,
            None,
        )
        .unwrap();
        let conn = s.new_connection("cr_bench00001", t).unwrap();
        let mut ch = conn.new_channel("chr_bench0001", "session", t).unwrap();
        g.bench_function("write_data", |b| {
            b.iter(|| {
                for _ in 0..n {
                    ch.write_data(Direction::Outbound, t, &data).unwrap();
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
