//! `--shard K/N` and `bsr-verify merge` (issue 18): N=3 worker processes over a folder of
//! generated recordings (two of them tampered) and over the in-process S3 server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use serde_json::Value;
use sha2::Digest;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const N: u32 = 3;

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
}

fn kek() -> String {
    testdata().join("keys/test-kek.hex").display().to_string()
}

/// The documented rule, written out again independently of the library: SHA-256 of the folder
/// name without `.bsr`, first 8 bytes big-endian, modulo N.
fn expected_shard(entry: &str, n: u32) -> u32 {
    let name = entry.rsplit('/').next().unwrap();
    let id = name.strip_suffix(".bsr").unwrap();
    let h = sha2::Sha256::digest(id.as_bytes());
    (u64::from_be_bytes(h[..8].try_into().unwrap()) % u64::from(n)) as u32
}

/// 15 recordings in nested folders; two are tampered (their session meta edited).
fn archive() -> (tempfile::TempDir, Vec<String>) {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(bsr_core::store::FsStore::new(d.path()));
    let mut all = Vec::new();
    for i in 0..15 {
        let parent = format!("2026/{:02}", 1 + i % 3);
        std::fs::create_dir_all(d.path().join(&parent)).unwrap();
        let rec = format!("sr_shard{i:05}");
        generate::exec_session(store.clone(), &parent, &rec).unwrap();
        all.push(format!("{parent}/{rec}.bsr"));
    }
    for victim in [&all[4], &all[11]] {
        let p = d.path().join(victim).join("session-meta.json");
        let m = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, m.replace("alice", "mallory")).unwrap();
    }
    all.sort();
    (d, all)
}

