//! The state of one verification, and problems built from core errors.
//!
//! Every problem is classified where it is created: callers pass the class (or the fact that
//! the container is unfinished), nothing is reclassified afterwards.

use super::{MAX_SMALL_FILE, VerifyOptions};
use crate::report::{Class, ContainerReport, Problem, Severity, Stats};
use bsr_core::error::Error as CoreError;
use bsr_core::format::Timestamp;
use bsr_core::format::meta::{ChannelSummary, ConnectionSummary, SessionSummary};
use bsr_core::keys::SessionKeyFiles;
use bsr_core::ssh::Request;
use bsr_core::store::ReadStore;
use std::collections::BTreeMap;

/// What a verification read that later steps (and [`crate::facts`]) reuse.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The session summary, when it parsed.
    pub session_summary: Option<SessionSummary>,
    /// Connection summaries by container path.
    pub connection_summaries: BTreeMap<String, ConnectionSummary>,
    /// Channel summaries by container path.
    pub channel_summaries: BTreeMap<String, ChannelSummary>,
    /// The decoded requests of each request file (by path) that was read without any error,
    /// in file order; kept only when asked for ([`super::verify_keeping`]), and at most
    /// [`crate::facts::MAX_EVENTS_PER_RECORDING`] + 1 per file.
    pub requests: BTreeMap<String, Vec<(Timestamp, Request)>>,
}

pub(super) struct Ctx<'a> {
    pub store: &'a dyn ReadStore,
    pub opts: &'a VerifyOptions,
    pub problems: Vec<Problem>,
    pub containers: Vec<ContainerReport>,
    pub stats: Stats,
    pub keys: Option<SessionKeyFiles>,
    pub head_ids: BTreeMap<Vec<u8>, String>,
    pub session_id: Option<String>,
    pub sig_ok: bool,
    pub sig_checked: bool,
    pub seen: Seen,
    /// Keep the decoded requests in `seen` (for facts and events).
    pub keep_requests: bool,
    /// The manifest of a redacted copy, once read.
    pub redaction: Option<super::redaction::State>,
    /// A file whose bytes go to another reader as they are verified ([`super::verify_sharing`]).
    pub share: Option<bsr_core::read::share::Share>,
}

/// The class of a core error.
pub(super) fn class_of(e: &CoreError) -> Class {
    match e {
        CoreError::Crc { .. } | CoreError::Checksum { .. } => Class::Integrity,
        CoreError::Signature { .. } | CoreError::KeyBinding { .. } | CoreError::Crypto { .. } => {
            Class::Authentication
        }
        CoreError::Io { .. } => Class::Io,
        _ => Class::Malformed,
    }
}

/// The class of a core error found in a container that may be unfinished: there, bytes that
/// end early or do not parse are what a crash leaves.
pub(super) fn class_in(e: &CoreError, unsigned: bool) -> Class {
    match class_of(e) {
        Class::Malformed if unsigned => Class::Incomplete,
        c => c,
    }
}

/// The class of a failure to read a small file: too large is a format problem, the rest as
/// the error says.
pub(super) fn read_class(e: &CoreError) -> Class {
    match e {
        CoreError::TooLarge { .. } => Class::Malformed,
        _ => class_of(e),
    }
}

pub(super) fn is_not_found(e: &CoreError) -> bool {
    matches!(e, CoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// What went wrong, from the error's fields, without the file and location (a [`Problem`]
/// carries those). A path the error names that is not the problem's own is kept.
pub(super) fn what(e: &CoreError, problem_path: &str) -> String {
    let named = |p: &str, msg: String| {
        if p.is_empty() || problem_path.ends_with(p) || p.ends_with(problem_path) {
            msg
        } else {
            format!("{p}: {msg}")
        }
    };
    match e {
        CoreError::Malformed { loc, reason } => named(&loc.path, format!("malformed: {reason}")),
        CoreError::Truncated {
            loc,
            what,
            needed,
            available,
        } => named(
            &loc.path,
            format!("truncated: {what} needs {needed} bytes, {available} available"),
        ),
        CoreError::TooLarge {
            loc,
            what,
            size,
            limit,
        } => named(
            &loc.path,
            format!("{what} of {size} bytes exceeds the limit of {limit}"),
        ),
        CoreError::UnknownChunkType {
            loc,
            protocol,
            chunk_type,
        } => named(
            &loc.path,
            format!("unknown chunk type {protocol:?}/{chunk_type:?}"),
        ),
        CoreError::Crc {
            loc,
            stored,
            computed,
        } => named(
            &loc.path,
            format!("CRC mismatch: stored {stored:08x}, computed {computed:08x}"),
        ),
        CoreError::Checksum {
            path,
            expected,
            actual,
        } => named(
            path,
            format!("SHA-256 mismatch: listed {expected}, computed {actual}"),
        ),
        CoreError::Signature { path, reason } => {
            named(path, format!("signature invalid: {reason}"))
        }
        CoreError::KeyBinding { path, reason } => {
            named(path, format!("key binding invalid: {reason}"))
        }
        CoreError::Crypto { path, reason } => named(path, format!("key unwrap failed: {reason}")),
        CoreError::Io { path, source } => named(path, format!("I/O error: {source}")),
        other => other.to_string(),
    }
}

/// An error problem from a core error; the location comes from the error's fields.
pub(super) fn core_problem(class: Class, code: &'static str, path: &str, e: &CoreError) -> Problem {
    let loc = e.location();
    Problem {
        severity: Severity::Error,
        class,
        code,
        path: path.to_string(),
        offset: loc.map(|l| l.offset),
        chunk: loc.and_then(|l| l.chunk),
        message: what(e, path),
    }
}

impl<'a> Ctx<'a> {
    pub fn new(store: &'a dyn ReadStore, opts: &'a VerifyOptions) -> Self {
        Ctx {
            store,
            opts,
            problems: Vec::new(),
            containers: Vec::new(),
            stats: Stats::default(),
            keys: None,
            head_ids: BTreeMap::new(),
            session_id: None,
            sig_ok: true,
            sig_checked: false,
            seen: Seen::default(),
            keep_requests: false,
            redaction: None,
            share: None,
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        class: Class,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            severity,
            class,
            code,
            path: path.to_string(),
            offset: None,
            chunk: None,
            message: message.into(),
        });
    }

    pub fn err(
        &mut self,
        class: Class,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, class, code, path, message);
    }

    pub fn warn(&mut self, code: &'static str, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, Class::Structure, code, path, message);
    }

    /// An error whose class depends on whether the container is finished: missing pieces of an
    /// unfinished container are what a crash leaves.
    pub fn err_unless_unsigned(
        &mut self,
        unsigned: bool,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) {
        let class = if unsigned {
            Class::Incomplete
        } else {
            Class::Structure
        };
        self.err(class, code, path, message);
    }

    /// Records a core error with the given class; the location comes from the error's fields.
    pub fn core_err_as(&mut self, class: Class, code: &'static str, path: &str, e: &CoreError) {
        self.problems.push(core_problem(class, code, path, e));
    }

    /// Records a core error; in an unfinished container, parse failures count as incomplete.
    pub fn core_err(&mut self, code: &'static str, path: &str, e: &CoreError, unsigned: bool) {
        self.core_err_as(class_in(e, unsigned), code, path, e);
    }

    pub fn read_small(&mut self, path: &str) -> Result<Vec<u8>, CoreError> {
        let b = self.store.read_limited(path, MAX_SMALL_FILE)?;
        self.stats.files += 1;
        self.stats.bytes += b.len() as u64;
        Ok(b)
    }
}
