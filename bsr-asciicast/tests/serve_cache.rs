//! The server's disk cache (`--cache-dir`, docs/SERVE.md "The cache on disk"): keyframe
//! checkpoints and rows survive a restart, follow a recording that changes, and a damaged
//! entry is never used.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_support;

use bsr_asciicast::convert::select_channel;
use bsr_asciicast::serve::keyframe::{checkpoints, write_from};
use bsr_asciicast::serve::{CacheOptions, Catalog, ServeOptions};
use bsr_core::read::Recording;
use serve_support::*;
use std::path::Path;

fn catalog(archive: &Path, cache: &Path) -> Catalog {
    catalog_with(archive, cache, trusted(), 7)
}

fn pinned(c: &Catalog, archive: &Path, id: &str) -> (usize, bsr_asciicast::convert::ChannelFiles) {
    let i = c.find(id).unwrap();
    let rec = Recording::open_path(&archive.join(format!("{id}.bsr"))).unwrap();
    let mut files = select_channel(&rec, None, None).unwrap();
    c.verification(i).unwrap().pin(&mut files).unwrap();
    (i, files)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn checkpoints_built_once_are_there_after_a_restart() {
    let a = archive();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("c");
    let first = catalog(a.path(), &dir);
    let (i, files) = pinned(&first, a.path(), "sr_shell00001");
    // The background pass builds them into the disk cache, once.
    assert_eq!(first.prepare_checkpoints(i), 1);
    assert_eq!(first.prepare_checkpoints(i), 0, "already there");
    let stored = files_under(&dir.join("checkpoints"));
    assert_eq!(stored.len(), 1, "{stored:?}");

    // A new server (a restart) has them at its first request, equal to a fresh build.
    let second = catalog(a.path(), &dir);
    let (i2, files2) = pinned(&second, a.path(), "sr_shell00001");
    let got = second
        .checkpoints(i2, &files2)
        .expect("checkpoints from the disk cache at the first request");
    assert_eq!(*got, checkpoints(&files, 1).unwrap());
    assert!(got.0.len() >= 3, "{} checkpoints", got.0.len());
    for at in [0.5, 1.1, 1.6, 2.2, 99.0] {
        let (mut plain, mut fast) = (Vec::new(), Vec::new());
        write_from(&files2, at, None, &mut plain).unwrap();
        let k = write_from(&files2, at, Some(&got), &mut fast).unwrap();
        assert_eq!(fast, plain, "at {at}");
        if at > 1.0 {
            assert!(k.folded > 0);
        }
    }

    // A damaged entry is not used (and is deleted); the first request then starts a build.
    let mut b = std::fs::read(&stored[0]).unwrap();
    let n = b.len();
    b[n - 2] ^= 0x01;
    std::fs::write(&stored[0], &b).unwrap();
    let third = catalog(a.path(), &dir);
    let (i3, files3) = pinned(&third, a.path(), "sr_shell00001");
    assert!(
        third.checkpoints(i3, &files3).is_none(),
        "damaged entry used"
    );
    assert!(!stored[0].exists(), "damaged entry kept");
}

#[test]
fn a_changed_recording_does_not_get_the_old_checkpoints() {
    let a = archive();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("c");
    let first = catalog(a.path(), &dir);
    let (i, _) = pinned(&first, a.path(), "sr_gzip000001");
    assert_eq!(first.prepare_checkpoints(i), 1);
    // The same bytes, another modification time: another state, so another key.
    let meta = a.path().join("sr_gzip000001.bsr/session-recording.meta");
    let f = std::fs::File::options().write(true).open(&meta).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1))
        .unwrap();
    drop(f);
    let second = catalog(a.path(), &dir);
    let (i2, files2) = pinned(&second, a.path(), "sr_gzip000001");
    assert!(second.checkpoints(i2, &files2).is_none());
}

#[test]
fn a_refused_recording_gets_no_checkpoints() {
    let a = archive();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("c");
    let c = catalog(a.path(), &dir);
    let i = c.find("sr_shell00001~2").unwrap();
    assert_eq!(c.prepare_checkpoints(i), 0);
    assert!(files_under(&dir.join("checkpoints")).is_empty());
}

