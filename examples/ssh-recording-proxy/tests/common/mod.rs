//! The end-to-end tests' helpers: OpenSSH and tmux discovery, child processes that are
//! killed on drop, an `sshd` + proxy environment in a temporary folder, and readers of the
//! recording (verdict, channels, requests, conversion to asciicast).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Each test file uses a part of the helpers.
#![allow(dead_code)]

use bsr_asciicast::convert::{ChannelFiles, ConvertOptions, convert};
use bsr_asciicast::error::ConvertError;
use bsr_core::Direction;
use bsr_core::format::meta::ChannelSummary;
use bsr_core::keys::{AeadWrapper, RecorderTrust};
use bsr_core::read::{ChannelRecording, Recording};
use bsr_core::ssh::{Decoded, Request, decode_chunk_payload};
use bsr_core::store::FsStore;
use bsr_verify::{Trust, Verdict, VerifyOptions, verify};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn kek_file() -> PathBuf {
    repo_root().join("testdata/keys/test-kek.hex")
}

pub fn recorder_key_file() -> PathBuf {
    repo_root().join("testdata/keys/test-recorder.key")
}

pub fn recorder_pub_file() -> PathBuf {
    repo_root().join("testdata/keys/test-recorder.pub")
}

pub fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether the OpenSSH tools (and tmux when `tmux` is set) are here. Missing: fail under
/// `BSR_REQUIRE_OPENSSH=1`, otherwise a loud notice and the test is skipped.
pub fn openssh_ready(tmux: bool) -> bool {
    openssh_ready_with(tmux, &[])
}

/// As [`openssh_ready`], with more programs the test runs (each must answer `--version`).
pub fn openssh_ready_with(tmux: bool, programs: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !Path::new(SSHD).exists() {
        missing.push(SSHD);
    }
    for (c, a) in [
        ("ssh", "-V"),
        ("ssh-keygen", "--help"),
        ("sftp", "-h"),
        ("scp", "-h"),
        ("ssh-agent", "-h"),
    ] {
        if !have(c, a) {
            missing.push(c);
        }
    }
    if tmux && !have("tmux", "-V") {
        missing.push("tmux");
    }
    missing.extend(programs.iter().filter(|p| !have(p, "--version")));
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "OpenSSH end-to-end test needs {} (apt-get install openssh-server openssh-client tmux{})",
        missing.join(", "),
        programs.iter().map(|p| format!(" {p}")).collect::<String>()
    );
    if std::env::var("BSR_REQUIRE_OPENSSH").as_deref() == Ok("1") {
        panic!("{msg}; BSR_REQUIRE_OPENSSH=1 is set");
    }
    // Straight to the file descriptor, past the test harness's output capture: loud.
    let bar = "!".repeat(76);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! SKIPPED: {msg}\n!!! (set BSR_REQUIRE_OPENSSH=1 to make this a failure)\n{bar}\n"
    );
    false
}

/// Kills (and reaps) a child when dropped, also when a test fails.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills a tmux server when dropped.
pub struct TmuxServer(pub String);

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

/// A tmux server on its own socket with one detached session `t` of a fixed size and no
/// status line, running `script` under `sh -c`; killed on drop.
pub struct Tmux {
    sock: String,
    _server: TmuxServer,
}

impl Tmux {
    /// Starts the session in a `cols`×`rows` pane (`tag` keeps the socket apart from other
    /// tests' servers).
    pub fn start(env: &Env, tag: &str, cols: u16, rows: u16, script: &str) -> Tmux {
        let sock = format!("bsr-{tag}-{}", std::process::id());
        let tmux = Tmux {
            sock: sock.clone(),
            _server: TmuxServer(sock),
        };
        let conf = env.path("tmux.conf");
        std::fs::write(&conf, "set -g status off\n").unwrap();
        let conf = conf.display().to_string();
        let (x, y) = (cols.to_string(), rows.to_string());
        tmux.cmd(&[
            "-f",
            &conf,
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &x,
            "-y",
            &y,
            "sh",
            "-c",
            script,
        ]);
        tmux
    }

