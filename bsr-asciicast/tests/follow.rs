//! `bsr-asciicast convert --follow` against bsr-core's writer in a thread: the live cast is
//! written while the session is written, and its events equal the after-the-fact cast's. What
//! may differ, by design: the header (made when the channel starts, so a later window-change
//! does not raise its size) and the live warning (a `BSR_HEADER_NOTE` and a first marker).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::ssh::{
    ExitStatusRequest, PtyRequest, Request, ShellRequest, SubsystemRequest, WindowChangeRequest,
};
use bsr_core::store::FsStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn t(ms: u64) -> Timestamp {
    Timestamp::new(1_700_000_000 + ms / 1000, (ms % 1000) as u32 * 1_000_000)
}

fn kek() -> AeadWrapper {
    AeadWrapper::from_kek_file(&root().join("testdata/keys/test-kek.hex")).unwrap()
}

/// Writes a shell session slowly, syncing every chunk: output with a character split across
/// two chunks, a window-change after the start, an exit status.
fn write_session(s: SessionWriter) {
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut ch = c.new_channel("chr_1", "session", t(1)).unwrap();
    let pty = Request::Pty(PtyRequest {
        request_type: "pty-req".into(),
        want_reply: true,
        term_env_var: "xterm-256color".into(),
        terminal_width_characters: 100,
        terminal_height_rows: 30,
        ..Default::default()
    });
    ch.write_request(Direction::Inbound, t(2), &pty).unwrap();
    let shell = Request::Shell(ShellRequest {
        request_type: "shell".into(),
        want_reply: true,
    });
    ch.write_request(Direction::Inbound, t(3), &shell).unwrap();
    ch.sync().unwrap();
    let caf = "café ✓".as_bytes();
    let mut ms = 10;
    for i in 0..40u32 {
        ms += 7;
        let line = format!("tick-{i}\r\n");
        ch.write_data(Direction::Outbound, t(ms), line.as_bytes())
            .unwrap();
        if i == 20 {
            // "✓" split across two chunks.
            ch.write_data(Direction::Outbound, t(ms + 1), &caf[..caf.len() - 1])
                .unwrap();
            ch.write_data(Direction::Outbound, t(ms + 2), &caf[caf.len() - 1..])
                .unwrap();
            let wc = Request::WindowChange(WindowChangeRequest {
                request_type: "window-change".into(),
                terminal_width_columns: 120,
                terminal_height_rows: 40,
                ..Default::default()
            });
            ch.write_request(Direction::Inbound, t(ms + 3), &wc)
                .unwrap();
        }
        ch.sync().unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    let exit = Request::ExitStatus(ExitStatusRequest {
        request_type: "exit-status".into(),
        exit_status: 0,
        ..Default::default()
    });
    ch.write_request(Direction::Outbound, t(ms + 5), &exit)
        .unwrap();
    ch.finish(t(ms + 10)).unwrap();
    c.finish(t(ms + 10)).unwrap();
    s.finish(t(ms + 10)).unwrap();
}

fn parse(cast: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut lines = cast.lines();
    let header = serde_json::from_str(lines.next().unwrap()).unwrap();
    (
        header,
        lines.map(|l| serde_json::from_str(l).unwrap()).collect(),
    )
}

fn follow_and_compare(poll: bool) {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let keys = RecordingKeys::from_seed("s_1234567890", [9; 32]);
    let opts = SessionOptions::new("sr_1234567890", "s_1234567890", t(0));
    let s = SessionWriter::create(store, "", opts, keys, &kek(), None).unwrap();
    let rec = d.path().join("sr_1234567890.bsr");
    let live = d.path().join("live.cast");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"));
    cmd.arg("convert")
        .arg("--follow")
        .arg(&rec)
        .arg("-o")
        .arg(&live)
        .args(["--writer-timeout", "120"]);
    if poll {
        cmd.arg("--poll");
    }
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let w = std::thread::spawn(move || write_session(s));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("LIVE, UNVERIFIED"), "{stderr}");

    let after = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["convert", "-q"])
        .arg(&rec)
        .arg("--kek")
        .arg(root().join("testdata/keys/test-kek.hex"))
        .output()
        .unwrap();
    assert_eq!(
        after.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    let (h_after, ev_after) = parse(&String::from_utf8(after.stdout).unwrap());
    let live_text = std::fs::read_to_string(&live).unwrap();
    let (h_live, ev_live) = parse(&live_text);

    // The events: the live cast's first is the warning marker, the rest are the same.
    assert_eq!(ev_live[0][1], "m");
    assert!(ev_live[0][2].as_str().unwrap().contains("LIVE, UNVERIFIED"));
    assert_eq!(&ev_live[1..], &ev_after[..]);
    // 40 ticks and the two chunks of the split line; the split character is whole.
    assert_eq!(ev_after.len(), 42);
    assert!(ev_after.iter().any(|e| e[2] == "✓"), "{ev_after:?}");
    // The header: same time zero and TERM; the size known at the start (the pty-req), where
    // after the fact the window-change raised it; the live note.
    assert_eq!(h_live["timestamp"], h_after["timestamp"]);
    assert_eq!(h_live["env"]["TERM"], h_after["env"]["TERM"]);
    assert_eq!(
        (h_live["width"].as_u64(), h_live["height"].as_u64()),
        (Some(100), Some(30))
    );
    assert_eq!(
        (h_after["width"].as_u64(), h_after["height"].as_u64()),
        (Some(120), Some(40))
    );
    assert!(
        h_live["env"]["BSR_HEADER_NOTE"]
            .as_str()
            .unwrap()
            .contains("LIVE")
    );
    assert!(h_after["env"].get("BSR_HEADER_NOTE").is_none());

    // A real asciicast v2 reader plays it (when asciinema 2.4 is installed).
    if let Ok(o) = Command::new("asciinema").arg("cat").arg(&live).output()
        && o.status.success()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("tick-39") && text.contains("café ✓"),
            "{text}"
        );
    } else if std::env::var("BSR_REQUIRE_ASCIINEMA").as_deref() == Ok("1") {
        panic!("asciinema cat failed and BSR_REQUIRE_ASCIINEMA=1");
    }
}

