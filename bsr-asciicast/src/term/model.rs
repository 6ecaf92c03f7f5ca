//! [`TermModel`]: the emulator fed with a channel's output, its transcript streamed to a sink.

use super::lines::Lines;
use super::screen::{clamp_size, logical_line, screen_rows};
use super::{AltEnd, CLEAR_HOME_ED0, CLEAR_HOME_ED2, Captured, FEED_SLICE, TextItem};
use avt::{Observer, ScreenKind, Terminal};
use bsr_core::Timestamp;

/// A terminal fed with a channel's output: emits the transcript as it goes.
pub struct TermModel {
    term: Terminal,
    lines: Lines,
    clamped: bool,
}

impl std::fmt::Debug for TermModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (c, r) = self.term.size();
        f.debug_struct("TermModel")
            .field("cols", &c)
            .field("rows", &r)
            .finish_non_exhaustive()
    }
}

impl TermModel {
    /// A terminal of `cols` × `rows` (clamped to [`MAX_COLS`](super::MAX_COLS) × [`MAX_ROWS`](super::MAX_ROWS), at least 1×1)
    /// with no scrollback: lines leave memory as they leave the screen.
    pub fn new(cols: u32, rows: u32) -> Result<Self, avt::InvalidSize> {
        let (c, r, clamped) = clamp_size(cols, rows);
        Ok(TermModel {
            term: Terminal::new(c, r)?,
            lines: Lines::new(r),
            clamped,
        })
    }

    /// Full-screen blocks come out when the program leaves, not after the line they follow
    /// has left the screen (for `commands`, which follows the input).
    pub fn with_immediate_blocks(mut self) -> Self {
        self.lines.immediate_blocks = true;
        self
    }

    /// Whether a window size was clamped.
    pub fn clamped(&self) -> bool {
        self.clamped
    }

    /// The emulator (read-only).
    pub fn terminal(&self) -> &Terminal {
        &self.term
    }

    /// Feeds output shown at `time`; completed items go to `sink`.
    pub fn feed<E>(
        &mut self,
        time: Timestamp,
        text: &str,
        sink: &mut impl FnMut(TextItem) -> Result<(), E>,
    ) -> Result<(), E> {
        self.feed_slices(time, text, Self::feed_slice, |_, i| sink(i))
    }

    /// Like [`TermModel::feed`], but lends each item to `sink`: the model then reuses the
    /// lines' text buffers (a transcript written out line by line allocates nothing per line).
    pub fn feed_lent<E>(
        &mut self,
        time: Timestamp,
        text: &str,
        sink: &mut impl FnMut(&TextItem) -> Result<(), E>,
    ) -> Result<(), E> {
        self.feed_slices(time, text, Self::feed_slice, |lines, i| {
            let r = sink(&i);
            lines.recycle(i);
            r
        })
    }

    /// Feeds output with a second observer (for example avt's `ShellTracker`), whose reports
    /// go to `report`.
    pub fn feed_observed<O: Observer, E>(
        &mut self,
        time: Timestamp,
        text: &str,
        other: &mut O,
        sink: &mut impl FnMut(TextItem) -> Result<(), E>,
        mut report: impl FnMut(O::Output),
    ) -> Result<(), E> {
        self.feed_slices(
            time,
            text,
            |m, part| {
                let (items, r) = m.term.feed_with(part, (&mut m.lines, &mut *other));
                report(r);
                items
            },
            |_, i| sink(i),
        )
    }

    /// Feeds `text` (its `clear`s rewritten) to the emulator in slices of about
    /// [`FEED_SLICE`] bytes through `run`, handing each slice's completed items to `deliver`.
    fn feed_slices<E>(
        &mut self,
        time: Timestamp,
        text: &str,
        mut run: impl FnMut(&mut Self, &str) -> Vec<TextItem>,
        mut deliver: impl FnMut(&mut Lines, TextItem) -> Result<(), E>,
    ) -> Result<(), E> {
        self.lines.now = time;
        let cleared = without_ed0_clears(text);
        let mut text: &str = &cleared;
        while !text.is_empty() {
            let (part, rest) = text.split_at(slice_end(text));
            text = rest;
            for i in run(self, part) {
                deliver(&mut self.lines, i)?;
            }
        }
        Ok(())
    }

