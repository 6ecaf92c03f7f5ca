//! The cast writer: Boundary's exact v2 bytes, v3 intervals, buffering, and writer → reader
//! round trips under proptest.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::cast::{
    CastReader, CastWriter, EventKind, Header, go_float_into, go_seconds, parse_seconds_ns,
};
use proptest::prelude::*;
use std::io::Write;

fn boundary_header(ts: i64) -> Header {
    Header {
        version: 2,
        width: 80,
        height: 24,
        timestamp: Some(ts),
        env: vec![
            ("SHELL".into(), Some("/bin/bash".into())),
            ("TERM".into(), Some("xterm".into())),
        ],
        ..Header::default()
    }
}

#[test]
fn boundary_v2_bytes() {
    // Spec §7.3 (Boundary's convert/ssh_test.go): header at …03.000000014, DATA `ls -lash` at
    // +1 µs and `foo\r\n` at +2 µs.
    let mut w = CastWriter::new_v2(Vec::new(), &boundary_header(1_690_000_003)).unwrap();
    w.event(1_000, &EventKind::Output, "ls -lash").unwrap();
    w.event_bytes(2_000, &EventKind::Output, b"foo\r\n")
        .unwrap();
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    assert_eq!(
        out,
        "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1690000003,\"env\":{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm\"}}\n\
         [0.000001,\"o\",\"ls -lash\"]\n\
         [0.000002,\"o\",\"foo\\r\\n\"]\n"
    );
}

#[test]
fn v2_times_are_absolute_go_floats() {
    let mut w = CastWriter::new_v2(Vec::new(), &boundary_header(1)).unwrap();
    for t in [
        0i128,
        100,
        999,
        1_000,
        1_500_000_000,
        2_000_000_000,
        -1_000,
        123_456_789_012,
    ] {
        w.event(t, &EventKind::Output, "x").unwrap();
    }
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    let times: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l[1..].split(',').next().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "0",
            "1e-7",
            "9.99e-7",
            "0.000001",
            "1.5",
            "2",
            "-0.000001",
            "123.456789012"
        ]
    );
}

#[test]
fn v3_header_and_intervals() {
    let h = Header {
        width: 100,
        height: 30,
        timestamp: Some(5),
        term_type: Some("xterm-256color".into()),
        idle_time_limit: Some(2.5),
        command: Some("bash -l".into()),
        env: vec![
            ("SHELL".into(), Some("/bin/zsh".into())),
            ("X".into(), None),
        ],
        ..Header::default()
    };
    let mut w = CastWriter::new_v3(Vec::new(), &h).unwrap();
    assert_eq!(w.version(), 3);
    w.event(1_000_000_000, &EventKind::Output, "a").unwrap();
    w.event(1_300_000_000, &EventKind::Resize, "90x20").unwrap();
    w.event(1_200_000_000, &EventKind::Marker, "late").unwrap(); // out of order: interval 0
    w.event(2_300_000_000, &EventKind::Exit, "0").unwrap();
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    assert_eq!(
        out,
        "{\"version\":3,\"term\":{\"cols\":100,\"rows\":30,\"type\":\"xterm-256color\"},\"timestamp\":5,\"idle_time_limit\":2.5,\"command\":\"bash -l\",\"env\":{\"SHELL\":\"/bin/zsh\",\"X\":null}}\n\
         [1,\"o\",\"a\"]\n[0.3,\"r\",\"90x20\"]\n[0,\"m\",\"late\"]\n[1,\"x\",\"0\"]\n"
    );
    let ev: Vec<_> = CastReader::new(out.as_bytes())
        .unwrap()
        .map(|e| e.unwrap().time_ns)
        .collect();
    assert_eq!(
        ev,
        [1_000_000_000, 1_300_000_000, 1_300_000_000, 2_300_000_000]
    );
}

#[test]
fn raw_bytes_are_escaped_like_go_per_byte() {
    let mut w = CastWriter::new_v2(Vec::new(), &boundary_header(0)).unwrap();
    // A split arrow (E2 86 | 92): Boundary converts each chunk on its own.
    w.event_bytes(1, &EventKind::Output, b"a\xe2\x86").unwrap();
    w.event_bytes(2, &EventKind::Output, b"\x92b").unwrap();
    // A valid U+FFFD in the input stays raw in Go's output.
    w.event_bytes(3, &EventKind::Output, "\u{fffd}".as_bytes())
        .unwrap();
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    let lines: Vec<_> = out.lines().skip(1).collect();
    assert_eq!(lines[0], "[1e-9,\"o\",\"a\\ufffd\\ufffd\"]");
    assert_eq!(lines[1], "[2e-9,\"o\",\"\\ufffdb\"]");
    assert_eq!(lines[2], "[3e-9,\"o\",\"\u{fffd}\"]");
}

/// Records the size of every write.
struct Spy {
    writes: Vec<usize>,
    data: Vec<u8>,
    flushed: bool,
}

impl Write for &mut Spy {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.writes.push(b.len());
        self.data.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.flushed = true;
        Ok(())
    }
}

