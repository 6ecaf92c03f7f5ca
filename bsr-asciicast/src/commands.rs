//! `commands`: the commands the user ran, each with its time, taken from what the terminal
//! showed.
//!
//! * An exec channel: the exec request's command (`source: exec`).
//! * A shell (and an exec with a pty): at each Enter in the keystrokes, the cursor's line as
//!   the screen showed it, minus the prompt (`source: enter`). The prompt is what the line
//!   held before the first keystroke after the previous Enter. Line editing (backspace,
//!   Ctrl-U, arrows, history recall, tab completion) therefore comes out as the shell finally
//!   showed it. When the keystrokes typed with the Enter have not been echoed yet (a paste, a
//!   fast typist), the line is taken when the shell echoes the newline instead.
//! * When the shell marks its prompts and commands with OSC 133, the command is the text
//!   between the command-start and command-executed marks (avt's `ShellTracker`,
//!   `source: osc133`) — but only for an Enter that was really pressed: output alone never
//!   makes a command.
//! * Keystrokes the terminal did not echo (a password prompt) are never revealed: the command
//!   is `[input not echoed: N keystrokes]` with `echoed: false`.
//! * Keystrokes while a full-screen program is on screen belong to it, not to the shell; the
//!   command that started the program gets its block (last frame, time on screen).
//!
//! Known limits: keystrokes typed ahead, before the previous command's output has finished,
//! can be attributed to the wrong line; the text is always a line the screen showed.

use crate::convert::ChannelFiles;
use crate::term::channel::{ChannelEnd, ChannelStart, Event, Program, Replay};
use crate::term::{AltBlock, TermModel, TextError, TextItem, printable};
use crate::text::{BLOCK_END, block_header, block_json, offset_seconds};
use avt::observer::{ShellEvent, ShellTracker};
use bsr_core::Timestamp;
use std::collections::VecDeque;
use std::io::Write;

/// Enters waiting for their line (type-ahead); older ones are resolved with what the screen
/// shows when more arrive.
const MAX_PENDING: usize = 64;

/// Where a command's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The exec request.
    Exec,
    /// The cursor line at an Enter.
    Enter,
    /// OSC 133 command marks (for an Enter).
    Osc133,
}

impl Source {
    /// `exec`, `enter` or `osc133`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Exec => "exec",
            Source::Enter => "enter",
            Source::Osc133 => "osc133",
        }
    }
}

/// One command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    /// When (the Enter, or the exec request).
    pub time: Timestamp,
    /// The command as shown; `None` when the input was not echoed.
    pub command: Option<String>,
    /// Keystrokes typed for it (before the Enter).
    pub keystrokes: u64,
    /// Where the text came from.
    pub source: Source,
    /// The full-screen program it ran, if any.
    pub screen: Option<AltBlock>,
    /// Which characters of the channel's decoded keystrokes (counted from 0 over the whole
    /// inbound stream, Enters included) were typed for it: from its first keystroke up to, not
    /// including, the Enter. Empty for an exec request. `redact --hidden-input` maps the
    /// ranges of commands that were not echoed back to the inbound bytes.
    pub keystroke_chars: std::ops::Range<u64>,
}

impl CommandRecord {
    /// Whether the terminal showed the input.
    pub fn echoed(&self) -> bool {
        self.command.is_some()
    }

    /// The command, or `[input not echoed: N keystrokes]`, escaped for printing.
    pub fn display(&self) -> String {
        match &self.command {
            Some(c) => printable(c).into_owned(),
            None => format!(
                "[input not echoed: {} keystroke{}]",
                self.keystrokes,
                if self.keystrokes == 1 { "" } else { "s" }
            ),
        }
    }

    /// The JSON object: `{"t", "time", "command", "source", "echoed"}`, plus `keystrokes` when
    /// not echoed and `screen` for a full-screen program.
    pub fn json(&self, head: Timestamp) -> serde_json::Value {
        let mut v = serde_json::json!({
            "t": offset_seconds(self.time, head),
            "time": self.time.to_rfc3339(),
            "command": self.display(),
            "source": self.source.as_str(),
            "echoed": self.echoed(),
        });
        if let Some(m) = v.as_object_mut() {
            if !self.echoed() {
                m.insert("keystrokes".into(), self.keystrokes.into());
            }
            if let Some(b) = &self.screen {
                m.insert("screen".into(), block_json(b, head));
            }
        }
        v
    }
}

/// An Enter whose command is not known yet.
#[derive(Debug)]
struct Pending {
    time: Timestamp,
    prompt: String,
    keys: u64,
    typing_echoed: bool,
    /// Its keystrokes, as [`CommandRecord::keystroke_chars`].
    chars: std::ops::Range<u64>,
    /// The line the screen showed for it.
    line: Option<String>,
    /// What OSC 133 gave for it (`Some(None)`: marks seen, text unknown).
    osc: Option<Option<String>>,
}

