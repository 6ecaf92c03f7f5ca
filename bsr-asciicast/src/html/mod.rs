//! `html`: one self-contained evidence page for a recording, playable offline from `file://`.
//!
//! The page holds asciinema-player (vendored in `vendor/asciinema-player/`, inlined), the cast,
//! and five tabs: Video (the player, speed and idle-time cap, the header-security findings as
//! markers), Text and Commands (each line a link that seeks the player), Facts (who, what,
//! where, when) and Integrity (verdict, trust mode, the session `SHA256SUM` and its key id).
//!
//! Verification runs first. A recording that is not intact (verdict `invalid`, `error`, or an
//! unfinished `incomplete` one) gets a page that says so in red and holds nothing read from the
//! recording's files: only the verdict, the problem codes and the paths given to us.
//!
//! Escaping: every recording-derived string in HTML goes through [`esc`]; the data the script
//! needs is one `<script type="application/json">` block written by [`json_for_script`] (`<`,
//! `>`, `&`, U+2028 and U+2029 escaped, so no string can end the element). The scripts are
//! static and allowed by SHA-256 hashes in a Content-Security-Policy that permits nothing
//! remote.
//!
//! ```no_run
//! use bsr_asciicast::html::{HtmlOptions, render};
//! use bsr_core::store::FsStore;
//! use std::sync::Arc;
//! let page = render(Arc::new(FsStore::new("testdata/recordings")), "sr_shell00001.bsr",
//!                   &HtmlOptions::default())?;
//! std::fs::write("page.html", page.html)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::convert::{ConvertOptions, Format, SecurityReport, Severity, convert, select_channel};
use crate::error::ConvertError;
use crate::verified::{GateError, GateOptions, Verification, gate};
use bsr_core::format;
use bsr_core::read::Recording;
use bsr_core::store::{ReadStore, join};
use bsr_verify::facts::{Facts, analyze};
use bsr_verify::report::{Report, Verdict};
use bsr_verify::verify::{VerifyOptions, verify};
use sha2::Digest;
use std::fmt::Write as _;
use std::sync::Arc;

/// asciinema-player's bundle (`vendor/asciinema-player/asciinema-player.min.js`).
pub const PLAYER_JS: &str =
    include_str!("../../../vendor/asciinema-player/asciinema-player.min.js");
/// asciinema-player's stylesheet.
pub const PLAYER_CSS: &str = include_str!("../../../vendor/asciinema-player/asciinema-player.css");
/// The vendored player's version.
pub const PLAYER_VERSION: &str = include_str!("../../../vendor/asciinema-player/VERSION");
/// The page's own script (static; reads its data from the `#bsr-data` JSON block).
const PAGE_JS: &str = include_str!("page.js");
/// The page's own stylesheet.
const PAGE_CSS: &str = include_str!("page.css");

/// Default cap on the cast held in a page (the page is one file, loaded whole by a browser).
pub const DEFAULT_MAX_CAST_BYTES: u64 = 256 * 1024 * 1024;
/// Largest session `SHA256SUM` shown.
const MAX_SUMS: u64 = 1024 * 1024;

/// Errors building a page.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HtmlError {
    /// Converting the channel.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// Reading the recording.
    #[error(transparent)]
    Bsr(#[from] bsr_core::Error),
    /// The cast is larger than the limit.
    #[error(
        "{name}: the cast is larger than {limit} bytes; a page holds the whole cast (raise --max-cast-bytes)"
    )]
    TooLarge {
        /// The channel.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// Building the transcript or the command list.
    #[error(transparent)]
    Text(#[from] crate::term::TextError),
    /// The verification gate (a key file, a path that is not a recording, a file that did not
    /// verify).
    #[error(transparent)]
    Gate(Box<GateError>),
    /// The session `SHA256SUM` read for the page differs from the one verified.
    #[error("{0}: SHA256SUM changed after it was verified")]
    Changed(String),
    /// Serializing the page data.
    #[error("serializing the page data: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<GateError> for HtmlError {
    fn from(e: GateError) -> Self {
        HtmlError::Gate(Box::new(e))
    }
}

/// Options of [`render`].
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    /// Verification (trust anchors), by the gate of [`crate::verified`].
    pub gate: GateOptions,
    /// Connection recording id (default: the only interactive channel).
    pub connection: Option<String>,
    /// Channel recording id.
    pub channel: Option<String>,
    /// Idle-time cap the player starts with, seconds (`None`: no cap).
    pub idle_time_limit: Option<f64>,
    /// Playback speed the player starts with.
    pub speed: f64,
    /// Largest cast a page holds.
    pub max_cast_bytes: u64,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            gate: GateOptions::default(),
            connection: None,
            channel: None,
            idle_time_limit: Some(2.0),
            speed: 1.0,
            max_cast_bytes: DEFAULT_MAX_CAST_BYTES,
        }
    }
}

