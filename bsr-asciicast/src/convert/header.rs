//! The header (Boundary's rules) and the header-security findings, from the requests.

use super::program::Program;
use super::scan::{Req, Scan};
use super::{ConvertContext, ConvertOptions, Format, MARKER_PREFIX, MARKER_REQUEST, Severity};
use crate::cast::{EventKind, Header};
use crate::error::ConvertError;
use crate::human::escape;
use crate::import::CAST_HEADER_REQUEST;
use bsr_core::format::Timestamp;
use bsr_core::ssh::{EnvRequest, PtyRequest, Request, UnknownRequest};

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

/// An event waiting to be merged into the output.
pub(super) struct Pending {
    pub time: Timestamp,
    pub kind: EventKind,
    pub data: String,
}

/// A finding before it is placed in time: (time, severity, code, file, message).
pub(super) type RawFinding = (Timestamp, Severity, &'static str, String, String);

/// What the requests say: the header values, their history, findings, env and pending events.
pub(super) struct Analysis {
    pub width: u32,
    pub height: u32,
    pub shell: String,
    pub term: String,
    pub shell_hist: Vec<(Timestamp, String)>,
    pub term_hist: Vec<(Timestamp, String)>,
    pub findings: Vec<RawFinding>,
    /// (time, name, value, after the start).
    pub env: Vec<(Timestamp, String, String, bool)>,
    pub pending: Vec<Pending>,
    pub exit_status: Option<u32>,
    pub exit_signal: Option<serde_json::Value>,
    /// A `cast-header@bsr` request was seen: the env requests before the start came from an
    /// imported cast's header, and already show in the header (no markers).
    cast_header: bool,
}

impl Analysis {
    /// Boundary's defaults: 80×24, `SHELL=/bin/bash`, `TERM=xterm`.
    pub fn new() -> Self {
        Analysis {
            width: 80,
            height: 24,
            shell: "/bin/bash".to_string(),
            term: "xterm".to_string(),
            shell_hist: Vec::new(),
            term_hist: Vec::new(),
            findings: Vec::new(),
            env: Vec::new(),
            pending: Vec::new(),
            exit_status: None,
            exit_signal: None,
            cast_header: false,
        }
    }

    fn find(&mut self, t: Timestamp, sev: Severity, code: &'static str, f: &str, msg: String) {
        self.findings.push((t, sev, code, f.to_string(), msg));
    }

    fn marker(&mut self, opts: &ConvertOptions, t: Timestamp, data: String) {
        if opts.markers {
            self.pending.push(Pending {
                time: t,
                kind: EventKind::Marker,
                data,
            });
        }
    }

    /// The channel's inbound requests, in order.
    pub fn inbound(&mut self, scan: &Scan, program: &Program, opts: &ConvertOptions) {
        let started = |t: Timestamp| program.start_time.is_some_and(|s| t > s);
        for r in &scan.reqs {
            let (t, f) = (r.time, r.file.as_str());
            match &r.req {
                Request::Pty(p) => self.pty(t, f, p, started(t), opts),
                Request::WindowChange(w) => {
                    self.width = self.width.max(w.terminal_width_columns);
                    self.height = self.height.max(w.terminal_height_rows);
                    if opts.resize && w.terminal_width_columns > 0 && w.terminal_height_rows > 0 {
                        self.pending.push(Pending {
                            time: t,
                            kind: EventKind::Resize,
                            data: format!(
                                "{}x{}",
                                w.terminal_width_columns, w.terminal_height_rows
                            ),
                        });
                    }
                }
                Request::Env(e) => self.env_request(t, f, e, started(t), program.name, opts),
                _ => self.other_inbound(r, program, opts),
            }
        }
    }

    fn pty(&mut self, t: Timestamp, f: &str, p: &PtyRequest, after: bool, o: &ConvertOptions) {
        if p.terminal_width_characters > 0 {
            self.width = p.terminal_width_characters;
        }
        if p.terminal_height_rows > 0 {
            self.height = p.terminal_height_rows;
        }
        if !p.term_env_var.is_empty() {
            self.term = p.term_env_var.clone();
            self.term_hist.push((t, p.term_env_var.clone()));
        }
        if after {
            self.find(
                t,
                Severity::Medium,
                "pty-after-start",
                f,
                format!(
                    "pty-req after the session started (TERM {:?}, {}x{})",
                    p.term_env_var, p.terminal_width_characters, p.terminal_height_rows
                ),
            );
            if o.resize {
                self.pending.push(Pending {
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

    fn env_request(
        &mut self,
        t: Timestamp,
        f: &str,
        e: &EnvRequest,
        after: bool,
        program: &str,
        opts: &ConvertOptions,
    ) {
        self.env
            .push((t, e.variable_name.clone(), e.variable_value.clone(), after));
        if e.variable_name == "SHELL" && !e.variable_value.is_empty() {
            self.shell = e.variable_value.clone();
            self.shell_hist.push((t, e.variable_value.clone()));
        }
        if e.variable_name == "TERM" {
            self.term_hist.push((t, e.variable_value.clone()));
        }
        let name = e.variable_name.as_str();
        let v = &e.variable_value;
        if SECURITY_ENV_HIGH.contains(&name) || name.starts_with("LD_") || name.starts_with("DYLD_")
        {
            let msg = format!("{name}={v:?} set by the client");
            self.find(t, Severity::High, "security-env", f, msg);
        } else if SECURITY_ENV_MEDIUM.contains(&name) {
            let msg = format!("{name}={v:?} set by the client");
            self.find(t, Severity::Medium, "security-env", f, msg);
        }
        if after {
            let msg = format!("env {name}={v:?} after the {program} started");
            self.find(t, Severity::High, "env-after-start", f, msg);
        }
        if !self.cast_header || after {
            self.marker(opts, t, format!("{MARKER_PREFIX}env {name}={v}"));
        }
    }

    /// Inbound requests other than pty-req, window-change and env.
    fn other_inbound(&mut self, r: &Req, program: &Program, opts: &ConvertOptions) {
        let (t, f) = (r.time, r.file.as_str());
        match &r.req {
            Request::Exec(e) => {
                self.find(
                    t,
                    Severity::Info,
                    "exec",
                    f,
                    format!("exec {:?}", e.command),
                );
                self.marker(opts, t, format!("{MARKER_PREFIX}exec {}", e.command));
            }
            Request::Shell(_) => {
                if program.start_time != Some(t) {
                    let msg = "another shell request".into();
                    self.find(t, Severity::Medium, "second-start", f, msg);
                }
            }
            Request::Subsystem(s) => {
                let msg = format!("subsystem {:?}", s.subsystem_name);
                self.find(t, Severity::Medium, "subsystem", f, msg);
                let m = format!("{MARKER_PREFIX}subsystem {}", s.subsystem_name);
                self.marker(opts, t, m);
            }
            Request::Signal(s) => {
                self.find(
                    t,
                    Severity::Low,
                    "signal",
                    f,
                    format!("signal {}", s.signal_name),
                );
                self.marker(opts, t, format!("{MARKER_PREFIX}signal {}", s.signal_name));
            }
            Request::X11Forwarding(x) => {
                let msg = format!("x11-req ({})", x.x11_authentication_protocol);
                self.find(t, Severity::Medium, "x11-forwarding", f, msg);
            }
            Request::Unknown(u) if u.request_type == CAST_HEADER_REQUEST => {
                self.cast_header = true;
                let msg = "the env requests that follow come from an imported cast's header".into();
                self.find(t, Severity::Info, "cast-header", f, msg);
            }
            Request::Unknown(u) if u.request_type == MARKER_REQUEST => {
                self.marker(opts, t, String::from_utf8_lossy(&u.data).into_owned());
            }
            Request::Unknown(u) => self.unknown_request(t, f, u, opts),
            other => {
                let msg = format!("{} request not rendered in the cast", other.request_type());
                self.find(t, Severity::Info, "not-rendered", f, msg);
            }
        }
    }

    fn unknown_request(&mut self, t: Timestamp, f: &str, u: &UnknownRequest, o: &ConvertOptions) {
        let (what, code) = if u.request_type.starts_with("auth-agent") {
            ("agent forwarding", "agent-forwarding")
        } else {
            ("request with no handler", "unknown-request")
        };
        let msg = format!(
            "{what}: {:?} ({} payload bytes)",
            u.request_type,
            u.data.len()
        );
        self.find(t, Severity::Medium, code, f, msg);
        self.marker(o, t, format!("{MARKER_PREFIX}request {}", u.request_type));
    }

    /// A SHELL or TERM that changed during the session.
    pub fn history(&mut self, file: &str) {
        for (label, sev, code) in [
            ("SHELL", Severity::High, "shell-changed"),
            ("TERM", Severity::Medium, "term-changed"),
        ] {
            let hist = if label == "SHELL" {
                &self.shell_hist
            } else {
                &self.term_hist
            };
            let mut found = Vec::new();
            if let Some((_, first)) = hist.first() {
                for (t, v) in hist.iter().skip(1) {
                    if v != first {
                        found.push((*t, format!("{label} changed from {first:?} to {v:?}")));
                    }
                }
            }
            for (t, msg) in found {
                self.find(t, sev, code, file, msg);
            }
        }
    }

    /// The server's requests: exit status and signal.
    pub fn outbound(&mut self, scan: &Scan) {
        for r in &scan.reqs {
            let (t, f) = (r.time, r.file.as_str());
            match &r.req {
                Request::ExitStatus(e) => {
                    self.exit_status = Some(e.exit_status);
                    self.pending.push(Pending {
                        time: t,
                        kind: EventKind::Exit,
                        data: e.exit_status.to_string(),
                    });
                }
                Request::ExitSignal(e) => {
                    self.exit_signal = Some(
                        serde_json::json!({"signal": e.signal_name, "core_dumped": e.core_dumped, "message": e.error_message}),
                    );
                    let msg = format!("ended by signal {}", e.signal_name);
                    self.find(t, Severity::Low, "exit-signal", f, msg);
                }
                other => {
                    let msg = format!("{} (from the server) not rendered", other.request_type());
                    self.find(t, Severity::Info, "not-rendered", f, msg);
                }
            }
        }
    }

    /// The connection's global requests: forwarding.
    pub fn connection(&mut self, scan: &Scan) {
        for r in &scan.reqs {
            let (t, f) = (r.time, r.file.as_str());
            let (code, msg) = match &r.req {
                Request::TcpipForward(x) => (
                    "port-forwarding",
                    format!("tcpip-forward {}:{}", x.address_to_bind, x.port_to_bind),
                ),
                Request::DirectTcpip(x) => (
                    "port-forwarding",
                    format!(
                        "direct-tcpip to {}:{} from {}:{}",
                        x.host, x.port, x.originator_ip_address, x.originator_port
                    ),
                ),
                Request::ForwardedTcpip(x) => (
                    "port-forwarding",
                    format!("forwarded-tcpip {}:{}", x.address, x.port),
                ),
                Request::X11(_) => ("x11-forwarding", "x11 channel".into()),
                Request::Unknown(u) if u.request_type.starts_with("auth-agent") => {
                    ("agent-forwarding", format!("{:?}", u.request_type))
                }
                _ => continue,
            };
            self.find(t, Severity::Medium, code, f, msg);
        }
    }

    /// Chunks of the request files that are not requests.
    pub fn unrendered(&mut self, scans: [&Scan; 2]) {
        for (t, file, what) in scans.iter().flat_map(|s| &s.unknown) {
            let msg = format!("chunk type {what} is not rendered");
            self.find(*t, Severity::Medium, "unrendered-chunk", file, msg);
        }
    }

    /// `--strict`: refuses when a high-severity finding exists.
    pub fn strict(&self) -> Result<(), ConvertError> {
        let high: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.1 == Severity::High)
            .map(|f| escape(&f.4))
            .collect();
        if high.is_empty() {
            return Ok(());
        }
        Err(ConvertError::Strict(format!(
            "{} high-severity finding(s): {}",
            high.len(),
            high.join("; ")
        )))
    }

    /// The cast header: Boundary's values, a `BSR_HEADER_NOTE` when SHELL or TERM changed or
    /// the content is unverified.
    pub fn header(&self, opts: &ConvertOptions, ctx: &ConvertContext, head: Timestamp) -> Header {
        let mut env_hdr = vec![
            ("SHELL".to_string(), Some(self.shell.clone())),
            ("TERM".to_string(), Some(self.term.clone())),
        ];
        let changed = |h: &Vec<(Timestamp, String)>| h.windows(2).any(|w| w[0].1 != w[1].1);
        if changed(&self.shell_hist) || changed(&self.term_hist) {
            let mut note = Vec::new();
            for (label, h) in [("SHELL", &self.shell_hist), ("TERM", &self.term_hist)] {
                if changed(h) {
                    let vals: Vec<String> = h
                        .iter()
                        .map(|(t, v)| format!("{v}@{}s", super::rel_seconds(*t, head)))
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
        Header {
            version: if opts.format == Format::V3 { 3 } else { 2 },
            width: self.width,
            height: self.height,
            timestamp: Some(head.secs.min(i64::MAX as u64) as i64),
            env: env_hdr,
            term_type: Some(self.term.clone()),
            ..Header::default()
        }
    }
}
