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
use bsr_verify::report::{FileStatus, Report, Verdict};
use bsr_verify::verify::{Trust, VerifyOptions, verify};
use serde::{Deserialize, Serialize};
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
    /// A file read while the recording was verified does not have the digest that verified:
    /// it changed between the two reads.
    #[error(
        "{path}: changed while it was read: SHA-256 {actual}, but {expected} verified; refusing to show it"
    )]
    Changed {
        /// The file.
        path: String,
        /// The digest that verified (hex).
        expected: String,
        /// The digest of what was read (hex).
        actual: String,
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
    /// Process exit code: 5 invalid (or changed while read), 6 unfinished, 2 unreadable or a
    /// key file error.
    pub fn exit_code(&self) -> i32 {
        match self {
            GateError::Invalid { .. } | GateError::Changed { .. } => 5,
            GateError::Unfinished { .. } => 6,
            _ => 2,
        }
    }
}

/// What the gate established about the content shown (the HTML view shows it).
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// [`Verification`] with its digests, as a cache keeps it.
#[derive(Serialize, Deserialize)]
struct Kept {
    verification: Verification,
    digests: Vec<(String, [u8; 32])>,
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

    /// The whole verification (digests too) as bytes, for a cache that only the caller can
    /// write (the server's disk cache): [`Verification::from_kept`] reads it back.
    pub fn to_kept(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(&Kept {
            verification: self.clone(),
            digests: self.digests.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        })
        .ok()
    }

    /// A verification kept by [`Verification::to_kept`]; `None` if the bytes are not one.
    pub fn from_kept(b: &[u8]) -> Option<Self> {
        let k: Kept = serde_json::from_slice(b).ok()?;
        let mut v = k.verification;
        v.digests = k.digests.into_iter().collect();
        Some(v)
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
        let paths = channel_paths(files);
        for p in &paths {
            check_regular(files, p)?;
        }
        if !self.verified {
            // Nothing was verified, so nothing is checked against a digest (as the warning
            // says): the files are read without hashing, their chunks' CRCs still checked.
            files.checksums = crate::convert::Digests::default();
            return Ok(());
        }
        let mut pinned = BTreeMap::new();
        for p in paths {
            let d = self.digests.get(&p).ok_or_else(|| GateError::NotVerified {
                path: escape(&files.store.describe(&p)),
            })?;
            pinned.insert(p, *d);
        }
        files.checksums = crate::convert::Digests::expect(pinned);
        Ok(())
    }
}

/// The files of a channel that a view may read.
fn channel_paths(files: &ChannelFiles) -> Vec<String> {
    [
        files.requests_inbound.as_deref(),
        files.requests_outbound.as_deref(),
        Some(files.messages_outbound.as_str()),
        files.messages_inbound.as_deref(),
        files.connection_requests.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::to_string)
    .collect()
}

/// A verification that runs on a thread of its own while the content is read (one pass over
/// the data instead of verifying first and reading after).
///
/// The reading hashes every file it reads ([`Pending::prepare`]), and whatever it produces is
/// held back by the caller (a staged file, or output kept until the end) until
/// [`Pending::finish`] has the verdict and has compared each file's digest with the one that
/// verified. So the bytes shown are exactly the bytes verified, and nothing reaches the
/// output before the verdict: on a refusal the held output is thrown away.
///
/// ```no_run
/// use bsr_asciicast::convert::select_channel;
/// use bsr_asciicast::verified::{GateOptions, Pending};
/// use bsr_core::read::Recording;
/// let rec = Recording::open_path(std::path::Path::new("testdata/recordings/sr_shell00001.bsr"))?;
/// let pending = Pending::start(rec.store().clone(), rec.dir(), &GateOptions::default());
/// let mut files = select_channel(&rec, None, None)?;
/// pending.prepare(&mut files)?;
/// let mut held = Vec::new();
/// bsr_asciicast::text::write_text(&files, &Default::default(), &mut held)?;
/// let verification = pending.finish(&files)?; // only now may `held` be shown
/// assert!(verification.verified);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pending {
    state: PendingState,
}

#[derive(Debug)]
enum PendingState {
    /// `--unverified`: nothing runs.
    Unverified(Verification),
    /// The verification's thread.
    Running(std::thread::JoinHandle<Result<Verification, GateError>>),
    /// It could not get a thread of its own, and ran before anything was read.
    Done(Result<Verification, GateError>),
}

impl Pending {
    /// Starts verifying the recording in folder `dir` of `store` on a new thread.
    pub fn start(store: Arc<dyn ReadStore>, dir: &str, opts: &GateOptions) -> Self {
        let (d, o, s) = (dir.to_string(), opts.clone(), store.clone());
        let state = match std::thread::Builder::new()
            .name("bsr-gate".into())
            .spawn(move || gate(&*s, &d, &o))
        {
            Ok(h) => PendingState::Running(h),
            Err(_) => PendingState::Done(gate(&*store, dir, opts)),
        };
        Pending { state }
    }