/// A rendered page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The HTML document.
    pub html: String,
    /// The verification verdict.
    pub verdict: Verdict,
    /// Whether the page shows the recording (false: a refusal page).
    pub shown: bool,
}

/// One line of the Text or Commands tab.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Seconds since the cast start.
    pub t: f64,
    /// The text shown.
    pub text: String,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// JSON safe to place inside a `<script>` element: `<`, `>`, `&`, U+2028 and U+2029 become
/// `\uXXXX` escapes (these characters occur only inside JSON strings, where the escapes mean
/// the same characters).
pub fn json_for_script(v: &serde_json::Value) -> Result<String, serde_json::Error> {
    let s = serde_json::to_string(v)?;
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn csp_hash(s: &str) -> String {
    use base64::Engine;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()))
    )
}

/// The page's Content-Security-Policy: nothing remote, only the two inline scripts (by hash),
/// WebAssembly compilation for the player's terminal emulator, and the one inline stylesheet
/// (by hash).
pub fn content_security_policy(style: &str) -> String {
    format!(
        "default-src 'none'; script-src {} {} 'wasm-unsafe-eval'; style-src {}; img-src 'none'; \
         connect-src 'none'; font-src 'none'; media-src 'none'; object-src 'none'; \
         frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(PLAYER_JS),
        csp_hash(PAGE_JS),
        csp_hash(style)
    )
}

