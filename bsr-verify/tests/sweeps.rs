//! Hostile-input sweeps over a small signed recording (issue: reliability).
//!
//! * every bit of every file flipped: never "intact and authentic";
//! * every file truncated at every byte boundary: always incomplete or invalid;
//! * a table of mutation probes (delete, duplicate, rename, swap, move, re-sign, replay): 100 %
//!   detected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::keys::{AeadWrapper, KeyWrapper, RecorderKey, RecorderTrust, RecordingKeys};
use bsr_core::store::{MemStore, ReadStore};
use bsr_verify::report::Verdict;
use bsr_verify::{Trust, VerifyOptions, verify};
use std::collections::BTreeMap;
use std::sync::Arc;

const REC: &str = "sr_exec000001.bsr";

fn trusted() -> VerifyOptions {
    let kek: Arc<dyn KeyWrapper> = Arc::new(generate::kek());
    let rt = RecorderTrust::from_public_keys(vec![generate::recorder().public_key()]);
    VerifyOptions {
        trust: Trust {
            kek: Some(kek),
            recorder: Some(Arc::new(rt)),
        },
        store_checksums: true,
        ..VerifyOptions::default()
    }
}

fn recording() -> MemStore {
    let s = MemStore::new();
    generate::exec_session(Arc::new(s.clone()), "", "sr_exec000001").unwrap();
    s
}

fn clone_store(s: &MemStore) -> MemStore {
    let c = MemStore::new();
    c.copy_from(s, "").unwrap();
    c
}

fn verdict(s: &MemStore) -> Verdict {
    verify(s, REC, &trusted()).verdict
}

#[test]
fn baseline_is_authentic_under_each_trust_anchor() {
    let s = recording();
    let r = verify(&s, REC, &trusted());
    assert_eq!(r.verdict, Verdict::Authentic, "{:#?}", r.problems);
    assert_eq!(r.trust.mode, "kms+recorder");
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    // Only one anchor each.
    let mut o = trusted();
    o.trust.recorder = None;
    assert_eq!(verify(&s, REC, &o).verdict, Verdict::Authentic);
    let mut o = trusted();
    o.trust.kek = None;
    assert_eq!(verify(&s, REC, &o).verdict, Verdict::Authentic);
    // No anchor: never plain valid.
    assert_eq!(
        verify(&s, REC, &VerifyOptions::default()).verdict,
        Verdict::Unauthenticated
    );
    // A wrong KEK is an authentication failure: not authentic (exit 1), reported as a key
    // that does not match rather than as tampering (issue 14).
    let mut o = trusted();
    o.trust.kek = Some(Arc::new(AeadWrapper::new([9u8; 32], "other")));
    let r = verify(&s, REC, &o);
    assert_eq!(r.verdict, Verdict::KeyMismatch);
    assert_eq!(r.exit_code, 1);
}

