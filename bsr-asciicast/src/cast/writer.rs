//! Streaming asciicast v2/v3 writer.

use super::gojson::{go_float_into, go_seconds, go_string_bytes, go_string_into};
use super::{EventKind, Header};
use std::io::Write;

/// Output is handed to the inner writer in pieces of about this size.
const FLUSH_AT: usize = 64 * 1024;

/// Header keys the model writes itself; [`Header::extra`] entries with these names are skipped.
const MODELLED: &[&str] = &[
    "version",
    "width",
    "height",
    "term",
    "timestamp",
    "idle_time_limit",
    "command",
    "title",
    "env",
    "theme",
];

/// Streaming cast writer.
///
/// Each line is formatted into an internal buffer that is passed to the inner writer whenever
/// it holds 64 KiB or more (so the inner writer needs no extra buffering); nothing else is kept.
/// v2 event times are absolute seconds since the start; v3 times are intervals since the
/// previous event. Call [`CastWriter::finish`] at the end; dropping the writer instead flushes
/// on a best-effort basis and loses errors.
///
/// v2 output is byte-for-byte what Boundary's converter writes for the same header and events
/// (compact JSON, Go number and string formatting, see [`super::go_float`], [`super::go_string`]).
#[derive(Debug)]
pub struct CastWriter<W: Write> {
    w: Option<W>,
    buf: Vec<u8>,
    version: u8,
    last_ns: i128,
    events: u64,
    bytes: u64,
}

fn push_num<T: std::fmt::Display>(buf: &mut Vec<u8>, key: &str, v: T) {
    let _ = write!(buf, ",\"{key}\":{v}");
}

fn push_opt_str(buf: &mut Vec<u8>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        let _ = write!(buf, ",\"{key}\":");
        go_string_into(buf, v);
    }
}

