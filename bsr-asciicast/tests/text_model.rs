//! The terminal model on its own: line times, clears, full-screen blocks, long lines, resizes,
//! and the same lines as avt's own `Transcript` for any input (a property test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use avt::Terminal;
use avt::observer::Transcript;
use bsr_asciicast::term::{AltEnd, MAX_LINE_CHARS, TermModel, TextItem, TextLine};
use bsr_core::Timestamp;
use proptest::prelude::*;

fn ts(ms: u64) -> Timestamp {
    Timestamp::new(1_700_000_000 + ms / 1000, (ms % 1000) as u32 * 1_000_000)
}

/// Feeds `(ms, text)` steps; returns every item, the end at `end_ms`.
fn run(cols: u32, rows: u32, steps: &[(u64, &str)], end_ms: u64) -> Vec<TextItem> {
    let mut m = TermModel::new(cols, rows).unwrap();
    let mut out = Vec::new();
    let mut sink = |i| {
        out.push(i);
        Ok::<(), ()>(())
    };
    for (ms, s) in steps {
        m.feed(ts(*ms), s, &mut sink).unwrap();
    }
    m.finish(ts(end_ms), &mut sink).unwrap();
    out
}

fn lines(items: &[TextItem]) -> Vec<(String, u64)> {
    items
        .iter()
        .filter_map(|i| match i {
            TextItem::Line(TextLine { text, time, .. }) => Some((
                text.clone(),
                ((time.as_nanos() - ts(0).as_nanos()) / 1_000_000) as u64,
            )),
            TextItem::AltScreen(_) => None,
        })
        .collect()
}

fn texts(items: &[TextItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            TextItem::Line(l) => l.text.clone(),
            TextItem::AltScreen(b) => format!("[alt {}] {}", b.ended.as_str(), b.frame.join("|")),
        })
        .collect()
}

#[test]
fn lines_carry_the_time_of_their_newline_or_their_scroll() {
    // 3 rows: "one" is ended at 10 and scrolls away at 40; it keeps 10.
    let items = run(
        20,
        3,
        &[
            (10, "one\r\n"),
            (20, "two\r\n"),
            (30, "three"),
            (40, "\r\nfour\r\n"),
        ],
        100,
    );
    assert_eq!(
        lines(&items),
        [
            ("one".to_string(), 10),
            ("two".to_string(), 20),
            ("three".to_string(), 40),
            ("four".to_string(), 40)
        ]
    );
    // A line never ended by a newline: the time it scrolled away (an explicit scroll-up).
    let items = run(20, 2, &[(10, "abc"), (50, "\x1b[S")], 90);
    assert_eq!(lines(&items)[0], ("abc".to_string(), 50));
    // A line still open at the end: the end time.
    let items = run(20, 2, &[(10, "open")], 90);
    assert_eq!(lines(&items), [("open".to_string(), 90)]);
}

#[test]
fn a_line_changed_after_its_newline_takes_the_later_time() {
    // "first" ended at 10; at 30 the cursor goes back up and rewrites it; it scrolls at 60.
    let items = run(
        20,
        3,
        &[
            (10, "first\r\nsecond\r\n"),
            (30, "\x1b[2A\rFIRST"),
            (40, "\x1b[2B\r"),
            (60, "x\r\ny\r\nz\r\n"),
        ],
        100,
    );
    let l = lines(&items);
    assert_eq!(l[0], ("FIRST".to_string(), 60), "{l:?}");
    assert_eq!(l[1], ("second".to_string(), 10), "{l:?}");
}

#[test]
fn clear_loses_nothing_and_keeps_times() {
    // asciinema issue 739: the text before a clear is kept. `clear` is ESC[H ESC[2J ESC[3J
    // for xterm, and ESC[H ESC[J (ED0 from the top-left corner) for screen and tmux.
    for clear in ["\x1b[H\x1b[2J\x1b[3J", "\x1b[H\x1b[J\x1b[3J"] {
        let after = format!("{clear}$ echo after\r\nafter\r\n$ ");
        let items = run(
            40,
            5,
            &[(10, "$ echo before\r\nbefore\r\n$ clear\r\n"), (20, &after)],
            30,
        );
        assert_eq!(
            lines(&items),
            [
                ("$ echo before".to_string(), 10),
                ("before".to_string(), 10),
                ("$ clear".to_string(), 10),
                ("$ echo after".to_string(), 20),
                ("after".to_string(), 20),
                ("$".to_string(), 30),
            ],
            "{clear:?}"
        );
    }
    // ED0 elsewhere erases below without writing anything out.
    let items = run(20, 5, &[(10, "one\r\ntwo\x1b[1;2H\x1b[J")], 30);
    assert_eq!(lines(&items), [("o".to_string(), 30)]);
}

