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

mod content;
mod page;

pub use content::MAX_ENTRIES;

use crate::error::ConvertError;
use crate::verified::{GateError, GateOptions};
use bsr_core::store::ReadStore;
use bsr_verify::report::Verdict;
use content::read_content;
use page::{evidence_page, refusal_page};
use sha2::Digest;
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
    /// Largest cast a page holds (with [`HtmlOptions::cast_url`]: largest cast converted for
    /// the findings).
    pub max_cast_bytes: u64,
    /// Where the page fetches its cast from (`bsr-asciicast serve`: a same-origin URL)
    /// instead of holding it; the CSP then allows `connect-src 'self'`. `None`: inlined.
    pub cast_url: Option<String>,
    /// Recording time (seconds) the player opens at.
    pub start_at: f64,
    /// Largest channel output (bytes of its `messages-outbound.data`) whose transcript and
    /// commands the page lists; a larger channel gets a note in those tabs instead (`serve`
    /// keeps a large recording's page quick this way). `None`: no limit.
    pub max_text_bytes: Option<u64>,
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
            cast_url: None,
            start_at: 0.0,
            max_text_bytes: None,
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
    /// For a refusal page: why, as the verification gate says it (the recording and its first
    /// problems, each with its file, escaped).
    pub refusal: Option<String>,
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
    policy(style, false)
}

fn policy(style: &str, connect_self: bool) -> String {
    format!(
        "default-src 'none'; script-src {} {} 'wasm-unsafe-eval'; style-src {}; img-src 'none'; \
         connect-src {}; font-src 'none'; media-src 'none'; object-src 'none'; \
         frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'",
        csp_hash(PLAYER_JS),
        csp_hash(PAGE_JS),
        csp_hash(style),
        if connect_self { "'self'" } else { "'none'" }
    )
}

/// The page's stylesheet (the player's and the page's own, inlined as one `<style>`).
pub(crate) fn page_style() -> String {
    format!("{PLAYER_CSS}\n{PAGE_CSS}")
}

/// The Content-Security-Policy of a page rendered with `opts` (as its `<meta>` tag holds it;
/// a server sends it as a header too).
pub fn page_policy(opts: &HtmlOptions) -> String {
    policy(&page_style(), opts.cast_url.is_some())
}

/// Verifies the recording in folder `dir` of `store` through the gate, once
/// ([`crate::verified::gate_keeping`]), and writes its evidence page from the verified files
/// only (the channel's files are pinned to the digests that verified).
///
/// A recording that does not pass (invalid, unfinished, unreadable) gets a refusal page
/// ([`Page::shown`] false), not an error: its verdict and the verifier's problem codes and
/// paths. Errors are for what cannot be shown at all (no interactive channel, a cast over the
/// size limit, a file that changed after it was verified).
pub fn render(store: Arc<dyn ReadStore>, dir: &str, opts: &HtmlOptions) -> Result<Page, HtmlError> {
    // One verification: its report gives the refusal page its problem list.
    let (gated, report, _) = crate::verified::gate_keeping(&*store, dir, &opts.gate);
    let verification = match gated {
        Ok(v) => v,
        Err(e) => {
            let refusal = e.to_string();
            let verdict = match e {
                GateError::Invalid { .. } => Verdict::Invalid,
                GateError::Unfinished { .. } => Verdict::Incomplete,
                GateError::Unreadable { .. } => Verdict::Error,
                e => return Err(e.into()),
            };
            return Ok(Page {
                html: refusal_page(verdict, &report, &store.describe(dir)),
                verdict,
                shown: false,
                refusal: Some(refusal),
            });
        }
    };
    let verdict = verification.verdict.unwrap_or(Verdict::Error);
    let content = read_content(store, dir, verification, opts)?;
    Ok(Page {
        html: evidence_page(verdict, &content, opts)?,
        verdict,
        shown: true,
        refusal: None,
    })
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
