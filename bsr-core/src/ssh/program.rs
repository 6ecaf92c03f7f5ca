//! The session program a `session` channel runs, as Boundary's channel summary names it.
//!
//! The rule, written once for the writer, recovery and the converter: the first `shell`,
//! `exec` or `subsystem` request of the channel decides; later ones change nothing.

use super::Request;

/// What a session channel runs (Boundary's `SessionProgram`, with the details the channel
/// summary keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionProgram {
    /// A `shell` request.
    Shell,
    /// An `exec` request.
    Exec {
        /// The command line.
        command: String,
    },
    /// A `subsystem` request.
    Subsystem {
        /// The subsystem name (`sftp`, …).
        name: String,
    },
}

impl SessionProgram {
    /// The program `req` starts, if it is a `shell`, `exec` or `subsystem` request.
    pub fn of(req: &Request) -> Option<Self> {
        match req {
            Request::Shell(_) => Some(SessionProgram::Shell),
            Request::Exec(e) => Some(SessionProgram::Exec {
                command: e.command.clone(),
            }),
            Request::Subsystem(s) => Some(SessionProgram::Subsystem {
                name: s.subsystem_name.clone(),
            }),
            _ => None,
        }
    }

    /// The program of a channel whose requests are `reqs`, in order: the first request that
    /// starts one decides.
    pub fn first<'a>(reqs: impl IntoIterator<Item = &'a Request>) -> Option<Self> {
        reqs.into_iter().find_map(Self::of)
    }

    /// The summary's `SessionProgram` value: `shell`, `exec` or `subsystem`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionProgram::Shell => "shell",
            SessionProgram::Exec { .. } => "exec",
            SessionProgram::Subsystem { .. } => "subsystem",
        }
    }

    /// The summary's `ExecProgram` and `FileTransferDirection` for an exec (see
    /// [`classify_exec`]); `None` for a shell or subsystem.
    pub fn exec_class(&self) -> Option<(&'static str, &'static str)> {
        match self {
            SessionProgram::Exec { command } => Some(classify_exec(command)),
            _ => None,
        }
    }
}

/// What an exec command line says about the program (Boundary's `ExecProgram` and
/// `FileTransferDirection` enumerations).
pub fn classify_exec(command: &str) -> (&'static str, &'static str) {
    let mut words = command.split_whitespace();
    let prog = words.next().unwrap_or("");
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let args: Vec<&str> = words.collect();
    match base {
        "scp" => {
            let dir = if args
                .iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('t'))
            {
                "upload"
            } else if args
                .iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
            {
                "download"
            } else {
                "not applicable"
            };
            ("scp", dir)
        }
        "rsync" => {
            let dir = if !args.contains(&"--server") {
                "not applicable"
            } else if args.contains(&"--sender") {
                "download"
            } else {
                "upload"
            };
            ("rsync", dir)
        }
        _ => ("unknown", "not applicable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::{ExecRequest, PtyRequest, ShellRequest};

    #[test]
    fn first_program_request_decides() {
        let pty = Request::Pty(PtyRequest::default());
        let exec = Request::Exec(ExecRequest {
            request_type: "exec".into(),
            want_reply: true,
            command: "scp -t /tmp".into(),
        });
        let shell = Request::Shell(ShellRequest::default());
        assert_eq!(SessionProgram::first([&pty]), None);
        let p = SessionProgram::first([&pty, &exec, &shell]);
        assert_eq!(p.as_ref().map(SessionProgram::as_str), Some("exec"));
        assert_eq!(p.and_then(|p| p.exec_class()), Some(("scp", "upload")));
        assert_eq!(
            SessionProgram::first([&shell, &exec]),
            Some(SessionProgram::Shell)
        );
    }
}
