//! `search --index` (issues 15 and 18): the index gives exactly the scan's hits, updates only
//! what changed, honours `--shard`, and refuses busy, foreign and damaged index folders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod text_support;

use bsr_asciicast::search::{Check, Found, Hit, Matcher, search};
use bsr_asciicast::search_index::{
    IndexError, IndexEvent, QueryStats, SearchIndex, UpdateOptions, UpdateSummary, query_all,
};
use bsr_core::read::Recording;
use bsr_core::store::{FsStore, ReadStore};
use bsr_verify::shard::Shard;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use text_support::*;

type Sources = Vec<(Arc<dyn ReadStore>, Vec<String>)>;

/// A shell whose line wraps at 40 columns, a full-screen frame, and a case-folding line.
fn write_one(store: &Arc<FsStore>, i: usize, word: &str) {
    let line = format!("{}{word}-{i:03} end\r\n", "x".repeat(35));
    write_session(
        store.clone(),
        &format!("idx{i:05}"),
        Runs::Shell,
        Some((40, 5)),
        &[
            out(100, "$ "),
            out(200, &line),
            out(250, "Temp 300\u{212a} \u{17f}ecret Σίσυφος ab\r\n"),
            out(300, "\x1b[?1049hframe-needle-9\x1b[?1049l$ "),
        ],
    );
}

fn archive(n: usize) -> (tempfile::TempDir, Arc<FsStore>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(tmp.path()));
    for i in 0..n {
        write_one(&store, i, "needle");
    }
    (tmp, store)
}

fn sources(root: &Path) -> Sources {
    let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(root));
    let dirs = Recording::find_all(&*store, "", 4).unwrap();
    vec![(store, dirs)]
}

fn testdata() -> Sources {
    sources(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/recordings"
    )))
}

fn opts(shard: Option<Shard>) -> UpdateOptions {
    UpdateOptions {
        jobs: 2,
        trust_key: "none".into(),
        shard,
        remove_missing: true,
        ..UpdateOptions::default()
    }
}

fn update(ix: &SearchIndex, src: &Sources, o: &UpdateOptions) -> (UpdateSummary, Vec<IndexEvent>) {
    let events = Mutex::new(Vec::new());
    let s = ix
        .update(src, o, &|e| events.lock().unwrap().push(e.clone()))
        .unwrap();
    (s, events.into_inner().unwrap())
}

fn sorted(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| {
        (&a.recording, &a.channel, a.t, &a.line, a.full_screen)
            .partial_cmp(&(&b.recording, &b.channel, b.t, &b.line, b.full_screen))
            .unwrap()
    });
    hits
}

fn scan(src: &Sources, m: &Matcher) -> Vec<Hit> {
    let hits = Mutex::new(Vec::new());
    for (store, dirs) in src {
        search(
            store,
            dirs,
            m,
            2,
            &Check::Verify(Default::default()),
            &|f| {
                if let Found::Hit(h) = f {
                    hits.lock().unwrap().push(h);
                }
            },
        );
    }
    sorted(hits.into_inner().unwrap())
}

fn query(ixs: &[SearchIndex], m: &Matcher) -> (Vec<Hit>, QueryStats) {
    let mut hits = Vec::new();
    let stats = query_all(ixs, m, &mut |h| hits.push(h)).unwrap();
    (sorted(hits), stats)
}

/// Each case: (pattern, --regex, -i, expected to narrow).
const CASES: &[(&str, bool, bool, bool)] = &[
    ("needle-001", false, false, true),
    ("NEEDLE-001", false, true, true),
    // Narrowed by case-folded trigrams, then refused by the case-sensitive confirmation.
    ("NEEDLE-001", false, false, true),
    // Wraps: "x" at column 39, "needle" on the next screen row.
    ("xneedle-002 e", false, false, true),
    (r"NEEDLE-\d+", true, true, true),
    (r"needle-00[13] end$", true, false, true),
    ("frame-needle", false, false, true),
    // Case classes beyond ASCII: the Kelvin sign, the long s, final sigma.
    ("300k s", false, true, true),
    ("SECRET", false, true, true),
    ("ΣΊΣΥΦΟΣ", false, true, true),
    ("héllo wörld", false, false, true),
    ("HÉLLO", false, true, true),
    ("logout", false, false, true),
    // Cannot be narrowed: confirmed over every stored line.
    ("e", false, true, false),
    ("ab", false, false, false),
    (r"\w+\.\w+", true, false, false),
    (r"[a-z]{3}-\d", true, true, false),
    ("(?s).", true, false, false),
    ("no such text anywhere", false, false, true),
];