/// The prompt removed from the start of a line.
fn strip_prompt<'a>(line: &'a str, prompt: &str) -> &'a str {
    if let Some(rest) = line.strip_prefix(prompt) {
        return rest;
    }
    let p = prompt.trim_end();
    if line == p {
        return "";
    }
    line.strip_prefix(p).unwrap_or(line)
}

/// The shell-input state between keystrokes and the screen.
#[derive(Debug, Default)]
struct Keys {
    need_prompt: bool,
    prompt: String,
    keys: u64,
    /// Index of the first keystroke since the last Enter.
    first_key: Option<u64>,
    key_chunks: u64,
    last_key_chunk: u64,
    chunk: u64,
    output_since_key: bool,
    output_while_typing: bool,
    after_cr: bool,
}

struct Tracker<F> {
    model: TermModel,
    shell: ShellTracker,
    keys: Keys,
    pending: VecDeque<Pending>,
    osc_seen: bool,
    last: Option<CommandRecord>,
    sink: F,
    start: ChannelStart,
    emitted: u64,
    /// Keystroke characters seen so far.
    chars: u64,
}

impl<F> Tracker<F>
where
    F: FnMut(&ChannelStart, CommandRecord) -> Result<(), TextError>,
{
    fn emit(&mut self, rec: CommandRecord) -> Result<(), TextError> {
        if let Some(prev) = self.last.replace(rec) {
            self.emitted += 1;
            (self.sink)(&self.start, prev)?;
        }
        Ok(())
    }

    fn output(&mut self, t: Timestamp, s: &str) -> Result<(), TextError> {
        self.keys.output_since_key = true;
        if self.keys.keys > 0 {
            self.keys.output_while_typing = true;
        }
        let mut blocks = Vec::new();
        let mut events = Vec::new();
        self.model.feed_observed(
            t,
            s,
            &mut self.shell,
            &mut |item| {
                if let TextItem::AltScreen(b) = item {
                    blocks.push(b);
                }
                Ok::<(), TextError>(())
            },
            |ev| events.extend(ev),
        )?;
        self.after_output(events, blocks)
    }

    fn after_output(
        &mut self,
        events: Vec<ShellEvent>,
        blocks: Vec<AltBlock>,
    ) -> Result<(), TextError> {
        if let Some(c) = self.model.take_captured()
            && let Some(p) = self.pending.iter_mut().find(|p| p.line.is_none())
        {
            p.line = Some(c.text);
        }
        if self.pending.iter().any(|p| p.line.is_none()) {
            self.model.capture_at_newline();
        }
        for ev in events {
            match ev {
                ShellEvent::CommandSubmitted(cmd) => {
                    self.osc_seen = true;
                    // Only for an Enter that was pressed: output alone never makes a command.
                    if let Some(p) = self.pending.iter_mut().find(|p| p.osc.is_none()) {
                        p.osc = Some(cmd.text);
                    }
                }
                ShellEvent::PromptStarted(_) => {
                    self.osc_seen = true;
                    // A new prompt: whatever still waits for OSC 133 will not get it.
                    for p in self.pending.iter_mut() {
                        if p.line.is_some() && p.osc.is_none() {
                            p.osc = Some(None);
                        }
                    }
                }
                _ => {}
            }
        }
        self.settle(false)?;
        for b in blocks {
            match &mut self.last {
                Some(l) if l.time <= b.start && l.screen.is_none() => l.screen = Some(b),
                _ => {}
            }
        }
        Ok(())
    }

    /// Finishes the Enters that are known (all of them with `all`).
    fn settle(&mut self, all: bool) -> Result<(), TextError> {
        while let Some(p) = self.pending.front() {
            let ready = p.line.is_some() && (!self.osc_seen || p.osc.is_some());
            if !ready && !all && self.pending.len() <= MAX_PENDING {
                break;
            }
            let Some(mut p) = self.pending.pop_front() else {
                break;
            };
            if p.line.is_none() {
                p.line = Some(self.model.cursor_line().0);
            }
            if let Some(rec) = self.finish_pending(p) {
                self.emit(rec)?;
            }
        }
        Ok(())
    }

    fn finish_pending(&self, p: Pending) -> Option<CommandRecord> {
        let (text, source) = match p.osc {
            Some(Some(t)) if !t.trim().is_empty() => (t, Source::Osc133),
            _ => {
                let line = p.line.unwrap_or_default();
                (strip_prompt(&line, &p.prompt).to_string(), Source::Enter)
            }
        };
        let text = text.trim();
        let command = if !text.is_empty() {
            Some(text.to_string())
        } else if p.keys > 0 && !p.typing_echoed {
            None
        } else {
            return None; // an empty Enter, or input typed and erased
        };
        Some(CommandRecord {
            time: p.time,
            command,
            keystrokes: p.keys,
            source,
            screen: None,
            keystroke_chars: p.chars,
        })
    }

    fn input(&mut self, t: Timestamp, s: &str) -> Result<(), TextError> {
        self.keys.chunk += 1;
        for c in s.chars() {
            let index = self.chars;
            self.chars += 1;
            let after_cr = std::mem::replace(&mut self.keys.after_cr, c == '\r');
            if self.model.in_alt_screen() {
                // Keystrokes for the full-screen program, not the shell.
                self.keys = Keys {
                    need_prompt: true,
                    chunk: self.keys.chunk,
                    after_cr: c == '\r',
                    ..Keys::default()
                };
                continue;
            }
            if c == '\r' || (c == '\n' && !after_cr) {
                self.enter(t, index)?;
            } else if c == '\n' {
                // The LF of a CR LF: the same Enter.
            } else {
                if self.keys.need_prompt {
                    let (line, before) = self.model.cursor_line();
                    self.keys.prompt = line.chars().take(before).collect();
                    self.keys.need_prompt = false;
                }
                self.keys.keys += 1;
                self.keys.first_key.get_or_insert(index);
                if self.keys.last_key_chunk != self.keys.chunk {
                    self.keys.key_chunks += 1;
                    self.keys.last_key_chunk = self.keys.chunk;
                }
                self.keys.output_since_key = false;
            }
        }
        Ok(())
    }

    fn enter(&mut self, t: Timestamp, index: u64) -> Result<(), TextError> {
        let k = &mut self.keys;
        if k.need_prompt {
            let (line, before) = self.model.cursor_line();
            k.prompt = line.chars().take(before).collect();
        }
        // The last keystrokes' echo may still be on its way: all typed with the Enter, or a
        // typist whose earlier keys were echoed.
        let all_in_this_chunk = k.key_chunks == 1 && k.last_key_chunk == k.chunk;
        let defer =
            k.keys > 0 && !k.output_since_key && (k.output_while_typing || all_in_this_chunk);
        let p = Pending {
            time: t,
            prompt: std::mem::take(&mut k.prompt),
            keys: k.keys,
            typing_echoed: k.output_while_typing,
            chars: k.first_key.unwrap_or(index)..index,
            line: (!defer).then(|| self.model.cursor_line().0),
            osc: None,
        };
        *k = Keys {
            need_prompt: true,
            chunk: k.chunk,
            after_cr: k.after_cr,
            ..Keys::default()
        };
        if defer {
            self.model.capture_at_newline();
        }
        self.pending.push_back(p);
        self.settle(false)
    }
}