    /// Starts verifying the recording in folder `dir` of `store` on a new thread, for reading
    /// the channel `files`, and readies them: each must be a regular file; the channel's output
    /// file, when larger than [`bsr_core::read::HASH_THREAD_FROM`], is read by the verifier
    /// and its bytes handed to the reading as they are hashed
    /// ([`bsr_verify::verify::verify_sharing`]); the others are hashed as they are read, for
    /// [`Pending::finish`] to compare.
    pub fn start_sharing(
        store: Arc<dyn ReadStore>,
        dir: &str,
        opts: &GateOptions,
        files: &mut ChannelFiles,
    ) -> Result<Self, GateError> {
        let paths = channel_paths(files);
        for p in &paths {
            check_regular(files, p)?;
        }
        let big = store
            .size(&files.messages_outbound)
            .is_ok_and(|n| n >= bsr_core::read::HASH_THREAD_FROM);
        let vopts = VerifyOptions {
            trust: opts.trust.clone(),
            ..VerifyOptions::default()
        };
        let (d, s) = (dir.to_string(), store.clone());
        let share = if big {
            let (share, reader) = bsr_core::read::share::share(&files.messages_outbound);
            files.checksums = crate::convert::Digests::deferred_sharing(
                paths.iter().map(|p| &**p),
                &files.messages_outbound,
                reader,
            );
            Some(share)
        } else {
            files.checksums = crate::convert::Digests::deferred(paths.iter().map(|p| &**p));
            None
        };
        let spawned = std::thread::Builder::new()
            .name("bsr-gate".into())
            .spawn(move || {
                let report = match share {
                    Some(share) => bsr_verify::verify::verify_sharing(&*s, &d, &vopts, share),
                    None => verify(&*s, &d, &vopts),
                };
                gate_report(&*s, &d, &report)
            });
        let state = match spawned {
            Ok(h) => PendingState::Running(h),
            Err(_) => {
                // No thread: verify first, then read the files pinned to what verified.
                let r = gate(&*store, dir, opts);
                if let Ok(v) = &r {
                    v.pin(files)?;
                }
                PendingState::Done(r)
            }
        };
        Ok(Pending { state })
    }

    /// Content read without verification (`--unverified`).
    pub fn unverified(location: impl Into<String>) -> Self {
        Pending {
            state: PendingState::Unverified(Verification::unverified(location)),
        }
    }

    /// Verifies now, on this thread, before anything is read: for output that goes to a pipe
    /// or a terminal, which should see it as it is made (once verified) rather than all at the
    /// end.
    pub fn verify_now(store: &dyn ReadStore, dir: &str, opts: &GateOptions) -> Self {
        Pending {
            state: PendingState::Done(gate(store, dir, opts)),
        }
    }

    /// Whether the verdict is known before reading (`--unverified`, or [`Pending::verify_now`]):
    /// output can then go out as it is made.
    pub fn is_decided(&self) -> bool {
        !matches!(self.state, PendingState::Running(_))
    }

