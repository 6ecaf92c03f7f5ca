//! `redact --hidden-input`: keystrokes typed at a password prompt (not echoed) are redacted,
//! echoed commands are not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod redact_support;

use bsr_core::format::redaction::RuleKind;
use bsr_core::keys::AeadWrapper;
use bsr_core::store::FsStore;
use bsr_verify::report::Verdict;
use redact_support::*;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A shell session: `ls` and `sudo id` echoed, then a password typed key by key without echo,
/// then `su` and a password pasted in one chunk with its Enter, without echo.
fn cast() -> String {
    let mut ev: Vec<(f64, &str, String)> = vec![(0.1, "o", "$ ".into())];
    let mut t = 0.5;
    fn typed(ev: &mut Vec<(f64, &str, String)>, t: &mut f64, s: &str, echo: bool) {
        for c in s.chars() {
            ev.push((*t, "i", c.to_string()));
            if echo {
                ev.push((*t + 0.01, "o", c.to_string()));
            }
            *t += 0.1;
        }
    }
    typed(&mut ev, &mut t, "ls", true);
    typed(&mut ev, &mut t, "\r", false);
    ev.push((t, "o", "\r\nfile\r\n$ ".into()));
    t += 0.1;
    typed(&mut ev, &mut t, "sudo id", true);
    typed(&mut ev, &mut t, "\r", false);
    ev.push((t, "o", "\r\n[sudo] password for demo: ".into()));
    t += 0.3;
    typed(&mut ev, &mut t, "hunter2", false);
    typed(&mut ev, &mut t, "\r", false);
    ev.push((t, "o", "\r\nuid=0(root)\r\n$ ".into()));
    t += 0.1;
    typed(&mut ev, &mut t, "su", true);
    typed(&mut ev, &mut t, "\r", false);
    ev.push((t, "o", "\r\nPassword: ".into()));
    ev.push((t + 0.5, "i", "correct horse\r".into()));
    ev.push((t + 0.6, "o", "\r\n# ".into()));
    let mut s = String::from(
        r#"{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"SHELL":"/bin/bash","TERM":"xterm"}}"#,
    );
    s.push('\n');
    for (t, k, d) in ev {
        s.push_str(&serde_json::json!([t, k, d]).to_string());
        s.push('\n');
    }
    s
}

/// The cast imported as a signed recording below `dir`.
fn recording(dir: &Path) -> PathBuf {
    let c = cast();
    let digest: [u8; 32] = sha2::Sha256::digest(c.as_bytes()).into();
    let wrapper = AeadWrapper::from_kek_file(&kek()).unwrap();
    let store = Arc::new(FsStore::new(dir));
    let done = bsr_asciicast::import::import_cast(c.as_bytes(), digest, store, "", &wrapper, None)
        .unwrap();
    dir.join(done.dir)
}

fn commands(r: &Path) -> String {
    let k = kek();
    let o = run(&[
        "commands".as_ref(),
        r.as_os_str(),
        "--kek".as_ref(),
        k.as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn inbound(r: &Path) -> Vec<u8> {
    let m = std::fs::read_dir(r)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let ch = std::fs::read_dir(&m)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    stream(&ch.join("messages-inbound.data"))
}

#[test]
fn keystrokes_typed_without_echo_are_redacted_and_echoed_ones_are_not() {
    let d = tempfile::tempdir().unwrap();
    let original = recording(d.path());
    let before = commands(&original);
    assert!(
        before.contains("[input not echoed: 7 keystrokes]"),
        "{before}"
    );
    assert!(
        before.contains("[input not echoed: 13 keystrokes]"),
        "{before}"
    );
    let keys = inbound(&original);
    assert_eq!(keys, b"ls\rsudo id\rhunter2\rsu\rcorrect horse\r");

    let out = d.path().join("out");
    let copy = redact(&original, &out, &["--hidden-input"]);
    let m = manifest(&copy);
    assert_eq!(m.rules[0].kind, RuleKind::HiddenInput);
    // Exactly the password bytes: the Enters, the commands and the output are kept.
    assert_eq!(inbound(&copy), b"ls\rsudo id\r*******\rsu\r*************\r");
    assert_eq!(m.files.len(), 1);
    assert!(m.files[0].path.ends_with("messages-inbound.data"));
    // Seven chunks of one key each, and one pasted chunk.
    assert_eq!(m.count(), 8);
    assert_eq!(m.files[0].redactions.last().unwrap().length, 13);
    let r = verify_copy(&copy, Some(&original));
    assert_eq!(r.verdict, Verdict::Authentic, "{:?}", r.problems);
    // The copy reads the same in `commands`, the secret is nowhere in it.
    let after = commands(&copy);
    assert_eq!(after, before);
    for f in hash_tree(&copy).keys() {
        let b = std::fs::read(copy.join(f)).unwrap();
        let s = String::from_utf8_lossy(&b);
        assert!(
            !s.contains("hunter2") && !s.contains("correct horse"),
            "{f:?}"
        );
    }
}
