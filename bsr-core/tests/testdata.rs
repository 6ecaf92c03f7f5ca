//! The committed `testdata/` must be exactly what the deterministic generator produces.
//! Set `BSR_REGEN_TESTDATA=1` to rewrite it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bsr_core::store::{MemStore, ReadStore};
use std::path::PathBuf;
use std::sync::Arc;

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn local_files(root: &std::path::Path, dir: &str, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for e in rd {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let p = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        if e.file_type().unwrap().is_dir() {
            local_files(root, &p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn committed_testdata_matches_generator() {
    let mem = Arc::new(MemStore::new());
    support::generate::generate_all(mem.clone()).unwrap();
    for (name, content) in support::generate::key_files() {
        mem.put(&format!("keys/{name}"), content.into_bytes())
            .unwrap();
    }
    // Generating twice gives the same bytes (determinism).
    let again = Arc::new(MemStore::new());
    support::generate::generate_all(again.clone()).unwrap();
    for f in again.files() {
        assert_eq!(mem.get(&f), again.get(&f), "{f} is not deterministic");
    }

    let root = testdata();
    if std::env::var_os("BSR_REGEN_TESTDATA").is_some() {
        for sub in ["recordings", "keys"] {
            let _ = std::fs::remove_dir_all(root.join(sub));
        }
        for f in mem.files() {
            let p = root.join(&f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, mem.get(&f).unwrap()).unwrap();
        }
    }
    let mut committed = Vec::new();
    for sub in ["recordings", "keys"] {
        local_files(&root, sub, &mut committed);
    }
    committed.sort();
    let generated = mem.files();
    assert_eq!(
        committed, generated,
        "file lists differ; run with BSR_REGEN_TESTDATA=1"
    );
    for f in &generated {
        let want = mem.get(f).unwrap();
        let got = std::fs::read(root.join(f)).unwrap();
        assert!(
            got == want,
            "testdata/{f} drifted from the generator; run with BSR_REGEN_TESTDATA=1"
        );
    }
    assert!(mem.list("recordings").unwrap().len() >= 4);
}
