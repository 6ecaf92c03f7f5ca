//! SSH channel → asciicast, with a header-security report.
//!
//! Header semantics follow Boundary (spec §7.2): defaults 80×24, `SHELL=/bin/bash`,
//! `TERM=xterm`; the last pty-req sets the size and TERM, window-change raises the size to the
//! running maximum, the last non-empty `SHELL` env sets SHELL; the timestamp is the
//! `messages-outbound.data` HEAD time in whole seconds. Event times are relative to that HEAD,
//! at full nanosecond precision.
//!
//! Where we differ, on purpose:
//! * text is decoded incrementally per stream, so a character split across chunks is intact;
//! * when SHELL or TERM changed during the session, the header gains a `BSR_HEADER_NOTE` env
//!   entry listing every value with its time, so the header never silently shows only the
//!   last one (a v2 player ignores unknown env keys); the report has the details;
//! * every request is analysed in the report; nothing is dropped silently;
//! * options add `i` (input), `r` (resize) and `m` (marker) events, and v3 output with `x`.

pub mod follow;
mod header;
mod merge;
mod program;
pub(crate) mod scan;
mod select;

pub use select::{ChannelFiles, Digests, select_channel};

use crate::error::ConvertError;
use bsr_core::format::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// Most requests analysed per file (bounded memory on hostile input).
pub const MAX_REQUESTS: usize = 1_000_000;
/// Request type our `import` uses for asciicast markers.
pub const MARKER_REQUEST: &str = "marker@bsr";
/// Prefix of the markers the converter synthesizes (so they can be told from imported ones).
pub const MARKER_PREFIX: &str = "bsr: ";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// asciicast v2 (default).
    #[default]
    V2,
    /// asciicast v3.
    V3,
}

/// Conversion options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Output format.
    pub format: Format,
    /// Add `i` events from inbound DATA.
    pub input: bool,
    /// Add `r` events at window-change (and later pty-req) times.
    pub resize: bool,
    /// Add `m` markers at exec, env, signal, subsystem and unknown requests.
    pub markers: bool,
    /// Refuse to write a cast when a high-severity finding exists.
    pub strict: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            format: Format::V2,
            input: false,
            resize: false,
            markers: false,
            strict: false,
        }
    }
}

/// Default cap on the cast written by one conversion: 1 GiB. A recording's gzip chunks can
/// expand ~400 times (20 chunks at the 6.4 MB cap make a 768 MB cast from 127 KB), so the
/// output is bounded as a decompression-bomb defence; `--max-output` raises or lowers it.
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 30;

/// How a conversion is guarded and labelled (beyond what goes in the cast).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConvertContext {
    /// Most bytes of cast written; more is [`ConvertError::OutputTooLarge`].
    pub max_output_bytes: u64,
    /// Set when the content was not verified (see [`crate::verified`]): the header gets it as
    /// a `BSR_HEADER_NOTE` env entry and the cast starts with a marker carrying it.
    pub unverified_warning: Option<String>,
    /// Convert a session channel that never started a shell or exec, as Boundary does, with a
    /// `no-session-program` finding (raw mode); otherwise such a channel is refused.
    pub allow_no_program: bool,
}

impl Default for ConvertContext {
    fn default() -> Self {
        ConvertContext {
            max_output_bytes: DEFAULT_MAX_OUTPUT,
            unverified_warning: None,
            allow_no_program: false,
        }
    }
}

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Worth a look.
    Low,
    /// Likely relevant to an audit.
    Medium,
    /// Can mislead the viewer or change what ran.
    High,
}

/// One finding of the header-security report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Stable code (`shell-changed`, `security-env`, …).
    pub code: &'static str,
    /// Chunk time (RFC 3339).
    pub time: String,
    /// Seconds since the cast start.
    pub offset_seconds: f64,
    /// The file the chunk is in.
    pub file: String,
    /// What was seen.
    pub message: String,
}

/// One env request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvEntry {
    /// Chunk time (RFC 3339).
    pub time: String,
    /// Seconds since the cast start.
    pub offset_seconds: f64,
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Whether the shell or exec had already started.
    pub after_start: bool,
}

/// The header-security report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityReport {
    /// `bsr-asciicast/report/v1`.
    pub schema: &'static str,
    /// The channel.
    pub channel: String,
    /// SSH channel type.
    pub channel_type: String,
    /// `shell`, `exec`, or `none` (raw mode, no shell or exec request recorded).
    pub session_program: String,
    /// The exec command, if any.
    pub exec_command: Option<String>,
    /// The header written.
    pub header: serde_json::Value,
    /// Every env request, in order.
    pub env: Vec<EnvEntry>,
    /// Findings, in time order.
    pub findings: Vec<Finding>,
    /// Exit status.
    pub exit_status: Option<u32>,
    /// Exit signal (`name`, core dumped, message).
    pub exit_signal: Option<serde_json::Value>,
    /// Events written, by code.
    pub events: BTreeMap<String, u64>,
    /// U+FFFD written for invalid UTF-8.
    pub utf8_replacements: u64,
}

impl SecurityReport {
    /// Number of high-severity findings.
    pub fn high(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .count()
    }
}

/// What a conversion produced.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The report.
    pub report: SecurityReport,
}

