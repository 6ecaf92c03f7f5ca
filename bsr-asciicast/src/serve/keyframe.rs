//! A cast that opens at time T without replaying from the start: the channel's output up to T
//! is run through the emulator ([`avt`], as [`crate::term`] does) and the screen at T is
//! written as one output event that draws it (avt's `dump`: the visible buffers, the cursor,
//! the modes), then the events from T on, at their own times.
//!
//! A player given this cast and `startAt: T` shows the screen at T at once; the times of the
//! events after T are the same as in the full cast, so seek links keep working.

use crate::cast::{CastWriter, EventKind, Header};
use crate::convert::ChannelFiles;
use crate::term::TextError;
use crate::term::channel::{Event, Replay};
use crate::term::clamp_size;
use avt::Terminal;
use bsr_core::Timestamp;
use std::io::Write;

/// What [`write_from`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keyframe {
    /// Seconds from the channel's start of the keyframe event.
    pub at: f64,
    /// Terminal size at that time.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// Output events folded into the keyframe.
    pub folded: u64,
}

fn secs_to_ns(t: f64) -> i128 {
    if t.is_finite() && t > 0.0 {
        (t.min(1e12) * 1e9) as i128
    } else {
        0
    }
}

/// Writes an asciicast v2 of the channel that starts with the screen at `at` seconds (from
/// the channel's start, the cast's 0) and goes on with the events after it (output and window
/// changes). The files are read once, pinned digests checked at their ends.
pub fn write_from<W: Write>(files: &ChannelFiles, at: f64, out: W) -> Result<Keyframe, TextError> {
    let replay = Replay::open(files)?;
    let start = replay.start().clone();
    let head = start.head.as_nanos();
    let at_ns = secs_to_ns(at);
    let (c, r, _) = clamp_size(start.cols, start.rows);
    let mut term = Terminal::new(c, r)?;
    let mut folded = 0u64;
    let mut out = Some(out);
    let mut w: Option<CastWriter<W>> = None;
    let io = |e: std::io::Error| TextError::Io(e);
    let begin =
        |term: &Terminal, out: &mut Option<W>| -> Result<Option<CastWriter<W>>, TextError> {
            let (cols, rows) = term.size();
            let header = Header {
                version: 2,
                width: cols as u32,
                height: rows as u32,
                timestamp: Some(i64::try_from(start.head.as_nanos() / 1_000_000_000).unwrap_or(0)),
                ..Header::default()
            };
            let Some(o) = out.take() else {
                return Ok(None);
            };
            let mut cw = CastWriter::new_v2(o, &header).map_err(io)?;
            cw.event(at_ns, &EventKind::Output, &term.dump())
                .map_err(io)?;
            Ok(Some(cw))
        };
    let mut size_at = (c, r);
    replay.run(false, |t: Timestamp, ev| {
        let rel = t.as_nanos() - head;
        if w.is_none() && rel < at_ns {
            match ev {
                Event::Output(s) => {
                    term.feed(s);
                    folded += 1;
                }
                Event::Resize { cols, rows } => {
                    let (c, r, _) = clamp_size(cols, rows);
                    term.resize(c, r);
                }
                Event::Input(_) => {}
            }
            return Ok(());
        }
        if w.is_none() {
            size_at = term.size();
            w = begin(&term, &mut out)?;
        }
        if let Some(cw) = w.as_mut() {
            match ev {
                Event::Output(s) => cw.event(rel, &EventKind::Output, s).map_err(io)?,
                Event::Resize { cols, rows } => cw
                    .event(rel, &EventKind::Resize, &format!("{cols}x{rows}"))
                    .map_err(io)?,
                Event::Input(_) => {}
            }
        }
        Ok(())
    })?;
    if w.is_none() {
        // T at or after the end: the keyframe is the final screen.
        size_at = term.size();
        w = begin(&term, &mut out)?;
    }
    if let Some(cw) = w {
        cw.finish().map_err(io)?;
    }
    Ok(Keyframe {
        at: at_ns as f64 / 1e9,
        cols: size_at.0,
        rows: size_at.1,
        folded,
    })
}
