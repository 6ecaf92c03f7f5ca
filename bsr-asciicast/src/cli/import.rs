//! `bsr-asciicast import`: an asciicast file to a signed BSR recording.
//!
//! The recording is written into a hidden temporary folder inside `--out` and renamed into
//! place only when it is complete and signed; a failed import leaves nothing behind (issue 14,
//! item 5). A recording of the same cast that already exists is refused, not replaced.

use anyhow::Context;
use bsr_asciicast::human::escape;
use bsr_core::store::FsStore;
use std::path::{Path, PathBuf};
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

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Runs `import`; returns the exit code.
pub fn run(a: ImportArgs) -> anyhow::Result<i32> {
    use sha2::Digest;
    let bytes = std::fs::read(&a.cast).with_context(|| format!("reading {}", shown(&a.cast)))?;
    let wrapper = bsr_core::keys::AeadWrapper::from_kek_file(&a.kek)
        .with_context(|| format!("reading KEK {}", shown(&a.kek)))?;
    let recorder = match &a.recorder_key {
        Some(p) => Some(
            bsr_core::keys::RecorderKey::from_file(p)
                .with_context(|| format!("reading recorder key {}", shown(p)))?,
        ),
        None => None,
    };
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let name = format!(
        "{}{}",
        bsr_asciicast::import::recording_id(&digest),
        bsr_core::format::SESSION_DIR_SUFFIX
    );
    let dest = a.out.join(&name);
    if dest.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} already exists (this cast was imported before); remove it to import again",
            shown(&dest)
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", shown(&a.out)))?;
    // Removed with everything in it unless the finished recording was renamed out of it.
    let tmp = tempfile::Builder::new()
        .prefix(".importing-")
        .tempdir_in(&a.out)
        .with_context(|| format!("creating a temporary folder in {}", shown(&a.out)))?;
    let store = Arc::new(FsStore::new(tmp.path()));
    let done = bsr_asciicast::import::import_cast(
        &bytes[..],
        digest,
        store,
        "",
        &wrapper,
        recorder.as_ref(),
    )
    .with_context(|| format!("importing {}", shown(&a.cast)))?;
    if dest.symlink_metadata().is_ok() {
        anyhow::bail!("{} already exists; not replaced", shown(&dest));
    }
    std::fs::rename(tmp.path().join(&done.dir), &dest)
        .with_context(|| format!("moving the recording to {}", shown(&dest)))?;
    for n in &done.notes {
        eprintln!("bsr-asciicast: note: {}", escape(n));
    }
    let abs = std::fs::canonicalize(&dest).unwrap_or(dest);
    println!("{}", abs.display());
    eprintln!("imported {} events", done.events);
    Ok(0)
}