/// Converts a channel, writing the cast to `out` as it goes (with the default
/// [`ConvertContext`]: the [`DEFAULT_MAX_OUTPUT`] cap, content taken as verified).
pub fn convert<W: Write>(
    files: &ChannelFiles,
    opts: &ConvertOptions,
    out: W,
) -> Result<Converted, ConvertError> {
    convert_with(files, opts, &ConvertContext::default(), out)
}

/// Converts a channel, writing the cast to `out` as it goes, under `ctx`.
pub fn convert_with<W: Write>(
    files: &ChannelFiles,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
) -> Result<Converted, ConvertError> {
    let max = ctx.max_output_bytes;
    convert_inner(files, opts, ctx, merge::LimitedWriter::new(out, max)).map_err(|e| match e {
        ConvertError::Io(io) if merge::is_limit(&io) => ConvertError::OutputTooLarge {
            channel: files.name.clone(),
            limit: max,
        },
        e => e,
    })
}

fn rel_seconds(t: Timestamp, base: Timestamp) -> f64 {
    crate::cast::go_seconds(t.as_nanos() - base.as_nanos())
}

/// Refuses channels that carry no terminal.
fn check_channel_type(files: &ChannelFiles) -> Result<(), ConvertError> {
    if files.channel_type == "session" {
        return Ok(());
    }
    let hint = match files.channel_type.as_str() {
        "direct-tcpip" | "forwarded-tcpip" => {
            "it carries forwarded TCP data, not a terminal; its addresses and ports are in `bsr-verify events` (session.network)"
        }
        "x11" => "it carries X11 protocol data, not a terminal",
        _ => "it is not an interactive session channel",
    };
    Err(ConvertError::NotInteractive(format!(
        "{}: cannot convert a {:?} channel to asciicast: {hint}",
        crate::human::escape(&files.name),
        files.channel_type
    )))
}

fn convert_inner<W: Write>(
    files: &ChannelFiles,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
) -> Result<Converted, ConvertError> {
    let store = &*files.store;
    check_channel_type(files)?;
    let sums = &files.checksums;
    let scan = scan::scan_optional(store, files.requests_inbound.as_deref(), sums)?;
    let out_scan = scan::scan_optional(store, files.requests_outbound.as_deref(), sums)?;
    let conn_scan = scan::scan_optional(store, files.connection_requests.as_deref(), sums)?;
    let program = program::session_program(&scan.reqs, &files.name, ctx.allow_no_program)?;

    // Header (Boundary's rules) and findings.
    let mut a = header::Analysis::new();
    a.inbound(&scan, &program, opts);
    a.history(files.requests_inbound.as_deref().unwrap_or_default());
    a.outbound(&out_scan);
    a.connection(&conn_scan);
    a.unrendered([&scan, &out_scan]);
    // Strict mode refuses before writing anything.
    if opts.strict {
        a.strict()?;
    }

    let output = merge::open_output(files)?;
    let head = output.head;
    let header = a.header(opts, ctx, head);
    let pending = std::mem::take(&mut a.pending);
    let mpath = files.messages_outbound.clone();
    let warning = ctx.unverified_warning.as_deref();
    let written = merge::write_events(files, opts.input, &header, warning, output, pending, out)?;
    if program.name == program::NO_PROGRAM {
        let file = files
            .requests_inbound
            .as_deref()
            .unwrap_or(&mpath)
            .to_string();
        a.findings.push((
            head,
            Severity::Medium,
            "no-session-program",
            file,
            "no session program was recorded (no shell or exec request): converted as Boundary does, with its default header".into(),
        ));
    }
    if !written.seen_done {
        a.findings.push((
            written.last_time,
            Severity::Medium,
            "unfinished",
            mpath,
            "messages-outbound.data has no DONE chunk (unfinished recording)".into(),
        ));
    }
    Ok(Converted {
        report: report(files, &program, &header, a, written, head),
    })
}

/// The header-security report.
fn report(
    files: &ChannelFiles,
    program: &program::Program,
    header: &crate::cast::Header,
    mut a: header::Analysis,
    written: merge::Written,
    head: Timestamp,
) -> SecurityReport {
    a.findings.sort_by_key(|f| f.0);
    SecurityReport {
        schema: "bsr-asciicast/report/v1",
        channel: files.name.clone(),
        channel_type: files.channel_type.clone(),
        session_program: program.name.to_string(),
        exec_command: program.exec_command.clone(),
        header: serde_json::json!({
            "version": header.version, "width": header.width, "height": header.height, "timestamp": header.timestamp,
            "env": header.env.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        }),
        env: a
            .env
            .into_iter()
            .map(|(t, name, value, after_start)| EnvEntry {
                time: t.to_rfc3339(),
                offset_seconds: rel_seconds(t, head),
                name,
                value,
                after_start,
            })
            .collect(),
        findings: a
            .findings
            .into_iter()
            .map(|(t, severity, code, file, message)| Finding {
                severity,
                code,
                time: t.to_rfc3339(),
                offset_seconds: rel_seconds(t, head),
                file,
                message,
            })
            .collect(),
        exit_status: a.exit_status,
        exit_signal: a.exit_signal,
        events: written.counts,
        utf8_replacements: written.replaced,
    }
}
