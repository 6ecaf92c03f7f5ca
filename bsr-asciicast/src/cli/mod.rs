//! The subcommands of the `bsr-asciicast` binary, one module each; `main.rs` only parses and
//! dispatches.

pub mod convert;
pub mod follow;
pub mod held;
pub mod html;
pub mod import;
pub mod redact;
pub mod search_index;
pub mod serve;
pub mod views;

use bsr_asciicast::error::ConvertError;
use bsr_asciicast::human::escape;
use bsr_asciicast::verified::GateError;
use std::path::{Path, PathBuf};

/// Prints an error for people, with every recording-controlled text escaped (issue 14, item 7).
/// Messages whose parts were escaped where they were built are printed as they are (keeping
/// their line breaks); any other message is escaped whole.
pub fn print_error(e: &anyhow::Error) {
    let text = if e.downcast_ref::<GateError>().is_some()
        || matches!(
            e.downcast_ref::<ConvertError>(),
            Some(
                ConvertError::Selection(_)
                    | ConvertError::NotInteractive(_)
                    | ConvertError::Strict(_)
            )
        ) {
        e.to_string()
    } else {
        escape(&format!("{e:#}"))
    };
    eprintln!("bsr-asciicast: error: {text}");
}

/// An `-o FILE` being written. A new or regular file is written under a temporary name beside
/// it and renamed over it only when complete ([`Staged::commit`]), so a failed run leaves
/// nothing half-written. Anything else already there (a device such as `/dev/null`, a FIFO, a
/// terminal) is written directly and never replaced: renaming over `/dev/null` would turn the
/// machine's null device into a regular file.
pub struct Staged {
    tmp: Option<PathBuf>,
    dest: PathBuf,
}

impl Staged {
    /// Opens `dest` for writing (through `dest` + `suffix` when it is staged).
    pub fn create(dest: &Path, suffix: &str) -> std::io::Result<(std::fs::File, Staged)> {
        let special = std::fs::metadata(dest).is_ok_and(|m| !m.is_file());
        if special {
            let f = std::fs::OpenOptions::new().write(true).open(dest)?;
            return Ok((
                f,
                Staged {
                    tmp: None,
                    dest: dest.to_path_buf(),
                },
            ));
        }
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(suffix);
        let tmp = PathBuf::from(tmp);
        let f = std::fs::File::create(&tmp)?;
        Ok((
            f,
            Staged {
                tmp: Some(tmp),
                dest: dest.to_path_buf(),
            },
        ))
    }
    /// The output is complete: the temporary file takes the destination's name.
    pub fn commit(self) -> std::io::Result<()> {
        match &self.tmp {
            Some(t) => std::fs::rename(t, &self.dest),
            None => Ok(()),
        }
    }
    /// The output failed: the temporary file is removed (a special file is left as it is).
    pub fn abandon(self) {
        if let Some(t) = &self.tmp {
            let _ = std::fs::remove_file(t);
        }
    }
}
