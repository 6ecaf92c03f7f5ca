//! The line model: the observer's state, and how rows of the normal screen become timed
//! [`TextLine`]s (soft-wrapped rows joined, long lines cut, row times followed across
//! operations that move rows).

use super::alt::AltState;
use super::screen::logical_line;
use super::{AltBlock, Captured, MAX_LINE_CHARS, TextItem, TextLine};
use avt::{Anchor, Line, Observation, Position, ScreenKind, Terminal};
use bsr_core::Timestamp;
use std::collections::VecDeque;

/// The observer: times lines, joins wrapped rows, caps line length, catches full-screen
/// programs.
pub(super) struct Lines {
    pub(super) now: Timestamp,
    pub(super) rows: usize,
    /// Per visible primary row: when a newline ended it (and it has not changed since).
    pub(super) ended: VecDeque<Option<Timestamp>>,
    /// The primary row the last print reopened, while only prints followed (`usize::MAX`:
    /// none), and the width then.
    pub(super) open_row: usize,
    pub(super) open_cols: usize,
    /// Whether scroll margins (DECSTBM) are set: a newline can then scroll part of the screen.
    pub(super) margins: bool,
    /// The ended rows, anchored before an operation that moves rows around.
    pub(super) remap: Option<Vec<(Anchor, Timestamp)>>,
    /// Times of the rows that an operation pushed out and that are about to be evicted.
    pub(super) pre_ended: VecDeque<Option<Timestamp>>,
    pub(super) pending: String,
    pub(super) pending_chars: usize,
    pub(super) cut: u64,
    pub(super) out: Vec<TextItem>,
    /// Blocks to release once the current logical line completes.
    pub(super) release: Vec<AltBlock>,
    /// Blocks waiting for their anchor line to leave the screen.
    pub(super) waiting: VecDeque<(Option<Anchor>, AltBlock)>,
    /// Release blocks as soon as the program leaves (for `commands`).
    pub(super) immediate_blocks: bool,
    pub(super) alt: Option<AltState>,
    pub(super) kind: ScreenKind,
    /// Cursor on the primary screen just before an operation that may switch screens.
    pub(super) entry_cursor: Option<(usize, usize)>,
    pub(super) capture: bool,
    pub(super) captured: Option<Captured>,
    /// Text buffers of lines already handed out and given back ([`Lines::recycle`]).
    pub(super) spare: Vec<String>,
}

/// Most text buffers kept for reuse (more than one feed slice usually completes), and the
/// largest kept (bytes of capacity): at most 512 KiB.
const SPARE_BUFFERS: usize = 512;
const SPARE_CAPACITY: usize = 1024;

impl Lines {
    pub(super) fn new(rows: usize) -> Self {
        Lines {
            now: Timestamp::default(),
            rows,
            ended: std::iter::repeat_n(None, rows).collect(),
            open_row: usize::MAX,
            open_cols: 0,
            margins: false,
            remap: None,
            pre_ended: VecDeque::new(),
            pending: String::new(),
            pending_chars: 0,
            cut: 0,
            out: Vec::new(),
            release: Vec::new(),
            waiting: VecDeque::new(),
            immediate_blocks: false,
            alt: None,
            kind: ScreenKind::Primary,
            entry_cursor: None,
            capture: false,
            captured: None,
            spare: Vec::new(),
        }
    }

    /// Takes back a line's text buffer for a later line (small ones, a bounded number).
    pub(super) fn recycle(&mut self, item: TextItem) {
        if let TextItem::Line(l) = item
            && l.text.capacity() <= SPARE_CAPACITY
            && self.spare.len() < SPARE_BUFFERS
        {
            let mut t = l.text;
            t.clear();
            self.spare.push(t);
        }
    }

    pub(super) fn forget_rows(&mut self) {
        self.ended.iter_mut().for_each(|e| *e = None);
    }

    pub(super) fn reopen(&mut self, row: usize) {
        if let Some(e) = self.ended.get_mut(row) {
            *e = None;
        }
    }

    /// Adds a row to the current logical line; a row that does not wrap completes it.
    pub(super) fn push_row(&mut self, line: &Line, time: Timestamp) {
        // Trailing blanks of a row that ends its line are not part of the line.
        let cells = line.cells();
        let used = if line.is_wrapped() {
            cells.len()
        } else {
            cells
                .iter()
                .rposition(|c| c.char() != ' ')
                .map_or(0, |i| i + 1)
        };
        if self.pending.is_empty() && self.pending_chars == 0 && !line.is_wrapped() {
            // A line of one row: straight out.
            let mut text = self.spare.pop().unwrap_or_default();
            push_cells(&mut text, &cells[..used]);
            let trimmed = text.trim_end().len();
            text.truncate(trimmed);
            self.out
                .push(TextItem::Line(TextLine { time, text, cut: 0 }));
            for b in self.release.drain(..) {
                self.out.push(TextItem::AltScreen(b));
            }
            return;
        }
        if self.pending_chars + used <= MAX_LINE_CHARS {
            push_cells(&mut self.pending, &cells[..used]);
            self.pending_chars += used;
        } else {
            // Beyond the bound, characters are counted; blanks only once text follows them
            // (or the row wraps on), as trailing blanks are not part of a line.
            let mut blanks = 0;
            for c in line.chars() {
                if self.pending_chars < MAX_LINE_CHARS {
                    self.pending.push(c);
                    self.pending_chars += 1;
                } else if c == ' ' {
                    blanks += 1;
                } else {
                    self.cut += blanks + 1;
                    blanks = 0;
                }
            }
            if line.is_wrapped() {
                self.cut += blanks;
            }
        }
        if !line.is_wrapped() {
            let text = self.pending.trim_end().to_string();
            self.pending.clear();
            self.pending_chars = 0;
            self.out.push(TextItem::Line(TextLine {
                time,
                text,
                cut: std::mem::take(&mut self.cut),
            }));
            for b in self.release.drain(..) {
                self.out.push(TextItem::AltScreen(b));
            }
        }
    }