#[test]
fn index_hits_equal_scan_hits() {
    let (tmp, _store) = archive(4);
    let mut src = sources(tmp.path());
    src.extend(testdata());
    let dir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::open_or_create(&dir.path().join("ix")).unwrap();
    let (s, events) = update(&ix, &src, &opts(None));
    assert_eq!((s.indexed, s.failed), (8, 0), "{events:?}");
    let mut empty = Vec::new();
    for &(p, regex, ci, narrows) in CASES {
        let m = Matcher::new(p, regex, ci).unwrap();
        let want = scan(&src, &m);
        let (got, stats) = query(std::slice::from_ref(&ix), &m);
        assert_eq!(got, want, "pattern {p:?} regex={regex} -i={ci}");
        assert_eq!(stats.narrowed, narrows, "pattern {p:?}: narrowed");
        assert_eq!(stats.hits as usize, want.len());
        if narrows {
            assert!(stats.candidates < s.lines, "{p:?}: {stats:?}");
        } else {
            assert_eq!(stats.candidates, s.lines, "{p:?}: every line confirmed");
        }
        if want.is_empty() {
            empty.push(p);
        }
    }
    assert_eq!(
        empty,
        ["NEEDLE-001", "no such text anywhere"],
        "every other case matches something"
    );
    let m = Matcher::new("NEEDLE-001", false, false).unwrap();
    let (_, stats) = query(std::slice::from_ref(&ix), &m);
    assert_eq!(
        (stats.candidates, stats.hits),
        (1, 0),
        "a candidate, not confirmed"
    );
    // The wrapped match is the logical line.
    let m = Matcher::new("xneedle-002 e", false, false).unwrap();
    let (hits, _) = query(std::slice::from_ref(&ix), &m);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].line, format!("$ {}needle-002 end", "x".repeat(35)));
    assert_eq!(
        (hits[0].user.as_str(), hits[0].target.as_str()),
        ("alice", "db-bastion")
    );
}

