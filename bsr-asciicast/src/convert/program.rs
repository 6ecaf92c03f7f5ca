//! The session program: what the channel ran (the one place this rule lives in the converter).

use super::scan::Req;
use crate::error::ConvertError;
use crate::human::escape;
use bsr_core::format::Timestamp;
use bsr_core::ssh::SessionProgram;

/// The session program of a channel that never started one (raw mode, Boundary parity).
pub(super) const NO_PROGRAM: &str = "none";

/// What a session channel ran.
pub(super) struct Program {
    /// `shell`, `exec`, or [`NO_PROGRAM`].
    pub name: &'static str,
    /// The exec command.
    pub exec_command: Option<String>,
    /// Time of the shell or exec request.
    pub start_time: Option<Timestamp>,
}

/// The first shell, exec or subsystem request decides: shell and exec are interactive, a
/// subsystem (sftp, …) is not. Without any, there is nothing to play back, unless
/// `allow_none` (raw mode: Boundary converts such a channel with its default header).
pub(super) fn session_program(
    reqs: &[Req],
    channel: &str,
    allow_none: bool,
) -> Result<Program, ConvertError> {
    // bsr-core's rule (the first shell, exec or subsystem request decides), with its time.
    let first = reqs
        .iter()
        .find_map(|r| SessionProgram::of(&r.req).map(|p| (p, r.time)));
    if let Some((program, time)) = first {
        let (name, exec_command) = match program {
            SessionProgram::Shell => ("shell", None),
            SessionProgram::Exec { command } => ("exec", Some(command)),
            SessionProgram::Subsystem { name } => {
                return Err(ConvertError::NotInteractive(format!(
                    "{}: channel runs the {name:?} subsystem, whose data is a file-transfer protocol, not a terminal; `bsr-verify events --kind 'session.*'` lists what the channel did",
                    escape(channel),
                )));
            }
            _ => {
                return Err(ConvertError::NotInteractive(format!(
                    "{}: unknown session program",
                    escape(channel)
                )));
            }
        };
        return Ok(Program {
            name,
            exec_command,
            start_time: Some(time),
        });
    }
    if allow_none {
        return Ok(Program {
            name: NO_PROGRAM,
            exec_command: None,
            start_time: None,
        });
    }
    Err(ConvertError::NotInteractive(format!(
        "{}: the session channel never started a shell or exec (session program not set); nothing to play back",
        escape(channel)
    )))
}
