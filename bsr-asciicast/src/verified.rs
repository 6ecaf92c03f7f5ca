//! The verification gate: every command that shows recording content (`convert`, and the text,
//! search, HTML and server views) goes through [`gate`] first (issue 14, item 4).
//!
//! [`gate`] runs `bsr-verify`'s library on the whole recording and lets content through only
//! when every checksum and the signature chain verified (verdict `authentic`, or
//! `unauthenticated` when no trust anchor was given: intact under the recording's own key). It
//! refuses, with a [`GateError`] that names the files:
//! * a tampered, corrupt or malformed recording ([`GateError::Invalid`], the verifier's first
//!   problems),
//! * an unfinished one, still being written or never closed ([`GateError::Unfinished`]),
//! * one that could not be read ([`GateError::Unreadable`]).
//!
//! The one way around it is explicit: [`Verification::unverified`] (the `--unverified` flag),
//! whose [`Verification::warning`] the output must show (a cast gets it in its header and as a
//! marker at t=0).
//!
//! The gate's [`Verification`] also pins what was verified: [`Verification::pin`] hands a
//! channel's files the SHA-256 the verifier computed, so a file swapped between verification and
//! conversion fails the conversion's own checksum check.
//!
//! ```no_run
//! use bsr_asciicast::verified::{gate, GateOptions};
//! use bsr_core::store::FsStore;
//! let store = FsStore::new("testdata/recordings");
//! let v = gate(&store, "sr_shell00001.bsr", &GateOptions::default())?;
//! assert!(v.verified);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::convert::ChannelFiles;
use crate::human::escape;
use bsr_core::format;
use bsr_core::keys::{AeadWrapper, KeyWrapper, RecorderTrust};
use bsr_core::store::{EntryKind, ReadStore, join};
use bsr_verify::report::{Class, FileStatus, Report, Severity, Verdict};
use bsr_verify::verify::{Trust, VerifyOptions, verify};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Most verifier problems quoted in a refusal.
pub const MAX_QUOTED_PROBLEMS: usize = 5;

/// The warning shown with content read with `--unverified`.
pub const UNVERIFIED_WARNING: &str = "WARNING: UNVERIFIED CONTENT (--unverified): the checksums and signatures of this recording were not checked; what follows may have been altered";

/// Largest `SHA256SUM` read to fingerprint the session.
const MAX_SUM_FILE: u64 = 16 * 1024 * 1024;

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Trust anchors (`--kek`, `--recorder-key`); without any, an intact recording passes as
    /// "authenticity not established".
    pub trust: Trust,
}

impl GateOptions {
    /// Options with the trust anchors read from key files (`--kek`, `--recorder-key`).
    pub fn from_key_files(
        kek: Option<&Path>,
        recorder_key: Option<&Path>,
    ) -> Result<Self, GateError> {
        let key_err = |p: &Path, e: bsr_core::Error| GateError::Key {
            path: escape(&p.display().to_string()),
            source: e,
        };
        let kek: Option<Arc<dyn KeyWrapper>> = match kek {
            Some(p) => Some(Arc::new(
                AeadWrapper::from_kek_file(p).map_err(|e| key_err(p, e))?,
            )),
            None => None,
        };
        let recorder = match recorder_key {
            Some(p) => Some(Arc::new(
                RecorderTrust::from_file(p).map_err(|e| key_err(p, e))?,
            )),
            None => None,
        };
        Ok(GateOptions {
            trust: Trust { kek, recorder },
        })
    }
}