    /// One slice of output through the emulator with the line observer alone. Not generic and
    /// never inlined, so that it is compiled once, here: the emulator's per-character loop
    /// (avt's `feed_char`, generic over the observer) is then inlined into it the same way
    /// whichever binary calls it (when it was instantiated in each caller, an unrelated change
    /// there could stop the inlining and cost ~6 % of `text`).
    #[inline(never)]
    fn feed_slice(&mut self, part: &str) -> Vec<TextItem> {
        self.term.feed_with(part, (&mut self.lines, &mut ())).0
    }

    /// A window change at `time` (clamped like [`TermModel::new`]).
    pub fn resize<E>(
        &mut self,
        time: Timestamp,
        cols: u32,
        rows: u32,
        sink: &mut impl FnMut(TextItem) -> Result<(), E>,
    ) -> Result<(), E> {
        let (c, r, clamped) = clamp_size(cols, rows);
        self.clamped |= clamped;
        self.lines.now = time;
        for i in self.term.resize_with(c, r, &mut self.lines) {
            sink(i)?;
        }
        Ok(())
    }

    /// Asks for the cursor's logical line at the next newline on the normal screen (or when a
    /// full-screen program starts); [`TermModel::take_captured`] returns it.
    pub fn capture_at_newline(&mut self) {
        self.lines.capture = true;
        self.lines.captured = None;
    }

    /// Cancels [`TermModel::capture_at_newline`].
    pub fn cancel_capture(&mut self) {
        self.lines.capture = false;
    }

    /// The line caught by [`TermModel::capture_at_newline`], once.
    pub fn take_captured(&mut self) -> Option<Captured> {
        self.lines.captured.take()
    }

    /// The cursor's logical line now, and how many of its characters precede the cursor.
    pub fn cursor_line(&self) -> (String, usize) {
        let c = self.term.cursor();
        logical_line(&self.term, c.row, c.col)
    }

    /// Whether a full-screen program is on screen.
    pub fn in_alt_screen(&self) -> bool {
        self.term.active_screen_kind() == ScreenKind::Alternate
    }

    /// The active screen's rows now, trailing blanks removed, trailing blank rows dropped.
    pub fn screen(&self) -> Vec<String> {
        screen_rows(&self.term)
    }

    /// Ends the transcript at `time`: the lines still on screen, and the full-screen program
    /// still running, if any.
    pub fn finish<E>(
        mut self,
        time: Timestamp,
        sink: &mut impl FnMut(TextItem) -> Result<(), E>,
    ) -> Result<(), E> {
        self.lines.now = time;
        if self.lines.alt.is_some() {
            self.lines.close_alt(Some(&self.term), AltEnd::RecordingEnd);
        }
        self.lines.flush_screen(&self.term);
        for i in std::mem::take(&mut self.lines.out) {
            sink(i)?;
        }
        Ok(())
    }
}

/// `clear` on screen and tmux terminals is ESC[H ESC[J: from the top-left corner it wipes the
/// screen as ED2 does. Fed as ED2, avt moves what the screen held out first, so nothing before
/// that `clear` is lost either (asciinema issue 739).
fn without_ed0_clears(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(CLEAR_HOME_ED0) {
        std::borrow::Cow::Owned(text.replace(CLEAR_HOME_ED0, CLEAR_HOME_ED2))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Where the next slice given to the emulator ends: [`FEED_SLICE`] bytes, or a little more to
/// end on a character boundary.
fn slice_end(text: &str) -> usize {
    let mut cut = text.len().min(FEED_SLICE);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    cut
}