/// A `Write` that fails once more than `limit` bytes were written.
struct Limited {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl std::io::Write for Limited {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + b.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("cast size limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The verified parts a page is written from.
struct Content {
    verification: Verification,
    cast: String,
    report: SecurityReport,
    text: Vec<Entry>,
    commands: Vec<Entry>,
    facts: Facts,
    sums: String,
}

/// Verifies the recording in folder `dir` of `store` through the gate
/// ([`crate::verified::gate`]) and writes its evidence page from the verified files only (the
/// channel's files are pinned to the digests that verified).
///
/// A recording that does not pass (invalid, unfinished, unreadable) gets a refusal page
/// ([`Page::shown`] false), not an error: its verdict and the verifier's problem codes and
/// paths. Errors are for what cannot be shown at all (no interactive channel, a cast over the
/// size limit, a file that changed after it was verified).
pub fn render(store: Arc<dyn ReadStore>, dir: &str, opts: &HtmlOptions) -> Result<Page, HtmlError> {
    let verification = match gate(&*store, dir, &opts.gate) {
        Ok(v) => v,
        Err(e) => {
            let verdict = match e {
                GateError::Invalid { .. } => Verdict::Invalid,
                GateError::Unfinished { .. } => Verdict::Incomplete,
                GateError::Unreadable { .. } => Verdict::Error,
                e => return Err(e.into()),
            };
            // The problem list of the refusal (only read on this path).
            let vopts = VerifyOptions {
                trust: opts.gate.trust.clone(),
                ..VerifyOptions::default()
            };
            let report = verify(&*store, dir, &vopts);
            return Ok(Page {
                html: refusal_page(verdict, &report, &store.describe(dir)),
                verdict,
                shown: false,
            });
        }
    };
    let verdict = verification.verdict.unwrap_or(Verdict::Error);
    let content = read_content(store, dir, verification, opts)?;
    Ok(Page {
        html: evidence_page(verdict, &content, opts)?,
        verdict,
        shown: true,
    })
}

fn read_content(
    store: Arc<dyn ReadStore>,
    dir: &str,
    verification: Verification,
    opts: &HtmlOptions,
) -> Result<Content, HtmlError> {
    let rec = Recording::open(store.clone(), dir)?;
    let mut files = select_channel(&rec, opts.connection.as_deref(), opts.channel.as_deref())?;
    verification.pin(&mut files)?;
    let mut out = Limited {
        buf: Vec::new(),
        limit: opts.max_cast_bytes,
        exceeded: false,
    };
    let copts = ConvertOptions {
        format: Format::V2,
        // Never keystrokes: the page holds only what the terminal showed.
        input: false,
        resize: true,
        // Findings are given to the player as markers by the page, with their severity.
        markers: false,
        strict: false,
    };
    let done = match convert(&files, &copts, &mut out) {
        Ok(d) => d,
        Err(_) if out.exceeded => {
            return Err(HtmlError::TooLarge {
                name: files.name.clone(),
                limit: opts.max_cast_bytes,
            });
        }
        Err(e) => return Err(e.into()),
    };
    // convert writes UTF-8 (invalid bytes become U+FFFD); lossy is a no-op guard.
    let cast = String::from_utf8_lossy(&out.buf).into_owned();
    let (text, commands) = text_and_commands(&files)?;
    let (facts, _) = analyze(store.clone(), dir, None);
    let sums_bytes = store.read_limited(&join(dir, format::CHECKSUM_FILE), MAX_SUMS)?;
    if verification.session_sha256sum.as_deref()
        != Some(hex::encode(sha2::Sha256::digest(&sums_bytes)).as_str())
    {
        return Err(HtmlError::Changed(store.describe(dir)));
    }
    let sums = String::from_utf8_lossy(&sums_bytes).into_owned();
    Ok(Content {
        verification,
        cast,
        report: done.report,
        text,
        commands,
        facts,
        sums,
    })
}

/// Most lines a page's Text tab (and, separately, its Commands tab) holds.
pub const MAX_ENTRIES: usize = 200_000;

/// The Text and Commands tabs' lines, from the text view (`crate::text::transcript` and
/// `crate::commands::commands`): what the terminal showed, never keystrokes that it did not
/// echo (such a command shows as `[input not echoed: N keystrokes]`). Times are seconds from
/// the channel's HEAD, the cast's time 0. More than [`MAX_ENTRIES`] lines end with a note.
fn text_and_commands(
    files: &crate::convert::ChannelFiles,
) -> Result<(Vec<Entry>, Vec<Entry>), HtmlError> {
    use crate::term::{TextItem, printable};
    use crate::text::{block_header, offset_seconds};
    let mut text = Vec::new();
    let mut cut = 0u64;
    crate::text::transcript(files, |start, item| {
        if text.len() >= MAX_ENTRIES {
            cut += 1;
            return Ok(());
        }
        match item {
            TextItem::Line(l) => text.push(Entry {
                t: offset_seconds(l.time, start.head),
                text: printable(&l.text).into_owned(),
            }),
            TextItem::AltScreen(b) => {
                let t = offset_seconds(b.start, start.head);
                text.push(Entry {
                    t,
                    text: block_header(&b, start.head),
                });
                for r in &b.frame {
                    text.push(Entry {
                        t,
                        text: format!("| {}", printable(r)),
                    });
                }
            }
        }
        Ok(())
    })?;
    if cut > 0 {
        text.push(Entry {
            t: 0.0,
            text: format!("[{cut} more transcript items not shown]"),
        });
    }
    let mut commands = Vec::new();
    crate::commands::commands(files, |start, c| {
        if commands.len() < MAX_ENTRIES {
            commands.push(Entry {
                t: offset_seconds(c.time, start.head),
                text: c.display(),
            });
        }
        Ok(())
    })?;
    Ok((text, commands))
}

fn sev_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Authentic => "ok",
        Verdict::Unauthenticated => "warn",
        _ => "bad",
    }
}

fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn head(title: &str, style: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n",
        esc(&content_security_policy(style)),
        esc(title),
        style
    )
}

