//! Session facts and audit events for SIEMs (schema in `docs/EVENTS.md`).
//!
//! [`verify_and_analyze`] verifies a recording and reads and returns its [`Facts`] (one JSON object) and its
//! time-ordered audit [`Event`]s (Teleport-style names); the CLI prints either. Both read only
//! metadata and the
//! request files (never the channel data), through the same stores as verification, and both
//! carry the verification verdict when one was computed.

use crate::report::{Report, Severity};
use crate::verify::{Seen, VerifyOptions, verify_keeping};
use bsr_core::format::{self, Direction, Timestamp};
use bsr_core::read::{ChannelRecording, ConnectionRecording, Recording};
use bsr_core::store::{ReadStore, join};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

mod filter;
mod requests;

pub use filter::{EVENT_KINDS, Filter};
use requests::{EventBuilder, request_events};

/// Largest `session-meta.json` read.
const MAX_META: u64 = 16 * 1024 * 1024;
/// Most request events kept per recording (a hostile recording cannot exhaust memory).
pub const MAX_EVENTS_PER_RECORDING: usize = 1_000_000;

/// Verification summary carried by facts and events.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerificationSummary {
    /// `authentic`, `unauthenticated`, `incomplete`, `invalid`, `error`.
    pub verdict: String,
    /// Exit code of the verdict.
    pub exit_code: i32,
    /// `kms`, `recorder`, `kms+recorder` or `none`.
    pub trust_mode: &'static str,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// The first error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The first errors for people (at most [`QUOTED_ERRORS`]), files that could not be read
    /// first (they are the cause of what follows); not in the JSON.
    #[serde(skip)]
    pub quoted: Vec<String>,
}

/// Most errors quoted on stderr for a recording that did not verify.
pub const QUOTED_ERRORS: usize = 5;

