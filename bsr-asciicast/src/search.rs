//! `search`: text that appeared on screen, across many recordings.
//!
//! Every shell and exec channel of every recording is run through the
//! [terminal model](crate::term) and each transcript line (soft-wrapped rows joined, so a match
//! that wraps over two screen lines is found) and each row of a full-screen program's last
//! frame is matched. Recordings are searched in parallel (`jobs` threads), each streamed with
//! bounded memory; hits go to the caller as they are found, and every recording that could not
//! be searched is reported with the reason.

use crate::convert::ChannelFiles;
use crate::term::{TextError, TextItem};
use crate::text::{offset_seconds, transcript};
use crate::verified::{GateOptions, Verification, gate};
use bsr_core::Timestamp;
use bsr_core::read::Recording;
use bsr_core::store::ReadStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    re: regex::Regex,
}

impl Matcher {
    /// A literal pattern, or a regular expression with `regex` (the `regex` crate's syntax);
    /// `ignore_case` for case-insensitive matching.
    pub fn new(pattern: &str, regex: bool, ignore_case: bool) -> Result<Self, regex::Error> {
        let p = if regex {
            pattern.to_string()
        } else {
            regex::escape(pattern)
        };
        let re = regex::RegexBuilder::new(&p)
            .case_insensitive(ignore_case)
            .size_limit(16 << 20)
            .build()?;
        Ok(Matcher { re })
    }

    /// Whether `line` matches.
    pub fn is_match(&self, line: &str) -> bool {
        self.re.is_match(line)
    }

    /// The regular expression matched (a literal pattern escaped).
    pub fn regex(&self) -> &regex::Regex {
        &self.re
    }
}

/// One match.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// The recording, as the store describes it (path or `s3://` URL).
    pub recording: String,
    /// Connection recording id.
    pub connection: String,
    /// Channel recording id.
    pub channel: String,
    /// The user's name from the recording's `session-meta.json` (empty when unknown).
    pub user: String,
    /// The target's name from the recording's `session-meta.json` (empty when unknown).
    pub target: String,
    /// Seconds from the channel's start.
    pub t: f64,
    /// Absolute time (RFC 3339).
    pub time: String,
    /// The line, escaped for printing.
    pub line: String,
    /// Whether the line is a row of a full-screen program's last frame.
    pub full_screen: bool,
}

/// A recording that could not be searched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The recording.
    pub recording: String,
    /// Why.
    pub reason: String,
}

/// What a search reports, as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A match.
    Hit(Hit),
    /// A recording that could not be searched.
    Failed(Failure),
    /// A recording searched to its end.
    Searched {
        /// The recording.
        recording: String,
        /// Channels searched.
        channels: u64,
    },
}

/// How recordings are checked before their content is read.
#[derive(Debug, Clone)]
pub enum Check {
    /// Through the verification gate ([`crate::verified::gate`]): checksums and signatures
    /// must verify, and each channel file read must be the one that verified.
    Verify(GateOptions),
    /// Not at all (`--unverified`): the caller shows [`crate::verified::UNVERIFIED_WARNING`].
    Unverified,
}

