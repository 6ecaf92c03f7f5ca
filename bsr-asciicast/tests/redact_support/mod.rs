//! Shared helpers of the redaction tests: running the binary, verifying copies with
//! bsr-verify's library, reading DATA chunks, hashing trees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use bsr_core::keys::AeadWrapper;
use bsr_core::read::DataFile;
use bsr_core::store::FsStore;
use bsr_verify::report::Report;
use bsr_verify::verify::{OriginalRef, Trust, VerifyOptions, check_against_original, verify};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

pub fn rec(name: &str) -> PathBuf {
    root().join("testdata/recordings").join(name)
}

pub fn kek() -> PathBuf {
    root().join("testdata/keys/test-kek.hex")
}

pub fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(args)
        .output()
        .unwrap()
}

/// `bsr-asciicast redact REC --out OUT --kek KEK EXTRA…`; returns the copy's folder.
pub fn redact(rec: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let o = redact_output(rec, out, extra);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

pub fn redact_output(rec: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "redact".as_ref(),
        rec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--kek".as_ref(),
    ];
    let k = kek();
    args.push(k.as_os_str());
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    run(&args)
}

fn split(p: &Path) -> (Arc<FsStore>, String) {
    let parent = p.parent().unwrap();
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    (Arc::new(FsStore::new(parent)), name)
}

pub fn opts() -> VerifyOptions {
    VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(AeadWrapper::from_kek_file(&kek()).unwrap())),
            recorder: None,
        },
        ..VerifyOptions::default()
    }
}

/// bsr-verify on the copy, with `--kek`, and `--original` when given.
pub fn verify_copy(copy: &Path, original: Option<&Path>) -> Report {
    let (store, dir) = split(copy);
    let mut r = verify(&*store, &dir, &opts());
    if let Some(o) = original {
        let (os, od) = split(o);
        let orig = OriginalRef::verify(os, &od, &opts());
        check_against_original(&mut r, store, &orig);
    }
    r
}

/// Error codes of a report.
pub fn codes(r: &Report) -> Vec<&'static str> {
    r.errors().map(|p| p.code).collect()
}

/// The DATA chunks of a data file: index, time (RFC 3339), decompressed data.
pub fn data_chunks(path: &Path) -> Vec<(u64, String, Vec<u8>)> {
    let (store, name) = split(path);
    let f = DataFile::open(&*store, &name).unwrap();
    f.chunks()
        .unwrap()
        .map(|c| c.unwrap())
        .filter(|c| c.is_data())
        .map(|c| (c.index, c.time.to_rfc3339(), c.data().unwrap().into_owned()))
        .collect()
}

/// The concatenated DATA of a data file.
pub fn stream(path: &Path) -> Vec<u8> {
    data_chunks(path).into_iter().flat_map(|c| c.2).collect()
}

/// SHA-256 of every file below `dir`, by relative path.
pub fn hash_tree(dir: &Path) -> BTreeMap<PathBuf, [u8; 32]> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, sha2::Sha256::digest(std::fs::read(&p).unwrap()).into());
            }
        }
    }
    out
}

/// The copy's manifest.
pub fn manifest(copy: &Path) -> bsr_core::format::redaction::RedactionManifest {
    let b = std::fs::read(copy.join("REDACTION.json")).unwrap();
    bsr_core::format::redaction::RedactionManifest::parse(&b, "REDACTION.json").unwrap()
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let t = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// Flips one bit of the byte at `at` (from the end when negative).
pub fn flip(path: &Path, at: i64) {
    let mut b = std::fs::read(path).unwrap();
    let i = if at < 0 {
        (b.len() as i64 + at) as usize
    } else {
        at as usize
    };
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}
