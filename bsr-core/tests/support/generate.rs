//! Deterministic generator of the recordings in `testdata/`.
//!
//! Everything comes from fixed seeds: recording keys, AEAD nonces, the recorder key, ids and
//! times. `cargo test -p bsr-core --test testdata` fails when the committed files differ from
//! what this produces; `BSR_REGEN_TESTDATA=1 cargo test -p bsr-core --test testdata` rewrites
//! them.
#![allow(dead_code)]

use bsr_core::format::Compression;
use bsr_core::keys::{AeadWrapper, RecorderKey, RecordingKeys};
use bsr_core::ssh::*;
use bsr_core::store::WriteStore;
use bsr_core::write::{SessionOptions, SessionWriter, WriterOptions};
use bsr_core::{Direction, Timestamp};
use std::sync::Arc;

/// TEST ONLY key-encryption key (hex in `testdata/keys/test-kek.hex`).
pub const TEST_KEK: [u8; 32] = *b"bsr-test-kek-DO-NOT-USE-IN-PROD!";
/// TEST ONLY recorder key seed (hex in `testdata/keys/test-recorder.key`).
pub const TEST_RECORDER_SEED: [u8; 32] = *b"bsr-test-recorder-DO-NOT-USE!!!!";

pub const T0: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z

pub fn t(ms: u64) -> Timestamp {
    Timestamp::new(T0 + ms / 1000, ((ms % 1000) * 1_000_000) as u32 + 7)
}

pub fn seed(label: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(label.as_bytes()).into()
}

pub fn kek() -> AeadWrapper {
    AeadWrapper::from_kek_bytes(&TEST_KEK).expect("test KEK")
}

pub fn recorder() -> RecorderKey {
    RecorderKey::from_seed(TEST_RECORDER_SEED)
}

fn open(
    store: Arc<dyn WriteStore>,
    parent: &str,
    rec: &str,
    sess: &str,
    compression: Compression,
) -> bsr_core::Result<SessionWriter> {
    let keys = RecordingKeys::from_seed(sess, seed(rec));
    let wrapper = kek().with_rng_seed(seed(&format!("nonce-{rec}")));
    let mut opts = SessionOptions::new(rec, sess, t(0));
    opts.session_meta = Some(session_meta(sess));
    opts.writer = WriterOptions {
        compression,
        ..WriterOptions::default()
    };
    SessionWriter::create(store, parent, opts, keys, &wrapper, Some(&recorder()))
}

/// A realistic `session-meta.json` (Boundary's field names), TEST DATA.
pub fn session_meta(sess: &str) -> bsr_core::format::meta::SessionMeta {
    use bsr_core::format::meta::{Scope, SessionMeta, User, Worker};
    SessionMeta {
        public_id: sess.to_string(),
        endpoint: "tcp://10.0.0.5:22".into(),
        user: Some(User {
            public_id: "u_1234567890".into(),
            scope: Some(Scope {
                public_id: "o_1234567890".into(),
                name: "ops".into(),
                scope_type: "org".into(),
                parent_id: "global".into(),
                ..Default::default()
            }),
            name: "alice".into(),
            description: "test user".into(),
        }),
        target: Some(serde_json::json!({
            "PublicId": "tssh_1234567890", "Name": "db-bastion", "Description": "",
            "Scope": {"PublicId": "p_1234567890", "Name": "prod", "Type": "project", "ParentId": "o_1234567890"},
            "DefaultPort": 22, "DefaultClientPort": 0, "SessionMaxSeconds": 28800, "SessionConnectionLimit": -1,
            "EnableSessionRecording": true, "StorageBucketId": "sb_1234567890"
        })),
        worker: Some(Worker {
            public_id: "w_1234567890".into(),
            version: "0.20.0".into(),
            sha: "".into(),
        }),
        static_host: Some(
            serde_json::json!({"PublicId": "hst_1234567890", "Name": "db1", "Address": "10.0.0.5", "Catalog": {"PublicId": "hcst_1234567890"}}),
        ),
        static_ssh_private_key_credentials: Some(
            serde_json::json!([{"PublicId": "credspk_1234567890", "Name": "ops-key", "Username": "ops", "PrivateKeyHmac": "aG1hYw=="}]),
        ),
        ..Default::default()
    }
}

fn pty(term: &str, w: u32, h: u32) -> Request {
    Request::Pty(PtyRequest {
        request_type: "pty-req".into(),
        want_reply: true,
        term_env_var: term.into(),
        terminal_width_characters: w,
        terminal_height_rows: h,
        terminal_width_pixels: 0,
        terminal_height_pixels: 0,
        encoded_terminal_mode: vec![0],
    })
}

fn env(k: &str, v: &str) -> Request {
    Request::Env(EnvRequest {
        request_type: "env".into(),
        want_reply: false,
        variable_name: k.into(),
        variable_value: v.into(),
    })
}

