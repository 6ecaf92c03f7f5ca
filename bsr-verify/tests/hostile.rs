//! Hostile sizes and names: each ends in bounded memory and time with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::format::chunk::Compression;
use bsr_core::format::{MAGIC, PROTOCOL_SSH};
use bsr_core::store::{FsStore, MemStore};
use bsr_core::write::chunk::{ChunkEncoder, encode_raw};
use bsr_core::{Direction, Timestamp};
use bsr_verify::report::Verdict;
use bsr_verify::{VerifyOptions, verify};
use std::sync::Arc;
use std::time::Instant;

const REC: &str = "sr_exec000001.bsr";
const OUT: &str =
    "sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel/messages-outbound.data";

fn base() -> MemStore {
    let s = MemStore::new();
    generate::exec_session(Arc::new(s.clone()), "", "sr_exec000001").unwrap();
    s
}

fn codes(s: &MemStore) -> (Verdict, Vec<String>) {
    let r = verify(s, REC, &VerifyOptions::default());
    (
        r.verdict,
        r.problems.iter().map(|p| format!("{p}")).collect(),
    )
}

#[test]
fn gzip_bomb_is_an_error_not_an_allocation() {
    let s = base();
    let t = Timestamp::new(1_700_000_000, 0);
    let mut file = MAGIC.to_vec();
    let mut enc = ChunkEncoder::new(Compression::Gzip);
    enc.head(
        &mut file,
        PROTOCOL_SSH,
        Direction::Outbound,
        t,
        b"s_exec000001",
    )
    .unwrap();
    // 64 MB of zeros compresses to ~64 KB: ten times the decompression cap.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![0u8; 64 * 1024 * 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 200_000);
    encode_raw(
        &mut file,
        PROTOCOL_SSH,
        *b"DATA",
        Direction::Outbound,
        t,
        &bomb,
    )
    .unwrap();
    enc.done(&mut file, PROTOCOL_SSH, Direction::Outbound, t)
        .unwrap();
    s.put(OUT, file).unwrap();
    let start = Instant::now();
    let (v, p) = codes(&s);
    assert_eq!(v, Verdict::Invalid);
    assert!(
        p.iter().any(|l| l.contains("decompressed chunk data")
            && l.contains("exceeds the limit of 6400000")
            && l.contains("chunk 1")),
        "{p:#?}"
    );
    assert!(start.elapsed().as_secs() < 20);
}

#[test]
fn four_gigabyte_length_field() {
    let s = base();
    let mut d = s.get(OUT).unwrap();
    let at = 8 + 29 + 14; // the first chunk after HEAD ("s_exec000001" is 12 bytes + 2)
    d[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    s.put(OUT, d).unwrap();
    let (v, p) = codes(&s);
    assert_eq!(v, Verdict::Invalid);
    assert!(
        p.iter().any(
            |l| l.contains("chunk data length of 4294967280 bytes exceeds the limit")
                && l.contains(&format!("byte {at}"))
        ),
        "{p:#?}"
    );
    // The location is printed once, in front, not again inside the message.
    assert!(p.iter().all(|l| l.matches("@ byte").count() <= 1), "{p:#?}");
}

#[test]
fn huge_meta_and_checksum_files() {
    let s = base();
    let meta = format!("{REC}/session-recording.meta");
    let mut big = b"id: sr_exec000001\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 20 * 1024 * 1024));
    s.put(&meta, big.clone()).unwrap();
    let (v, p) = codes(&s);
    assert_eq!(v, Verdict::Invalid);
    assert!(
        p.iter()
            .any(|l| l.contains("session-recording.meta") && l.contains("exceeds the limit")),
        "{p:#?}"
    );
    let s = base();
    s.put(&format!("{REC}/SHA256SUM"), big).unwrap();
    let (v, p) = codes(&s);
    assert_eq!(v, Verdict::Invalid);
    assert!(
        p.iter()
            .any(|l| l.contains("SHA256SUM") && l.contains("exceeds the limit")),
        "{p:#?}"
    );
}

#[test]
fn millions_of_tiny_chunks_stream_in_bounded_time() {
    // 2 million 16-byte DATA chunks (90 MB) written by our writer, then verified.
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(d.path()));
    let keys = bsr_core::keys::RecordingKeys::from_seed("s_tiny0000001", [1; 32]);
    let t = Timestamp::new(1_700_000_000, 0);
    let s = bsr_core::write::SessionWriter::create(
        store.clone(),
        "",
        bsr_core::write::SessionOptions::new("sr_tiny0000001", "s_tiny0000001", t),
        keys,
        &generate::kek(),
        None,
    )
    .unwrap();
    let c = s.new_connection("cr_tiny0000001", t).unwrap();
    let mut ch = c.new_channel("chr_tiny000001", "session", t).unwrap();
    for i in 0..2_000_000u64 {
        ch.write_data(
            Direction::Outbound,
            Timestamp::new(1_700_000_000 + i / 1_000_000, (i % 1_000_000) as u32 * 1000),
            b"0123456789abcdef",
        )
        .unwrap();
    }
    let end = Timestamp::new(1_700_000_002, 0);
    ch.finish(end).unwrap();
    c.finish(end).unwrap();
    s.finish(end).unwrap();
    let start = Instant::now();
    let r = verify(&*store, "sr_tiny0000001.bsr", &VerifyOptions::default());
    assert_eq!(r.verdict, Verdict::Unauthenticated, "{:#?}", r.problems);
    assert!(r.stats.chunks >= 2_000_000);
    // The summary byte count is checked against the DATA total.
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    eprintln!(
        "2M tiny chunks verified in {:?} (debug build)",
        start.elapsed()
    );
}