/// Why the gate refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// Tampered, corrupt or malformed (verdict `invalid`).
    #[error(
        "{location}: refusing to show its content: the recording is INVALID (tampered, corrupt or malformed):\n{problems}\n(`bsr-verify` gives the full report; --unverified shows the content anyway, with a warning)"
    )]
    Invalid {
        /// The recording.
        location: String,
        /// The verifier's first problems, one per line, escaped.
        problems: String,
    },
    /// No final signature: still being written, or its recorder stopped before closing it.
    #[error(
        "{location}: the recording is unfinished (still being written, or its recorder stopped before signing it): its content cannot be verified yet:\n{problems}\n(wait until it is finished; --unverified shows it anyway, with a warning)"
    )]
    Unfinished {
        /// The recording.
        location: String,
        /// The verifier's first problems, escaped.
        problems: String,
    },
    /// The recording could not be read.
    #[error("{location}: the recording could not be verified (read error):\n{problems}")]
    Unreadable {
        /// The recording.
        location: String,
        /// The verifier's first problems, escaped.
        problems: String,
    },
    /// A key file could not be read.
    #[error("{}", key_message(path, source))]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        source: bsr_core::Error,
    },
    /// The path given is not a local recording folder.
    #[error("{path}: {reason}")]
    NotARecording {
        /// The path.
        path: String,
        /// What it is instead.
        reason: String,
    },
    /// The recording could not be opened.
    #[error("{path}: {source}")]
    Open {
        /// The path.
        path: String,
        /// What went wrong.
        source: bsr_core::Error,
    },
    /// A file the command is about to read is not among the files that verified.
    #[error("{path}: not covered by the verification of the recording; refusing to read it")]
    NotVerified {
        /// The file.
        path: String,
    },
}

/// "key file PATH: what", without the path twice when the core error names it already.
fn key_message(path: &str, e: &bsr_core::Error) -> String {
    let m = escape(&e.chain());
    if m.contains(path) {
        format!("key file: {m}")
    } else {
        format!("key file {path}: {m}")
    }
}

impl GateError {
    /// Process exit code: 5 invalid, 6 unfinished, 2 unreadable or a key file error.
    pub fn exit_code(&self) -> i32 {
        match self {
            GateError::Invalid { .. } => 5,
            GateError::Unfinished { .. } => 6,
            _ => 2,
        }
    }
}

/// What the gate established about the content shown (the HTML view shows it).
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The recording (or file) as given.
    pub location: String,
    /// Whether checksums and the signature chain verified. `false` only with `--unverified`.
    pub verified: bool,
    /// The verifier's verdict (`None` when not verified).
    pub verdict: Option<Verdict>,
    /// What established authenticity: `kms`, `recorder`, `kms+recorder`, `none`, or
    /// `unverified`.
    pub trust_mode: String,
    /// SHA-256 (hex) of the session container's `SHA256SUM`: a fingerprint of the whole signed
    /// recording (it lists the children's checksum files).
    pub session_sha256sum: Option<String>,
    /// The id of the key that signed the recording (the session id).
    pub signing_key_id: Option<String>,
    /// For a redacted copy (`REDACTION.json`): `redacted copy of sr_… with N redaction(s)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// Verified SHA-256 of every data file, by store path.
    #[serde(skip)]
    digests: BTreeMap<String, [u8; 32]>,
}

impl Verification {
    /// Content read without verification (`--unverified`): [`Self::warning`] is set.
    pub fn unverified(location: impl Into<String>) -> Self {
        Verification {
            location: location.into(),
            verified: false,
            verdict: None,
            trust_mode: "unverified".into(),
            session_sha256sum: None,
            signing_key_id: None,
            redacted: None,
            digests: BTreeMap::new(),
        }
    }

    /// The loud warning the output must carry, when the content was not verified.
    pub fn warning(&self) -> Option<&'static str> {
        (!self.verified).then_some(UNVERIFIED_WARNING)
    }

    /// One line for people: the verdict and what it rests on.
    pub fn summary(&self) -> String {
        match self.verdict {
            None => UNVERIFIED_WARNING.to_string(),
            Some(v) => format!(
                "verified: {}{} (trust: {}, signing key {}, session SHA256SUM {})",
                v.describe(),
                self.redacted
                    .as_deref()
                    .map(|r| format!(", {}", escape(r)))
                    .unwrap_or_default(),
                self.trust_mode,
                escape(self.signing_key_id.as_deref().unwrap_or("?")),
                self.session_sha256sum.as_deref().unwrap_or("?")
            ),
        }
    }

    /// The SHA-256 that the verification computed for the listed file `path` (a store path),
    /// if it verified; `None` when not verified. Readers that stream a file compare at its end.
    pub fn digest(&self, path: &str) -> Option<[u8; 32]> {
        self.digests.get(path).copied()
    }

    /// Pins a channel's files to the digests that verified: every file the conversion reads
    /// must have one, and is checked against it while read. Every file, verified or not, must
    /// be a regular file (a FIFO, device or folder is refused before anything opens it).
    pub fn pin(&self, files: &mut ChannelFiles) -> Result<(), GateError> {
        let paths = [
            files.requests_inbound.as_deref(),
            files.requests_outbound.as_deref(),
            Some(files.messages_outbound.as_str()),
            files.messages_inbound.as_deref(),
            files.connection_requests.as_deref(),
        ];
        for p in paths.into_iter().flatten() {
            check_regular(files, p)?;
        }
        if !self.verified {
            // Nothing was verified, so nothing is checked against a digest (as the warning
            // says): the files are read without hashing, their chunks' CRCs still checked.
            files.checksums.clear();
            return Ok(());
        }
        let mut pinned = BTreeMap::new();
        for p in paths.into_iter().flatten() {
            let d = self.digests.get(p).ok_or_else(|| GateError::NotVerified {
                path: escape(&files.store.describe(p)),
            })?;
            pinned.insert(p.to_string(), *d);
        }
        files.checksums = pinned;
        Ok(())
    }
}

