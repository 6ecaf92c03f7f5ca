//! End to end: real OpenSSH on both sides of the proxy.
//!
//! Each test starts its own `sshd` (temporary configuration, host key and authorized keys on a
//! free loopback port) and its own proxy, drives the OpenSSH client through the proxy, then
//! verifies the recording with bsr-verify's library (the verdict behind `bsr-verify --kek`'s
//! exit code) and converts channels with bsr-asciicast's library.
//!
//! Without OpenSSH (or tmux) the tests print a loud notice and return; with
//! `BSR_REQUIRE_OPENSSH=1` (set by `.ci/test`) they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bsr_asciicast::convert::ConvertOptions;
use bsr_asciicast::error::ConvertError;
use bsr_core::Direction;
use bsr_core::read::Recording;
use bsr_core::ssh::{Decoded, Request, decode_chunk_payload};
use bsr_verify::Verdict;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn interactive_shell_under_a_pty() {
    if !openssh_ready(true) {
        return;
    }
    let env = Env::start(Mode::Record);
    let status_file = env.path("status");
    let script = format!(
        "{}; echo $? > {}",
        ssh_tty_command(&env),
        status_file.display()
    );
    let tmux = Tmux::start(&env, "e2e", 100, 30, &script);
    let t = |args: &[&str]| tmux.cmd(args);
    let capture = || tmux.capture();
    t(&["send-keys", "-t", "t", "-l", "echo ready-$((1+1))"]);
    t(&["send-keys", "-t", "t", "Enter"]);
    wait_for("the remote shell", Duration::from_secs(20), || {
        capture().contains("ready-2")
    });
    // Multi-byte UTF-8 that appears only in the output (the typed command is ASCII).
    t(&[
        "send-keys",
        "-t",
        "t",
        "-l",
        r"printf '\342\234\223 caf\303\251 \346\227\245\346\234\254 marker-%s\n' $((6*7))",
    ]);
    t(&["send-keys", "-t", "t", "Enter"]);
    wait_for("the UTF-8 line", Duration::from_secs(10), || {
        capture().contains("marker-42")
    });
    t(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    std::thread::sleep(Duration::from_millis(300));
    t(&["send-keys", "-t", "t", "-l", "stty size; exit 3"]);
    t(&["send-keys", "-t", "t", "Enter"]);
    wait_for("ssh to exit", Duration::from_secs(20), || {
        std::fs::read_to_string(&status_file).is_ok_and(|s| s.ends_with('\n'))
    });
    drop(tmux);
    assert_eq!(
        std::fs::read_to_string(&status_file).unwrap().trim(),
        "3",
        "ssh exit status; proxy log:\n{}",
        env.proxy_log()
    );

    let recs = env.finished_recordings(1);
    assert_eq!(recs.len(), 1);
    assert_authentic(&recs[0]);
    let chans = channels(&recs[0]);
    let shells: Vec<_> = chans
        .iter()
        .filter(|(_, _, s)| s.session_program == "shell")
        .collect();
    assert_eq!(shells.len(), 1, "one shell channel");
    let (conn_dir, ch, summary) = shells[0];
    assert!(
        summary.bytes_up > 0 && summary.bytes_down > 0,
        "{summary:?}"
    );
    // The pty-req as the client sent it: the tmux pane's size.
    let inbound = requests(ch, Direction::Inbound);
    let pty = inbound
        .iter()
        .find_map(|r| match r {
            Request::Pty(p) => Some(p.clone()),
            _ => None,
        })
        .expect("pty-req recorded");
    assert_eq!(
        (pty.terminal_width_characters, pty.terminal_height_rows),
        (100, 30)
    );
    assert!(
        inbound.iter().any(|r| matches!(r, Request::WindowChange(w)
            if w.terminal_width_columns == 120 && w.terminal_height_rows == 40)),
        "window-change 120x40 recorded: {inbound:?}"
    );

    let opts = ConvertOptions {
        resize: true,
        ..Default::default()
    };
    let (header, events, report) = convert_channel(conn_dir, ch, opts).unwrap();
    // Boundary's header: the pty-req size grown by window changes.
    assert_eq!(
        (header["width"].as_u64(), header["height"].as_u64()),
        (Some(120), Some(40))
    );
    assert!(
        events.iter().any(|e| e[1] == "r" && e[2] == "120x40"),
        "resize event: {events:?}"
    );
    let out = output_text(&events);
    assert!(
        out.contains("✓ café 日本 marker-42"),
        "cast output: {out:?}"
    );
    assert!(
        out.contains("40 120"),
        "stty size after the resize: {out:?}"
    );
    assert_eq!(report.session_program, "shell");
    assert_eq!(report.exit_status, Some(3));
}

#[test]
fn exec_command_env_exit_signal_and_refused_requests() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    let command = r"echo exec-$((40+2)) $BSR_TEST_VAR; printf 'caf\303\251\n'; exit 7";
    let expected = "exec-42 vérifié\ncafé\n";
    let out = run(
        env.ssh()
            .args(["-o", "SetEnv=BSR_TEST_VAR=vérifié"])
            .arg(env.target())
            .arg(command),
        120,
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "stderr: {}; proxy log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.proxy_log()
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let chans = channels(&recs[0]);
    assert_eq!(chans.len(), 1);
    let (conn_dir, ch, summary) = &chans[0];
    assert_eq!(summary.session_program, "exec");
    assert_eq!(summary.bytes_down, expected.len() as u64);
    let (_, events, report) = convert_channel(conn_dir, ch, ConvertOptions::default()).unwrap();
    assert_eq!(report.session_program, "exec");
    assert_eq!(report.exec_command.as_deref(), Some(command));
    assert_eq!(report.exit_status, Some(7));
    assert!(
        report
            .env
            .iter()
            .any(|e| e.name == "BSR_TEST_VAR" && e.value == "vérifié"),
        "env request in the report: {:?}",
        report.env
    );
    assert_eq!(output_text(&events), expected);
    // The requests carry the client's own want-reply flags: OpenSSH asks for a reply to exec
    // but not to env (the proxy asks sshd for both, to pass its verdicts on).
    let inbound = requests(ch, Direction::Inbound);
    let flags: Vec<(&str, bool)> = inbound
        .iter()
        .filter_map(|r| match r {
            Request::Env(e) => Some(("env", e.want_reply)),
            Request::Exec(e) => Some(("exec", e.want_reply)),
            _ => None,
        })
        .collect();
    assert_eq!(flags, [("env", false), ("exec", true)], "{inbound:?}");

    // A program killed by a signal: exit-signal is relayed (ssh exits 255) and recorded.
    let out = run(env.ssh().arg(env.target()).arg("kill -TERM $$"), 120);
    assert_eq!(out.status.code(), Some(255));
    // Agent and X11 forwarding requests: recorded (the agent request as an unknown request)
    // and refused; the session goes on.
    // A real (empty) agent: OpenSSH only asks to forward an agent it can reach.
    let agent_sock = env.path("agent.sock");
    let _agent = Killed(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&agent_sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("ssh-agent", Duration::from_secs(10), || agent_sock.exists());
    let out = run(
        env.ssh()
            .args(["-o", "ForwardAgent=yes"])
            .args(["-o", "ForwardX11=yes", "-o", "ForwardX11Trusted=yes"])
            .env("SSH_AUTH_SOCK", &agent_sock)
            .env("DISPLAY", "127.0.0.1:99")
            .arg(env.target())
            .arg("echo still-here"),
        120,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "still-here\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = env.finished_recordings(3);
    let mut saw_signal = false;
    let mut saw_agent = false;
    let mut saw_x11 = false;
    let mut all = Vec::new();
    for rec in &recs {
        assert_authentic(rec);
        for (_, ch, _) in channels(rec) {
            for r in requests(&ch, Direction::Outbound) {
                if let Request::ExitSignal(x) = r {
                    assert_eq!(x.signal_name, "TERM");
                    saw_signal = true;
                }
            }
            for r in requests(&ch, Direction::Inbound) {
                all.push(r.request_type().to_string());
                match r {
                    Request::Unknown(u) if u.request_type == "auth-agent-req@openssh.com" => {
                        saw_agent = true
                    }
                    Request::X11Forwarding(_) => saw_x11 = true,
                    _ => {}
                }
            }
        }
    }
    assert!(
        saw_signal && saw_agent && saw_x11,
        "exit-signal {saw_signal}, agent {saw_agent}, x11 {saw_x11}; inbound requests {all:?}"
    );
    // sshd's own global request to the proxy after authentication, hostkeys-00@openssh.com,
    // is recorded (outbound, in the connection) with its payload: a list of host key blobs,
    // here the ed25519 host key, string("ssh-ed25519") first. It is not relayed.
    for rec in &recs {
        let hostkeys: Vec<_> = connection_requests(rec, Direction::Outbound)
            .into_iter()
            .filter_map(|r| match r {
                Request::Unknown(u) if u.request_type == "hostkeys-00@openssh.com" => Some(u),
                _ => None,
            })
            .collect();
        assert_eq!(hostkeys.len(), 1, "{}: {hostkeys:?}", rec.display());
        let d = &hostkeys[0].data;
        assert!(!hostkeys[0].want_reply);
        assert!(
            d.len() > 19 && d[4..8] == [0, 0, 0, 11] && &d[8..19] == b"ssh-ed25519",
            "{d:?}"
        );
    }
}

#[test]
fn sftp_and_scp_subsystem_and_exec_transfers() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    let data: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let src = env.path("payload.bin");
    std::fs::write(&src, &data).unwrap();
    let up = env.path("uploaded.bin");
    let down = env.path("downloaded.bin");
    let batch = env.path("batch");
    std::fs::write(
        &batch,
        format!(
            "put {} {}\nget {} {}\nbye\n",
            src.display(),
            up.display(),
            up.display(),
            down.display()
        ),
    )
    .unwrap();
    let out = run(
        Command::new("sftp")
            .args(env.client_opts())
            .args(["-P", &env.proxy_port.to_string(), "-b"])
            .arg(&batch)
            .arg(env.target()),
        120,
    );
    assert!(
        out.status.success(),
        "sftp: {}; proxy log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.proxy_log()
    );
    assert_eq!(std::fs::read(&down).unwrap(), data, "sftp round trip");

    // Legacy scp protocol: an exec channel running `scp -t`.
    let scp_dst = env.path("scp-copy.bin");
    let out = run(
        Command::new("scp")
            .args(env.client_opts())
            .args(["-O", "-P", &env.proxy_port.to_string()])
            .arg(&src)
            .arg(format!("{}:{}", env.target(), scp_dst.display())),
        120,
    );
    assert!(
        out.status.success(),
        "scp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&scp_dst).unwrap(), data, "scp copy");

    let recs = env.finished_recordings(2);
    let mut saw_sftp = false;
    let mut saw_scp = false;
    for rec in &recs {
        assert_authentic(rec);
        for (conn_dir, ch, s) in channels(rec) {
            if s.session_program == "subsystem" {
                saw_sftp = true;
                assert_eq!(s.subsystem_name, "sftp");
                assert!(s.bytes_up >= data.len() as u64, "{s:?}");
                assert!(s.bytes_down >= data.len() as u64, "{s:?}");
                match convert_channel(&conn_dir, &ch, ConvertOptions::default()) {
                    Err(ConvertError::NotInteractive(m)) => {
                        assert!(m.contains("sftp") && m.contains("subsystem"), "{m}")
                    }
                    other => panic!("sftp channel converted: {:?}", other.map(|x| x.2)),
                }
            } else if s.session_program == "exec" {
                saw_scp = true;
                assert_eq!(
                    (s.exec_program.as_str(), s.file_transfer_direction.as_str()),
                    ("scp", "upload")
                );
                assert!(s.bytes_up >= data.len() as u64, "{s:?}");
            }
        }
    }
    assert!(saw_sftp && saw_scp, "sftp {saw_sftp}, scp {saw_scp}");
}

#[test]
fn local_port_forwarding() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    // A loopback echo server.
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in echo.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    let local_port = free_port();
    let fwd = Killed(
        env.ssh()
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
            .arg(format!("{local_port}:127.0.0.1:{echo_port}"))
            .arg(env.target())
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the forwarded port", Duration::from_secs(15), || {
        TcpStream::connect(("127.0.0.1", local_port)).is_ok()
    });
    // Give the probe connection's channel time to close before the real one.
    std::thread::sleep(Duration::from_millis(200));
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = TcpStream::connect(("127.0.0.1", local_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = c.try_clone().unwrap();
    let p2 = payload.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&p2).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), payload.len());
    assert!(got == payload, "forwarded bytes round trip");
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    drop(fwd); // the client goes away: the proxy closes and signs the recording

    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let chans = channels(&recs[0]);
    let fwd_chans: Vec<_> = chans
        .iter()
        .filter(|(_, _, s)| s.channel_type == "direct-tcpip")
        .collect();
    assert!(!fwd_chans.is_empty(), "direct-tcpip channel recorded");
    let (conn_dir, ch, s) = fwd_chans
        .iter()
        .find(|(_, _, s)| s.bytes_up > 0)
        .expect("the channel that carried the payload");
    assert_eq!(
        (s.bytes_up, s.bytes_down),
        (payload.len() as u64, payload.len() as u64)
    );
    let r = Recording::open_path(&recs[0]).unwrap();
    let conn = &r.connections().unwrap()[0];
    let f = conn.requests(Direction::Inbound).unwrap();
    let opens: Vec<Request> = f
        .chunks()
        .unwrap()
        .filter_map(|c| match decode_chunk_payload(&c.unwrap(), true).unwrap() {
            Decoded::Request(r) => Some(r),
            _ => None,
        })
        .collect();
    assert!(
        opens.iter().any(|r| matches!(r, Request::DirectTcpip(d)
            if d.port == u32::from(echo_port) && d.host == "127.0.0.1")),
        "direct-tcpip open recorded: {opens:?}"
    );
    match convert_channel(conn_dir, ch, ConvertOptions::default()) {
        Err(ConvertError::NotInteractive(m)) => assert!(m.contains("direct-tcpip"), "{m}"),
        other => panic!("forwarding channel converted: {:?}", other.map(|x| x.2)),
    }
}