fn wchg(w: u32, h: u32) -> Request {
    Request::WindowChange(WindowChangeRequest {
        request_type: "window-change".into(),
        want_reply: false,
        terminal_width_columns: w,
        terminal_height_rows: h,
        terminal_width_pixels: 0,
        terminal_height_pixels: 0,
    })
}

fn exit_status(code: u32) -> Request {
    Request::ExitStatus(ExitStatusRequest {
        request_type: "exit-status".into(),
        want_reply: false,
        exit_status: code,
    })
}

fn session_open(ch: u32) -> Request {
    Request::Session(SessionRequest {
        request_type: "session".into(),
        sender_channel: ch,
        initial_window_size: 2_097_152,
        maximum_packet_size: 32_768,
    })
}

/// An interactive shell: pty-req, env, shell, output with multi-byte UTF-8 split across chunk
/// boundaries, keystrokes, a window change and exit-status 0.
pub fn shell_session(
    store: Arc<dyn WriteStore>,
    parent: &str,
    rec: &str,
    tag: &str,
    compression: Compression,
) -> bsr_core::Result<()> {
    let s = open(store, parent, rec, &format!("s_{tag}"), compression)?;
    let c = s.new_connection(&format!("cr_{tag}"), t(0))?;
    c.write_request(Direction::Inbound, t(1), &session_open(0))?;
    let mut ch = c.new_channel(&format!("chr_{tag}"), "session", t(2))?;
    ch.write_request(Direction::Inbound, t(3), &pty("xterm-256color", 100, 30))?;
    ch.write_request(Direction::Inbound, t(4), &env("LANG", "en_US.UTF-8"))?;
    ch.write_request(Direction::Inbound, t(5), &env("SHELL", "/bin/zsh"))?;
    ch.write_request(
        Direction::Inbound,
        t(6),
        &Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )?;
    ch.write_data(
        Direction::Outbound,
        t(100),
        b"\x1b]0;demo@host\x07demo@host:~$ ",
    )?;
    for (i, k) in b"echo h\xc3\xa9llo".chunks(1).enumerate() {
        // keystrokes; the é arrives split in two chunks
        ch.write_data(Direction::Inbound, t(500 + 80 * i as u64), k)?;
        let echo: &[u8] = k;
        ch.write_data(Direction::Outbound, t(501 + 80 * i as u64), echo)?;
    }
    ch.write_data(Direction::Inbound, t(1500), b"\r")?;
    // "héllo wörld → ✓ 🎉" split inside é, inside →, and inside 🎉
    let text = "\r\nhéllo wörld → ✓ 🎉\r\n".as_bytes();
    ch.write_data(Direction::Outbound, t(1510), &text[..4])?;
    ch.write_data(Direction::Outbound, t(1520), &text[4..18])?;
    ch.write_data(Direction::Outbound, t(1530), &text[18..26])?;
    ch.write_data(Direction::Outbound, t(1540), &text[26..])?;
    ch.write_request(Direction::Inbound, t(2000), &wchg(120, 40))?;
    ch.write_data(Direction::Outbound, t(2100), b"demo@host:~$ ")?;
    ch.write_data(Direction::Inbound, t(3000), b"exit\r")?;
    ch.write_data(Direction::Outbound, t(3010), b"exit\r\nlogout\r\n")?;
    ch.write_request(Direction::Outbound, t(3020), &exit_status(0))?;
    ch.finish(t(3030))?;
    c.finish(t(3040))?;
    s.finish(t(3050))?;
    Ok(())
}

/// `ssh host uname -a`: exec with output and exit-status 0.
pub fn exec_session(store: Arc<dyn WriteStore>, parent: &str, rec: &str) -> bsr_core::Result<()> {
    let s = open(store, parent, rec, "s_exec000001", Compression::None)?;
    let c = s.new_connection("cr_exec000001", t(0))?;
    c.write_request(Direction::Inbound, t(1), &session_open(0))?;
    let mut ch = c.new_channel("chr_exec00001", "session", t(2))?;
    ch.write_request(Direction::Inbound, t(3), &env("LC_ALL", "C"))?;
    ch.write_request(
        Direction::Inbound,
        t(4),
        &Request::Exec(ExecRequest {
            request_type: "exec".into(),
            want_reply: true,
            command: "uname -a".into(),
        }),
    )?;
    ch.write_data(
        Direction::Outbound,
        t(50),
        b"Linux host 6.1.0 #1 SMP x86_64 GNU/Linux\n",
    )?;
    ch.write_request(Direction::Outbound, t(60), &exit_status(0))?;
    ch.finish(t(70))?;
    c.finish(t(80))?;
    s.finish(t(90))?;
    Ok(())
}

