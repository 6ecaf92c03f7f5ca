//! Verifying while reading (issue 18): `convert`, `text` and `commands` read a recording while
//! it is verified on another thread, and the large output file is read once, by the verifier,
//! for both. What they write is held back until the verdict:
//! * to a file (standard output redirected, or `-o`) the output is the same, byte for byte,
//!   as when the recording is verified first (standard output a pipe);
//! * a recording that does not verify gets nothing written at all (no bytes on standard
//!   output, no `-o` file, no partial file), whether the tampering breaks a CRC or only the
//!   signature;
//! * a file whose bytes differ from those that verified is refused, and a run that never
//!   reads the shared file does not wait for it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod text_support;

use bsr_asciicast::convert::{Digests, select_channel};
use bsr_asciicast::verified::{GateError, GateOptions, Pending};
use bsr_core::read::Recording;
use bsr_core::store::FsStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use text_support::{Runs, Step, write_session};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
}

const CH: &str = "cr_held01.connection/chr_held01.channel";

/// A shell recording whose output file is ~3 MiB (above the size from which it is shared with
/// the verifier), in a new folder.
fn big() -> (tempfile::TempDir, PathBuf) {
    sized(12_000)
}

/// A shell recording of `lines` lines of output (about 260 bytes each).
fn sized(lines: u64) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let mut steps = Vec::new();
    for i in 0..lines {
        let line = format!(
            "\x1b[01;34mline {i:06}\x1b[0m — ✓ données <&> \"q\" {}\r\n",
            "x".repeat((i % 200) as usize)
        );
        steps.push(Step::Out(100 + i, line.into_bytes()));
    }
    let dir = write_session(store, "held01", Runs::Shell, Some((100, 30)), &steps);
    let rec = d.path().join(dir);
    let out = std::fs::metadata(rec.join(CH).join("messages-outbound.data")).unwrap();
    assert!(
        out.len() > 2 * bsr_core::read::HASH_THREAD_FROM,
        "{}",
        out.len()
    );
    (d, rec)
}

