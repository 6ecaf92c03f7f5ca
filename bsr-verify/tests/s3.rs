//! The object-store path against a real S3-compatible server (s3s-fs) on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bsr_core::store::{EntryKind, ReadStore};
use bsr_verify::report::Verdict;
use bsr_verify::{Trust, VerifyOptions, verify};
use sha2::Digest;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

fn testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata"))
}

fn trust() -> VerifyOptions {
    let kek =
        bsr_core::keys::AeadWrapper::from_kek_file(&testdata().join("keys/test-kek.hex")).unwrap();
    let rt = bsr_core::keys::RecorderTrust::from_file(&testdata().join("keys/test-recorder.pub"))
        .unwrap();
    VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(kek)),
            recorder: Some(Arc::new(rt)),
        },
        store_checksums: true,
        ..VerifyOptions::default()
    }
}

#[test]
fn store_lists_streams_and_reports_checksums() {
    let s3 = common::s3server::start();
    let store = s3
        .store("blobs", "pfx")
        .with_window(1024 * 1024)
        .with_max_keys(2);
    store.create_bucket().unwrap();
    let big: Vec<u8> = (0..20 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    store.put_object("a/big.bin", &big).unwrap();
    store.put_object("a/empty.bin", b"").unwrap();
    for i in 0..5 {
        store
            .put_object(&format!("a/f{i}"), format!("file {i}").as_bytes())
            .unwrap();
    }
    store.put_object("a/sub/x", b"x").unwrap();

    // Listing with pages of 2 keys.
    let l = store.list("a").unwrap();
    let names: Vec<_> = l.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&("sub", EntryKind::Dir)));
    assert_eq!(
        l.iter().find(|e| e.name == "big.bin").unwrap().size,
        big.len() as u64
    );
    assert_eq!(
        store.list("").unwrap(),
        vec![bsr_core::store::DirEntry {
            name: "a".into(),
            kind: EntryKind::Dir,
            size: 0
        }]
    );

    // Ranged streaming crosses 21 windows; read in small pieces.
    let mut r = store.open("a/big.bin").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 7777];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= buf.len());
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == big);
    assert_eq!(store.read_limited("a/empty.bin", 10).unwrap(), b"");
    assert!(matches!(
        store.read_limited("a/big.bin", 1000),
        Err(bsr_core::Error::TooLarge { .. })
    ));

    // The store's own SHA-256.
    let want: [u8; 32] = sha2::Sha256::digest(&big).into();
    assert_eq!(store.stored_sha256("a/big.bin").unwrap(), Some(want));
    s3.corrupt_object("blobs", "pfx/a/f1", b"tampered");
    let stored = store.stored_sha256("a/f1").unwrap().unwrap();
    let now: [u8; 32] = sha2::Sha256::digest(store.read_limited("a/f1", 100).unwrap()).into();
    assert_ne!(stored, now);

    // Not found.
    match store.size("a/nope") {
        Err(bsr_core::Error::Io { source, path }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert!(path.starts_with("s3://blobs/pfx/a/nope"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn recordings_verify_through_s3_and_tampering_is_caught() {
    let s3 = common::s3server::start();
    let store = s3.store("rec", "archive/2026");
    store.create_bucket().unwrap();
    let n = store
        .upload_dir(&testdata().join("recordings"), "")
        .unwrap();
    assert!(n > 80);
    let dirs = bsr_core::read::Recording::find_all(&store, "", 4).unwrap();
    assert_eq!(dirs.len(), 4);
    for d in &dirs {
        let r = verify(&store, d, &trust());
        assert_eq!(r.verdict, Verdict::Authentic, "{d}: {:#?}", r.problems);
        assert!(r.location.starts_with("s3://rec/archive/2026/"));
        // Every file's stored checksum was compared.
        assert!(
            r.containers
                .iter()
                .flat_map(|c| &c.files)
                .all(|f| f.store_checksum_ok == Some(true))
        );
    }

    // Tamper with an object behind the store's back: both our SHA256SUM and S3's checksum see it.
    let victim =
        "sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel/messages-outbound.data";
    let mut data = std::fs::read(testdata().join("recordings").join(victim)).unwrap();
    let last = data.len() - 40;
    data[last] ^= 0x20;
    s3.corrupt_object("rec", &format!("archive/2026/{victim}"), &data);
    let r = verify(&store, "sr_exec000001.bsr", &trust());
    assert_eq!(r.verdict, Verdict::Invalid);
    let codes: Vec<_> = r.problems.iter().map(|p| p.code).collect();
    assert!(codes.contains(&"store-checksum-mismatch"), "{codes:?}");
    assert!(codes.contains(&"checksum-mismatch"), "{codes:?}");

    // A deleted object.
    store
        .delete_object("sr_shell00001.bsr/SHA256SUM.sig")
        .unwrap();
    assert_eq!(
        verify(&store, "sr_shell00001.bsr", &trust()).verdict,
        Verdict::Incomplete
    );

    // And through the binary, with credentials from the AWS environment variables.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .args([
            "--kek",
            testdata().join("keys/test-kek.hex").to_str().unwrap(),
            "s3://rec/archive/2026/sr_multi00001.bsr",
        ])
        .envs(s3.env())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("s3://rec/archive/2026/sr_multi00001.bsr: intact and authentic")
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .args(["-j", "2", "s3://rec/archive"])
        .envs(s3.env())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Messages (issue 14): a missing bucket read "NoSuchBucket for :" and transport errors said
/// their cause twice. Every S3 error names the object as `s3://bucket/key` and says its cause
/// once.
#[test]
fn s3_errors_name_the_bucket_and_say_the_cause_once() {
    let s3 = common::s3server::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .arg("s3://no-such-bucket/")
        .envs(s3.env())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("s3://no-such-bucket/"), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
    assert!(!err.contains("for :"), "{err}");
    assert_eq!(err.matches("NoSuchBucket").count(), 1, "{err}");
    // Nothing listening: a transport error, said once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut env = s3.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .arg("s3://rec/archive")
        .envs(env)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("s3://rec/archive"), "{err}");
    assert!(err.matches("transport error").count() == 1, "{err}");
    assert!(
        err.to_lowercase().matches("connection refused").count() <= 1,
        "{err}"
    );
}
