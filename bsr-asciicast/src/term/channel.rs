//! A channel replayed in time order: its output (decoded incrementally, a character split
//! across chunks intact), its keystrokes and its window changes, streamed from the files with
//! bounded memory, each file's SHA-256 checked against the container's `SHA256SUM` at its end.

use super::TextError;
use crate::convert::ChannelFiles;
use crate::utf8::Utf8Stream;
use bsr_core::Timestamp;
use bsr_core::read::ChunkStream;
use bsr_core::read::structure::StreamKind;
use bsr_core::ssh::{Decoded, Request, SessionProgram, decode_chunk_payload};

/// Most window changes read from a channel (bounded memory on hostile input).
pub const MAX_RESIZES: usize = 1_000_000;

/// What the channel runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// An interactive shell.
    Shell,
    /// A command (`exec` request).
    Exec(String),
}

/// What is known before the output starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStart {
    /// The channel folder.
    pub name: String,
    /// Shell or exec.
    pub program: Program,
    /// When the shell or exec request came.
    pub program_time: Timestamp,
    /// The output's HEAD time: `t` = 0.
    pub head: Timestamp,
    /// The terminal size at the start (the pty-req's, else 80×24).
    pub cols: u32,
    /// Rows at the start.
    pub rows: u32,
    /// Whether a pty was requested.
    pub pty: bool,
}

/// One thing that happened on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Terminal output.
    Output(&'a str),
    /// Keystrokes.
    Input(&'a str),
    /// A window change (or a pty-req after the start).
    Resize {
        /// Columns.
        cols: u32,
        /// Rows.
        rows: u32,
    },
}

/// How the channel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelEnd {
    /// The DONE chunk's time, else the last event's.
    pub time: Timestamp,
    /// Whether the output file has its DONE chunk.
    pub finished: bool,
    /// U+FFFD written for invalid UTF-8 (output and input).
    pub utf8_replacements: u64,
}

/// A channel ready to replay.
#[derive(Debug)]
pub struct Replay<'f> {
    files: &'f ChannelFiles,
    start: ChannelStart,
    resizes: Vec<(Timestamp, u32, u32)>,
}

/// Ends a stream and compares its SHA-256 with the container's `SHA256SUM` entry.
fn check_sum<R: std::io::Read>(
    s: ChunkStream<R>,
    path: &str,
    checksums: &crate::convert::Digests,
) -> Result<(), TextError> {
    Ok(crate::convert::scan::check_sum(s, path, checksums)?)
}

fn not_interactive(files: &ChannelFiles, why: String) -> TextError {
    TextError::NotInteractive(format!("{}: {why}", files.name))
}

impl<'f> Replay<'f> {
    /// Reads the channel's requests: what it runs, its size, its window changes. A channel
    /// that is not an interactive session (forwarding, a subsystem such as sftp, no shell or
    /// exec) is [`TextError::NotInteractive`].
    pub fn open(files: &'f ChannelFiles) -> Result<Self, TextError> {
        if files.channel_type != "session" {
            return Err(not_interactive(
                files,
                format!(
                    "a {:?} channel carries no terminal",
                    crate::term::printable(&files.channel_type)
                ),
            ));
        }
        let store = &*files.store;
        let mut program = None;
        let mut program_time = Timestamp::default();
        let (mut cols, mut rows, mut pty) = (80u32, 24u32, false);
        let mut resizes = Vec::new();
        if let Some(p) = &files.requests_inbound {
            let mut s = files.stream(p, StreamKind::Requests)?;
            while let Some(c) = s.next_chunk()? {
                let Decoded::Request(req) = decode_chunk_payload(&c, false)? else {
                    continue;
                };
                match req {
                    Request::Pty(r) if program.is_none() => {
                        pty = true;
                        if r.terminal_width_characters > 0 {
                            cols = r.terminal_width_characters;
                        }
                        if r.terminal_height_rows > 0 {
                            rows = r.terminal_height_rows;
                        }
                    }
                    Request::Pty(r)
                        if r.terminal_width_characters > 0 && r.terminal_height_rows > 0 =>
                    {
                        resizes.push((c.time, r.terminal_width_characters, r.terminal_height_rows));
                    }
                    Request::WindowChange(w)
                        if w.terminal_width_columns > 0 && w.terminal_height_rows > 0 =>
                    {
                        resizes.push((c.time, w.terminal_width_columns, w.terminal_height_rows));
                    }
                    // bsr-core's rule: the first shell, exec or subsystem request decides.
                    other if program.is_none() => match SessionProgram::of(&other) {
                        Some(SessionProgram::Shell) => {
                            program = Some(Program::Shell);
                            program_time = c.time;
                        }
                        Some(SessionProgram::Exec { command }) => {
                            program = Some(Program::Exec(command));
                            program_time = c.time;
                        }
                        Some(SessionProgram::Subsystem { name }) => {
                            return Err(not_interactive(
                                files,
                                format!(
                                    "the channel runs the {:?} subsystem, a file-transfer protocol, not a terminal",
                                    crate::term::printable(&name)
                                ),
                            ));
                        }
                        _ => {}
                    },
                    _ => {}
                }
                if resizes.len() > MAX_RESIZES {
                    return Err(TextError::Malformed(format!(
                        "{p}: more than {MAX_RESIZES} window changes"
                    )));
                }
            }
            check_sum(s, p, &files.checksums)?;
        }
        let Some(program) = program else {
            return Err(not_interactive(
                files,
                "the session channel never started a shell or exec".into(),
            ));
        };
        resizes.sort_by_key(|r| r.0);
        // The output's HEAD gives t = 0.
        let mpath = &files.messages_outbound;
        let mut ms = ChunkStream::new(store.open(mpath)?, &store.describe(mpath))
            .with_structure(StreamKind::Messages);
        // The structure rules make the first chunk a HEAD.
        let head = match ms.next_chunk()? {
            Some(c) => c.time,
            None => {
                return Err(TextError::Malformed(format!(
                    "{mpath}: does not start with a HEAD chunk"
                )));
            }
        };
        Ok(Replay {
            files,
            start: ChannelStart {
                name: files.name.clone(),
                program,
                program_time,
                head,
                cols,
                rows,
                pty,
            },
            resizes,
        })
    }