#[test]
fn every_bit_flip_is_detected() {
    let base = recording();
    let files = base.files();
    let jobs: Vec<(String, usize)> = files
        .iter()
        .flat_map(|f| {
            let n = base.get(f).unwrap().len();
            (0..n * 8).map(move |b| (f.clone(), b))
        })
        .collect();
    let total = jobs.len();
    let results: Vec<(String, usize, Verdict)> = std::thread::scope(|sc| {
        let chunks: Vec<&[(String, usize)]> = jobs.chunks(jobs.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                let base = &base;
                sc.spawn(move || {
                    let s = clone_store(base);
                    let mut out = Vec::new();
                    for (f, bit) in part {
                        let orig = base.get(f).unwrap();
                        let mut m = orig.clone();
                        m[bit / 8] ^= 1 << (bit % 8);
                        s.put(f, m).unwrap();
                        out.push((f.clone(), *bit, verdict(&s)));
                        s.put(f, orig).unwrap();
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(results.len(), total);
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for (f, bit, v) in &results {
        assert_ne!(
            *v,
            Verdict::Authentic,
            "flipping bit {bit} of {f} went undetected"
        );
        *by.entry(format!("{v:?}")).or_default() += 1;
    }
    eprintln!(
        "bit flips: {total} over {} files; verdicts: {by:?}",
        files.len()
    );
    assert!(total > 10_000);
}

#[test]
fn every_truncation_is_detected() {
    let base = recording();
    let s = clone_store(&base);
    let mut n = 0;
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for f in base.files() {
        let orig = base.get(&f).unwrap();
        for len in 0..orig.len() {
            s.put(&f, orig[..len].to_vec()).unwrap();
            let v = verdict(&s);
            assert!(
                matches!(v, Verdict::Invalid | Verdict::Incomplete),
                "{f} cut at {len}: {v:?}"
            );
            *by.entry(format!("{v:?}")).or_default() += 1;
            n += 1;
        }
        s.put(&f, orig).unwrap();
    }
    eprintln!("truncations: {n}; verdicts: {by:?}");
    assert_eq!(verdict(&s), Verdict::Authentic);
}

type Probe = (&'static str, fn(&MemStore));

fn chan_dir(s: &MemStore) -> String {
    s.files()
        .into_iter()
        .find(|f| f.ends_with(".channel/SHA256SUM"))
        .unwrap()
        .trim_end_matches("/SHA256SUM")
        .to_string()
}

fn conn_dir(s: &MemStore) -> String {
    s.files()
        .into_iter()
        .find(|f| f.ends_with(".connection/SHA256SUM"))
        .unwrap()
        .trim_end_matches("/SHA256SUM")
        .to_string()
}

fn move_tree(s: &MemStore, from: &str, to: &str) {
    for f in s.files() {
        if let Some(rest) = f.strip_prefix(&format!("{from}/")) {
            let d = s.get(&f).unwrap();
            s.remove(&f);
            s.put(&format!("{to}/{rest}"), d).unwrap();
        }
    }
    s.remove(from);
}

/// Re-signs a whole recording under a fresh key pair: new key files, every SHA256SUM rebuilt
/// and signed. Only the KMS binding and the recorder attestation can catch this.
fn resign_under_fresh_key(s: &MemStore) {
    use sha2::Digest;
    let fresh = RecordingKeys::generate("s_exec000001").unwrap();
    let attacker_kms = AeadWrapper::new([0x66; 32], "attacker");
    for (name, bytes) in fresh.key_files(&attacker_kms).unwrap() {
        s.put(&format!("{REC}/{name}"), bytes).unwrap();
    }
    // A forged attestation by a recorder key the auditor does not trust.
    let rogue = RecorderKey::from_seed([0x55; 32]);
    s.put(
        &format!("{REC}/recorderAttestation.sign"),
        rogue.attest("sr_exec000001", &fresh),
    )
    .unwrap();
    let dirs: Vec<String> = s
        .files()
        .iter()
        .filter(|f| f.ends_with("/SHA256SUM"))
        .map(|f| f.trim_end_matches("/SHA256SUM").to_string())
        .collect();
    for d in dirs {
        let old = String::from_utf8(s.get(&format!("{d}/SHA256SUM")).unwrap()).unwrap();
        let mut new = String::new();
        for line in old.lines() {
            let name = line.split_once("  ").unwrap().1;
            let digest = sha2::Sha256::digest(s.get(&format!("{d}/{name}")).unwrap());
            new.push_str(&format!("{}  {name}\n", hex::encode(digest)));
        }
        s.put(&format!("{d}/SHA256SUM"), new.clone().into_bytes())
            .unwrap();
        s.put(
            &format!("{d}/SHA256SUM.sig"),
            fresh.sign_checksums(new.as_bytes()),
        )
        .unwrap();
    }
}

fn probes() -> Vec<Probe> {
    vec![
        ("delete a data file", |s| {
            let c = chan_dir(s);
            s.remove(&format!("{c}/messages-outbound.data"));
        }),
        ("delete a key file", |s| {
            s.remove(&format!("{REC}/wrappedBsrKey"));
        }),
        ("delete a channel folder", |s| {
            let c = chan_dir(s);
            for f in s.files() {
                if f.starts_with(&format!("{c}/")) {
                    s.remove(&f);
                }
            }
            s.remove(&c);
        }),
        ("delete SHA256SUM.sig of the session", |s| {
            s.remove(&format!("{REC}/SHA256SUM.sig"));
        }),
        ("delete SHA256SUM of a channel", |s| {
            let c = chan_dir(s);
            s.remove(&format!("{c}/SHA256SUM"));
        }),
        ("duplicate a file under a new name", |s| {
            let c = chan_dir(s);
            let d = s.get(&format!("{c}/messages-outbound.data")).unwrap();
            s.put(&format!("{c}/messages-outbound.data.bak"), d)
                .unwrap();
        }),
        ("add an extra file", |s| {
            s.put(&format!("{REC}/notes.txt"), b"hello".to_vec())
                .unwrap();
        }),
        ("add an unlisted channel folder", |s| {
            let c = conn_dir(s);
            s.put(&format!("{c}/chr_intruder1.channel/x"), b"x".to_vec())
                .unwrap();
        }),
        ("rename a data file", |s| {
            let c = chan_dir(s);
            let d = s.get(&format!("{c}/messages-outbound.data")).unwrap();
            s.remove(&format!("{c}/messages-outbound.data"));
            s.put(&format!("{c}/messages-outbound2.data"), d).unwrap();
        }),
        ("swap the two messages files", |s| {
            let c = chan_dir(s);
            let a = s.get(&format!("{c}/messages-outbound.data")).unwrap();
            let b = s.get(&format!("{c}/messages-inbound.data")).unwrap();
            s.put(&format!("{c}/messages-outbound.data"), b).unwrap();
            s.put(&format!("{c}/messages-inbound.data"), a).unwrap();
        }),
        ("swap SHA256SUM of channel and connection", |s| {
            let c = chan_dir(s);
            let k = conn_dir(s);
            for f in ["SHA256SUM", "SHA256SUM.sig"] {
                let a = s.get(&format!("{c}/{f}")).unwrap();
                let b = s.get(&format!("{k}/{f}")).unwrap();
                s.put(&format!("{c}/{f}"), b).unwrap();
                s.put(&format!("{k}/{f}"), a).unwrap();
            }
        }),
        ("rename a channel folder", |s| {
            let c = chan_dir(s);
            let new = format!("{}/chr_renamed01.channel", conn_dir(s));
            move_tree(s, &c, &new);
        }),
        ("move a channel to another connection", |s| {
            // A second (empty-looking) connection folder is not listed; listing it in the
            // session meta would break the session's SHA256SUM. Either way it must show.
            let c = chan_dir(s);
            let name = c.rsplit('/').next().unwrap().to_string();
            move_tree(s, &c, &format!("{REC}/cr_other00001.connection/{name}"));
        }),
        (
            "replace SHA256SUM and .sig under a fresh key",
            resign_under_fresh_key,
        ),
        (
            "replay an older SHA256SUM (before the summary was added)",
            |s| {
                let c = chan_dir(s);
                let old = String::from_utf8(s.get(&format!("{c}/SHA256SUM")).unwrap()).unwrap();
                let older: String = old
                    .lines()
                    .filter(|l| !l.ends_with("summary.json"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                s.put(&format!("{c}/SHA256SUM"), older.into_bytes())
                    .unwrap();
            },
        ),
        ("replay the SHA256SUM and .sig of another container", |s| {
            let c = chan_dir(s);
            for f in ["SHA256SUM", "SHA256SUM.sig"] {
                let d = s.get(&format!("{REC}/{f}")).unwrap();
                s.put(&format!("{c}/{f}"), d).unwrap();
            }
        }),
        ("edit the channel summary byte counts", |s| {
            let c = chan_dir(s);
            let p = format!("{c}/channel-recording-summary.json");
            let t = String::from_utf8(s.get(&p).unwrap())
                .unwrap()
                .replace("\"BytesDown\": ", "\"BytesDown\": 1");
            s.put(&p, t.into_bytes()).unwrap();
        }),
        ("append bytes after DONE", |s| {
            let c = chan_dir(s);
            let p = format!("{c}/messages-outbound.data");
            let mut d = s.get(&p).unwrap();
            d.extend_from_slice(b"trailing");
            s.put(&p, d).unwrap();
        }),
    ]
}

#[test]
fn mutation_probes_are_all_detected() {
    let base = recording();
    let mut detected = 0;
    let list = probes();
    for (name, probe) in &list {
        let s = clone_store(&base);
        probe(&s);
        let r = verify(&s, REC, &trusted());
        assert_ne!(
            r.verdict,
            Verdict::Authentic,
            "probe {name:?} went undetected"
        );
        assert!(
            !r.problems.is_empty(),
            "probe {name:?}: no problem reported"
        );
        eprintln!(
            "probe {name:?}: {:?}, first problem: {}",
            r.verdict, r.problems[0]
        );
        detected += 1;
    }
    assert_eq!(detected, list.len());
}

#[test]
fn channel_swapped_between_recordings_is_detected() {
    let a = MemStore::new();
    generate::exec_session(Arc::new(a.clone()), "", "sr_exec000001").unwrap();
    let b = MemStore::new();
    generate::shell_session(
        Arc::new(b.clone()),
        "",
        "sr_shell00001",
        "shell00001",
        bsr_core::format::chunk::Compression::None,
    )
    .unwrap();
    // Put recording b's channel in place of recording a's (same folder name).
    let ca = chan_dir(&a);
    let cb = chan_dir(&b);
    for f in a.files() {
        if f.starts_with(&format!("{ca}/")) {
            a.remove(&f);
        }
    }
    for f in b.files() {
        if let Some(rest) = f.strip_prefix(&format!("{cb}/")) {
            a.put(&format!("{ca}/{rest}"), b.get(&f).unwrap()).unwrap();
        }
    }
    let r = verify(&a, REC, &trusted());
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.problems.iter().any(|p| p.code == "checksum-signature"),
        "{:#?}",
        r.problems
    );
    // Even with no trust anchor, the foreign signature is caught.
    assert_eq!(
        verify(&a, REC, &VerifyOptions::default()).verdict,
        Verdict::Invalid
    );
    let _ = a.list("").unwrap();
}
