//! The verifier reads local data files through a sliding memory map by default
//! (`VerifyOptions::map_files`); `--no-mmap` reads them with `read` calls. Both must give the
//! same report, on intact recordings and on every single-byte corruption of a data file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::store::FsStore;
use bsr_verify::report::{Report, Verdict};
use bsr_verify::{Trust, VerifyOptions, verify};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn opts(map_files: bool) -> VerifyOptions {
    let kek =
        bsr_core::keys::AeadWrapper::from_kek_file(&testdata().join("keys/test-kek.hex")).unwrap();
    VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(kek)),
            recorder: None,
        },
        store_checksums: true,
        map_files,
        // Every data file, however small, goes through the map when it is on.
        map_min_len: 0,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

fn data_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            data_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "data") {
            out.push(p);
        }
    }
    out.sort();
}

/// The report without its timing.
fn strip(mut r: Report) -> Report {
    r.elapsed_ms = 0;
    r
}

#[test]
fn mapped_and_read_reports_are_identical() {
    for rec in [
        "sr_shell00001.bsr",
        "sr_exec000001.bsr",
        "sr_gzip000001.bsr",
        "sr_multi00001.bsr",
    ] {
        let store = FsStore::new(testdata().join("recordings"));
        let a = strip(verify(&store, rec, &opts(true)));
        let b = strip(verify(&store, rec, &opts(false)));
        assert_eq!(a.verdict, Verdict::Authentic, "{rec}: {:#?}", a.problems);
        assert_eq!(a, b, "{rec}");
    }
}

#[test]
fn every_corrupted_data_byte_gives_the_same_report_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let rec = "sr_exec000001.bsr";
    copy_dir(
        &testdata().join("recordings").join(rec),
        &dir.path().join(rec),
    );
    let store = FsStore::new(dir.path());
    let mut files = Vec::new();
    data_files(&dir.path().join(rec), &mut files);
    assert!(!files.is_empty());
    let mut checked = 0;
    for f in &files {
        let orig = std::fs::read(f).unwrap();
        for i in 0..orig.len() {
            let mut bad = orig.clone();
            bad[i] ^= 0x01;
            std::fs::write(f, &bad).unwrap();
            let a = strip(verify(&store, rec, &opts(true)));
            let b = strip(verify(&store, rec, &opts(false)));
            assert_eq!(a.verdict, Verdict::Invalid, "{} byte {i}", f.display());
            assert_eq!(a, b, "{} byte {i}", f.display());
            checked += 1;
        }
        std::fs::write(f, &orig).unwrap();
    }
    assert!(checked > 100, "{checked}");
}

/// `verify_sharing` over `rec`, its messages-outbound file `shared` read by another thread:
/// the report, and the bytes that thread received.
fn verify_shared(store: &FsStore, rec: &str, shared: &str) -> (Report, Vec<u8>) {
    use std::io::Read;
    let (share, mut reader) = bsr_core::read::share::share(shared);
    let t = std::thread::spawn(move || {
        let mut got = Vec::new();
        // Small reads, so that the reading lags behind the verifier.
        let mut buf = [0u8; 97];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let r = bsr_verify::verify::verify_sharing(store, rec, &opts(true), share);
    (strip(r), t.join().unwrap())
}

#[test]
fn sharing_gives_the_same_report_and_the_reader_exactly_the_file() {
    for (rec, ch) in [
        (
            "sr_shell00001.bsr",
            "cr_shell00001.connection/chr_shell00001.channel",
        ),
        (
            "sr_exec000001.bsr",
            "cr_exec000001.connection/chr_exec00001.channel",
        ),
    ] {
        let store = FsStore::new(testdata().join("recordings"));
        let shared = format!("{rec}/{ch}/messages-outbound.data");
        let (a, got) = verify_shared(&store, rec, &shared);
        assert_eq!(a, strip(verify(&store, rec, &opts(true))), "{rec}");
        assert_eq!(a.verdict, Verdict::Authentic, "{rec}");
        let file = std::fs::read(testdata().join("recordings").join(&shared)).unwrap();
        assert_eq!(got, file, "{rec}: the reader got the file's bytes");
    }
}

#[test]
fn every_corrupted_byte_of_the_shared_file_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let rec = "sr_exec000001.bsr";
    copy_dir(
        &testdata().join("recordings").join(rec),
        &dir.path().join(rec),
    );
    let store = FsStore::new(dir.path());
    let shared =
        format!("{rec}/cr_exec000001.connection/chr_exec00001.channel/messages-outbound.data");
    let f = dir.path().join(&shared);
    let orig = std::fs::read(&f).unwrap();
    for i in 0..orig.len() {
        let mut bad = orig.clone();
        bad[i] ^= 0x01;
        std::fs::write(&f, &bad).unwrap();
        let (a, got) = verify_shared(&store, rec, &shared);
        assert_eq!(a.verdict, Verdict::Invalid, "byte {i}");
        assert_eq!(a, strip(verify(&store, rec, &opts(true))), "byte {i}");
        // What the reader got is what was verified (and refused): the whole file.
        assert_eq!(got, bad, "byte {i}");
    }
}
