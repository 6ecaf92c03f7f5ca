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
//! [`Observer`] hooks) to time lines and to catch the alternate screen.

pub mod channel;

use avt::parser::{DecMode, EdScope, Function};
use avt::{Anchor, Line, Observation, Observer, Operation, Position, ScreenKind, Terminal};
use bsr_core::Timestamp;
use std::collections::VecDeque;

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
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(bad) {
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

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    /// When it was completed (newline, scroll, clear, or the end of the recording).
    pub time: Timestamp,
    /// The text, soft-wrapped rows joined, trailing blanks removed, at most
    /// [`MAX_LINE_CHARS`] characters.
    pub text: String,
    /// Characters beyond [`MAX_LINE_CHARS`] that were not kept.
    pub cut: u64,
}

/// How a full-screen program's time on screen ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltEnd {
    /// The program switched back to the normal screen.
    Exit,
    /// A hard reset (RIS) of the terminal.
    Reset,
    /// The recording ended while it was on screen.
    RecordingEnd,
}

impl AltEnd {
    /// `exit`, `reset` or `recording-end`.
    pub fn as_str(self) -> &'static str {
        match self {
            AltEnd::Exit => "exit",
            AltEnd::Reset => "reset",
            AltEnd::RecordingEnd => "recording-end",
        }
    }
}

/// A full-screen program's time on the alternate screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltBlock {
    /// When it switched to the alternate screen.
    pub start: Timestamp,
    /// When it left it (or the recording ended).
    pub end: Timestamp,
    /// How it ended.
    pub ended: AltEnd,
    /// Its last frame: the rows of the alternate screen, trailing blanks removed, blank rows
    /// above and below the text dropped. When the program blanked its screen just before leaving, the last
    /// frame it showed before that clear.
    pub frame: Vec<String>,
    /// Whether the screen was blank when it left (and no earlier frame was caught).
    pub blank: bool,
}

impl AltBlock {
    /// Seconds on screen.
    pub fn seconds(&self) -> f64 {
        (self.end.as_nanos() - self.start.as_nanos()).max(0) as f64 / 1e9
    }
}

/// What the transcript produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextItem {
    /// A line of the normal screen.
    Line(TextLine),
    /// A full-screen program.
    AltScreen(AltBlock),
}

/// Clamps a requested window size to what is modelled; the flag says whether it was clamped.
pub fn clamp_size(cols: u32, rows: u32) -> (usize, usize, bool) {
    let c = (cols as usize).clamp(1, MAX_COLS);
    let r = (rows as usize).clamp(1, MAX_ROWS);
    (c, r, c != cols as usize || r != rows as usize)
}

/// The text of a logical line (soft-wrapped rows joined) around `row` of the active screen,
/// trailing blanks removed, and the number of characters before `col` on `row`.
pub fn logical_line(term: &Terminal, row: usize, col: usize) -> (String, usize) {
    let screen = term.screen();
    let lines: Vec<&Line> = screen.visible_lines().collect();
    if row >= lines.len() {
        return (String::new(), 0);
    }
    let mut start = row;
    while start > 0 && lines[start - 1].is_wrapped() {
        start -= 1;
    }
    let mut end = row;
    while end + 1 < lines.len() && lines[end].is_wrapped() {
        end += 1;
    }
    let mut text = String::new();
    let mut before = 0;
    for (i, line) in lines[start..=end].iter().enumerate() {
        if start + i == row {
            // Wide characters occupy two cells but are one character.
            before = text.chars().count()
                + line.cells()[..col.min(line.len())]
                    .iter()
                    .filter(|c| c.width() != 0)
                    .count();
        }
        text.extend(line.chars());
    }
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    (text, before)
}

/// The rows of the active screen, trailing blanks removed, trailing blank rows dropped.
pub fn screen_rows(term: &Terminal) -> Vec<String> {
    let mut rows: Vec<String> = term
        .screen()
        .visible_lines()
        .map(|l| l.text().trim_end().to_string())
        .collect();
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    rows
}

fn has_alt_mode(modes: &avt::parser::DecModes) -> bool {
    modes.as_slice().iter().any(|m| {
        matches!(
            m,
            DecMode::AltScreenBuffer | DecMode::SaveCursorAltScreenBuffer
        )
    })
}

/// A full-screen program on screen now.
struct AltState {
    start: Timestamp,
    /// The primary-screen line the block follows (`None`: before everything on screen).
    anchor: Option<Anchor>,
    /// A frame caught just before a clear.
    frame: Option<Vec<String>>,
    /// Characters printed since the last snapshot.
    dirty: bool,
    snap_time: Option<Timestamp>,
    /// The frame caught just before leaving.
    exit_frame: Option<Vec<String>>,
    /// While newlines on the bottom row have scrolled the screen and nothing has changed its
    /// text since: the frame from before the first of them (`None` inside when rate-limited).
    /// vim ends that way, which would push its first row out of the last frame.
    scroll_frame: Option<Option<Vec<String>>>,
    scroll_snap_time: Option<Timestamp>,
}