#[test]
fn recording_failure_ends_the_session_and_stays_unfinished() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::FailAfter(200_000));
    let out = run(
        env.ssh()
            .arg(env.target())
            .arg("head -c 20000000 /dev/zero"),
        120,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(0),
        "the session must not end normally"
    );
    assert!(out.stdout.len() < 20_000_000, "the session was cut short");
    assert!(
        stderr.contains("session recording failed") && stderr.contains("injected storage failure"),
        "clear message to the client: {stderr}"
    );
    wait_for(
        "the proxy to give up the recording",
        Duration::from_secs(20),
        || env.proxy_log().contains("left UNFINISHED"),
    );
    let recs: Vec<PathBuf> = std::fs::read_dir(&env.rec_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recs.len(), 1);
    assert!(!recs[0].join("SHA256SUM.sig").exists(), "never signed");
    let (v, problems) = verdict(&recs[0]);
    assert_eq!((v, v.exit_code()), (Verdict::Incomplete, 4), "{problems}");
}

#[test]
fn stalled_recorder_ends_the_session_within_the_stall_timeout() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::StallAfter(300_000));
    let t0 = Instant::now();
    let out = run(
        env.ssh()
            .arg(env.target())
            .arg("head -c 200000000 /dev/zero"),
        120,
    );
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(0),
        "the session must not end normally"
    );
    // Back-pressure is bounded: at most the queue's budget (512 KiB) plus what is in
    // flight in the SSH windows gets past the stalled recorder.
    assert!(
        out.stdout.len() < 20_000_000,
        "{} bytes relayed",
        out.stdout.len()
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        stderr.contains("session recording failed") && stderr.contains("fell behind"),
        "clear message to the client: {stderr} (ssh {:?}; proxy log: {})",
        out.status,
        env.proxy_log()
    );
    let recs: Vec<PathBuf> = std::fs::read_dir(&env.rec_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recs.len(), 1);
    assert!(!recs[0].join("SHA256SUM.sig").exists(), "never signed");
    let (v, problems) = verdict(&recs[0]);
    eprintln!(
        "stalled recorder: {} bytes relayed, session ended after {took:?}, verdict {v:?}",
        out.stdout.len()
    );
    assert_ne!(v, Verdict::Authentic, "{problems}");
}

