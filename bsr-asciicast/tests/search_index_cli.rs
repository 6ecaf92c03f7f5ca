//! `search --index` and `index` on the command line: the same output and exit codes as the
//! scan, incremental runs, shard indexes queried together, and the errors a user can meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn sorted_lines(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const DATA: &str = "testdata/recordings";

#[test]
fn indexed_search_prints_what_the_scan_prints() {
    let d = tempfile::tempdir().unwrap();
    let ix = d.path().join("ix");
    let ix = ix.to_str().unwrap();
    let first = run(&["search", "--index", ix, "wörld", DATA]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("4 indexed (0 replaced), 0 unchanged"),
        "{}",
        stderr(&first)
    );
    let cases: &[&[&str]] = &[
        &["wörld"],
        &["-i", "LOGOUT"],
        &["--regex", r"h\wllo"],
        &["-i", "e"],
        &["--json", "-i", "--regex", "^DEMO@.*exit$"],
        &["no such text anywhere"],
    ];
    for args in cases {
        let mut scan = vec!["search"];
        scan.extend_from_slice(args);
        scan.push(DATA);
        let want = run(&scan);
        let mut with_ix = vec!["search", "--index", ix];
        with_ix.extend_from_slice(args);
        // Queried alone, and updated from the targets first (nothing to do then).
        let alone = run(&with_ix);
        with_ix.push(DATA);
        let updated = run(&with_ix);
        for got in [&alone, &updated] {
            assert_eq!(
                got.status.code(),
                want.status.code(),
                "{args:?}: {}",
                stderr(got)
            );
            assert_eq!(sorted_lines(got), sorted_lines(&want), "{args:?}");
        }
        assert!(
            stderr(&updated)
                .contains("0 indexed (0 replaced), 4 unchanged, 0 not indexed, 0 removed"),
            "{}",
            stderr(&updated)
        );
    }
}

#[test]
fn shard_indexes_built_apart_are_queried_together() {
    let d = tempfile::tempdir().unwrap();
    let mut ixs = Vec::new();
    let mut indexed = 0;
    let mut full = None;
    for k in 0..3 {
        let ix = d.path().join(format!("ix-{k}"));
        let o = run(&[
            "index",
            "--json",
            "--shard",
            &format!("{k}/3"),
            ix.to_str().unwrap(),
            DATA,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let last = String::from_utf8(o.stdout.clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        let n = v["summary"]["indexed"].as_u64().unwrap();
        indexed += n;
        if n > 0 {
            full = Some(k);
        }
        ixs.push(ix);
    }
    assert_eq!(indexed, 4, "each recording in exactly one shard index");
    let mut args = vec!["search".to_string(), "-i".into(), "e".into()];
    for ix in &ixs {
        args.push("--index".into());
        args.push(ix.to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let together = run(&args);
    let scan = run(&["search", "-i", "e", DATA]);
    assert_eq!(together.status.code(), Some(0), "{}", stderr(&together));
    assert_eq!(sorted_lines(&together), sorted_lines(&scan));
    assert!(sorted_lines(&scan).len() >= 4);
    // A shard index is not updated as another shard; several indexes are not updated at once.
    let k = full.unwrap();
    let other = format!("{}/3", (k + 1) % 3);
    let o = run(&["index", "--shard", &other, ixs[k].to_str().unwrap(), DATA]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "holds shard {k}/3; refusing to update it as shard {other}"
        )),
        "{}",
        stderr(&o)
    );
    let mut with_targets = args.clone();
    with_targets.push(DATA);
    let o = run(&with_targets);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give one --index"), "{}", stderr(&o));
}

#[test]
fn refusals_unverified_busy_tampered_and_not_an_index() {
    let d = tempfile::tempdir().unwrap();
    let ix = d.path().join("ix");
    let ixs = ix.to_str().unwrap();
    let o = run(&["search", "--index", ixs, "--unverified", "x", DATA]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("verified content only"),
        "{}",
        stderr(&o)
    );
    // A tampered recording is reported as the scan reports it, and the rest is indexed.
    let copy = d.path().join("recs");
    std::fs::create_dir(&copy).unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(root().join(DATA).join("sr_shell00001.bsr"))
        .arg(root().join(DATA).join("sr_gzip000001.bsr"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    let data = copy.join(
        "sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data",
    );
    let mut b = std::fs::read(&data).unwrap();
    let n = b.len();
    b[n - 40] ^= 1;
    std::fs::write(&data, b).unwrap();
    let o = run(&["search", "--index", ixs, "héllo", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("sr_shell00001.bsr: could not be searched"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("1 indexed (0 replaced), 0 unchanged, 1 not indexed"));
    assert_eq!(sorted_lines(&o).len(), 2, "the other recording's hits");
    assert!(
        sorted_lines(&o)
            .iter()
            .all(|l| l.contains("sr_gzip000001.bsr"))
    );
    // Busy: another writer holds the lock.
    let held_ix = tantivy::Index::open_in_dir(&ix).unwrap();
    let held: tantivy::IndexWriter = held_ix.writer_with_num_threads(1, 50_000_000).unwrap();
    let o = run(&["index", ixs, DATA]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("being written by another process"),
        "{}",
        stderr(&o)
    );
    // A query needs no lock.
    let o = run(&["search", "--index", ixs, "wörld"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    drop(held);
    // Not an index: never written into.
    let o = run(&["index", copy.to_str().unwrap(), DATA]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a bsr-asciicast search index"),
        "{}",
        stderr(&o)
    );
}
