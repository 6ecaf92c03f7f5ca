//! The real casts in shared/cast-fixtures: every one parses (the negative one fails in strict
//! mode) with the event counts, kinds, times and data read off the files by hand; and each
//! survives a write (v2 and v3) → read round trip exactly.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::cast::{CastReader, CastWriter, Event, EventKind, Header};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/cast-fixtures")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(name: &str) -> (Header, Vec<Event>) {
    let bytes = read(name);
    let r = CastReader::new(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
    let h = r.header().clone();
    let ev = r
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (h, ev)
}

use EventKind::*;

fn check(ev: &[Event], want: &[(i128, EventKind, &str)]) {
    assert_eq!(ev.len(), want.len(), "event count");
    for (i, (e, (t, k, d))) in ev.iter().zip(want).enumerate() {
        assert_eq!(e.time_ns, *t, "event {i} time");
        assert_eq!(&e.kind, k, "event {i} kind");
        assert_eq!(e.data, *d, "event {i} data");
    }
}

fn env(h: &Header) -> Vec<(&str, Option<&str>)> {
    h.env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect()
}

#[test]
fn full_v1() {
    let (h, ev) = parse("asciinema-cli__full-v1.json");
    assert_eq!((h.version, h.width, h.height), (1, 100, 50));
    assert_eq!(h.command.as_deref(), Some("/bin/bash"));
    assert_eq!(h.title, None);
    assert_eq!(
        env(&h),
        [
            ("TERM", Some("xterm-256color")),
            ("SHELL", Some("/bin/bash"))
        ]
    );
    assert_eq!(h.extra.get("duration"), Some(&serde_json::json!(10.5)));
    assert!(!h.extra.contains_key("stdout"));
    // Delays are relative: 0.000001, +10.00, +0.5.
    check(
        &ev,
        &[
            (1_000, Output, "ż"),
            (10_000_001_000, Output, "ółć"),
            (10_500_001_000, Output, "\r\n"),
        ],
    );
}

#[test]
fn full_v2() {
    let (h, ev) = parse("asciinema-cli__full-v2.cast");
    assert_eq!((h.version, h.width, h.height), (2, 100, 50));
    assert_eq!(h.timestamp, Some(1509091818));
    assert_eq!(h.command.as_deref(), Some("/bin/bash"));
    assert_eq!(
        env(&h),
        [
            ("TERM", Some("xterm-256color")),
            ("SHELL", Some("/bin/bash"))
        ]
    );
    let theme = h.theme.as_ref().unwrap();
    assert_eq!(theme["fg"], "#000000");
    assert_eq!(theme["bg"], "#ffffff");
    assert_eq!(
        theme["palette"].as_str().unwrap().split(':').count(),
        16,
        "16-colour palette"
    );
    assert!(h.extra.is_empty());
    check(
        &ev,
        &[
            (1_000, Output, "ż"),
            (1_000_000_000, Output, "ółć"),
            (2_300_000_000, Input, "\n"),
            (5_600_001_000, Resize, "80x40"),
            (10_500_000_000, Output, "\r\n"),
        ],
    );
}

#[test]
fn full_v3() {
    let (h, ev) = parse("asciinema-cli__full-v3.cast");
    assert_eq!((h.version, h.width, h.height), (3, 100, 50));
    assert_eq!(h.timestamp, Some(1509091818));
    assert_eq!(h.term_type, None);
    assert_eq!(h.theme.as_ref().unwrap()["fg"], "#000000");
    // Intervals 0.000001, 1.0, 0.3, 1.600001, 10.5 summed exactly.
    check(
        &ev,
        &[
            (1_000, Output, "ż"),
            (1_000_001_000, Output, "ółć"),
            (1_300_001_000, Input, "\n"),
            (2_900_002_000, Resize, "80x40"),
            (13_400_002_000, Output, "\r\n"),
        ],
    );
}

#[test]
fn nulls_v2() {
    let (h, ev) = parse("asciinema-cli__nulls-v2.cast");
    assert_eq!(env(&h), [("TERM", None), ("SHELL", Some("/bin/bash"))]);
    assert_eq!(h.env_get("TERM"), None);
    assert_eq!(h.env_get("SHELL"), Some("/bin/bash"));
    assert_eq!(h.timestamp, None);
    check(&ev, &[(1_230_000_000, Output, "hello")]);
}

