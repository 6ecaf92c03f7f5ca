//! `REDACTION.json`: the manifest of a redacted copy (ours; `docs/FORMAT.md` §9).
//!
//! A redacted copy is a new signed recording whose channel data equals the original's except
//! inside the byte ranges the manifest lists, which hold filler bytes of the same length. The
//! manifest names the original (recording id, session id, SHA-256 of its session
//! `SHA256SUM.sig` and `SHA256SUM`) and, per `messages-*.data` file, every redacted range: the
//! chunk (its index in the file), the range inside the chunk's (decompressed) data, the chunk's
//! time and the rule that matched. It never holds the redacted bytes.
//!
//! ```
//! use bsr_core::format::redaction::*;
//! let m = RedactionManifest {
//!     schema: SCHEMA.into(),
//!     original: Original { recording_id: "sr_1".into(), session_id: "s_1".into(),
//!         signature_sha256: "00".repeat(32), checksums_sha256: "11".repeat(32) },
//!     tool: "test".into(), redacted_at: "2026-01-01T00:00:00Z".into(), filler: b'*',
//!     rules: vec![Rule { index: 0, kind: RuleKind::Span, pattern: None,
//!         pattern_sha256: None, span: Some("chr_1:outbound:0-4".into()) }],
//!     files: vec![RedactedFile {
//!         path: "cr_1.connection/chr_1.channel/messages-outbound.data".into(),
//!         redactions: vec![Redaction { chunk: 1, offset: 0, length: 4,
//!             time: "2026-01-01T00:00:00Z".into(), rule: 0 }] }],
//! };
//! let bytes = m.to_bytes()?;
//! assert_eq!(RedactionManifest::parse(&bytes, "REDACTION.json")?, m);
//! # Ok::<(), bsr_core::Error>(())
//! ```

use crate::error::{Error, Location, Result};
use crate::format::Timestamp;
use serde::{Deserialize, Serialize};

/// The `Schema` value of this version.
pub const SCHEMA: &str = "bsr-redaction/v1";

/// Most redactions one manifest may list (the redactor refuses to write more, readers refuse
/// to read more): about 8 MiB of JSON, under the 16 MiB limit of small files.
pub const MAX_REDACTIONS: usize = 100_000;

/// Most rules one manifest may list.
pub const MAX_RULES: usize = 1_000;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RedactionManifest {
    /// [`SCHEMA`].
    pub schema: String,
    /// The recording this is a redacted copy of.
    pub original: Original,
    /// The tool that wrote the copy (`bsr-asciicast <version>`).
    pub tool: String,
    /// When the copy was written (RFC 3339).
    pub redacted_at: String,
    /// The byte written in place of every redacted byte.
    pub filler: u8,
    /// The rules, in the order given; `Rules[i].Index == i`.
    pub rules: Vec<Rule>,
    /// The files with redactions, by path, sorted; files without any are not listed.
    pub files: Vec<RedactedFile>,
}

/// What the copy was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Original {
    /// The original's session recording id (`sr_…`).
    pub recording_id: String,
    /// The original's session id (`s_…`, its key id); the copy keeps it in its HEAD chunks.
    pub session_id: String,
    /// SHA-256 (hex) of the original's session `SHA256SUM.sig`.
    pub signature_sha256: String,
    /// SHA-256 (hex) of the original's session `SHA256SUM`.
    pub checksums_sha256: String,
}

/// What kind of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// A regular expression over each channel direction's data.
    Pattern,
    /// Keystrokes the terminal did not echo (password prompts).
    HiddenInput,
    /// A byte range given by hand (`CHANNEL:STREAM:FROM-TO`).
    Span,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Rule {
    /// Its position in `Rules`.
    pub index: u32,
    /// Its kind.
    pub kind: RuleKind,
    /// A pattern's text (left out with `--hide-patterns`: a literal pattern is the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// SHA-256 (hex) of a pattern's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_sha256: Option<String>,
    /// A span as given (`CHANNEL:STREAM:FROM-TO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
}

