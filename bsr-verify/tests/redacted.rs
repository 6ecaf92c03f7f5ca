//! The `bsr-verify` binary on redacted copies: the summary line, `--json`, `--original` passing
//! and failing with the file, offset and chunk. The copies are written with bsr-core's writer
//! (as `bsr-asciicast redact` does), one with a change outside its listed range.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::format::redaction::*;
use bsr_core::format::{self, Direction};
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::read::{DataFile, Recording};
use bsr_core::store::{FsStore, join};
use bsr_core::write::{SessionOptions, SessionWriter};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const OUT: &str = "cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn kek() -> PathBuf {
    root().join("testdata/keys/test-kek.hex")
}

fn original() -> PathBuf {
    root().join("testdata/recordings/sr_shell00001.bsr")
}

/// A signed copy of sr_shell00001 with outbound chunk 2's first byte filled and listed, and
/// with `extra` applied to outbound chunk 14 (not listed).
fn copy(out: &Path, extra: bool) -> PathBuf {
    let orig = original();
    let rec = Recording::open_path(&orig).unwrap();
    let kek = AeadWrapper::from_kek_file(&kek()).unwrap();
    let sum = rec.summary().unwrap().unwrap();
    let mut opts = SessionOptions::new("sr_copy000001", "s_shell00001", sum.start_time);
    opts.session_meta = rec.session_meta().unwrap();
    let keys = RecordingKeys::generate("s_shell00001").unwrap();
    let s = SessionWriter::create(Arc::new(FsStore::new(out)), "", opts, keys, &kek, None).unwrap();
    let mut time = String::new();
    let chunks = |p: &str| -> Vec<_> {
        let f = DataFile::open(&**rec.store(), p).unwrap();
        f.chunks()
            .unwrap()
            .map(|c| c.unwrap())
            .filter(|c| !c.is_head() && !c.is_done())
            .map(|c| {
                (
                    c.index,
                    c.time,
                    c.chunk_type,
                    c.data().unwrap().into_owned(),
                )
            })
            .collect()
    };
    for conn in rec.connections().unwrap() {
        let cs = conn.summary().unwrap().unwrap();
        let cw = s.new_connection(conn.id(), cs.start_time).unwrap();
        for d in [Direction::Inbound, Direction::Outbound] {
            for (_, t, ty, data) in chunks(&join(conn.dir(), format::requests_file(d))) {
                cw.copy_request(d, t, ty, &data).unwrap();
            }
        }
        for ch in conn.channels().unwrap() {
            let chs = ch.summary().unwrap().unwrap();
            let mut w = cw
                .new_channel(ch.id(), ch.channel_type(), chs.start_time)
                .unwrap();
            for d in [Direction::Inbound, Direction::Outbound] {
                for name in [format::requests_file(d), format::messages_file(d)] {
                    for (i, t, ty, mut data) in chunks(&join(ch.dir(), name)) {
                        if name == "messages-outbound.data" && i == 2 {
                            data[0] = b'*';
                            time = t.to_rfc3339();
                        }
                        if name == "messages-outbound.data" && i == 14 && extra {
                            data[0] ^= 0x20;
                        }
                        w.copy_chunk(d, t, ty, &data).unwrap();
                    }
                }
            }
            w.finish(chs.end_time).unwrap();
        }
        cw.finish(cs.end_time).unwrap();
    }
    let h = |n: &str| hex::encode(sha2::Sha256::digest(std::fs::read(orig.join(n)).unwrap()));
    let m = RedactionManifest {
        schema: SCHEMA.into(),
        original: Original {
            recording_id: "sr_shell00001".into(),
            session_id: "s_shell00001".into(),
            signature_sha256: h("SHA256SUM.sig"),
            checksums_sha256: h("SHA256SUM"),
        },
        tool: "test".into(),
        redacted_at: "2026-01-01T00:00:00Z".into(),
        filler: b'*',
        rules: vec![Rule {
            index: 0,
            kind: RuleKind::Span,
            pattern: None,
            pattern_sha256: None,
            span: Some("chr_shell00001:outbound:14-15".into()),
        }],
        files: vec![RedactedFile {
            path: OUT.into(),
            redactions: vec![Redaction {
                chunk: 2,
                offset: 0,
                length: 1,
                time,
                rule: 0,
            }],
        }],
    };
    s.write_redaction_manifest(&m).unwrap();
    s.finish(sum.end_time).unwrap();
    out.join("sr_copy000001.bsr")
}

fn verify(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .args(args)
        .arg("--kek")
        .arg(kek())
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stdout).unwrap() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_redacted_copy_verifies_alone_and_against_its_original() {
    let d = tempfile::tempdir().unwrap();
    let c = copy(d.path(), false);
    let (code, out) = verify(&[c.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "intact and authentic, redacted copy of sr_shell00001 with 1 redaction(s) [trust: kms]"
        ),
        "{out}"
    );
    let o = original();
    let (code, out) = verify(&[c.as_os_str(), "--original".as_ref(), o.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("with 1 redaction(s), identical to it outside them"),
        "{out}"
    );
    let (code, out) = verify(&[
        c.as_os_str(),
        "--json".as_ref(),
        "--original".as_ref(),
        o.as_os_str(),
    ]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let rd = &report["redaction"];
    assert_eq!(rd["original_recording_id"], "sr_shell00001");
    assert_eq!(rd["redactions"], 1);
    assert_eq!(rd["rules"][0]["Kind"], "span");
    assert_eq!(rd["original"]["identical_outside_redactions"], true);
    assert_eq!(rd["original"]["verdict"], "authentic");
    // A plain recording has no redaction section, and fails --original.
    let (code, out) = verify(&[o.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 0);
    assert!(!out.contains("\"redaction\""));
    let (code, out) = verify(&[o.as_os_str(), "--original".as_ref(), o.as_os_str()]);
    assert_eq!(code, 1);
    assert!(out.contains("[not-a-redacted-copy]"), "{out}");
    // --original must be one recording.
    let all = root().join("testdata/recordings");
    let (code, out) = verify(&[c.as_os_str(), "--original".as_ref(), all.as_os_str()]);
    assert_eq!(code, 2);
    assert!(out.contains("not one recording"), "{out}");
}

#[test]
fn a_copy_changed_outside_its_ranges_fails_with_the_original_only() {
    let d = tempfile::tempdir().unwrap();
    let c = copy(d.path(), true);
    let (code, out) = verify(&[c.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    let o = original();
    let (code, out) = verify(&[c.as_os_str(), "--original".as_ref(), o.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("[differs-from-original]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(OUT) && line.contains("(chunk 14)") && line.contains("@ byte "),
        "{line}"
    );
    assert!(line.contains("data byte 0"), "{line}");
    assert!(out.contains("NOT identical to it outside them"), "{out}");
}
