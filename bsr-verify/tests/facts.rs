//! Session facts and audit events: goldens on testdata, many recordings, filters,
//! --verified-only, and the S3 path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
}

fn kek() -> String {
    testdata().join("keys/test-kek.hex").display().to_string()
}

/// JSON lines with the machine-specific `location` removed.
fn normalized(out: &[u8]) -> String {
    let mut s = String::new();
    for line in String::from_utf8_lossy(out).lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(o) = v.as_object_mut() {
            o.remove("location");
        }
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

fn golden(name: &str, got: &str) {
    let p = testdata().join("golden").join(name);
    if std::env::var_os("BSR_REGEN_TESTDATA").is_some() {
        std::fs::write(&p, got).unwrap();
    }
    assert_eq!(
        got,
        std::fs::read_to_string(&p).unwrap(),
        "{name} differs from its golden file"
    );
}

#[test]
fn facts_and_events_goldens() {
    let mut all = String::new();
    for r in [
        "sr_exec000001.bsr",
        "sr_gzip000001.bsr",
        "sr_multi00001.bsr",
        "sr_shell00001.bsr",
    ] {
        let out = bin()
            .args(["facts", "-j", "1", "--kek", &kek()])
            .arg(testdata().join("recordings").join(r))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        all.push_str(&normalized(&out.stdout));
    }
    golden("facts.jsonl", &all);
    assert!(all.contains(r#""commands":["uname -a"]"#));
    assert!(all.contains(r#""verdict":"authentic""#));
    let out = bin()
        .args(["events", "--no-verify"])
        .arg(testdata().join("recordings/sr_multi00001.bsr"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let ev = normalized(&out.stdout);
    golden("events-multi.jsonl", &ev);
    // Time order, and every event names its recording, session and container.
    let mut last = 0u128;
    for line in ev.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = v["time_ns"].as_u64().unwrap() as u128;
        assert!(t >= last);
        last = t;
        assert_eq!(v["recording_id"], "sr_multi00001");
        assert_eq!(v["session_id"], "s_multi00001");
        assert!(v["path"].as_str().unwrap().starts_with("sr_multi00001.bsr"));
    }
    for kind in [
        "session.start",
        "session.end",
        "connection.open",
        "channel.open",
        "session.pty",
        "session.subsystem",
        "session.network",
        "session.signal",
        "session.exit",
        "session.exit_signal",
        "session.data",
        "session.request",
    ] {
        assert!(
            ev.contains(&format!("\"event\":\"{kind}\"")),
            "{kind} missing"
        );
    }
    let out = bin()
        .args(["events", "--no-verify"])
        .arg(testdata().join("recordings/sr_shell00001.bsr"))
        .output()
        .unwrap();
    let ev = String::from_utf8_lossy(&out.stdout);
    for kind in ["resize", "session.env", "session.shell"] {
        assert!(
            ev.contains(&format!("\"event\":\"{kind}\"")),
            "{kind} missing"
        );
    }
}

#[test]
fn many_recordings_filters_and_verified_only() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(bsr_core::store::FsStore::new(d.path()));
    for i in 0..40 {
        generate::exec_session(store.clone(), "", &format!("sr_many{i:06}")).unwrap();
    }
    let run = |args: &[&str]| {
        let out = bin().args(args).arg(d.path()).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["facts", "-j", "2", "--kek", &kek()]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 40);
    assert_eq!(
        run(&["facts", "--no-verify", "--user", "alice"])
            .1
            .lines()
            .count(),
        40
    );
    assert_eq!(
        run(&[
            "facts",
            "--no-verify",
            "--user",
            "u_1234567890",
            "--target",
            "db-bastion"
        ])
        .1
        .lines()
        .count(),
        40
    );
    assert_eq!(
        run(&["facts", "--no-verify", "--user", "bob"])
            .1
            .lines()
            .count(),
        0
    );
    assert_eq!(
        run(&["facts", "--no-verify", "--target", "other"])
            .1
            .lines()
            .count(),
        0
    );
    assert_eq!(
        run(&["facts", "--no-verify", "--since", "2030-01-01T00:00:00Z"])
            .1
            .lines()
            .count(),
        0
    );
    assert_eq!(
        run(&["facts", "--no-verify", "--until", "2023-11-14T22:13:20Z"])
            .1
            .lines()
            .count(),
        0
    );
    assert_eq!(
        run(&["events", "--no-verify", "--kind", "session.command"])
            .1
            .lines()
            .count(),
        40
    );
    assert_eq!(
        run(&["events", "--no-verify", "--kind", "session.*"])
            .1
            .lines()
            .count(),
        40 * 7
    );
    let (code, _, err) = run(&["facts", "--no-verify", "--since", "yesterday"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not an RFC 3339 time"));

    // A tampered recording is never silently summarized.
    let victim = d.path().join("sr_many000007.bsr/session-meta.json");
    let mut m = std::fs::read_to_string(&victim).unwrap();
    m = m.replace("alice", "mallory");
    std::fs::write(&victim, m).unwrap();
    // Shown with its verdict, named on stderr, and never passed: exit 1.
    let (code, out, err) = run(&["facts", "--kek", &kek()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("sr_many000007.bsr: did not verify (invalid")
            && err.contains("session-meta.json"),
        "{err}"
    );
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("sr_many000007"))
        .collect();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].contains(r#""verdict":"invalid""#), "{}", bad[0]);
    let (code, out, err) = run(&["facts", "--kek", &kek(), "--verified-only"]);
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 39);
    assert!(
        err.contains("sr_many000007.bsr left out (--verified-only): invalid"),
        "{err}"
    );
}

#[test]
fn events_through_s3() {
    let s3 = common::s3server::start();
    let store = s3.store("audit", "bsr");
    store.create_bucket().unwrap();
    store
        .upload_dir(&testdata().join("recordings"), "")
        .unwrap();
    let out = bin()
        .args([
            "events",
            "--kek",
            &kek(),
            "--kind",
            "session.network",
            "s3://audit/bsr",
        ])
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(r#""dst_host":"db.internal""#) && text.contains(r#""verdict":"authentic""#)
    );
    let out = bin()
        .args(["facts", "--no-verify", "s3://audit/bsr"])
        .envs(s3.env())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}