fn push_env(buf: &mut Vec<u8>, env: &[(String, Option<String>)]) {
    if env.is_empty() {
        return;
    }
    buf.extend_from_slice(b",\"env\":{");
    for (i, (k, v)) in env.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        go_string_into(buf, k);
        buf.push(b':');
        match v {
            Some(v) => go_string_into(buf, v),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.push(b'}');
}

fn push_json(buf: &mut Vec<u8>, key: &str, v: &serde_json::Value) {
    buf.push(b',');
    go_string_into(buf, key);
    buf.push(b':');
    let _ = serde_json::to_writer(&mut *buf, v);
}

fn push_common_tail(buf: &mut Vec<u8>, h: &Header) {
    if let Some(t) = h.timestamp {
        push_num(buf, "timestamp", t);
    }
    if let Some(l) = h.idle_time_limit {
        buf.extend_from_slice(b",\"idle_time_limit\":");
        go_float_into(buf, l);
    }
    push_opt_str(buf, "command", &h.command);
    push_opt_str(buf, "title", &h.title);
    push_env(buf, &h.env);
}

fn push_extra(buf: &mut Vec<u8>, h: &Header) {
    for (k, v) in &h.extra {
        if !MODELLED.contains(&k.as_str()) {
            push_json(buf, k, v);
        }
    }
}

impl<W: Write> CastWriter<W> {
    /// Writes a v2 header line. Key order: `version`, `width`, `height`, then the fields that
    /// are set among `timestamp`, `idle_time_limit`, `command`, `title`, `env` (in the order of
    /// [`Header::env`], `null` for `None`), `theme`, and the [`Header::extra`] keys. With only
    /// timestamp and env set this is Boundary's header exactly:
    /// `{"version":2,"width":80,"height":24,"timestamp":T,"env":{"SHELL":"…","TERM":"…"}}`.
    pub fn new_v2(w: W, h: &Header) -> std::io::Result<Self> {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let _ = write!(
            buf,
            "{{\"version\":2,\"width\":{},\"height\":{}",
            h.width, h.height
        );
        push_common_tail(&mut buf, h);
        if let Some(t) = &h.theme {
            push_json(&mut buf, "theme", t);
        }
        push_extra(&mut buf, h);
        buf.extend_from_slice(b"}\n");
        Self::start(w, 2, buf)
    }

    /// Writes a v3 header line:
    /// `{"version":3,"term":{"cols":C,"rows":R,"type":…,"theme":…},"timestamp":…,
    /// "idle_time_limit":…,"command":…,"title":…,"env":{…},…extra}` (unset fields left out).
    pub fn new_v3(w: W, h: &Header) -> std::io::Result<Self> {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        let _ = write!(
            buf,
            "{{\"version\":3,\"term\":{{\"cols\":{},\"rows\":{}",
            h.width, h.height
        );
        push_opt_str(&mut buf, "type", &h.term_type);
        if let Some(t) = &h.theme {
            push_json(&mut buf, "theme", t);
        }
        buf.push(b'}');
        push_common_tail(&mut buf, h);
        push_extra(&mut buf, h);
        buf.extend_from_slice(b"}\n");
        Self::start(w, 3, buf)
    }

    fn start(w: W, version: u8, buf: Vec<u8>) -> std::io::Result<Self> {
        let mut me = CastWriter {
            w: Some(w),
            buf,
            version,
            last_ns: 0,
            events: 0,
            bytes: 0,
        };
        me.maybe_flush()?;
        Ok(me)
    }

    /// The asciicast version being written (2 or 3).
    pub fn version(&self) -> u8 {
        self.version
    }

    fn begin(&mut self, time_ns: i128, kind: &EventKind) {
        let t = if self.version == 3 {
            // Intervals cannot be negative: an event out of order gets interval 0.
            let d = (time_ns - self.last_ns).max(0);
            self.last_ns = self.last_ns.max(time_ns);
            d
        } else {
            self.last_ns = time_ns;
            time_ns
        };
        self.buf.push(b'[');
        go_float_into(&mut self.buf, go_seconds(t));
        self.buf.push(b',');
        go_string_into(&mut self.buf, kind.code());
        self.buf.push(b',');
    }

    fn end(&mut self) -> std::io::Result<()> {
        self.buf.extend_from_slice(b"]\n");
        self.events += 1;
        self.maybe_flush()
    }

    /// Appends an event at `time_ns` nanoseconds since the start. `data` is text (invalid
    /// bytes already replaced by U+FFFD, which is written as `\ufffd`).
    ///
    /// In v2 the time is written as given (a negative time is written as it is, like
    /// Boundary does); in v3 an event earlier than the previous one gets interval 0.
    pub fn event(&mut self, time_ns: i128, kind: &EventKind, data: &str) -> std::io::Result<()> {
        self.begin(time_ns, kind);
        go_string_into(&mut self.buf, data);
        self.end()
    }

    /// Like [`CastWriter::event`] but with raw bytes, escaped exactly like Go's
    /// `json.Marshal(string(data))`, which is what Boundary does with each DATA chunk (no
    /// carrying of split characters; one `\ufffd` per invalid byte).
    pub fn event_bytes(
        &mut self,
        time_ns: i128,
        kind: &EventKind,
        data: &[u8],
    ) -> std::io::Result<()> {
        self.begin(time_ns, kind);
        go_string_bytes(&mut self.buf, data);
        self.end()
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Bytes produced so far (header included), whether or not passed on yet.
    pub fn bytes(&self) -> u64 {
        self.bytes + self.buf.len() as u64
    }

    fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if let Some(w) = self.w.as_mut()
            && !self.buf.is_empty()
        {
            w.write_all(&self.buf)?;
            self.bytes += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes out what is buffered and flushes the inner writer (live output: one call per
    /// event makes each event visible as it happens).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.flush_buf()?;
        match self.w.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Writes out what is buffered, flushes the inner writer and returns it.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.flush_buf()?;
        match self.w.take() {
            Some(mut w) => {
                w.flush()?;
                Ok(w)
            }
            None => Err(std::io::Error::other("cast writer already finished")),
        }
    }
}

impl<W: Write> Drop for CastWriter<W> {
    fn drop(&mut self) {
        if let Some(w) = self.w.as_mut() {
            let _ = w.write_all(&self.buf);
            let _ = w.flush();
        }
    }
}
