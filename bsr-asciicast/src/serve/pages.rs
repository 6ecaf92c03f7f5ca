//! The Session Logs page (the list, its filters, its search results). The replay page is the
//! HTML evidence page of [`crate::html`]; this module writes only the list.

use super::catalog::Row;
use super::query::{ListPage, ListQuery};
use crate::html::esc;
use crate::search::Hit;
use serde_json::Value;
use std::fmt::Write as _;

/// The list page's stylesheet.
const LIST_CSS: &str = include_str!("list.css");

/// The list page's Content-Security-Policy: no script at all, its one stylesheet by hash, and
/// the filter form may submit to this server only.
pub fn list_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let h = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(LIST_CSS));
    format!(
        "default-src 'none'; script-src 'none'; style-src 'sha256-{h}'; img-src 'none'; \
         connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn name_and_id(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty());
    match (s("name"), s("id")) {
        (Some(n), Some(i)) => format!("{n} ({i})"),
        (Some(x), None) | (None, Some(x)) => x.to_string(),
        (None, None) => String::new(),
    }
}

fn verdict_class(r: &Row) -> &'static str {
    match r.verdict.as_str() {
        "authentic" => "ok",
        "unauthenticated" => "warn",
        _ => "bad",
    }
}

fn input(name: &str, label: &str, v: &Option<String>, kind: &str) -> String {
    format!(
        "<label>{label} <input type=\"{kind}\" name=\"{name}\" id=\"f-{name}\" value=\"{}\"></label> ",
        esc(v.as_deref().unwrap_or_default())
    )
}

fn filter_form(q: &ListQuery) -> String {
    let mut h = String::from("<form method=\"get\" action=\"/\" id=\"filters\">");
    h.push_str(&input("user", "User", &q.user, "text"));
    h.push_str(&input("target", "Target", &q.target, "text"));
    h.push_str(&input("since", "From", &q.since, "text"));
    h.push_str(&input("until", "To", &q.until, "text"));
    h.push_str("<label>Verdict <select name=\"verdict\" id=\"f-verdict\">");
    for v in [
        "",
        "authentic",
        "unauthenticated",
        "refused",
        "invalid",
        "incomplete",
        "error",
    ] {
        let sel = q.verdict.as_deref().unwrap_or_default() == v;
        let _ = write!(
            h,
            "<option value=\"{v}\"{}>{}</option>",
            if sel { " selected" } else { "" },
            if v.is_empty() { "any" } else { v }
        );
    }
    h.push_str("</select></label> ");
    h.push_str(&input("q", "Search text", &q.q, "search"));
    h.push_str("<button type=\"submit\" id=\"apply\">Apply</button></form>\n");
    h
}

/// The query string of `q` at page `page`.
fn link(q: &ListQuery, page: usize) -> String {
    let mut parts = vec![format!("page={page}")];
    if let Some(s) = q.page_size {
        parts.push(format!("page_size={s}"));
    }
    for (k, v) in [
        ("user", &q.user),
        ("target", &q.target),
        ("since", &q.since),
        ("until", &q.until),
        ("verdict", &q.verdict),
        ("q", &q.q),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    format!("/?{}", parts.join("&"))
}

fn row_html(h: &mut String, r: &Row) {
    let id = esc(&r.id);
    let _ = write!(
        h,
        "<tr data-id=\"{id}\"><td><a href=\"/sessions/{}\">{id}</a></td>",
        url_encode(&r.id)
    );
    match &r.shown_facts {
        Some(f) => {
            let host = name_and_id(&f.host);
            let dur = f
                .duration_seconds
                .map(|d| format!("{d:.1} s"))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<td class=\"user\">{}</td><td class=\"target\">{}<br><span class=\"note\">{}</span></td>\
                 <td class=\"where\">{}<br><span class=\"note\">client not recorded</span></td>\
                 <td class=\"start\">{}</td><td>{}</td>",
                esc(&name_and_id(&f.user)),
                esc(&name_and_id(&f.target)),
                esc(&host),
                esc(f.worker.as_deref().unwrap_or_default()),
                esc(f.start.as_deref().unwrap_or_default()),
                esc(&dur)
            );
        }
        None => h.push_str(
            "<td colspan=\"5\" class=\"note\">not shown: the recording did not pass verification</td>",
        ),
    }
    let _ = write!(
        h,
        "<td><span class=\"verdict {}\">{}</span>{}{}</td>",
        verdict_class(r),
        esc(&r.verdict),
        if r.problems.is_empty() {
            String::new()
        } else {
            format!(" <code>{}</code>", esc(&r.problems.join(", ")))
        },
        // Unfinished: possibly being written; the live view says whether it can be followed.
        if r.verdict == "incomplete" {
            format!(
                " <a class=\"live\" href=\"/live/{}\">watch live</a>",
                url_encode(&r.id)
            )
        } else {
            String::new()
        }
    );
    match &r.findings {
        Some(c) if c.high + c.medium + c.low + c.info > 0 => {
            let _ = writeln!(
                h,
                "<td class=\"findings\">{} high, {} medium, {} low, {} info</td></tr>",
                c.high, c.medium, c.low, c.info
            );
        }
        Some(_) => h.push_str("<td class=\"findings\">none</td></tr>\n"),
        None => h.push_str("<td class=\"findings\"></td></tr>\n"),
    }
}