    /// What is known before the output starts.
    pub fn start(&self) -> &ChannelStart {
        &self.start
    }

    /// Replays the channel: every event in time order (at equal times window changes first,
    /// then output, then input), keystrokes only with `input`.
    pub fn run<F>(self, input: bool, mut f: F) -> Result<ChannelEnd, TextError>
    where
        F: FnMut(Timestamp, Event<'_>) -> Result<(), TextError>,
    {
        let mpath = self.files.messages_outbound.clone();
        let mut ms = self.files.stream(&mpath, StreamKind::Messages)?;
        let mut inbound = match (&self.files.messages_inbound, input) {
            (Some(p), true) => Some(Inbound {
                s: self.files.stream(p, StreamKind::Messages)?,
                path: p.clone(),
                dec: Utf8Stream::new(),
                next: None,
                done: false,
            }),
            _ => None,
        };
        let mut resizes = self.resizes.into_iter().peekable();
        let mut out_utf8 = Utf8Stream::new();
        let mut text = String::new();
        let mut last = self.start.head;
        let mut finished = false;

        loop {
            if let Some(i) = inbound.as_mut() {
                i.fill()?;
            }
            let chunk = ms.next_chunk()?;
            let ctime = chunk
                .as_ref()
                .map_or(Timestamp::new(u64::MAX, 0), |c| c.time);
            // Everything else up to this chunk's time.
            loop {
                let tr = resizes.peek().map(|r| r.0).filter(|t| *t <= ctime);
                let ti = inbound
                    .as_ref()
                    .and_then(|i| i.next.as_ref())
                    .map(|x| x.0)
                    .filter(|t| *t < ctime);
                match (tr, ti) {
                    (Some(a), b) if b.is_none_or(|b| a <= b) => {
                        if let Some((t, c, r)) = resizes.next() {
                            f(t, Event::Resize { cols: c, rows: r })?;
                            last = last.max(t);
                        }
                    }
                    (_, Some(_)) => {
                        if let Some(i) = inbound.as_mut() {
                            if let Some((t, s)) = i.next.take() {
                                f(t, Event::Input(&s))?;
                                last = last.max(t);
                            }
                            i.fill()?;
                        }
                    }
                    _ => break,
                }
            }
            let Some(c) = chunk else { break };
            if c.is_done() {
                finished = true;
                last = last.max(c.time);
            } else if c.is_data() {
                text.clear();
                out_utf8.push(&c.data()?, &mut text);
                last = last.max(c.time);
                if !text.is_empty() {
                    f(c.time, Event::Output(&text))?;
                }
            }
        }
        text.clear();
        out_utf8.finish(&mut text);
        if !text.is_empty() {
            f(last, Event::Output(&text))?;
        }
        let mut replaced = out_utf8.replaced;
        if let Some(mut i) = inbound {
            let mut t = String::new();
            i.dec.finish(&mut t);
            if !t.is_empty() {
                f(last, Event::Input(&t))?;
            }
            replaced += i.dec.replaced;
            check_sum(i.s, &i.path, &self.files.checksums)?;
        }
        check_sum(ms, &mpath, &self.files.checksums)?;
        Ok(ChannelEnd {
            time: last,
            finished,
            utf8_replacements: replaced,
        })
    }
}

/// The keystrokes, read one text chunk ahead.
struct Inbound<'s> {
    s: ChunkStream<Box<dyn std::io::Read + Send + 's>>,
    path: String,
    dec: Utf8Stream,
    next: Option<(Timestamp, String)>,
    done: bool,
}

impl Inbound<'_> {
    /// Reads until the next text or the end.
    fn fill(&mut self) -> Result<(), TextError> {
        while self.next.is_none() && !self.done {
            match self.s.next_chunk()? {
                Some(c) if c.is_data() => {
                    let mut t = String::new();
                    self.dec.push(&c.data()?, &mut t);
                    if !t.is_empty() {
                        self.next = Some((c.time, t));
                    }
                }
                Some(c) if c.is_done() => self.done = true,
                Some(_) => {}
                None => self.done = true,
            }
        }
        Ok(())
    }
}
