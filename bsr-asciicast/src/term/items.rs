//! What the transcript is made of: lines, full-screen program blocks, and captured input
//! lines.

use bsr_core::Timestamp;

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    /// When it was completed (newline, scroll, clear, or the end of the recording).
    pub time: Timestamp,
    /// The text, soft-wrapped rows joined, trailing blanks removed, at most
    /// [`MAX_LINE_CHARS`](super::MAX_LINE_CHARS) characters.
    pub text: String,
    /// Characters beyond [`MAX_LINE_CHARS`](super::MAX_LINE_CHARS) that were not kept.
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

/// What a shell-input watcher asked for: the cursor's logical line the next time a newline is
/// executed on the normal screen (or a full-screen program starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// When.
    pub time: Timestamp,
    /// The logical line's text.
    pub text: String,
}
