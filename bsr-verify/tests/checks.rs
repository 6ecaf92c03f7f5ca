//! One planted fault per verifier check. After planting, the affected containers are re-signed
//! with the recording's own keys (as an insider with the private key could), so that the
//! signature checks pass and only the check under test can catch the fault.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use bsr_core::format::MAGIC;
use bsr_core::keys::RecordingKeys;
use bsr_core::read::chunk::ChunkReader;
use bsr_core::store::MemStore;
use bsr_core::write::chunk::encode_raw;
use bsr_core::{Direction, Timestamp};
use bsr_verify::report::{Severity, Verdict};
use bsr_verify::{Trust, VerifyOptions, verify};
use sha2::Digest;
use std::sync::Arc;

const REC: &str = "sr_exec000001.bsr";
const CONN: &str = "sr_exec000001.bsr/cr_exec000001.connection";
const CHAN: &str = "sr_exec000001.bsr/cr_exec000001.connection/chr_exec00001.channel";

fn keys() -> RecordingKeys {
    RecordingKeys::from_seed("s_exec000001", generate::seed("sr_exec000001"))
}

fn base() -> MemStore {
    let s = MemStore::new();
    generate::exec_session(Arc::new(s.clone()), "", "sr_exec000001").unwrap();
    s
}

/// Rewrites `dir/SHA256SUM` over `names` (default: the names listed now, if present) and signs it.
fn resign(s: &MemStore, dir: &str, extra: &[&str], drop: &[&str]) {
    let old = String::from_utf8(s.get(&format!("{dir}/SHA256SUM")).unwrap()).unwrap();
    let mut names: Vec<String> = old
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    names.retain(|n| !drop.contains(&n.as_str()));
    names.extend(extra.iter().map(|e| e.to_string()));
    let mut text = String::new();
    for n in names {
        let d = sha2::Sha256::digest(s.get(&format!("{dir}/{n}")).unwrap());
        text.push_str(&format!("{}  {n}\n", hex::encode(d)));
    }
    s.put(&format!("{dir}/SHA256SUM"), text.clone().into_bytes())
        .unwrap();
    s.put(
        &format!("{dir}/SHA256SUM.sig"),
        keys().sign_checksums(text.as_bytes()),
    )
    .unwrap();
}

fn edit(s: &MemStore, path: &str, f: impl Fn(String) -> String) {
    let t = String::from_utf8(s.get(path).unwrap()).unwrap();
    s.put(path, f(t).into_bytes()).unwrap();
}

/// Re-encodes a data file chunk by chunk through `f` (which may change, drop or add chunks).
fn rewrite_data(
    s: &MemStore,
    path: &str,
    f: impl Fn(
        usize,
        [u8; 4],
        Direction,
        Timestamp,
        Vec<u8>,
    ) -> Vec<([u8; 4], Direction, Timestamp, Vec<u8>)>,
) {
    let b = s.get(path).unwrap();
    let mut out = MAGIC.to_vec();
    for (i, c) in ChunkReader::new(&b).unwrap().enumerate() {
        let c = c.unwrap();
        for (ty, d, t, data) in f(i, c.chunk_type, c.direction, c.time, c.stored.to_vec()) {
            encode_raw(&mut out, *b"BSSH", ty, d, t, &data).unwrap();
        }
    }
    s.put(path, out).unwrap();
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        trust: Trust {
            kek: Some(Arc::new(generate::kek())),
            recorder: None,
        },
        store_checksums: true,
        ..VerifyOptions::default()
    }
}

type Plant = fn(&MemStore);

