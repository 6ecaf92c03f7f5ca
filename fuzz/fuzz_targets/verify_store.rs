#![no_main]
//! Opening and verifying a whole recording from an in-memory store, structure-aware: either
//! arbitrary files at realistic paths, or arbitrary edits to a real signed recording. An edited
//! recording that differs from the original must never verify as intact and authentic.
use arbitrary::Arbitrary;
use bsr_core::store::MemStore;
use bsr_core::{Direction, Timestamp};
use bsr_verify::report::Verdict;
use bsr_verify::{Trust, VerifyOptions, verify};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

const REC: &str = "sr_fuzz000001.bsr";
const CONN: &str = "sr_fuzz000001.bsr/cr_fuzz000001.connection";
const CHAN: &str = "sr_fuzz000001.bsr/cr_fuzz000001.connection/chr_fuzz00001.channel";

#[derive(Arbitrary, Debug)]
enum Op {
    Flip(u16, u8),
    Set(u16, u8),
    Truncate(u16),
    Insert(u16, Vec<u8>),
    Remove,
    CopyTo(u8),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Files(Vec<(u8, u8, Vec<u8>)>),
    Edits(Vec<(u8, Op)>),
}

fn base() -> &'static (MemStore, Vec<String>) {
    static B: OnceLock<(MemStore, Vec<String>)> = OnceLock::new();
    B.get_or_init(|| {
        let s = MemStore::new();
        let t = |ms: u64| Timestamp::new(1_700_000_000, (ms * 1_000_000) as u32);
        let kek = bsr_core::keys::AeadWrapper::new([7; 32], "kek_fuzz").with_rng_seed([1; 32]);
        let keys = bsr_core::keys::RecordingKeys::from_seed("s_fuzz000001", [2; 32]);
        let w = bsr_core::write::SessionWriter::create(Arc::new(s.clone()), "", bsr_core::write::SessionOptions::new("sr_fuzz000001", "s_fuzz000001", t(0)), keys, &kek, None).unwrap();
        let c = w.new_connection("cr_fuzz000001", t(0)).unwrap();
        let mut ch = c.new_channel("chr_fuzz00001", "session", t(1)).unwrap();
        ch.write_request(Direction::Inbound, t(2), &bsr_core::ssh::Request::Exec(bsr_core::ssh::ExecRequest { request_type: "exec".into(), want_reply: true, command: "id".into() })).unwrap();
        ch.write_data(Direction::Outbound, t(3), b"uid=0(root)\n").unwrap();
        ch.finish(t(4)).unwrap();
        c.finish(t(5)).unwrap();
        w.finish(t(6)).unwrap();
        let files = s.files();
        (s, files)
    })
}

fn opts() -> VerifyOptions {
    VerifyOptions { trust: Trust { kek: Some(Arc::new(bsr_core::keys::AeadWrapper::new([7; 32], "kek_fuzz"))), recorder: None }, store_checksums: true, map_files: true, map_min_len: 0 }
}

const NAMES: &[&str] = &[
    "SHA256SUM", "SHA256SUM.sig", "bsrKey.pub", "wrappedBsrKey", "wrappedPrivKey", "pubKeySelfSignature.sign",
    "pubKeyBsrSignature.sign", "session-meta.json", "session-recording.meta", "session-recording-summary.json",
    "connection-recording.meta", "connection-recording-summary.json", "channel-recording.meta",
    "channel-recording-summary.json", "messages-inbound.data", "messages-outbound.data", "requests-inbound.data",
    "requests-outbound.data", "x",
];

fuzz_target!(|input: Input| {
    let (b, files) = base();
    match input {
        Input::Files(list) => {
            let s = MemStore::new();
            for (dir, name, data) in list.into_iter().take(24) {
                let d = [REC, CONN, CHAN][dir as usize % 3];
                let _ = s.put(&format!("{d}/{}", NAMES[name as usize % NAMES.len()]), data);
            }
            let r = verify(&s, REC, &opts());
            assert_ne!(r.verdict, Verdict::Authentic);
        }
        Input::Edits(edits) => {
            let s = MemStore::new();
            s.copy_from(b, "").unwrap();
            for (f, op) in edits.into_iter().take(8) {
                let path = &files[f as usize % files.len()];
                let Some(mut d) = s.get(path) else { continue };
                match op {
                    Op::Flip(i, m) if !d.is_empty() => { let n = d.len(); d[i as usize % n] ^= m; }
                    Op::Set(i, v) if !d.is_empty() => { let n = d.len(); d[i as usize % n] = v; }
                    Op::Truncate(n) => d.truncate(n as usize),
                    Op::Insert(i, bytes) => { let at = (i as usize).min(d.len()); d.splice(at..at, bytes); }
                    Op::Remove => { s.remove(path); continue; }
                    Op::CopyTo(g) => { let to = &files[g as usize % files.len()]; s.put(to, d).unwrap(); continue; }
                    _ => {}
                }
                s.put(path, d).unwrap();
            }
            let changed = s.files() != *files || files.iter().any(|f| s.get(f) != b.get(f));
            let r = verify(&s, REC, &opts());
            if changed {
                assert_ne!(r.verdict, Verdict::Authentic, "an altered recording verified: {:?}", r.problems);
            } else {
                assert_eq!(r.verdict, Verdict::Authentic);
            }
        }
    }
});
