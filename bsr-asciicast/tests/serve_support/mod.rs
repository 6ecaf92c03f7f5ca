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
    let opts = ServeOptions {
        targets: targets.iter().map(|p| p.display().to_string()).collect(),
        gate: trusted(),
        token: token.map(|t| Token::new(t).unwrap()),
        warm: false,
        header_timeout,
        ..ServeOptions::default()
    };
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

/// Script payloads that set `window.__pwned` if they ever run.
pub const PAYLOADS: [&str; 3] = [
    "</script><script>window.__pwned=1</script>",
    "\"><img src=x onerror=\"window.__pwned=1\">",
    "javascript:window.__pwned=1",
];

/// Writes `sr_hostile0001.bsr` into `dir`: an exec session whose user name, target name, exec
/// command, env and output carry [`PAYLOADS`].
pub fn hostile(dir: &Path) {
    use bsr_core::Direction;
    use bsr_core::keys::RecordingKeys;
    use bsr_core::ssh::*;
    use bsr_core::store::FsStore;
    use bsr_core::write::{SessionOptions, SessionWriter};
    let all = PAYLOADS.join(" ");
    let (rec, sess) = ("sr_hostile0001", "s_hostile0001");
    let keys = RecordingKeys::from_seed(sess, generate::seed(rec));
    let wrapper = generate::kek().with_rng_seed(generate::seed("serve-hostile"));
    let mut opts = SessionOptions::new(rec, sess, generate::t(0));
    let mut meta = generate::session_meta(sess);
    if let Some(u) = meta.user.as_mut() {
        u.name = all.clone();
    }
    opts.session_meta = Some(meta);
    let store = Arc::new(FsStore::new(dir));
    let s = SessionWriter::create(store, "", opts, keys, &wrapper, Some(&generate::recorder()))
        .unwrap();
    let c = s.new_connection("cr_hostile0001", generate::t(0)).unwrap();
    let mut ch = c
        .new_channel("chr_hostile001", "session", generate::t(2))
        .unwrap();
    ch.write_request(
        Direction::Inbound,
        generate::t(3),
        &Request::Env(EnvRequest {
            request_type: "env".into(),
            want_reply: false,
            variable_name: PAYLOADS[0].into(),
            variable_value: all.clone(),
        }),
    )
    .unwrap();
    ch.write_request(
        Direction::Inbound,
        generate::t(5),
        &Request::Exec(ExecRequest {
            request_type: "exec".into(),
            want_reply: true,
            command: all.clone(),
        }),
    )
    .unwrap();
    for (i, p) in PAYLOADS.iter().enumerate() {
        ch.write_data(
            Direction::Outbound,
            generate::t(100 + 100 * i as u64),
            format!("{p}\r\n").as_bytes(),
        )
        .unwrap();
    }
    ch.finish(generate::t(510)).unwrap();
    c.finish(generate::t(520)).unwrap();
    s.finish(generate::t(530)).unwrap();
}
