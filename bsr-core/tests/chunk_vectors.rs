//! Boundary's chunk vectors (`../shared/vectors/chunks/`), proptest round trips with and
//! without gzip through the slice reader, the push decoder and the streaming reader, and
//! no-panic / bounded-allocation properties on random and mutated input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::format::Compression;
use bsr_core::format::MAGIC;
use bsr_core::read::ChunkStream;
use bsr_core::read::chunk::{ChunkReader, decode_chunk};
use bsr_core::read::decoder::StreamDecoder;
use bsr_core::read::structure::validate_structure;
use bsr_core::write::chunk::{ChunkEncoder, encode_raw};
use bsr_core::{Direction, Error, Timestamp};
use proptest::prelude::*;
use std::path::PathBuf;

fn vectors() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/chunks"
    ))
}

const T: Timestamp = Timestamp::new(0x6412_F3A7, 14);
const T_DONE: Timestamp = Timestamp::new(0x6412_F3A7, 19);

fn all(bytes: &[u8]) -> Vec<bsr_core::read::chunk::Chunk<'_>> {
    ChunkReader::without_magic(bytes)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn boundary_vectors_decode_to_the_documented_values() {
    let read = |n: &str| std::fs::read(vectors().join(n)).unwrap();
    // HEAD only.
    let h = read("header-no-compression.bin");
    let c = all(&h);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (&c[0].protocol, &c[0].chunk_type, c[0].direction, c[0].time),
        (b"TEST", b"HEAD", Direction::Inbound, T)
    );
    let hd = c[0].header().unwrap();
    assert_eq!(
        (hd.compression, hd.encryption, hd.session_id.as_slice()),
        (Compression::None, 0, &b"sess_123456789"[..])
    );
    // HEAD + DONE.
    let c2 = read("header-end-no-compression.bin");
    let c = all(&c2);
    assert_eq!(c.len(), 2);
    assert!(c[1].is_done() && c[1].time == T_DONE && c[1].stored.is_empty());
    // HEAD + TEST(foo) + DONE.
    let v = read("header-test-end-no-compression.bin");
    let c = all(&v);
    assert_eq!(c.len(), 3);
    assert_eq!(
        (&c[1].chunk_type, &*c[1].data().unwrap()),
        (b"TEST", &b"foo"[..])
    );
    // Gzip: Go's gzip member decodes.
    let g = read("header-test-end-gzip.bin");
    let c = all(&g);
    assert_eq!(c[0].header().unwrap().compression, Compression::Gzip);
    assert!(c[1].compressed);
    assert_eq!(c[1].stored.len(), 0x1b);
    assert_eq!(&*c[1].data().unwrap(), b"foo");
    assert!(c[2].is_done());
    // The whole file with magic.
    let f = read("magic-header-test-end.data");
    let s = ChunkReader::new(&f)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(&*s[1].data().unwrap(), b"foo");

    // Our encoder reproduces the non-gzip vectors byte for byte.
    let mut out = Vec::new();
    let mut e = ChunkEncoder::new(Compression::None);
    e.head(&mut out, *b"TEST", Direction::Inbound, T, b"sess_123456789")
        .unwrap();
    assert_eq!(out, h);
    e.done(&mut out, *b"TEST", Direction::Inbound, T_DONE)
        .unwrap();
    assert_eq!(out, c2);
    let mut out = Vec::new();
    e.head(&mut out, *b"TEST", Direction::Inbound, T, b"sess_123456789")
        .unwrap();
    e.chunk(&mut out, *b"TEST", *b"TEST", Direction::Inbound, T, b"foo")
        .unwrap();
    e.done(&mut out, *b"TEST", Direction::Inbound, T_DONE)
        .unwrap();
    assert_eq!(out, v);
    let mut whole = MAGIC.to_vec();
    whole.extend_from_slice(&v);
    assert_eq!(whole, f);
    // The gzip vector's HEAD and DONE are ours too (only the deflate bytes are Go-specific).
    let mut out = Vec::new();
    let mut e = ChunkEncoder::new(Compression::Gzip);
    e.head(&mut out, *b"TEST", Direction::Inbound, T, b"sess_123456789")
        .unwrap();
    assert_eq!(out[..], g[..out.len()]);
}

