//! Shared by the `serve` tests: a fixture archive, a server in this process, and a raw
//! HTTP/1.1 client (so malformed requests can be sent too).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_asciicast::serve::{App, ServeOptions, Token, serve};
use bsr_asciicast::verified::GateOptions;
use bsr_core::keys::RecorderTrust;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[path = "../../../bsr-core/tests/support/generate.rs"]
pub mod generate;

pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

pub fn copy_dir(from: &Path, to: &Path) {
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

/// The four testdata recordings, and below `tampered/` a copy of sr_shell00001 with one byte
/// of its terminal output changed (id `sr_shell00001~2`).
pub fn archive() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&root().join("testdata/recordings"), d.path());
    let t = d.path().join("tampered/sr_shell00001.bsr");
    copy_dir(&root().join("testdata/recordings/sr_shell00001.bsr"), &t);
    let p = t.join("cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data");
    let mut b = std::fs::read(&p).unwrap();
    let at = b.len() - 40;
    b[at] ^= 0x20;
    std::fs::write(&p, b).unwrap();
    d
}

pub fn trusted() -> GateOptions {
    let mut g = GateOptions::default();
    g.trust.kek = Some(Arc::new(generate::kek()));
    g.trust.recorder = Some(Arc::new(RecorderTrust::from_public_keys(vec![
        generate::recorder().public_key(),
    ])));
    g
}

/// A server on 127.0.0.1 (any port) over `targets`, running on its own runtime thread.
pub fn start(
    targets: &[&Path],
    token: Option<&str>,
    header_timeout: Option<Duration>,
) -> SocketAddr {
    start_with(ServeOptions {
        targets: targets.iter().map(|p| p.display().to_string()).collect(),
        gate: trusted(),
        token: token.map(|t| Token::new(t).unwrap()),
        warm: false,
        header_timeout,
        ..ServeOptions::default()
    })
}

/// A server on 127.0.0.1 (any port) with these options.
pub fn start_with(opts: ServeOptions) -> SocketAddr {
    let app = App::open(&opts).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let _ = serve(l, app).await;
        });
    });
    rx.recv().unwrap()
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// Sends `raw` as the whole request and reads the response to the connection's end.
pub fn raw(addr: SocketAddr, raw: &[u8]) -> Option<Resp> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(raw).ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse(&buf)
}

