//! The page's HTML: the refusal page, and the evidence page with its tabs (Video, Text,
//! Commands, Facts, Integrity) and its data and scripts.

use super::content::Content;
use super::{
    Entry, HtmlError, HtmlOptions, PAGE_JS, PLAYER_JS, PLAYER_VERSION, esc, json_for_script,
    page_style, policy,
};
use crate::convert::Severity;
use bsr_verify::report::{Report, Verdict};
use std::fmt::Write as _;

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

fn head(title: &str, style: &str, connect_self: bool) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n",
        esc(&policy(style, connect_self)),
        esc(title),
        style
    )
}

pub(super) fn refusal_page(verdict: Verdict, report: &Report, location: &str) -> String {
    let style = page_style();
    let mut h = head("Recording failed verification", &style, false);
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

/// The page of a verified recording.
pub(super) fn evidence_page(
    verdict: Verdict,
    c: &Content,
    opts: &HtmlOptions,
) -> Result<String, HtmlError> {
    let f = &c.facts;
    let style = page_style();
    let title = format!("Session {}", f.recording_id);
    let mut h = head(&title, &style, opts.cast_url.is_some());
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

    video_tab(&mut h, c, opts);
    text_tabs(&mut h, c);
    facts_tab(&mut h, c, user, target);
    integrity_tab(&mut h, verdict, c);
    data_and_scripts(&mut h, c, opts)?;
    Ok(h)
}

/// The Video tab: speed and idle-time controls, the player, the security findings.
fn video_tab(h: &mut String, c: &Content, opts: &HtmlOptions) {
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
}

/// The Text and Commands tabs.
fn text_tabs(h: &mut String, c: &Content) {
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
}

/// The Facts tab: who, what, where, when.
fn facts_tab(h: &mut String, c: &Content, user: Option<String>, target: Option<String>) {
    let f = &c.facts;
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
}

/// The Integrity tab: what the gate established.
fn integrity_tab(h: &mut String, verdict: Verdict, c: &Content) {
    let f = &c.facts;
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
}

/// The page data (the cast, the findings as markers, the player settings) and the scripts.
fn data_and_scripts(h: &mut String, c: &Content, opts: &HtmlOptions) -> Result<(), HtmlError> {
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
    let mut data = serde_json::json!({
        "cast": c.cast,
        "markers": markers,
        "speed": opts.speed,
        "idleTimeLimit": opts.idle_time_limit,
        "startAt": if opts.start_at.is_finite() { opts.start_at.max(0.0) } else { 0.0 },
    });
    if let (Some(url), Some(m)) = (&opts.cast_url, data.as_object_mut()) {
        m.insert("castUrl".into(), url.clone().into());
    }
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"bsr-data\">{}</script>\n<script>{}</script>\n<script>{}</script>\n</body>\n</html>\n",
        json_for_script(&data)?,
        PLAYER_JS,
        PAGE_JS
    );
    Ok(())
}
