//! Memory stays bounded whatever the line length: a line of `BSR_TEXT_BIG_LINE_MIB` MiB
//! (default 32; the bound is 64 KiB characters) fed to the terminal model 1 MiB at a time
//! raises the process's peak RSS by far less than the line. Alone in its test binary so that
//! the peak is this test's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_asciicast::term::{MAX_LINE_CHARS, TermModel, TextItem};
use bsr_core::Timestamp;

/// Peak resident set size of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_huge_line_does_not_grow_memory() {
    let Some(before) = peak_rss_kib() else {
        eprintln!("SKIPPED: no /proc/self/status");
        return;
    };
    let mib: usize = std::env::var("BSR_TEXT_BIG_LINE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut m = TermModel::new(200, 50).unwrap();
    let mut lines = Vec::new();
    let mut sink = |i: TextItem| {
        if let TextItem::Line(l) = i {
            lines.push((l.text.len(), l.cut));
        }
        Ok::<(), ()>(())
    };
    // Coloured, to exercise the parser, never a newline.
    let unit = "\x1b[31mred\x1b[0m plain text plain text plain text plain text plain text plain";
    let piece: String = unit.repeat((1 << 20) / unit.len());
    let mut fed = 0usize;
    let mut i = 0u64;
    while fed < mib << 20 {
        m.feed(Timestamp::new(1, 0), &piece, &mut sink).unwrap();
        fed += piece.len();
        i += 1;
    }
    m.feed(Timestamp::new(2, 0), "\r\nafter\r\n", &mut sink)
        .unwrap();
    m.finish(Timestamp::new(3, 0), &mut sink).unwrap();
    let after = peak_rss_kib().unwrap();
    assert!(i > 0);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (kept, cut) = lines[0];
    assert!(
        (MAX_LINE_CHARS..=MAX_LINE_CHARS * 4).contains(&kept),
        "{kept}"
    );
    // Every visible character beyond the bound was counted, none twice.
    let visible = fed / unit.len() * (unit.len() - "\x1b[31m\x1b[0m".len());
    assert_eq!(cut as usize + kept, visible);
    // Keeping the line would take more than `visible` bytes; the model stays far below.
    let grown_mib = (after.saturating_sub(before)) / 1024;
    assert!(
        grown_mib < 16,
        "peak RSS grew by {grown_mib} MiB for a {mib} MiB line"
    );
}