/// Runs the N shards as N concurrent processes; returns each one's output.
fn run_shards(target: &str, extra: &[&str], env: &[(&'static str, String)]) -> Vec<Output> {
    let children: Vec<_> = (0..N)
        .map(|k| {
            bin()
                .args(["verify", "--json", "-j", "1", "--kek", &kek()])
                .args(extra)
                .arg("--shard")
                .arg(format!("{k}/{N}"))
                .arg(target)
                .envs(env.iter().cloned())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_reports(dir: &Path, outs: &[Output]) -> Vec<PathBuf> {
    outs.iter()
        .enumerate()
        .map(|(k, o)| {
            let p = dir.join(format!("shard-{k}.jsonl"));
            std::fs::write(&p, &o.stdout).unwrap();
            p
        })
        .collect()
}

fn merge(reports: &[PathBuf]) -> (Option<i32>, String, String) {
    let o = bin().arg("merge").args(reports).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn single_run(target: &str, env: &[(&'static str, String)]) -> (Option<i32>, Value) {
    let o = bin()
        .args(["verify", "--json", "-j", "1", "--kek", &kek(), target])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    (o.status.code(), lines(&o).pop().unwrap())
}

/// Checks that the shards are disjoint, cover `all`, follow the documented rule, and that
/// their merge is the single run's summary.
fn check_shards(outs: &[Output], all: &[String], single: &(Option<i32>, Value), work: &Path) {
    let mut seen = BTreeSet::new();
    for (k, o) in outs.iter().enumerate() {
        let ls = lines(o);
        let (summary, reports) = ls.split_last().unwrap();
        assert_eq!(summary["shard"]["k"], k as u64);
        assert_eq!(summary["shard"]["n"], u64::from(N));
        assert_eq!(summary["listing"]["count"], all.len() as u64);
        assert_eq!(summary["recordings"], reports.len() as u64);
        for r in reports {
            let rec = r["recording"].as_str().unwrap().to_string();
            assert_eq!(expected_shard(&rec, N), k as u32, "{rec} in shard {k}");
            assert!(seen.insert(rec.clone()), "{rec} covered twice");
        }
        let invalid = reports.iter().filter(|r| r["verdict"] == "invalid").count();
        assert_eq!(o.status.code(), Some(if invalid > 0 { 1 } else { 0 }));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        all,
        "union = the archive"
    );
    // Every shard got something (so the test exercises a real split).
    assert!(outs.iter().all(|o| lines(o).len() > 1));

    let reports = write_reports(work, outs);
    let (code, out, err) = merge(&reports);
    assert_eq!(code, single.0, "{err}");
    let merged: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(merged, single.1, "merge = the single run");
    assert_eq!(merged["verdicts"]["invalid"], 2);
    assert_eq!(merged["verdicts"]["authentic"], 13);
}

#[test]
fn local_shards_cover_the_archive_once_and_merge_to_the_single_run() {
    let (d, all) = archive();
    let target = d.path().display().to_string();
    let single = single_run(&target, &[]);
    assert_eq!(single.0, Some(1));
    let outs = run_shards(&target, &[], &[]);
    let work = tempfile::tempdir().unwrap();
    check_shards(&outs, &all, &single, work.path());

    // facts and events follow the same split.
    let mut ids = Vec::new();
    for k in 0..N {
        let o = bin()
            .args([
                "facts",
                "--no-verify",
                "--shard",
                &format!("{k}/{N}"),
                &target,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        for l in lines(&o) {
            let id = l["recording_id"].as_str().unwrap().to_string();
            assert_eq!(expected_shard(&format!("{id}.bsr"), N), k);
            ids.push(id);
        }
        let ev = bin()
            .args([
                "events",
                "--no-verify",
                "--shard",
                &format!("{k}/{N}"),
                &target,
            ])
            .output()
            .unwrap();
        assert_eq!(ev.status.code(), Some(0));
        for l in lines(&ev) {
            let id = l["recording_id"].as_str().unwrap();
            assert_eq!(expected_shard(&format!("{id}.bsr"), N), k);
        }
    }
    ids.sort();
    let want: Vec<String> = all
        .iter()
        .map(|e| {
            let n = e.rsplit('/').next().unwrap();
            n.strip_suffix(".bsr").unwrap().to_string()
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(ids, want);
}

#[test]
fn s3_shards_match_the_local_single_run() {
    let (d, all) = archive();
    let s3 = common::s3server::start();
    let store = s3.store("audit", "archive");
    store.create_bucket().unwrap();
    store.upload_dir(d.path(), "").unwrap();
    let env = s3.env();
    let outs = run_shards("s3://audit/archive", &[], &env);
    // The same recordings by id in a folder and under a prefix: the same shards, the same
    // listing digest, so the S3 shards merge to the local single run's summary.
    let single_local = single_run(&d.path().display().to_string(), &[]);
    let work = tempfile::tempdir().unwrap();
    check_shards(&outs, &all, &single_local, work.path());
    let single_s3 = single_run("s3://audit/archive", &env);
    assert_eq!(single_s3, single_local);
}

fn edit_line(p: &Path, f: impl Fn(Vec<String>) -> Vec<String>) {
    let t = std::fs::read_to_string(p).unwrap();
    let ls: Vec<String> = t.lines().map(str::to_string).collect();
    let mut out = f(ls).join("\n");
    out.push('\n');
    std::fs::write(p, out).unwrap();
}

#[test]
fn merge_refuses_missing_duplicated_inconsistent_and_tampered_shards() {
    let (d, _all) = archive();
    let target = d.path().display().to_string();
    let outs = run_shards(&target, &[], &[]);
    let work = tempfile::tempdir().unwrap();
    let r = write_reports(work.path(), &outs);
    let (code, _, err) = merge(&r);
    assert_eq!(code, Some(1), "{err}");

    let refused = |reports: &[PathBuf], want: &str| {
        let (code, out, err) = merge(reports);
        assert_eq!(code, Some(2), "accepted: {out}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(want), "{want:?} not in {err}");
    };
    refused(&r[..2], "shard(s) missing: 2/3");
    refused(
        &[r[0].clone(), r[1].clone(), r[2].clone(), r[1].clone()],
        "shard 1/3 appears twice",
    );

    // A shard run with other options (no KEK), or over another listing.
    let other = work.path().join("other-options.jsonl");
    let o = bin()
        .args(["verify", "--json", "-j", "1", "--shard", "2/3", &target])
        .output()
        .unwrap();
    std::fs::write(&other, &o.stdout).unwrap();
    refused(
        &[r[0].clone(), r[1].clone(), other],
        "ran with other options",
    );
    let store = Arc::new(bsr_core::store::FsStore::new(d.path()));
    generate::exec_session(store, "2026/01", "sr_latecomer").unwrap();
    let later = work.path().join("later.jsonl");
    let o = bin()
        .args([
            "verify",
            "--json",
            "-j",
            "1",
            "--kek",
            &kek(),
            "--shard",
            "2/3",
            &target,
        ])
        .output()
        .unwrap();
    std::fs::write(&later, &o.stdout).unwrap();
    refused(&[r[0].clone(), r[1].clone(), later], "saw another listing");

    // Tampered reports. Find a shard with an invalid recording to "clean".
    let dirty = (0..N as usize)
        .find(|&k| {
            std::fs::read_to_string(&r[k])
                .unwrap()
                .contains(r#""verdict":"invalid""#)
        })
        .unwrap();
    let copy = |name: &str| {
        let p = work.path().join(name);
        std::fs::copy(&r[dirty], &p).unwrap();
        let mut set = r.clone();
        set[dirty] = p.clone();
        (p, set)
    };
    // (a) a verdict changed in its line only.
    let (p, set) = copy("a.jsonl");
    edit_line(&p, |ls| {
        ls.into_iter()
            .map(|l| {
                if l.contains(r#""verdict":"invalid""#) {
                    l.replacen(r#""verdict":"invalid""#, r#""verdict":"authentic""#, 1)
                        .replacen(r#""exit_code":1"#, r#""exit_code":0"#, 1)
                } else {
                    l
                }
            })
            .collect()
    });
    refused(&set, "chain over the report lines does not match");
    // (b) the same, with the summary's counts made to agree: the chain still refuses it.
    edit_line(&p, |mut ls| {
        let mut s: Value = serde_json::from_str(ls.last().unwrap()).unwrap();
        let inv = s["verdicts"]["invalid"].as_u64().unwrap();
        let auth = s["verdicts"]["authentic"].as_u64().unwrap_or(0);
        s["verdicts"].as_object_mut().unwrap().remove("invalid");
        s["verdicts"]["authentic"] = (auth + inv).into();
        s["exit_code"] = 0.into();
        *ls.last_mut().unwrap() = s.to_string();
        ls
    });
    refused(&set, "chain over the report lines does not match");
    // (c) a report line dropped.
    let (p, set) = copy("c.jsonl");
    edit_line(&p, |mut ls| {
        ls.remove(0);
        ls
    });
    refused(&set, "chain over the report lines does not match");
    // (d) the counts edited, lines left alone.
    let (p, set) = copy("d.jsonl");
    edit_line(&p, |mut ls| {
        let mut s: Value = serde_json::from_str(ls.last().unwrap()).unwrap();
        s["verdicts"]["invalid"] = 0.into();
        *ls.last_mut().unwrap() = s.to_string();
        ls
    });
    refused(&set, "counts do not add up");
    // (e) truncated: no summary line.
    let (p, set) = copy("e.jsonl");
    edit_line(&p, |mut ls| {
        ls.pop();
        ls
    });
    refused(&set, "summary");
    // (f) options edited to look like another run's without their fingerprint.
    let (p, set) = copy("f.jsonl");
    edit_line(&p, |mut ls| {
        let mut s: Value = serde_json::from_str(ls.last().unwrap()).unwrap();
        s["options"]["store_checksums"] = false.into();
        *ls.last_mut().unwrap() = s.to_string();
        ls
    });
    refused(&set, "do not match their fingerprint");
    // (g) a recording moved into another shard's report, chain recomputed as a forger would:
    // refused, it does not hash to that shard (and would be covered twice).
    let victim_k = (dirty + 1) % N as usize;
    let moved = std::fs::read_to_string(&r[dirty])
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let p = work.path().join("g.jsonl");
    std::fs::copy(&r[victim_k], &p).unwrap();
    edit_line(&p, |mut ls| {
        let mut s: Value = serde_json::from_str(&ls.pop().unwrap()).unwrap();
        ls.insert(0, moved.clone());
        let shard = bsr_verify::shard::Shard {
            k: victim_k as u32,
            n: N,
        };
        let mut c =
            bsr_verify::shard::Chain::start(shard, s["options"]["fingerprint"].as_str().unwrap());
        for l in &ls {
            c.push(l.as_bytes());
        }
        s["shard"]["chain"] = c.seal(s["listing"]["digest"].as_str().unwrap()).into();
        ls.push(s.to_string());
        ls
    });
    let mut set = r.clone();
    set[victim_k] = p;
    refused(&set, "does not belong to shard");

    // A plain (unsharded) report is not a shard report.
    let plain = work.path().join("plain.jsonl");
    let o = bin()
        .args(["verify", "--json", "-j", "1", "--kek", &kek(), &target])
        .output()
        .unwrap();
    std::fs::write(&plain, &o.stdout).unwrap();
    refused(&[plain], "not a --shard run");
}
