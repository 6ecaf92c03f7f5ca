//! The stream merge: terminal output, input and the pending events in time order, written
//! through a [`CastWriter`] under the output limit.

use super::header::Pending;
use super::scan::check_sum;
use super::{ChannelFiles, MARKER_PREFIX};
use crate::cast::{CastWriter, EventKind, Header};
use crate::error::ConvertError;
use crate::utf8::Utf8Stream;
use bsr_core::format::Timestamp;
use bsr_core::read::ChunkStream;
use bsr_core::read::structure::StreamKind;
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// A writer that refuses to write more than a limit.
pub(super) struct LimitedWriter<W> {
    inner: W,
    left: u64,
}

/// The error a [`LimitedWriter`] gives at its limit.
#[derive(Debug)]
struct LimitReached;

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output limit reached")
    }
}

impl std::error::Error for LimitReached {}

impl<W> LimitedWriter<W> {
    pub fn new(inner: W, limit: u64) -> Self {
        LimitedWriter { inner, left: limit }
    }
}

/// Whether `e` is a [`LimitedWriter`] at its limit.
pub(super) fn is_limit(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|r| r.is::<LimitReached>())
}

impl<W: Write> Write for LimitedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(LimitReached));
        }
        let n = self.inner.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The output stream, opened at its HEAD.
pub(super) struct Output<R: Read> {
    stream: ChunkStream<R>,
    path: String,
    /// HEAD time: the cast's time zero.
    pub head: Timestamp,
}

/// Opens `messages-outbound.data` and reads its HEAD.
pub(super) fn open_output(
    files: &ChannelFiles,
) -> Result<Output<Box<dyn Read + Send + '_>>, ConvertError> {
    let path = files.messages_outbound.clone();
    let mut stream = files.stream(&path, StreamKind::Messages)?;
    // The structure rules make the first chunk a HEAD, and the only one.
    let head = match stream.next_chunk()? {
        Some(c) => c.time,
        None => return Err(ConvertError::Malformed(format!("{path}: no HEAD chunk"))),
    };
    Ok(Output { stream, path, head })
}

/// The user's input, read alongside the output.
struct Inbound<R: Read> {
    stream: ChunkStream<R>,
    path: String,
    dec: Utf8Stream,
    next: Option<(Timestamp, String)>,
    done: bool,
}

impl<R: Read> Inbound<R> {
    /// Fills `next` with the next inbound text event.
    fn pull(&mut self) -> Result<(), ConvertError> {
        while self.next.is_none() && !self.done {
            match self.stream.next_chunk()? {
                Some(c) if c.is_data() => {
                    let d = c.data()?;
                    let mut t = String::new();
                    self.dec.push(&d, &mut t);
                    if !t.is_empty() {
                        self.next = Some((c.time, t));
                    }
                }
                Some(c) if c.is_done() => self.done = true,
                Some(_) => {}
                None => self.done = true,
            }
        }
        Ok(())
    }
}

fn open_inbound(
    files: &ChannelFiles,
    input: bool,
) -> Result<Option<Inbound<Box<dyn Read + Send + '_>>>, ConvertError> {
    let (Some(p), true) = (&files.messages_inbound, input) else {
        return Ok(None);
    };
    let mut stream = files.stream(p, StreamKind::Messages)?;
    if stream.next_chunk()?.is_none() {
        return Err(ConvertError::Malformed(format!("{p}: no HEAD chunk")));
    }
    Ok(Some(Inbound {
        stream,
        path: p.clone(),
        dec: Utf8Stream::new(),
        next: None,
        done: false,
    }))
}

/// The cast writer with its event counts.
struct Sink<W: Write> {
    w: CastWriter<W>,
    counts: BTreeMap<String, u64>,
    head: Timestamp,
}

impl<W: Write> Sink<W> {
    fn emit(&mut self, t: i128, kind: &EventKind, data: &str) -> Result<(), ConvertError> {
        self.w.event(t, kind, data)?;
        *self.counts.entry(kind.code().to_string()).or_default() += 1;
        Ok(())
    }