#[test]
fn updates_skip_unchanged_reindex_replaced_and_remove_missing() {
    let (tmp, store) = archive(4);
    let src = sources(tmp.path());
    let dir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::open_or_create(dir.path()).unwrap();
    let (first, _) = update(&ix, &src, &opts(None));
    assert_eq!((first.indexed, first.unchanged, first.replaced), (4, 0, 0));

    // Tamper with an indexed recording's output without touching its SHA256SUM.sig: the second
    // run only reads the .sig, so it neither re-verifies nor notices.
    let data = walk(&tmp.path().join("sr_idx00000.bsr"))
        .into_iter()
        .find(|p| p.ends_with("messages-outbound.data"))
        .unwrap();
    let mut b = std::fs::read(&data).unwrap();
    let n = b.len();
    b[n - 30] ^= 0x20;
    std::fs::write(&data, b).unwrap();
    let (second, events) = update(&ix, &src, &opts(None));
    assert_eq!(
        second,
        UpdateSummary {
            unchanged: 4,
            ..UpdateSummary::default()
        },
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| matches!(e, IndexEvent::Unchanged { .. }))
    );

    // Replace recording 1 (same id, new content and .sig), remove recording 2, add recording 9.
    std::fs::remove_dir_all(tmp.path().join("sr_idx00001.bsr")).unwrap();
    write_one(&store, 1, "pin");
    std::fs::remove_dir_all(tmp.path().join("sr_idx00002.bsr")).unwrap();
    write_one(&store, 9, "needle");
    let src = sources(tmp.path());
    let (third, events) = update(&ix, &src, &opts(None));
    assert_eq!(
        (
            third.indexed,
            third.replaced,
            third.unchanged,
            third.removed
        ),
        (2, 1, 2, 1),
        "{events:?}"
    );
    assert!(events.iter().any(|e| matches!(e,
        IndexEvent::Indexed { recording, replaced: true, .. } if recording.ends_with("sr_idx00001.bsr"))));
    assert!(events.iter().any(|e| matches!(e,
        IndexEvent::Removed { recording } if recording.ends_with("sr_idx00002.bsr"))));
    let m = Matcher::new(r"(needle|pin)-\d+ end", true, false).unwrap();
    let (hits, _) = query(std::slice::from_ref(&ix), &m);
    let lines: Vec<&str> = hits.iter().map(|h| &h.line[37..]).collect();
    assert_eq!(
        lines,
        [
            "needle-000 end",
            "pin-001 end",
            "needle-003 end",
            "needle-009 end"
        ]
    );

    // Other trust anchors: every recording is verified again (and the tampered one now fails).
    let mut other = opts(None);
    other.trust_key = "kek:0123;".into();
    let (fourth, events) = update(&ix, &src, &other);
    assert_eq!(
        (fourth.indexed, fourth.replaced, fourth.failed),
        (3, 3, 1),
        "{events:?}"
    );
    let failure = events.iter().find_map(|e| match e {
        IndexEvent::Failed(f) => Some(f),
        _ => None,
    });
    assert!(
        failure
            .unwrap()
            .reason
            .contains("refusing to show its content")
    );
    let (hits, _) = query(std::slice::from_ref(&ix), &m);
    assert_eq!(
        hits.len(),
        3,
        "the recording that failed is out of the index"
    );
    // A failed recording is tried again by the next update, not taken as unchanged.
    let (fifth, _) = update(&ix, &src, &other);
    assert_eq!((fifth.unchanged, fifth.failed), (3, 1));
}

#[test]
fn a_target_that_cannot_be_listed_removes_nothing() {
    let (tmp, _store) = archive(2);
    let dir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::open_or_create(dir.path()).unwrap();
    update(&ix, &sources(tmp.path()), &opts(None));
    let mut keep = opts(None);
    keep.remove_missing = false;
    let (s, _) = update(&ix, &Vec::new(), &keep);
    assert_eq!(s.removed, 0);
    let (hits, _) = query(
        std::slice::from_ref(&ix),
        &Matcher::new("needle-0", false, false).unwrap(),
    );
    assert_eq!(hits.len(), 2);
    let (s, _) = update(&ix, &Vec::new(), &opts(None));
    assert_eq!(s.removed, 2);
}

#[test]
fn shard_indexes_are_disjoint_and_together_equal_the_unsharded_index() {
    let (tmp, _store) = archive(12);
    let src = sources(tmp.path());
    let dir = tempfile::tempdir().unwrap();
    let all = SearchIndex::open_or_create(&dir.path().join("all")).unwrap();
    update(&all, &src, &opts(None));
    let n = 3;
    let shards: Vec<SearchIndex> = (0..n)
        .map(|k| {
            let ix = SearchIndex::open_or_create(&dir.path().join(format!("shard-{k}"))).unwrap();
            update(&ix, &src, &opts(Some(Shard { k, n })));
            ix
        })
        .collect();
    let m = Matcher::new("needle", false, true).unwrap();
    let (want, _) = query(std::slice::from_ref(&all), &m);
    assert_eq!(want.len(), 24);
    let mut non_empty = 0;
    let mut seen = std::collections::BTreeSet::new();
    for (k, ix) in shards.iter().enumerate() {
        let (hits, _) = query(std::slice::from_ref(ix), &m);
        non_empty += usize::from(!hits.is_empty());
        for h in &hits {
            let shard = Shard { k: k as u32, n };
            assert!(shard.contains(&h.recording), "{} in shard {k}", h.recording);
            seen.insert((k, h.recording.clone()));
        }
    }
    let recordings: std::collections::BTreeSet<_> = seen.iter().map(|(_, r)| r).collect();
    assert_eq!(recordings.len(), seen.len(), "no recording in two shards");
    assert!(non_empty >= 2);
    let (union, _) = query(&shards, &m);
    assert_eq!(union, want);
    // A shard's index refuses to be updated as another shard (or unsharded).
    let e = shards[0]
        .update(&src, &opts(Some(Shard { k: 1, n })), &|_| {})
        .unwrap_err();
    assert!(matches!(e, IndexError::ShardMismatch { .. }), "{e}");
    let e = shards[0].update(&src, &opts(None), &|_| {}).unwrap_err();
    assert!(matches!(e, IndexError::ShardMismatch { .. }), "{e}");
}