/// Refuses `path` when its folder lists it as something other than a regular file (a missing
/// file is left to the open, which names it).
fn check_regular(files: &ChannelFiles, path: &str) -> Result<(), GateError> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let shown = || escape(&files.store.describe(path));
    let entries = files.store.list(dir).map_err(|source| GateError::Open {
        path: shown(),
        source,
    })?;
    match entries.iter().find(|e| e.name == name) {
        Some(e) if e.kind != EntryKind::File => Err(GateError::NotARecording {
            path: shown(),
            reason:
                "not a regular file (a FIFO, device, socket, folder or link); refusing to open it"
                    .into(),
        }),
        _ => Ok(()),
    }
}

/// Verifies the recording in folder `dir` of `store`, and lets it through only if its
/// checksums and signature chain verified.
pub fn gate(
    store: &dyn ReadStore,
    dir: &str,
    opts: &GateOptions,
) -> Result<Verification, GateError> {
    let vopts = VerifyOptions {
        trust: opts.trust.clone(),
        ..VerifyOptions::default()
    };
    let report = verify(store, dir, &vopts);
    let location = escape(&report.location);
    match report.verdict {
        Verdict::Authentic | Verdict::Unauthenticated => {}
        Verdict::Incomplete => {
            return Err(GateError::Unfinished {
                location,
                problems: quote(store, &report),
            });
        }
        Verdict::Invalid => {
            return Err(GateError::Invalid {
                location,
                problems: quote(store, &report),
            });
        }
        _ => {
            return Err(GateError::Unreadable {
                location,
                problems: quote(store, &report),
            });
        }
    }
    let mut digests = BTreeMap::new();
    for c in &report.containers {
        for f in &c.files {
            if f.status != FileStatus::Ok || !f.listed {
                continue;
            }
            let mut d = [0u8; 32];
            if let Some(h) = &f.sha256
                && hex::decode_to_slice(h, &mut d).is_ok()
            {
                digests.insert(join(&c.path, &f.name), d);
            }
        }
    }
    let session_sha256sum = store
        .read_limited(&join(dir, format::CHECKSUM_FILE), MAX_SUM_FILE)
        .ok()
        .map(|b| hex::encode(Sha256::digest(&b)));
    Ok(Verification {
        location: report.location.clone(),
        verified: true,
        verdict: Some(report.verdict),
        trust_mode: report.trust.mode.to_string(),
        session_sha256sum,
        signing_key_id: report.session_id.clone(),
        redacted: report
            .redaction
            .as_ref()
            .map(|r| r.describe().trim_start_matches(", ").to_string()),
        digests,
    })
}

