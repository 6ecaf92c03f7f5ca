//! Strict asciicast v1/v2/v3 reader.

use super::gojson::{MAX_TIME_NS, parse_seconds_ns};
use super::{Event, EventKind, Header};
use crate::error::CastError;
use serde_json::{Map, Value};
use std::io::{BufRead, Read};

/// Largest line, and largest v1 file, read (64 MiB).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Most warnings kept by a lenient reader.
pub const MAX_WARNINGS: usize = 1000;

/// Validates resize data `COLSxROWS`: two decimal numbers (digits only) both at least 1.
pub fn parse_resize(d: &str) -> Option<(u32, u32)> {
    let (c, r) = d.split_once('x')?;
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().filter(|&v| v >= 1)
    };
    Some((num(c)?, num(r)?))
}

/// Reads asciicast v1 (one JSON document with a `stdout` array of `[delay, data]` frames,
/// delays relative), v2 (header line, then `[time, code, data]` lines with absolute times) and
/// v3 (header with `term`, interval times, `#` comment lines). Blank lines are skipped.
///
/// Event times become absolute nanoseconds:
/// * v2/v3: from the number's text as written, exactly, rounded to the nanosecond
///   ([`super::parse_seconds_ns`]);
/// * v1: from the shortest decimal form of the parsed `f64`, which is the text as written for
///   any delay of at most 15 significant digits (so exact to the nanosecond for those).
///
/// Validation (strict mode, the default): JSON syntax, UTF-8, event shape (array of 3), time a
/// non-negative number (at most [`super::MAX_TIME_NS`]), v2 times never decreasing (equal
/// allowed), code a non-empty string, data a string, resize data `COLSxROWS` with both ≥ 1,
/// lines at most [`MAX_LINE`] bytes, required header fields (v1/v2 `width`/`height`, v3
/// `term.cols`/`term.rows`, all ≥ 1), types of optional header fields, `env` values strings or
/// `null`. In lenient mode an event line that fails validation is skipped and recorded in
/// [`CastReader::warnings`]; header errors, I/O errors and over-long lines stay fatal.
///
/// The iterator stops after the first error.
#[derive(Debug)]
pub struct CastReader<R: BufRead> {
    r: R,
    header: Header,
    line_no: usize,
    offset: u64,
    last_ns: i128,
    strict: bool,
    warnings: Vec<CastError>,
    skipped: u64,
    v1_events: std::vec::IntoIter<Event>,
    buf: Vec<u8>,
    done: bool,
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_whitespace)
}

fn json_ws(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The text of the first element of a JSON array line (`[ 1.5 , …`).
fn first_number_token(line: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < line.len() && json_ws(&line[i]) {
        i += 1;
    }
    if line.get(i) == Some(&b'[') {
        i += 1;
    }
    while i < line.len() && json_ws(&line[i]) {
        i += 1;
    }
    let s = i;
    while i < line.len() && matches!(line[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
        i += 1;
    }
    &line[s..i]
}

/// Ordered `env` (serde_json's map would sort the keys).
#[derive(Default)]
struct OrderedEnv(Vec<(String, Option<String>)>);

impl<'de> serde::Deserialize<'de> for OrderedEnv {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedEnv;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings or nulls")
            }
            fn visit_unit<E>(self) -> Result<OrderedEnv, E> {
                Ok(OrderedEnv::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedEnv, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Option<String>>()? {
                    v.push((k, val));
                }
                Ok(OrderedEnv(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(serde::Deserialize)]
struct EnvOnly {
    #[serde(default)]
    env: OrderedEnv,
}

struct HeaderCtx {
    line: usize,
    offset: u64,
}

impl HeaderCtx {
    fn bad(&self, reason: impl Into<String>) -> CastError {
        CastError::Invalid {
            line: self.line,
            offset: self.offset,
            reason: reason.into(),
        }
    }

    fn opt_str(&self, o: &Map<String, Value>, k: &str) -> Result<Option<String>, CastError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(format!("header field {k:?} is not a string"))),
        }
    }

    fn size(&self, o: &Map<String, Value>, k: &str, what: &str) -> Result<u32, CastError> {
        match o.get(k) {
            None | Some(Value::Null) => Err(self.bad(format!("header needs {what}"))),
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| v >= 1)
                .ok_or_else(|| self.bad(format!("header {what} is not an integer ≥ 1: {v}"))),
        }
    }
}

fn number_ns(n: &serde_json::Number) -> Result<i128, &'static str> {
    parse_seconds_ns(&n.to_string())
}

