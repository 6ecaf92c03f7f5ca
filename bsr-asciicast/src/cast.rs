//! asciicast v1/v2/v3: a model, a streaming writer ([`CastWriter`], byte-compatible with
//! Boundary's Go output for v2) and a strict reader ([`CastReader`]).
//!
//! ```
//! use bsr_asciicast::cast::{CastReader, CastWriter, EventKind, Header};
//! let h = Header {
//!     width: 80,
//!     height: 24,
//!     timestamp: Some(1_700_000_000),
//!     env: vec![("SHELL".into(), Some("/bin/bash".into())), ("TERM".into(), Some("xterm".into()))],
//!     ..Header::default()
//! };
//! let mut w = CastWriter::new_v2(Vec::new(), &h)?;
//! w.event(1_000, &EventKind::Output, "ls <x>\r\n")?;
//! w.event(2_000_000_000, &EventKind::Output, "done")?;
//! let cast = w.finish()?;
//! assert_eq!(
//!     String::from_utf8(cast.clone())?,
//!     "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1700000000,\
//!      \"env\":{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm\"}}\n\
//!      [0.000001,\"o\",\"ls \\u003cx\\u003e\\r\\n\"]\n[2,\"o\",\"done\"]\n"
//! );
//! let events: Vec<_> = CastReader::new(&cast[..])?.collect::<Result<_, _>>()?;
//! assert_eq!(events[1].time_ns, 2_000_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod gojson;
mod reader;
mod writer;

pub use gojson::{
    MAX_TIME_NS, duration_seconds, go_float, go_float_into, go_seconds, go_string, go_string_bytes,
    go_string_into, parse_seconds_ns,
};
pub use reader::{CastReader, MAX_LINE, MAX_WARNINGS, parse_resize};
pub use writer::CastWriter;

use serde_json::Value;

/// Event kinds, with their one-letter codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// Any other code (kept as read).
    Other(String),
}

impl EventKind {
    /// The code (`o`, `i`, `r`, `m`, `x`, or the other code).
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

    /// The kind of a code.
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

/// One event, with its absolute time since the start of the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Nanoseconds since the start (absolute, also for v1 and v3 whose files hold intervals).
    pub time_ns: i128,
    /// Kind.
    pub kind: EventKind,
    /// Data.
    pub data: String,
}

/// A cast header (the fields of v1, v2 and v3 in one model).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// 1, 2 or 3 as read; the writers write the version of their constructor.
    pub version: u8,
    /// Columns (v3 `term.cols`).
    pub width: u32,
    /// Rows (v3 `term.rows`).
    pub height: u32,
    /// Unix seconds of the start.
    pub timestamp: Option<i64>,
    /// Idle time limit in seconds.
    pub idle_time_limit: Option<f64>,
    /// Command recorded.
    pub command: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Environment in file order; `null` values are `None`.
    pub env: Vec<(String, Option<String>)>,
    /// v3 `term.type`.
    pub term_type: Option<String>,
    /// Theme (v2 `theme`, v3 `term.theme`), passed through.
    pub theme: Option<Value>,
    /// Other top-level header keys (v1 `duration`, v3 `tags`, …), passed through; the writers
    /// append them after the modelled keys.
    pub extra: serde_json::Map<String, Value>,
}

impl Header {
    /// The value of an env entry (`None` if absent or `null`; the last entry wins).
    pub fn env_get(&self, k: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_deref())
    }
}
