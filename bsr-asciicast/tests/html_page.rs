//! The HTML evidence page without a browser: its CSP covers exactly its inline scripts, the
//! cast and the facts are in it, the size limit holds, and the CLI writes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_asciicast::html::{HtmlError, HtmlOptions, content_security_policy, render};
use bsr_core::store::{FsStore, ReadStore};
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn store() -> Arc<dyn ReadStore> {
    Arc::new(FsStore::new(root().join("testdata/recordings")))
}

/// The text between `open` and the next `close`, for every occurrence.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

#[test]
fn csp_allows_exactly_the_inline_scripts_and_style() {
    let page = render(store(), "sr_shell00001.bsr", &HtmlOptions::default()).unwrap();
    assert!(page.shown);
    let html = &page.html;
    let styles = between(html, "<style>", "</style>");
    assert_eq!(styles.len(), 1);
    let csp = content_security_policy(styles[0]);
    assert!(html.contains(&html_escape::encode_quoted_attribute(&csp).into_owned()));
    // Every executable inline script is listed by hash; the data block is JSON.
    let scripts = between(html, "<script>", "</script>");
    assert_eq!(scripts.len(), 2, "the player and the page script");
    for s in scripts {
        use base64::Engine;
        use sha2::Digest;
        let h = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s));
        assert!(csp.contains(&format!("'sha256-{h}'")));
    }
    let data = between(
        html,
        "<script type=\"application/json\" id=\"bsr-data\">",
        "</script>",
    );
    assert_eq!(data.len(), 1);
    let v: serde_json::Value = serde_json::from_str(data[0]).unwrap();
    let cast = v["cast"].as_str().unwrap();
    assert!(cast.starts_with("{\"version\":2"), "{cast}");
    assert!(cast.contains("wörld"));
    // No keystroke events: input the terminal did not echo never reaches the page.
    assert!(!cast.contains("\"i\""));
}

#[test]
fn facts_and_integrity_come_from_the_recording() {
    let page = render(store(), "sr_exec000001.bsr", &HtmlOptions::default()).unwrap();
    assert_eq!(page.verdict, bsr_verify::Verdict::Unauthenticated);
    let h = &page.html;
    assert!(h.contains("data-fact=\"user\">alice (u_1234567890)<"));
    assert!(h.contains("data-fact=\"worker\">w_1234567890<"));
    assert!(h.contains("data-fact=\"target\">db-bastion (tssh_1234567890)<"));
    assert!(h.contains("data-fact=\"key-id\">s_exec000001<"));
    assert!(h.contains("data-fact=\"trust-mode\">none<"));
    let sums =
        std::fs::read_to_string(root().join("testdata/recordings/sr_exec000001.bsr/SHA256SUM"))
            .unwrap();
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(sums.as_bytes()));
    assert!(h.contains(&format!("data-fact=\"sha256sum\"><code>{digest}</code>")));
    let first = sums.lines().next().unwrap();
    assert!(h.contains(&html_escape::encode_text(first).into_owned()));
    assert!(h.contains("uname -a"));
}

#[test]
fn cast_over_the_limit_is_an_error() {
    let opts = HtmlOptions {
        max_cast_bytes: 100,
        ..HtmlOptions::default()
    };
    match render(store(), "sr_shell00001.bsr", &opts) {
        Err(HtmlError::TooLarge { limit, .. }) => assert_eq!(limit, 100),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cli_writes_the_page_and_refuses_tampered_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("page.html");
    let bin = env!("CARGO_BIN_EXE_bsr-asciicast");
    let st = std::process::Command::new(bin)
        .arg("html")
        .arg(root().join("testdata/recordings/sr_shell00001.bsr"))
        .arg("--kek")
        .arg(root().join("testdata/keys/test-kek.hex"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"verdict\">authentic<"));

    // A copy with one changed byte in session-meta.json.
    let copy = dir.path().join("sr_shell00001.bsr");
    copy_dir(&root().join("testdata/recordings/sr_shell00001.bsr"), &copy);
    let meta = copy.join("session-meta.json");
    let mut b = std::fs::read(&meta).unwrap();
    b[10] ^= 1;
    std::fs::write(&meta, b).unwrap();
    let st = std::process::Command::new(bin)
        .arg("html")
        .arg(&copy)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"refused\""));
    assert!(!html.contains("alice") && !html.contains("bsr-data"));
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}