/// The redactions of one `messages-*.data` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RedactedFile {
    /// `<connection>.connection/<channel>.channel/messages-<inbound|outbound>.data`, relative
    /// to the session folder.
    pub path: String,
    /// Sorted by chunk, then offset; ranges of different rules may overlap.
    pub redactions: Vec<Redaction>,
}

/// One redacted range inside one DATA chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Redaction {
    /// Index of the chunk in its file (0 is HEAD, so at least 1).
    pub chunk: u64,
    /// First redacted byte in the chunk's (decompressed) data.
    pub offset: u64,
    /// Redacted bytes (at least 1).
    pub length: u64,
    /// The chunk's time (RFC 3339).
    pub time: String,
    /// Index of the rule that matched.
    pub rule: u32,
}

impl Redaction {
    /// One past the last redacted byte in the chunk's data.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.length)
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `path` is `<id>.connection/<id>.channel/messages-<dir>.data`.
pub fn valid_file_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let [c, ch, f] = parts.as_slice() else {
        return false;
    };
    let id_ok = |name: &str, suffix: &str| name.strip_suffix(suffix).is_some_and(plain_id);
    id_ok(c, super::CONNECTION_DIR_SUFFIX)
        && id_ok(ch, super::CHANNEL_DIR_SUFFIX)
        && (*f == "messages-inbound.data" || *f == "messages-outbound.data")
}

impl RedactionManifest {
    /// Every redaction, with its file.
    pub fn redactions(&self) -> impl Iterator<Item = (&RedactedFile, &Redaction)> {
        self.files
            .iter()
            .flat_map(|f| f.redactions.iter().map(move |r| (f, r)))
    }

    /// Number of redactions.
    pub fn count(&self) -> usize {
        self.files.iter().map(|f| f.redactions.len()).sum()
    }