#[test]
fn no_record_relays_without_recording() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::NoRecord);
    let out = run(env.ssh().arg(env.target()).arg("echo relayed"), 120);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "relayed\n");
    assert!(
        !env.rec_dir.exists(),
        "no recordings folder with --no-record"
    );
    assert!(env.proxy_log().contains("NOT recording"));
}

#[test]
fn client_keepalive_global_requests_are_relayed_and_recorded() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    // The client sends a keepalive@openssh.com global request every second and gives up
    // after two unanswered ones: the session outlives that only if the answers come back.
    let out = run(
        env.ssh()
            .args(["-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"])
            .arg(env.target())
            .arg("sleep 4; echo done"),
        120,
    );
    assert_exited_ok_with(&env, &out, "done\n");
    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let reqs = connection_requests(&recs[0], Direction::Inbound);
    assert!(
        keepalives(&reqs) >= 2,
        "keepalive@openssh.com global requests recorded in the connection: {reqs:?}"
    );
}

#[test]
fn server_keepalive_channel_requests_are_relayed_and_recorded() {
    if !openssh_ready(false) {
        return;
    }
    // sshd sends a keepalive@openssh.com channel request every second and ends the session
    // after two unanswered ones: it outlives that only if the client's answers come back
    // through the proxy.
    let env = Env::start_with(
        Mode::Record,
        "ClientAliveInterval 1\nClientAliveCountMax 2\n",
    );
    let out = run(env.ssh().arg(env.target()).arg("sleep 4; echo done"), 120);
    assert_exited_ok_with(&env, &out, "done\n");
    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let chans = channels(&recs[0]);
    assert_eq!(chans.len(), 1);
    let (_, ch, summary) = &chans[0];
    assert_eq!(summary.session_program, "exec");
    let outbound = requests(ch, Direction::Outbound);
    assert!(
        keepalives(&outbound) >= 2,
        "keepalive@openssh.com channel requests recorded as outbound: {outbound:?}"
    );
    assert_eq!(
        keepalives(&requests(ch, Direction::Inbound)),
        0,
        "no keepalive recorded as inbound"
    );
}