#[test]
fn a_second_writer_is_refused_with_busy() {
    let dir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::open_or_create(dir.path()).unwrap();
    let other = tantivy::Index::open_in_dir(dir.path()).unwrap();
    let held: tantivy::IndexWriter = other.writer_with_num_threads(1, 50_000_000).unwrap();
    let e = ix.update(&testdata(), &opts(None), &|_| {}).unwrap_err();
    assert!(matches!(e, IndexError::Busy(_)), "{e}");
    assert!(
        e.to_string().contains("being written by another process"),
        "{e}"
    );
    // Queries need no lock.
    let m = Matcher::new("logout", false, false).unwrap();
    assert!(ix.query(&m, &mut |_| {}).is_ok());
    drop(held);
    assert!(ix.update(&testdata(), &opts(None), &|_| {}).is_ok());
}

#[test]
fn foreign_and_damaged_index_folders_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A folder with other files is never written into.
    let other = dir.path().join("notes");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("a.txt"), "hello").unwrap();
    let e = SearchIndex::open_or_create(&other).unwrap_err();
    assert!(matches!(e, IndexError::Foreign { .. }), "{e}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
    // Missing.
    let e = SearchIndex::open(&dir.path().join("none")).unwrap_err();
    assert!(matches!(e, IndexError::Missing(_)), "{e}");
    // A tantivy index of another schema.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("body", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(&foreign, b.build()).unwrap();
    let e = SearchIndex::open(&foreign).unwrap_err();
    assert!(matches!(e, IndexError::Foreign { .. }), "{e}");
    // A damaged meta.json.
    let broken = dir.path().join("broken");
    let ix = SearchIndex::open_or_create(&broken).unwrap();
    update(&ix, &testdata(), &opts(None));
    drop(ix);
    std::fs::write(broken.join("meta.json"), b"{\"segments\": [1, 2").unwrap();
    let e = SearchIndex::open(&broken).unwrap_err();
    assert!(matches!(e, IndexError::Tantivy { .. }), "{e}");
    // Damaged segment files (everything, or the first half only, leaving their footers): an
    // error (or, for bytes tantivy does not check, a result), never a panic.
    for whole in [true, false] {
        let damaged = dir.path().join(format!("damaged-{whole}"));
        let ix = SearchIndex::open_or_create(&damaged).unwrap();
        update(&ix, &testdata(), &opts(None));
        drop(ix);
        let mut garbled = 0;
        for f in std::fs::read_dir(&damaged).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".store") || name.ends_with(".term") || name.ends_with(".idx") {
                let mut b = std::fs::read(&p).unwrap();
                let end = if whole { b.len() } else { b.len() / 2 };
                for (i, x) in b[..end].iter_mut().enumerate() {
                    if i % 7 == 3 {
                        *x ^= 0x5a;
                    }
                }
                std::fs::write(&p, b).unwrap();
                garbled += 1;
            }
        }
        assert!(garbled >= 3, "{garbled} segment files garbled");
        for p in ["logout", "."] {
            let m = Matcher::new(p, true, false).unwrap();
            let r = std::panic::catch_unwind(|| {
                SearchIndex::open(&damaged).and_then(|ix| ix.query(&m, &mut |_| {}))
            });
            assert!(r.is_ok(), "a damaged index made the query panic");
            eprintln!("damaged index ({whole}, {p}): {:?}", r.unwrap().map(|_| ()));
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
