//! Regression tests for the hostile-input audit (issue 14), one per finding, named after it.
//! Each ran against the code before its fix and failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::keys::{AeadWrapper, RecorderTrust};
use bsr_core::store::FsStore;
use bsr_verify::report::{Class, Verdict};
use bsr_verify::{Trust, VerifyOptions, verify};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REC: &str = "sr_exec000001.bsr";
const CHAN: &str = "sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel";

fn kek_file() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/keys/test-kek.hex")
}

/// An exec recording written into `dir`.
fn recording_in(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    generate::exec_session(Arc::new(FsStore::new(dir)), "", "sr_exec000001").unwrap();
}

/// Runs `bsr-verify ARGS` and fails the test if it does not end within `limit`.
fn run_within(args: &[&std::ffi::OsStr], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "bsr-verify {args:?} hung (killed after {limit:?}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
    a.extend(paths.iter().map(|p| p.as_os_str()));
    run_within(&a, Duration::from_secs(60))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn flip_a_data_byte(rec_parent: &Path) {
    let p = rec_parent.join(CHAN).join("messages-outbound.data");
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n - 20] ^= 0x20;
    std::fs::write(&p, b).unwrap();
}

#[test]
fn recording_deeper_than_16_folders_is_found() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let mut deep = d.path().to_path_buf();
    for i in 0..20 {
        deep.push(format!("level{i:02}"));
    }
    recording_in(&deep);
    flip_a_data_byte(&deep);
    let out = run(&["-q", "--kek", kek_file()], &[d.path()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("checked 2 recording(s)"), "{stdout}");
    assert!(stdout.contains("level19"), "{stdout}");
}

#[test]
fn symlinked_recording_folder_is_reported_not_skipped_silently() {
    let d = tempfile::tempdir().unwrap();
    let real = tempfile::tempdir().unwrap();
    recording_in(real.path());
    recording_in(d.path());
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(real.path().join(REC), d.path().join("sub/sr_link00001.bsr"))
        .unwrap();
    let out = run(&["-q", "--kek", kek_file()], &[d.path()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sr_link00001.bsr") && stderr.contains("symbolic link"),
        "{stderr}"
    );
}

fn broken_meta_cases() -> Vec<(&'static str, Option<&'static [u8]>)> {
    vec![
        ("missing", None),
        ("garbage", Some(b"\x00\x01 this is not a meta file\xff\n")),
    ]
}

#[test]
fn events_never_drop_a_recording_with_missing_or_garbage_meta() {
    for (what, content) in broken_meta_cases() {
        let d = tempfile::tempdir().unwrap();
        recording_in(d.path());
        let meta = d.path().join(REC).join("session-recording.meta");
        match content {
            None => std::fs::remove_file(&meta).unwrap(),
            Some(b) => std::fs::write(&meta, b).unwrap(),
        }
        for cmd in [
            vec!["events"],
            vec!["events", "--no-verify"],
            vec!["facts"],
            vec!["facts", "--no-verify"],
        ] {
            let out = run(&cmd, &[d.path()]);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert_ne!(out.status.code(), Some(0), "{what} meta, {cmd:?}: {stderr}");
            assert!(
                stderr.contains("sr_exec000001.bsr") && stderr.contains("cannot be read"),
                "{what} meta, {cmd:?}: stdout {stdout:?}, stderr {stderr:?}"
            );
        }
    }
}

#[test]
fn facts_and_events_on_a_folder_without_recordings_exit_2() {
    let d = tempfile::tempdir().unwrap();
    for cmd in ["facts", "events"] {
        let out = run(&[cmd], &[d.path()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("no recordings"));
    }
}

#[test]
fn events_kind_that_does_not_exist_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let out = run(&["events", "--kind", "zzz"], &[d.path()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"zzz\"") && stderr.contains("session.command"),
        "{stderr}"
    );
    // Prefix patterns still work.
    let out = run(&["events", "--kind", "session.*"], &[d.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"event\":\"session.command\""));
}

#[test]
fn fifo_request_file_does_not_hang_facts_or_events() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let victim = d.path().join(CHAN).join("requests-inbound.data");
    std::fs::remove_file(&victim).unwrap();
    let st = Command::new("mkfifo").arg(&victim).status().unwrap();
    assert!(st.success());
    for cmd in [
        vec!["facts"],
        vec!["facts", "--no-verify"],
        vec!["events"],
        vec!["events", "--no-verify"],
        vec!["-w"],
    ] {
        let mut a: Vec<&std::ffi::OsStr> = cmd.iter().map(|s| s.as_ref()).collect();
        a.push(d.path().as_os_str());
        let out = run_within(&a, Duration::from_secs(20));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            all.contains("requests-inbound.data"),
            "{cmd:?} does not name the FIFO: {all}"
        );
    }
}

