//! `bsr-asciicast redact`: round trips on the test recordings, secrets across chunk
//! boundaries, hostile patterns, spans, bit flips, a tampered original.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod redact_support;

use bsr_core::format::redaction::RuleKind;
use bsr_verify::report::Verdict;
use redact_support::*;
use std::path::Path;

const CHANNEL: &str = "cr_shell00001.connection/chr_shell00001.channel";

/// Every listed range: filler in the copy, the pattern's bytes (letters) in the original;
/// every byte outside the ranges equal (the verifier's --original proves it, and so does this).
fn check_ranges(copy: &Path, original: &Path, letters_only: bool) -> usize {
    let m = manifest(copy);
    let mut n = 0;
    for f in &m.files {
        let c = data_chunks(&copy.join(&f.path));
        let o = data_chunks(&original.join(&f.path));
        assert_eq!(c.len(), o.len(), "{}", f.path);
        for r in &f.redactions {
            let ci = c.iter().position(|x| x.0 == r.chunk).unwrap();
            let (cd, od) = (&c[ci].2, &o[ci].2);
            let (a, b) = (r.offset as usize, r.end() as usize);
            assert!(cd[a..b].iter().all(|x| *x == b'*'), "{} {r:?}", f.path);
            assert!(od[a..b].iter().any(|x| *x != b'*'));
            if letters_only {
                assert!(od[a..b].iter().all(u8::is_ascii_alphabetic), "{r:?}");
            }
            assert_eq!(r.time, c[ci].1);
            n += 1;
        }
    }
    n
}

fn compression(p: &Path) -> bsr_core::format::Compression {
    let b = std::fs::read(p).unwrap();
    let head = bsr_core::read::ChunkReader::new(&b)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    head.header().unwrap().compression
}

