//! asciicast v1/v2/v3: a model, a streaming writer (byte-compatible with Boundary's Go output
//! for v2) and a strict reader.

use crate::error::CastError;
use serde_json::Value;
use std::io::{BufRead, Read, Write};

/// Event kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `o`: terminal output.
    Output,
    /// `i`: user input.
    Input,
    /// `r`: resize, data `COLSxROWS`.
    Resize,
    /// `m`: marker, data is the label.
    Marker,
    /// `x`: exit (v3), data is the status.
    Exit,
    /// Any other code.
    Other(String),
}

impl EventKind {
    /// The one-letter code.
    pub fn code(&self) -> &str {
        match self {
            EventKind::Output => "o",
            EventKind::Input => "i",
            EventKind::Resize => "r",
            EventKind::Marker => "m",
            EventKind::Exit => "x",
            EventKind::Other(s) => s,
        }
    }
    /// From a code.
    pub fn from_code(c: &str) -> Self {
        match c {
            "o" => EventKind::Output,
            "i" => EventKind::Input,
            "r" => EventKind::Resize,
            "m" => EventKind::Marker,
            "x" => EventKind::Exit,
            other => EventKind::Other(other.to_string()),
        }
    }
}

/// One event, with its absolute time since the start of the recording in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Nanoseconds since the start.
    pub time_ns: i128,
    /// Kind.
    pub kind: EventKind,
    /// Data.
    pub data: String,
}

/// A cast header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// 1, 2 or 3.
    pub version: u8,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Unix seconds of the start.
    pub timestamp: Option<i64>,
    /// Idle time limit.
    pub idle_time_limit: Option<f64>,
    /// Command.
    pub command: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Environment, in order (`null` values kept as `None`).
    pub env: Vec<(String, Option<String>)>,
    /// v3 `term.type`.
    pub term_type: Option<String>,
    /// Theme, passed through.
    pub theme: Option<Value>,
}

impl Header {
    /// An env value.
    pub fn env_get(&self, k: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_deref())
    }
}

// ---------------------------------------------------------------------------------------------
// Go-compatible JSON formatting
// ---------------------------------------------------------------------------------------------