/// Whether an operation changes the text on the screen (cursor moves and modes do not).
fn changes_text(f: &Function) -> bool {
    matches!(
        f,
        Function::Print(_)
            | Function::Rep(_)
            | Function::Decaln
            | Function::Ed(_)
            | Function::El(_)
            | Function::Ech(_)
            | Function::Dch(_)
            | Function::Ich(_)
            | Function::Il(_)
            | Function::Dl(_)
            | Function::Su(_)
            | Function::Sd(_)
            | Function::Ri
    )
}

/// What a shell-input watcher asked for: the cursor's logical line the next time a newline is
/// executed on the normal screen (or a full-screen program starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// When.
    pub time: Timestamp,
    /// The logical line's text.
    pub text: String,
}

/// The observer: times lines, joins wrapped rows, caps line length, catches full-screen
/// programs.
struct Lines {
    now: Timestamp,
    rows: usize,
    /// Per visible primary row: when a newline ended it (and it has not changed since).
    ended: VecDeque<Option<Timestamp>>,
    /// The primary row the last print reopened, while only prints followed (`usize::MAX`:
    /// none), and the width then.
    open_row: usize,
    open_cols: usize,
    /// Whether scroll margins (DECSTBM) are set: a newline can then scroll part of the screen.
    margins: bool,
    /// The ended rows, anchored before an operation that moves rows around.
    remap: Option<Vec<(Anchor, Timestamp)>>,
    /// Times of the rows that an operation pushed out and that are about to be evicted.
    pre_ended: VecDeque<Option<Timestamp>>,
    pending: String,
    pending_chars: usize,
    cut: u64,
    out: Vec<TextItem>,
    /// Blocks to release once the current logical line completes.
    release: Vec<AltBlock>,
    /// Blocks waiting for their anchor line to leave the screen.
    waiting: VecDeque<(Option<Anchor>, AltBlock)>,
    /// Release blocks as soon as the program leaves (for `commands`).
    immediate_blocks: bool,
    alt: Option<AltState>,
    kind: ScreenKind,
    /// Cursor on the primary screen just before an operation that may switch screens.
    entry_cursor: Option<(usize, usize)>,
    capture: bool,
    captured: Option<Captured>,
}