/// Two connections, four channels: a shell, an sftp subsystem, a direct-tcpip forward, and a
/// shell that ends with a signal and exit-signal.
pub fn multi_session(store: Arc<dyn WriteStore>, parent: &str, rec: &str) -> bsr_core::Result<()> {
    let s = open(store, parent, rec, "s_multi00001", Compression::None)?;
    let c1 = s.new_connection("cr_multi00001", t(0))?;
    c1.write_request(Direction::Inbound, t(1), &session_open(0))?;
    let mut sh = c1.new_channel("chr_multi0001", "session", t(2))?;
    sh.write_request(Direction::Inbound, t(3), &pty("xterm", 80, 24))?;
    sh.write_request(
        Direction::Inbound,
        t(4),
        &Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )?;
    sh.write_data(Direction::Outbound, t(10), b"$ ")?;
    c1.write_request(Direction::Inbound, t(11), &session_open(1))?;
    let mut sftp = c1.new_channel("chr_multi0002", "session", t(12))?;
    sftp.write_request(
        Direction::Inbound,
        t(13),
        &Request::Subsystem(SubsystemRequest {
            request_type: "subsystem".into(),
            want_reply: true,
            subsystem_name: "sftp".into(),
        }),
    )?;
    sftp.write_data(
        Direction::Inbound,
        t(14),
        b"\x00\x00\x00\x05\x01\x00\x00\x00\x03",
    )?;
    sftp.write_data(
        Direction::Outbound,
        t(15),
        b"\x00\x00\x00\x05\x02\x00\x00\x00\x03",
    )?;
    sftp.write_request(Direction::Outbound, t(16), &exit_status(0))?;
    sftp.finish(t(17))?;
    sh.write_data(Direction::Inbound, t(20), b"sleep 100\r")?;
    sh.write_request(
        Direction::Inbound,
        t(30),
        &Request::Signal(SignalRequest {
            request_type: "signal".into(),
            want_reply: false,
            signal_name: "INT".into(),
        }),
    )?;
    sh.write_request(
        Direction::Outbound,
        t(31),
        &Request::ExitSignal(ExitSignalRequest {
            request_type: "exit-signal".into(),
            want_reply: false,
            signal_name: "INT".into(),
            core_dumped: false,
            error_message: "interrupted".into(),
            language_tag: String::new(),
        }),
    )?;
    sh.finish(t(32))?;
    c1.finish(t(33))?;

    let c2 = s.new_connection("cr_multi00002", t(40))?;
    c2.write_request(
        Direction::Inbound,
        t(41),
        &Request::TcpipForward(TcpipForwardRequest {
            request_type: "tcpip-forward".into(),
            want_reply: true,
            address_to_bind: "127.0.0.1".into(),
            port_to_bind: 8080,
        }),
    )?;
    c2.write_request(
        Direction::Inbound,
        t(42),
        &Request::DirectTcpip(DirectTcpipRequest {
            request_type: "direct-tcpip".into(),
            sender_channel: 0,
            initial_window_size: 2_097_152,
            maximum_packet_size: 32_768,
            host: "db.internal".into(),
            port: 5432,
            originator_ip_address: "127.0.0.1".into(),
            originator_port: 50_000,
        }),
    )?;
    let mut fwd = c2.new_channel("chr_multi0003", "direct-tcpip", t(42))?;
    fwd.write_data(
        Direction::Inbound,
        t(43),
        b"\x00\x00\x00\x08\x04\xd2\x16\x2f",
    )?;
    fwd.write_data(Direction::Outbound, t(44), b"N")?;
    fwd.finish(t(45))?;
    c2.write_request(
        Direction::Inbound,
        t(46),
        &Request::Unknown(UnknownRequest {
            request_type: "keepalive@openssh.com".into(),
            want_reply: true,
            data: vec![],
        }),
    )?;
    c2.finish(t(50))?;
    s.finish(t(60))?;
    Ok(())
}

/// The testdata recordings: (folder below `testdata/recordings`, generator).
pub fn generate_all(store: Arc<dyn WriteStore>) -> bsr_core::Result<()> {
    store.create_dir("recordings")?;
    shell_session(
        store.clone(),
        "recordings",
        "sr_shell00001",
        "shell00001",
        Compression::None,
    )?;
    shell_session(
        store.clone(),
        "recordings",
        "sr_gzip000001",
        "gzip000001",
        Compression::Gzip,
    )?;
    exec_session(store.clone(), "recordings", "sr_exec000001")?;
    multi_session(store.clone(), "recordings", "sr_multi00001")?;
    Ok(())
}

/// Key files of `testdata/keys/`.
pub fn key_files() -> Vec<(&'static str, String)> {
    let r = recorder();
    vec![
        ("test-kek.hex", format!("{}\n", hex::encode(TEST_KEK))),
        (
            "test-recorder.key",
            format!("{}\n", hex::encode(TEST_RECORDER_SEED)),
        ),
        (
            "test-recorder.pub",
            format!("{}\n", hex::encode(r.public_key())),
        ),
    ]
}