fn catalog_with(
    archive: &Path,
    cache: &Path,
    gate: bsr_asciicast::verified::GateOptions,
    anchors: u8,
) -> Catalog {
    Catalog::open(&ServeOptions {
        targets: vec![archive.display().to_string()],
        gate,
        cache: Some(CacheOptions {
            dir: cache.to_path_buf(),
            anchors: [anchors; 32],
        }),
        // A checkpoint after every output event, so the small recordings have many.
        checkpoint_bytes: Some(1),
        ..ServeOptions::default()
    })
    .unwrap()
}

#[test]
fn rows_are_kept_on_disk_under_their_trust_anchors() {
    let a = archive();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("c");
    let first = catalog_with(a.path(), &dir, trusted(), 1);
    let n = first.len();
    assert_eq!(n, 5);
    let rows: Vec<String> = (0..n)
        .map(|i| serde_json::to_string(&*first.row(i).unwrap()).unwrap())
        .collect();
    assert_eq!(files_under(&dir.join("rows")).len(), n);
    let shell = first.find("sr_shell00001").unwrap();
    assert!(rows[shell].contains("\"verdict\":\"authentic\""));

    // A restart with the same anchors: the rows come from the disk, not from verifying again
    // (this server has no trust anchors at all, yet the row still says `authentic`: the
    // anchors' name is what keys a row, so a server must name its real anchors).
    let second = catalog_with(a.path(), &dir, Default::default(), 1);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(&serde_json::to_string(&*second.row(i).unwrap()).unwrap(), r);
    }
    // The summaries the filters use follow the rows.
    let s = second.summary(shell).unwrap();
    assert_eq!(&*s.verdict, "authentic");
    assert!(s.user.as_ref().is_some_and(|u| u.name.is_some()) && s.start_ns.is_some());

    // The verification (the digests replays pin files to) comes from the disk too.
    let v = second.verification(shell).unwrap();
    assert_eq!(v.verdict, Some(bsr_verify::report::Verdict::Authentic));
    let (_, mut files) = pinned(&second, a.path(), "sr_shell00001");
    let mut cast = Vec::new();
    bsr_asciicast::serve::keyframe::write_from(&files, 0.0, None, &mut cast).unwrap();

    // A rewrite that keeps size and modification time leaves the key as it was, so the row
    // and the verification are still taken from the disk; the content read is still checked
    // against the verified digests, so the read fails.
    let p = a.path().join(
        "sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data",
    );
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    let mut b = std::fs::read(&p).unwrap();
    let at = b.len() - 40;
    b[at] ^= 0x20;
    std::fs::write(&p, &b).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let restarted = catalog_with(a.path(), &dir, trusted(), 1);
    assert!(restarted.row(shell).unwrap().shown);
    let v = restarted.verification(shell).unwrap();
    v.pin(&mut files).unwrap();
    let read = bsr_asciicast::serve::keyframe::write_from(&files, 0.0, None, std::io::sink());
    assert!(read.is_err(), "a rewritten file was read as verified");
    b[at] ^= 0x20;
    std::fs::write(&p, &b).unwrap();

    // Other anchors: other keys, so the recording is verified again under them.
    let third = catalog_with(a.path(), &dir, Default::default(), 2);
    let r = third.row(shell).unwrap();
    assert_eq!(r.verdict, "unauthenticated");

    // A changed recording is verified again: one byte of its output flipped (same size,
    // new modification time) is refused, whatever the disk holds.
    let p = a.path().join(
        "sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data",
    );
    let mut b = std::fs::read(&p).unwrap();
    let at = b.len() - 40;
    b[at] ^= 0x20;
    std::fs::write(&p, &b).unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let fourth = catalog_with(a.path(), &dir, trusted(), 1);
    let r = fourth.row(shell).unwrap();
    assert!(!r.shown, "{}", r.verdict);
    assert!(r.facts.is_none());
}

#[test]
fn the_server_refuses_a_cache_folder_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let open = d.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(&open)
        .arg(root().join("testdata/recordings"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("others can write"), "{err}");
}