#[test]
fn follow_inotify_equals_after_the_fact() {
    follow_and_compare(false);
}

#[test]
fn follow_polling_equals_after_the_fact() {
    follow_and_compare(true);
}

/// The writer is killed (here: dropped without finishing, its files left as they are):
/// `convert --follow` ends with exit 6 and "writer gone, recording unfinished", the cast holds
/// what was durable.
#[test]
fn follow_writer_gone_exits_6() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let keys = RecordingKeys::from_seed("s_1234567890", [9; 32]);
    let opts = SessionOptions::new("sr_1234567890", "s_1234567890", t(0));
    let s = SessionWriter::create(store, "", opts, keys, &kek(), None).unwrap();
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut ch = c.new_channel("chr_1", "session", t(1)).unwrap();
    let shell = Request::Shell(ShellRequest {
        request_type: "shell".into(),
        want_reply: true,
    });
    ch.write_request(Direction::Inbound, t(3), &shell).unwrap();
    ch.write_data(Direction::Outbound, t(5), b"partial session\r\n")
        .unwrap();
    ch.sync().unwrap();
    drop((ch, c, s));
    let out = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["convert", "--follow", "--poll", "--writer-timeout", "0.5"])
        .arg(d.path().join("sr_1234567890.bsr"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("writer gone, recording unfinished"),
        "{stderr}"
    );
    assert!(
        stderr.contains("messages-outbound.data (no DONE chunk)"),
        "{stderr}"
    );
    let (_, ev) = parse(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1][2], "partial session\r\n");
}

/// Without --channel, the first shell or exec channel is followed: a port-forwarding channel
/// and an sftp channel opened before it are skipped. With --channel naming the forwarding
/// channel: exit 3 (not a terminal).
#[test]
fn follow_picks_the_first_shell_channel() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let keys = RecordingKeys::from_seed("s_1234567890", [9; 32]);
    let opts = SessionOptions::new("sr_1234567890", "s_1234567890", t(0));
    let s = SessionWriter::create(store, "", opts, keys, &kek(), None).unwrap();
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut fwd = c.new_channel("chr_fwd", "direct-tcpip", t(1)).unwrap();
    fwd.write_data(Direction::Outbound, t(2), b"HTTP/1.1 200 OK\r\n")
        .unwrap();
    let mut sftp = c.new_channel("chr_sftp", "session", t(3)).unwrap();
    let sub = Request::Subsystem(SubsystemRequest {
        request_type: "subsystem".into(),
        want_reply: true,
        subsystem_name: "sftp".into(),
    });
    sftp.write_request(Direction::Inbound, t(4), &sub).unwrap();
    sftp.write_data(Direction::Outbound, t(5), b"\0\0\0\x05\x02sftp")
        .unwrap();
    let mut sh = c.new_channel("chr_shell", "session", t(6)).unwrap();
    let shell = Request::Shell(ShellRequest {
        request_type: "shell".into(),
        want_reply: true,
    });
    sh.write_request(Direction::Inbound, t(7), &shell).unwrap();
    sh.write_data(Direction::Outbound, t(8), b"$ whoami\r\n")
        .unwrap();
    for ch in [fwd, sftp, sh] {
        ch.finish(t(9)).unwrap();
    }
    c.finish(t(9)).unwrap();
    s.finish(t(9)).unwrap();
    let rec = d.path().join("sr_1234567890.bsr");
    let out = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["convert", "--follow", "--poll"])
        .arg(&rec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cr_1/chr_shell: shell channel"), "{stderr}");
    let (_, ev) = parse(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1][2], "$ whoami\r\n");
    let out = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["convert", "--follow", "--poll", "--channel", "chr_fwd"])
        .arg(&rec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("direct-tcpip"), "{stderr}");
}