#[test]
fn each_check_catches_its_planted_fault() {
    let cases: Vec<(&str, Plant, Verdict, Severity)> = vec![
        (
            "id-mismatch",
            |s| {
                edit(s, &format!("{CHAN}/channel-recording.meta"), |t| {
                    t.replace("id: chr_exec00001", "id: chr_other0001")
                });
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "duplicate-child",
            |s| {
                edit(s, &format!("{REC}/session-recording.meta"), |t| {
                    format!("{t}connection: cr_exec000001.connection\n")
                });
                resign(s, REC, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "bad-child-name",
            |s| {
                edit(s, &format!("{REC}/session-recording.meta"), |t| {
                    format!("{t}connection: ../../etc.connection\n")
                });
                resign(s, REC, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "listed-container-missing",
            |s| {
                edit(s, &format!("{REC}/session-recording.meta"), |t| {
                    format!("{t}connection: cr_gone0000001.connection\n")
                });
                resign(s, REC, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "summary-count",
            |s| {
                edit(s, &format!("{REC}/session-recording-summary.json"), |t| {
                    t.replace("\"ConnectionCount\": 1", "\"ConnectionCount\": 2")
                });
                resign(s, REC, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "summary-id",
            |s| {
                edit(
                    s,
                    &format!("{CONN}/connection-recording-summary.json"),
                    |t| t.replace("\"Id\": \"cr_exec000001\"", "\"Id\": \"cr_other\""),
                );
                resign(s, CONN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "summary-bytes",
            |s| {
                edit(s, &format!("{CHAN}/channel-recording-summary.json"), |t| {
                    t.replace("\"BytesDown\": 41", "\"BytesDown\": 40")
                });
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "channel-moved",
            |s| {
                edit(s, &format!("{CHAN}/channel-recording-summary.json"), |t| {
                    t.replace(
                        "\"ConnectionRecordingId\": \"cr_exec000001\"",
                        "\"ConnectionRecordingId\": \"cr_elsewhere1\"",
                    )
                });
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "channel-type",
            |s| {
                edit(s, &format!("{CHAN}/channel-recording.meta"), |t| {
                    t.replace("channelType: session", "channelType: x11")
                });
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "declared-file-missing",
            |s| {
                s.remove(&format!("{CHAN}/requests-outbound.data"));
                resign(s, CHAN, &[], &["requests-outbound.data"]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "unlisted-file",
            |s| {
                s.put(&format!("{CONN}/notes.txt"), b"x".to_vec()).unwrap();
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "session-id-mismatch",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-inbound.data"),
                    |i, ty, d, t, data| {
                        if i == 0 {
                            vec![(ty, d, t, [&data[..2], b"s_other00001"].concat())]
                        } else {
                            vec![(ty, d, t, data)]
                        }
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "second-head",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |i, ty, d, t, data| {
                        if i == 1 {
                            vec![
                                (*b"HEAD", d, t, b"\x00\x00s_exec000001".to_vec()),
                                (ty, d, t, data),
                            ]
                        } else {
                            vec![(ty, d, t, data)]
                        }
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "head-not-first",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |i, ty, d, t, data| {
                        if i == 0 {
                            vec![]
                        } else {
                            vec![(ty, d, t, data)]
                        }
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "after-done",
            |s| {
                edit_bytes_append_after_done(s);
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        // Issue 14 finding 11: each stream holds only its own chunk types, even re-signed.
        (
            "request-in-messages",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |i, ty, d, t, data| {
                        let mut out = vec![(ty, d, t, data)];
                        if i == 0 {
                            let shell =
                                bsr_core::ssh::Request::Shell(bsr_core::ssh::ShellRequest {
                                    request_type: "shell".into(),
                                    want_reply: true,
                                });
                            out.push((*b"SHLL", d, t, shell.encode()));
                        }
                        out
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "data-in-requests",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/requests-inbound.data"),
                    |i, ty, d, t, data| {
                        let mut out = vec![(ty, d, t, data)];
                        if i == 0 {
                            out.push((*b"DATA", d, t, b"hidden".to_vec()));
                        }
                        out
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "no-done",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |_, ty, d, t, data| {
                        if &ty == b"DONE" {
                            vec![]
                        } else {
                            vec![(ty, d, t, data)]
                        }
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "undecodable-chunk",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/requests-inbound.data"),
                    |i, ty, d, t, data| {
                        if i == 1 {
                            vec![(*b"ZZZZ", d, t, b"x".to_vec()), (ty, d, t, data)]
                        } else {
                            vec![(ty, d, t, data)]
                        }
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "compression",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-inbound.data"),
                    |i, ty, d, t, mut data| {
                        if i == 0 {
                            data[0] = 7;
                        }
                        vec![(ty, d, t, data)]
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        (
            "non-monotonic-time",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |i, ty, d, t, data| {
                        let t = if i == 1 {
                            Timestamp::new(t.secs - 100, 0)
                        } else {
                            t
                        };
                        vec![(ty, d, t, data)]
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Authentic,
            Severity::Warning,
        ),
        (
            "direction",
            |s| {
                rewrite_data(
                    s,
                    &format!("{CHAN}/messages-outbound.data"),
                    |i, ty, _d, t, data| {
                        let d = if i == 1 {
                            Direction::Inbound
                        } else {
                            Direction::Outbound
                        };
                        vec![(ty, d, t, data)]
                    },
                );
                resign(s, CHAN, &[], &[]);
            },
            Verdict::Authentic,
            Severity::Warning,
        ),
        (
            "unsigned-child",
            |s| {
                s.remove(&format!("{CHAN}/SHA256SUM.sig"));
            },
            Verdict::Invalid,
            Severity::Error,
        ),
        ("symlink", |_| {}, Verdict::Authentic, Severity::Error), // covered in hostile.rs (needs a real folder)
    ];
    let mut n = 0;
    for (code, plant, verdict, sev) in cases {
        if code == "symlink" {
            continue;
        }
        let s = base();
        plant(&s);
        let r = verify(&s, REC, &opts());
        let hit = r.problems.iter().find(|p| p.code == code);
        assert!(hit.is_some(), "{code}: not reported; got {:#?}", r.problems);
        assert_eq!(hit.unwrap().severity, sev, "{code}");
        assert_eq!(r.verdict, verdict, "{code}: {:#?}", r.problems);
        // The signatures were redone: the finding is this check's, not a signature failure.
        assert!(
            !r.problems.iter().any(|p| p.code == "checksum-signature"),
            "{code}: {:#?}",
            r.problems
        );
        n += 1;
    }
    assert!(n >= 20);
}

fn edit_bytes_append_after_done(s: &MemStore) {
    let p = format!("{CHAN}/messages-outbound.data");
    let mut b = s.get(&p).unwrap();
    encode_raw(
        &mut b,
        *b"BSSH",
        *b"DATA",
        Direction::Outbound,
        Timestamp::new(1_700_000_001, 0),
        b"late",
    )
    .unwrap();
    s.put(&p, b).unwrap();
}
