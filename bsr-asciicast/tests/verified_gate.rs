//! The verification gate (issue 14, item 4): `convert` shows only content whose checksums and
//! signature chain verified; `--unverified` is the one way around it, and it says so loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
}

const CH: &str = "cr_shell00001.connection/chr_shell00001.channel";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A private copy of the shell recording: (tempdir, recording folder).
fn copy() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("sr_shell00001.bsr");
    copy_tree(&root().join("testdata/recordings/sr_shell00001.bsr"), &rec);
    (d, rec)
}

fn convert(rec: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["convert", "-q"])
        .args(extra)
        .arg(rec)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Refused: non-zero exit, nothing on stdout, and the message names `file`.
fn assert_refused(o: &Output, file: &str) {
    assert_ne!(o.status.code(), Some(0), "{}", stderr(o));
    assert!(o.stdout.is_empty(), "no content shown");
    let e = stderr(o);
    assert!(e.contains(file), "message names {file}: {e}");
    assert!(!e.contains("unfinished"), "{e}");
}

#[test]
fn intact_recording_converts_and_says_what_verified() {
    let (_d, rec) = copy();
    let o = bin().args(["convert"]).arg(&rec).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("intact, authenticity not established"), "{e}");
    assert!(e.contains("session SHA256SUM"), "{e}");
    // With the recorder key the recording is authentic.
    let o = convert(
        &rec,
        &[
            "--recorder-key",
            root()
                .join("testdata/keys/test-recorder.pub")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cast = String::from_utf8(o.stdout).unwrap();
    assert!(!cast.contains("UNVERIFIED"));
}

#[test]
fn deleted_channel_sha256sum_refuses() {
    let (_d, rec) = copy();
    std::fs::remove_file(rec.join(CH).join("SHA256SUM")).unwrap();
    let o = convert(&rec, &[]);
    assert_refused(&o, &format!("{CH}/SHA256SUM"));
    assert_eq!(o.status.code(), Some(5));
}

#[test]
fn sha256sum_replaced_by_a_folder_refuses() {
    let (_d, rec) = copy();
    let p = rec.join(CH).join("SHA256SUM");
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(&p).unwrap();
    assert_refused(&convert(&rec, &[]), &format!("{CH}/SHA256SUM"));
}

#[test]
fn sha256sum_replaced_by_a_fifo_refuses() {
    let (_d, rec) = copy();
    let p = rec.join(CH).join("SHA256SUM");
    std::fs::remove_file(&p).unwrap();
    assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
    // The gate must not block on the FIFO: run under a deadline.
    let mut cmd = bin();
    cmd.args(["convert", "-q"]).arg(&rec);
    assert_refused(&output_within(cmd, 60), &format!("{CH}/SHA256SUM"));
}

#[test]
fn sha256sum_replaced_by_a_symlink_refuses() {
    let (d, rec) = copy();
    let p = rec.join(CH).join("SHA256SUM");
    let elsewhere = d.path().join("SHA256SUM.copy");
    std::fs::rename(&p, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
    assert_refused(&convert(&rec, &[]), &format!("{CH}/SHA256SUM"));
}

/// Changes one byte of the first DATA chunk of `file`, with a correct CRC; returns the new
/// file's SHA-256.
fn edit_data_fix_crc(file: &Path) -> String {
    use sha2::Digest;
    let mut b = std::fs::read(file).unwrap();
    let mut r = bsr_core::read::chunk::ChunkReader::new(&b).unwrap();
    let (off, len) = loop {
        let c = r.next_chunk().unwrap().expect("a DATA chunk");
        if c.is_data() {
            break (c.offset as usize, c.stored.len());
        }
    };
    let data = off + 4 + 21;
    b[data] ^= 0x01;
    let crc = crc32fast::hash(&b[off + 4..data + len]);
    b[data + len..data + len + 4].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(file, &b).unwrap();
    hex::encode(sha2::Sha256::digest(&b))
}

/// Edits the channel's output with a fixed CRC and rewrites its `SHA256SUM` entry to match.
fn edit_data_and_checksum(ch: &Path) {
    let new = edit_data_fix_crc(&ch.join("messages-outbound.data"));
    let sums = std::fs::read_to_string(ch.join("SHA256SUM")).unwrap();
    let sums: String = sums
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

#[test]
fn edited_data_with_fixed_crc_and_checksum_refuses() {
    let (_d, rec) = copy();
    let ch = rec.join(CH);
    // The attacker also rewrites the SHA256SUM entry: only the signature catches it.
    edit_data_and_checksum(&ch);
    let o = convert(&rec, &[]);
    assert_refused(&o, &format!("{CH}/SHA256SUM.sig"));
    // And with the SHA256SUM deleted instead.
    std::fs::remove_file(ch.join("SHA256SUM")).unwrap();
    assert_refused(&convert(&rec, &[]), &format!("{CH}/SHA256SUM"));
}

#[test]
fn broken_signature_refuses() {
    let (_d, rec) = copy();
    let sig = rec.join("SHA256SUM.sig");
    let mut b = std::fs::read(&sig).unwrap();
    let n = b.len();
    b[n - 3] ^= 0x40;
    std::fs::write(&sig, b).unwrap();
    let o = convert(&rec, &[]);
    assert_refused(&o, "sr_shell00001.bsr/SHA256SUM.sig");
    let e = stderr(&o);
    assert!(e.contains("INVALID"), "{e}");
    // The cause is quoted first.
    assert!(e.lines().nth(1).unwrap().contains("SHA256SUM.sig"), "{e}");
}

#[test]
fn unverified_converts_with_a_loud_warning() {
    let (_d, rec) = copy();
    std::fs::remove_file(rec.join(CH).join("SHA256SUM")).unwrap();
    for format in ["v2", "v3"] {
        let o = convert(&rec, &["--unverified", "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let cast = String::from_utf8(o.stdout.clone()).unwrap();
        let mut lines = cast.lines();
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert!(
            header["env"]["BSR_HEADER_NOTE"]
                .as_str()
                .unwrap()
                .contains("UNVERIFIED"),
            "{header}"
        );
        let first: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(first[0], 0, "{first}");
        assert_eq!(first[1], "m");
        assert!(first[2].as_str().unwrap().contains("UNVERIFIED"), "{first}");
        assert!(stderr(&o).contains("UNVERIFIED"));
        // The cast still reads back with the strict reader.
        let r = bsr_asciicast::cast::CastReader::new(cast.as_bytes()).unwrap();
        assert!(r.count() > 2);
    }
    // --unverified does not go with trust anchors.
    let o = convert(&rec, &["--unverified", "--kek", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn raw_files_need_unverified() {
    let ch = root()
        .join("testdata/recordings/sr_shell00001.bsr")
        .join(CH);
    let run = |extra: &[&str]| {
        bin()
            .args(["convert", "-q", "--requests"])
            .arg(ch.join("requests-inbound.data"))
            .arg("--messages")
            .arg(ch.join("messages-outbound.data"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--unverified"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let o = run(&["--unverified"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("UNVERIFIED"));
}

#[test]
fn unfinished_recording_says_unfinished() {
    let (_d, rec) = copy();
    std::fs::remove_file(rec.join("SHA256SUM.sig")).unwrap();
    let o = convert(&rec, &[]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("unfinished") && e.contains("still being written"),
        "{e}"
    );
    assert!(!e.contains("INVALID") && !e.contains("tampered"), "{e}");
}

#[test]
fn gate_library_reports_what_verified() {
    use bsr_asciicast::verified::{GateError, GateOptions, gate};
    let (d, rec) = copy();
    let store = bsr_core::store::FsStore::new(d.path());
    let v = gate(&store, "sr_shell00001.bsr", &GateOptions::default()).unwrap();
    assert!(v.verified);
    assert_eq!(v.trust_mode, "none");
    assert_eq!(v.signing_key_id.as_deref().map(str::is_empty), Some(false));
    let sum = std::fs::read(rec.join("SHA256SUM")).unwrap();
    use sha2::Digest;
    assert_eq!(
        v.session_sha256sum.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(&sum)).as_str())
    );
    assert!(v.warning().is_none());
    let opts =
        GateOptions::from_key_files(None, Some(&root().join("testdata/keys/test-recorder.pub")))
            .unwrap();
    let v = gate(&store, "sr_shell00001.bsr", &opts).unwrap();
    assert_eq!(v.trust_mode, "recorder");
    std::fs::remove_file(rec.join(CH).join("SHA256SUM")).unwrap();
    let e = gate(&store, "sr_shell00001.bsr", &GateOptions::default()).unwrap_err();
    assert!(matches!(e, GateError::Invalid { .. }), "{e}");
}

#[test]
fn pinned_digests_catch_a_swap_after_verification() {
    use bsr_asciicast::convert::{ConvertOptions, convert, select_channel};
    use bsr_asciicast::verified::{GateOptions, gate};
    let (d, rec) = copy();
    let store = bsr_core::store::FsStore::new(d.path());
    let v = gate(&store, "sr_shell00001.bsr", &GateOptions::default()).unwrap();
    // Swapped after the gate, SHA256SUM entry and all.
    edit_data_and_checksum(&rec.join(CH));
    let r = bsr_core::read::Recording::open_path(&rec).unwrap();
    let mut files = select_channel(&r, None, None).unwrap();
    assert!(convert(&files, &ConvertOptions::default(), Vec::new()).is_ok());
    v.pin(&mut files).unwrap();
    let e = convert(&files, &ConvertOptions::default(), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("messages-outbound.data"), "{e}");
}

#[test]
fn missing_key_file_is_named_once() {
    let (_d, rec) = copy();
    let o = convert(&rec, &["--kek", "/nonexistent/kek.hex"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert_eq!(e.matches("/nonexistent/kek.hex").count(), 1, "{e}");
}

/// Runs `cmd` under a deadline; a hang fails the test.
fn output_within(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn unverified_refuses_a_fifo_data_file_without_hanging() {
    let (d, rec) = copy();
    let p = rec.join(CH).join("messages-outbound.data");
    std::fs::remove_file(&p).unwrap();
    assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
    let mut cmd = bin();
    cmd.args(["convert", "-q", "--unverified"]).arg(&rec);
    let o = output_within(cmd, 60);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("messages-outbound.data") && e.contains("regular file"),
        "{e}"
    );
    // Raw mode too.
    let fifo = d.path().join("raw.data");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut cmd = bin();
    cmd.args(["convert", "-q", "--unverified", "--messages"])
        .arg(&fifo);
    let o = output_within(cmd, 60);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("raw.data"), "{}", stderr(&o));
}
