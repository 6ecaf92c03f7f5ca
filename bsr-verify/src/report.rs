//! The verification report: verdicts, problems, per-container and per-file results.
//!
//! Serialized as JSON by `bsr-verify --json` (schema `bsr-verify/report/v1`, documented in
//! `docs/VERIFY.md`).

use serde::{Deserialize, Serialize};

/// The verdict on one recording. The exit code of `bsr-verify` is the worst verdict's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Intact, and authenticity established through the KMS binding or the recorder
    /// attestation. Exit code 0.
    Authentic,
    /// Intact, but no trust anchor was given (or none applies): authenticity not established.
    /// Exit code 3.
    Unauthenticated,
    /// An unfinished recording (no final signature), e.g. after a crash, with nothing that
    /// contradicts a crash. Exit code 4.
    Incomplete,
    /// Tampered, corrupt or invalid. Exit code 1.
    Invalid,
    /// Intact as far as its own signatures go, but its keys do not match a trust anchor that
    /// was given (`--kek` or `--recorder-key`): a wrong key, or a recording signed by someone
    /// else. Not authentic. Exit code 1.
    KeyMismatch,
    /// The recording could not be read (I/O error, store unreachable). Exit code 2.
    Error,
}

/// Every verdict, best first.
pub const ALL_VERDICTS: [Verdict; 6] = [
    Verdict::Authentic,
    Verdict::Unauthenticated,
    Verdict::Incomplete,
    Verdict::Error,
    Verdict::KeyMismatch,
    Verdict::Invalid,
];

impl Verdict {
    /// Process exit code for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Authentic => 0,
            Verdict::Invalid | Verdict::KeyMismatch => 1,
            Verdict::Error => 2,
            Verdict::Unauthenticated => 3,
            Verdict::Incomplete => 4,
        }
    }

    /// Severity rank for combining verdicts of many recordings (higher is worse).
    pub fn rank(self) -> u8 {
        match self {
            Verdict::Authentic => 0,
            Verdict::Unauthenticated => 1,
            Verdict::Incomplete => 2,
            Verdict::Error => 3,
            Verdict::KeyMismatch => 4,
            Verdict::Invalid => 5,
        }
    }

    /// Short human wording.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Authentic => "intact and authentic",
            Verdict::Unauthenticated => "intact, authenticity not established",
            Verdict::Incomplete => "incomplete (unfinished recording)",
            Verdict::Invalid => "INVALID (tampered, corrupt or malformed)",
            Verdict::Error => "could not be verified (I/O error)",
            Verdict::KeyMismatch => "NOT AUTHENTIC (does not match the given key)",
        }
    }

    /// Stable machine name (as serialized): `authentic`, `key_mismatch`, …
    pub fn key(self) -> &'static str {
        match self {
            Verdict::Authentic => "authentic",
            Verdict::Unauthenticated => "unauthenticated",
            Verdict::Incomplete => "incomplete",
            Verdict::Invalid => "invalid",
            Verdict::KeyMismatch => "key_mismatch",
            Verdict::Error => "error",
        }
    }
}

/// What kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Bytes differ from what was signed or checksummed (SHA-256, CRC, object-store checksum).
    Integrity,
    /// A signature or key binding does not verify.
    Authentication,
    /// The recording's keys do not match a given trust anchor (`--kek`, `--recorder-key`).
    KeyMismatch,
    /// Bytes that do not follow the format.
    Malformed,
    /// Files or containers missing, unlisted, misplaced or inconsistent with each other.
    Structure,
    /// Consistent with an unfinished recording (crash): missing signature, torn tail.
    Incomplete,
    /// Reading failed.
    Io,
}

/// Severity of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Decides the verdict.
    Error,
    /// Reported, does not change the verdict.
    Warning,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Family.
    pub class: Class,
    /// Stable machine-readable code (`checksum-mismatch`, `unlisted-file`, …).
    pub code: &'static str,
    /// Path of the file or container in its store.
    pub path: String,
    /// Byte offset in the file, when it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Chunk index in a `.data` file, when it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", escape_controls(&self.path))?;
        if let Some(o) = self.offset {
            write!(f, " @ byte {o}")?;
        }
        if let Some(c) = self.chunk {
            write!(f, " (chunk {c})")?;
        }
        write!(f, ": [{}] {}", self.code, escape_controls(&self.message))
    }
}

/// Status of one check of the trust chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Not attempted (no key given, or an earlier step failed).
    NotChecked,
    /// Passed.
    Passed,
    /// Failed.
    Failed,
}

/// The trust chain of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustReport {
    /// The public key's self-signature.
    pub self_signature: Check,
    /// Every container's `SHA256SUM.sig`.
    pub checksum_signatures: Check,
    /// The HMAC binding of the public key under the KMS-wrapped BSR key (`--kek`).
    pub kms_binding: Check,
    /// The recorder attestation (`--recorder-key`).
    pub recorder_attestation: Check,
    /// What established authenticity (`kms`, `recorder`, `kms+recorder` or `none`).
    pub mode: TrustMode,
}

/// What established a recording's authenticity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
pub enum TrustMode {
    /// Nothing: no anchor was given, or none passed.
    #[serde(rename = "none")]
    None,
    /// The KMS binding (`--kek`).
    #[serde(rename = "kms")]
    Kms,
    /// The recorder attestation (`--recorder-key`).
    #[serde(rename = "recorder")]
    Recorder,
    /// Both.
    #[serde(rename = "kms+recorder")]
    KmsRecorder,
}

impl TrustMode {
    /// `none`, `kms`, `recorder` or `kms+recorder`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustMode::None => "none",
            TrustMode::Kms => "kms",
            TrustMode::Recorder => "recorder",
            TrustMode::KmsRecorder => "kms+recorder",
        }
    }

    /// Whether an anchor established authenticity.
    pub fn established(self) -> bool {
        self != TrustMode::None
    }
}

