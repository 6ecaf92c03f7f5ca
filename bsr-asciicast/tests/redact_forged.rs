//! Dishonest redactions, written and signed with bsr-core's writer by someone who holds the
//! KEK: a copy changed outside its listed ranges passes on its own but fails `--original`; a
//! listed range that is not filler, a range outside its chunk, a manifest naming another
//! original fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod redact_support;

use bsr_core::format::redaction::*;
use bsr_core::format::{self, Direction};
use bsr_core::keys::{AeadWrapper, RecordingKeys};
use bsr_core::read::Recording;
use bsr_core::store::{FsStore, join};
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_verify::report::Verdict;
use redact_support::*;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const OUT: &str = "cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data";

fn original_ref(orig: &Path) -> Original {
    let h = |n: &str| hex::encode(sha2::Sha256::digest(std::fs::read(orig.join(n)).unwrap()));
    Original {
        recording_id: "sr_shell00001".into(),
        session_id: "s_shell00001".into(),
        signature_sha256: h("SHA256SUM.sig"),
        checksums_sha256: h("SHA256SUM"),
    }
}

/// A signed copy of `orig` whose outbound DATA chunks went through `edit` (chunk index, data),
/// with the manifest `files` naming `original`.
fn forge(
    orig: &Path,
    out: &Path,
    edit: &dyn Fn(u64, &mut [u8]),
    files: Vec<RedactedFile>,
    original: Original,
) -> PathBuf {
    let rec = Recording::open_path(orig).unwrap();
    let store = Arc::new(FsStore::new(out));
    let kek = AeadWrapper::from_kek_file(&kek()).unwrap();
    let sum = rec.summary().unwrap().unwrap();
    let mut opts = SessionOptions::new("sr_forged0001", "s_shell00001", sum.start_time);
    opts.session_meta = rec.session_meta().unwrap();
    let keys = RecordingKeys::generate("s_shell00001").unwrap();
    let s = SessionWriter::create(store, "", opts, keys, &kek, None).unwrap();
    let chunks = |p: &str| {
        let f = bsr_core::read::DataFile::open(&**rec.store(), p).unwrap();
        let v: Vec<_> = f
            .chunks()
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
            .collect();
        v
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
                        if name == "messages-outbound.data" {
                            edit(i, &mut data);
                        }
                        w.copy_chunk(d, t, ty, &data).unwrap();
                    }
                }
            }
            w.finish(chs.end_time).unwrap();
        }
        cw.finish(cs.end_time).unwrap();
    }
    let m = RedactionManifest {
        schema: SCHEMA.into(),
        original,
        tool: "forger".into(),
        redacted_at: "2026-01-01T00:00:00Z".into(),
        filler: b'*',
        rules: vec![Rule {
            index: 0,
            kind: RuleKind::Span,
            pattern: None,
            pattern_sha256: None,
            span: Some("chr_shell00001:outbound:0-1".into()),
        }],
        files,
    };
    s.write_redaction_manifest(&m).unwrap();
    s.finish(sum.end_time).unwrap();
    out.join("sr_forged0001.bsr")
}

/// Chunk 2's first byte listed as redacted.
fn listed(chunk: u64, offset: u64, length: u64, orig: &Path) -> Vec<RedactedFile> {
    let time = data_chunks(&orig.join(OUT))
        .into_iter()
        .find(|c| c.0 == chunk)
        .unwrap()
        .1;
    vec![RedactedFile {
        path: OUT.into(),
        redactions: vec![Redaction {
            chunk,
            offset,
            length,
            time,
            rule: 0,
        }],
    }]
}

fn fill_first(i: u64, d: &mut [u8]) {
    if i == 2 {
        d[0] = b'*';
    }
}

#[test]
fn an_honest_forgery_passes_both_ways() {
    let orig = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let copy = forge(
        &orig,
        d.path(),
        &fill_first,
        listed(2, 0, 1, &orig),
        original_ref(&orig),
    );
    assert_eq!(verify_copy(&copy, None).verdict, Verdict::Authentic);
    let r = verify_copy(&copy, Some(&orig));
    assert_eq!(r.verdict, Verdict::Authentic, "{:?}", r.problems);
}

#[test]
fn a_copy_changed_outside_its_ranges_fails_only_with_the_original() {
    let orig = rec("sr_shell00001.bsr");
    let d = tempfile::tempdir().unwrap();
    let edit = |i: u64, d: &mut [u8]| {
        fill_first(i, d);
        if i == 14 {
            let last = d.len() - 1;
            d[last] ^= 0x20;
        }
    };
    let copy = forge(
        &orig,
        d.path(),
        &edit,
        listed(2, 0, 1, &orig),
        original_ref(&orig),
    );
    let alone = verify_copy(&copy, None);
    assert_eq!(alone.verdict, Verdict::Authentic, "{:?}", alone.problems);
    let r = verify_copy(&copy, Some(&orig));
    assert_eq!(r.verdict, Verdict::Invalid);
    let p = r
        .errors()
        .find(|p| p.code == "differs-from-original")
        .unwrap();
    assert!(p.path.ends_with(OUT), "{p}");
    assert_eq!(p.chunk, Some(14));
    let want = data_chunks(&copy.join(OUT));
    assert!(want.iter().any(|c| c.0 == 14));
    assert!(p.offset.unwrap() > 8, "{p}");
    assert!(p.message.contains("data byte"), "{p}");
    let check = r.redaction.unwrap().original.unwrap();
    assert!(!check.identical_outside_redactions);
}

#[test]
fn listed_ranges_must_be_filler_inside_data_chunks_and_name_the_original() {
    let orig = rec("sr_shell00001.bsr");
    // Listed but not filled.
    let d = tempfile::tempdir().unwrap();
    let copy = forge(
        &orig,
        d.path(),
        &|_, _| {},
        listed(2, 0, 1, &orig),
        original_ref(&orig),
    );
    let r = verify_copy(&copy, None);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(codes(&r).contains(&"redaction-range"), "{:?}", r.problems);
    // A range beyond its chunk's data, and a chunk the file does not have.
    for files in [listed(2, 0, 1000, &orig), {
        let mut f = listed(2, 0, 1, &orig);
        f[0].redactions[0].chunk = 9999;
        f
    }] {
        let d = tempfile::tempdir().unwrap();
        let copy = forge(&orig, d.path(), &fill_first, files, original_ref(&orig));
        let r = verify_copy(&copy, None);
        assert!(codes(&r).contains(&"redaction-range"), "{:?}", r.problems);
    }
    // A manifest that names another original (or the right one with another signature).
    let mut other = original_ref(&orig);
    other.signature_sha256 = "00".repeat(32);
    let d = tempfile::tempdir().unwrap();
    let copy = forge(&orig, d.path(), &fill_first, listed(2, 0, 1, &orig), other);
    assert_eq!(verify_copy(&copy, None).verdict, Verdict::Authentic);
    let r = verify_copy(&copy, Some(&orig));
    assert!(codes(&r).contains(&"original-mismatch"), "{:?}", r.problems);
    let r = verify_copy(&copy, Some(&rec("sr_exec000001.bsr")));
    assert_eq!(r.verdict, Verdict::Invalid);
}