impl Lines {
    fn new(rows: usize) -> Self {
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
        }
    }

    fn forget_rows(&mut self) {
        self.ended.iter_mut().for_each(|e| *e = None);
    }

    fn reopen(&mut self, row: usize) {
        if let Some(e) = self.ended.get_mut(row) {
            *e = None;
        }
    }

    /// Adds a row to the current logical line; a row that does not wrap completes it.
    fn push_row(&mut self, line: &Line, time: Timestamp) {
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
            let mut text = String::with_capacity(used);
            text.extend(
                cells[..used]
                    .iter()
                    .filter(|c| c.width() != 0)
                    .map(|c| c.char()),
            );
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
            self.pending.extend(
                cells[..used]
                    .iter()
                    .filter(|c| c.width() != 0)
                    .map(|c| c.char()),
            );
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

    fn queue_block(&mut self, anchor: Option<Anchor>, block: AltBlock) {
        if self.immediate_blocks || anchor.is_none() {
            if self.pending.is_empty() && self.pending_chars == 0 {
                self.out.push(TextItem::AltScreen(block));
            } else {
                self.release.push(block);
            }
            return;
        }
        if self.waiting.len() >= MAX_WAITING_BLOCKS
            && let Some((_, b)) = self.waiting.pop_front()
        {
            self.release.push(b);
        }
        self.waiting.push_back((anchor, block));
    }

    /// After an eviction: blocks whose line has gone are released after the current line.
    fn check_waiting(&mut self, term: &Terminal) {
        while let Some((anchor, _)) = self.waiting.front() {
            let gone = anchor.as_ref().is_none_or(|a| term.resolve(a).is_none());
            if !gone {
                break;
            }
            if let Some((_, b)) = self.waiting.pop_front() {
                self.release.push(b);
            }
        }
    }

    /// The frame on screen: its rows without the blank rows above and below.
    fn snapshot(term: &Terminal) -> Option<Vec<String>> {
        let mut rows = screen_rows(term);
        let lead = rows.iter().take_while(|r| r.is_empty()).count();
        rows.drain(..lead);
        (!rows.is_empty()).then_some(rows)
    }

    /// Ends the full-screen program on screen, if any.
    fn close_alt(&mut self, term: Option<&Terminal>, how: AltEnd) {
        let Some(st) = self.alt.take() else { return };
        let frame = st
            .exit_frame
            .or_else(|| term.and_then(Self::snapshot))
            .or(st.frame);
        let block = AltBlock {
            start: st.start,
            end: self.now,
            ended: how,
            blank: frame.is_none(),
            frame: frame.unwrap_or_default(),
        };
        self.queue_block(st.anchor, block);
    }

    /// Everything on the primary screen, in order, with the waiting blocks at their places
    /// (the end of the recording, or a hard reset).
    fn flush_screen(&mut self, term: &Terminal) {
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
    fn remap_before(&mut self, cx: &mut Observation<'_>) {
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
    fn remap_after(&mut self, term: &Terminal) {
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

    fn capture_now(&mut self, term: &Terminal) {
        let c = term.cursor();
        let (text, _) = logical_line(term, c.row, c.col);
        self.captured = Some(Captured {
            time: self.now,
            text,
        });
        self.capture = false;
    }
}

impl Observer for Lines {
    type Output = Vec<TextItem>;

    fn before(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        // The common case first: more text on the row last printed on.
        if let Operation::Function(Function::Print(_)) = op {
            let c = cx.terminal().cursor();
            if c.row == self.open_row && c.col + 1 < self.open_cols {
                return;
            }
        }
        self.open_row = usize::MAX;
        let f = match op {
            Operation::Resize { rows, .. } => {
                // Reflow moves rows (on the primary screen even while the alternate is
                // active): follow the ended rows with anchors.
                self.remap_before(cx);
                if *rows != self.rows {
                    self.rows = *rows;
                    self.margins = false; // avt resets the margins when the height changes
                }
                return;
            }
            Operation::Function(f) => f,
        };
        if self.kind == ScreenKind::Primary {
            let term = cx.terminal();
            let cursor = term.cursor();
            let cols = term.size().0;
            match f {
                Function::Print(_) | Function::Rep(_) => {
                    // A pending wrap puts the character on the next row.
                    let wraps = cursor.col + 1 >= cols;
                    if wraps && self.margins {
                        self.remap_before(cx);
                    }
                    self.reopen(if cursor.col >= cols {
                        cursor.row + 1
                    } else {
                        cursor.row
                    });
                    if !wraps {
                        // Until another operation: nothing to do for prints on this row.
                        self.open_row = cursor.row;
                        self.open_cols = cols;
                    }
                }
                Function::Lf | Function::Nel => {
                    if self.capture {
                        self.capture_now(term);
                    }
                    if let Some(e) = self.ended.get_mut(cursor.row)
                        && e.is_none()
                    {
                        *e = Some(self.now);
                    }
                    if self.margins {
                        // The scroll region may scroll without the screen's top row leaving.
                        self.remap_before(cx);
                    }
                }
                Function::El(_) | Function::Ech(_) | Function::Dch(_) | Function::Ich(_) => {
                    self.reopen(cursor.row);
                }
                Function::Ed(scope) => match scope {
                    EdScope::Below => (cursor.row..self.rows).for_each(|r| self.reopen(r)),
                    EdScope::Above => (0..=cursor.row).for_each(|r| self.reopen(r)),
                    // ED2 moves the occupied rows out (evicted in order): their times hold.
                    EdScope::All | EdScope::SavedLines => {}
                },
                Function::Ri
                | Function::Il(_)
                | Function::Dl(_)
                | Function::Su(_)
                | Function::Sd(_) => self.remap_before(cx),
                Function::Decaln => self.forget_rows(),
                Function::Decstr => self.margins = false,
                Function::Decstbm(top, bottom) => {
                    let rows = self.rows;
                    let t = (*top as usize).max(1) - 1;
                    let b = if *bottom == 0 { rows } else { *bottom as usize } - 1;
                    if t < b && b < rows {
                        self.margins = !(t == 0 && b == rows - 1);
                    }
                }
                Function::Decset(m) if has_alt_mode(m) => {
                    if self.capture {
                        self.capture_now(term);
                    }
                    self.entry_cursor = Some((cursor.col, cursor.row));
                }
                Function::Ris => {
                    self.flush_screen(term);
                    self.margins = false;
                }
                _ => {}
            }
        } else {
            let term = cx.terminal();
            if let Some(a) = &mut self.alt
                && changes_text(f)
            {
                a.scroll_frame = None;
            }
            match f {
                Function::Lf | Function::Nel if term.cursor().row + 1 == term.size().1 => {
                    let now = self.now;
                    if let Some(a) = &mut self.alt
                        && a.scroll_frame.is_none()
                    {
                        let due = a
                            .scroll_snap_time
                            .is_none_or(|s| now.as_nanos() - s.as_nanos() >= SNAPSHOT_GAP_NANOS);
                        a.scroll_frame = Some(if due {
                            a.scroll_snap_time = Some(now);
                            Self::snapshot(term)
                        } else {
                            None
                        });
                    }
                }
                Function::Print(_) | Function::Rep(_) | Function::Decaln => {
                    if let Some(a) = &mut self.alt {
                        a.dirty = true;
                    }
                }
                Function::Ed(EdScope::All | EdScope::Below) => {
                    let now = self.now;
                    if let Some(a) = &mut self.alt
                        && a.dirty
                        && a.snap_time
                            .is_none_or(|s| now.as_nanos() - s.as_nanos() >= SNAPSHOT_GAP_NANOS)
                    {
                        if let Some(fr) = Self::snapshot(term) {
                            a.frame = Some(fr);
                        }
                        a.snap_time = Some(now);
                        a.dirty = false;
                    }
                }
                Function::Decrst(m) if has_alt_mode(m) => {
                    if let Some(a) = &mut self.alt {
                        a.exit_frame = match a.scroll_frame.take() {
                            Some(Some(before_scroll)) => Some(before_scroll),
                            _ => Self::snapshot(term),
                        };
                    }
                }
                Function::Ris => {
                    if let Some(a) = &mut self.alt {
                        a.exit_frame = Self::snapshot(term);
                    }
                    self.close_alt(None, AltEnd::Reset);
                    self.kind = ScreenKind::Primary;
                    self.flush_screen(term);
                    self.margins = false;
                }
                _ => {}
            }
        }
    }

    fn after(&mut self, cx: &mut Observation<'_>, op: &Operation) {
        if self.remap.is_some() {
            self.remap_after(cx.terminal());
        }
        // Only these switch screens.
        if !matches!(
            op,
            Operation::Function(Function::Decset(_) | Function::Decrst(_) | Function::Ris)
        ) {
            return;
        }
        let kind = cx.terminal().active_screen_kind();
        if kind == self.kind {
            return;
        }
        self.kind = kind;
        match kind {
            ScreenKind::Alternate => {
                let (col, row) = self.entry_cursor.take().unwrap_or((0, 0));
                // The block follows the cursor's line; a cursor at the start of a line has
                // just left the line above (the command that started the program).
                let anchor_row = if col == 0 {
                    row.checked_sub(1)
                } else {
                    Some(row)
                };
                let anchor = anchor_row.and_then(|r| {
                    cx.anchor_at(Position {
                        screen: ScreenKind::Primary,
                        col: 0,
                        row: r as isize,
                    })
                });
                self.alt = Some(AltState {
                    start: self.now,
                    anchor,
                    frame: None,
                    dirty: false,
                    snap_time: None,
                    exit_frame: None,
                    scroll_frame: None,
                    scroll_snap_time: None,
                });
            }
            ScreenKind::Primary => self.close_alt(None, AltEnd::Exit),
        }
    }

    fn evicted(&mut self, cx: &mut Observation<'_>, line: &Line) {
        let t = match self.pre_ended.pop_front() {
            Some(t) => t,
            None => {
                let t = self.ended.pop_front().flatten();
                self.ended.push_back(None);
                t
            }
        }
        .unwrap_or(self.now);
        if !self.waiting.is_empty() {
            self.check_waiting(cx.terminal());
        }
        self.push_row(line, t);
    }

    fn end(&mut self, _: &mut Observation<'_>) -> Self::Output {
        std::mem::take(&mut self.out)
    }
}

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
    /// A terminal of `cols` × `rows` (clamped to [`MAX_COLS`] × [`MAX_ROWS`], at least 1×1)
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
        self.feed_observed(time, text, &mut (), sink, |_| {})
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
        self.lines.now = time;
        // `clear` on screen and tmux terminals is ESC[H ESC[J: from the top-left corner it
        // wipes the screen as ED2 does. Fed as ED2, avt moves what the screen held out first,
        // so nothing before that `clear` is lost either (asciinema issue 739).
        let cleared = if text.contains(CLEAR_HOME_ED0) {
            std::borrow::Cow::Owned(text.replace(CLEAR_HOME_ED0, CLEAR_HOME_ED2))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let mut text: &str = &cleared;
        while !text.is_empty() {
            let mut cut = text.len().min(FEED_SLICE);
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            let (part, rest) = text.split_at(cut);
            text = rest;
            let (items, r) = self.term.feed_with(part, (&mut self.lines, &mut *other));
            report(r);
            for i in items {
                sink(i)?;
            }
        }
        Ok(())
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