impl VerificationSummary {
    /// From a verification report.
    pub fn from_report(r: &Report) -> Self {
        let errors = r
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        VerificationSummary {
            verdict: serde_json::to_value(r.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            exit_code: r.exit_code,
            trust_mode: r.trust.mode.as_str(),
            errors,
            warnings: r.problems.len() - errors,
            first_error: r
                .problems
                .iter()
                .find(|p| p.severity == Severity::Error)
                .map(|p| p.to_string()),
            quoted: r
                .errors_cause_first()
                .iter()
                .take(QUOTED_ERRORS)
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

/// One audit event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Event name (`session.start`, `session.command`, …).
    pub event: &'static str,
    /// Time, RFC 3339 with nanoseconds.
    pub time: String,
    /// Time in nanoseconds since the Unix epoch (for exact ordering).
    pub time_ns: u128,
    /// Session recording id.
    pub recording_id: String,
    /// Boundary session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Connection recording id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// Channel recording id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// Container path (store-relative) the event came from.
    pub path: String,
    /// User id (from `session-meta.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Target id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Event-specific fields.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    /// Verdict of the recording, when verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// Who and what, from `session-meta.json`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Identity {
    /// User id.
    pub user_id: Option<String>,
    /// User name.
    pub user_name: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// Target name.
    pub target_name: Option<String>,
    /// Target scope id.
    pub target_scope: Option<String>,
    /// Host id.
    pub host_id: Option<String>,
    /// Host address.
    pub host_address: Option<String>,
    /// Target default port.
    pub port: Option<u64>,
    /// Worker id.
    pub worker_id: Option<String>,
    /// Session id (`PublicId`).
    pub session_id: Option<String>,
    /// The target endpoint the session reached (`Endpoint`).
    pub endpoint: Option<String>,
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads `session-meta.json` of a recording (tolerant: any missing field is `None`).
pub fn identity(store: &dyn ReadStore, dir: &str) -> Identity {
    let p = join(dir, format::SESSION_META_FILE);
    let Ok(b) = store.read_limited(&p, MAX_META) else {
        return Identity::default();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&b) else {
        return Identity::default();
    };
    let host = if v.get("StaticHost").map(|h| !h.is_null()).unwrap_or(false) {
        "StaticHost"
    } else {
        "DynamicHost"
    };
    Identity {
        user_id: s(&v, &["User", "PublicId"]),
        user_name: s(&v, &["User", "Name"]),
        target_id: s(&v, &["Target", "PublicId"]),
        target_name: s(&v, &["Target", "Name"]),
        target_scope: s(&v, &["Target", "Scope", "PublicId"]),
        host_id: s(&v, &[host, "PublicId"]),
        host_address: s(&v, &[host, "Address"]),
        port: v
            .get("Target")
            .and_then(|t| t.get("DefaultPort"))
            .and_then(Value::as_u64)
            .filter(|p| *p > 0),
        worker_id: s(&v, &["Worker", "PublicId"]),
        session_id: s(&v, &["PublicId"]),
        endpoint: s(&v, &["Endpoint"]),
    }
}

/// Session facts of one recording.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Facts {
    /// `bsr-facts/v1`.
    pub schema: &'static str,
    /// Session recording id.
    pub recording_id: String,
    /// Where the recording is (absolute path or URL).
    pub location: String,
    /// Session id.
    pub session_id: Option<String>,
    /// User id and name.
    pub user: Value,
    /// Target id, name, scope.
    pub target: Value,
    /// Host id and address.
    pub host: Value,
    /// Target port.
    pub port: Option<u64>,
    /// Worker id.
    pub worker: Option<String>,
    /// The target endpoint (Boundary's `Endpoint`).
    pub endpoint: Option<String>,
    /// Client address: Boundary's BSR format does not record it, so this is always `null` for
    /// Boundary recordings (kept so the schema has the field SIEMs expect).
    pub client_address: Option<String>,
    /// Start (RFC 3339).
    pub start: Option<String>,
    /// End (RFC 3339).
    pub end: Option<String>,
    /// Duration in seconds.
    pub duration_seconds: Option<f64>,
    /// Connections.
    pub connections: u64,
    /// Channels.
    pub channels: u64,
    /// Bytes from the client (sum of channel `BytesUp`).
    pub bytes_up: u64,
    /// Bytes to the client.
    pub bytes_down: u64,
    /// Channel types and programs, e.g. `session/shell`, `session/exec:scp`, `session/subsystem:sftp`, `direct-tcpip`.
    pub session_programs: Vec<String>,
    /// Exec commands, in order.
    pub commands: Vec<String>,
    /// Exit statuses of channels, in order.
    pub exit_statuses: Vec<u32>,
    /// Exit signals of channels.
    pub exit_signals: Vec<String>,
    /// `Errors` of the summaries, and read errors.
    pub errors: Vec<String>,
    /// Closed normally (finished, not recovered).
    pub ended_cleanly: bool,
    /// Recovered after a crash.
    pub recovered: bool,
    /// Verification, when it ran.
    pub verification: Option<VerificationSummary>,
    /// Why the recording could not be opened at all (no or a garbage
    /// `session-recording.meta`): its facts are then only what the folder name gives, and it
    /// has no events. Not serialized; the CLI reports it on stderr with a non-zero exit.
    #[serde(skip)]
    pub unreadable: Option<String>,
    /// The entries of `errors` that are read or decoding errors of this tool (not the
    /// summaries' own `Errors`): the CLI reports them on stderr with a non-zero exit.
    #[serde(skip)]
    pub read_errors: Vec<String>,
}

impl Facts {
    /// Records an error reading the recording (in `errors` and `read_errors`).
    pub fn read_error(&mut self, e: String) {
        self.errors.push(e.clone());
        self.read_errors.push(e);
    }
}

fn ts(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn ns(t: Timestamp) -> u128 {
    t.as_nanos().max(0) as u128
}

/// Verifies the recording (unless `opts` is `None`) and reads its facts and events, reusing
/// the summaries that verification already read (each is read once).
pub fn verify_and_analyze(
    store: Arc<dyn ReadStore>,
    dir: &str,
    opts: Option<&VerifyOptions>,
) -> (Facts, Vec<Event>) {
    match opts {
        Some(o) => {
            let (report, seen) = verify_keeping(&*store, dir, o);
            analyze_with(store, dir, Some(&report), &seen)
        }
        None => analyze_with(store, dir, None, &Seen::default()),
    }
}

/// Reads the facts and events of a recording together (one pass over the metadata and the
/// request files), carrying the verdict of `report` when one was computed.
pub fn analyze(
    store: Arc<dyn ReadStore>,
    dir: &str,
    report: Option<&Report>,
) -> (Facts, Vec<Event>) {
    analyze_with(store, dir, report, &Seen::default())
}

/// Reads the facts and events of a recording together (one pass over the metadata and the
/// request files); summaries found in `seen` (from [`verify_keeping`]) are not read again.
pub fn analyze_with(
    store: Arc<dyn ReadStore>,
    dir: &str,
    report: Option<&Report>,
    seen: &Seen,
) -> (Facts, Vec<Event>) {
    let ident = identity(&*store, dir);
    let verification = report.map(VerificationSummary::from_report);
    let verdict = verification.as_ref().map(|v| v.verdict.clone());
    let mut f = empty_facts(&*store, dir, &ident, verification);
    let mut ev: Vec<Event> = Vec::new();
    let base = |name: &'static str,
                t: Timestamp,
                path: &str,
                conn: Option<&str>,
                chan: Option<&str>,
                fields: Map<String, Value>| Event {
        event: name,
        time: ts(t),
        time_ns: ns(t),
        recording_id: String::new(),
        session_id: ident.session_id.clone(),
        connection_id: conn.map(str::to_string),
        channel_id: chan.map(str::to_string),
        path: path.to_string(),
        user: ident.user_id.clone(),
        target: ident.target_id.clone(),
        fields,
        verdict: verdict.clone(),
    };
    let rec = match Recording::open(store.clone(), dir) {
        Ok(r) => r,
        Err(e) => {
            f.read_error(e.chain());
            f.unreadable = Some(e.chain());
            return (f, ev);
        }
    };
    f.recording_id = rec.id().to_string();
    f.ended_cleanly = rec.is_finished() && !f.recovered;
    let mut start = None::<Timestamp>;
    let mut end = None::<Timestamp>;
    let session_summary = match &seen.session_summary {
        Some(s) => Ok(Some(s.clone())),
        None => rec.summary(),
    };
    match session_summary {
        Ok(Some(sum)) => {
            start = Some(sum.start_time);
            end = Some(sum.end_time);
            if !sum.errors.is_empty() {
                f.errors.push(sum.errors.clone());
            }
        }
        Ok(None) => {}
        Err(e) => f.read_error(e.chain()),
    }
    let conns = match rec.connections() {
        Ok(c) => c,
        Err(e) => {
            f.read_error(e.chain());
            Vec::new()
        }
    };
    f.connections = conns.len() as u64;
    let mut span = (start, end);
    for conn in &conns {
        connection_events(&*store, conn, &base, &mut ev, &mut f, seen, &mut span);
    }
    let (start, end) = span;
    if let Some(s) = start {
        let mut m = Map::new();
        m.insert("user_name".into(), json!(ident.user_name));
        m.insert("target_name".into(), json!(ident.target_name));
        m.insert("host".into(), json!(ident.host_address));
        ev.push(base("session.start", s, dir, None, None, m));
        f.start = Some(ts(s));
    }
    if let Some(e) = end {
        let mut m = Map::new();
        m.insert("ended_cleanly".into(), json!(f.ended_cleanly));
        m.insert("recovered".into(), json!(f.recovered));
        ev.push(base("session.end", e, dir, None, None, m));
        f.end = Some(ts(e));
    }
    if let (Some(s), Some(e)) = (start, end) {
        f.duration_seconds = Some((e.as_nanos() - s.as_nanos()) as f64 / 1e9);
    }
    for e in &mut ev {
        e.recording_id = f.recording_id.clone();
    }
    // Time order; session.start first and session.end last among equal times.
    let rank = |e: &Event| match e.event {
        "session.start" => 0,
        "connection.open" => 1,
        "channel.open" => 2,
        "session.data" => 7,
        "channel.close" => 8,
        "connection.close" => 9,
        "session.end" => 10,
        _ => 5,
    };
    ev.sort_by_key(|a| (a.time_ns, rank(a)));
    (f, ev)
}

/// The facts of a recording before its tree is read: identity, verification, the id its
/// folder name gives.
fn empty_facts(
    store: &dyn ReadStore,
    dir: &str,
    ident: &Identity,
    verification: Option<VerificationSummary>,
) -> Facts {
    let rid_guess = dir
        .rsplit('/')
        .next()
        .unwrap_or(dir)
        .trim_end_matches(format::SESSION_DIR_SUFFIX)
        .to_string();
    Facts {
        schema: "bsr-facts/v1",
        recording_id: rid_guess.clone(),
        location: store.describe(dir),
        session_id: ident.session_id.clone(),
        user: json!({"id": ident.user_id, "name": ident.user_name}),
        target: json!({"id": ident.target_id, "name": ident.target_name, "scope": ident.target_scope}),
        host: json!({"id": ident.host_id, "address": ident.host_address}),
        port: ident.port,
        worker: ident.worker_id.clone(),
        endpoint: ident.endpoint.clone(),
        client_address: None,
        start: None,
        end: None,
        duration_seconds: None,
        connections: 0,
        channels: 0,
        bytes_up: 0,
        bytes_down: 0,
        session_programs: Vec::new(),
        commands: Vec::new(),
        exit_statuses: Vec::new(),
        exit_signals: Vec::new(),
        errors: Vec::new(),
        ended_cleanly: false,
        recovered: store.size(&join(dir, format::RECOVERY_MARKER_FILE)).is_ok(),
        verification,
        unreadable: None,
        read_errors: Vec::new(),
    }
}

/// The events of one connection (its open and close, its requests) and of its channels; widens
/// `span` (the session's start and end) by the connection's times.
fn connection_events(
    store: &dyn ReadStore,
    conn: &ConnectionRecording,
    base: &EventBuilder<'_>,
    ev: &mut Vec<Event>,
    f: &mut Facts,
    seen: &Seen,
    span: &mut (Option<Timestamp>, Option<Timestamp>),
) {
    let cid = conn.id().to_string();
    let cs = match seen.connection_summaries.get(conn.dir()) {
        Some(s) => Ok(Some(s.clone())),
        None => conn.summary(),
    };
    if let Ok(Some(cs)) = cs {
        span.0 = Some(span.0.map_or(cs.start_time, |s| s.min(cs.start_time)));
        span.1 = Some(span.1.map_or(cs.end_time, |e| e.max(cs.end_time)));
        let mut m = Map::new();
        m.insert("channels".into(), json!(cs.channel_count));
        ev.push(base(
            "connection.open",
            cs.start_time,
            conn.dir(),
            Some(&cid),
            None,
            Map::new(),
        ));
        m.insert("bytes_up".into(), json!(cs.bytes_up));
        m.insert("bytes_down".into(), json!(cs.bytes_down));
        ev.push(base(
            "connection.close",
            cs.end_time,
            conn.dir(),
            Some(&cid),
            None,
            m,
        ));
        if !cs.errors.is_empty() {
            f.errors.push(cs.errors.clone());
        }
    }
    for d in [Direction::Inbound, Direction::Outbound] {
        let p = join(conn.dir(), format::requests_file(d));
        let cid = Some(cid.as_str());
        request_events(store, &p, d, conn.dir(), cid, None, base, ev, f, seen);
    }
    let chans = match conn.channels() {
        Ok(c) => c,
        Err(e) => {
            f.read_error(e.chain());
            return;
        }
    };
    f.channels += chans.len() as u64;
    for ch in &chans {
        channel_events(store, ch, &cid, base, ev, f, seen);
    }
}

/// The events and facts of one channel: open, data totals and close from its summary, and its
/// requests.
fn channel_events(
    store: &dyn ReadStore,
    ch: &ChannelRecording,
    cid: &str,
    base: &EventBuilder<'_>,
    ev: &mut Vec<Event>,
    f: &mut Facts,
    seen: &Seen,
) {
    let chid = ch.id().to_string();
    let mut program = ch.channel_type().to_string();
    let cs = match seen.channel_summaries.get(ch.dir()) {
        Some(s) => Ok(Some(s.clone())),
        None => ch.summary(),
    };
    if let Ok(Some(s)) = cs {
        f.bytes_up += s.bytes_up;
        f.bytes_down += s.bytes_down;
        let mut m = Map::new();
        m.insert("channel_type".into(), json!(s.channel_type));
        ev.push(base(
            "channel.open",
            s.start_time,
            ch.dir(),
            Some(cid),
            Some(&chid),
            m,
        ));
        for (dir_name, bytes) in [("inbound", s.bytes_up), ("outbound", s.bytes_down)] {
            let mut m = Map::new();
            m.insert("direction".into(), json!(dir_name));
            m.insert("bytes".into(), json!(bytes));
            ev.push(base(
                "session.data",
                s.end_time,
                ch.dir(),
                Some(cid),
                Some(&chid),
                m,
            ));
        }
        ev.push(base(
            "channel.close",
            s.end_time,
            ch.dir(),
            Some(cid),
            Some(&chid),
            Map::new(),
        ));
        program = match s.session_program.as_str() {
            "exec" => format!("{}/exec:{}", s.channel_type, s.exec_program),
            "subsystem" => format!("{}/subsystem:{}", s.channel_type, s.subsystem_name),
            "shell" | "none" => format!("{}/{}", s.channel_type, s.session_program),
            _ => s.channel_type.clone(),
        };
    }
    f.session_programs.push(program);
    for d in [Direction::Inbound, Direction::Outbound] {
        let p = join(ch.dir(), format::requests_file(d));
        request_events(
            store,
            &p,
            d,
            ch.dir(),
            Some(cid),
            Some(&chid),
            base,
            ev,
            f,
            seen,
        );
    }
}
