//! Issue 14, the bsr-asciicast items: import leaves nothing half-written (5), refuses what the
//! verifier refuses and says what it invents (6), raw mode converts a channel with no session
//! program as Boundary does (10), an output limit against decompression bombs, escaped
//! human output (7), and clear messages for paths that are not a recording.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::format::chunk::Compression;
use bsr_core::format::{CHUNK_DATA, Direction, MAGIC, PROTOCOL_SSH, Timestamp};
use bsr_core::read::chunk::ChunkReader;
use bsr_core::write::chunk::{ChunkEncoder, encode_raw};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CH: &str =
    "testdata/recordings/sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel";

fn import(cast: &Path, out: &Path) -> Output {
    bin()
        .arg("import")
        .arg(cast)
        .arg("--out")
        .arg(out)
        .arg("--kek")
        .arg(root().join("testdata/keys/test-kek.hex"))
        .output()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn import_failure_leaves_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    let cast = d.path().join("bad.cast");
    std::fs::write(
        &cast,
        "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1700000000}\n[0.1,\"o\",\"a\"]\n[0.2,\"o\",\"b\"]\nnot json\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = import(&cast, &out);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("line 4"), "{}", stderr(&o));
    assert_eq!(entries(&out), Vec::<String>::new(), "nothing half-written");
}

#[test]
fn import_twice_says_already_exists() {
    let d = tempfile::tempdir().unwrap();
    let cast = root().join("../shared/cast-fixtures/asciinema-cli__demo-v2.cast");
    let o = import(&cast, d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = entries(d.path());
    assert_eq!(first.len(), 1, "{first:?}");
    let o = import(&cast, d.path());
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("already exists") && e.contains(&first[0]), "{e}");
    assert!(!e.contains("os error 17"), "{e}");
    assert_eq!(entries(d.path()), first, "the first import is untouched");
}

#[test]
fn import_refuses_year_10000() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    for (name, cast) in [
        (
            "header",
            "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":253402300800}\n[0.1,\"o\",\"a\"]\n",
        ),
        (
            "event",
            "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":253402300799}\n[0.5,\"o\",\"a\"]\n[2.5,\"o\",\"b\"]\n",
        ),
    ] {
        let p = d.path().join(format!("{name}.cast"));
        std::fs::write(&p, cast).unwrap();
        let o = import(&p, &out);
        assert_ne!(o.status.code(), Some(0), "{name}");
        assert!(stderr(&o).contains("year 9999"), "{name}: {}", stderr(&o));
        assert_eq!(entries(&out), Vec::<String>::new());
    }
}