    /// Runs `tmux ARGS` on this server; fails the test when it fails.
    pub fn cmd(&self, args: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.sock])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "tmux {args:?}");
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses keys by tmux's names (`Enter`, `BSpace`, `C-u`, `Left`, `Up`, `Tab`…).
    pub fn keys(&self, names: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(names);
        self.cmd(&args);
    }

    /// `tmux display -p FORMAT`.
    pub fn display(&self, format: &str) -> String {
        let out = run(
            Command::new("tmux").args(["-L", &self.sock, "display", "-p", "-t", "t", format]),
            120,
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// The pane's visible screen, wrapped rows joined (`capture-pane -p -J`).
    pub fn capture(&self) -> String {
        let out = run(
            Command::new("tmux").args(["-L", &self.sock, "capture-pane", "-p", "-J", "-t", "t"]),
            120,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The `ssh -tt` command line that logs in through the proxy, for a shell script.
pub fn ssh_tty_command(env: &Env) -> String {
    let mut parts = vec!["ssh".to_string()];
    parts.extend(env.client_opts());
    parts.extend([
        "-tt".into(),
        "-p".into(),
        env.proxy_port.to_string(),
        env.target(),
    ]);
    parts.join(" ")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > timeout {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a client command to its end, killing it (and failing) after `secs` seconds so that a
/// hang is a failure with everything cleaned up, not a stuck test.
pub fn run(cmd: &mut Command, secs: u64) -> std::process::Output {
    let mut child = Killed(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut so = child.0.stdout.take().unwrap();
    let mut se = child.0.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            drop(child);
            panic!("{cmd:?} did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

pub fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "bsr-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen failed");
}

pub enum Mode {
    Record,
    NoRecord,
    FailAfter(u64),
    StallAfter(u64),
}

/// sshd + proxy in a temporary folder.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub rec_dir: PathBuf,
    pub proxy_port: u16,
    pub user: String,
    // Dropped in this order: the proxy first, then sshd.
    pub _proxy: Killed,
    pub _sshd: Killed,
}

impl Env {
    pub fn start(mode: Mode) -> Env {
        Env::start_with(mode, "")
    }

    /// As [`Env::start`], with `extra` appended to the sshd configuration.
    pub fn start_with(mode: Mode, extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for k in ["host_key", "proxy_host_key", "client_key", "upstream_key"] {
            keygen(&d.join(k));
        }
        std::fs::copy(d.join("upstream_key.pub"), d.join("sshd_authorized_keys")).unwrap();
        std::fs::copy(d.join("client_key.pub"), d.join("proxy_authorized_keys")).unwrap();
        // Privilege separation directory of Debian's sshd.
        let _ = std::fs::create_dir_all("/run/sshd");
        // The port is free when picked but could be taken before sshd binds it: retry.
        let mut attempt = 0;
        let (sshd, sshd_port) = loop {
            attempt += 1;
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/sshd_authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nSubsystem sftp internal-sftp\n\
                 AcceptEnv BSR_TEST_*\nX11Forwarding yes\nPrintMotd no\nLogLevel ERROR\n{extra}",
                d = d.display()
            );
            std::fs::write(d.join("sshd_config"), config).unwrap();
            let sshd_log = std::fs::File::create(d.join("sshd.log")).unwrap();
            let mut sshd = Killed(
                Command::new(SSHD)
                    .args(["-D", "-e", "-f"])
                    .arg(d.join("sshd_config"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(sshd_log)
                    .spawn()
                    .unwrap(),
            );
            let t0 = Instant::now();
            let up = loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break true;
                }
                if sshd.0.try_wait().unwrap().is_some() || t0.elapsed() > Duration::from_secs(10) {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if up {
                break (sshd, port);
            }
            let log = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
            assert!(attempt < 5, "sshd did not start: {log}");
        };

        let rec_dir = d.join("recordings");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssh-recording-proxy"));
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--host-key")
            .arg(d.join("proxy_host_key"))
            .arg("--authorized-keys")
            .arg(d.join("proxy_authorized_keys"))
            .arg("--upstream")
            .arg(format!("127.0.0.1:{sshd_port}"))
            .arg("--upstream-key")
            .arg(d.join("upstream_key"))
            .arg("--upstream-host-key")
            .arg(d.join("host_key.pub"));
        match mode {
            Mode::NoRecord => {
                cmd.arg("--no-record");
            }
            Mode::Record | Mode::FailAfter(_) | Mode::StallAfter(_) => {
                cmd.arg("--recordings")
                    .arg(&rec_dir)
                    .arg("--kek")
                    .arg(kek_file())
                    .arg("--recorder-key")
                    .arg(recorder_key_file());
                if let Mode::FailAfter(n) = mode {
                    cmd.arg("--fail-recording-after-bytes").arg(n.to_string());
                }
                if let Mode::StallAfter(n) = mode {
                    cmd.args(["--record-stall-timeout", "1", "--record-buffer-kib", "512"])
                        .arg("--stall-recording-after-bytes")
                        .arg(n.to_string());
                }
            }
        }
        let proxy_log = std::fs::File::create(d.join("proxy.log")).unwrap();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(proxy_log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let proxy = Killed(child);
        let proxy_port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("proxy did not start: {line:?}"));
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        Env {
            dir,
            rec_dir,
            proxy_port,
            user,
            _proxy: proxy,
            _sshd: sshd,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn client_opts(&self) -> Vec<String> {
        [
            "-F",
            "/dev/null",
            "-i",
            &self.path("client_key").display().to_string(),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    pub fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.client_opts())
            .args(["-p", &self.proxy_port.to_string()]);
        c
    }

    pub fn target(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    pub fn proxy_log(&self) -> String {
        std::fs::read_to_string(self.path("proxy.log")).unwrap_or_default()
    }

    /// The recordings, once `n` of them are finished (signed).
    pub fn finished_recordings(&self, n: usize) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let t0 = Instant::now();
        loop {
            found.clear();
            if let Ok(rd) = std::fs::read_dir(&self.rec_dir) {
                for e in rd.flatten() {
                    if e.path().join("SHA256SUM.sig").exists() {
                        found.push(e.path());
                    }
                }
            }
            if found.len() >= n {
                found.sort();
                return found;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                panic!(
                    "{} finished recording(s), expected {n}; proxy log:\n{}",
                    found.len(),
                    self.proxy_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The client exited 0 having printed exactly `stdout` (else: its stderr and the proxy log).
pub fn assert_exited_ok_with(env: &Env, out: &std::process::Output, stdout: &str) {
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref()
        ),
        (Some(0), stdout),
        "stderr: {}; proxy log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.proxy_log()
    );
}

/// `bsr-verify --kek KEK --recorder-key PUB RECORDING`, as a library call.
pub fn verdict(rec: &Path) -> (Verdict, String) {
    let store = FsStore::new(rec.parent().unwrap());
    let name = rec.file_name().unwrap().to_str().unwrap();
    let opts = VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(AeadWrapper::from_kek_file(&kek_file()).unwrap())),
            recorder: Some(Arc::new(
                RecorderTrust::from_file(&recorder_pub_file()).unwrap(),
            )),
        },
        ..Default::default()
    };
    let report = verify(&store, name, &opts);
    let problems = report
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    (report.verdict, problems)
}

pub fn assert_authentic(rec: &Path) {
    let (v, problems) = verdict(rec);
    assert_eq!(
        (v, v.exit_code()),
        (Verdict::Authentic, 0),
        "{}: {problems}",
        rec.display()
    );
}

/// Every channel of a recording with its connection folder and summary.
pub fn channels(rec: &Path) -> Vec<(String, ChannelRecording, ChannelSummary)> {
    let r = Recording::open_path(rec).unwrap();
    let mut out = Vec::new();
    for conn in r.connections().unwrap() {
        for ch in conn.channels().unwrap() {
            let s = ch.summary().unwrap().expect("channel summary");
            out.push((conn.dir().to_string(), ch, s));
        }
    }
    out
}

pub fn requests(ch: &ChannelRecording, d: Direction) -> Vec<Request> {
    let f = ch.requests(d).unwrap();
    let mut out = Vec::new();
    for c in f.chunks().unwrap() {
        let c = c.unwrap();
        if let Decoded::Request(r) = decode_chunk_payload(&c, true).unwrap() {
            out.push(r);
        }
    }
    out
}

/// The requests of the (only) connection of a recording, in direction `d`.
pub fn connection_requests(rec: &Path, d: Direction) -> Vec<Request> {
    let r = Recording::open_path(rec).unwrap();
    let conn = &r.connections().unwrap()[0];
    let f = conn.requests(d).unwrap();
    f.chunks()
        .unwrap()
        .filter_map(|c| match decode_chunk_payload(&c.unwrap(), true).unwrap() {
            Decoded::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// How many unknown `keepalive@openssh.com` requests wanting a reply are in `reqs`.
pub fn keepalives(reqs: &[Request]) -> usize {
    reqs.iter()
        .filter(|r| {
            matches!(r, Request::Unknown(u)
                if u.request_type == "keepalive@openssh.com" && u.want_reply && u.data.is_empty())
        })
        .count()
}

pub fn convert_channel(
    conn_dir: &str,
    ch: &ChannelRecording,
    opts: ConvertOptions,
) -> Result<
    (
        serde_json::Value,
        Vec<serde_json::Value>,
        bsr_asciicast::convert::SecurityReport,
    ),
    ConvertError,
> {
    let files = ChannelFiles::of_channel(ch, Some(conn_dir))?;
    let mut cast = Vec::new();
    let done = convert(&files, &opts, &mut cast)?;
    let text = String::from_utf8(cast).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let events = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    Ok((header, events, done.report))
}

pub fn output_text(events: &[serde_json::Value]) -> String {
    events
        .iter()
        .filter(|e| e[1] == "o")
        .map(|e| e[2].as_str().unwrap().to_string())
        .collect()
}