#[test]
fn output_is_passed_on_in_64k_pieces() {
    let mut spy = Spy {
        writes: Vec::new(),
        data: Vec::new(),
        flushed: false,
    };
    let line = "x".repeat(100);
    {
        let mut w = CastWriter::new_v2(&mut spy, &boundary_header(0)).unwrap();
        for i in 0..10_000 {
            w.event(i * 1_000_000, &EventKind::Output, &line).unwrap();
        }
        assert!(w.bytes() > 1_000_000);
        w.finish().unwrap();
    }
    assert!(spy.flushed);
    let n = spy.writes.len();
    assert!((15..=20).contains(&n), "{n} writes");
    assert!(spy.writes[..n - 1].iter().all(|&s| s >= 64 * 1024));
    assert_eq!(
        CastReader::new(&spy.data[..]).unwrap().count(),
        10_000,
        "all events arrive"
    );

    // Dropping without finish() still writes everything (best effort).
    let mut spy2 = Spy {
        writes: Vec::new(),
        data: Vec::new(),
        flushed: false,
    };
    {
        let mut w = CastWriter::new_v2(&mut spy2, &boundary_header(0)).unwrap();
        w.event(0, &EventKind::Output, "last").unwrap();
        assert_eq!(w.events(), 1);
    }
    assert!(String::from_utf8_lossy(&spy2.data).ends_with("[0,\"o\",\"last\"]\n"));
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Output),
        Just(EventKind::Input),
        Just(EventKind::Marker),
        Just(EventKind::Exit),
        // Any other code ("r" is a resize, whose data is checked: tested separately).
        "[a-z<&\"]{1,3}"
            .prop_filter("not a resize", |c| c != "r")
            .prop_map(|c| EventKind::from_code(&c)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f<>&\"\\\\ a\u{2028}\u{2029}\u{fffd}é€🎉]{0,40}",
    ]
}

fn round_trip(events: &[(i128, EventKind, String)], v3: bool) -> Vec<(i128, EventKind, String)> {
    let h = boundary_header(1_700_000_000);
    let mut w = if v3 {
        CastWriter::new_v3(Vec::new(), &h).unwrap()
    } else {
        CastWriter::new_v2(Vec::new(), &h).unwrap()
    };
    for (t, k, d) in events {
        w.event(*t, k, d).unwrap();
    }
    let out = w.finish().unwrap();
    let r = CastReader::new(&out[..]).unwrap();
    assert_eq!(r.header().env, h.env);
    r.map(|e| {
        let e = e.unwrap();
        (e.time_ns, e.kind, e.data)
    })
    .collect()
}

/// Sorted absolute times from random gaps.
fn times(gaps: &[u64]) -> Vec<i128> {
    let mut t = 0i128;
    gaps.iter()
        .map(|g| {
            t += *g as i128;
            t
        })
        .collect()
}

/// Dense check of the exactness bound near its top: t in [2^21, 2^22) s, and where it stops.
#[test]
fn times_exact_below_2_pow_22_s_dense() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let back = |t: i128| {
        let mut b = Vec::new();
        go_float_into(&mut b, go_seconds(t));
        parse_seconds_ns(std::str::from_utf8(&b).unwrap()).unwrap()
    };
    let lo = (1u64 << 21) * 1_000_000_000;
    for _ in 0..100_000 {
        let t = (lo + next() % lo) as i128;
        assert_eq!(back(t), t);
    }
    // Above 2^23 s the nanoseconds no longer survive (but stay within a few ns).
    let lo = (1u64 << 23) * 1_000_000_000;
    let mut inexact = 0;
    for _ in 0..10_000 {
        let t = (lo + next() % lo) as i128;
        let d = (back(t) - t).abs();
        assert!(d <= 2, "{t}: {d}");
        inexact += usize::from(d != 0);
    }
    assert!(inexact > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Data and kinds come back exactly; times exactly to the nanosecond while the recording is
    /// shorter than 2^22 s (48 days): the f64 of t/1e9 and its shortest decimal are each within
    /// half an ulp (≤ 2.4e-10 s there), so the decimal rounds back to t.
    #[test]
    fn round_trip_exact_below_2_pow_22_s(
        items in proptest::collection::vec((0u64..(1u64 << 22) * 1_000_000_000 / 64, kind(), text()), 0..40),
        resize in (1u32..10_000, 1u32..10_000),
    ) {
        let gaps: Vec<u64> = items.iter().map(|i| i.0).collect();
        let mut events: Vec<(i128, EventKind, String)> = times(&gaps)
            .into_iter()
            .zip(items)
            .map(|(t, (_, k, d))| (t, k, d))
            .collect();
        let last = events.last().map(|e| e.0).unwrap_or(0);
        events.push((last, EventKind::Resize, format!("{}x{}", resize.0, resize.1)));
        for v3 in [false, true] {
            prop_assert_eq!(&round_trip(&events, v3), &events);
        }
    }

    /// Times up to 10 years: within 1 µs (v2 absolute; v3 summed intervals).
    #[test]
    fn round_trip_within_a_microsecond(
        gaps in proptest::collection::vec(0u64..10 * 365 * 86_400 * 1_000_000_000 / 16, 1..16),
    ) {
        let events: Vec<(i128, EventKind, String)> = times(&gaps)
            .into_iter()
            .map(|t| (t, EventKind::Output, "x".to_string()))
            .collect();
        for v3 in [false, true] {
            let back = round_trip(&events, v3);
            prop_assert_eq!(back.len(), events.len());
            for (a, b) in events.iter().zip(&back) {
                prop_assert!((a.0 - b.0).abs() <= 1_000, "{} vs {}", a.0, b.0);
            }
        }
    }

    /// What the writer prints for a time parses back to the f64 Boundary computes.
    #[test]
    fn written_time_is_the_go_float(ns in any::<i64>()) {
        let mut w = CastWriter::new_v2(Vec::new(), &Header { width: 1, height: 1, ..Header::default() }).unwrap();
        w.event(ns as i128, &EventKind::Output, "").unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let line = out.lines().nth(1).unwrap();
        let num = &line[1..line.find(",\"o\"").unwrap()];
        prop_assert_eq!(num.parse::<f64>().unwrap(), go_seconds(ns as i128));
    }
}
