//! Shared by the browser tests (`html_browser`, `serve_browser`): headless chromium over CDP,
//! the page helpers, and a recording whose text carries script payloads. The test crate must
//! have `generate` (bsr-core's test recording generator) at its root.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::generate;
use bsr_core::Direction;
use bsr_core::keys::RecordingKeys;
use bsr_core::ssh::*;
use bsr_core::store::WriteStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where screenshots (and the HTML tests' pages) go: `target/screenshots/`.
pub fn out_dir() -> PathBuf {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/screenshots"
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The browser, or `None` (test passes with a note) when chromium is absent and not required.
pub fn browser(profile: &Path) -> Option<Browser> {
    let path = match headless_chrome::browser::default_executable() {
        Ok(p) => p,
        Err(e) => {
            if std::env::var("BSR_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
                panic!("BSR_REQUIRE_CHROMIUM=1 but no chromium was found: {e}");
            }
            eprintln!("SKIPPED: no chromium ({e}); set BSR_REQUIRE_CHROMIUM=1 to make this fail");
            return None;
        }
    };
    let args: Vec<&OsStr> = [
        "--disable-quic",
        "--disable-component-update",
        "--disable-background-networking",
        "--disable-sync",
        "--no-first-run",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let opts = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        .sandbox(false)
        .enable_gpu(false)
        .window_size(Some((1280, 1000)))
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(args)
        .build()
        .unwrap();
    Some(Browser::new(opts).unwrap())
}

/// A fresh browser with its own profile folder and an empty tab (`None` as [`browser`]).
pub fn new_tab() -> Option<(tempfile::TempDir, Browser, Arc<Tab>)> {
    let profile = tempfile::tempdir().unwrap();
    let b = browser(profile.path())?;
    let tab = b.new_tab().unwrap();
    Some((profile, b, tab))
}

pub fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    let r = tab.evaluate(js, true).unwrap();
    r.value.unwrap_or(serde_json::Value::Null)
}

pub fn wait_for(tab: &Tab, js: &str, what: &str) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        if eval(tab, js) == serde_json::Value::Bool(true) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what} ({js})");
}

pub fn screenshot(tab: &Tab, name: &str) {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(out_dir().join(format!("{name}.png")), png).unwrap();
}

/// Script payloads that set `window.__pwned` if they ever run.
pub const PAYLOADS: [&str; 3] = [
    "</script><script>window.__pwned=1</script>",
    "\"><img src=x onerror=\"window.__pwned=1\">",
    "javascript:window.__pwned=1",
];

/// An exec session whose user name, env values, exec command and output carry the payloads.
pub fn hostile(store: Arc<dyn WriteStore>) {
    let all = PAYLOADS.join(" ");
    let rec = "sr_hostile0001";
    let sess = "s_hostile0001";
    let keys = RecordingKeys::from_seed(sess, generate::seed(rec));
    let wrapper = generate::kek().with_rng_seed(generate::seed("nonce-hostile"));
    let mut opts = SessionOptions::new(rec, sess, generate::t(0));
    let mut meta = generate::session_meta(sess);
    if let Some(u) = meta.user.as_mut() {
        u.name = all.clone();
        u.public_id = PAYLOADS[1].to_string();
    }
    opts.session_meta = Some(meta);
    let s = SessionWriter::create(store, "", opts, keys, &wrapper, Some(&generate::recorder()))
        .unwrap();
    let c = s.new_connection("cr_hostile0001", generate::t(0)).unwrap();
    let mut ch = c
        .new_channel("chr_hostile001", "session", generate::t(2))
        .unwrap();
    let env = |k: &str, v: &str| {
        Request::Env(EnvRequest {
            request_type: "env".into(),
            want_reply: false,
            variable_name: k.into(),
            variable_value: v.into(),
        })
    };
    ch.write_request(Direction::Inbound, generate::t(3), &env("LD_PRELOAD", &all))
        .unwrap();
    ch.write_request(
        Direction::Inbound,
        generate::t(4),
        &env(PAYLOADS[0], PAYLOADS[2]),
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
    ch.write_request(
        Direction::Outbound,
        generate::t(500),
        &Request::ExitStatus(ExitStatusRequest {
            request_type: "exit-status".into(),
            want_reply: false,
            exit_status: 0,
        }),
    )
    .unwrap();
    ch.finish(generate::t(510)).unwrap();
    c.finish(generate::t(520)).unwrap();
    s.finish(generate::t(530)).unwrap();
}