    /// Compact JSON and a final `\n`, after [`Self::check`].
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.check("REDACTION.json")?;
        let mut v = serde_json::to_vec(self)
            .map_err(|e| Error::Usage(format!("encoding the redaction manifest: {e}")))?;
        v.push(b'\n');
        Ok(v)
    }

    /// Parses and [checks](Self::check) a manifest read from `path`.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        let m: RedactionManifest = serde_json::from_slice(bytes).map_err(|e| {
            Error::malformed(Location::at(e.column() as u64).in_file(path), e.to_string())
        })?;
        m.check(path)?;
        Ok(m)
    }

    /// The rules every manifest follows: the schema, hex digests, plain ids, rules numbered in
    /// order with the fields of their kind, file paths of the documented form sorted and
    /// unique, redactions sorted with a chunk ≥ 1, a length ≥ 1, a known rule and an RFC 3339
    /// time, at most [`MAX_REDACTIONS`] of them.
    pub fn check(&self, path: &str) -> Result<()> {
        let bad = |why: String| Err(Error::malformed(Location::default().in_file(path), why));
        if self.schema != SCHEMA {
            return bad(format!("schema {:?} is not {SCHEMA:?}", self.schema));
        }
        let o = &self.original;
        if !plain_id(&o.recording_id) || !plain_id(&o.session_id) {
            return bad("the original's ids are not plain ids".into());
        }
        if !is_hex64(&o.signature_sha256) || !is_hex64(&o.checksums_sha256) {
            return bad("the original's digests are not 64 lowercase hex digits".into());
        }
        if Timestamp::parse_rfc3339(&self.redacted_at).is_none() {
            return bad(format!("RedactedAt {:?} is not RFC 3339", self.redacted_at));
        }
        if self.rules.len() > MAX_RULES {
            return bad(format!("more than {MAX_RULES} rules"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.index as usize != i {
                return bad(format!("rule {i} has index {}", r.index));
            }
            let ok = match r.kind {
                RuleKind::Pattern => {
                    r.span.is_none() && r.pattern_sha256.as_deref().is_some_and(is_hex64)
                }
                RuleKind::HiddenInput => {
                    r.span.is_none() && r.pattern.is_none() && r.pattern_sha256.is_none()
                }
                RuleKind::Span => {
                    r.span.is_some() && r.pattern.is_none() && r.pattern_sha256.is_none()
                }
            };
            if !ok {
                return bad(format!("rule {i} does not have the fields of its kind"));
            }
        }
        if self.count() > MAX_REDACTIONS {
            return bad(format!("more than {MAX_REDACTIONS} redactions"));
        }
        let mut last_path: Option<&str> = None;
        for f in &self.files {
            if !valid_file_path(&f.path) {
                return bad(format!(
                    "file path {:?} is not <id>.connection/<id>.channel/messages-<direction>.data",
                    f.path
                ));
            }
            if last_path.is_some_and(|p| p >= f.path.as_str()) {
                return bad(format!("file {:?} is out of order or listed twice", f.path));
            }
            last_path = Some(&f.path);
            if f.redactions.is_empty() {
                return bad(format!("file {:?} lists no redaction", f.path));
            }
            let mut prev: Option<(u64, u64)> = None;
            for r in &f.redactions {
                if r.chunk == 0 || r.length == 0 || r.offset.checked_add(r.length).is_none() {
                    return bad(format!("{}: an empty range or chunk 0", f.path));
                }
                if r.rule as usize >= self.rules.len() {
                    return bad(format!("{}: rule {} does not exist", f.path, r.rule));
                }
                if Timestamp::parse_rfc3339(&r.time).is_none() {
                    return bad(format!("{}: time {:?} is not RFC 3339", f.path, r.time));
                }
                if prev.is_some_and(|p| p > (r.chunk, r.offset)) {
                    return bad(format!("{}: redactions out of order", f.path));
                }
                prev = Some((r.chunk, r.offset));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> RedactionManifest {
        RedactionManifest {
            schema: SCHEMA.into(),
            original: Original {
                recording_id: "sr_1".into(),
                session_id: "s_1".into(),
                signature_sha256: "ab".repeat(32),
                checksums_sha256: "cd".repeat(32),
            },
            tool: "t".into(),
            redacted_at: "2026-01-01T00:00:00Z".into(),
            filler: b'*',
            rules: vec![Rule {
                index: 0,
                kind: RuleKind::HiddenInput,
                pattern: None,
                pattern_sha256: None,
                span: None,
            }],
            files: vec![RedactedFile {
                path: "cr_1.connection/chr_1.channel/messages-inbound.data".into(),
                redactions: vec![Redaction {
                    chunk: 2,
                    offset: 3,
                    length: 4,
                    time: "2026-01-01T00:00:01Z".into(),
                    rule: 0,
                }],
            }],
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let m = manifest();
        let b = m.to_bytes().unwrap();
        assert_eq!(RedactionManifest::parse(&b, "x").unwrap(), m);
        let refused = |f: &dyn Fn(&mut RedactionManifest)| {
            let mut m = manifest();
            f(&mut m);
            assert!(m.to_bytes().is_err(), "{m:?}");
        };
        refused(&|m| m.schema = "v0".into());
        refused(&|m| m.files[0].path = "../x/messages-inbound.data".into());
        refused(&|m| {
            m.files[0].path = "cr_1.connection/chr_1.channel/requests-inbound.data".into()
        });
        refused(&|m| m.files[0].redactions[0].chunk = 0);
        refused(&|m| m.files[0].redactions[0].length = 0);
        refused(&|m| m.files[0].redactions[0].rule = 1);
        refused(&|m| m.files[0].redactions[0].offset = u64::MAX);
        refused(&|m| m.rules[0].index = 1);
        refused(&|m| m.rules[0].kind = RuleKind::Span);
        refused(&|m| m.original.signature_sha256 = "x".into());
        let mut two = manifest();
        let later = Redaction {
            chunk: 5,
            ..two.files[0].redactions[0].clone()
        };
        two.files[0].redactions.insert(0, later);
        assert!(two.to_bytes().is_err(), "unsorted");
        let text = String::from_utf8(b)
            .unwrap()
            .replace("\"Tool\"", "\"Extra\":1,\"Tool\"");
        assert!(RedactionManifest::parse(text.as_bytes(), "x").is_err());
    }
}
