//! An independent, file-by-file check of the committed recordings against the spec
//! (`../shared/bsr-spec.md`), written from the spec with raw crates (crc32fast, sha2,
//! ed25519-dalek, aes-gcm, hkdf, blake2, hmac) and a hand-written protobuf walker. Nothing of
//! bsr-core is used here, so a bug shared by our writer and our reader cannot hide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes_gcm::aead::{Aead, KeyInit};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn recordings() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/recordings"
    ))
}

fn kek() -> [u8; 32] {
    let hex_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/keys/test-kek.hex"
    ))
    .unwrap();
    hex::decode(hex_text.trim()).unwrap().try_into().unwrap()
}

/// Minimal protobuf walker: field number → list of (wire type, value bytes or varint).
#[derive(Debug, Clone)]
enum Val {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let x = b[*i];
        *i += 1;
        v |= ((x & 0x7f) as u64) << shift;
        if x & 0x80 == 0 {
            return v;
        }
        shift += 7;
        assert!(shift < 64, "varint too long");
    }
}

fn pb(b: &[u8]) -> BTreeMap<u64, Vec<Val>> {
    let mut m: BTreeMap<u64, Vec<Val>> = BTreeMap::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i);
        let (field, wt) = (key >> 3, key & 7);
        let v = match wt {
            0 => Val::Varint(varint(b, &mut i)),
            2 => {
                let n = varint(b, &mut i) as usize;
                let v = b[i..i + n].to_vec();
                i += n;
                Val::Bytes(v)
            }
            _ => panic!("unexpected wire type {wt}"),
        };
        m.entry(field).or_default().push(v);
    }
    m
}

fn bytes(m: &BTreeMap<u64, Vec<Val>>, f: u64) -> Vec<u8> {
    match m.get(&f).and_then(|v| v.last()) {
        Some(Val::Bytes(b)) => b.clone(),
        other => panic!("field {f}: {other:?}"),
    }
}

fn uint(m: &BTreeMap<u64, Vec<Val>>, f: u64) -> u64 {
    match m.get(&f).and_then(|v| v.last()) {
        Some(Val::Varint(x)) => *x,
        None => 0,
        other => panic!("field {f}: {other:?}"),
    }
}

/// Checks a `.data` file per spec §2: magic, chunk layout, CRC over bytes 4..25+len, HEAD
/// first with compression/encryption/session id, DONE last and empty, nothing after it.
fn check_data_file(path: &Path, session_id: &[u8]) -> (u64, u64) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89BSR\r\n\x1a\n", "{}: magic", path.display());
    let mut i = 8;
    let mut n = 0u64;
    let mut data = 0u64;
    let mut gzip = false;
    let mut done = false;
    while i < b.len() {
        assert!(!done, "{}: bytes after DONE", path.display());
        let len = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        assert!(len <= 6_400_000);
        let proto = &b[i + 4..i + 8];
        let ty = &b[i + 8..i + 12];
        let dir = b[i + 12];
        let nanos = u32::from_be_bytes(b[i + 21..i + 25].try_into().unwrap());
        let payload = &b[i + 25..i + 25 + len];
        let crc = u32::from_be_bytes(b[i + 25 + len..i + 29 + len].try_into().unwrap());
        assert_eq!(
            crc32fast::hash(&b[i + 4..i + 25 + len]),
            crc,
            "{}: CRC of chunk {n}",
            path.display()
        );
        assert_eq!(proto, b"BSSH");
        assert!(dir == 1 || dir == 2);
        assert!(nanos <= 999_999_999);
        if n == 0 {
            assert_eq!(ty, b"HEAD", "{}: first chunk", path.display());
            assert!(payload[0] <= 1 && payload[1] == 0);
            gzip = payload[0] == 1;
            assert_eq!(
                &payload[2..],
                session_id,
                "{}: HEAD session id",
                path.display()
            );
        } else if ty == b"DONE" {
            assert_eq!(len, 0);
            done = true;
        } else {
            let raw = if gzip {
                assert_eq!(&payload[..2], b"\x1f\x8b", "gzip member");
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(payload), &mut out)
                    .unwrap();
                out
            } else {
                payload.to_vec()
            };
            if ty == b"DATA" {
                data += raw.len() as u64;
            } else {
                // proto3: field 1 is request_type, a string.
                let m = pb(&raw);
                assert!(!bytes(&m, 1).is_empty(), "{}: request_type", path.display());
            }
        }
        i += 29 + len;
        n += 1;
    }
    assert!(done, "{}: no DONE", path.display());
    (n, data)
}

