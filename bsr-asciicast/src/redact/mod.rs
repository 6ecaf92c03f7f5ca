//! Redaction as a signed derived copy (`bsr-asciicast redact`, `docs/REDACT.md`).
//!
//! [`redact`] reads a recording that passed the gate ([`crate::verified`]) and writes a new
//! signed recording with bsr-core's writer: the same connections and channels with the same
//! ids, every chunk copied one for one with its time and type, request payloads unchanged, and
//! in the DATA chunks of the channels the bytes that a rule selects replaced by filler bytes of
//! the same length. The session container gets `REDACTION.json`
//! ([`bsr_core::format::redaction`]), listed in its `SHA256SUM`, naming the original and every
//! redacted range (never the bytes).
//!
//! Rules, numbered in this order in the manifest: each `--pattern` (a regular expression over
//! the concatenated data of each channel direction, [`find`]), then `--hidden-input`
//! (keystrokes the terminal did not echo, `hidden`), then each `--span`.
//!
//! Compressed recordings: the copy is written with the original's compression; each DATA
//! chunk is decompressed, redacted and compressed again on its own, so its stored bytes,
//! length and CRC differ from the original's while its data keeps its length. Ranges are
//! offsets in the decompressed data.
//!
//! Every file read is checked against the SHA-256 the gate verified (a file changed since is
//! an error), and nothing of the original is written.

mod copy;
pub mod find;
mod hidden;

use crate::human::escape;
use crate::term::TextError;
use crate::verified::Verification;
use bsr_core::format::redaction::{MAX_REDACTIONS, Rule, RuleKind};
use bsr_core::format::{self, Direction};
use bsr_core::keys::{KeyWrapper, RecorderKey};
use bsr_core::read::Recording;
use bsr_core::store::WriteStore;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;

pub use bsr_core::format::redaction::RedactionManifest;

/// The default filler byte.
pub const DEFAULT_FILLER: u8 = b'*';
/// The default longest match kept whole across chunk boundaries ([`find`]).
pub const DEFAULT_MAX_MATCH: usize = 4096;
/// The largest `--max-match` accepted (the window is twice this).
pub const MAX_MAX_MATCH: usize = 16 * 1024 * 1024;
/// Largest compiled pattern (the `regex` crate's size limit).
const REGEX_SIZE_LIMIT: usize = 16 * 1024 * 1024;

/// Errors of [`redact`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// Reading the original or writing the copy (names the file and the byte offset).
    #[error(transparent)]
    Bsr(#[from] bsr_core::Error),
    /// A pattern that does not compile.
    #[error("--pattern {index}: {source}")]
    Pattern {
        /// Its position among the patterns.
        index: usize,
        /// Why.
        source: Box<regex::Error>,
    },
    /// A span or option that cannot apply.
    #[error("{0}")]
    Usage(String),
    /// A file differs from what the gate verified.
    #[error("{path}: changed since it was verified (SHA-256 differs); nothing written")]
    Changed {
        /// The file.
        path: String,
    },
    /// More redactions than a manifest may hold.
    #[error("more than {limit} redactions: use a pattern that matches longer runs, or a --span")]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// The text views (for `--hidden-input`).
    #[error(transparent)]
    Text(#[from] TextError),
    /// Selecting a channel's files.
    #[error(transparent)]
    Convert(#[from] crate::error::ConvertError),
    /// The gate (pinning files).
    #[error(transparent)]
    Gate(Box<crate::verified::GateError>),
}

impl From<crate::verified::GateError> for RedactError {
    fn from(e: crate::verified::GateError) -> Self {
        RedactError::Gate(Box::new(e))
    }
}

/// A `--span CHANNEL:STREAM:FROM-TO`: bytes `FROM..TO` (0-based, `TO` excluded) of the data of
/// channel `CHANNEL` (its id) in direction `STREAM` (`inbound` or `outbound`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The channel id (`chr_…`).
    pub channel: String,
    /// The direction.
    pub direction: Direction,
    /// Stream offsets.
    pub range: Range<u64>,
    /// As given.
    pub text: String,
}

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not CHANNEL:STREAM:FROM-TO (e.g. chr_1234567890:outbound:100-140)")
        };
        let mut parts = s.splitn(3, ':');
        let (Some(channel), Some(stream), Some(range)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let direction = match stream {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => return Err(format!("{s:?}: STREAM is inbound or outbound")),
        };
        let (from, to) = range.split_once('-').ok_or_else(bad)?;
        let (from, to): (u64, u64) = (
            from.parse().map_err(|_| bad())?,
            to.parse().map_err(|_| bad())?,
        );
        if from >= to || channel.is_empty() {
            return Err(format!("{s:?}: FROM must be below TO"));
        }
        Ok(Span {
            channel: channel.to_string(),
            direction,
            range: from..to,
            text: s.to_string(),
        })
    }
}

