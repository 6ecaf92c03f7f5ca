//! The terminal model: a channel's output fed into a real VT emulator ([`avt`], asciinema's),
//! with the text that the screen showed streamed out line by line, each with its time.
//!
//! Shared by `text` (the transcript), `commands` and `search`.
//!
//! * Lines come out as they leave the screen (scrolled away, wiped by a clear, a hard reset)
//!   and, at the end, the lines still on screen. Soft-wrapped rows are joined into one line.
//!   Nothing is kept: memory is the emulator's screen (at most [`MAX_COLS`] × [`MAX_ROWS`]) plus
//!   one line of at most [`MAX_LINE_CHARS`] characters; the rest of a longer line is counted
//!   in [`TextLine::cut`], never stored.
//! * Every line carries the time it was completed: when a newline ended it, or, if it was never
//!   ended by a newline (or was changed after it), when it scrolled away or was cleared; lines
//!   still open at the end carry the end time.
//! * Full-screen programs (the alternate screen: vim, less, top) are never dropped silently:
//!   they become an [`AltBlock`] with the program's last frame and its time on screen, placed
//!   after the line the cursor was on (or just left) when the program started.
//!
//! The escape-sequence parsing is avt's; this module only watches its operations (the
//! [`avt::Observer`] hooks) to time lines and to catch the alternate screen.

mod alt;
pub mod channel;
mod items;
mod lines;
mod model;
mod observer;
mod screen;

pub use items::{AltBlock, AltEnd, Captured, TextItem, TextLine};
pub use model::TermModel;
pub use screen::{clamp_size, logical_line, screen_rows};

/// Errors of the text views.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Reading the recording (the error names the file and the byte offset).
    #[error(transparent)]
    Bsr(#[from] bsr_core::Error),
    /// Selecting the channel.
    #[error(transparent)]
    Convert(#[from] crate::error::ConvertError),
    /// Writing the output.
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
    /// A channel with no terminal (forwarding, a subsystem, no shell or exec).
    #[error("{0}")]
    NotInteractive(String),
    /// A structure the views cannot follow.
    #[error("{0}")]
    Malformed(String),
    /// A window size the emulator refused.
    #[error("terminal size {0}")]
    Size(#[from] avt::InvalidSize),
}

/// Recording text made safe to print: control characters (C0, DEL, C1) and bidirectional
/// overrides become `\u{…}`, so nothing from the recording can move the reader's cursor,
/// recolour, retitle or reorder their terminal. Everything else is kept as it was shown.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !needs_escape(s.as_bytes()) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether UTF-8 text holds a character that [`printable`] escapes, in one pass over its
/// bytes: C0 and DEL are single bytes; C1 (U+0080–U+009F) is `C2 80`–`C2 9F`; the
/// bidirectional marks and overrides (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) are
/// `E2 80 8E`, `E2 80 8F`, `E2 80 AA`–`E2 80 AE` and `E2 81 A6`–`E2 81 A9`.
#[inline]
fn needs_escape(b: &[u8]) -> bool {
    let mut i = 0;
    // 32 positions at a time while none of them starts one of those sequences (a test without
    // branches that the compiler turns into vector compares); then byte by byte.
    while let Some(w) = b.get(i..i + ESCAPE_BLOCK + 2) {
        if block_needs_escape(w) {
            break;
        }
        i += ESCAPE_BLOCK;
    }
    while i < b.len() {
        let c = b[i];
        if c < 0x20 || c == 0x7f {
            return true;
        }
        if c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            return true;
        }
        if c == 0xe2 {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(0x80), Some(0x8e | 0x8f | 0xaa..=0xae)) => return true,
                (Some(0x81), Some(0xa6..=0xa9)) => return true,
                _ => {}
            }
        }
        i += 1;
    }
    false
}

/// Positions tested at once by [`block_needs_escape`].
const ESCAPE_BLOCK: usize = 32;