/// What [`commands`] found besides the commands.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandsEnd {
    /// The channel's start.
    pub start: ChannelStart,
    /// The channel's end.
    pub end: ChannelEnd,
    /// Commands given to the sink.
    pub commands: u64,
    /// Whether the channel had keystrokes to read.
    pub had_input: bool,
}

/// Finds the commands of a channel, giving each to `sink` (in time order).
pub fn commands<F>(files: &ChannelFiles, sink: F) -> Result<CommandsEnd, TextError>
where
    F: FnMut(&ChannelStart, CommandRecord) -> Result<(), TextError>,
{
    let replay = Replay::open(files)?;
    let start = replay.start().clone();
    let mut tr = Tracker {
        model: TermModel::new(start.cols, start.rows)?.with_immediate_blocks(),
        shell: ShellTracker::new(),
        keys: Keys {
            need_prompt: true,
            ..Keys::default()
        },
        pending: VecDeque::new(),
        osc_seen: false,
        last: None,
        sink,
        start: start.clone(),
        emitted: 0,
        chars: 0,
    };
    if let Program::Exec(cmd) = &start.program {
        tr.emit(CommandRecord {
            time: start.program_time,
            command: Some(cmd.clone()),
            keystrokes: 0,
            source: Source::Exec,
            screen: None,
            keystroke_chars: 0..0,
        })?;
    }
    let input = start.program == Program::Shell || start.pty;
    let end = replay.run(input, |t, ev| match ev {
        Event::Output(s) => tr.output(t, s),
        Event::Input(s) => tr.input(t, s),
        Event::Resize { cols, rows } => tr.model.resize(t, cols, rows, &mut |_| Ok(())),
    })?;
    tr.settle(true)?;
    if let Some(last) = tr.last.take() {
        tr.emitted += 1;
        (tr.sink)(&tr.start, last)?;
    }
    Ok(CommandsEnd {
        start,
        end,
        commands: tr.emitted,
        had_input: input && files.messages_inbound.is_some(),
    })
}

/// Writes the commands of a channel: `time<TAB>command` lines (a full-screen program's block
/// follows its command, indented), or JSON objects with `json`.
pub fn write_commands<W: Write>(
    files: &ChannelFiles,
    json: bool,
    mut out: W,
) -> Result<CommandsEnd, TextError> {
    let done = commands(files, |start, rec| {
        if json {
            serde_json::to_writer(&mut out, &rec.json(start.head)).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}\t{}", rec.time.to_rfc3339(), rec.display())?;
            if let Some(b) = &rec.screen {
                writeln!(out, "  {}", block_header(b, start.head))?;
                for r in &b.frame {
                    writeln!(out, "  | {}", printable(r))?;
                }
                writeln!(out, "  {BLOCK_END}")?;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(done)
}
