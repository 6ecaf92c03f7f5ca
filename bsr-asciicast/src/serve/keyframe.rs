//! A cast that opens at time T without replaying from the start: the channel's output up to T
//! is run through the emulator ([`avt`], as [`crate::term`] does) and the screen at T is
//! written as one output event that draws it (avt's `dump`: the visible buffers, the cursor,
//! the modes), then the events from T on, at their own times.
//!
//! A player given this cast and `startAt: T` shows the screen at T at once; the times of the
//! events after T are the same as in the full cast, so seek links keep working.
//!
//! **Checkpoints.** Building the screen at T costs feeding the emulator everything before T.
//! [`checkpoints`] runs the channel through the emulator once and keeps the emulator's state
//! (its dump) every [`CHECKPOINT_BYTES`] of output, with the number of events it covers; with
//! them, [`write_from`] still reads the files from the start (their digests are checked at
//! the end) but feeds the emulator only from the last checkpoint before T.

use crate::cast::{CastWriter, EventKind, Header};
use crate::convert::ChannelFiles;
use crate::term::TextError;
use crate::term::channel::{Event, Replay};
use crate::term::clamp_size;
use avt::Terminal;
use bsr_core::Timestamp;
use std::io::Write;

/// Output between two checkpoints.
pub const CHECKPOINT_BYTES: u64 = 4 << 20;
/// Most checkpoints kept for one channel (further ones are not taken).
pub const MAX_CHECKPOINTS: usize = 2048;

/// The emulator's state after the first `events` events of a channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Events (output and window changes, in replay order) folded in.
    pub events: u64,
    /// Time of the last of them, nanoseconds from the channel's start.
    pub last_ns: i128,
    /// Terminal size.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// avt's dump of the terminal.
    pub dump: String,
}

/// The checkpoints of a channel (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoints(pub Vec<Checkpoint>);

/// Runs the channel through the emulator once, keeping a checkpoint every `every` bytes of
/// output (at most [`MAX_CHECKPOINTS`]).
pub fn checkpoints(files: &ChannelFiles, every: u64) -> Result<Checkpoints, TextError> {
    let replay = Replay::open(files)?;
    let start = replay.start().clone();
    let head = start.head.as_nanos();
    let (c, r, _) = clamp_size(start.cols, start.rows);
    let mut term = Terminal::new(c, r)?;
    let mut out = Vec::new();
    let (mut events, mut since) = (0u64, 0u64);
    replay.run(false, |t: Timestamp, ev| {
        match ev {
            Event::Output(s) => {
                term.feed(s);
                since += s.len() as u64;
            }
            Event::Resize { cols, rows } => {
                let (c, r, _) = clamp_size(cols, rows);
                term.resize(c, r);
            }
            Event::Input(_) => return Ok(()),
        }
        events += 1;
        if since >= every.max(1) && out.len() < MAX_CHECKPOINTS {
            since = 0;
            let (cols, rows) = term.size();
            out.push(Checkpoint {
                events,
                last_ns: t.as_nanos() - head,
                cols,
                rows,
                dump: term.dump(),
            });
        }
        Ok(())
    })?;
    Ok(Checkpoints(out))
}

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
pub fn write_from<W: Write>(
    files: &ChannelFiles,
    at: f64,
    checkpoints: Option<&Checkpoints>,
    out: W,
) -> Result<Keyframe, TextError> {
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
    // The last checkpoint wholly before T: events up to it are read, not fed.
    let from = checkpoints.and_then(|cp| cp.0.iter().rev().find(|c| c.last_ns < at_ns));
    let mut index = 0u64;
    replay.run(false, |t: Timestamp, ev| {
        let rel = t.as_nanos() - head;
        if !matches!(ev, Event::Input(_)) {
            index += 1;
        }
        if let Some(cp) = from {
            if index < cp.events {
                return Ok(());
            }
            if index == cp.events {
                term = Terminal::new(cp.cols, cp.rows)?;
                term.feed(cp.dump.as_str());
                folded += index;
                return Ok(());
            }
        }
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