/// What to redact and how.
#[derive(Debug, Clone)]
pub struct RedactOptions {
    /// Regular expressions (`regex` crate syntax, over bytes).
    pub patterns: Vec<String>,
    /// Redact keystrokes the terminal did not echo.
    pub hidden_input: bool,
    /// Ranges given by hand.
    pub spans: Vec<Span>,
    /// Longest match kept whole across chunk boundaries ([`find`]).
    pub max_match: usize,
    /// Record only the SHA-256 of each pattern in the manifest, not its text.
    pub hide_patterns: bool,
    /// The filler byte.
    pub filler: u8,
    /// Most redactions (at most [`MAX_REDACTIONS`]).
    pub max_redactions: usize,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            patterns: Vec::new(),
            hidden_input: false,
            spans: Vec::new(),
            max_match: DEFAULT_MAX_MATCH,
            hide_patterns: false,
            filler: DEFAULT_FILLER,
            max_redactions: MAX_REDACTIONS,
        }
    }
}

/// What [`redact`] wrote.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// The copy's folder (`sr_….bsr`) in the output store.
    pub dir: String,
    /// The copy's recording id.
    pub recording_id: String,
    /// Its manifest.
    pub manifest: RedactionManifest,
}

/// The rules of a run, compiled.
#[derive(Debug)]
pub(crate) struct Rules {
    pub rules: Vec<Rule>,
    pub patterns: Vec<(u32, regex::bytes::Regex)>,
    pub hidden: Option<u32>,
    pub spans: Vec<(u32, Span)>,
}

fn compile(opts: &RedactOptions) -> Result<Rules, RedactError> {
    let mut rules = Vec::new();
    let mut patterns = Vec::new();
    for (i, p) in opts.patterns.iter().enumerate() {
        let re = regex::bytes::RegexBuilder::new(p)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| RedactError::Pattern {
                index: i + 1,
                source: Box::new(e),
            })?;
        let n = rules.len() as u32;
        rules.push(Rule {
            index: n,
            kind: RuleKind::Pattern,
            pattern: (!opts.hide_patterns).then(|| p.clone()),
            pattern_sha256: Some(hex::encode(Sha256::digest(p.as_bytes()))),
            span: None,
        });
        patterns.push((n, re));
    }
    let hidden = opts.hidden_input.then(|| {
        let n = rules.len() as u32;
        rules.push(Rule {
            index: n,
            kind: RuleKind::HiddenInput,
            pattern: None,
            pattern_sha256: None,
            span: None,
        });
        n
    });
    let mut spans = Vec::new();
    for s in &opts.spans {
        let n = rules.len() as u32;
        rules.push(Rule {
            index: n,
            kind: RuleKind::Span,
            pattern: None,
            pattern_sha256: None,
            span: Some(s.text.clone()),
        });
        spans.push((n, s.clone()));
    }
    if rules.is_empty() {
        return Err(RedactError::Usage(
            "nothing to redact: give --pattern, --hidden-input or --span".into(),
        ));
    }
    if rules.len() > format::redaction::MAX_RULES {
        return Err(RedactError::Usage(format!(
            "more than {} rules",
            format::redaction::MAX_RULES
        )));
    }
    if opts.max_match == 0 || opts.max_match > MAX_MAX_MATCH {
        return Err(RedactError::Usage(format!(
            "--max-match must be 1 to {MAX_MAX_MATCH} bytes"
        )));
    }
    Ok(Rules {
        rules,
        patterns,
        hidden,
        spans,
    })
}

/// Compares a streamed file's SHA-256 with the one the gate verified.
pub(crate) fn check_digest(
    path: &str,
    want: Option<[u8; 32]>,
    got: Option<[u8; 32]>,
) -> Result<(), RedactError> {
    match (want, got) {
        (Some(w), Some(g)) if w == g => Ok(()),
        _ => Err(RedactError::Changed { path: escape(path) }),
    }
}

/// Writes a redacted copy of `original` (which passed the gate, giving `verification`) into
/// `out` below `parent`, signed with fresh keys wrapped by `wrapper` (and attested by
/// `recorder`). The copy's recording id is derived from the original's signature and the
/// rules, so the same redaction of the same recording gets the same folder name.
pub fn redact(
    original: &Recording,
    verification: &Verification,
    out: Arc<dyn WriteStore>,
    parent: &str,
    opts: &RedactOptions,
    wrapper: &dyn KeyWrapper,
    recorder: Option<&RecorderKey>,
) -> Result<Redacted, RedactError> {
    if !verification.verified {
        return Err(RedactError::Usage(
            "the original must be verified before it is redacted".into(),
        ));
    }
    let rules = compile(opts)?;
    let limit = opts.max_redactions.min(MAX_REDACTIONS);
    let plan = copy::plan(original, verification, &rules, opts.max_match, limit)?;
    copy::write(
        original,
        verification,
        &rules,
        plan,
        copy::Output {
            store: out,
            parent,
            wrapper,
            recorder,
            filler: opts.filler,
            limit,
        },
    )
}

/// The recording id of a copy: `sr_` and 10 base62 characters of
/// SHA-256("bsr-redaction-v1" ‖ 0 ‖ SHA-256 of the original's `SHA256SUM.sig` ‖ the rules).
pub(crate) fn copy_id(signature_sha256: &str, rules: &[Rule], filler: u8) -> String {
    let mut h = Sha256::new();
    h.update(b"bsr-redaction-v1\0");
    h.update(signature_sha256.as_bytes());
    h.update([filler]);
    for r in rules {
        h.update(serde_json::to_vec(r).unwrap_or_default());
        h.update(b"\n");
    }
    crate::import::id_from("sr", &h.finalize())
}
