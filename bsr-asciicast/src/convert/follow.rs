//! Live conversion: a channel of a recording that is still being written, converted as its
//! chunks become durable (`convert --follow`).
//!
//! The same pieces as the after-the-fact converter: the session-program rule
//! (`convert::program`), the header rules (`convert::header::Analysis`), the incremental UTF-8
//! decoder and [`CastWriter`]. What differs, because the future is not known yet:
//! * the header is made when the channel starts (its shell or exec request and the HEAD of
//!   `messages-outbound.data` are durable), from the requests made up to then: a later
//!   window-change, pty-req or `SHELL`/`TERM` env does not raise the size or change the header
//!   as it does after the fact;
//! * only `o` events are written (no `--input`, `--resize`, `--markers`), in file order;
//! * nothing is verified (no checksum or signature exists yet): the header carries
//!   [`LIVE_WARNING`] in `BSR_HEADER_NOTE` and the cast starts with a marker carrying it.

use super::header::Analysis;
use super::merge::{LimitedWriter, is_limit};
use super::program::session_program;
use super::scan::{Req, Scan};
use super::{ConvertContext, ConvertOptions, MARKER_PREFIX, MAX_REQUESTS};
use crate::cast::{CastWriter, EventKind};
use crate::error::ConvertError;
use crate::human::escape;
use crate::utf8::Utf8Stream;
use bsr_core::format::Timestamp;
use bsr_core::read::decoder::OwnedChunk;
use bsr_core::read::follow::{FollowEvent, Follower, StreamId, WRITER_GONE};
use bsr_core::ssh::{Decoded, SessionProgram, decode_chunk_payload};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

/// The warning put into a live cast (header note and first marker).
pub const LIVE_WARNING: &str = "WARNING: LIVE, UNVERIFIED CONTENT (convert --follow): the recording was still being written, so its checksums and signatures did not exist and were not checked; verify the finished recording with bsr-verify";

/// Most bytes of output held, for all the channels not started yet together, before their
/// shell or exec requests are seen.
pub const MAX_EARLY_OUTPUT: usize = 16 << 20;

/// Which channel to follow: a given one, or the first shell or exec channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowSelection {
    /// Only channels of this connection.
    pub connection: Option<String>,
    /// This channel.
    pub channel: Option<String>,
}

/// How a live conversion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEnd {
    /// The channel's DONE chunks arrived: the cast is complete.
    ChannelDone,
    /// The writer went away before the channel was done (see
    /// [`bsr_core::read::follow::FollowEvent::WriterGone`]); the cast holds what was durable.
    WriterGone {
        /// What was still open.
        open: Vec<String>,
    },
}

/// What a live conversion produced.
#[derive(Debug, Clone)]
pub struct FollowConverted {
    /// The channel converted (`<connection>/<channel>`).
    pub channel: String,
    /// `shell` or `exec`.
    pub session_program: String,
    /// Events written (the warning marker included).
    pub events: u64,
    /// How it ended.
    pub end: FollowEnd,
}

/// A channel seen so far, not started yet.
#[derive(Default)]
struct Candidate {
    reqs: Vec<Req>,
    head: Option<Timestamp>,
    early: Vec<OwnedChunk>,
    /// Bytes in `early`.
    early_bytes: usize,
    /// Runs a subsystem: not followed.
    dropped: bool,
}

/// The started channel, writing.
struct Live<W: Write> {
    key: (String, String),
    w: CastWriter<W>,
    head: Timestamp,
    utf8: Utf8Stream,
    last: Timestamp,
    program: &'static str,
}

impl<W: Write> Live<W> {
    fn output(&mut self, c: &OwnedChunk) -> Result<(), ConvertError> {
        if !c.as_chunk().is_data() {
            return Ok(());
        }
        let mut text = String::new();
        self.utf8.push(&c.data()?, &mut text);
        self.last = c.time;
        if !text.is_empty() {
            let t = c.time.as_nanos() - self.head.as_nanos();
            self.w.event(t, &EventKind::Output, &text)?;
            self.w.flush()?;
        }
        Ok(())
    }

    fn end(mut self, end: FollowEnd) -> Result<FollowConverted, ConvertError> {
        let mut text = String::new();
        self.utf8.finish(&mut text);
        if !text.is_empty() {
            let t = self.last.as_nanos() - self.head.as_nanos();
            self.w.event(t, &EventKind::Output, &text)?;
        }
        let events = self.w.events();
        self.w.finish()?;
        Ok(FollowConverted {
            channel: format!("{}/{}", self.key.0, self.key.1),
            session_program: self.program.to_string(),
            events,
            end,
        })
    }
}