#[test]
fn import_says_what_it_invents() {
    let d = tempfile::tempdir().unwrap();
    let cast = d.path().join("bare.cast");
    std::fs::write(
        &cast,
        "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":-5}\n[0.1,\"o\",\"a\"]\n",
    )
    .unwrap();
    let o = import(&cast, &d.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("no SHELL") && e.contains("/bin/bash"), "{e}");
    assert!(e.contains("no TERM") && e.contains("xterm"), "{e}");
    assert!(e.contains("timestamp -5"), "{e}");
    // A cast that names both, with a good timestamp: no notes.
    let o = import(
        &root().join("../shared/cast-fixtures/asciinema-cli__full-v2.cast"),
        &d.path().join("out2"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
}

#[test]
fn v3_round_trip_adds_no_env_marker() {
    let d = tempfile::tempdir().unwrap();
    let cast = root().join("../shared/cast-fixtures/asciinema-cli__full-v3.cast");
    let o = import(&cast, d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string());
    let o = bin()
        .args(["convert", "-q", "--all", "--format", "v3"])
        .arg(&rec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("bsr: env"), "{out}");
    assert!(!out.contains("bsr: request"), "{out}");
    let header: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(header["env"]["SHELL"], "/bin/bash");
}

/// `requests-inbound.data` of the shell recording without its shell request.
fn requests_without_shell(dir: &Path) -> PathBuf {
    let b = std::fs::read(root().join(CH).join("requests-inbound.data")).unwrap();
    let mut r = ChunkReader::new(&b).unwrap();
    let mut out = MAGIC.to_vec();
    let mut dropped = 0;
    while let Some(c) = r.next_chunk().unwrap() {
        if c.stored.windows(5).any(|w| w == b"shell") && !c.is_head() {
            dropped += 1;
            continue;
        }
        encode_raw(
            &mut out,
            c.protocol,
            c.chunk_type,
            c.direction,
            c.time,
            c.stored,
        )
        .unwrap();
    }
    assert_eq!(dropped, 1);
    let p = dir.join("requests-inbound.data");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn raw_mode_without_session_program_converts_like_boundary() {
    let d = tempfile::tempdir().unwrap();
    let messages = root().join(CH).join("messages-outbound.data");
    let report = d.path().join("r.json");
    // A pty-req and no shell, and no requests at all.
    for requests in [Some(requests_without_shell(d.path())), None] {
        let mut cmd = bin();
        cmd.args(["convert", "-q", "--unverified", "--report"])
            .arg(&report)
            .arg("--messages")
            .arg(&messages);
        if let Some(r) = &requests {
            cmd.arg("--requests").arg(r);
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("éllo wörld"));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "no-session-program"
                    && f["message"]
                        .as_str()
                        .unwrap()
                        .contains("no session program was recorded")),
            "{r}"
        );
        assert_eq!(r["session_program"], "none");
    }
}

#[test]
fn recording_without_session_program_is_still_refused() {
    // The library outside raw mode keeps refusing (exit 3 for the sftp channel is in cli.rs).
    use bsr_asciicast::convert::{ChannelFiles, ConvertOptions, convert};
    let store = std::sync::Arc::new(bsr_core::store::MemStore::new());
    let d = tempfile::tempdir().unwrap();
    let req = std::fs::read(requests_without_shell(d.path())).unwrap();
    store.put("c/requests-inbound.data", req).unwrap();
    store
        .put(
            "c/messages-outbound.data",
            std::fs::read(root().join(CH).join("messages-outbound.data")).unwrap(),
        )
        .unwrap();
    let files = ChannelFiles {
        store,
        name: "c".into(),
        channel_type: "session".into(),
        requests_inbound: Some("c/requests-inbound.data".into()),
        requests_outbound: None,
        messages_outbound: "c/messages-outbound.data".into(),
        messages_inbound: None,
        connection_requests: None,
        checksums: Default::default(),
    };
    let e = convert(&files, &ConvertOptions::default(), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("never started"), "{e}");
}

/// A raw output stream of `chunks` gzip DATA chunks of `size` bytes each.
fn bomb(dir: &Path, chunks: usize, size: usize) -> PathBuf {
    let mut out = MAGIC.to_vec();
    let mut enc = ChunkEncoder::new(Compression::Gzip);
    let t = |s: u64| Timestamp::new(1_700_000_000 + s, 0);
    enc.head(&mut out, PROTOCOL_SSH, Direction::Outbound, t(0), b"s_bomb")
        .unwrap();
    let data = vec![b'A'; size];
    for i in 0..chunks {
        enc.chunk(
            &mut out,
            PROTOCOL_SSH,
            CHUNK_DATA,
            Direction::Outbound,
            t(i as u64 + 1),
            &data,
        )
        .unwrap();
    }
    enc.done(
        &mut out,
        PROTOCOL_SSH,
        Direction::Outbound,
        t(chunks as u64 + 1),
    )
    .unwrap();
    let p = dir.join("messages-outbound.data");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn output_limit_stops_a_decompression_bomb() {
    let d = tempfile::tempdir().unwrap();
    // 12 chunks at the 6.4 MB decompressed cap: ~77 MB of cast from a few hundred KB.
    let m = bomb(d.path(), 12, bsr_core::format::MAX_DECOMPRESSED_LENGTH);
    assert!(std::fs::metadata(&m).unwrap().len() < 1_000_000);
    let out = d.path().join("b.cast");
    let o = bin()
        .args(["convert", "-q", "--unverified", "--max-output", "16M", "-o"])
        .arg(&out)
        .arg("--messages")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("output limit of 16777216 bytes") && e.contains("--max-output"),
        "{e}"
    );
    assert!(!out.exists() && !d.path().join("b.cast.partial").exists());
    // Under a limit that fits, the same file converts.
    let o = bin()
        .args(["convert", "-q", "--unverified", "--max-output", "1G", "-o"])
        .arg(&out)
        .arg("--messages")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::metadata(&out).unwrap().len() > 12 * 6_400_000);
}