/// A russh client handler that accepts any host key (the proxy's is a throwaway test key).
struct AnyHostKey;

impl russh::client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// The next request reply on a channel: `true` for success.
async fn next_reply(ch: &mut russh::Channel<russh::client::Msg>) -> Option<bool> {
    loop {
        match ch.wait().await? {
            russh::ChannelMsg::Success => return Some(true),
            russh::ChannelMsg::Failure => return Some(false),
            _ => {}
        }
    }
}

#[test]
fn arbitrary_client_requests_are_relayed_and_recorded_with_their_payload() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let global_payload = b"\0\0\0\x03abc".to_vec();
    let chan_payload = b"\0\0\0\x02xy".to_vec();
    let (global, chan_reply, break_reply, output) = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            let cfg = Arc::new(russh::client::Config::default());
            let mut h = russh::client::connect(cfg, ("127.0.0.1", env.proxy_port), AnyHostKey)
                .await
                .unwrap();
            let key = russh::keys::load_secret_key(env.path("client_key"), None).unwrap();
            let auth = h
                .authenticate_publickey(
                    env.user.clone(),
                    russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), None),
                )
                .await
                .unwrap();
            assert!(auth.success(), "the proxy let the client in");
            // A global request nobody knows: relayed to sshd, whose refusal comes back.
            let global = h
                .send_global_request("bsr-test-global@example.com", &global_payload, true)
                .await;
            let mut ch = h.channel_open_session().await.unwrap();
            // A channel request nobody knows, and `break` (RFC 4335), which russh's server
            // has no method for but BSR has a type for: both relayed, sshd answers.
            ch.request_raw(true, "bsr-test-chan@example.com", chan_payload.clone())
                .await
                .unwrap();
            let chan_reply = next_reply(&mut ch).await;
            ch.request_raw(true, "break", 500u32.to_be_bytes().to_vec())
                .await
                .unwrap();
            let break_reply = next_reply(&mut ch).await;
            ch.exec(true, "echo still-here").await.unwrap();
            let mut out = Vec::new();
            while let Some(m) = ch.wait().await {
                match m {
                    russh::ChannelMsg::Data { data } => out.extend_from_slice(&data),
                    russh::ChannelMsg::Eof | russh::ChannelMsg::Close => break,
                    _ => {}
                }
            }
            let _ = h
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            (global, chan_reply, break_reply, out)
        })
        .await
        .expect("the russh client session did not finish within 60 s")
    });
    drop(rt);
    // sshd refuses unknown requests; the client got that real answer, not the proxy's.
    assert!(
        matches!(global, Err(russh::Error::RequestDenied)),
        "{global:?}; proxy log:\n{}",
        env.proxy_log()
    );
    assert_eq!(chan_reply, Some(false));
    assert!(break_reply.is_some(), "sshd answered the break request");
    assert_eq!(String::from_utf8_lossy(&output), "still-here\n");

    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let conn_reqs = connection_requests(&recs[0], Direction::Inbound);
    assert!(
        conn_reqs.iter().any(|r| matches!(r, Request::Unknown(u)
            if u.request_type == "bsr-test-global@example.com" && u.want_reply
                && u.data == global_payload)),
        "the global request recorded with its payload: {conn_reqs:?}"
    );
    let chans = channels(&recs[0]);
    assert_eq!(chans.len(), 1);
    let inbound = requests(&chans[0].1, Direction::Inbound);
    assert!(
        inbound.iter().any(|r| matches!(r, Request::Unknown(u)
            if u.request_type == "bsr-test-chan@example.com" && u.want_reply
                && u.data == chan_payload)),
        "the channel request recorded with its payload: {inbound:?}"
    );
    assert!(
        inbound
            .iter()
            .any(|r| matches!(r, Request::Break(b) if b.break_length_ms == 500)),
        "break recorded as a break request: {inbound:?}"
    );
}
