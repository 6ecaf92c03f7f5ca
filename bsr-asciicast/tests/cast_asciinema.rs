//! A real asciicast implementation reads what our writer writes: `asciinema cat` (asciinema
//! 2.4 from PyPI) prints the concatenated `o` data of a v2 cast byte for byte. It also prints
//! the v1/v2 fixtures exactly as our reader reads them, and refuses v3 (2.4 reads v1 and v2
//! only).
//!
//! Skipped, with a message, only when `asciinema` is not installed and `BSR_REQUIRE_ASCIINEMA`
//! is not set (`.ci/test` installs asciinema 2.4 and sets it).

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::cast::{CastReader, CastWriter, EventKind, Header};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `Some(version line)` when asciinema can run; `None` (after printing why) to skip.
///
/// Asked once per test binary: asciinema 2.4 creates `~/.config/asciinema/install-id` on its
/// first run, and several first runs at once (the tests run in parallel) race on it, so one of
/// them can fail on a fresh machine.
fn asciinema() -> Option<String> {
    static VERSION: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    let v = VERSION.get_or_init(|| {
        let mut last = String::new();
        for _ in 0..3 {
            match Command::new("asciinema").arg("--version").output() {
                Ok(o) if o.status.success() => {
                    return Ok(String::from_utf8_lossy(&o.stdout).trim().to_string());
                }
                Ok(o) => {
                    last = format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr));
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Err(last)
    });
    match v {
        Ok(version) => Some(version.clone()),
        Err(why) => {
            assert!(
                std::env::var_os("BSR_REQUIRE_ASCIINEMA").is_none(),
                "asciinema is required (BSR_REQUIRE_ASCIINEMA is set) but cannot be run ({why}); \
                 install it with: python3 -m pip install 'asciinema==2.4.0'"
            );
            eprintln!(
                "SKIPPED: asciinema is not installed (python3 -m pip install 'asciinema==2.4.0', \
                 or run .ci/test which installs it and sets BSR_REQUIRE_ASCIINEMA)"
            );
            None
        }
    }
}

fn cat(path: &Path) -> Output {
    Command::new("asciinema")
        .arg("cat")
        .arg(path)
        // No terminal: asciinema then skips putting /dev/tty in raw mode. UTF-8 stdout
        // whatever the locale of the test run.
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn outputs(cast: &[u8]) -> String {
    CastReader::new(cast)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.kind == EventKind::Output)
        .map(|e| e.data)
        .collect()
}

#[test]
fn asciinema_cat_prints_our_v2_output_exactly() {
    let Some(version) = asciinema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let h = Header {
        width: 80,
        height: 24,
        timestamp: Some(1_700_000_000),
        title: Some("a <title> & \"quotes\"".into()),
        env: vec![
            ("SHELL".into(), Some("/bin/bash".into())),
            ("TERM".into(), Some("xterm-256color".into())),
        ],
        ..Header::default()
    };
    let mut all = String::new();
    for b in 1u8..0x80 {
        all.push(b as char);
    }
    let datas: Vec<String> = vec![
        "plain ascii\r\n".into(),
        "żółć jaźń — 中文 — 🎉🦀\r\n".into(),
        "\"quoted\" \\back\\slash\\ <html> & amp\r\n".into(),
        "\u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7}\u{8}\u{c}\t|\r\n".into(),
        "\u{2028}line sep\u{2029}para sep\u{2027}\u{202a}\r\n".into(),
        "\u{fffd} replacement, \u{7f} del, \u{0} nul\r\n".into(),
        all,
        "x".repeat(100_000),
        String::new(),
    ];
    let mut w = CastWriter::new_v2(Vec::new(), &h).unwrap();
    let mut want = String::new();
    let mut t = 0i128;
    for (i, d) in datas.iter().enumerate() {
        t += 123_456_789;
        w.event(t, &EventKind::Output, d).unwrap();
        want.push_str(d);
        if i == 2 {
            w.event(t, &EventKind::Resize, "120x40").unwrap();
            w.event(t, &EventKind::Input, "typed <input>\r").unwrap();
            w.event(t, &EventKind::Marker, "a marker").unwrap();
        }
    }
    // Raw bytes the Go way: invalid bytes become U+FFFD, one per byte.
    w.event_bytes(t + 1, &EventKind::Output, b"bad \xff\xe2\x86 end")
        .unwrap();
    want.push_str("bad \u{fffd}\u{fffd}\u{fffd} end");
    let cast = w.finish().unwrap();
    assert_eq!(outputs(&cast), want, "our own reader");
    let p = dir.path().join("ours.cast");
    std::fs::write(&p, &cast).unwrap();
    let out = cat(&p);
    assert!(
        out.status.success(),
        "{version}: asciinema cat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        want,
        "{version}: asciinema cat output"
    );
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/cast-fixtures")
}

#[test]
fn asciinema_cat_agrees_with_our_reader_on_v1_v2_fixtures() {
    let Some(version) = asciinema() else { return };
    let mut n = 0;
    for name in [
        "asciinema-cli__full-v1.json",
        "asciinema-cli__full-v2.cast",
        "asciinema-cli__nulls-v2.cast",
        "asciinema-cli__demo-v2.cast",
        "asciinema-player__markers-input-v2.cast",
    ] {
        let p = fixtures().join(name);
        let bytes = std::fs::read(&p).unwrap();
        let out = cat(&p);
        assert!(out.status.success(), "{version} {name}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            outputs(&bytes),
            "{name}"
        );
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn asciinema_2_4_refuses_v3() {
    let Some(version) = asciinema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let h = Header {
        width: 80,
        height: 24,
        ..Header::default()
    };
    let mut w = CastWriter::new_v3(Vec::new(), &h).unwrap();
    w.event(1_000_000, &EventKind::Output, "hello v3\r\n")
        .unwrap();
    let p = dir.path().join("v3.cast");
    std::fs::write(&p, w.finish().unwrap()).unwrap();
    let out = cat(&p);
    if version.starts_with("asciinema 2.") {
        assert!(!out.status.success(), "{version} read a v3 cast");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("only asciicast v1 and v2 formats can be opened"),
            "{err}"
        );
    } else {
        // asciinema 3 reads v3.
        assert!(out.status.success(), "{version}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello v3\r\n");
    }
}
