//! The `bsr-recover` command: what it refuses, and what it says it did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::store::FsStore;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REC: &str = "sr_exec000001.bsr";
const CHAN: &str = "sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel";

fn kek_file() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/keys/test-kek.hex")
}

/// An exec recording in `dir` whose containers were never closed (every `SHA256SUM.sig`
/// removed, as a crash before closing leaves them), with every data file complete.
fn unfinished_in(dir: &Path) {
    generate::exec_session(Arc::new(FsStore::new(dir)), "", "sr_exec000001").unwrap();
    for c in [REC, "sr_exec000001.bsr/cr_exec000001.connection", CHAN] {
        std::fs::remove_file(dir.join(c).join("SHA256SUM.sig")).unwrap();
    }
}

fn recover_within(rec: &Path, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bsr-recover"))
        .args(["--kek", kek_file()])
        .arg(rec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("bsr-recover hung (killed after {limit:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Chunks (DONE excluded) of every data file of the recording.
fn chunks_in(rec: &Path) -> u64 {
    let store = Arc::new(FsStore::new(rec.parent().unwrap()));
    let r = bsr_core::read::Recording::open(store, REC).unwrap();
    let mut n = 0;
    let mut count = |f: bsr_core::read::DataFile| {
        for c in f.chunks().unwrap() {
            if !c.unwrap().is_done() {
                n += 1;
            }
        }
    };
    for conn in r.connections().unwrap() {
        for d in [bsr_core::Direction::Inbound, bsr_core::Direction::Outbound] {
            if let Ok(f) = conn.requests(d) {
                count(f);
            }
        }
        for ch in conn.channels().unwrap() {
            for d in [bsr_core::Direction::Inbound, bsr_core::Direction::Outbound] {
                for f in [ch.requests(d), ch.messages(d)].into_iter().flatten() {
                    count(f);
                }
            }
        }
    }
    n
}

#[test]
fn recover_refuses_a_recording_holding_a_fifo() {
    let d = tempfile::tempdir().unwrap();
    unfinished_in(d.path());
    let victim = d.path().join(CHAN).join("requests-inbound.data");
    std::fs::remove_file(&victim).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&victim)
            .status()
            .unwrap()
            .success()
    );
    let out = recover_within(&d.path().join(REC), Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("requests-inbound.data"), "{stderr}");
    assert!(!d.path().join(REC).join("RECOVERED.json").exists());
    assert!(!d.path().join(REC).join("SHA256SUM.sig").exists());
}

#[test]
fn recover_counts_every_kept_chunk() {
    let d = tempfile::tempdir().unwrap();
    unfinished_in(d.path());
    let rec = d.path().join(REC);
    let out = recover_within(&rec, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let n = chunks_in(&rec);
    assert!(n > 5, "{n}");
    assert!(
        stderr.contains(&format!("{n} complete chunk(s) kept")),
        "{stderr} (the recording has {n} chunks)"
    );
}