/// Checks `SHA256SUM` lines (sha256sum text format) against the files, that every other file
/// is listed, and the Ed25519 signature in `SHA256SUM.sig` (a SigInfo).
fn check_container(dir: &Path, pubkey: &ed25519_dalek::VerifyingKey, key_id: &str) -> Vec<String> {
    let sums = std::fs::read(dir.join("SHA256SUM")).unwrap();
    let text = std::str::from_utf8(&sums).unwrap();
    assert!(text.ends_with('\n'));
    let mut listed = Vec::new();
    for line in text.lines() {
        let (hexd, name) = line.split_once("  ").unwrap();
        assert_eq!(hexd.len(), 64);
        assert_eq!(hexd, hexd.to_lowercase());
        let digest = sha2::Sha256::digest(std::fs::read(dir.join(name)).unwrap());
        assert_eq!(hex::encode(digest), hexd, "{}/{name}", dir.display());
        listed.push(name.to_string());
    }
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SHA256SUM" && n != "SHA256SUM.sig")
        .collect();
    present.sort();
    let mut l = listed.clone();
    l.sort();
    assert_eq!(present, l, "{}: every file listed", dir.display());
    // SigInfo: key_info = 10, signature = 20.
    let sig = pb(&std::fs::read(dir.join("SHA256SUM.sig")).unwrap());
    let ki = pb(&bytes(&sig, 10));
    assert_eq!(String::from_utf8(bytes(&ki, 3)).unwrap(), key_id);
    assert_eq!(uint(&ki, 7), 9, "key_type Ed25519");
    let s = ed25519_dalek::Signature::from_slice(&bytes(&sig, 20)).unwrap();
    pubkey.verify_strict(&sums, &s).unwrap();
    listed
}

fn unwrap_blob(key_info_file: &[u8], kek: &[u8; 32]) -> Vec<u8> {
    let ki = pb(key_info_file);
    let blob = pb(&bytes(&ki, 5)); // wrapped_key holds a BlobInfo
    let ct = bytes(&blob, 1);
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(kek).unwrap();
    cipher
        .decrypt(aes_gcm::Nonce::from_slice(&ct[..12]), &ct[12..])
        .unwrap()
}