/// Formats an f64 as Go's `encoding/json` does: shortest round-trip digits, plain decimal
/// unless |x| < 1e-6 or ≥ 1e21, then exponent form (`1e-7`, `1e+21`).
pub fn go_float(out: &mut String, f: f64) {
    use std::fmt::Write as _;
    if !f.is_finite() {
        out.push('0');
        return;
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => {
                let _ = write!(out, "{m}e+{e}");
            }
            _ => out.push_str(&s),
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Go's `time.Duration.Seconds()` of a nanosecond count.
pub fn go_seconds(ns: i128) -> f64 {
    let ns = ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let sec = ns / 1_000_000_000;
    let nsec = ns % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string the way Go's `encoding/json` does with HTML escaping:
/// `<`, `>`, `&`, U+2028 and U+2029 escaped, `\b \f \n \r \t`, other controls as `\u00XX`,
/// and U+FFFD (our replacement for invalid bytes) as `\ufffd`.
pub fn go_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            b'<' => Some("\\u003c"),
            b'>' => Some("\\u003e"),
            b'&' => Some("\\u0026"),
            _ => None,
        };
        if let Some(e) = esc {
            out.push_str(&s[start..i]);
            out.push_str(e);
            i += 1;
            start = i;
            continue;
        }
        if b < 0x20 {
            out.push_str(&s[start..i]);
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
            i += 1;
            start = i;
            continue;
        }
        if b == 0xe2
            && i + 2 < bytes.len()
            && bytes[i + 1] == 0x80
            && (bytes[i + 2] == 0xa8 || bytes[i + 2] == 0xa9)
        {
            out.push_str(&s[start..i]);
            out.push_str(if bytes[i + 2] == 0xa8 {
                "\\u2028"
            } else {
                "\\u2029"
            });
            i += 3;
            start = i;
            continue;
        }
        if b == 0xef && i + 2 < bytes.len() && bytes[i + 1] == 0xbf && bytes[i + 2] == 0xbd {
            out.push_str(&s[start..i]);
            out.push_str("\\ufffd");
            i += 3;
            start = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Streaming cast writer. v2 times are absolute seconds; v3 times are intervals.
#[derive(Debug)]
pub struct CastWriter<W: Write> {
    w: W,
    version: u8,
    last_ns: i128,
    line: String,
    events: u64,
}

impl<W: Write> CastWriter<W> {
    /// Writes a v2 header: `{"version":2,"width":W,"height":H,"timestamp":T,"env":{…}}` in
    /// Boundary's key order (plus `idle_time_limit`, `command`, `title` when set).
    pub fn new_v2(w: W, h: &Header) -> std::io::Result<Self> {
        let mut line = String::with_capacity(256);
        line.push_str(&format!(
            "{{\"version\":2,\"width\":{},\"height\":{}",
            h.width, h.height
        ));
        if let Some(t) = h.timestamp {
            line.push_str(&format!(",\"timestamp\":{t}"));
        }
        if let Some(l) = h.idle_time_limit {
            line.push_str(",\"idle_time_limit\":");
            go_float(&mut line, l);
        }
        push_opt(&mut line, "command", &h.command);
        push_opt(&mut line, "title", &h.title);
        push_env(&mut line, &h.env);
        if let Some(t) = &h.theme {
            line.push_str(&format!(",\"theme\":{t}"));
        }
        line.push_str("}\n");
        Self::start(w, 2, line)
    }

    /// Writes a v3 header: `{"version":3,"term":{"cols":…,"rows":…,"type":…},"timestamp":…,"env":{…}}`.
    pub fn new_v3(w: W, h: &Header) -> std::io::Result<Self> {
        let mut line = String::with_capacity(256);
        line.push_str(&format!(
            "{{\"version\":3,\"term\":{{\"cols\":{},\"rows\":{}",
            h.width, h.height
        ));
        if let Some(t) = &h.term_type {
            line.push_str(",\"type\":");
            go_string(&mut line, t);
        }
        if let Some(t) = &h.theme {
            line.push_str(&format!(",\"theme\":{t}"));
        }
        line.push('}');
        if let Some(t) = h.timestamp {
            line.push_str(&format!(",\"timestamp\":{t}"));
        }
        if let Some(l) = h.idle_time_limit {
            line.push_str(",\"idle_time_limit\":");
            go_float(&mut line, l);
        }
        push_opt(&mut line, "command", &h.command);
        push_opt(&mut line, "title", &h.title);
        push_env(&mut line, &h.env);
        line.push_str("}\n");
        Self::start(w, 3, line)
    }

    fn start(mut w: W, version: u8, header: String) -> std::io::Result<Self> {
        w.write_all(header.as_bytes())?;
        Ok(CastWriter {
            w,
            version,
            last_ns: 0,
            line: String::with_capacity(4096),
            events: 0,
        })
    }

    /// Appends an event at `time_ns` (nanoseconds since the start).
    pub fn event(&mut self, time_ns: i128, kind: &EventKind, data: &str) -> std::io::Result<()> {
        self.line.clear();
        self.line.push('[');
        let t = if self.version == 3 {
            time_ns - self.last_ns
        } else {
            time_ns
        };
        go_float(&mut self.line, go_seconds(t));
        self.line.push(',');
        go_string(&mut self.line, kind.code());
        self.line.push(',');
        go_string(&mut self.line, data);
        self.line.push_str("]\n");
        self.last_ns = time_ns;
        self.events += 1;
        self.w.write_all(self.line.as_bytes())
    }

    /// Events written.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn push_opt(line: &mut String, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        line.push_str(&format!(",\"{k}\":"));
        go_string(line, v);
    }
}

fn push_env(line: &mut String, env: &[(String, Option<String>)]) {
    if env.is_empty() {
        return;
    }
    line.push_str(",\"env\":{");
    for (i, (k, v)) in env.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        go_string(line, k);
        line.push(':');
        match v {
            Some(v) => go_string(line, v),
            None => line.push_str("null"),
        }
    }
    line.push('}');
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Largest line (and largest v1 file) read.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Reads asciicast v1 (whole-file JSON), v2 and v3 (header line + event lines).
#[derive(Debug)]
pub struct CastReader<R: BufRead> {
    r: R,
    header: Header,
    line_no: usize,
    offset: u64,
    last_ns: i128,
    strict: bool,
    warnings: Vec<String>,
    v1_events: std::vec::IntoIter<Event>,
    buf: Vec<u8>,
}

fn secs_to_ns(v: &Value) -> Option<i128> {
    let f = v.as_f64()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    Some((f * 1e9).round() as i128)
}

fn str_field(o: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

fn u32_field(o: &Value, k: &str) -> Option<u32> {
    o.get(k)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
}

fn parse_env(o: &serde_json::Map<String, Value>) -> Result<Vec<(String, Option<String>)>, String> {
    match o.get("env") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), Some(s.clone()))),
                Value::Null => Ok((k.clone(), None)),
                _ => Err(format!("env value of {k:?} is not a string")),
            })
            .collect(),
        Some(_) => Err("env is not an object".into()),
    }
}