/// Search results of the list page's search box.
#[derive(Debug, Default)]
pub struct SearchResults {
    /// Hits shown, each with its recording's id.
    pub hits: Vec<(String, Hit)>,
    /// Hits not shown (over the limit).
    pub more: u64,
    /// Recordings not searched (refused by the gate, unreadable).
    pub failed: u64,
    /// Recordings searched.
    pub searched: u64,
    /// Of those, the ones answered by a search index (`--index`).
    pub indexed: u64,
}

fn search_html(h: &mut String, s: &SearchResults) {
    let _ = writeln!(
        h,
        "<h2>Search</h2><p class=\"note\" id=\"search-summary\">{} hit(s) in {} recording(s) searched{}{}{}</p>",
        s.hits.len() as u64 + s.more,
        s.searched,
        if s.indexed > 0 {
            format!(" ({} of them by the search index)", s.indexed)
        } else {
            String::new()
        },
        if s.more > 0 {
            format!("; the first {} shown", s.hits.len())
        } else {
            String::new()
        },
        if s.failed > 0 {
            format!(
                "; {} recording(s) not searched (refused or unreadable)",
                s.failed
            )
        } else {
            String::new()
        }
    );
    h.push_str(
        "<table id=\"hits\"><tr><th>recording</th><th>user</th><th>time</th><th>line</th></tr>\n",
    );
    for (rid, hit) in &s.hits {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"/sessions/{}?t={}\">{}</a></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            url_encode(rid),
            hit.t.max(0.0),
            esc(rid),
            esc(&hit.user),
            esc(&hit.time),
            esc(&hit.line)
        );
    }
    h.push_str("</table>\n");
}

/// The Session Logs page.
pub fn list_page(q: &ListQuery, page: &ListPage, search: Option<&SearchResults>) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>Session Logs</title>\n\
         <style>{LIST_CSS}</style>\n</head>\n<body>\n<header><h1>Session Logs</h1>\
         <div class=\"sub\">{} recording(s); only recordings that passed verification show their facts</div></header>\n",
        page.recordings
    );
    h.push_str(&filter_form(q));
    if let Some(s) = search {
        search_html(&mut h, s);
    }
    h.push_str(
        "<table id=\"sessions\"><tr><th>session</th><th>who</th><th>what</th><th>where</th>\
         <th>when</th><th>duration</th><th>verdict</th><th>findings</th></tr>\n",
    );
    for r in &page.sessions {
        row_html(&mut h, r);
    }
    h.push_str("</table>\n<nav class=\"pager\">");
    if page.page > 1 {
        let _ = write!(
            h,
            "<a id=\"prev\" href=\"{}\">&larr; previous</a> ",
            esc(&link(q, page.page - 1))
        );
    }
    let _ = write!(h, "<span id=\"page\">page {}</span>", page.page);
    if page.more {
        let _ = write!(
            h,
            " <a id=\"next\" href=\"{}\">next &rarr;</a>",
            esc(&link(q, page.page + 1))
        );
    }
    h.push_str("</nav>\n</body>\n</html>\n");
    h
}