    /// The warning the output must carry (with `--unverified`), known before the verdict.
    pub fn warning(&self) -> Option<&'static str> {
        match &self.state {
            PendingState::Unverified(v) => v.warning(),
            _ => None,
        }
    }

    /// Readies a channel's files for reading while the verification runs: each must be a
    /// regular file, and each is hashed as it is read, for [`Pending::finish`] to compare.
    /// Unverified: as [`Verification::pin`] (nothing hashed).
    pub fn prepare(&self, files: &mut ChannelFiles) -> Result<(), GateError> {
        match &self.state {
            PendingState::Unverified(v) | PendingState::Done(Ok(v)) => v.pin(files),
            PendingState::Done(Err(_)) | PendingState::Running(_) => {
                let paths = channel_paths(files);
                for p in &paths {
                    check_regular(files, p)?;
                }
                files.checksums = crate::convert::Digests::deferred(paths.iter().map(|p| &**p));
                Ok(())
            }
        }
    }

    /// The verdict, once the verification has finished.
    pub fn wait(self) -> Result<Verification, GateError> {
        match self.state {
            PendingState::Unverified(v) => Ok(v),
            PendingState::Done(r) => r,
            PendingState::Running(h) => h.join().unwrap_or_else(|_| {
                Err(GateError::Unreadable {
                    location: String::new(),
                    problems: "  the verification stopped unexpectedly".into(),
                })
            }),
        }
    }

    /// The verdict, and the check that every file the reading hashed ([`Pending::prepare`])
    /// has the digest that verified: a file changed between the two reads, or read but not
    /// covered by the verification, is refused. Only after this returns `Ok` may what was
    /// read be shown.
    pub fn finish(self, files: &ChannelFiles) -> Result<Verification, GateError> {
        // A shared file never opened: the verifier must not wait for its reader.
        files.checksums.release_shared();
        let v = self.wait()?;
        if v.verified {
            if let Some(p) = files.checksums.shared_path()
                && !v.digests.contains_key(p)
            {
                return Err(GateError::NotVerified {
                    path: escape(&files.store.describe(p)),
                });
            }
            for (path, got) in files.checksums.observed() {
                match v.digests.get(&path) {
                    None => {
                        return Err(GateError::NotVerified {
                            path: escape(&files.store.describe(&path)),
                        });
                    }
                    Some(want) if *want != got => {
                        return Err(GateError::Changed {
                            path: escape(&files.store.describe(&path)),
                            expected: hex::encode(want),
                            actual: hex::encode(got),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(v)
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
    gate_report(store, dir, &report)
}

/// [`gate`] that also returns the verifier's report and what it read (`bsr-verify`'s
/// [`Seen`](bsr_verify::verify::Seen), for its facts), from one verification.
pub fn gate_keeping(
    store: &dyn ReadStore,
    dir: &str,
    opts: &GateOptions,
) -> (
    Result<Verification, GateError>,
    Report,
    bsr_verify::verify::Seen,
) {
    let vopts = VerifyOptions {
        trust: opts.trust.clone(),
        ..VerifyOptions::default()
    };
    let (report, seen) = bsr_verify::verify::verify_keeping(store, dir, &vopts);
    (gate_report(store, dir, &report), report, seen)
}

/// The gate's decision on a verification report of the recording `dir` of `store`.
fn gate_report(
    store: &dyn ReadStore,
    dir: &str,
    report: &Report,
) -> Result<Verification, GateError> {
    let location = escape(&report.location);
    match report.verdict {
        Verdict::Authentic | Verdict::Unauthenticated => {}
        Verdict::Incomplete => {
            return Err(GateError::Unfinished {
                location,
                problems: quote(store, report),
            });
        }
        Verdict::Invalid => {
            return Err(GateError::Invalid {
                location,
                problems: quote(store, report),
            });
        }
        _ => {
            return Err(GateError::Unreadable {
                location,
                problems: quote(store, report),
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
    // The cause first (bsr-verify's one ordering, as `facts` and `events` quote it).
    let errors = report.errors_cause_first();
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

/// A local recording, opened, whose verification starts with [`Opening::begin`] once the
/// files to read are known.
#[derive(Debug)]
pub struct Opening {
    /// The recording.
    pub recording: bsr_core::read::Recording,
    how: How,
}

#[derive(Debug)]
enum How {
    /// `--unverified`.
    Unverified(String),
    /// Verify first, then read (output for a pipe or a terminal).
    First(GateOptions),
    /// Verify while reading, on another thread, the output held back.
    Beside(GateOptions),
}

impl Opening {
    /// Starts the verification for reading the channel `files` of this recording and readies
    /// them ([`Pending::prepare`]); while verifying beside the reading, the channel's output
    /// file (the large one) is read once, by the verifier, for both ([`bsr_core::read::share`]).
    pub fn begin(&self, files: &mut ChannelFiles) -> Result<Pending, GateError> {
        let rec = &self.recording;
        let pending = match &self.how {
            How::Unverified(l) => Pending::unverified(l.clone()),
            How::First(o) => Pending::verify_now(&**rec.store(), rec.dir(), o),
            How::Beside(o) => {
                return Pending::start_sharing(rec.store().clone(), rec.dir(), o, files);
            }
        };
        pending.prepare(files)?;
        Ok(pending)
    }

    /// The verdict alone, verifying now (to report a refusal first when choosing the channel
    /// failed).
    pub fn verdict(&self) -> Result<Verification, GateError> {
        let rec = &self.recording;
        match &self.how {
            How::Unverified(l) => Ok(Verification::unverified(l.clone())),
            How::First(o) | How::Beside(o) => gate(&**rec.store(), rec.dir(), o),
        }
    }
}

impl GateArgs {
    /// [`GateArgs::open`] that does not verify yet: [`Opening::begin`] starts it, on its own
    /// thread while the caller reads the recording (which holds back what it makes of it until
    /// [`Pending::finish`]), or with `verify_first` before anything is read, as `open` does.
    pub fn start(&self, path: &Path, verify_first: bool) -> Result<Opening, GateError> {
        check_recording_path(path)?;
        let opts = if self.unverified {
            None
        } else {
            Some(GateOptions::from_key_files(
                self.kek.as_deref(),
                self.recorder_key.as_deref(),
            )?)
        };
        let recording =
            bsr_core::read::Recording::open_path(path).map_err(|source| GateError::Open {
                path: escape(&path.display().to_string()),
                source,
            })?;
        let how = match opts {
            None => How::Unverified(path.display().to_string()),
            Some(o) if verify_first => How::First(o),
            Some(o) => How::Beside(o),
        };
        Ok(Opening { recording, how })
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
