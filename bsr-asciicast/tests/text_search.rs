//! `search` over folders of generated recordings: wrapped matches, hit fields from the meta,
//! full-screen frames, the same hits in parallel, and recordings that cannot be searched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod text_support;

use bsr_asciicast::search::{Check, Found, Hit, Matcher, search};
use bsr_core::read::Recording;
use bsr_core::store::{FsStore, ReadStore};
use std::sync::{Arc, Mutex};
use text_support::*;

/// A folder of recordings: `n` shells, each with a line that wraps at 40 columns.
fn archive(n: usize) -> (tempfile::TempDir, Arc<dyn ReadStore>, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(tmp.path()));
    for i in 0..n {
        // "needle-{i}" starts at column 35 of a 40-column screen: it wraps onto the next row.
        let line = format!("{}needle-{i:03} end\r\n", "x".repeat(35));
        write_session(
            store.clone(),
            &format!("srch{i:05}"),
            Runs::Shell,
            Some((40, 5)),
            &[
                out(100, "$ "),
                out(200, &line),
                out(300, "\x1b[?1049hframe-needle-9\x1b[?1049l$ "),
            ],
        );
    }
    let dirs = Recording::find_all(&*store, "", 4).unwrap();
    (tmp, store, dirs)
}

fn run(
    store: &Arc<dyn ReadStore>,
    dirs: &[String],
    m: &Matcher,
    jobs: usize,
) -> (Vec<Hit>, Vec<String>, usize) {
    let found = Mutex::new((Vec::new(), Vec::new(), 0usize));
    search(
        store,
        dirs,
        m,
        jobs,
        &Check::Verify(Default::default()),
        &|f| {
            let mut g = found.lock().unwrap();
            match f {
                Found::Hit(h) => g.0.push(h),
                Found::Failed(fl) => g.1.push(format!("{}: {}", fl.recording, fl.reason)),
                Found::Searched { .. } => g.2 += 1,
            }
        },
    );
    let (mut hits, fails, searched) = found.into_inner().unwrap();
    hits.sort_by(|a, b| {
        (&a.recording, a.t, &a.line)
            .partial_cmp(&(&b.recording, b.t, &b.line))
            .unwrap()
    });
    (hits, fails, searched)
}

#[test]
fn finds_matches_that_wrap_with_ids_meta_and_times() {
    let (_tmp, store, dirs) = archive(3);
    let m = Matcher::new("needle-001", false, false).unwrap();
    let (hits, fails, searched) = run(&store, &dirs, &m, 1);
    assert!(fails.is_empty(), "{fails:?}");
    assert_eq!(searched, 3);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert!(h.recording.ends_with("sr_srch00001.bsr"), "{}", h.recording);
    assert_eq!(
        (h.connection.as_str(), h.channel.as_str()),
        ("cr_srch00001", "chr_srch00001")
    );
    assert_eq!(
        (h.user.as_str(), h.target.as_str()),
        ("alice", "db-bastion")
    );
    assert_eq!(h.line, format!("$ {}needle-001 end", "x".repeat(35)));
    assert!(!h.full_screen);
    // Completed by the newline at 200 ms; t counts from the output's HEAD (channel at 1 ms).
    assert_eq!(h.time, t(200).to_rfc3339());
    assert!((h.t - 0.199).abs() < 1e-9, "{}", h.t);
}

#[test]
fn regex_ignore_case_full_screen_frames_and_parallel_runs_agree() {
    let (_tmp, store, dirs) = archive(6);
    let m = Matcher::new(r"NEEDLE-\d+", true, true).unwrap();
    let (one, f1, _) = run(&store, &dirs, &m, 1);
    let (two, f2, _) = run(&store, &dirs, &m, 2);
    assert!(f1.is_empty() && f2.is_empty());
    // Each recording: its wrapped line and the full-screen frame.
    assert_eq!(one.len(), 12, "{one:?}");
    assert_eq!(one, two);
    assert_eq!(one.iter().filter(|h| h.full_screen).count(), 6);
    assert!(Matcher::new("(", true, false).is_err());
    assert!(Matcher::new("(", false, false).unwrap().is_match("a(b"));
}

#[test]
fn recordings_that_cannot_be_searched_are_reported_and_the_rest_searched() {
    let (tmp, store, dirs) = archive(3);
    // Tamper with one recording's output; remove another's channel file.
    let rec1 = tmp.path().join(&dirs[1]);
    let data = walk(&rec1)
        .into_iter()
        .find(|p| p.ends_with("messages-outbound.data"))
        .unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0x20;
    std::fs::write(&data, bytes).unwrap();
    let rec2 = tmp.path().join(&dirs[2]);
    let gone = walk(&rec2)
        .into_iter()
        .find(|p| p.ends_with("messages-inbound.data") || p.ends_with("requests-inbound.data"))
        .unwrap();
    std::fs::remove_file(gone).unwrap();
    let m = Matcher::new("needle", false, false).unwrap();
    let (hits, fails, searched) = run(&store, &dirs, &m, 2);
    assert_eq!(searched, 1);
    assert_eq!(fails.len(), 2, "{fails:?}");
    assert!(
        fails
            .iter()
            .all(|f| f.contains("refusing to show its content")),
        "{fails:?}"
    );
    assert!(
        hits.iter()
            .all(|h| h.recording.ends_with("sr_srch00000.bsr"))
    );
    assert_eq!(hits.len(), 2);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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
