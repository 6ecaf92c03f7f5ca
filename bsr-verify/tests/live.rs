//! `bsr-verify` on a live recording (a writer mid-session, every chunk synced): the verdict is
//! "incomplete" (exit 4) at every stage, never "invalid" because of what the writer has not
//! finished yet (a torn tail, an empty or partial `SHA256SUM`, a channel folder whose data files
//! do not exist yet), and the report names what is still open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::ssh::{Request, ShellRequest};
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn t(ms: u64) -> Timestamp {
    Timestamp::new(1_700_000_000 + ms / 1000, (ms % 1000) as u32 * 1_000_000)
}

fn kek_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keys/test-kek.hex")
}

/// `bsr-verify --kek KEK REC`: (exit code, stdout + stderr).
fn verify(rec: &Path) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .arg("--kek")
        .arg(kek_file())
        .arg(rec)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

fn assert_incomplete(rec: &Path, stage: &str, open: &[&str]) -> String {
    let (code, text) = verify(rec);
    assert_eq!(code, Some(4), "{stage}: {text}");
    assert!(!text.to_lowercase().contains("invalid"), "{stage}: {text}");
    for o in open {
        assert!(text.contains(o), "{stage}: {o:?} not named in:\n{text}");
    }
    text
}

#[test]
fn live_recording_is_incomplete_at_every_stage_and_names_what_is_open() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let opts = SessionOptions::new("sr_live000001", "s_live000001", t(0));
    let keys = bsr_core::keys::RecordingKeys::from_seed("s_live000001", [4; 32]);
    let s = SessionWriter::create(store, "", opts, keys, &generate::kek(), None).unwrap();
    let rec = d.path().join("sr_live000001.bsr");
    // Stage 1: only the session container.
    assert_incomplete(&rec, "session only", &["sr_live000001.bsr"]);

    let c = s.new_connection("cr_live000001", t(0)).unwrap();
    let mut done = c.new_channel("chr_done00001", "session", t(1)).unwrap();
    done.write_data(Direction::Outbound, t(2), b"finished channel\r\n")
        .unwrap();
    done.finish(t(3)).unwrap();
    let mut ch = c.new_channel("chr_live00001", "session", t(4)).unwrap();
    let shell = Request::Shell(ShellRequest {
        request_type: "shell".into(),
        want_reply: true,
    });
    ch.write_request(Direction::Inbound, t(5), &shell).unwrap();
    for i in 0..50 {
        ch.write_data(
            Direction::Outbound,
            t(10 + i),
            format!("line {i}\r\n").as_bytes(),
        )
        .unwrap();
    }
    ch.sync().unwrap();
    c.sync().unwrap();
    // Stage 2: a sealed channel, an open one, the connection and session open.
    let text = assert_incomplete(
        &rec,
        "mid-session",
        &[
            "sr_live000001.bsr/SHA256SUM.sig: [unfinished-container]",
            "cr_live000001.connection/SHA256SUM.sig: [unfinished-container]",
            "chr_live00001.channel/SHA256SUM.sig: [unfinished-container]",
            "chr_live00001.channel/messages-outbound.data @ byte 1941 (chunk 51): [no-done]",
            "cr_live000001.connection/requests-inbound.data @ byte 51 (chunk 1): [no-done]",
        ],
    );
    // The finished channel is not named.
    assert!(!text.contains("chr_done00001"), "{text}");

    // Stage 3: the writer is in the middle of writing a chunk (a torn tail).
    let out = rec.join("cr_live000001.connection/chr_live00001.channel/messages-outbound.data");
    let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    f.write_all(&[0, 0, 0, 40, b'B', b'S', b'S', b'H', b'D', b'A'])
        .unwrap();
    drop(f);
    assert_incomplete(
        &rec,
        "torn tail",
        &["messages-outbound.data @ byte 1941 (chunk 51): [chunk] truncated"],
    );

    // Stage 3b: the moment between the writer listing a child in the meta and creating it,
    // and between listing a data file and creating it (simulated on copies).
    let copy = d.path().join("copy");
    let chan = "sr_live000001.bsr/cr_live000001.connection/chr_live00001.channel";
    let stages = [
        "child listed, not created",
        "file listed, not created",
        "meta line half written",
        "checksum line half written",
    ];
    for what in stages {
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(&rec, &copy.join("sr_live000001.bsr"));
        if what.starts_with("child") {
            let meta = copy.join("sr_live000001.bsr/session-recording.meta");
            let mut f = std::fs::OpenOptions::new().append(true).open(meta).unwrap();
            f.write_all(b"connection: cr_next000001.connection\n")
                .unwrap();
        } else if what.starts_with("meta") {
            let meta = copy.join(chan).join("channel-recording.meta");
            let mut f = std::fs::OpenOptions::new().append(true).open(meta).unwrap();
            f.write_all(b"channelTy").unwrap();
        } else if what.starts_with("checksum") {
            // The channel is finishing: its SHA256SUM gets its lines one by one.
            let sums = copy.join(chan).join("SHA256SUM");
            std::fs::write(sums, format!("{}  messages-in", "ab".repeat(32))).unwrap();
        } else {
            // A channel whose meta lists its first data file, which is not created yet.
            let meta = copy.join(chan).join("channel-recording.meta");
            std::fs::write(
                meta,
                "id: chr_live00001\nchannelType: session\nmessages: inbound\n",
            )
            .unwrap();
            for f in [
                "messages-inbound.data",
                "messages-outbound.data",
                "requests-inbound.data",
                "requests-outbound.data",
            ] {
                std::fs::remove_file(copy.join(chan).join(f)).unwrap();
            }
        }
        assert_incomplete(
            &copy.join("sr_live000001.bsr"),
            what,
            &["chr_live00001.channel"],
        );
    }

    // Stage 4: the writer goes on (its next write replaces the torn bytes) and finishes: intact.
    ch.write_data(Direction::Outbound, t(100), b"bye\r\n")
        .unwrap();
    ch.finish(t(101)).unwrap();
    c.finish(t(102)).unwrap();
    s.finish(t(103)).unwrap();
    let (code, text) = verify(&rec);
    assert!(matches!(code, Some(0) | Some(3)), "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The verifier run again and again while a writer thread appends, syncs, opens and finishes
/// channels: every verdict before the session is sealed is "incomplete", whatever moment of
/// the writer it catches.
#[test]
fn verifying_while_the_writer_writes_is_always_incomplete() {
    use bsr_verify::report::Verdict;
    use bsr_verify::{VerifyOptions, verify};
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let opts = SessionOptions::new("sr_live000002", "s_live000002", t(0));
    let keys = bsr_core::keys::RecordingKeys::from_seed("s_live000002", [6; 32]);
    let s = SessionWriter::create(store, "", opts, keys, &generate::kek(), None).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_w = stop.clone();
    let w = std::thread::spawn(move || {
        let c = s.new_connection("cr_live000002", t(0)).unwrap();
        let mut n = 0u64;
        while !stop_w.load(std::sync::atomic::Ordering::Relaxed) {
            let mut ch = c
                .new_channel(&format!("chr_live{n:05}"), "session", t(n))
                .unwrap();
            for i in 0..20 {
                let line = format!("channel {n} line {i}\r\n").repeat(20);
                ch.write_data(Direction::Outbound, t(n + i), line.as_bytes())
                    .unwrap();
                ch.sync().unwrap();
            }
            ch.finish(t(n + 30)).unwrap();
            n += 1;
        }
        c.finish(t(n + 40)).unwrap();
        s.finish(t(n + 50)).unwrap();
    });
    let fs = FsStore::new(d.path());
    let vopts = VerifyOptions::default();
    for _ in 0..30 {
        let r = verify(&fs, "sr_live000002.bsr", &vopts);
        let problems: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(r.verdict, Verdict::Incomplete, "{problems:#?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("[unfinished-container]"))
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.join().unwrap();
    let r = verify(&fs, "sr_live000002.bsr", &vopts);
    assert!(
        matches!(r.verdict, Verdict::Authentic | Verdict::Unauthenticated),
        "{:?}",
        r.verdict
    );
}

/// The moment the writer creates the session: key files written one by one (each created,
/// then filled), `session-meta.json` not yet there. The verifier says "incomplete", never
/// "invalid" or "key mismatch", at each step.
#[test]
fn session_being_created_is_incomplete() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let opts = SessionOptions::new("sr_live000003", "s_live000003", t(0));
    let keys = bsr_core::keys::RecordingKeys::from_seed("s_live000003", [8; 32]);
    let s = SessionWriter::create(store, "", opts, keys, &generate::kek(), None).unwrap();
    drop(s);
    let rec = d.path().join("sr_live000003.bsr");
    let order = bsr_core::format::KEY_FILES
        .iter()
        .copied()
        .chain(["session-meta.json"]);
    let files: Vec<&str> = order.collect();
    let copy = d.path().join("copy");
    for (i, name) in files.iter().enumerate() {
        for torn in [false, true] {
            let _ = std::fs::remove_dir_all(&copy);
            copy_dir(&rec, &copy.join("sr_live000003.bsr"));
            let c = copy.join("sr_live000003.bsr");
            // The files before `name` are complete and listed; `name` is empty or half
            // written and not listed; the later ones do not exist.
            let sums = std::fs::read_to_string(c.join("SHA256SUM")).unwrap();
            let kept: String = sums.lines().take(i).map(|l| format!("{l}\n")).collect();
            std::fs::write(c.join("SHA256SUM"), kept).unwrap();
            let full = std::fs::read(c.join(name)).unwrap();
            let part = if torn {
                &full[..full.len() / 2]
            } else {
                &full[..0]
            };
            std::fs::write(c.join(name), part).unwrap();
            for later in &files[i + 1..] {
                std::fs::remove_file(c.join(later)).unwrap();
            }
            let stage = format!("{name} {}", if torn { "half written" } else { "created" });
            assert_incomplete(&c, &stage, &["sr_live000003.bsr"]);
        }
    }
}