#[test]
fn demo_v2() {
    let (h, ev) = parse("asciinema-cli__demo-v2.cast");
    assert_eq!((h.version, h.width, h.height), (2, 75, 18));
    assert_eq!(h.idle_time_limit, Some(2.0));
    // File order, not sorted.
    assert_eq!(
        env(&h),
        [
            ("TERM", Some("xterm-256color")),
            ("SHELL", Some("/usr/local/bin/fish"))
        ]
    );
    assert_eq!(ev.len(), 39);
    assert_eq!(ev.iter().filter(|e| e.kind == Output).count(), 30);
    assert_eq!(ev.iter().filter(|e| e.kind == Input).count(), 9);
    assert_eq!(ev[0].time_ns, 89_436_000);
    assert!(
        ev[0]
            .data
            .starts_with("\u{1b}]0;fish  /Users/sickill/code/asciinema/asciinema\u{7}")
    );
    assert_eq!(ev[1].data, "\u{1b}[?2004h");
    assert_eq!(ev[38].time_ns, 11_893_480_000);
    assert_eq!(ev[38].data, "\u{1b}[?2004l");
    assert_eq!(ev[36].kind, Input);
    assert_eq!(ev[36].data, "\u{4}");
    assert!(ev.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
}

#[test]
fn markers_input_v2() {
    let (h, ev) = parse("asciinema-player__markers-input-v2.cast");
    assert_eq!((h.width, h.height, h.timestamp), (80, 24, None));
    check(
        &ev,
        &[
            (200_000_000, Output, "start\r\n"),
            (300_000_000, Input, "a"),
            (500_000_000, Marker, "first"),
            (600_000_000, Output, "middle\r\n"),
            (900_000_000, Input, "\r"),
            (1_100_000_000, Marker, "second"),
            (1_300_000_000, Output, "more\r\n"),
            (1_800_000_000, Output, "end\r\n"),
            (2_000_000_000, Output, "done\r\n"),
        ],
    );
}

#[test]
fn resizing_v3() {
    let (h, ev) = parse("asciinema-player__resizing-v3.cast");
    assert_eq!((h.version, h.width, h.height), (3, 80, 24));
    check(
        &ev,
        &[
            (500_000_000, Output, "hello "),
            (1_000_000_000, Resize, "100x30"),
            (1_500_000_000, Output, "world"),
            (2_000_000_000, Resize, "50x10"),
            (2_100_000_000, Output, "!"),
            (2_100_000_000, Exit, "0"),
        ],
    );
}

#[test]
fn theme_256_v3() {
    let (h, ev) = parse("asciinema-player__theme-256-v3.cast");
    assert_eq!((h.width, h.height), (13, 2));
    assert_eq!(h.theme.as_ref().unwrap()["bg"], "#282a36");
    assert_eq!(ev.len(), 2);
    assert_eq!((ev[0].time_ns, &ev[0].kind), (0, &Output));
    assert!(ev[0].data.starts_with("\u{1b}[38;5;16m█\u{1b}[38;5;21m█"));
    assert_eq!(
        (ev[1].time_ns, &ev[1].kind, ev[1].data.as_str()),
        (0, &Exit, "0")
    );
}

#[test]
fn blank_lines_and_comments_v3() {
    let (h, ev) = parse("asciinema-server__blank-lines-and-comments-v3.cast");
    assert_eq!((h.width, h.height), (96, 26));
    check(
        &ev,
        &[
            (1_234_567_000, Output, "foo bar"),
            (5_678_987_000, Output, "baz qux"),
            (8_481_455_000, Output, "żółć jaźń"),
            (9_481_455_000, Output, "bye!"),
        ],
    );
}

#[test]
fn invalid_resize_v3_strict_fails_lenient_skips() {
    let name = "asciinema-server__invalid-resize-v3.cast";
    let bytes = read(name);
    let line3 = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i as u64 + 1)
        .unwrap();
    let mut r = CastReader::new(&bytes[..]).unwrap();
    let first = r.next().unwrap().unwrap();
    assert_eq!(
        (first.time_ns, first.data.as_str()),
        (1_234_000_000, "foo bar")
    );
    let err = r.next().unwrap().unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert_eq!(err.offset(), Some(line3));
    let msg = err.to_string();
    assert!(msg.contains("resize data \"-1x0\""), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(r.next().is_none(), "the reader stops after an error");

    let mut r = CastReader::lenient(&bytes[..]).unwrap();
    let ev: Vec<_> = r.by_ref().collect::<Result<_, _>>().unwrap();
    // The skipped resize's interval (1.0) still counts for the next event.
    check(
        &ev,
        &[
            (1_234_000_000, Output, "foo bar"),
            (2_734_000_000, Output, "baz qux"),
        ],
    );
    assert_eq!(r.skipped(), 1);
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(r.warnings()[0].line(), Some(3));
    assert!(r.warnings()[0].reason().contains("-1x0"));
}

#[test]
fn every_fixture_is_covered_and_round_trips() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cast") || n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10, "{names:?}");
    let mut round_tripped = 0;
    for name in &names {
        let bytes = read(name);
        let strict = CastReader::new(&bytes[..])
            .unwrap()
            .collect::<Result<Vec<_>, _>>();
        if name.contains("invalid-resize") {
            assert!(strict.is_err(), "{name}");
            continue;
        }
        let ev = strict.unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = CastReader::new(&bytes[..]).unwrap().header().clone();
        for v3 in [false, true] {
            let mut w = if v3 {
                CastWriter::new_v3(Vec::new(), &h).unwrap()
            } else {
                CastWriter::new_v2(Vec::new(), &h).unwrap()
            };
            for e in &ev {
                w.event(e.time_ns, &e.kind, &e.data).unwrap();
            }
            assert_eq!(w.events(), ev.len() as u64);
            let out = w.finish().unwrap();
            let r = CastReader::new(&out[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
            let h2 = r.header().clone();
            assert_eq!(h2.version, if v3 { 3 } else { 2 });
            assert_eq!((h2.width, h2.height), (h.width, h.height), "{name}");
            assert_eq!(h2.timestamp, h.timestamp, "{name}");
            assert_eq!(h2.idle_time_limit, h.idle_time_limit, "{name}");
            assert_eq!(h2.command, h.command, "{name}");
            assert_eq!(h2.env, h.env, "{name}");
            assert_eq!(h2.theme, h.theme, "{name}");
            let back: Vec<_> = r.collect::<Result<_, _>>().unwrap();
            assert_eq!(back, ev, "{name} (v3 {v3}): events must come back exactly");
        }
        round_tripped += 1;
    }
    assert_eq!(round_tripped, 9);
}