#[test]
fn resize_keeps_line_times_through_reflow() {
    let mut m = TermModel::new(10, 4).unwrap();
    let mut out = Vec::new();
    let mut sink = |i| {
        out.push(i);
        Ok::<(), ()>(())
    };
    m.feed(ts(10), "0123456789abcdef\r\nshort\r\n", &mut sink)
        .unwrap();
    m.resize(ts(20), 5, 3, &mut sink).unwrap();
    m.resize(ts(30), 30, 10, &mut sink).unwrap();
    m.feed(ts(40), "end", &mut sink).unwrap();
    m.finish(ts(50), &mut sink).unwrap();
    let l = lines(&out);
    assert_eq!(
        l,
        [
            ("0123456789abcdef".to_string(), 10),
            ("short".to_string(), 10),
            ("end".to_string(), 50)
        ]
    );
}

#[test]
fn scroll_regions_keep_lines_and_times() {
    // A status line at the bottom, a scroll region above it (apt-style progress).
    let mut steps = vec![(10, "\x1b[1;3r\x1b[1;1H".to_string())];
    for i in 0..6u64 {
        steps.push((20 + i * 10, format!("line {i}\r\n")));
    }
    steps.push((100, "\x1b[r\x1b[4;1Hstatus".to_string()));
    let s: Vec<(u64, &str)> = steps.iter().map(|(t, s)| (*t, s.as_str())).collect();
    let items = run(20, 4, &s, 200);
    let l = lines(&items);
    // Rows scrolled out of a region whose top is the screen's top leave as history.
    assert_eq!(l[0], ("line 0".to_string(), 20), "{l:?}");
    assert_eq!(l[1], ("line 1".to_string(), 30), "{l:?}");
    assert!(l.iter().any(|x| x.0 == "status"), "{l:?}");
}

#[test]
fn full_screen_program_is_a_block_after_the_command() {
    let items = run(
        30,
        5,
        &[
            (10, "$ vim notes\r\n"),
            (20, "\x1b[?1049h\x1b[H\x1b[2Jhello world\r\n~\r\n~"),
            (30, "\x1b[5;1H\"notes\" written"),
            (5_030, "\x1b[?1049l"),
            (5_040, "$ ls\r\nnotes\r\n$ "),
        ],
        6_000,
    );
    assert_eq!(
        texts(&items),
        [
            "$ vim notes",
            "[alt exit] hello world|~|~||\"notes\" written",
            "$ ls",
            "notes",
            "$"
        ]
    );
    let TextItem::AltScreen(b) = &items[1] else {
        panic!()
    };
    assert_eq!(b.ended, AltEnd::Exit);
    assert!((b.seconds() - 5.01).abs() < 1e-9, "{}", b.seconds());
    assert!(!b.blank);
}

#[test]
fn block_waits_for_its_line_to_scroll_and_open_program_at_the_end() {
    // The command line stays on screen during the program; later output scrolls it away.
    let items = run(
        20,
        3,
        &[
            (10, "top\r\n$ less f\r\n"),
            (20, "\x1b[?1049hpage 1\x1b[?1049l"),
            (30, "$ a\r\n$ b\r\n$ c\r\n"),
            (40, "\x1b[?1049hstill here"),
        ],
        50,
    );
    assert_eq!(
        texts(&items),
        [
            "top",
            "$ less f",
            "[alt exit] page 1",
            "$ a",
            "$ b",
            "$ c",
            "[alt recording-end] still here"
        ]
    );
}

#[test]
fn program_that_blanks_its_screen_before_leaving_keeps_its_last_frame() {
    let items = run(
        20,
        3,
        &[
            (10, "$ top\r\n\x1b[?1049h"),
            (20, "load 0.5\r\ncpu 3%"),
            (200, "\x1b[H\x1b[2J\x1b[?1049l$ "),
        ],
        300,
    );
    assert_eq!(
        texts(&items),
        ["$ top", "[alt exit] load 0.5|cpu 3%", "$"],
        "{items:?}"
    );
    // Never anything printed: the block says the screen was blank.
    let items = run(20, 3, &[(10, "\x1b[?1049h\x1b[?1049l")], 20);
    let TextItem::AltScreen(b) = &items[0] else {
        panic!("{items:?}")
    };
    assert!(b.blank && b.frame.is_empty());
}