/// The first non-blank line, the number of lines read and the offset after them.
fn first_line<R: BufRead>(r: &mut R) -> Result<(Vec<u8>, usize, u64), CastError> {
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut offset = 0u64;
    loop {
        buf.clear();
        let n = read_line(r, &mut buf, offset, line_no + 1)?;
        if n == 0 {
            return Err(CastError::Invalid {
                line: line_no,
                offset,
                reason: "empty file: no header".into(),
            });
        }
        line_no += 1;
        offset += n as u64;
        if !is_blank(&buf) {
            return Ok((buf, line_no, offset));
        }
    }
}

/// The header's JSON: the first line, or, for a v1 document (a JSON object over several
/// lines), the whole document, read on into `doc` (at most [`MAX_LINE`] bytes).
fn read_document<R: BufRead>(
    r: &mut R,
    doc: &mut Vec<u8>,
    ctx: &HeaderCtx,
) -> Result<Value, CastError> {
    match serde_json::from_slice(doc) {
        Ok(v) => Ok(v),
        Err(e) if e.is_eof() && doc.trim_ascii_start().starts_with(b"{") => {
            Read::by_ref(r)
                .take((MAX_LINE - doc.len()) as u64 + 1)
                .read_to_end(doc)?;
            if doc.len() > MAX_LINE {
                return Err(ctx.bad("file too large for an asciicast v1 document (64 MiB)"));
            }
            serde_json::from_slice(doc).map_err(|e| CastError::Json {
                line: ctx.line + e.line().saturating_sub(1),
                offset: ctx.offset,
                reason: e.to_string(),
            })
        }
        Err(e) => Err(CastError::Json {
            line: ctx.line,
            offset: ctx.offset,
            reason: e.to_string(),
        }),
    }
}

/// The header from its JSON object (`doc` is its text, for the `env` order), and for v1 the
/// events of its `stdout` array.
fn parse_header(
    ctx: &HeaderCtx,
    o: &mut Map<String, Value>,
    doc: &[u8],
) -> Result<(Header, Vec<Event>), CastError> {
    let (version, mut h) = header_common(ctx, o, doc)?;
    let known = header_size(ctx, o, version, &mut h)?;
    h.version = version as u8;
    let v1_events = if version == 1 {
        v1_frames(ctx, o)?
    } else {
        Vec::new()
    };
    h.extra = std::mem::take(o)
        .into_iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .collect();
    Ok((h, v1_events))
}

/// The version and the fields common to all versions (`version` left 0).
fn header_common(
    ctx: &HeaderCtx,
    o: &Map<String, Value>,
    doc: &[u8],
) -> Result<(u64, Header), CastError> {
    let env = serde_json::from_slice::<EnvOnly>(doc)
        .map_err(|e| ctx.bad(format!("header env: {e}")))?
        .env
        .0;
    let version = match o.get("version") {
        None => return Err(ctx.bad("header has no version")),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ctx.bad(format!("header version is not an integer: {v}")))?,
    };
    let timestamp = match o.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(match n.as_i64() {
            Some(i) => i,
            None => n.as_f64().map(|f| f.floor() as i64).unwrap_or_default(),
        }),
        Some(v) => return Err(ctx.bad(format!("header timestamp is not a number: {v}"))),
    };
    let idle_time_limit = match o.get("idle_time_limit") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(v) => {
            return Err(ctx.bad(format!("header idle_time_limit is not a number: {v}")));
        }
    };
    let h = Header {
        version: 0,
        timestamp,
        idle_time_limit,
        command: ctx.opt_str(o, "command")?,
        title: ctx.opt_str(o, "title")?,
        env,
        ..Header::default()
    };
    Ok((version, h))
}