    /// Everything on the primary screen, in order, with the waiting blocks at their places
    /// (the end of the recording, or a hard reset).
    pub(super) fn flush_screen(&mut self, term: &Terminal) {
        // Blocks whose line is gone come first.
        let mut at_row: Vec<(usize, AltBlock)> = Vec::new();
        for (anchor, b) in std::mem::take(&mut self.waiting) {
            match anchor.as_ref().and_then(|a| term.resolve(a)) {
                Some(p) if p.screen == ScreenKind::Primary && p.row >= 0 => {
                    at_row.push((p.row as usize, b))
                }
                _ => self.release.push(b),
            }
        }
        if !self.release.is_empty() && self.pending.is_empty() {
            for b in self.release.drain(..) {
                self.out.push(TextItem::AltScreen(b));
            }
        }
        let start = self.out.len();
        for (row, line) in term.primary_screen().visible_lines().enumerate() {
            for (_, b) in at_row.iter().filter(|(r, _)| *r == row) {
                self.release.push(b.clone());
            }
            let t = self.ended.get(row).copied().flatten().unwrap_or(self.now);
            self.push_row(line, t);
        }
        if !self.pending.is_empty() || self.pending_chars > 0 {
            // A last row that wraps (the screen's last row, full): complete it.
            let text = std::mem::take(&mut self.pending).trim_end().to_string();
            self.pending_chars = 0;
            self.out.push(TextItem::Line(TextLine {
                time: self.now,
                text,
                cut: std::mem::take(&mut self.cut),
            }));
        }
        for b in self.release.drain(..) {
            self.out.push(TextItem::AltScreen(b));
        }
        // Screen padding: blank lines at the bottom that no text followed (blocks stay).
        let mut i = self.out.len();
        while i > start {
            match &self.out[i - 1] {
                TextItem::Line(l) if l.text.is_empty() && l.cut == 0 => {
                    self.out.remove(i - 1);
                }
                TextItem::AltScreen(_) => {}
                TextItem::Line(_) => break,
            }
            i -= 1;
        }
        self.forget_rows();
    }

    /// Before an operation that moves primary rows: anchors on the rows a newline ended.
    pub(super) fn remap_before(&mut self, cx: &mut Observation<'_>) {
        let mut anchors = Vec::new();
        for (row, t) in self.ended.iter().enumerate() {
            if let Some(t) = t
                && let Some(a) = cx.anchor_at(Position {
                    screen: ScreenKind::Primary,
                    col: 0,
                    row: row as isize,
                })
            {
                anchors.push((a, *t));
            }
        }
        self.remap = Some(anchors);
    }

    /// After it: the ended times at the rows where their lines are now; rows pushed out (about
    /// to be evicted) keep theirs too.
    pub(super) fn remap_after(&mut self, term: &Terminal) {
        let Some(anchors) = self.remap.take() else {
            return;
        };
        let lines: Vec<&Line> = term.primary_screen().all_lines().collect();
        let rows = term.size().1;
        let k = lines.len().saturating_sub(rows);
        self.rows = rows;
        self.pre_ended = std::iter::repeat_n(None, k).collect();
        self.ended = std::iter::repeat_n(None, rows).collect();
        for (a, t) in anchors {
            let Some(p) = term.resolve(&a) else { continue };
            if p.screen != ScreenKind::Primary || p.row + (k as isize) < 0 {
                continue;
            }
            // The line's time goes on its last row.
            let mut i = (p.row + k as isize) as usize;
            while i + 1 < lines.len() && lines[i].is_wrapped() {
                i += 1;
            }
            let slot = if i < k {
                self.pre_ended.get_mut(i)
            } else {
                self.ended.get_mut(i - k)
            };
            if let Some(slot) = slot {
                *slot = Some(slot.map_or(t, |s| s.max(t)));
            }
        }
    }

    pub(super) fn capture_now(&mut self, term: &Terminal) {
        let c = term.cursor();
        let (text, _) = logical_line(term, c.row, c.col);
        self.captured = Some(Captured {
            time: self.now,
            text,
        });
        self.capture = false;
    }
}

/// Appends the characters of `cells` (not the second halves of wide characters, whose width
/// is 0), with the room reserved once and ASCII written as bytes.
#[inline]
fn push_cells(text: &mut String, cells: &[avt::Cell]) {
    text.reserve(cells.len());
    for c in cells {
        if c.width() != 0 {
            text.push(c.char());
        }
    }
}