#[test]
fn program_that_scrolls_its_screen_on_leaving_keeps_its_first_row() {
    // vim: a message on the bottom row, a newline there (the screen scrolls), then it leaves.
    let vim = "\x1b[H\x1b[2Jhello\r\n~\r\n~\x1b[4;1H\"f\" 1L written\r\r\n\x1b[?1049l$ ";
    let items = run(20, 4, &[(10, "$ vim f\r\n\x1b[?1049h"), (20, vim)], 30);
    assert_eq!(
        texts(&items),
        ["$ vim f", "[alt exit] hello|~|~|\"f\" 1L written", "$"],
        "{items:?}"
    );
    // Text written after the scroll: the frame is the screen as it was when it left.
    let pager = "1\r\n2\r\n3\r\n4\r\n5\x1b[?1049l$ ";
    let items = run(20, 4, &[(10, "$ less\r\n\x1b[?1049h"), (20, pager)], 30);
    assert_eq!(
        texts(&items),
        ["$ less", "[alt exit] 2|3|4|5", "$"],
        "{items:?}"
    );
}

#[test]
fn hard_reset_flushes_the_screen() {
    let items = run(
        20,
        4,
        &[(10, "a\r\nb\r\n"), (20, "\x1b[?1049hX\x1bc"), (30, "new")],
        40,
    );
    assert_eq!(texts(&items), ["a", "b", "[alt reset] X", "new"]);
}

#[test]
fn long_lines_are_cut_at_the_bound_and_counted() {
    let mut m = TermModel::new(80, 24).unwrap();
    let mut out = Vec::new();
    let mut sink = |i| {
        out.push(i);
        Ok::<(), ()>(())
    };
    let chunk = "x".repeat(10_000);
    let total = 30 * 10_000;
    for i in 0..30 {
        m.feed(ts(i), &chunk, &mut sink).unwrap();
    }
    m.feed(ts(40), "\r\nnext\r\n", &mut sink).unwrap();
    m.finish(ts(50), &mut sink).unwrap();
    let TextItem::Line(l) = &out[0] else { panic!() };
    assert_eq!(l.text.chars().count(), MAX_LINE_CHARS);
    assert_eq!(l.cut, (total - MAX_LINE_CHARS) as u64);
    let TextItem::Line(n) = &out[1] else { panic!() };
    assert_eq!((n.text.as_str(), n.cut), ("next", 0));
}

#[test]
fn window_sizes_are_clamped() {
    let m = TermModel::new(1_000_000, 0).unwrap();
    assert!(m.clamped());
    assert_eq!(m.terminal().size(), (1000, 1));
    let mut m = TermModel::new(80, 24).unwrap();
    assert!(!m.clamped());
    m.resize(ts(1), u32::MAX, u32::MAX, &mut |_| Ok::<(), ()>(()))
        .unwrap();
    assert_eq!(m.terminal().size(), (1000, 500));
    assert!(m.clamped());
}

#[test]
fn hostile_sequences_show_only_what_the_screen_showed() {
    // A title and a clipboard write holding a fake command, huge repeat counts and cursor
    // moves, cursor-up over earlier lines.
    let items = run(
        40,
        5,
        &[
            (10, "$ ls\r\nfile\r\n"),
            (20, "\x1b]0;rm -rf / # title\x07\x1b]52;c;cm0gLXJmIC8=\x07"),
            (
                30,
                "y\x1b[65535b\x1b[99999999999C\x1b[99999999999A\x1b[999999999999L",
            ),
            (40, "\x1b[H\x1b[2J$ "),
        ],
        50,
    );
    let all = texts(&items).join("\n");
    assert!(!all.contains("rm -rf"), "{all}");
    assert!(!all.contains("cm0g"), "{all}");
    // The repeat count is what the screen showed (REP wraps and scrolls), bounded by u16.
    let ys = all.chars().filter(|c| *c == 'y').count();
    assert!((40..=65_536).contains(&ys), "{ys}");
    // Cursor-up and insert-line over the earlier lines did not rewrite them.
    assert!(all.starts_with("$ ls\nfile\n"), "{}", &all[..40]);
}