#[test]
fn recordings_follow_the_spec() {
    let kek = kek();
    let mut checked = 0;
    for e in std::fs::read_dir(recordings()).unwrap() {
        let dir = e.unwrap().path();
        assert!(dir.extension().unwrap() == "bsr");
        // Keys (spec §4).
        let public = pb(&std::fs::read(dir.join("bsrKey.pub")).unwrap());
        assert_eq!(uint(&public, 7), 9);
        assert_eq!(uint(&public, 10), 3);
        let key_id = String::from_utf8(bytes(&public, 3)).unwrap();
        let pk: [u8; 32] = bytes(&public, 9).try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        // Self-signature over the 32 raw public-key bytes.
        let ss = pb(&std::fs::read(dir.join("pubKeySelfSignature.sign")).unwrap());
        assert_eq!(
            String::from_utf8(bytes(&pb(&bytes(&ss, 10)), 3)).unwrap(),
            key_id
        );
        vk.verify_strict(
            &pk,
            &ed25519_dalek::Signature::from_slice(&bytes(&ss, 20)).unwrap(),
        )
        .unwrap();
        // BSR key unwrapped with the KEK, and the HMAC binding (HKDF → BLAKE2b-256 → HMAC).
        let bsr_key = unwrap_blob(&std::fs::read(dir.join("wrappedBsrKey")).unwrap(), &kek);
        assert_eq!(bsr_key.len(), 32);
        let mut okm = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &bsr_key)
            .expand(&[], &mut okm)
            .unwrap();
        let hk = <blake2::Blake2b<blake2::digest::consts::U32> as Digest>::digest(okm);
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&hk).unwrap();
        hmac::Mac::update(&mut mac, &pk);
        let tag = hmac::Mac::finalize(mac).into_bytes();
        let bs = pb(&std::fs::read(dir.join("pubKeyBsrSignature.sign")).unwrap());
        assert_eq!(
            bytes(&bs, 20),
            tag.to_vec(),
            "{}: HMAC binding",
            dir.display()
        );
        assert_eq!(uint(&bs, 30), 2, "hmac_type Sha256");
        // Private key: 64 bytes seed ‖ public.
        let priv_key = unwrap_blob(&std::fs::read(dir.join("wrappedPrivKey")).unwrap(), &kek);
        assert_eq!(priv_key.len(), 64);
        assert_eq!(&priv_key[32..], &pk);
        let sk = ed25519_dalek::SigningKey::from_bytes(&priv_key[..32].try_into().unwrap());
        assert_eq!(sk.verifying_key().to_bytes(), pk);

        // Session container.
        let listed = check_container(&dir, &vk, &key_id);
        for f in [
            "bsrKey.pub",
            "wrappedBsrKey",
            "wrappedPrivKey",
            "pubKeySelfSignature.sign",
            "pubKeyBsrSignature.sign",
            "session-meta.json",
            "session-recording.meta",
            "session-recording-summary.json",
        ] {
            assert!(listed.iter().any(|l| l == f), "{f} listed");
        }
        let meta = std::fs::read_to_string(dir.join("session-recording.meta")).unwrap();
        let mut lines = meta.lines();
        let rec_id = lines.next().unwrap().strip_prefix("id: ").unwrap();
        assert_eq!(
            format!("{rec_id}.bsr"),
            dir.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(lines.next(), Some("protocol: BSSH"));
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("session-recording-summary.json")).unwrap(),
        )
        .unwrap();
        let keys: Vec<&String> = summary.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5);
        for conn in lines {
            let name = conn.strip_prefix("connection: ").unwrap();
            let cdir = dir.join(name);
            check_container(&cdir, &vk, &key_id);
            let cmeta = std::fs::read_to_string(cdir.join("connection-recording.meta")).unwrap();
            // The connection's byte totals are its channels' sums.
            let mut conn_totals = [0u64; 2];
            for line in cmeta.lines() {
                if let Some(ch) = line.strip_prefix("channel: ") {
                    let chdir = cdir.join(ch);
                    check_container(&chdir, &vk, &key_id);
                    let mut totals = [0u64; 2];
                    for (k, f) in ["messages-inbound.data", "messages-outbound.data"]
                        .iter()
                        .enumerate()
                    {
                        totals[k] = check_data_file(&chdir.join(f), key_id.as_bytes()).1;
                    }
                    for f in ["requests-inbound.data", "requests-outbound.data"] {
                        check_data_file(&chdir.join(f), key_id.as_bytes());
                    }
                    let s: serde_json::Value = serde_json::from_slice(
                        &std::fs::read(chdir.join("channel-recording-summary.json")).unwrap(),
                    )
                    .unwrap();
                    assert_eq!(s["ChannelSummary"]["BytesUp"], totals[0]);
                    assert_eq!(s["ChannelSummary"]["BytesDown"], totals[1]);
                    conn_totals[0] += totals[0];
                    conn_totals[1] += totals[1];
                    checked += 1;
                } else if let Some(d) = line.strip_prefix("requests: ") {
                    check_data_file(&cdir.join(format!("requests-{d}.data")), key_id.as_bytes());
                }
            }
            let cs: serde_json::Value = serde_json::from_slice(
                &std::fs::read(cdir.join("connection-recording-summary.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(cs["BytesUp"], conn_totals[0], "{name}");
            assert_eq!(cs["BytesDown"], conn_totals[1], "{name}");
        }
    }
    assert!(checked >= 6, "channels checked: {checked}");
}