/// Whether one of the first [`ESCAPE_BLOCK`] positions of `w` (which holds two more bytes, for
/// the sequences that start near its end) starts a character that [`printable`] escapes.
#[inline]
fn block_needs_escape(w: &[u8]) -> bool {
    let mut bad = false;
    for j in 0..ESCAPE_BLOCK.min(w.len().saturating_sub(2)) {
        let (c, n1, n2) = (w[j], w[j + 1], w[j + 2]);
        let c1 = (c == 0xc2) & (0x80..=0x9f).contains(&n1);
        let bidi = (c == 0xe2)
            & (((n1 == 0x80) & ((n2 == 0x8e) | (n2 == 0x8f) | (0xaa..=0xae).contains(&n2)))
                | ((n1 == 0x81) & (0xa6..=0xa9).contains(&n2)));
        bad |= (c < 0x20) | (c == 0x7f) | c1 | bidi;
    }
    bad
}

/// Widest terminal modelled; wider window sizes are clamped (and reported).
pub const MAX_COLS: usize = 1000;
/// Tallest terminal modelled; taller window sizes are clamped (and reported).
pub const MAX_ROWS: usize = 500;
/// Longest line kept, in characters (screen cells); the rest is counted, not stored.
pub const MAX_LINE_CHARS: usize = 64 * 1024;
/// Bytes of text given to the emulator per call, so the lines one call completes stay bounded.
const FEED_SLICE: usize = 16 * 1024;
/// Full-screen blocks waiting for the line they follow to leave the screen; more are released
/// at once (slightly early) so that memory stays bounded.
const MAX_WAITING_BLOCKS: usize = 16;
/// `clear` for screen and tmux terminals (terminfo `clear`), and what it is fed to avt as.
const CLEAR_HOME_ED0: &str = "\x1b[H\x1b[J";
const CLEAR_HOME_ED2: &str = "\x1b[H\x1b[2J";

/// Least time between two snapshots of a full-screen program's frame taken at a clear.
const SNAPSHOT_GAP_NANOS: i128 = 50_000_000;

#[cfg(test)]
mod printable_tests {
    use super::{needs_escape, printable};

    fn reference(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }

    #[test]
    fn the_byte_scan_agrees_with_the_character_rule_for_every_character() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let mut s = String::from("a");
            s.push(c);
            s.push('b');
            assert_eq!(needs_escape(s.as_bytes()), reference(c), "{c:?}");
            // At the very end too (a sequence cut by the end of the text).
            assert_eq!(
                needs_escape(c.to_string().as_bytes()),
                reference(c),
                "{c:?}"
            );
        }
    }

    #[test]
    fn the_block_scan_agrees_at_every_position() {
        // Every character that needs escaping, and its near misses, at every offset of a
        // text longer than a few blocks, and cut by the end of the text.
        let probes = [
            '\u{0}', '\u{1b}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', '\u{200d}',
            '\u{200e}', '\u{200f}', '\u{2010}', '\u{2029}', '\u{202a}', '\u{202e}', '\u{202f}',
            '\u{2065}', '\u{2066}', '\u{2069}', '\u{206a}', '—', '✓', 'é',
        ];
        for c in probes {
            for at in 0..100 {
                let s = format!("{}{c}{}", "x".repeat(at), "y".repeat(100 - at));
                assert_eq!(needs_escape(s.as_bytes()), reference(c), "{c:?} at {at}");
                let cut = format!("{}{c}", "x".repeat(at));
                assert_eq!(
                    needs_escape(cut.as_bytes()),
                    reference(c),
                    "{c:?} at the end, {at}"
                );
            }
        }
    }

    #[test]
    fn escapes_controls_and_bidi_and_keeps_the_rest() {
        assert_eq!(printable("é ✓ données"), "é ✓ données");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\u{202e}y\u{85}"), "x\\u{202e}y\\u{85}");
    }
}