fn arb_chunk() -> impl Strategy<Value = ([u8; 4], Direction, Timestamp, Vec<u8>)> {
    (
        prop_oneof![
            Just(*b"DATA"),
            Just(*b"ENVR"),
            Just(*b"XXXX"),
            any::<[u8; 4]>()
        ],
        prop_oneof![Just(Direction::Inbound), Just(Direction::Outbound)],
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Timestamp::new(s, n)),
        proptest::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_filter("not HEAD/DONE", |c| &c.0 != b"HEAD" && &c.0 != b"DONE")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn round_trip(chunks in proptest::collection::vec(arb_chunk(), 0..12), gzip in any::<bool>(), cuts in proptest::collection::vec(1usize..500, 1..8)) {
        let comp = if gzip { Compression::Gzip } else { Compression::None };
        let mut file = MAGIC.to_vec();
        let mut e = ChunkEncoder::new(comp);
        let t = Timestamp::new(1, 2);
        e.head(&mut file, *b"BSSH", Direction::Inbound, t, b"s_x").unwrap();
        for (ty, d, ts, data) in &chunks {
            e.chunk(&mut file, *b"BSSH", *ty, *d, *ts, data).unwrap();
        }
        e.done(&mut file, *b"BSSH", Direction::Inbound, t).unwrap();
        // Slice reader.
        let got: Vec<_> = ChunkReader::new(&file).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        prop_assert_eq!(got.len(), chunks.len() + 2);
        for (g, (ty, d, ts, data)) in got[1..].iter().zip(&chunks) {
            prop_assert_eq!((&g.chunk_type, g.direction, g.time, g.compressed), (ty, *d, *ts, gzip));
            prop_assert_eq!(&*g.data().unwrap(), &data[..]);
        }
        prop_assert!(validate_structure(&file).is_ok());
        // Push decoder, any split.
        let mut dec = StreamDecoder::new();
        let mut pushed = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < file.len() {
            let n = cuts[k % cuts.len()].min(file.len() - pos);
            k += 1;
            dec.push(&file[pos..pos + n]).unwrap();
            pos += n;
            while let Some(c) = dec.next_chunk().unwrap() {
                pushed.push(c);
            }
        }
        dec.finish().unwrap();
        prop_assert_eq!(pushed.len(), got.len());
        for (p, g) in pushed.iter().zip(&got) {
            prop_assert_eq!(&p.as_chunk(), g);
            prop_assert_eq!(&p.data().unwrap()[..], &*g.data().unwrap());
        }
        // Streaming reader over any Read, with its SHA-256.
        let mut s = ChunkStream::new(&file[..], "f").with_sha256();
        let mut n = 0;
        while let Some(c) = s.next_chunk().unwrap() {
            prop_assert_eq!(&c, &got[n]);
            n += 1;
        }
        prop_assert_eq!(n, got.len());
        let end = s.finish().unwrap();
        use sha2::Digest;
        prop_assert_eq!(end.sha256.unwrap(), <[u8; 32]>::from(sha2::Sha256::digest(&file)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let with_magic = [&MAGIC[..], &data[..]].concat();
        for input in [&data[..], &with_magic[..]] {
            let _ = validate_structure(input);
            if let Ok(r) = ChunkReader::new(input) {
                for c in r {
                    match c {
                        Ok(c) => { let _ = c.data(); let _ = bsr_core::ssh::decode_chunk_payload(&c, true); }
                        Err(_) => break,
                    }
                }
            }
            let mut d = StreamDecoder::new();
            if d.push(input).is_ok() {
                while let Ok(Some(_)) = d.next_chunk() {}
            }
            let mut s = ChunkStream::new(input, "x");
            while let Ok(Some(_)) = s.next_chunk() {}
        }
    }

    #[test]
    fn mutated_files_error_or_decode_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..6), cut in any::<u16>()) {
        let mut file = MAGIC.to_vec();
        let mut e = ChunkEncoder::new(if seed % 2 == 0 { Compression::Gzip } else { Compression::None });
        let t = Timestamp::new(seed, 0);
        e.head(&mut file, *b"BSSH", Direction::Outbound, t, b"s_x").unwrap();
        for i in 0..5u8 {
            e.chunk(&mut file, *b"BSSH", *b"DATA", Direction::Outbound, t, &[i; 100]).unwrap();
        }
        e.done(&mut file, *b"BSSH", Direction::Outbound, t).unwrap();
        let orig = file.clone();
        for (at, x) in flips {
            let n = file.len();
            file[at as usize % n] ^= x | 1;
        }
        file.truncate(file.len() - (cut as usize % 64));
        let r = validate_structure(&file);
        if file != orig {
            // A changed file never validates as the original: at least one chunk differs or an error shows.
            if let Ok(s) = &r {
                let o = validate_structure(&orig).unwrap();
                prop_assert!(s != &o || file.len() != orig.len());
            }
        }
    }
}

#[test]
fn length_field_of_4_gb_is_rejected_before_allocation() {
    let mut b = Vec::new();
    encode_raw(
        &mut b,
        *b"BSSH",
        *b"DATA",
        Direction::Inbound,
        Timestamp::new(1, 1),
        b"x",
    )
    .unwrap();
    b[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    match decode_chunk(&b, 0, 0) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), (u32::MAX as u64, 6_400_000))
        }
        other => panic!("{other:?}"),
    }
    let mut d = StreamDecoder::without_magic();
    d.push(&b[..10]).unwrap();
    assert!(matches!(d.next_chunk(), Err(Error::TooLarge { .. })));
}

#[test]
fn every_truncation_of_a_file_is_an_error() {
    let f = std::fs::read(vectors().join("magic-header-test-end.data")).unwrap();
    for n in 0..f.len() {
        let r = validate_structure(&f[..n]);
        assert!(r.is_err(), "cut at {n} validated");
    }
    assert!(validate_structure(&f).is_ok());
}