/// Messages (issue 14): a chunk over the decompression cap said `<input>` instead of its file.
#[test]
fn gzip_limit_errors_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let m = bomb(d.path(), 1, bsr_core::format::MAX_DECOMPRESSED_LENGTH + 1);
    let o = bin()
        .args(["convert", "-q", "--unverified", "-o"])
        .arg(d.path().join("b.cast"))
        .arg("--messages")
        .arg(&m)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("decompressed chunk data") && e.contains(&*m.to_string_lossy()),
        "{e}"
    );
    assert!(!e.contains("<input>"), "{e}");
}

#[test]
fn summary_and_errors_escape_control_characters() {
    let d = tempfile::tempdir().unwrap();
    let evil = d
        .path()
        .join("m\nFAKE: sr_y.bsr: intact and authentic\u{1b}[31m.data");
    std::fs::copy(root().join(CH).join("messages-outbound.data"), &evil).unwrap();
    let o = bin()
        .args(["convert", "--unverified", "--messages"])
        .arg(&evil)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("\\nFAKE") && e.contains("\\e[31m"), "{e}");
    assert!(!e.contains('\u{1b}'));
    assert!(!e.lines().any(|l| l.starts_with("FAKE")), "{e}");
    // An error naming the file.
    let gone = d.path().join("gone\n\u{1b}[2J.data");
    let o = bin()
        .args(["convert", "--unverified", "--messages"])
        .arg(&gone)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(!e.contains('\u{1b}') && e.contains("gone\\n\\e[2J"), "{e}");
}

#[test]
fn paths_that_are_not_a_recording_say_so() {
    let cases: [(PathBuf, &str); 3] = [
        (PathBuf::from("s3://bucket/sr_x.bsr"), "s3:// URL"),
        (
            root().join("testdata/recordings"),
            "a folder of 4 recording(s)",
        ),
        (
            root().join(CH).join("messages-outbound.data"),
            "a file, not a recording folder",
        ),
    ];
    for (p, want) in cases {
        let o = bin().arg("convert").arg(&p).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", p.display());
        let e = stderr(&o);
        assert!(e.contains(want), "{}: {e}", p.display());
        assert!(!e.contains("No such file"), "{e}");
    }
}

#[test]
fn messages_with_a_recording_is_a_usage_error() {
    let o = bin()
        .arg("convert")
        .arg(root().join("testdata/recordings/sr_shell00001.bsr"))
        .arg("--messages")
        .arg(root().join(CH).join("messages-outbound.data"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

/// `-o` naming something that is not a regular file (a FIFO here; `/dev/null` in real use) is
/// written into, never replaced by the renamed temporary file: `convert -o /dev/null` once
/// turned the machine's null device into a regular file.
#[cfg(unix)]
#[test]
fn output_to_a_special_file_writes_into_it_and_never_replaces_it() {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let rec = root().join("testdata/recordings/sr_shell00001.bsr");
    for (sub, flag) in [("convert", None), ("text", None), ("html", Some("-o"))] {
        let fifo = dir.path().join(format!("{sub}.out"));
        let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success());
        // The reader reports through a channel, so that a FIFO replaced behind its back (the
        // reader then waits for a writer forever) fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut s = Vec::new();
                let r = std::fs::File::open(&fifo).and_then(|mut f| f.read_to_end(&mut s));
                let _ = tx.send(r.map(|_| s));
            });
        }
        let mut cmd = bin();
        cmd.arg(sub).arg(&rec).arg(flag.unwrap_or("-o")).arg(&fifo);
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the FIFO never got a writer: it was replaced")
            .unwrap();
        assert!(!got.is_empty(), "{sub}: nothing came through the FIFO");
        let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(ft.is_fifo(), "{sub}: the FIFO was replaced by {ft:?}");
        assert!(
            !dir.path().join(format!("{sub}.out.partial")).exists(),
            "{sub}: a temporary file was left"
        );
    }
}