/// The terminal size and theme by version; returns the header fields that version knows.
fn header_size(
    ctx: &HeaderCtx,
    o: &Map<String, Value>,
    version: u64,
    h: &mut Header,
) -> Result<&'static [&'static str], CastError> {
    match version {
        1 | 2 => {
            h.width = ctx.size(o, "width", "width")?;
            h.height = ctx.size(o, "height", "height")?;
            h.theme = o.get("theme").filter(|t| !t.is_null()).cloned();
            Ok(&[
                "version",
                "width",
                "height",
                "timestamp",
                "idle_time_limit",
                "command",
                "title",
                "env",
                "theme",
                "stdout",
            ])
        }
        3 => {
            let term = match o.get("term") {
                Some(Value::Object(t)) => t,
                Some(_) => return Err(ctx.bad("header term is not an object")),
                None => return Err(ctx.bad("v3 header needs term")),
            };
            h.width = ctx.size(term, "cols", "term.cols")?;
            h.height = ctx.size(term, "rows", "term.rows")?;
            h.term_type = ctx.opt_str(term, "type")?;
            h.theme = term.get("theme").filter(|t| !t.is_null()).cloned();
            Ok(&[
                "version",
                "term",
                "timestamp",
                "idle_time_limit",
                "command",
                "title",
                "env",
            ])
        }
        v => Err(CastError::Unsupported { version: v }),
    }
}

/// The events of a v1 `stdout` array of `[delay, data]` frames (delays relative).
fn v1_frames(ctx: &HeaderCtx, o: &Map<String, Value>) -> Result<Vec<Event>, CastError> {
    let stdout = o
        .get("stdout")
        .and_then(Value::as_array)
        .ok_or_else(|| ctx.bad("v1 file needs a stdout array"))?;
    let mut v1_events = Vec::new();
    let mut t: i128 = 0;
    for (i, f) in stdout.iter().enumerate() {
        let frame = |m: &str| ctx.bad(format!("stdout frame {i}: {m}"));
        let a = f
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| frame("not [delay, data]"))?;
        let d = match &a[0] {
            Value::Number(n) => number_ns(n).map_err(frame)?,
            _ => return Err(frame("delay is not a number")),
        };
        let data = a[1].as_str().ok_or_else(|| frame("data is not a string"))?;
        t += d;
        if t > MAX_TIME_NS {
            return Err(frame("time is too large"));
        }
        v1_events.push(Event {
            time_ns: t,
            kind: EventKind::Output,
            data: data.to_string(),
        });
    }
    Ok(v1_events)
}

impl<R: BufRead> CastReader<R> {
    /// Reads the header, strict validation.
    pub fn new(r: R) -> Result<Self, CastError> {
        Self::with_strictness(r, true)
    }

    /// Reads the header, lenient validation of events (see [`CastReader::warnings`]).
    pub fn lenient(r: R) -> Result<Self, CastError> {
        Self::with_strictness(r, false)
    }

