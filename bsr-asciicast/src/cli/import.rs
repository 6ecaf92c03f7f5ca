//! `bsr-asciicast import`: an asciicast file to a signed BSR recording.

use anyhow::Context;
use bsr_asciicast::human::escape;
use bsr_core::store::{FsStore, ReadStore};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The cast.
    cast: PathBuf,
    /// Folder in which to create `sr_<id>.bsr`.
    #[arg(long)]
    out: PathBuf,
    /// AEAD key-encryption key file (wraps the recording's keys).
    #[arg(long)]
    kek: PathBuf,
    /// Recorder private key file (adds a recorder attestation).
    #[arg(long)]
    recorder_key: Option<PathBuf>,
}

/// Runs `import`; returns the exit code.
pub fn run(a: ImportArgs) -> anyhow::Result<i32> {
    use sha2::Digest;
    let shown = |p: &PathBuf| escape(&p.display().to_string());
    let bytes = std::fs::read(&a.cast).with_context(|| format!("reading {}", shown(&a.cast)))?;
    let wrapper = bsr_core::kms::AeadWrapper::from_kek_file(&a.kek)?;
    let recorder = a
        .recorder_key
        .as_deref()
        .map(bsr_core::kms::RecorderKey::from_file)
        .transpose()?;
    std::fs::create_dir_all(&a.out)?;
    let store = Arc::new(FsStore::new(&a.out));
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let done = bsr_asciicast::import::import_cast(
        &bytes[..],
        digest,
        store.clone(),
        "",
        &wrapper,
        recorder.as_ref(),
    )
    .with_context(|| format!("importing {}", shown(&a.cast)))?;
    println!("{}", store.describe(&done.dir));
    eprintln!("imported {} events", done.events);
    Ok(0)
}