fn parse(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

/// `GET path` with extra header lines.
pub fn get_with(addr: SocketAddr, path: &str, headers: &[&str]) -> Resp {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    raw(addr, req.as_bytes()).unwrap_or_else(|| panic!("no response to GET {path}"))
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    get_with(addr, path, &[])
}

/// One step of a [`LiveWriter`].
pub enum Step {
    /// Terminal output (synced).
    Out(String),
    /// Keystrokes (synced).
    In(String),
}

/// A shell session being written by a thread of this process (`sr_live000001.bsr` in a
/// folder), one step at a time: each step returns once its chunk is synced.
pub struct LiveWriter {
    tx: Option<std::sync::mpsc::Sender<Step>>,
    ack: std::sync::mpsc::Receiver<()>,
    done: Option<std::thread::JoinHandle<()>>,
}

pub const LIVE_ID: &str = "sr_live000001";

impl LiveWriter {
    /// Starts the session in `dir` (pty 80×24, shell) and writes `first` as its first output.
    pub fn start(dir: &Path, first: &str) -> Self {
        use bsr_core::Direction;
        use bsr_core::keys::RecordingKeys;
        use bsr_core::ssh::{PtyRequest, Request, ShellRequest};
        use bsr_core::store::FsStore;
        use bsr_core::write::{SessionOptions, SessionWriter};
        use generate::t;
        let store = Arc::new(FsStore::new(dir));
        let keys = RecordingKeys::from_seed("s_live000001", generate::seed("live"));
        let opts = SessionOptions::new(LIVE_ID, "s_live000001", t(0));
        let s = SessionWriter::create(store, "", opts, keys, &generate::kek(), None).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Step>();
        let (ack_tx, ack) = std::sync::mpsc::channel();
        let first = first.to_string();
        let done = std::thread::spawn(move || {
            let c = s.new_connection("cr_live000001", t(1)).unwrap();
            let mut ch = c.new_channel("chr_live000001", "session", t(2)).unwrap();
            let pty = Request::Pty(PtyRequest {
                request_type: "pty-req".into(),
                want_reply: true,
                term_env_var: "xterm-256color".into(),
                terminal_width_characters: 80,
                terminal_height_rows: 24,
                ..Default::default()
            });
            ch.write_request(Direction::Inbound, t(3), &pty).unwrap();
            let shell = Request::Shell(ShellRequest {
                request_type: "shell".into(),
                want_reply: true,
            });
            ch.write_request(Direction::Inbound, t(4), &shell).unwrap();
            ch.write_data(Direction::Outbound, t(10), first.as_bytes())
                .unwrap();
            ch.sync().unwrap();
            ack_tx.send(()).unwrap();
            let mut ms = 100;
            for step in rx {
                ms += 100;
                match step {
                    Step::Out(s) => ch.write_data(Direction::Outbound, t(ms), s.as_bytes()),
                    Step::In(s) => ch.write_data(Direction::Inbound, t(ms), s.as_bytes()),
                }
                .unwrap();
                ch.sync().unwrap();
                ack_tx.send(()).unwrap();
            }
            ch.finish(t(ms + 10)).unwrap();
            c.finish(t(ms + 20)).unwrap();
            s.finish(t(ms + 30)).unwrap();
        });
        let w = LiveWriter {
            tx: Some(tx),
            ack,
            done: Some(done),
        };
        w.ack.recv_timeout(Duration::from_secs(30)).unwrap();
        w
    }

    /// Writes one step and waits until it is durable.
    pub fn step(&self, s: Step) {
        self.tx.as_ref().unwrap().send(s).unwrap();
        self.ack.recv_timeout(Duration::from_secs(30)).unwrap();
    }

    /// Stops writing without finishing anything, as a writer killed mid-session: the thread
    /// waits forever and the recording stays unfinished.
    pub fn abandon(self) {
        std::mem::forget(self);
    }

    /// Finishes the channel, the connection and the session.
    pub fn finish(mut self) {
        drop(self.tx.take());
        self.done.take().unwrap().join().unwrap();
    }
}

/// A client of a Server-Sent Events stream over HTTP/1.1 (chunked).
pub struct Sse {
    r: std::io::BufReader<TcpStream>,
    pending: String,
    pub status: u16,
    pub head: String,
}

impl Sse {
    /// `GET path`, reading the response head.
    pub fn open(addr: SocketAddr, path: &str) -> Self {
        use std::io::BufRead;
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut r = std::io::BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            if l == "\r\n" || l.is_empty() {
                break;
            }
            head.push_str(&l);
        }
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Sse {
            r,
            pending: String::new(),
            status,
            head,
        }
    }

    /// The next message (comments skipped), or `None` at the end of the stream.
    pub fn next(&mut self) -> Option<String> {
        use std::io::BufRead;
        loop {
            while let Some(i) = self.pending.find("\n\n") {
                let m: String = self.pending.drain(..i + 2).collect();
                let m = m.trim_end().to_string();
                if !m.starts_with(':') {
                    return Some(m);
                }
            }
            let mut size = String::new();
            if self.r.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                return None;
            }
            let mut b = vec![0; n + 2];
            self.r.read_exact(&mut b).ok()?;
            self.pending.push_str(&String::from_utf8_lossy(&b[..n]));
        }
    }

    /// The JSON of the next `data:` message.
    pub fn next_data(&mut self) -> serde_json::Value {
        let m = self.next().expect("the stream ended");
        let d = m
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("not a data message: {m:?}"));
        serde_json::from_str(d).unwrap()
    }
}
