//! `bsr-asciicast redact`: a signed, redacted copy of a verified recording (docs/REDACT.md).
//!
//! The original is verified first (the gate, with `--kek`) and only read. The copy is written
//! into a hidden temporary folder inside `--out` and renamed into place only when it is
//! complete and signed; a failed redaction leaves nothing behind. An existing copy is refused,
//! not replaced.

use anyhow::Context;
use bsr_asciicast::human::escape;
use bsr_asciicast::redact::{DEFAULT_MAX_MATCH, RedactOptions, Span, redact};
use bsr_asciicast::verified::{GateError, GateOptions, check_recording_path, gate};
use bsr_core::store::FsStore;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `redact`.
#[derive(clap::Args, Debug)]
pub struct RedactArgs {
    /// The original recording folder (`sr_….bsr`); it is never written.
    recording: PathBuf,
    /// Folder in which to create the copy `sr_<id>.bsr`.
    #[arg(long)]
    out: PathBuf,
    /// AEAD key-encryption key file: verifies the original (KMS binding) and wraps the copy's
    /// keys.
    #[arg(long)]
    kek: PathBuf,
    /// Recorder private key file (adds a recorder attestation to the copy).
    #[arg(long)]
    recorder_key: Option<PathBuf>,
    /// A regular expression (Rust `regex` syntax, over bytes) whose matches in any channel's
    /// data are redacted; repeatable. `(?i)` for case-insensitive.
    #[arg(long = "pattern", value_name = "REGEX")]
    patterns: Vec<String>,
    /// Redact keystrokes the terminal did not echo (password prompts).
    #[arg(long)]
    hidden_input: bool,
    /// Redact bytes FROM..TO (TO excluded) of a channel's inbound or outbound data; repeatable.
    #[arg(long = "span", value_name = "CHANNEL:STREAM:FROM-TO")]
    spans: Vec<Span>,
    /// Longest match kept whole across chunk boundaries, in bytes (memory: twice this).
    #[arg(long, default_value_t = DEFAULT_MAX_MATCH)]
    max_match: usize,
    /// Record only the SHA-256 of each pattern in the manifest, not its text (for a pattern
    /// that is itself the secret).
    #[arg(long)]
    hide_patterns: bool,
}

/// `p` made absolute with its longest existing ancestor's links resolved (it may not exist
/// yet).
fn resolved(p: &std::path::Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut base = abs.as_path();
    let mut rest = Vec::new();
    while let Some(parent) = base.parent() {
        if let Ok(c) = std::fs::canonicalize(base) {
            return rest.iter().rev().fold(c, |acc: PathBuf, n| acc.join(n));
        }
        if let Some(n) = base.file_name() {
            rest.push(n.to_os_string());
        }
        base = parent;
    }
    abs
}

/// Runs `redact`; returns the exit code.
pub fn run(a: RedactArgs) -> anyhow::Result<i32> {
    let shown = |p: &std::path::Path| escape(&p.display().to_string());
    let wrapper = bsr_core::keys::AeadWrapper::from_kek_file(&a.kek)
        .with_context(|| format!("reading KEK {}", shown(&a.kek)))?;
    let recorder = match &a.recorder_key {
        Some(p) => Some(
            bsr_core::keys::RecorderKey::from_file(p)
                .with_context(|| format!("reading recorder key {}", shown(p)))?,
        ),
        None => None,
    };
    let opened = (|| {
        check_recording_path(&a.recording).map_err(Box::new)?;
        let rec = bsr_core::read::Recording::open_path(&a.recording).map_err(|source| {
            GateError::Open {
                path: shown(&a.recording),
                source,
            }
        })?;
        let opts = GateOptions::from_key_files(Some(&a.kek), None)?;
        let v = gate(&**rec.store(), rec.dir(), &opts)?;
        Ok::<_, Box<GateError>>((rec, v))
    })();
    let (rec, verification) = match opened {
        Ok(x) => x,
        Err(g) => {
            let code = g.exit_code();
            super::print_error(&anyhow::Error::new(*g));
            return Ok(code);
        }
    };
    let opts = RedactOptions {
        patterns: a.patterns.clone(),
        hidden_input: a.hidden_input,
        spans: a.spans.clone(),
        max_match: a.max_match,
        hide_patterns: a.hide_patterns,
        ..RedactOptions::default()
    };
    // The original is never written: not even a temporary folder inside it.
    if let Ok(r) = std::fs::canonicalize(&a.recording)
        && resolved(&a.out).starts_with(&r)
    {
        anyhow::bail!(
            "--out {} is inside the original {}: the original is never written; choose another folder",
            shown(&a.out),
            shown(&a.recording)
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", shown(&a.out)))?;
    // Removed with everything in it unless the finished copy was renamed out of it.
    let tmp = tempfile::Builder::new()
        .prefix(".redacting-")
        .tempdir_in(&a.out)
        .with_context(|| format!("creating a temporary folder in {}", shown(&a.out)))?;
    let store = Arc::new(FsStore::new(tmp.path()));
    let done = redact(
        &rec,
        &verification,
        store,
        "",
        &opts,
        &wrapper,
        recorder.as_ref(),
    )
    .with_context(|| format!("redacting {}", shown(&a.recording)))?;
    let dest = a.out.join(&done.dir);
    if dest.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} already exists (the same redaction of the same recording); remove it to redact again",
            shown(&dest)
        );
    }
    std::fs::rename(tmp.path().join(&done.dir), &dest)
        .with_context(|| format!("moving the copy to {}", shown(&dest)))?;
    let abs = std::fs::canonicalize(&dest).unwrap_or(dest);
    println!("{}", abs.display());
    eprintln!(
        "redacted copy of {} with {} redaction(s) over {} file(s)",
        escape(&done.manifest.original.recording_id),
        done.manifest.count(),
        done.manifest.files.len()
    );
    Ok(0)
}
