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

use crate::cast::{CastWriter, EventKind, Header};
use crate::error::ConvertError;
use crate::human::escape;
use crate::utf8::Utf8Stream;
use bsr_core::format::{self, Direction, Timestamp};
use bsr_core::read::{ChannelRecording, ChunkStream, Recording};
use bsr_core::ssh::{Decoded, Request, decode_chunk_payload};
use bsr_core::store::{ReadStore, join};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

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
}

impl Default for ConvertContext {
    fn default() -> Self {
        ConvertContext {
            max_output_bytes: DEFAULT_MAX_OUTPUT,
            unverified_warning: None,
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
    /// `shell` or `exec`.
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

/// Where a channel's files are.
#[derive(Debug, Clone)]
pub struct ChannelFiles {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// A name for messages (the channel folder).
    pub name: String,
    /// SSH channel type.
    pub channel_type: String,
    /// `requests-inbound.data` (pty-req, env, shell, exec, window-change, …).
    pub requests_inbound: Option<String>,
    /// `requests-outbound.data` (exit-status, exit-signal).
    pub requests_outbound: Option<String>,
    /// `messages-outbound.data` (terminal output).
    pub messages_outbound: String,
    /// `messages-inbound.data` (keystrokes).
    pub messages_inbound: Option<String>,
    /// The connection's `requests-inbound.data` (global requests such as tcpip-forward).
    pub connection_requests: Option<String>,
    /// Expected SHA-256 of files by path (from the container's `SHA256SUM`).
    pub checksums: BTreeMap<String, [u8; 32]>,
}

impl ChannelFiles {
    /// The files of a channel in a recording, with its `SHA256SUM` entries.
    pub fn of_channel(
        ch: &ChannelRecording,
        connection_dir: Option<&str>,
    ) -> Result<Self, ConvertError> {
        let store = ch.store().clone();
        let dir = ch.dir();
        let mut checksums = BTreeMap::new();
        if let Some(entries) = ch.checksums()? {
            for e in entries {
                checksums.insert(join(dir, &e.name), e.digest);
            }
        }
        let opt = |name: &str| {
            let p = join(dir, name);
            store.size(&p).is_ok().then_some(p)
        };
        Ok(ChannelFiles {
            name: dir.to_string(),
            channel_type: ch.channel_type().to_string(),
            requests_inbound: opt(format::requests_file(Direction::Inbound)),
            requests_outbound: opt(format::requests_file(Direction::Outbound)),
            messages_outbound: join(dir, format::messages_file(Direction::Outbound)),
            messages_inbound: opt(format::messages_file(Direction::Inbound)),
            connection_requests: connection_dir
                .map(|c| join(c, format::requests_file(Direction::Inbound)))
                .filter(|p| store.size(p).is_ok()),
            checksums,
            store,
        })
    }
}

/// Picks the channel to convert: the given ids, or the only shell/exec channel. When the
/// choice is ambiguous the error lists the channels.
pub fn select_channel(
    rec: &Recording,
    connection: Option<&str>,
    channel: Option<&str>,
) -> Result<ChannelFiles, ConvertError> {
    let mut candidates = Vec::new();
    let mut all = Vec::new();
    for conn in rec.connections()? {
        if connection.is_some_and(|c| c != conn.id()) {
            continue;
        }
        for ch in conn.channels()? {
            if channel.is_some_and(|c| c != ch.id()) {
                continue;
            }
            let program = ch.summary()?.map(|s| s.session_program).unwrap_or_default();
            all.push(escape(&format!(
                "  --connection {} --channel {}  ({}, {})",
                conn.id(),
                ch.id(),
                ch.channel_type(),
                if program.is_empty() { "?" } else { &program }
            )));
            let interactive = ch.channel_type() == "session"
                && (program == "shell" || program == "exec" || program.is_empty());
            if channel.is_some() || interactive {
                candidates.push((conn.dir().to_string(), ch));
            }
        }
    }
    match candidates.len() {
        1 => {
            let (cdir, ch) = candidates.remove(0);
            ChannelFiles::of_channel(&ch, Some(&cdir))
        }
        0 if all.is_empty() => Err(ConvertError::Selection(format!(
            "{}: no such channel",
            escape(rec.dir())
        ))),
        0 => Err(ConvertError::NotInteractive(format!(
            "{}: no shell or exec channel to convert; the channels are:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
        _ => Err(ConvertError::Selection(format!(
            "{}: several channels could be converted; pick one with --connection and --channel:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
    }
}

fn rel_seconds(t: Timestamp, base: Timestamp) -> f64 {
    crate::cast::go_seconds(t.as_nanos() - base.as_nanos())
}

struct Req {
    time: Timestamp,
    req: Request,
    file: String,
}

struct Scan {
    reqs: Vec<Req>,
    unknown: Vec<(Timestamp, String, String)>,
}

fn scan_requests(
    store: &dyn ReadStore,
    path: &str,
    checksums: &BTreeMap<String, [u8; 32]>,
) -> Result<Scan, ConvertError> {
    let mut out = Scan {
        reqs: Vec::new(),
        unknown: Vec::new(),
    };
    let reader = store.open(path)?;
    let mut s = ChunkStream::new(reader, path).with_sha256();
    while let Some(c) = s.next_chunk()? {
        if out.reqs.len() >= MAX_REQUESTS {
            return Err(ConvertError::Malformed(format!(
                "{path}: more than {MAX_REQUESTS} requests"
            )));
        }
        match decode_chunk_payload(&c, false).map_err(|e| e.in_file(path))? {
            Decoded::Request(req) => out.reqs.push(Req {
                time: c.time,
                req,
                file: path.to_string(),
            }),
            Decoded::Unknown {
                protocol,
                chunk_type,
                ..
            } => out.unknown.push((
                c.time,
                path.to_string(),
                format!(
                    "{}/{}",
                    String::from_utf8_lossy(&protocol),
                    String::from_utf8_lossy(&chunk_type)
                ),
            )),
            Decoded::Data(_) => {
                out.unknown
                    .push((c.time, path.to_string(), "DATA in a requests file".into()))
            }
            _ => {}
        }
    }
    check_sum(s, path, checksums)?;
    Ok(out)
}

fn check_sum<R: std::io::Read>(
    s: ChunkStream<R>,
    path: &str,
    checksums: &BTreeMap<String, [u8; 32]>,
) -> Result<(), ConvertError> {
    let end = s.finish()?;
    if let (Some(want), Some(got)) = (checksums.get(path), end.sha256)
        && *want != got
    {
        return Err(bsr_core::Error::Checksum {
            path: path.to_string(),
            expected: hex::encode(want),
            actual: hex::encode(got),
        }
        .into());
    }
    Ok(())
}

/// Environment variables that change what a shell runs or hides.
const SECURITY_ENV_HIGH: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "IFS",
    "PS4",
];
const SECURITY_ENV_MEDIUM: &[&str] = &[
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5LIB",
    "PERL5OPT",
    "RUBYOPT",
    "RUBYLIB",
    "NODE_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "HISTFILE",
    "HISTCONTROL",
    "HISTIGNORE",
    "HISTSIZE",
    "TMOUT",
    "ZDOTDIR",
    "LESSOPEN",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "SSH_AUTH_SOCK",
];

/// What a conversion produced.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The report.
    pub report: SecurityReport,
}

/// An event waiting to be merged into the output.
struct Pending {
    time: Timestamp,
    kind: EventKind,
    data: String,
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
    convert_inner(files, opts, ctx, LimitedWriter::new(out, max)).map_err(|e| match e {
        ConvertError::Io(io) if LimitedWriter::<W>::is_limit(&io) => ConvertError::OutputTooLarge {
            channel: files.name.clone(),
            limit: max,
        },
        e => e,
    })
}

/// A writer that refuses to write more than a limit.
struct LimitedWriter<W> {
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
    fn new(inner: W, limit: u64) -> Self {
        LimitedWriter { inner, left: limit }
    }

    fn is_limit(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|r| r.is::<LimitReached>())
    }
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

fn convert_inner<W: Write>(
    files: &ChannelFiles,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
) -> Result<Converted, ConvertError> {
    let store = &*files.store;
    if files.channel_type != "session" {
        let hint = match files.channel_type.as_str() {
            "direct-tcpip" | "forwarded-tcpip" => {
                "it carries forwarded TCP data, not a terminal; its addresses and ports are in `bsr-verify events` (session.network)"
            }
            "x11" => "it carries X11 protocol data, not a terminal",
            _ => "it is not an interactive session channel",
        };
        return Err(ConvertError::NotInteractive(format!(
            "{}: cannot convert a {:?} channel to asciicast: {hint}",
            escape(&files.name),
            files.channel_type
        )));
    }
    let scan = match &files.requests_inbound {
        Some(p) => scan_requests(store, p, &files.checksums)?,
        None => Scan {
            reqs: Vec::new(),
            unknown: Vec::new(),
        },
    };
    let out_scan = match &files.requests_outbound {
        Some(p) => scan_requests(store, p, &files.checksums)?,
        None => Scan {
            reqs: Vec::new(),
            unknown: Vec::new(),
        },
    };
    let conn_scan = match &files.connection_requests {
        Some(p) => scan_requests(store, p, &files.checksums)?,
        None => Scan {
            reqs: Vec::new(),
            unknown: Vec::new(),
        },
    };

    // The session program.
    let mut program = None;
    let mut exec_command = None;
    let mut start_time = None;
    for r in &scan.reqs {
        match &r.req {
            Request::Shell(_) => program = Some("shell"),
            Request::Exec(e) => {
                program = Some("exec");
                exec_command = Some(e.command.clone());
            }
            Request::Subsystem(s) => {
                return Err(ConvertError::NotInteractive(format!(
                    "{}: channel runs the {:?} subsystem, whose data is a file-transfer protocol, not a terminal; `bsr-verify events --kind 'session.*'` lists what the channel did",
                    escape(&files.name),
                    s.subsystem_name
                )));
            }
            _ => continue,
        }
        start_time = Some(r.time);
        break;
    }
    let Some(program) = program else {
        return Err(ConvertError::NotInteractive(format!(
            "{}: the session channel never started a shell or exec (session program not set); nothing to play back",
            escape(&files.name)
        )));
    };

    // Header (Boundary's rules) and findings.
    let mut width = 80u32;
    let mut height = 24u32;
    let mut shell = "/bin/bash".to_string();
    let mut term = "xterm".to_string();
    let mut shell_hist: Vec<(Timestamp, String)> = Vec::new();
    let mut term_hist: Vec<(Timestamp, String)> = Vec::new();
    let mut findings: Vec<(Timestamp, Severity, &'static str, String, String)> = Vec::new();
    let mut env = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let started = |t: Timestamp| start_time.is_some_and(|s| t > s);
    for r in &scan.reqs {
        let t = r.time;
        let f = r.file.clone();
        match &r.req {
            Request::Pty(p) => {
                if p.terminal_width_characters > 0 {
                    width = p.terminal_width_characters;
                }
                if p.terminal_height_rows > 0 {
                    height = p.terminal_height_rows;
                }
                if !p.term_env_var.is_empty() {
                    term = p.term_env_var.clone();
                    term_hist.push((t, p.term_env_var.clone()));
                }
                if started(t) {
                    findings.push((
                        t,
                        Severity::Medium,
                        "pty-after-start",
                        f,
                        format!(
                            "pty-req after the session started (TERM {:?}, {}x{})",
                            p.term_env_var, p.terminal_width_characters, p.terminal_height_rows
                        ),
                    ));
                    if opts.resize {
                        pending.push(Pending {
                            time: t,
                            kind: EventKind::Resize,
                            data: format!(
                                "{}x{}",
                                p.terminal_width_characters.max(1),
                                p.terminal_height_rows.max(1)
                            ),
                        });
                    }
                }
            }
            Request::WindowChange(w) => {
                width = width.max(w.terminal_width_columns);
                height = height.max(w.terminal_height_rows);
                if opts.resize && w.terminal_width_columns > 0 && w.terminal_height_rows > 0 {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Resize,
                        data: format!("{}x{}", w.terminal_width_columns, w.terminal_height_rows),
                    });
                }
            }
            Request::Env(e) => {
                let after = started(t);
                env.push((t, e.variable_name.clone(), e.variable_value.clone(), after));
                if e.variable_name == "SHELL" && !e.variable_value.is_empty() {
                    shell = e.variable_value.clone();
                    shell_hist.push((t, e.variable_value.clone()));
                }
                if e.variable_name == "TERM" {
                    term_hist.push((t, e.variable_value.clone()));
                }
                let name = e.variable_name.as_str();
                if SECURITY_ENV_HIGH.contains(&name)
                    || name.starts_with("LD_")
                    || name.starts_with("DYLD_")
                {
                    findings.push((
                        t,
                        Severity::High,
                        "security-env",
                        f.clone(),
                        format!("{name}={:?} set by the client", e.variable_value),
                    ));
                } else if SECURITY_ENV_MEDIUM.contains(&name) {
                    findings.push((
                        t,
                        Severity::Medium,
                        "security-env",
                        f.clone(),
                        format!("{name}={:?} set by the client", e.variable_value),
                    ));
                }
                if after {
                    findings.push((
                        t,
                        Severity::High,
                        "env-after-start",
                        f,
                        format!(
                            "env {name}={:?} after the {program} started",
                            e.variable_value
                        ),
                    ));
                }
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: format!("{MARKER_PREFIX}env {name}={}", e.variable_value),
                    });
                }
            }
            Request::Exec(e) => {
                findings.push((
                    t,
                    Severity::Info,
                    "exec",
                    f,
                    format!("exec {:?}", e.command),
                ));
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: format!("{MARKER_PREFIX}exec {}", e.command),
                    });
                }
            }
            Request::Shell(_) => {
                if start_time != Some(t) {
                    findings.push((
                        t,
                        Severity::Medium,
                        "second-start",
                        f,
                        "another shell request".into(),
                    ));
                }
            }
            Request::Subsystem(s) => {
                findings.push((
                    t,
                    Severity::Medium,
                    "subsystem",
                    f,
                    format!("subsystem {:?}", s.subsystem_name),
                ));
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: format!("{MARKER_PREFIX}subsystem {}", s.subsystem_name),
                    });
                }
            }
            Request::Signal(s) => {
                findings.push((
                    t,
                    Severity::Low,
                    "signal",
                    f,
                    format!("signal {}", s.signal_name),
                ));
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: format!("{MARKER_PREFIX}signal {}", s.signal_name),
                    });
                }
            }
            Request::X11Forwarding(x) => findings.push((
                t,
                Severity::Medium,
                "x11-forwarding",
                f,
                format!("x11-req ({})", x.x11_authentication_protocol),
            )),
            Request::Unknown(u) if u.request_type == MARKER_REQUEST => {
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: String::from_utf8_lossy(&u.data).into_owned(),
                    });
                }
            }
            Request::Unknown(u) => {
                let sev = Severity::Medium;
                let what = if u.request_type.starts_with("auth-agent") {
                    "agent forwarding"
                } else {
                    "request with no handler"
                };
                findings.push((
                    t,
                    sev,
                    if what == "agent forwarding" {
                        "agent-forwarding"
                    } else {
                        "unknown-request"
                    },
                    f,
                    format!(
                        "{what}: {:?} ({} payload bytes)",
                        u.request_type,
                        u.data.len()
                    ),
                ));
                if opts.markers {
                    pending.push(Pending {
                        time: t,
                        kind: EventKind::Marker,
                        data: format!("{MARKER_PREFIX}request {}", u.request_type),
                    });
                }
            }
            other => findings.push((
                t,
                Severity::Info,
                "not-rendered",
                f,
                format!("{} request not rendered in the cast", other.request_type()),
            )),
        }
    }
    for (label, hist, sev) in [
        ("SHELL", &shell_hist, Severity::High),
        ("TERM", &term_hist, Severity::Medium),
    ] {
        if let Some((_, first)) = hist.first() {
            for (t, v) in hist.iter().skip(1) {
                if v != first {
                    findings.push((
                        *t,
                        sev,
                        if label == "SHELL" {
                            "shell-changed"
                        } else {
                            "term-changed"
                        },
                        files.requests_inbound.clone().unwrap_or_default(),
                        format!("{label} changed from {first:?} to {v:?}"),
                    ));
                }
            }
        }
    }
    let mut exit_status = None;
    let mut exit_signal = None;
    for r in &out_scan.reqs {
        match &r.req {
            Request::ExitStatus(e) => {
                exit_status = Some(e.exit_status);
                pending.push(Pending {
                    time: r.time,
                    kind: EventKind::Exit,
                    data: e.exit_status.to_string(),
                });
            }
            Request::ExitSignal(e) => {
                exit_signal = Some(
                    serde_json::json!({"signal": e.signal_name, "core_dumped": e.core_dumped, "message": e.error_message}),
                );
                findings.push((
                    r.time,
                    Severity::Low,
                    "exit-signal",
                    r.file.clone(),
                    format!("ended by signal {}", e.signal_name),
                ));
            }
            other => findings.push((
                r.time,
                Severity::Info,
                "not-rendered",
                r.file.clone(),
                format!("{} (from the server) not rendered", other.request_type()),
            )),
        }
    }
    for r in &conn_scan.reqs {
        match &r.req {
            Request::TcpipForward(x) => findings.push((
                r.time,
                Severity::Medium,
                "port-forwarding",
                r.file.clone(),
                format!("tcpip-forward {}:{}", x.address_to_bind, x.port_to_bind),
            )),
            Request::DirectTcpip(x) => findings.push((
                r.time,
                Severity::Medium,
                "port-forwarding",
                r.file.clone(),
                format!(
                    "direct-tcpip to {}:{} from {}:{}",
                    x.host, x.port, x.originator_ip_address, x.originator_port
                ),
            )),
            Request::ForwardedTcpip(x) => findings.push((
                r.time,
                Severity::Medium,
                "port-forwarding",
                r.file.clone(),
                format!("forwarded-tcpip {}:{}", x.address, x.port),
            )),
            Request::X11(_) => findings.push((
                r.time,
                Severity::Medium,
                "x11-forwarding",
                r.file.clone(),
                "x11 channel".into(),
            )),
            Request::Unknown(u) if u.request_type.starts_with("auth-agent") => findings.push((
                r.time,
                Severity::Medium,
                "agent-forwarding",
                r.file.clone(),
                format!("{:?}", u.request_type),
            )),
            _ => {}
        }
    }
    for (t, file, what) in scan.unknown.iter().chain(&out_scan.unknown) {
        findings.push((
            *t,
            Severity::Medium,
            "unrendered-chunk",
            file.clone(),
            format!("chunk type {what} is not rendered"),
        ));
    }

    // Strict mode refuses before writing anything.
    if opts.strict {
        let high: Vec<String> = findings
            .iter()
            .filter(|f| f.1 == Severity::High)
            .map(|f| escape(&f.4))
            .collect();
        if !high.is_empty() {
            return Err(ConvertError::Strict(format!(
                "{} high-severity finding(s): {}",
                high.len(),
                high.join("; ")
            )));
        }
    }

    // Open the output stream and find its HEAD.
    let mpath = files.messages_outbound.clone();
    let mut ms = ChunkStream::new(store.open(&mpath)?, &mpath).with_sha256();
    let head = match ms.next_chunk()? {
        Some(c) if c.is_head() => c.time,
        Some(_) => {
            return Err(ConvertError::Malformed(format!(
                "{mpath}: DATA before the HEAD chunk"
            )));
        }
        None => return Err(ConvertError::Malformed(format!("{mpath}: no HEAD chunk"))),
    };

    let mut env_hdr = vec![
        ("SHELL".to_string(), Some(shell.clone())),
        ("TERM".to_string(), Some(term.clone())),
    ];
    let changed = |h: &Vec<(Timestamp, String)>| h.windows(2).any(|w| w[0].1 != w[1].1);
    if changed(&shell_hist) || changed(&term_hist) {
        let mut note = Vec::new();
        for (label, h) in [("SHELL", &shell_hist), ("TERM", &term_hist)] {
            if changed(h) {
                let vals: Vec<String> = h
                    .iter()
                    .map(|(t, v)| format!("{v}@{}s", rel_seconds(*t, head)))
                    .collect();
                note.push(format!("{label} changed: {}", vals.join(" → ")));
            }
        }
        note.push("the header shows the last value; see the security report".into());
        env_hdr.push(("BSR_HEADER_NOTE".to_string(), Some(note.join("; "))));
    }
    if let Some(warning) = &ctx.unverified_warning {
        match env_hdr.iter_mut().find(|(k, _)| k == "BSR_HEADER_NOTE") {
            Some((_, Some(v))) => *v = format!("{warning}; {v}"),
            _ => env_hdr.push(("BSR_HEADER_NOTE".to_string(), Some(warning.clone()))),
        }
    }
    let header = Header {
        version: if opts.format == Format::V3 { 3 } else { 2 },
        width,
        height,
        timestamp: Some(head.secs.min(i64::MAX as u64) as i64),
        env: env_hdr.clone(),
        term_type: Some(term.clone()),
        ..Header::default()
    };
    let mut w = match opts.format {
        Format::V2 => CastWriter::new_v2(out, &header)?,
        Format::V3 => CastWriter::new_v3(out, &header)?,
    };
    if opts.format == Format::V2 {
        pending.retain(|p| p.kind != EventKind::Exit);
    }
    pending.sort_by_key(|p| p.time);
    let mut pending = pending.into_iter().peekable();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let rel = |t: Timestamp| t.as_nanos() - head.as_nanos();
    let emit = |w: &mut CastWriter<W>,
                counts: &mut BTreeMap<String, u64>,
                t: i128,
                kind: &EventKind,
                data: &str|
     -> Result<(), ConvertError> {
        w.event(t, kind, data)?;
        *counts.entry(kind.code().to_string()).or_default() += 1;
        Ok(())
    };

    if let Some(warning) = &ctx.unverified_warning {
        emit(
            &mut w,
            &mut counts,
            0,
            &EventKind::Marker,
            &format!("{MARKER_PREFIX}{warning}"),
        )?;
    }

    // Inbound data, read alongside.
    let mut inbound = match (&files.messages_inbound, opts.input) {
        (Some(p), true) => {
            let mut s = ChunkStream::new(store.open(p)?, p).with_sha256();
            match s.next_chunk()? {
                Some(c) if c.is_head() => {}
                _ => return Err(ConvertError::Malformed(format!("{p}: no HEAD chunk"))),
            }
            Some((s, p.clone(), Utf8Stream::new()))
        }
        _ => None,
    };
    let mut next_in: Option<(Timestamp, String)> = None;
    let mut in_done = inbound.is_none();
    let mut text = String::new();
    let mut out_utf8 = Utf8Stream::new();
    let mut last_time = head;
    let mut seen_done = false;

    // Fills `next_in` with the next inbound text event.
    macro_rules! pull_in {
        () => {
            while next_in.is_none() && !in_done {
                let Some((s, _, dec)) = inbound.as_mut() else {
                    break;
                };
                match s.next_chunk()? {
                    Some(c) if c.is_data() => {
                        let d = c.data()?;
                        let mut t = String::new();
                        dec.push(&d, &mut t);
                        if !t.is_empty() {
                            next_in = Some((c.time, t));
                        }
                    }
                    Some(c) if c.is_done() => in_done = true,
                    Some(c) if c.is_head() => {
                        return Err(ConvertError::Malformed(
                            "multiple header chunks in messages-inbound.data".into(),
                        ));
                    }
                    Some(_) => {}
                    None => in_done = true,
                }
            }
        };
    }

    loop {
        let chunk = ms.next_chunk()?;
        let (ctime, is_data, is_done) = match &chunk {
            Some(c) => {
                if c.is_head() {
                    return Err(ConvertError::Malformed(format!(
                        "{mpath}: multiple header chunks"
                    )));
                }
                (c.time, c.is_data(), c.is_done())
            }
            None => (Timestamp::new(u64::MAX, 0), false, false),
        };
        // Everything else that happened up to this chunk's time.
        loop {
            pull_in!();
            let tp = pending.peek().map(|p| p.time);
            let ti = next_in.as_ref().map(|x| x.0);
            let next = match (tp, ti) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match next {
                // At equal times the output chunk goes first (file order is lost across files).
                Some(t) if t < ctime => {
                    if tp == Some(t) {
                        if let Some(p) = pending.next() {
                            emit(&mut w, &mut counts, rel(p.time).max(0), &p.kind, &p.data)?;
                        }
                    } else if let Some((t, s)) = next_in.take() {
                        emit(&mut w, &mut counts, rel(t), &EventKind::Input, &s)?;
                    }
                }
                _ => break,
            }
        }
        let Some(c) = chunk else { break };
        if is_done {
            seen_done = true;
            last_time = ctime;
            continue;
        }
        if is_data {
            text.clear();
            out_utf8.push(&c.data()?, &mut text);
            if !text.is_empty() {
                emit(&mut w, &mut counts, rel(ctime), &EventKind::Output, &text)?;
            }
            last_time = ctime;
        }
    }
    text.clear();
    out_utf8.finish(&mut text);
    if !text.is_empty() {
        emit(
            &mut w,
            &mut counts,
            rel(last_time),
            &EventKind::Output,
            &text,
        )?;
    }
    let mut replaced = out_utf8.replaced;
    if let Some((s, p, mut dec)) = inbound {
        let mut t = String::new();
        dec.finish(&mut t);
        if !t.is_empty() {
            emit(&mut w, &mut counts, rel(last_time), &EventKind::Input, &t)?;
        }
        replaced += dec.replaced;
        check_sum(s, &p, &files.checksums)?;
    }
    check_sum(ms, &mpath, &files.checksums)?;
    if !seen_done {
        findings.push((
            last_time,
            Severity::Medium,
            "unfinished",
            mpath.clone(),
            "messages-outbound.data has no DONE chunk (unfinished recording)".into(),
        ));
    }
    w.finish()?;

    findings.sort_by_key(|f| f.0);
    let report = SecurityReport {
        schema: "bsr-asciicast/report/v1",
        channel: files.name.clone(),
        channel_type: files.channel_type.clone(),
        session_program: program.to_string(),
        exec_command,
        header: serde_json::json!({
            "version": header.version, "width": width, "height": height, "timestamp": header.timestamp,
            "env": env_hdr.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        }),
        env: env
            .into_iter()
            .map(|(t, name, value, after_start)| EnvEntry {
                time: t.to_rfc3339(),
                offset_seconds: rel_seconds(t, head),
                name,
                value,
                after_start,
            })
            .collect(),
        findings: findings
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
        exit_status,
        exit_signal,
        events: counts,
        utf8_replacements: replaced,
    };
    Ok(Converted { report })
}