#[test]
fn control_characters_in_file_names_are_escaped() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let rec = d.path().join(REC);
    std::fs::write(rec.join("x\nFAKE: sr_y.bsr: intact and authentic"), b"a").unwrap();
    std::fs::write(rec.join("esc\x1b[2J\x1b]0;title\x07"), b"b").unwrap();
    for flags in [vec!["--kek", kek_file()], vec!["-w"]] {
        let out = run(&flags, &[&rec]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            !stdout.lines().any(|l| l.starts_with("FAKE")),
            "a file name forged a line: {stdout}"
        );
        assert!(stdout.contains(r"x\nFAKE"), "{stdout}");
        assert!(
            !stdout.contains('\x1b') && !stdout.contains('\x07'),
            "{stdout:?}"
        );
        assert!(stdout.contains(r"esc\u{1b}[2J"), "{stdout}");
    }
}

#[test]
fn recovered_recording_shows_as_recovered_in_the_human_output() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let rec = d.path().join(REC);
    // Crash before the session was closed: no final signature.
    std::fs::remove_file(rec.join("SHA256SUM.sig")).unwrap();
    bsr_core::write::recover::recover(&rec, &generate::kek(), generate::t(10_000)).unwrap();
    let out = run(&["--kek", kek_file()], &[&rec]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("recovered after a crash"), "{stdout}");
    // A normally closed recording does not say so.
    let d2 = tempfile::tempdir().unwrap();
    recording_in(d2.path());
    let out = run(&["--kek", kek_file()], &[&d2.path().join(REC)]);
    assert!(!text(&out.stdout).contains("recovered"));
}

fn trust(kek: Option<AeadWrapper>, recorder: Option<RecorderTrust>) -> VerifyOptions {
    VerifyOptions {
        trust: Trust {
            kek: kek.map(|k| Arc::new(k) as _),
            recorder: recorder.map(Arc::new),
        },
        ..VerifyOptions::default()
    }
}

#[test]
fn wrong_kek_or_recorder_key_is_a_key_mismatch_not_tampering() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let store = FsStore::new(d.path());
    let wrong_kek = AeadWrapper::new([9u8; 32], "kek_wrong");
    let r = verify(&store, REC, &trust(Some(wrong_kek), None));
    assert_eq!(r.verdict, Verdict::KeyMismatch, "{:#?}", r.problems);
    assert_eq!(r.exit_code, 1);
    let p = r.errors().next().unwrap();
    assert_eq!(p.class, Class::KeyMismatch);
    assert!(p.message.contains("kek_wrong"), "{p}");
    let wrong_rec = RecorderTrust::from_public_keys(vec![[7u8; 32]]);
    let r = verify(&store, REC, &trust(None, Some(wrong_rec)));
    assert_eq!(r.verdict, Verdict::KeyMismatch, "{:#?}", r.problems);
    assert!(r.errors().all(|p| p.class == Class::KeyMismatch));
    assert!(r.errors().any(|p| p.message.contains("--recorder-key")));
    // Tampering still reads as tampering, even with the wrong key.
    flip_a_data_byte(d.path());
    let r = verify(
        &store,
        REC,
        &trust(Some(AeadWrapper::new([9u8; 32], "x")), None),
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    // And the CLI says which, without "tampered".
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let wrong: PathBuf = d.path().join("wrong.kek");
    std::fs::write(&wrong, "09".repeat(32)).unwrap();
    let out = run(&["--kek", wrong.to_str().unwrap()], &[&d.path().join(REC)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("NOT AUTHENTIC") && !stdout.contains("tampered"),
        "{stdout}"
    );
}

#[test]
fn missing_kek_error_is_said_once() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let out = run(&["--kek", "/nonexistent/kek.hex"], &[&d.path().join(REC)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("/nonexistent/kek.hex").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn recover_subcommand_points_to_bsr_recover() {
    let d = tempfile::tempdir().unwrap();
    recording_in(d.path());
    let out = run(&["recover", "--kek", kek_file()], &[&d.path().join(REC)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bsr-recover"));
    // Nothing was written.
    assert!(!d.path().join(REC).join("RECOVERED.json").exists());
}
