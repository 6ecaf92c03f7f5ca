//! `bsr-asciicast html RECORDING [--channel ID] -o page.html` (docs/HTML.md).

use anyhow::Context;
use bsr_asciicast::html::{DEFAULT_MAX_CAST_BYTES, HtmlOptions, render};
use bsr_asciicast::verified::GateOptions;
use bsr_core::store::FsStore;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `html`.
#[derive(clap::Args, Debug)]
pub struct HtmlArgs {
    /// The recording folder (`*.bsr`).
    recording: PathBuf,
    /// Connection recording id.
    #[arg(long)]
    connection: Option<String>,
    /// Channel recording id.
    #[arg(long)]
    channel: Option<String>,
    /// The page to write.
    #[arg(short, long)]
    output: PathBuf,
    /// AEAD key-encryption key file: checks the KMS binding (verdict `authentic`).
    #[arg(long)]
    kek: Option<PathBuf>,
    /// Trusted recorder public key(s) or recorder key file: checks the recorder attestation.
    #[arg(long)]
    recorder_key: Option<PathBuf>,
    /// Idle-time cap the player starts with, seconds (0: none).
    #[arg(long, default_value_t = 2.0)]
    idle_time_limit: f64,
    /// Largest cast the page may hold, bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_CAST_BYTES)]
    max_cast_bytes: u64,
}

/// Writes the page; exit code 0 when it shows the recording, 1 when the recording failed
/// verification (the page says so).
pub fn run(a: HtmlArgs) -> anyhow::Result<i32> {
    let opts = HtmlOptions {
        gate: GateOptions::from_key_files(a.kek.as_deref(), a.recorder_key.as_deref())?,
        connection: a.connection,
        channel: a.channel,
        idle_time_limit: (a.idle_time_limit > 0.0).then_some(a.idle_time_limit),
        max_cast_bytes: a.max_cast_bytes,
        ..HtmlOptions::default()
    };
    let abs = std::fs::canonicalize(&a.recording)
        .with_context(|| format!("{}", a.recording.display()))?;
    let parent = abs.parent().unwrap_or(std::path::Path::new("/"));
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = render(Arc::new(FsStore::new(parent)), &name, &opts)?;
    let (mut f, staged) = super::Staged::create(&a.output, ".partial")
        .with_context(|| format!("creating {}", a.output.display()))?;
    if let Err(e) = std::io::Write::write_all(&mut f, page.html.as_bytes()) {
        staged.abandon();
        return Err(e).with_context(|| format!("writing {}", a.output.display()));
    }
    staged
        .commit()
        .with_context(|| format!("renaming to {}", a.output.display()))?;
    if page.shown {
        eprintln!("{}: {:?}", a.output.display(), page.verdict);
        Ok(0)
    } else {
        eprintln!(
            "bsr-asciicast: {}: verification failed ({}); the page says so and shows nothing from the recording",
            a.recording.display(),
            page.verdict.describe()
        );
        if let Some(why) = &page.refusal {
            eprintln!("{why}");
        }
        Ok(1)
    }
}