/// Runs `args` + `rec` three ways: standard output a pipe (verified first), standard output a
/// file (held), and `-o FILE` (staged). Returns the three outputs' bytes and exit codes.
fn three_ways(args: &[&str], rec: &Path, scratch: &Path) -> Vec<(Option<i32>, Vec<u8>, String)> {
    let mut runs = Vec::new();
    let o = bin().args(args).arg(rec).output().unwrap();
    runs.push((
        o.status.code(),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ));
    let file = scratch.join("stdout.out");
    let f = std::fs::File::create(&file).unwrap();
    let o = bin()
        .args(args)
        .arg(rec)
        .stdout(Stdio::from(f))
        .output()
        .unwrap();
    runs.push((
        o.status.code(),
        std::fs::read(&file).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ));
    let dash_o = scratch.join("dash-o.out");
    let o = bin()
        .args(args)
        .arg("-o")
        .arg(&dash_o)
        .arg(rec)
        .output()
        .unwrap();
    assert!(o.stdout.is_empty());
    runs.push((
        o.status.code(),
        std::fs::read(&dash_o).unwrap_or_default(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ));
    // Nothing half-written is left beside it.
    assert!(!scratch.join("dash-o.out.partial").exists());
    runs
}

fn views() -> [Vec<&'static str>; 4] {
    [
        vec!["convert", "-q"],
        vec!["text"],
        vec!["text", "--json"],
        vec!["commands"],
    ]
}

#[test]
fn held_output_equals_the_output_verified_first() {
    let (d, rec) = big();
    for args in views() {
        let runs = three_ways(&args, &rec, d.path());
        for (code, out, err) in &runs {
            assert_eq!(*code, Some(0), "{args:?}: {err}");
            assert_eq!(out, &runs[0].1, "{args:?}: same bytes every way");
        }
        if args[0] != "commands" {
            assert!(runs[0].1.len() > 100_000, "{args:?}");
        }
    }
}

/// Changes one byte of the 100th DATA chunk of `file`; with `fix_crc`, the chunk's CRC is
/// recomputed and the channel's `SHA256SUM` entry rewritten (only the signature catches it).
fn tamper(ch: &Path, fix_crc: bool) {
    use sha2::Digest;
    let file = ch.join("messages-outbound.data");
    let mut b = std::fs::read(&file).unwrap();
    let mut r = bsr_core::read::chunk::ChunkReader::new(&b).unwrap();
    let mut seen = 0;
    let (off, len) = loop {
        let c = r.next_chunk().unwrap().expect("a DATA chunk");
        if c.is_data() {
            seen += 1;
            if seen == 100 {
                break (c.offset as usize, c.stored.len());
            }
        }
    };
    let data = off + 4 + 21;
    b[data] ^= 0x01;
    if fix_crc {
        let crc = crc32fast::hash(&b[off + 4..data + len]);
        b[data + len..data + len + 4].copy_from_slice(&crc.to_be_bytes());
        let new = hex::encode(sha2::Sha256::digest(&b));
        let sums: String = std::fs::read_to_string(ch.join("SHA256SUM"))
            .unwrap()
            .lines()
            .map(|l| {
                if l.ends_with("  messages-outbound.data") {
                    format!("{new}  messages-outbound.data\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(ch.join("SHA256SUM"), sums).unwrap();
    }
    std::fs::write(&file, &b).unwrap();
}

fn assert_nothing_shown(runs: &[(Option<i32>, Vec<u8>, String)], args: &[&str], names: &str) {
    for (code, out, err) in runs {
        assert_eq!(*code, Some(5), "{args:?}: {err}");
        assert!(
            out.is_empty(),
            "{args:?}: nothing shown, got {} bytes",
            out.len()
        );
        assert!(err.contains(names), "{args:?}: names {names}: {err}");
        assert!(err.contains("INVALID"), "{args:?}: {err}");
    }
}

#[test]
fn a_tampered_recording_gets_nothing_written() {
    // Only the signature catches this one: every CRC and SHA256SUM entry matches.
    let (d, rec) = big();
    tamper(&rec.join(CH), true);
    for args in views() {
        let runs = three_ways(&args, &rec, d.path());
        assert_nothing_shown(&runs, &args, &format!("{CH}/SHA256SUM.sig"));
    }
    // A broken CRC: the view fails on it too, but the refusal (the cause) is what is said.
    let (d, rec) = big();
    tamper(&rec.join(CH), false);
    for args in views() {
        let runs = three_ways(&args, &rec, d.path());
        assert_nothing_shown(&runs, &args, &format!("{CH}/messages-outbound.data"));
    }
}

#[test]
fn a_file_that_differs_from_what_verified_is_refused() {
    let (_d, rec) = big();
    let r = Recording::open_path(&rec).unwrap();
    let mut files = select_channel(&r, None, None).unwrap();
    let pending = Pending::verify_now(&**r.store(), r.dir(), &GateOptions::default());
    // As if the reading had hashed other bytes than the verifier did.
    let req = files.requests_inbound.clone().unwrap();
    files.checksums = Digests::deferred([req.as_str()]);
    files.checksums.observe(&req, [7; 32]);
    match pending.finish(&files) {
        Err(e @ GateError::Changed { .. }) => {
            assert!(e.to_string().contains("requests-inbound.data"), "{e}");
            assert_eq!(e.exit_code(), 5);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_shared_file_is_read_once_and_a_run_that_never_reads_it_does_not_wait() {
    let (_d, rec) = big();
    let r = Recording::open_path(&rec).unwrap();
    // Read: the transcript comes from the verifier's read of the output file.
    let mut files = select_channel(&r, None, None).unwrap();
    let pending = Pending::start_sharing(
        r.store().clone(),
        r.dir(),
        &GateOptions::default(),
        &mut files,
    )
    .unwrap();
    assert_eq!(
        files.checksums.shared_path(),
        Some(files.messages_outbound.as_str())
    );
    let mut text = Vec::new();
    bsr_asciicast::text::write_text(&files, &Default::default(), &mut text).unwrap();
    let v = pending.finish(&files).unwrap();
    assert!(v.verified);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("line 011999"), "the last line came through");
    // Read in part, then dropped: the verifier goes on alone.
    let mut files = select_channel(&r, None, None).unwrap();
    let pending = Pending::start_sharing(
        r.store().clone(),
        r.dir(),
        &GateOptions::default(),
        &mut files,
    )
    .unwrap();
    let path = files.messages_outbound.clone();
    let mut s = files
        .stream(&path, bsr_core::read::structure::StreamKind::Messages)
        .unwrap();
    for _ in 0..3 {
        s.next_chunk().unwrap().unwrap();
    }
    drop(s);
    assert!(pending.finish(&files).unwrap().verified);
    // Not read at all: finish returns (the verifier goes on alone) and the verdict stands.
    for _ in 0..3 {
        let mut files = select_channel(&r, None, None).unwrap();
        let pending = Pending::start_sharing(
            r.store().clone(),
            r.dir(),
            &GateOptions::default(),
            &mut files,
        )
        .unwrap();
        assert!(pending.finish(&files).unwrap().verified);
    }
}

#[test]
fn the_null_device_is_not_held_and_the_verdict_still_counts() {
    // More output than is held in memory: held output needs a temporary file.
    let (d, rec) = sized(45_000);
    let no_tmp = d.path().join("no-such-dir");
    let run = |stdout: Stdio, extra: &[&str], rec: &Path| {
        bin()
            .args(["convert", "-q"])
            .args(extra)
            .arg(rec)
            .env("TMPDIR", &no_tmp)
            .stdout(stdout)
            .output()
            .unwrap()
    };
    let file = d.path().join("stdout.out");
    let held = run(
        Stdio::from(std::fs::File::create(&file).unwrap()),
        &[],
        &rec,
    );
    let err = String::from_utf8_lossy(&held.stderr);
    assert_ne!(held.status.code(), Some(0), "{err}");
    assert!(err.contains("temporary file"), "{err}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
    // The null device gets the output as it is made: no temporary file needed.
    let null = || Stdio::from(std::fs::File::create("/dev/null").unwrap());
    let o = run(null(), &[], &rec);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(Stdio::piped(), &["-o", "/dev/null"], &rec);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    // A tampered recording is still refused, whichever way the null device is named.
    tamper(&rec.join(CH), true);
    for o in [
        run(null(), &[], &rec),
        run(Stdio::piped(), &["-o", "/dev/null"], &rec),
    ] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{err}");
        assert!(err.contains("INVALID"), "{err}");
    }
}