#[test]
fn round_trip_on_every_test_recording_leaves_the_original_untouched() {
    for name in [
        "sr_shell00001.bsr",
        "sr_gzip000001.bsr",
        "sr_exec000001.bsr",
        "sr_multi00001.bsr",
    ] {
        let d = tempfile::tempdir().unwrap();
        let original = rec(name);
        let before = hash_tree(&original);
        let copy = redact(&original, d.path(), &["--pattern", "[A-Za-z]+"]);
        assert_eq!(hash_tree(&original), before, "{name}: the original changed");
        let alone = verify_copy(&copy, None);
        assert_eq!(
            alone.verdict,
            Verdict::Authentic,
            "{name}: {:?}",
            codes(&alone)
        );
        let rd = alone.redaction.as_ref().unwrap();
        assert_eq!(rd.original_recording_id, name.trim_end_matches(".bsr"));
        let r = verify_copy(&copy, Some(&original));
        assert_eq!(r.verdict, Verdict::Authentic, "{name}: {:?}", r.problems);
        let check = r.redaction.as_ref().unwrap().original.as_ref().unwrap();
        assert!(check.identical_outside_redactions);
        let n = check_ranges(&copy, &original, true);
        assert!(n > 0, "{name}: nothing redacted");
        assert_eq!(rd.redactions, n as u64);
        // The copy keeps the original's compression (gzip stays gzip).
        let f = &manifest(&copy).files[0].path;
        assert_eq!(
            compression(&copy.join(f)),
            compression(&original.join(f)),
            "{name}"
        );
        if name == "sr_gzip000001.bsr" {
            assert_eq!(
                compression(&copy.join(f)),
                bsr_core::format::Compression::Gzip
            );
        }
        // Only the copy's folder is left in --out (no temporary folder).
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}

#[test]
fn a_secret_split_across_chunks_is_gone_from_convert_and_text() {
    let d = tempfile::tempdir().unwrap();
    let original = rec("sr_shell00001.bsr");
    let copy = redact(
        &original,
        d.path(),
        &["--pattern", "héllo", "--pattern", "w.rld"],
    );
    let m = manifest(&copy);
    // "h" and "éllo wörld " are two outbound chunks: one match, two entries, same rule.
    let out = m
        .files
        .iter()
        .find(|f| f.path.ends_with("messages-outbound.data"))
        .unwrap();
    let hello: Vec<_> = out.redactions.iter().filter(|r| r.rule == 0).collect();
    assert!(hello.len() >= 2, "{hello:?}");
    assert!(hello.windows(2).any(|w| w[1].chunk == w[0].chunk + 1));
    // Typed one key per chunk: "héllo" over 5 inbound chunks.
    let inb = m
        .files
        .iter()
        .find(|f| f.path.ends_with("messages-inbound.data"))
        .unwrap();
    // Typed one key per chunk (and "é" split between two chunks): an entry per chunk.
    assert!(inb.redactions.iter().filter(|r| r.rule == 0).count() >= 5);
    let keys = |r: &Path| stream(&r.join(CHANNEL).join("messages-inbound.data"));
    assert!(String::from_utf8_lossy(&keys(&original)).contains("héllo"));
    assert!(!String::from_utf8_lossy(&keys(&copy)).contains("llo"));
    check_ranges(&copy, &original, false);
    assert!(
        !String::from_utf8_lossy(&stream(&copy.join(CHANNEL).join("messages-outbound.data")))
            .contains("llo")
    );
    for view in [&["convert", "--all"][..], &["text"][..]] {
        let shown = |r: &Path| {
            let k = kek();
            let mut args: Vec<&std::ffi::OsStr> = view.iter().map(|s| s.as_ref()).collect();
            args.extend([r.as_os_str(), "--kek".as_ref(), k.as_os_str()]);
            let o = run(&args);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8(o.stdout).unwrap()
        };
        let (before, after) = (shown(&original), shown(&copy));
        assert!(before.contains("llo") && before.contains("rld"), "{view:?}");
        assert!(
            !after.contains("héllo") && !after.contains("wörld"),
            "{view:?}: {after}"
        );
        assert!(after.contains("*****"), "{view:?}");
    }
    // The views say what they show: a redacted copy.
    let k = kek();
    let o = run(&[
        "convert".as_ref(),
        copy.as_os_str(),
        "--kek".as_ref(),
        k.as_os_str(),
    ]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("redacted copy of sr_shell00001 with"),
        "{said}"
    );
}

#[test]
fn hostile_patterns_are_bounded_and_still_verify() {
    let original = rec("sr_shell00001.bsr");
    // Only empty matches: a copy with no redaction, identical to the original.
    let d = tempfile::tempdir().unwrap();
    let copy = redact(
        &original,
        d.path(),
        &["--pattern", "(?:)", "--pattern", "^", "--pattern", r"\b"],
    );
    assert_eq!(manifest(&copy).count(), 0);
    assert_eq!(
        verify_copy(&copy, Some(&original)).verdict,
        Verdict::Authentic
    );
    // The whole stream, and a catastrophic-backtracking pattern (the regex crate is linear),
    // with a tiny window so that matches run across many windows.
    for (pat, max) in [
        ("(?s).+", "8"),
        ("(?s-u).+", "3"),
        ("(a+)+$", "4096"),
        ("(?s)(.+)+$", "4096"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let copy = redact(&original, d.path(), &["--pattern", pat, "--max-match", max]);
        let r = verify_copy(&copy, Some(&original));
        assert_eq!(r.verdict, Verdict::Authentic, "{pat}: {:?}", r.problems);
        if pat != "(a+)+$" {
            for dir in ["inbound", "outbound"] {
                let s = stream(&copy.join(CHANNEL).join(format!("messages-{dir}.data")));
                assert!(!s.is_empty() && s.iter().all(|b| *b == b'*'), "{pat} {dir}");
            }
        }
    }
    // A pattern that does not compile: exit 2, nothing written.
    let d = tempfile::tempdir().unwrap();
    let o = redact_output(&original, d.path(), &["--pattern", "("]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pattern 1"));
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    // No rule at all.
    assert_eq!(
        redact_output(&original, d.path(), &[]).status.code(),
        Some(2)
    );
}

#[test]
fn spans_redact_exactly_the_given_bytes() {
    let original = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let copy = redact(
        &original,
        d.path(),
        &["--span", "chr_shell00001:outbound:3-20", "--hide-patterns"],
    );
    let m = manifest(&copy);
    assert_eq!(m.rules[0].kind, RuleKind::Span);
    let (o, c) = (
        stream(&original.join(CHANNEL).join("messages-outbound.data")),
        stream(&copy.join(CHANNEL).join("messages-outbound.data")),
    );
    assert_eq!(o.len(), c.len());
    assert!(c[3..20].iter().all(|b| *b == b'*'));
    assert_eq!((&o[..3], &o[20..]), (&c[..3], &c[20..]));
    assert_eq!(
        verify_copy(&copy, Some(&original)).verdict,
        Verdict::Authentic
    );
    // A span beyond the stream, or in a channel that does not exist: refused, nothing written.
    let d = tempfile::tempdir().unwrap();
    for span in [
        "chr_shell00001:outbound:0-999999",
        "chr_nope:inbound:0-1",
        "x:sideways:1-2",
    ] {
        let o = redact_output(&original, d.path(), &["--span", span]);
        assert_eq!(o.status.code(), Some(2), "{span}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}

#[test]
fn a_pattern_that_is_the_secret_is_not_written_with_hide_patterns() {
    let original = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let copy = redact(
        &original,
        d.path(),
        &["--pattern", "wörld", "--hide-patterns"],
    );
    let text = std::fs::read_to_string(copy.join("REDACTION.json")).unwrap();
    assert!(!text.contains("wörld") && !text.contains("w\\u00f6rld"));
    assert!(manifest(&copy).rules[0].pattern_sha256.is_some());
}

#[test]
fn bit_flips_in_the_manifest_or_the_redacted_data_are_detected() {
    let original = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let copy = redact(&original, d.path(), &["--pattern", "wörld"]);
    let m = manifest(&copy);
    let f = &m.files[0];
    for (file, at) in [
        (copy.join("REDACTION.json"), 40i64),
        (copy.join("REDACTION.json"), -3),
        (copy.join(&f.path), -40),
    ] {
        let d2 = tempfile::tempdir().unwrap();
        let c2 = d2.path().join(copy.file_name().unwrap());
        copy_tree(&copy, &c2);
        flip(&c2.join(file.strip_prefix(&copy).unwrap()), at);
        let r = verify_copy(&c2, None);
        assert_eq!(r.verdict, Verdict::Invalid, "{file:?} {at}");
        assert!(codes(&r).contains(&"checksum-mismatch"), "{:?}", codes(&r));
    }
}

#[test]
fn a_tampered_original_is_refused_and_nothing_is_written() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("in/sr_shell00001.bsr");
    copy_tree(&rec("sr_shell00001.bsr"), &bad);
    flip(&bad.join(CHANNEL).join("messages-outbound.data"), -40);
    let out = d.path().join("out");
    let o = redact_output(&bad, &out, &["--pattern", "x"]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
    // --out inside the original: refused before anything is written into it.
    let good = d.path().join("good/sr_shell00001.bsr");
    copy_tree(&rec("sr_shell00001.bsr"), &good);
    let before = hash_tree(&good);
    let o = redact_output(&good, &good.join("sub/deeper"), &["--pattern", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("inside the original"));
    assert_eq!(hash_tree(&good), before);
    assert!(!good.join("sub").exists());
    // The wrong KEK: not authentic, refused too.
    let wrong = d.path().join("wrong.hex");
    std::fs::write(&wrong, "11".repeat(32)).unwrap();
    let k = wrong.as_os_str();
    let r = rec("sr_shell00001.bsr");
    let o = run(&[
        "redact".as_ref(),
        r.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--kek".as_ref(),
        k,
        "--pattern".as_ref(),
        "x".as_ref(),
    ]);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn a_recorder_key_attests_the_copy() {
    let original = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let key = root().join("testdata/keys/test-recorder.key");
    let copy = redact(
        &original,
        d.path(),
        &["--pattern", "demo", "--recorder-key", key.to_str().unwrap()],
    );
    assert!(copy.join("recorderAttestation.sign").exists());
    let trust =
        bsr_core::keys::RecorderTrust::from_file(&root().join("testdata/keys/test-recorder.pub"))
            .unwrap();
    let opts = bsr_verify::VerifyOptions {
        trust: bsr_verify::Trust {
            kek: None,
            recorder: Some(std::sync::Arc::new(trust)),
        },
        ..bsr_verify::VerifyOptions::default()
    };
    let store = bsr_core::store::FsStore::new(d.path());
    let name = copy.file_name().unwrap().to_string_lossy().into_owned();
    let r = bsr_verify::verify(&store, &name, &opts);
    assert_eq!(r.verdict, Verdict::Authentic, "{:?}", r.problems);
    assert_eq!(r.trust.mode.as_str(), "recorder");
    assert!(manifest(&copy).count() > 0);
}
