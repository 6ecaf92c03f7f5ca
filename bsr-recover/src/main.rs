//! `bsr-recover`: closes and signs a recording left unfinished by a crash (local folders
//! only). It writes, so it is a tool of its own: `bsr-verify` stays read-only.
//!
//! Exit codes: 0 recovered; 2 usage or I/O error, a recording that is already finished, or one
//! that holds something other than regular files and folders (nothing is written then).

use anyhow::Context;
use bsr_core::keys::AeadWrapper;
use clap::Parser;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "bsr-recover",
    version,
    about = "Close and sign a Boundary session recording (BSR) left unfinished by a crash",
    long_about = "Close and sign a Boundary session recording (BSR) left unfinished by a crash \
(local folders only). Torn tails are cut, every complete chunk is kept, each unfinished \
container is closed and signed with the recording's own key (unwrapped with --kek), and a \
RECOVERED.json marker is written. `bsr-verify` then reports the recording as recovered.\n\n\
Exit codes: 0 recovered; 2 usage or I/O error, a finished recording, or a recording holding \
anything but regular files and folders (nothing is written then)."
)]
struct Cli {
    /// The unfinished `*.bsr` folder.
    recording: PathBuf,
    /// AEAD key-encryption key file: unwraps the recording's private key.
    #[arg(long)]
    kek: PathBuf,
}

/// Refuses a recording that holds anything but regular files and folders (a FIFO would block
/// the read, a link would make recovery write outside the recording).
fn check_tree(dir: &Path) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("{}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!(
            "{}: not a recording folder (symbolic links are not followed)",
            dir.display()
        );
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let e = e.with_context(|| format!("{}", d.display()))?;
            let p = e.path();
            let ft = e.file_type().with_context(|| format!("{}", p.display()))?;
            if ft.is_dir() {
                stack.push(p);
            } else if !ft.is_file() {
                let what = if ft.is_symlink() {
                    "a symbolic link"
                } else {
                    "not a regular file (a FIFO, socket or device)"
                };
                anyhow::bail!(
                    "{}: {what}; a recording holds only regular files and folders, refusing to recover it",
                    escape(&p.display().to_string())
                );
            }
        }
    }
    Ok(())
}

/// Control characters of a file name escaped for the terminal.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let e: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            e
        })
        .collect()
}

/// Complete chunks (DONE excluded) in every data file of the recovered recording.
fn count_chunks(dir: &Path) -> anyhow::Result<u64> {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let p = e.with_context(|| format!("{}", d.display()))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "data") {
                let bytes = std::fs::read(&p).with_context(|| format!("{}", p.display()))?;
                let name = p.display().to_string();
                let f = bsr_core::read::DataFile::from_bytes(&name, bytes.into());
                for c in f.chunks()? {
                    if !c?.is_done() {
                        n += 1;
                    }
                }
            }
        }
    }
    Ok(n)
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    check_tree(&cli.recording)?;
    let wrapper = AeadWrapper::from_kek_file(&cli.kek).context("--kek")?;
    let r =
        bsr_core::write::recover::recover(&cli.recording, &wrapper, bsr_core::Timestamp::now())?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    let kept = count_chunks(&cli.recording)?;
    eprintln!(
        "recovered {}: {} container(s) closed, {} file(s) cut, {} complete chunk(s) kept",
        escape(&cli.recording.display().to_string()),
        r.containers.len(),
        r.truncated_files.len(),
        kept
    );
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("bsr-recover: error: {e:#}");
        std::process::exit(2);
    }
}