    fn rel(&self, t: Timestamp) -> i128 {
        t.as_nanos() - self.head.as_nanos()
    }
}

/// What the merge wrote.
pub(super) struct Written {
    /// Events written, by code.
    pub counts: BTreeMap<String, u64>,
    /// U+FFFD written for invalid UTF-8.
    pub replaced: u64,
    /// Time of the last output chunk (or DONE).
    pub last_time: Timestamp,
    /// Whether the output stream ended with DONE.
    pub seen_done: bool,
}

/// Writes the cast: the header, the warning marker of unverified content, then every event
/// in time order; checks the SHA-256 of the streams read.
pub(super) fn write_events<W: Write, R: Read>(
    files: &ChannelFiles,
    input: bool,
    header: &Header,
    warning: Option<&str>,
    mut output: Output<R>,
    mut pending: Vec<Pending>,
    out: W,
) -> Result<Written, ConvertError> {
    let w = match header.version {
        3 => CastWriter::new_v3(out, header)?,
        _ => CastWriter::new_v2(out, header)?,
    };
    if header.version != 3 {
        pending.retain(|p| p.kind != EventKind::Exit);
    }
    pending.sort_by_key(|p| p.time);
    let mut pending = pending.into_iter().peekable();
    let head = output.head;
    let mut sink = Sink {
        w,
        counts: BTreeMap::new(),
        head,
    };
    if let Some(warning) = warning {
        sink.emit(0, &EventKind::Marker, &format!("{MARKER_PREFIX}{warning}"))?;
    }
    let mut inbound = open_inbound(files, input)?;
    let mut text = String::new();
    let mut out_utf8 = Utf8Stream::new();
    let mut last_time = head;
    let mut seen_done = false;
    loop {
        let chunk = output.stream.next_chunk()?;
        let ctime = match &chunk {
            Some(c) => c.time,
            None => Timestamp::new(u64::MAX, 0),
        };
        // Everything else that happened up to this chunk's time.
        loop {
            if let Some(i) = inbound.as_mut() {
                i.pull()?;
            }
            let tp = pending.peek().map(|p| p.time);
            let ti = inbound.as_ref().and_then(|i| i.next.as_ref().map(|x| x.0));
            let next = match (tp, ti) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // At equal times the output chunk goes first (file order is lost across files).
            match next {
                Some(t) if t < ctime => {
                    if tp == Some(t) {
                        if let Some(p) = pending.next() {
                            sink.emit(sink.rel(p.time).max(0), &p.kind, &p.data)?;
                        }
                    } else if let Some((t, s)) = inbound.as_mut().and_then(|i| i.next.take()) {
                        sink.emit(sink.rel(t), &EventKind::Input, &s)?;
                    }
                }
                _ => break,
            }
        }
        let Some(c) = chunk else { break };
        if c.is_done() {
            seen_done = true;
            last_time = ctime;
            continue;
        }
        if c.is_data() {
            text.clear();
            out_utf8.push(&c.data()?, &mut text);
            if !text.is_empty() {
                sink.emit(sink.rel(ctime), &EventKind::Output, &text)?;
            }
            last_time = ctime;
        }
    }
    text.clear();
    out_utf8.finish(&mut text);
    if !text.is_empty() {
        sink.emit(sink.rel(last_time), &EventKind::Output, &text)?;
    }
    let mut replaced = out_utf8.replaced;
    if let Some(mut i) = inbound {
        let mut t = String::new();
        i.dec.finish(&mut t);
        if !t.is_empty() {
            sink.emit(sink.rel(last_time), &EventKind::Input, &t)?;
        }
        replaced += i.dec.replaced;
        check_sum(i.stream, &i.path, &files.checksums)?;
    }
    check_sum(output.stream, &output.path, &files.checksums)?;
    sink.w.finish()?;
    Ok(Written {
        counts: sink.counts,
        replaced,
        last_time,
        seen_done,
    })
}