#[test]
fn symlinks_are_never_followed() {
    let d = tempfile::tempdir().unwrap();
    generate::exec_session(Arc::new(FsStore::new(d.path())), "", "sr_exec000001").unwrap();
    let secret = d.path().join("outside.txt");
    std::fs::write(&secret, b"secret").unwrap();
    let chan = d
        .path()
        .join("sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel");
    // Replace a data file by a link to a file outside the recording.
    let victim = chan.join("messages-outbound.data");
    std::fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink(&secret, &victim).unwrap();
    std::os::unix::fs::symlink("/etc", chan.join("etc")).unwrap();
    let r = verify(&FsStore::new(d.path()), REC, &VerifyOptions::default());
    assert_eq!(r.verdict, Verdict::Invalid);
    let sym: Vec<_> = r.problems.iter().filter(|p| p.code == "symlink").collect();
    assert_eq!(sym.len(), 2, "{:#?}", r.problems);
    assert!(
        r.problems
            .iter()
            .any(|p| p.code == "listed-not-a-file" && p.path.ends_with("messages-outbound.data")),
        "{:#?}",
        r.problems
    );
    // And a whole recording reached through a symlinked folder is refused by the CLI.
    std::os::unix::fs::symlink(d.path().join(REC), d.path().join("link.bsr")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-verify"))
        .arg(d.path().join("link.bsr"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic links are not followed"));
}

#[test]
fn names_with_dot_dot_or_slash_are_rejected() {
    for (file, content) in [
        (
            format!("{REC}/session-recording.meta"),
            "id: sr_exec000001\nprotocol: BSSH\nconnection: ../../etc.connection\n".to_string(),
        ),
        (
            format!("{REC}/session-recording.meta"),
            "id: sr_exec000001\nprotocol: BSSH\nconnection: a/b.connection\n".to_string(),
        ),
    ] {
        let s = base();
        s.put(&file, content.into_bytes()).unwrap();
        let (v, p) = codes(&s);
        assert_eq!(v, Verdict::Invalid);
        assert!(
            p.iter()
                .any(|l| l.contains("bad-child-name") || l.contains("path traversal")),
            "{p:#?}"
        );
    }
    let s = base();
    let sums = format!("{REC}/SHA256SUM");
    let mut t = s.get(&sums).unwrap();
    t.extend_from_slice(format!("{}  ../../../etc/passwd\n", "0".repeat(64)).as_bytes());
    s.put(&sums, t).unwrap();
    let (v, p) = codes(&s);
    assert_eq!(v, Verdict::Invalid);
    assert!(
        p.iter()
            .any(|l| l.contains("invalid file name \"../../../etc/passwd\"")),
        "{p:#?}"
    );
}

#[test]
fn early_crash_states_are_incomplete() {
    // Session folder with only empty SHA256SUM and meta (killed right after creating them).
    let s = MemStore::new();
    s.put(&format!("{REC}/SHA256SUM"), Vec::new()).unwrap();
    s.put(&format!("{REC}/session-recording.meta"), Vec::new())
        .unwrap();
    assert_eq!(codes(&s).0, Verdict::Incomplete);
    // ... and with a torn key file and a torn SHA256SUM line.
    let full = base();
    let s = MemStore::new();
    let k = format!("{REC}/wrappedBsrKey");
    s.put(&k, full.get(&k).unwrap()[..10].to_vec()).unwrap();
    s.put(&format!("{REC}/SHA256SUM"), b"0123".to_vec())
        .unwrap();
    s.put(
        &format!("{REC}/session-recording.meta"),
        b"id: sr_exec000001\nproto".to_vec(),
    )
    .unwrap();
    assert_eq!(codes(&s).0, Verdict::Incomplete);
}