/// Hostile-ish input pieces for the property test.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,12}",
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\x08".to_string()),
        Just("\x1b[A".to_string()),
        Just("\x1b[3A".to_string()),
        Just("\x1b[B".to_string()),
        Just("\x1b[K".to_string()),
        Just("\x1b[2K".to_string()),
        Just("\x1b[J".to_string()),
        Just("\x1b[1J".to_string()),
        Just("\x1b[H\x1b[2J".to_string()),
        Just("\x1b[H\x1b[J".to_string()),
        Just("\x1b[3J".to_string()),
        Just("\x1b[2L".to_string()),
        Just("\x1b[M".to_string()),
        Just("\x1b[2S".to_string()),
        Just("\x1b[T".to_string()),
        Just("\x1bM".to_string()),
        Just("\x1b[2;3r".to_string()),
        Just("\x1b[r".to_string()),
        Just("\x1b[?1049h".to_string()),
        Just("\x1b[?1049l".to_string()),
        Just("\x1b[?47h".to_string()),
        Just("\x1b[?1047l".to_string()),
        Just("\x1b[5b".to_string()),
        Just("界".to_string()),
        Just("\x1bc".to_string()),
        Just("\x1b]133;A\x07$ \x1b]133;B\x07".to_string()),
        (1u32..12, 1u32..6).prop_map(|(c, r)| format!("<resize {c} {r}>")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The lines are avt's own transcript's, whatever the input and however it is cut; times
    /// never come before the line's text could have been complete, nor after it was emitted.
    #[test]
    fn same_lines_as_avt_transcript(pieces in proptest::collection::vec(piece(), 0..40)) {
        let mut m = TermModel::new(8, 4).unwrap();
        let mut reference = Terminal::new(8, 4).unwrap();
        let mut tr = Transcript::new();
        let mut want = Vec::new();
        let mut got = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let now = ts(i as u64);
            let mut sink = |item: TextItem| {
                if let TextItem::Line(l) = &item {
                    assert!(l.time <= now);
                }
                got.push(item);
                Ok::<(), ()>(())
            };
            if let Some(size) = p.strip_prefix("<resize ").and_then(|s| s.strip_suffix('>')) {
                let (c, r) = size.split_once(' ').unwrap();
                let (c, r): (u32, u32) = (c.parse().unwrap(), r.parse().unwrap());
                m.resize(now, c, r, &mut sink).unwrap();
                want.extend(reference.resize_with(c as usize, r as usize, &mut tr));
            } else {
                m.feed(now, p, &mut sink).unwrap();
                // The model feeds `clear` of screen/tmux terminals (ESC[H ESC[J) as ED2.
                let p = p.replace("\x1b[H\x1b[J", "\x1b[H\x1b[2J");
                want.extend(reference.feed_with(p.as_str(), &mut tr));
            }
        }
        m.finish(ts(1000), &mut |i| { got.push(i); Ok::<(), ()>(()) }).unwrap();
        want.extend(tr.finish(&reference));
        let got_lines: Vec<String> = got.iter().filter_map(|i| match i {
            TextItem::Line(l) => Some(l.text.clone()),
            _ => None,
        }).collect();
        prop_assert_eq!(got_lines, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Lent items (`feed_lent`, whose line buffers the model reuses) are the items that `feed`
    /// gives: a reused buffer never carries text of an earlier line.
    #[test]
    fn lent_items_equal_given_items(
        pieces in proptest::collection::vec(piece(), 0..60),
        long in proptest::collection::vec("[a-z ]{0,40}\r\n", 0..700),
    ) {
        let mut given = TermModel::new(8, 4).unwrap();
        let mut lent = TermModel::new(8, 4).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Many lines in one feed (more than the model keeps buffers for), then the pieces.
        let feeds = std::iter::once(long.concat()).chain(pieces.iter().filter(|p| !p.starts_with("<resize")).cloned());
        for (i, p) in feeds.enumerate() {
            let now = ts(i as u64);
            given.feed(now, &p, &mut |item| { a.push(item); Ok::<(), ()>(()) }).unwrap();
            lent.feed_lent(now, &p, &mut |item: &TextItem| { b.push(item.clone()); Ok::<(), ()>(()) }).unwrap();
        }
        given.finish(ts(1000), &mut |item| { a.push(item); Ok::<(), ()>(()) }).unwrap();
        lent.finish(ts(1000), &mut |item| { b.push(item); Ok::<(), ()>(()) }).unwrap();
        prop_assert_eq!(a, b);
    }
}
