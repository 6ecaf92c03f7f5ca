//! The channels of one connection written from different threads at the same time, while
//! the connection records requests from a third: the recording verifies and every byte is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::read::Recording;
use bsr_core::store::MemStore;
use bsr_core::write::{SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use bsr_verify::report::Verdict;
use bsr_verify::{Trust, VerifyOptions, verify};
use std::sync::Arc;

#[test]
fn channels_written_from_threads() {
    let store = Arc::new(MemStore::new());
    let t = |i: u64| Timestamp::new(1_700_000_000 + i / 1000, (i % 1000) as u32 * 1_000_000);
    let s = SessionWriter::create(
        store.clone(),
        "",
        SessionOptions::new("sr_threads001", "s_threads001", t(0)),
        bsr_core::keys::RecordingKeys::from_seed("s_threads001", [5; 32]),
        &generate::kek(),
        None,
    )
    .unwrap();
    let conn = s.new_connection("cr_threads001", t(0)).unwrap();
    std::thread::scope(|sc| {
        for c in 0..4u64 {
            let mut ch = conn
                .new_channel(&format!("chr_thread{c:03}"), "session", t(0))
                .unwrap();
            sc.spawn(move || {
                for i in 0..2000u64 {
                    ch.write_data(Direction::Outbound, t(i), format!("c{c} i{i}\n").as_bytes())
                        .unwrap();
                    if i % 500 == 0 {
                        ch.sync().unwrap();
                    }
                }
                ch.finish(t(2000)).unwrap();
            });
        }
        let conn = &conn;
        sc.spawn(move || {
            for i in 0..200u64 {
                conn.write_request(
                    Direction::Inbound,
                    t(i),
                    &bsr_core::ssh::Request::Unknown(bsr_core::ssh::UnknownRequest {
                        request_type: "keepalive@openssh.com".into(),
                        want_reply: true,
                        data: vec![],
                    }),
                )
                .unwrap();
            }
        });
    });
    conn.finish(t(2001)).unwrap();
    s.finish(t(2002)).unwrap();
    let opts = VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(generate::kek())),
            recorder: None,
        },
        store_checksums: true,
        ..VerifyOptions::default()
    };
    let r = verify(&*store, "sr_threads001.bsr", &opts);
    assert_eq!(r.verdict, Verdict::Authentic, "{:#?}", r.problems);
    let rec = Recording::open(store, "sr_threads001.bsr").unwrap();
    let chans = rec.connections().unwrap()[0].channels().unwrap();
    assert_eq!(chans.len(), 4);
    for ch in chans {
        let c: u64 = ch.id()[10..].parse().unwrap();
        let mut text = String::new();
        for chunk in ch.messages(Direction::Outbound).unwrap().chunks().unwrap() {
            let chunk = chunk.unwrap();
            if chunk.is_data() {
                text.push_str(std::str::from_utf8(&chunk.data().unwrap()).unwrap());
            }
        }
        let want: String = (0..2000).map(|i| format!("c{c} i{i}\n")).collect();
        assert_eq!(text, want);
    }
    // Finishing a connection with an open channel is refused, and nothing is signed.
    let store2 = Arc::new(MemStore::new());
    let s2 = SessionWriter::create(
        store2.clone(),
        "",
        SessionOptions::new("sr_threads002", "s_threads002", t(0)),
        bsr_core::keys::RecordingKeys::from_seed("s_threads002", [6; 32]),
        &generate::kek(),
        None,
    )
    .unwrap();
    let c2 = s2.new_connection("cr_threads002", t(0)).unwrap();
    let open = c2.new_channel("chr_open00001", "session", t(0)).unwrap();
    assert!(matches!(c2.finish(t(1)), Err(bsr_core::Error::Usage(_))));
    drop(open);
    drop(s2);
    assert!(store2.get("sr_threads002.bsr/SHA256SUM.sig").is_none());
    assert_eq!(
        verify(&*store2, "sr_threads002.bsr", &VerifyOptions::default()).verdict,
        Verdict::Incomplete
    );
}