fn wanted(sel: &FollowSelection, conn: &str, chan: &str) -> bool {
    sel.connection.as_deref().is_none_or(|c| c == conn)
        && sel.channel.as_deref().is_none_or(|c| c == chan)
}

/// Follows `follower` and writes the selected channel's cast to `out` as it grows, flushed
/// after every event, under `ctx`'s output limit. Returns when the channel is done or the
/// writer is gone.
pub fn convert_follow<W: Write>(
    follower: &mut Follower,
    sel: &FollowSelection,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
) -> Result<FollowConverted, ConvertError> {
    convert_follow_idle(follower, sel, opts, ctx, out, None)
}

/// What [`convert_follow_idle`] calls while the follower has nothing new.
pub struct IdleHook<'a> {
    /// How long to wait for an event before calling [`IdleHook::call`] again.
    pub tick: Duration,
    /// Called once as soon as everything durable so far has been converted (the follower is
    /// caught up with the writer), then after every `tick` with no event. An error ends the
    /// conversion (a viewer who left, say).
    pub call: &'a mut dyn FnMut() -> std::io::Result<()>,
}

impl std::fmt::Debug for IdleHook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleHook")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// [`convert_follow`] with an [`IdleHook`]: a live view uses it to learn when the backlog has
/// been read (the moment to show the current screen to a viewer who joined late) and to check,
/// while the writer is quiet, that its viewer is still there.
pub fn convert_follow_idle<W: Write>(
    follower: &mut Follower,
    sel: &FollowSelection,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
    idle: Option<IdleHook<'_>>,
) -> Result<FollowConverted, ConvertError> {
    let max = ctx.max_output_bytes;
    let out = LimitedWriter::new(out, max);
    follow_inner(follower, sel, opts, ctx, out, idle).map_err(|e| match e {
        ConvertError::Io(io) if is_limit(&io) => ConvertError::OutputTooLarge {
            channel: sel.channel.clone().unwrap_or_default(),
            limit: max,
        },
        e => e,
    })
}

fn follow_inner<W: Write>(
    follower: &mut Follower,
    sel: &FollowSelection,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: W,
    mut idle: Option<IdleHook<'_>>,
) -> Result<FollowConverted, ConvertError> {
    let mut out = Some(out);
    let mut cands: BTreeMap<(String, String), Candidate> = BTreeMap::new();
    let mut live: Option<Live<W>> = None;
    let mut early_total = 0usize;
    // With a hook: probe without waiting until the backlog is read, then wait a tick at a time.
    let mut probing = true;
    let mut finished = false;
    loop {
        let wait = match &idle {
            None => None,
            Some(_) if probing => Some(Duration::ZERO),
            Some(h) => Some(h.tick),
        };
        let ev = match follower.next_event(wait)? {
            Some(ev) => ev,
            None if finished || wait.is_none() => break,
            None => {
                probing = false;
                if let Some(l) = live.as_mut() {
                    l.w.flush()?;
                }
                if let Some(h) = idle.as_mut() {
                    (h.call)()?;
                }
                continue;
            }
        };
        match ev {
            FollowEvent::Finished => finished = true,
            FollowEvent::NewChannel {
                connection,
                channel,
                channel_type,
            } if wanted(sel, &connection, &channel) => {
                if channel_type == "session" {
                    cands.insert((connection, channel), Candidate::default());
                } else if sel.channel.is_some() {
                    return Err(ConvertError::NotInteractive(format!(
                        "{}: cannot follow a {:?} channel as asciicast: it carries no terminal",
                        escape(&channel),
                        channel_type
                    )));
                }
            }
            FollowEvent::Chunk { stream, chunk } => {
                if let Some(l) = live.as_mut() {
                    if is_output(&stream, &l.key) {
                        l.output(&chunk)?;
                    }
                    continue;
                }
                let Some(key) = stream
                    .channel
                    .clone()
                    .map(|c| (stream.connection.clone(), c))
                else {
                    continue;
                };
                let Some(cand) = cands.get_mut(&key) else {
                    continue;
                };
                cand.add(&stream, chunk, &mut early_total)?;
                let held = cand.early_bytes;
                let started = start(&key, cand, sel, opts, ctx, &mut out)?;
                if cand.dropped {
                    early_total = early_total.saturating_sub(held);
                }
                if let Some(l) = started {
                    live = Some(l);
                    // The other candidates' requests and output are no longer needed.
                    cands.clear();
                }
            }
            FollowEvent::ChannelDone {
                connection,
                channel,
            } => {
                let key = (connection, channel);
                if let Some(l) = live.take_if(|l| l.key == key) {
                    return l.end(FollowEnd::ChannelDone);
                }
                if let Some(c) = cands.remove(&key) {
                    early_total = early_total.saturating_sub(c.early_bytes);
                }
                if sel.channel.is_some() && wanted(sel, &key.0, &key.1) {
                    return Err(never_started(&key.1));
                }
            }
            FollowEvent::WriterGone { open, .. } => {
                return match live {
                    Some(l) => l.end(FollowEnd::WriterGone { open }),
                    None => Err(ConvertError::Selection(format!(
                        "{WRITER_GONE} before a shell or exec channel started; still open: {}",
                        escape(&open.join(", "))
                    ))),
                };
            }
            _ => {}
        }
    }
    Err(match &sel.channel {
        Some(c) => never_started(c),
        None => ConvertError::Selection(
            "the recording finished without a shell or exec channel to follow".into(),
        ),
    })
}

