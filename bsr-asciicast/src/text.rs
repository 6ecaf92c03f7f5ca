//! `text`: what the terminal showed, as lines of text, each with the time it was completed.
//!
//! Built on the [terminal model](crate::term): line editing comes out as the shell finally
//! showed it, nothing before a `clear` is lost, and full-screen programs appear as marked
//! blocks with their last frame. Output is streamed: memory does not grow with the recording.
//!
//! ```no_run
//! use bsr_asciicast::convert::select_channel;
//! use bsr_asciicast::text::{TextOptions, write_text};
//! use bsr_core::read::Recording;
//! let rec = Recording::open_path(std::path::Path::new("testdata/recordings/sr_shell00001.bsr"))?;
//! let files = select_channel(&rec, None, None)?;
//! let mut out = Vec::new();
//! let summary = write_text(&files, &TextOptions::default(), &mut out)?;
//! assert!(summary.lines > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::convert::ChannelFiles;
use crate::term::channel::{ChannelEnd, ChannelStart, Event, Replay};
use crate::term::{AltBlock, TermModel, TextError, TextItem, TextLine, printable};
use bsr_core::Timestamp;
use std::io::Write;

/// Options of [`write_text`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// One JSON object per line instead of plain text.
    pub json: bool,
}

/// What [`write_text`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextSummary {
    /// Lines written.
    pub lines: u64,
    /// Full-screen program blocks written.
    pub blocks: u64,
    /// Lines longer than [`crate::term::MAX_LINE_CHARS`], cut.
    pub cut_lines: u64,
    /// Whether a window size was larger than the model and was clamped.
    pub clamped: bool,
    /// Whether the output file has its DONE chunk.
    pub finished: bool,
    /// U+FFFD shown for invalid UTF-8.
    pub utf8_replacements: u64,
}

/// Seconds from `head` to `t`, to the microsecond.
pub fn offset_seconds(t: Timestamp, head: Timestamp) -> f64 {
    ((t.as_nanos() - head.as_nanos()) / 1000) as f64 / 1e6
}

/// The note appended to a line that was cut.
pub fn cut_note(cut: u64) -> String {
    format!(" [line cut here: {cut} more characters not kept]")
}

/// The plain-text header of a full-screen block.
pub fn block_header(b: &AltBlock, head: Timestamp) -> String {
    format!(
        "[full-screen program (alternate screen) from {:.3}s to {:.3}s ({:.3}s on screen, {}); {}]",
        offset_seconds(b.start, head),
        offset_seconds(b.end, head),
        b.seconds(),
        match b.ended.as_str() {
            "exit" => "it exited",
            "reset" => "ended by a terminal reset",
            _ => "still on screen when the recording ended",
        },
        if b.blank {
            "its screen was blank when it ended"
        } else {
            "its last frame:"
        }
    )
}

/// The plain-text line that closes a full-screen block.
pub const BLOCK_END: &str = "[end of full-screen program]";

/// A full-screen block as a JSON value (`t`/`time`: its start).
pub fn block_json(b: &AltBlock, head: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "t": offset_seconds(b.start, head),
        "time": b.start.to_rfc3339(),
        "alt_screen": {
            "end_t": offset_seconds(b.end, head),
            "end_time": b.end.to_rfc3339(),
            "seconds": b.seconds(),
            "ended": b.ended.as_str(),
            "blank": b.blank,
            "frame": b.frame.iter().map(|r| printable(r).into_owned()).collect::<Vec<_>>(),
        }
    })
}

/// A line as a JSON value.
pub fn line_json(l: &TextLine, head: Timestamp) -> serde_json::Value {
    let mut v = serde_json::json!({
        "t": offset_seconds(l.time, head),
        "time": l.time.to_rfc3339(),
        "line": printable(&l.text),
    });
    if l.cut > 0
        && let Some(m) = v.as_object_mut()
    {
        m.insert("cut".into(), l.cut.into());
    }
    v
}

struct ItemWriter<W> {
    out: W,
    json: bool,
    summary: TextSummary,
}

impl<W: Write> ItemWriter<W> {
    fn write(&mut self, item: &TextItem, head: Timestamp) -> Result<(), TextError> {
        match item {
            TextItem::Line(l) => {
                self.summary.lines += 1;
                if l.cut > 0 {
                    self.summary.cut_lines += 1;
                }
                if self.json {
                    serde_json::to_writer(&mut self.out, &line_json(l, head))
                        .map_err(std::io::Error::from)?;
                    self.out.write_all(b"\n")?;
                } else {
                    self.out.write_all(printable(&l.text).as_bytes())?;
                    if l.cut > 0 {
                        self.out.write_all(cut_note(l.cut).as_bytes())?;
                    }
                    self.out.write_all(b"\n")?;
                }
            }
            TextItem::AltScreen(b) => {
                self.summary.blocks += 1;
                if self.json {
                    serde_json::to_writer(&mut self.out, &block_json(b, head))
                        .map_err(std::io::Error::from)?;
                    self.out.write_all(b"\n")?;
                } else {
                    writeln!(self.out, "{}", block_header(b, head))?;
                    for r in &b.frame {
                        writeln!(self.out, "| {}", printable(r))?;
                    }
                    writeln!(self.out, "{BLOCK_END}")?;
                }
            }
        }
        Ok(())
    }
}

/// What [`transcript`] found besides the items.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptEnd {
    /// The channel's start.
    pub start: ChannelStart,
    /// Whether a window size was clamped.
    pub clamped: bool,
    /// The channel's end.
    pub end: ChannelEnd,
}

/// Runs a channel through the terminal model, lending every transcript item to `sink` with
/// the channel's start (its HEAD time is `t` = 0). The items are lent, not given, so that the
/// model can reuse the lines' buffers: clone what is kept.
pub fn transcript<F>(files: &ChannelFiles, mut sink: F) -> Result<TranscriptEnd, TextError>
where
    F: FnMut(&ChannelStart, &TextItem) -> Result<(), TextError>,
{
    let replay = Replay::open(files)?;
    let start = replay.start().clone();
    let mut model = TermModel::new(start.cols, start.rows)?;
    let mut lent = |item: &TextItem| sink(&start, item);
    let end = replay.run(false, |t, ev| match ev {
        Event::Output(s) => model.feed_lent(t, s, &mut lent),
        Event::Resize { cols, rows } => model.resize(t, cols, rows, &mut |i| lent(&i)),
        Event::Input(_) => Ok(()),
    })?;
    let clamped = model.clamped();
    model.finish(end.time, &mut |i| lent(&i))?;
    Ok(TranscriptEnd {
        start,
        clamped,
        end,
    })
}

/// Writes the transcript of a channel to `out` as it goes (plain text, or JSON lines with
/// `--json`).
pub fn write_text<W: Write>(
    files: &ChannelFiles,
    opts: &TextOptions,
    out: W,
) -> Result<TextSummary, TextError> {
    let mut w = ItemWriter {
        out,
        json: opts.json,
        summary: TextSummary::default(),
    };
    let done = transcript(files, |start, item| w.write(item, start.head))?;
    w.out.flush()?;
    let mut s = w.summary;
    s.clamped = done.clamped;
    s.finished = done.end.finished;
    s.utf8_replacements = done.end.utf8_replacements;
    Ok(s)
}