fn meta_names(rec: &Recording) -> (String, String) {
    match rec.session_meta() {
        Ok(Some(m)) => (
            m.user.map(|u| u.name).unwrap_or_default(),
            m.target
                .as_ref()
                .and_then(|t| t.get("Name"))
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// One line of a recording's text, as [`walk_recording`] gives it: what a [`Hit`] shows, with
/// the line as it was on screen (not yet escaped).
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'a> {
    /// The recording (as the store describes it).
    pub recording: &'a str,
    /// Connection recording id.
    pub connection: &'a str,
    /// Channel recording id.
    pub channel: &'a str,
    /// The user's name (empty when unknown).
    pub user: &'a str,
    /// The target's name (empty when unknown).
    pub target: &'a str,
    /// The line as the screen showed it (match against this).
    pub text: &'a str,
    /// When it was completed (for a full-screen row: when the program ended).
    pub time: Timestamp,
    /// The channel's start (t = 0).
    pub head: Timestamp,
    /// Whether the line is a row of a full-screen program's last frame.
    pub full_screen: bool,
}

impl LineRef<'_> {
    /// The hit this line makes.
    pub fn hit(&self) -> Hit {
        Hit {
            recording: self.recording.to_string(),
            connection: self.connection.to_string(),
            channel: self.channel.to_string(),
            user: self.user.to_string(),
            target: self.target.to_string(),
            t: offset_seconds(self.time, self.head),
            time: self.time.to_rfc3339(),
            line: crate::term::printable(self.text).into_owned(),
            full_screen: self.full_screen,
        }
    }
}

/// Gives every searchable line of one recording to `line`: the transcript lines and full-screen
/// rows of every shell and exec channel, in order. With `verified`, each channel's files are
/// pinned to the digests that verified. Returns the number of channels walked. The one
/// definition of what `search` looks at, shared by the scan and the index
/// ([`crate::search_index`]).
pub fn walk_recording(
    store: &Arc<dyn ReadStore>,
    dir: &str,
    verified: Option<&Verification>,
    line: &mut dyn FnMut(&LineRef<'_>) -> Result<(), TextError>,
) -> Result<u64, SearchError> {
    let rec = Recording::open(store.clone(), dir)?;
    let location = store.describe(dir);
    let (user, target) = meta_names(&rec);
    let mut channels = 0;
    for conn in rec.connections()? {
        for ch in conn.channels()? {
            if ch.channel_type() != "session" {
                continue;
            }
            let mut files = ChannelFiles::of_channel(&ch, Some(conn.dir()))?;
            if let Some(v) = verified {
                v.pin(&mut files)?;
            }
            let mut give = |text: &str, time: Timestamp, head: Timestamp, full_screen: bool| {
                line(&LineRef {
                    recording: &location,
                    connection: conn.id(),
                    channel: ch.id(),
                    user: &user,
                    target: &target,
                    text,
                    time,
                    head,
                    full_screen,
                })
            };
            let r = transcript(&files, |start, item| match item {
                TextItem::Line(l) => give(&l.text, l.time, start.head, false),
                TextItem::AltScreen(b) => {
                    for row in &b.frame {
                        give(row, b.end, start.head, true)?;
                    }
                    Ok(())
                }
            });
            match r {
                Ok(_) => channels += 1,
                // Forwarding, sftp, a channel that never started: no terminal text to search.
                Err(TextError::NotInteractive(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(channels)
}

/// Searches one recording, giving hits to `found` as they are found. With `verified`, each
/// channel's files are pinned to the digests that verified.
pub fn search_recording(
    store: &Arc<dyn ReadStore>,
    dir: &str,
    matcher: &Matcher,
    verified: Option<&Verification>,
    found: &mut dyn FnMut(Found),
) -> Result<u64, SearchError> {
    walk_recording(store, dir, verified, &mut |l| {
        if matcher.is_match(l.text) {
            found(Found::Hit(l.hit()));
        }
        Ok(())
    })
}

/// Why a recording could not be searched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// Reading it.
    #[error(transparent)]
    Text(#[from] TextError),
    /// The verification gate refused it.
    #[error(transparent)]
    Gate(Box<crate::verified::GateError>),
}

impl From<crate::verified::GateError> for SearchError {
    fn from(e: crate::verified::GateError) -> Self {
        SearchError::Gate(Box::new(e))
    }
}

impl From<bsr_core::Error> for SearchError {
    fn from(e: bsr_core::Error) -> Self {
        SearchError::Text(e.into())
    }
}

impl From<crate::error::ConvertError> for SearchError {
    fn from(e: crate::error::ConvertError) -> Self {
        SearchError::Text(e.into())
    }
}

/// Searches the recordings `dirs` of `store` with `jobs` threads. Each recording passes
/// `check` before its content is read; a recording that fails it, or fails to read, is
/// reported as [`Found::Failed`]. Each thread holds one recording's terminal at a time.
pub fn search(
    store: &Arc<dyn ReadStore>,
    dirs: &[String],
    matcher: &Matcher,
    jobs: usize,
    check: &Check,
    found: &(dyn Fn(Found) + Sync),
) {
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(dir) = dirs.get(i) else { break };
            let location = store.describe(dir);
            let verification = match check {
                Check::Verify(opts) => match gate(&**store, dir, opts) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        found(Found::Failed(Failure {
                            recording: location,
                            reason: e.to_string(),
                        }));
                        continue;
                    }
                },
                Check::Unverified => None,
            };
            match search_recording(store, dir, matcher, verification.as_ref(), &mut |f| {
                found(f)
            }) {
                Ok(channels) => found(Found::Searched {
                    recording: location,
                    channels,
                }),
                Err(e) => found(Found::Failed(Failure {
                    recording: location,
                    reason: crate::term::printable(&bsr_core::error::chain(&e)).into_owned(),
                })),
            }
        }
    };
    let jobs = jobs.clamp(1, dirs.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..jobs {
            s.spawn(work);
        }
        work();
    });
}