impl std::fmt::Display for TrustMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for TrustMode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `s` with every control character (C0, DEL, C1) and bidirectional override escaped
/// (`\n`, `\u{1b}`, …), for terminals and logs: a file name or value from a recording can
/// neither forge a line nor send escape sequences.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let bad =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Status of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Listed and its SHA-256 matches (or, for the unlisted signature file, verified).
    Ok,
    /// Listed, but its SHA-256 differs.
    Mismatch,
    /// Listed, but absent.
    Missing,
    /// Present, but not listed in `SHA256SUM`.
    Unlisted,
    /// Could not be read.
    Unreadable,
    /// Not listed because the container is unfinished.
    Pending,
}

/// One file of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Base name.
    pub name: String,
    /// Size in bytes, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 computed, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether `SHA256SUM` lists it.
    pub listed: bool,
    /// Result.
    pub status: FileStatus,
    /// Chunks in a `.data` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    /// Decompressed DATA bytes in a `.data` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_bytes: Option<u64>,
    /// Whether the object store's own SHA-256 was compared (`true` = matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_checksum_ok: Option<bool>,
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerReport {
    /// Path in the store.
    pub path: String,
    /// `session`, `connection` or `channel`.
    pub kind: &'static str,
    /// Id from its meta file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether `SHA256SUM.sig` exists and verifies.
    pub signed: bool,
    /// Files.
    pub files: Vec<FileReport>,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Containers checked.
    pub containers: u64,
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Chunks decoded.
    pub chunks: u64,
}

/// What a redacted copy's `REDACTION.json` says, and, with `--original`, what the comparison
/// with the original found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedactionReport {
    /// The original's session recording id.
    pub original_recording_id: String,
    /// The original's session id.
    pub original_session_id: String,
    /// SHA-256 of the original's session `SHA256SUM.sig`.
    pub original_signature_sha256: String,
    /// SHA-256 of the original's session `SHA256SUM`.
    pub original_checksums_sha256: String,
    /// Redacted ranges listed.
    pub redactions: u64,
    /// Data files with redactions.
    pub files: u64,
    /// The rules, as the manifest lists them.
    pub rules: Vec<bsr_core::format::redaction::Rule>,
    /// The comparison with the original (`--original`), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<OriginalCheck>,
}

impl RedactionReport {
    /// The report section of a manifest.
    pub fn of(m: &bsr_core::format::redaction::RedactionManifest) -> Self {
        RedactionReport {
            original_recording_id: m.original.recording_id.clone(),
            original_session_id: m.original.session_id.clone(),
            original_signature_sha256: m.original.signature_sha256.clone(),
            original_checksums_sha256: m.original.checksums_sha256.clone(),
            redactions: m.count() as u64,
            files: m.files.len() as u64,
            rules: m.rules.clone(),
            original: None,
        }
    }

    /// For the summary line: `, redacted copy of sr_… with N redaction(s)`, and how the
    /// comparison with the original went when there was one.
    pub fn describe(&self) -> String {
        let checked = match &self.original {
            Some(o) if o.identical_outside_redactions => ", identical to it outside them",
            Some(_) => ", NOT identical to it outside them",
            None => "",
        };
        format!(
            ", redacted copy of {} with {} redaction(s){checked}",
            escape_controls(&self.original_recording_id),
            self.redactions
        )
    }
}

/// The comparison of a redacted copy with its original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginalCheck {
    /// The original, as given.
    pub location: String,
    /// The original's own verdict.
    pub verdict: Verdict,
    /// Every byte outside the listed ranges, every chunk's type and time, every request and
    /// summary equal the original's, and the copy names this original.
    pub identical_outside_redactions: bool,
}

/// The report on one recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `bsr-verify/report/v1`.
    pub schema: &'static str,
    /// The recording's folder in its store.
    pub recording: String,
    /// Human-readable location: the path as given on the command line, or the `s3://` URL.
    pub location: String,
    /// Session recording id, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_id: Option<String>,
    /// Session id (key id), when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Exit code of this verdict.
    pub exit_code: i32,
    /// Whether the recording was closed (final signature present).
    pub finished: bool,
    /// Whether it was recovered after a crash (`RECOVERED.json` present and listed).
    pub recovered: bool,
    /// A redacted copy (`REDACTION.json` present): what it was made from and what was redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction: Option<RedactionReport>,
    /// The trust chain.
    pub trust: TrustReport,
    /// Problems, errors first.
    pub problems: Vec<Problem>,
    /// Containers.
    pub containers: Vec<ContainerReport>,
    /// Totals.
    pub stats: Stats,
    /// Wall time spent, milliseconds.
    pub elapsed_ms: u64,
}

impl Report {
    /// Problems of severity error.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    /// The errors with the causes first, for messages that quote only the first few: what
    /// could not be read, then a checksum file or a signature, then a hash or a key, then what
    /// follows from them (files "not listed" once their `SHA256SUM` is gone). Otherwise in
    /// report order.
    pub fn errors_cause_first(&self) -> Vec<&Problem> {
        let mut e: Vec<&Problem> = self.errors().collect();
        e.sort_by_key(|p| {
            let trust_file = p.path.ends_with(bsr_core::format::CHECKSUM_FILE)
                || p.path.ends_with(bsr_core::format::SIG_FILE);
            match (p.code, trust_file, p.class) {
                ("unreadable", _, _) => 0,
                (_, true, _) => 1,
                (_, _, Class::Authentication | Class::Integrity) => 2,
                _ => 3,
            }
        });
        e
    }
}