/// The first errors of a report, one per line, with the file's location, escaped.
fn quote(store: &dyn ReadStore, report: &Report) -> String {
    let mut errors: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    // The cause first: a checksum file or a signature, a hash or a key, before what follows
    // from them (files "not listed" when their SHA256SUM is gone).
    errors.sort_by_key(|p| {
        let trust_file =
            p.path.ends_with(format::CHECKSUM_FILE) || p.path.ends_with(format::SIG_FILE);
        match (trust_file, p.class) {
            (true, _) => 0,
            (_, Class::Authentication | Class::Integrity) => 1,
            _ => 2,
        }
    });
    let mut lines: Vec<String> = errors
        .iter()
        .take(MAX_QUOTED_PROBLEMS)
        .map(|p| {
            let mut at = String::new();
            if let Some(o) = p.offset {
                at.push_str(&format!(" @ byte {o}"));
            }
            if let Some(c) = p.chunk {
                at.push_str(&format!(" (chunk {c})"));
            }
            format!(
                "  {}{at}: [{}] {}",
                escape(&store.describe(&p.path)),
                p.code,
                escape(&p.message)
            )
        })
        .collect();
    if errors.len() > MAX_QUOTED_PROBLEMS {
        lines.push(format!(
            "  … and {} more problem(s)",
            errors.len() - MAX_QUOTED_PROBLEMS
        ));
    }
    if lines.is_empty() {
        lines.push(format!("  verdict: {}", report.verdict.describe()));
    }
    lines.join("\n")
}

/// The gate's command-line flags, for every command that shows recording content
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GateArgs {
    /// KEK file: also check that the KMS wrapped the recording's key (authenticity).
    #[arg(long)]
    pub kek: Option<std::path::PathBuf>,
    /// Trusted recorder public key file: also check the recorder attestation (authenticity).
    #[arg(long)]
    pub recorder_key: Option<std::path::PathBuf>,
    /// Show the content without verifying checksums and signatures. The output carries a loud
    /// warning (for a cast: a header note and a marker at 0 s).
    #[arg(long, conflicts_with_all = ["kek", "recorder_key"])]
    pub unverified: bool,
}

/// A local recording, opened through the gate.
#[derive(Debug)]
pub struct Opened {
    /// The recording.
    pub recording: bsr_core::read::Recording,
    /// What the gate established.
    pub verification: Verification,
}

impl GateArgs {
    /// Opens the local recording folder `path`, verifying it unless `--unverified`. A path that
    /// is not a recording folder (an `s3://` URL, a plain file, a folder of recordings) gets an
    /// error that says so.
    pub fn open(&self, path: &Path) -> Result<Opened, GateError> {
        check_recording_path(path)?;
        let recording =
            bsr_core::read::Recording::open_path(path).map_err(|source| GateError::Open {
                path: escape(&path.display().to_string()),
                source,
            })?;
        let verification = if self.unverified {
            Verification::unverified(path.display().to_string())
        } else {
            let opts =
                GateOptions::from_key_files(self.kek.as_deref(), self.recorder_key.as_deref())?;
            gate(&**recording.store(), recording.dir(), &opts)?
        };
        Ok(Opened {
            recording,
            verification,
        })
    }
}

/// Why `path` is not a local recording folder, if it is not one.
pub fn check_recording_path(path: &Path) -> Result<(), GateError> {
    let shown = escape(&path.display().to_string());
    let not = |reason: String| GateError::NotARecording {
        path: shown.clone(),
        reason,
    };
    let s = path.to_string_lossy();
    if s.starts_with("s3://") {
        return Err(not(
            "an s3:// URL; this command reads local recording folders only (`bsr-verify` reads s3://; copy the recording down, e.g. `aws s3 cp --recursive`)".into(),
        ));
    }
    let md = std::fs::metadata(path).map_err(|e| not(format!("cannot be read: {e}")))?;
    if !md.is_dir() {
        return Err(not(
            "a file, not a recording folder (a session recording is a folder named sr_<id>.bsr)"
                .into(),
        ));
    }
    if path
        .join(format::ContainerKind::Session.meta_file())
        .exists()
        || s.ends_with(format::SESSION_DIR_SUFFIX)
    {
        return Ok(());
    }
    let mut inner: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| not(format!("cannot be listed: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(format::SESSION_DIR_SUFFIX))
        .collect();
    inner.sort();
    if inner.is_empty() {
        return Err(not(
            "not a recording folder (no session-recording.meta, and no sr_<id>.bsr folders in it)"
                .into(),
        ));
    }
    let more = if inner.len() > 5 { ", …" } else { "" };
    inner.truncate(5);
    Err(not(format!(
        "a folder of {} recording(s), not one recording; give one of them: {}{more}",
        inner.len(),
        escape(&inner.join(", "))
    )))
}