fn style() -> String {
    format!("{PLAYER_CSS}\n{PAGE_CSS}")
}

fn refusal_page(verdict: Verdict, report: &Report, location: &str) -> String {
    let style = style();
    let mut h = head("Recording failed verification", &style);
    let _ = write!(
        h,
        "<body>\n<header><h1>BSR recording</h1><div class=\"sub\">{}</div></header>\n\
         <div class=\"refused\" id=\"refused\">\n<h2>Verification failed: <span class=\"verdict bad\" id=\"verdict\">{}</span></h2>\n\
         <p>Verdict: {}. Nothing from its files is shown. Run <code>bsr-verify</code> on it for the details.</p>\n",
        esc(location),
        esc(&verdict_name(verdict)),
        esc(verdict.describe()),
    );
    let errors: Vec<_> = report.errors().collect();
    if !errors.is_empty() {
        h.push_str(
            "<table id=\"problems\"><tr><th>problem</th><th>class</th><th>where</th></tr>\n",
        );
        for p in errors {
            let at = match (p.offset, p.chunk) {
                (Some(o), Some(c)) => format!(" @ byte {o} (chunk {c})"),
                (Some(o), None) => format!(" @ byte {o}"),
                _ => String::new(),
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td><code>{}{}</code></td></tr>",
                esc(p.code),
                esc(&format!("{:?}", p.class).to_lowercase()),
                esc(&p.path),
                esc(&at)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</div>\n</body>\n</html>\n");
    h
}

fn opt(v: &Option<String>) -> String {
    v.as_deref()
        .map(esc)
        .unwrap_or_else(|| "<span class=\"note\">not recorded</span>".into())
}

fn value_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `name (id)`, `id`, or nothing.
fn name_and_id(v: &serde_json::Value) -> Option<String> {
    match (value_field(v, "name"), value_field(v, "id")) {
        (Some(n), Some(i)) => Some(format!("{n} ({i})")),
        (None, Some(i)) => Some(i),
        (Some(n), None) => Some(n),
        (None, None) => None,
    }
}

fn fmt_t(t: f64) -> String {
    let t = if t.is_finite() && t > 0.0 { t } else { 0.0 };
    let m = (t / 60.0).floor();
    format!("{:02}:{:06.3}", m as u64, t - m * 60.0)
}

fn lines_list(id: &str, entries: &[Entry], empty: &str) -> String {
    if entries.is_empty() {
        return format!("<p class=\"note\" id=\"{id}-empty\">{}</p>\n", esc(empty));
    }
    let mut h = format!("<ol class=\"lines\" id=\"{id}\">\n");
    for e in entries {
        let t = if e.t.is_finite() && e.t >= 0.0 {
            e.t
        } else {
            0.0
        };
        let _ = writeln!(
            h,
            "<li><a class=\"seek\" href=\"#\" data-t=\"{t}\"><span class=\"t\">{}</span>{}</a></li>",
            fmt_t(t),
            esc(&e.text)
        );
    }
    h.push_str("</ol>\n");
    h
}

fn evidence_page(verdict: Verdict, c: &Content, opts: &HtmlOptions) -> Result<String, HtmlError> {
    let f = &c.facts;
    let style = style();
    let title = format!("Session {}", f.recording_id);
    let mut h = head(&title, &style);
    let user = name_and_id(&f.user);
    let target = name_and_id(&f.target);
    let _ = write!(
        h,
        "<body>\n<header><h1>{}</h1><div class=\"sub\">{} &middot; {} &middot; <span class=\"verdict {}\" id=\"verdict\">{}</span></div></header>\n",
        esc(&title),
        opt(&user),
        opt(&f.start),
        verdict_class(verdict),
        esc(&verdict_name(verdict)),
    );
    h.push_str(
        "<nav class=\"tabs\">\
         <button data-tab=\"video\" aria-selected=\"true\">Video</button>\
         <button data-tab=\"text\" aria-selected=\"false\">Text</button>\
         <button data-tab=\"commands\" aria-selected=\"false\">Commands</button>\
         <button data-tab=\"facts\" aria-selected=\"false\">Facts</button>\
         <button data-tab=\"integrity\" aria-selected=\"false\">Integrity</button></nav>\n",
    );

    // Video.
    h.push_str("<section class=\"tab\" id=\"tab-video\">\n<div class=\"controls\">Speed:");
    for s in [0.5, 1.0, 2.0, 4.0, 8.0] {
        let _ = write!(
            h,
            " <button class=\"speed\" data-speed=\"{s}\" aria-pressed=\"{}\">{s}&times;</button>",
            s == opts.speed
        );
    }
    h.push_str(" <label>Idle-time cap: <select id=\"idle\">");
    let idle = opts.idle_time_limit;
    let mut choices = vec![None, Some(0.5), Some(1.0), Some(2.0), Some(5.0)];
    if !choices.contains(&idle) {
        choices.push(idle);
    }
    for ch in choices {
        let (v, l) = match ch {
            None => ("none".to_string(), "none".to_string()),
            Some(x) => (x.to_string(), format!("{x} s")),
        };
        let _ = write!(
            h,
            "<option value=\"{}\"{}>{}</option>",
            esc(&v),
            if ch == idle { " selected" } else { "" },
            esc(&l)
        );
    }
    h.push_str("</select></label></div>\n<div id=\"player\"></div>\n");
    h.push_str("<h3>Security findings</h3>\n");
    if c.report.findings.is_empty() {
        h.push_str(
            "<p class=\"note\" id=\"findings-empty\">No findings in the channel's requests.</p>\n",
        );
    } else {
        h.push_str("<table id=\"findings\"><tr><th>time</th><th>severity</th><th>finding</th><th>what was seen</th></tr>\n");
        for fi in &c.report.findings {
            let s = sev_name(fi.severity);
            let _ = writeln!(
                h,
                "<tr><td><a class=\"seek\" href=\"#\" data-t=\"{}\">{}</a></td><td class=\"sev-{s}\">{s}</td><td>{}</td><td>{}</td></tr>",
                fi.offset_seconds.max(0.0),
                fmt_t(fi.offset_seconds),
                esc(fi.code),
                esc(&fi.message)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");

    // Text and Commands.
    h.push_str("<section class=\"tab\" id=\"tab-text\" hidden>\n");
    h.push_str(&lines_list(
        "text-lines",
        &c.text,
        "The terminal showed no text.",
    ));
    h.push_str("</section>\n<section class=\"tab\" id=\"tab-commands\" hidden>\n");
    h.push_str(&lines_list(
        "command-lines",
        &c.commands,
        "No commands were found.",
    ));
    h.push_str("</section>\n");

    // Facts.
    let host = name_and_id(&f.host).or_else(|| value_field(&f.host, "address"));
    let host_addr = value_field(&f.host, "address");
    let duration = f.duration_seconds.map(|d| format!("{d:.3} s"));
    h.push_str("<section class=\"tab\" id=\"tab-facts\" hidden>\n<table id=\"facts\">\n");
    let rows: [(&str, &str, Option<String>); 11] = [
        ("who", "user", user),
        ("what", "target", target),
        ("what", "host", host),
        ("what", "host address", host_addr),
        ("what", "endpoint", f.endpoint.clone()),
        ("where", "client", f.client_address.clone()),
        ("where", "worker", f.worker.clone()),
        ("when", "start", f.start.clone()),
        ("when", "end", f.end.clone()),
        ("when", "duration", duration),
        ("", "session id", f.session_id.clone()),
    ];
    for (group, name, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><th>{}</th><td data-fact=\"{}\">{}</td></tr>",
            esc(group),
            esc(name),
            esc(name),
            opt(&v)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th></th><th>channel</th><td data-fact=\"channel\">{} ({}{})</td></tr>",
        esc(&c.report.channel),
        esc(&c.report.session_program),
        c.report
            .exec_command
            .as_deref()
            .map(|x| format!(": {}", esc(x)))
            .unwrap_or_default()
    );
    h.push_str("</table>\n<p class=\"note\">The client address is not part of Boundary's recording format.</p>\n</section>\n");

    // Integrity: what the gate established.
    let v = &c.verification;
    let _ = write!(
        h,
        "<section class=\"tab\" id=\"tab-integrity\" hidden>\n<table id=\"integrity\">\n\
         <tr><th>verdict</th><td><span class=\"verdict {}\">{}</span> {}</td></tr>\n\
         <tr><th>trust mode</th><td data-fact=\"trust-mode\">{}</td></tr>\n\
         <tr><th>signing key id</th><td data-fact=\"key-id\">{}</td></tr>\n\
         <tr><th>SHA-256 of the session <code>SHA256SUM</code></th><td data-fact=\"sha256sum\"><code>{}</code></td></tr>\n\
         <tr><th>recording id</th><td>{}</td></tr>\n\
         </table>\n<h3>Session <code>SHA256SUM</code></h3>\n<pre class=\"sums\" id=\"sums\">{}</pre>\n\
         <p class=\"note\">Checked before anything was read: the SHA-256 and CRC of every file against the signed <code>SHA256SUM</code> files, and the signature chain.{} The channel's files were read pinned to the digests that verified. Keystrokes are not included. Page written by bsr-asciicast {} with asciinema-player {}.</p>\n</section>\n",
        verdict_class(verdict),
        esc(&verdict_name(verdict)),
        esc(verdict.describe()),
        esc(&v.trust_mode),
        opt(&v.signing_key_id),
        opt(&v.session_sha256sum),
        esc(&f.recording_id),
        esc(&c.sums),
        if v.trust_mode == "none" {
            " No KEK or recorder key was given, so authenticity is not established."
        } else {
            ""
        },
        esc(env!("CARGO_PKG_VERSION")),
        esc(PLAYER_VERSION.trim()),
    );

    // Data and scripts.
    let markers: Vec<serde_json::Value> = c
        .report
        .findings
        .iter()
        .map(|fi| {
            serde_json::json!([
                fi.offset_seconds.max(0.0),
                format!(
                    "{}: {}: {}",
                    sev_name(fi.severity).to_uppercase(),
                    fi.code,
                    fi.message
                )
            ])
        })
        .collect();
    let data = serde_json::json!({
        "cast": c.cast,
        "markers": markers,
        "speed": opts.speed,
        "idleTimeLimit": opts.idle_time_limit,
    });
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"bsr-data\">{}</script>\n<script>{}</script>\n<script>{}</script>\n</body>\n</html>\n",
        json_for_script(&data)?,
        PLAYER_JS,
        PAGE_JS
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_for_script_cannot_close_the_element() -> Result<(), serde_json::Error> {
        let v = serde_json::json!({"a": "</script><script>x=1</script>\u{2028}\u{2029}&<!--"});
        let s = json_for_script(&v)?;
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
        let back: serde_json::Value = serde_json::from_str(&s)?;
        assert_eq!(back, v);
        Ok(())
    }

    #[test]
    fn esc_escapes_markup_and_quotes() {
        assert_eq!(
            esc("\"><img src=x onerror='y'>&"),
            "&quot;&gt;&lt;img src=x onerror=&#x27;y&#x27;&gt;&amp;"
        );
    }

    #[test]
    fn csp_hashes_the_inline_scripts() {
        let csp = content_security_policy("body{}");
        assert!(csp.contains(&csp_hash(PLAYER_JS)));
        assert!(csp.contains(&csp_hash(PAGE_JS)));
        assert!(csp.contains("default-src 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"));
    }
}
