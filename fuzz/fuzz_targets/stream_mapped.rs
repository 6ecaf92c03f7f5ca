#![no_main]
//! Differential target: a data file read through `ChunkStream::open_mapped_from` with the sliding memory map
//! must give exactly what the `read` path gives (chunks, offsets, errors, SHA-256, byte count).
use bsr_core::read::ChunkStream;
use bsr_core::store::FsStore;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn scan(store: &FsStore, map: bool) -> (Vec<String>, String) {
    let mut out = Vec::new();
    // Mapped from 0 bytes: fuzz inputs are small, and the default maps only large files.
    let mut s = match ChunkStream::open_mapped_from(store, "f.data", map.then_some(0)) {
        Ok(s) => s.with_sha256(),
        Err(e) => return (out, format!("open: {e}")),
    };
    loop {
        match s.next_chunk() {
            Ok(Some(c)) => out.push(format!(
                "{} {} {:?} {:?} {}",
                c.index,
                c.offset,
                c.chunk_type,
                c.stored,
                c.compressed
            )),
            Ok(None) => break,
            Err(e) => {
                out.push(format!("error: {e}"));
                break;
            }
        }
    }
    let end = match s.finish() {
        Ok(e) => format!("{e:?}"),
        Err(e) => format!("finish: {e}"),
    };
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("bsr-fuzz-stream-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let store = FsStore::new(dir);
    for input in [data, &[&bsr_core::format::MAGIC[..], data].concat()[..]] {
        std::fs::write(dir.join("f.data"), input).unwrap();
        let mapped = scan(&store, true);
        let read = scan(&store, false);
        assert_eq!(mapped, read);
    }
});
