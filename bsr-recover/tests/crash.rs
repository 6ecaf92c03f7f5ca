//! Crash safety: a writer process killed with SIGKILL at random points leaves a recording that
//! verifies as incomplete (never tampered, never valid); recovery closes and signs it, and every
//! chunk acknowledged as synced before the kill is in the recovered recording, byte for byte.
//!
//! The writer is this test binary itself, re-run with `BSR_CRASH_CHILD=<dir>` so that only
//! `crash_child` runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::Direction;
use bsr_core::read::Recording;
use bsr_core::store::FsStore;
use bsr_verify::report::Verdict;
use bsr_verify::{Trust, VerifyOptions, verify};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

const REC: &str = "sr_crash00001";

fn payload(k: u64) -> Vec<u8> {
    format!("chunk {k:08} ")
        .repeat(1 + (k % 7) as usize)
        .into_bytes()
}

/// The writer: records until it is killed, printing `SYNCED <n>` after each sync point where
/// `n` DATA chunks of the outbound stream are durable.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("BSR_CRASH_CHILD") else {
        return;
    };
    let store = Arc::new(FsStore::new(&dir));
    let kek = generate::kek();
    let keys = bsr_core::keys::RecordingKeys::generate("s_crash00001").unwrap();
    let mut opts = bsr_core::write::SessionOptions::new(REC, "s_crash00001", generate::t(0));
    opts.writer.buffer_size = 4096;
    let s = bsr_core::write::SessionWriter::create(
        store,
        "",
        opts,
        keys,
        &kek,
        Some(&generate::recorder()),
    )
    .unwrap();
    let c = s.new_connection("cr_crash00001", generate::t(0)).unwrap();
    let mut ch = c
        .new_channel("chr_crash0001", "session", generate::t(0))
        .unwrap();
    ch.write_request(
        Direction::Inbound,
        generate::t(1),
        &bsr_core::ssh::Request::Shell(bsr_core::ssh::ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )
    .unwrap();
    let mut out = std::io::stdout();
    for k in 0.. {
        ch.write_data(Direction::Outbound, generate::t(2 + k), &payload(k))
            .unwrap();
        ch.write_data(Direction::Inbound, generate::t(2 + k), b"k")
            .unwrap();
        if k % 5 == 4 {
            ch.sync().unwrap();
            writeln!(out, "SYNCED {}", k + 1).unwrap();
            out.flush().unwrap();
        }
    }
}

fn trust() -> VerifyOptions {
    let rt =
        bsr_core::keys::RecorderTrust::from_public_keys(vec![generate::recorder().public_key()]);
    VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(generate::kek())),
            recorder: Some(Arc::new(rt)),
        },
        store_checksums: true,
        ..VerifyOptions::default()
    }
}

#[test]
fn killed_writers_are_incomplete_and_recover_without_losing_synced_chunks() {
    if std::env::var_os("BSR_CRASH_CHILD").is_some() {
        return;
    }
    let trials: u64 = std::env::var("BSR_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let exe = std::env::current_exe().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut recovered, mut unrecoverable, mut synced_total, mut checked_total) =
        (0, 0, 0u64, 0u64);
    for trial in 0..trials {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 400);
        let d = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("BSR_CRASH_CHILD", d.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut synced = 0u64;
        for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
            if let Some(n) = line.unwrap().strip_prefix("SYNCED ") {
                synced = n.parse().unwrap();
            }
        }
        let store = FsStore::new(d.path());
        let dir = format!("{REC}.bsr");
        if !d.path().join(&dir).exists() {
            assert_eq!(synced, 0);
            unrecoverable += 1;
            continue;
        }
        let r = verify(&store, &dir, &trust());
        assert_eq!(
            r.verdict,
            Verdict::Incomplete,
            "trial {trial} ({delay:?}): {:#?}",
            r.problems
        );
        assert_eq!(r.exit_code, 4);
        // Killed before the recorder attestation was written (it comes with the keys, before
        // any data): recovery cannot make the recorder attest, so it is not authentic under
        // --recorder-key; nothing was synced.
        let attested = d
            .path()
            .join(&dir)
            .join(bsr_core::format::RECORDER_ATTESTATION_FILE)
            .exists();
        if !attested {
            assert_eq!(synced, 0, "trial {trial}");
            unrecoverable += 1;
            continue;
        }
        if trial % 10 == 0 && synced > 0 {
            // Through the binary: exit 4, recover, exit 0.
            let kek = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/keys/test-kek.hex");
            let p = d.path().join(&dir);
            let r = verify(&store, &dir, &trust());
            assert_eq!(r.exit_code, 4, "{:#?}", r.problems);
            let st = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-recover"))
                .args(["--kek", kek])
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                st.status.success(),
                "{}",
                String::from_utf8_lossy(&st.stderr)
            );
            assert!(String::from_utf8_lossy(&st.stdout).contains("\"Recovered\": true"));
            let r = verify(&store, &dir, &trust());
            assert_eq!(r.exit_code, 0, "{:#?}", r.problems);
            // Recovering twice is refused.
            let st = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-recover"))
                .args(["--kek", kek])
                .arg(&p)
                .output()
                .unwrap();
            assert_eq!(st.status.code(), Some(2));
        } else {
            match bsr_core::write::recover::recover(
                &d.path().join(&dir),
                &generate::kek(),
                generate::t(10_000),
            ) {
                Err(e) => {
                    // Only possible when the kill came before the keys were on disk.
                    assert_eq!(
                        synced, 0,
                        "trial {trial}: recovery failed after sync points: {e}"
                    );
                    unrecoverable += 1;
                    continue;
                }
                Ok(rep) => assert!(rep.recovered),
            }
        }
        let r = verify(&store, &dir, &trust());
        assert_eq!(
            r.verdict,
            Verdict::Authentic,
            "trial {trial}: after recovery: {:#?}",
            r.problems
        );
        assert!(r.recovered);
        // Every synced chunk is there, byte for byte, in order.
        let rec = Recording::open(Arc::new(FsStore::new(d.path())), &dir).unwrap();
        let conns = rec.connections().unwrap();
        let mut got = Vec::new();
        if let Some(conn) = conns.first()
            && let Some(ch) = conn.channels().unwrap().first()
        {
            // A kill before the first outbound write leaves no outbound file (nothing synced).
            match ch.messages(Direction::Outbound) {
                Err(e) => assert_eq!(synced, 0, "trial {trial}: {e}"),
                Ok(f) => {
                    for c in f.chunks().unwrap() {
                        let c = c.unwrap();
                        if c.is_data() {
                            got.push(c.data().unwrap().into_owned());
                        }
                    }
                }
            }
        }
        assert!(
            got.len() as u64 >= synced,
            "trial {trial}: {synced} synced, {} recovered",
            got.len()
        );
        for (k, data) in got.iter().enumerate() {
            assert_eq!(data, &payload(k as u64), "trial {trial}: chunk {k}");
        }
        synced_total += synced;
        checked_total += got.len() as u64;
        recovered += 1;
    }
    eprintln!(
        "crash trials: {trials}; recovered {recovered}, killed before keys were written {unrecoverable}; chunks acknowledged as synced {synced_total}, chunks found after recovery {checked_total}"
    );
    assert!(
        recovered >= trials / 2,
        "too few trials got far enough to matter: {recovered}/{trials}"
    );
}