/// Validates resize data `COLSxROWS` (both ≥ 1).
pub fn parse_resize(d: &str) -> Option<(u32, u32)> {
    let (c, r) = d.split_once('x')?;
    let c: u32 = c.parse().ok()?;
    let r: u32 = r.parse().ok()?;
    (c >= 1 && r >= 1).then_some((c, r))
}

impl<R: BufRead> CastReader<R> {
    /// Reads the header (strict validation of events).
    pub fn new(r: R) -> Result<Self, CastError> {
        Self::with_strictness(r, true)
    }

    /// Reads the header; in lenient mode invalid events are skipped and listed in
    /// [`CastReader::warnings`].
    pub fn with_strictness(mut r: R, strict: bool) -> Result<Self, CastError> {
        let mut buf = Vec::new();
        let mut line_no = 0;
        let mut offset = 0u64;
        // First non-blank line.
        loop {
            buf.clear();
            let n = read_line(&mut r, &mut buf, offset, line_no + 1)?;
            if n == 0 {
                return Err(CastError::Invalid {
                    line: line_no,
                    offset,
                    reason: "empty file: no header".into(),
                });
            }
            line_no += 1;
            offset += n as u64;
            if !buf.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let first_offset = offset - buf.len() as u64;
        let trimmed = String::from_utf8_lossy(&buf).trim().to_string();
        // v1: the whole file is one JSON object with "stdout".
        let v: Value = match serde_json::from_str(&trimmed) {
            Ok(v) => v,
            Err(_) if trimmed.starts_with('{') => {
                let mut all = buf.clone();
                std::io::Read::by_ref(&mut r)
                    .take(MAX_LINE as u64)
                    .read_to_end(&mut all)?;
                if all.len() >= MAX_LINE {
                    return Err(CastError::Invalid {
                        line: 1,
                        offset: 0,
                        reason: "file too large".into(),
                    });
                }
                serde_json::from_slice(&all).map_err(|e| CastError::Json {
                    line: e.line(),
                    offset: first_offset,
                    reason: e.to_string(),
                })?
            }
            Err(e) => {
                return Err(CastError::Json {
                    line: line_no,
                    offset: first_offset,
                    reason: e.to_string(),
                });
            }
        };
        let bad = |reason: &str| CastError::Invalid {
            line: line_no,
            offset: first_offset,
            reason: reason.into(),
        };
        let o = v
            .as_object()
            .ok_or_else(|| bad("header is not a JSON object"))?;
        let version = o
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("header has no version"))?;
        let env = parse_env(o).map_err(|e| bad(&e))?;
        let mut h = Header {
            version: version as u8,
            timestamp: o.get("timestamp").and_then(Value::as_f64).map(|t| t as i64),
            idle_time_limit: o.get("idle_time_limit").and_then(Value::as_f64),
            command: str_field(o, "command"),
            title: str_field(o, "title"),
            env,
            theme: o.get("theme").filter(|t| !t.is_null()).cloned(),
            ..Header::default()
        };
        let mut v1_events = Vec::new();
        match version {
            1 => {
                h.width = u32_field(&v, "width").ok_or_else(|| bad("v1 header needs width"))?;
                h.height = u32_field(&v, "height").ok_or_else(|| bad("v1 header needs height"))?;
                let stdout = o
                    .get("stdout")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("v1 file needs a stdout array"))?;
                let mut t: i128 = 0;
                for (i, f) in stdout.iter().enumerate() {
                    let a = f
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or_else(|| bad(&format!("stdout frame {i} is not [delay, data]")))?;
                    let d = secs_to_ns(&a[0]).ok_or_else(|| {
                        bad(&format!(
                            "stdout frame {i}: delay is not a non-negative number"
                        ))
                    })?;
                    let data = a[1]
                        .as_str()
                        .ok_or_else(|| bad(&format!("stdout frame {i}: data is not a string")))?;
                    t += d;
                    v1_events.push(Event {
                        time_ns: t,
                        kind: EventKind::Output,
                        data: data.to_string(),
                    });
                }
            }
            2 => {
                h.width = u32_field(&v, "width").ok_or_else(|| bad("v2 header needs width"))?;
                h.height = u32_field(&v, "height").ok_or_else(|| bad("v2 header needs height"))?;
            }
            3 => {
                let term = o.get("term").ok_or_else(|| bad("v3 header needs term"))?;
                h.width =
                    u32_field(term, "cols").ok_or_else(|| bad("v3 header needs term.cols"))?;
                h.height =
                    u32_field(term, "rows").ok_or_else(|| bad("v3 header needs term.rows"))?;
                h.term_type = term.get("type").and_then(Value::as_str).map(str::to_string);
                h.theme = term.get("theme").filter(|t| !t.is_null()).cloned();
            }
            v => return Err(CastError::Unsupported { version: v }),
        }
        Ok(CastReader {
            r,
            header: h,
            line_no,
            offset,
            last_ns: 0,
            strict,
            warnings: Vec::new(),
            v1_events: v1_events.into_iter(),
            buf,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Events skipped in lenient mode, with their line and reason.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The next event.
    pub fn next_event(&mut self) -> Result<Option<Event>, CastError> {
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
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            let t = text.trim();
            if t.is_empty() || (self.header.version == 3 && t.starts_with('#')) {
                continue;
            }
            match self.parse_event(t, line_offset) {
                Ok(e) => return Ok(Some(e)),
                Err(e) if !self.strict && matches!(e, CastError::Invalid { .. }) => {
                    self.warnings.push(e.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn parse_event(&mut self, t: &str, offset: u64) -> Result<Event, CastError> {
        let line = self.line_no;
        let bad = |reason: String| CastError::Invalid {
            line,
            offset,
            reason,
        };
        let v: Value = serde_json::from_str(t).map_err(|e| CastError::Json {
            line,
            offset,
            reason: e.to_string(),
        })?;
        let a = v
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| bad("event is not a 3-element array".into()))?;
        let time = secs_to_ns(&a[0])
            .ok_or_else(|| bad("event time is not a non-negative number".into()))?;
        let code = a[1]
            .as_str()
            .ok_or_else(|| bad("event code is not a string".into()))?;
        let data = a[2]
            .as_str()
            .ok_or_else(|| bad("event data is not a string".into()))?;
        let abs = if self.header.version == 3 {
            self.last_ns + time
        } else {
            time
        };
        if abs < self.last_ns {
            return Err(bad(format!(
                "event time {} goes backwards",
                go_seconds(abs)
            )));
        }
        let kind = EventKind::from_code(code);
        if kind == EventKind::Resize && parse_resize(data).is_none() {
            return Err(bad(format!(
                "resize data {data:?} is not COLSxROWS with both at least 1"
            )));
        }
        self.last_ns = abs;
        Ok(Event {
            time_ns: abs,
            kind,
            data: data.to_string(),
        })
    }
}

fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    offset: u64,
    line: usize,
) -> Result<usize, CastError> {
    let n = std::io::Read::by_ref(r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(CastError::Io)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        for (f, want) in [
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5, "1.5"),
            (2.0, "2"),
            (0.1, "0.1"),
            (123.456789012, "123.456789012"),
            (1e21, "1e+21"),
            (5.600001, "5.600001"),
            (0.0, "0"),
            (-0.5, "-0.5"),
            (1.5e-8, "1.5e-8"),
        ] {
            let mut s = String::new();
            go_float(&mut s, f);
            assert_eq!(s, want, "{f}");
        }
        assert_eq!(go_seconds(1_000), 0.000001);
        assert_eq!(go_seconds(3_000_000_014 - 14), 3.0);
    }

    #[test]
    fn go_strings() {
        let mut s = String::new();
        go_string(&mut s, "a<b>&\"\\\n\r\t\x08\x0c\x01\x7f\u{2028}\u{fffd}é");
        assert_eq!(
            s,
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\r\\t\\b\\f\\u0001\x7f\\u2028\\ufffdé\""
        );
    }
}