    /// Reads the header; `strict == false` skips invalid event lines (recorded as warnings).
    pub fn with_strictness(mut r: R, strict: bool) -> Result<Self, CastError> {
        let (mut doc, line_no, offset) = first_line(&mut r)?;
        let ctx = HeaderCtx {
            line: line_no,
            offset: offset - doc.len() as u64,
        };
        // The whole document for v1 (a JSON object over several lines), else the first line.
        let mut v = read_document(&mut r, &mut doc, &ctx)?;
        let Some(o) = v.as_object_mut() else {
            return Err(ctx.bad("header is not a JSON object"));
        };
        let (header, v1_events) = parse_header(&ctx, o, &doc)?;
        doc.clear();
        Ok(CastReader {
            r,
            header,
            line_no,
            offset,
            last_ns: 0,
            strict,
            warnings: Vec::new(),
            skipped: 0,
            v1_events: v1_events.into_iter(),
            buf: doc,
            done: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Event lines skipped in lenient mode, in order, each with its line, offset and reason
    /// (the first [`MAX_WARNINGS`]; [`CastReader::skipped`] counts them all).
    pub fn warnings(&self) -> &[CastError] {
        &self.warnings
    }

    /// Number of event lines skipped in lenient mode.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Lines read so far (header included).
    pub fn lines(&self) -> usize {
        self.line_no
    }

    /// The next event, `None` at the end.
    pub fn next_event(&mut self) -> Result<Option<Event>, CastError> {
        if self.done {
            return Ok(None);
        }
        let r = self.next_inner();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<Event>, CastError> {
        if self.header.version == 1 {
            return Ok(self.v1_events.next());
        }
        loop {
            self.buf.clear();
            let n = read_line(&mut self.r, &mut self.buf, self.offset, self.line_no + 1)?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line_offset = self.offset;
            self.offset += n as u64;
            let t = self.buf.trim_ascii();
            if t.is_empty() || (self.header.version == 3 && t.starts_with(b"#")) {
                continue;
            }
            let line = std::mem::take(&mut self.buf);
            let r = self.parse_event(line.trim_ascii(), line_offset);
            self.buf = line;
            match r {
                Ok(e) => return Ok(Some(e)),
                Err(e) if !self.strict => {
                    self.skipped += 1;
                    if self.warnings.len() < MAX_WARNINGS {
                        self.warnings.push(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn parse_event(&mut self, t: &[u8], offset: u64) -> Result<Event, CastError> {
        let line = self.line_no;
        let bad = |reason: String| CastError::Invalid {
            line,
            offset,
            reason,
        };
        let v: Value = serde_json::from_slice(t).map_err(|e| CastError::Json {
            line,
            offset,
            reason: e.to_string(),
        })?;
        let Value::Array(mut a) = v else {
            return Err(bad("event is not a 3-element array".into()));
        };
        if a.len() != 3 {
            return Err(bad(format!(
                "event is not a 3-element array (it has {} elements)",
                a.len()
            )));
        }
        let time = match &a[0] {
            Value::Number(_) => {
                let tok = first_number_token(t);
                let tok = std::str::from_utf8(tok).unwrap_or_default();
                parse_seconds_ns(tok).map_err(|m| bad(format!("event {m}: {tok}")))?
            }
            other => return Err(bad(format!("event time is not a number: {other}"))),
        };
        let abs = if self.header.version == 3 {
            self.last_ns + time
        } else {
            time
        };
        if abs > MAX_TIME_NS {
            return Err(bad("event time is too large".into()));
        }
        if abs < self.last_ns {
            return Err(bad(format!(
                "event time {} s goes backwards (previous event at {} s)",
                abs as f64 / 1e9,
                self.last_ns as f64 / 1e9
            )));
        }
        // The time is valid: it counts even if the rest of the event is rejected (in lenient
        // mode the next v3 interval is relative to the skipped event, as written).
        self.last_ns = abs;
        let data = match a.pop() {
            Some(Value::String(s)) => s,
            other => {
                return Err(bad(format!(
                    "event data is not a string: {}",
                    other.unwrap_or_default()
                )));
            }
        };
        let code = match a.pop() {
            Some(Value::String(s)) if !s.is_empty() => s,
            other => {
                return Err(bad(format!(
                    "event code is not a non-empty string: {}",
                    other.unwrap_or_default()
                )));
            }
        };
        let kind = EventKind::from_code(&code);
        if kind == EventKind::Resize && parse_resize(&data).is_none() {
            return Err(bad(format!(
                "resize data {data:?} is not COLSxROWS with both at least 1"
            )));
        }
        Ok(Event {
            time_ns: abs,
            kind,
            data,
        })
    }
}

fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    offset: u64,
    line: usize,
) -> Result<usize, CastError> {
    let n = Read::by_ref(r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)?;
    if n > MAX_LINE {
        return Err(CastError::Invalid {
            line,
            offset,
            reason: "line longer than 64 MiB".into(),
        });
    }
    Ok(n)
}

impl<R: BufRead> Iterator for CastReader<R> {
    type Item = Result<Event, CastError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}