fn never_started(channel: &str) -> ConvertError {
    ConvertError::NotInteractive(format!(
        "{}: the channel ended without starting a shell or exec; nothing to play back",
        escape(channel)
    ))
}

fn is_output(stream: &StreamId, key: &(String, String)) -> bool {
    stream.file == "messages-outbound.data"
        && stream.connection == key.0
        && stream.channel.as_deref() == Some(key.1.as_str())
}

impl Candidate {
    /// Keeps what the start needs: inbound requests, the output HEAD and early output.
    /// `early_total`: the output bytes held by every candidate.
    fn add(
        &mut self,
        stream: &StreamId,
        chunk: OwnedChunk,
        early_total: &mut usize,
    ) -> Result<(), ConvertError> {
        if self.dropped {
            return Ok(());
        }
        let c = chunk.as_chunk();
        match stream.file {
            "requests-inbound.data" if !c.is_head() && !c.is_done() => {
                if self.reqs.len() >= MAX_REQUESTS {
                    return Err(ConvertError::Malformed(format!(
                        "{}: more than {MAX_REQUESTS} requests",
                        stream.path()
                    )));
                }
                let path = stream.path();
                if let Decoded::Request(req) =
                    decode_chunk_payload(&c, false).map_err(|e| e.in_file(&path))?
                {
                    self.reqs.push(Req {
                        time: c.time,
                        req,
                        file: path,
                    });
                }
            }
            "messages-outbound.data" if c.is_head() => self.head = Some(c.time),
            "messages-outbound.data" if c.is_data() => {
                self.early_bytes += chunk.stored.len();
                *early_total += chunk.stored.len();
                if *early_total > MAX_EARLY_OUTPUT {
                    return Err(ConvertError::Malformed(format!(
                        "{}: more than {MAX_EARLY_OUTPUT} bytes of output before the shell or exec request",
                        stream.path()
                    )));
                }
                self.early.push(chunk);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Starts the cast when the channel has its program and its output HEAD.
fn start<W: Write>(
    key: &(String, String),
    cand: &mut Candidate,
    sel: &FollowSelection,
    opts: &ConvertOptions,
    ctx: &ConvertContext,
    out: &mut Option<W>,
) -> Result<Option<Live<W>>, ConvertError> {
    let (Some(head), false) = (cand.head, cand.dropped) else {
        return Ok(None);
    };
    let program = match session_program(&cand.reqs, &key.1, false) {
        Ok(p) => p,
        // Not started yet: wait for more requests.
        Err(_)
            if cand
                .reqs
                .iter()
                .all(|r| SessionProgram::of(&r.req).is_none()) =>
        {
            return Ok(None);
        }
        // A subsystem: not a terminal. Fatal only for the channel asked for.
        Err(e) if sel.channel.is_some() => return Err(e),
        Err(_) => {
            *cand = Candidate {
                dropped: true,
                ..Candidate::default()
            };
            return Ok(None);
        }
    };
    let Some(out) = out.take() else {
        return Ok(None);
    };
    let mut a = Analysis::new();
    let scan = Scan {
        reqs: std::mem::take(&mut cand.reqs),
        unknown: Vec::new(),
    };
    a.inbound(&scan, &program, opts);
    a.history("requests-inbound.data");
    let mut live_ctx = ctx.clone();
    live_ctx.unverified_warning = Some(LIVE_WARNING.to_string());
    let header = a.header(opts, &live_ctx, head);
    let mut w = match header.version {
        3 => CastWriter::new_v3(out, &header)?,
        _ => CastWriter::new_v2(out, &header)?,
    };
    w.event(
        0,
        &EventKind::Marker,
        &format!("{MARKER_PREFIX}{LIVE_WARNING}"),
    )?;
    w.flush()?;
    let mut live = Live {
        key: key.clone(),
        w,
        head,
        utf8: Utf8Stream::new(),
        last: head,
        program: program.name,
    };
    for c in std::mem::take(&mut cand.early) {
        live.output(&c)?;
    }
    Ok(Some(live))
}
