//! Recordings for the text-view tests, written with bsr-core's writer API: a shell or exec
//! channel with a script of output, keystrokes and window changes at given milliseconds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../bsr-core/tests/support/generate.rs"]
pub mod generate;

use bsr_asciicast::commands::{CommandRecord, commands};
use bsr_asciicast::convert::{ChannelFiles, select_channel};
use bsr_asciicast::term::TextItem;
use bsr_asciicast::text::transcript;
use bsr_core::Direction;
use bsr_core::read::Recording;
use bsr_core::ssh::*;
use bsr_core::store::{MemStore, ReadStore, WriteStore};
use bsr_core::write::{SessionOptions, SessionWriter};
use std::sync::Arc;

pub use generate::t;

/// One step of a session script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Terminal output at a millisecond.
    Out(u64, Vec<u8>),
    /// Keystrokes at a millisecond.
    In(u64, Vec<u8>),
    /// A window change at a millisecond.
    Resize(u64, u32, u32),
}

pub fn out(ms: u64, s: &str) -> Step {
    Step::Out(ms, s.as_bytes().to_vec())
}

pub fn inp(ms: u64, s: &str) -> Step {
    Step::In(ms, s.as_bytes().to_vec())
}

/// Types `keys` one keystroke at a time from `ms` (every 10 ms), each echoed by `echo` 1 ms
/// later (nothing when it returns an empty string). Returns the steps and the next free ms.
pub fn typed(ms: u64, keys: &str, echo: impl Fn(char) -> String) -> (Vec<Step>, u64) {
    let mut steps = Vec::new();
    let mut at = ms;
    for c in keys.chars() {
        steps.push(inp(at, &c.to_string()));
        let e = echo(c);
        if !e.is_empty() {
            steps.push(out(at + 1, &e));
        }
        at += 10;
    }
    (steps, at)
}

/// What the channel runs.
#[derive(Debug, Clone)]
pub enum Runs {
    Shell,
    Exec(String),
}

/// Writes a recording with one session channel into `store`; returns its folder.
pub fn write_session(
    store: Arc<dyn WriteStore>,
    tag: &str,
    runs: Runs,
    pty: Option<(u32, u32)>,
    steps: &[Step],
) -> String {
    let rec = format!("sr_{tag}");
    let sess = format!("s_{tag}");
    let keys = bsr_core::keys::RecordingKeys::from_seed(&sess, generate::seed(&rec));
    let mut opts = SessionOptions::new(&rec, &sess, t(0));
    opts.session_meta = Some(generate::session_meta(&sess));
    let s = SessionWriter::create(store, "", opts, keys, &generate::kek(), None).unwrap();
    let c = s.new_connection(&format!("cr_{tag}"), t(0)).unwrap();
    let mut ch = c
        .new_channel(&format!("chr_{tag}"), "session", t(1))
        .unwrap();
    if let Some((w, h)) = pty {
        ch.write_request(
            Direction::Inbound,
            t(2),
            &Request::Pty(PtyRequest {
                request_type: "pty-req".into(),
                want_reply: true,
                term_env_var: "xterm-256color".into(),
                terminal_width_characters: w,
                terminal_height_rows: h,
                ..Default::default()
            }),
        )
        .unwrap();
    }
    let start = match runs {
        Runs::Shell => Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
        Runs::Exec(cmd) => Request::Exec(ExecRequest {
            request_type: "exec".into(),
            want_reply: true,
            command: cmd,
        }),
    };
    ch.write_request(Direction::Inbound, t(3), &start).unwrap();
    let mut steps = steps.to_vec();
    steps.sort_by_key(|s| match s {
        Step::Out(ms, _) | Step::In(ms, _) | Step::Resize(ms, _, _) => *ms,
    });
    let mut last = 10;
    for s in &steps {
        match s {
            Step::Out(ms, b) => {
                ch.write_data(Direction::Outbound, t(*ms), b).unwrap();
            }
            Step::In(ms, b) => {
                ch.write_data(Direction::Inbound, t(*ms), b).unwrap();
            }
            Step::Resize(ms, w, h) => ch
                .write_request(
                    Direction::Inbound,
                    t(*ms),
                    &Request::WindowChange(WindowChangeRequest {
                        request_type: "window-change".into(),
                        terminal_width_columns: *w,
                        terminal_height_rows: *h,
                        ..Default::default()
                    }),
                )
                .unwrap(),
        }
        let (Step::Out(ms, _) | Step::In(ms, _) | Step::Resize(ms, _, _)) = s;
        last = last.max(*ms);
    }
    ch.finish(t(last + 10)).unwrap();
    c.finish(t(last + 20)).unwrap();
    s.finish(t(last + 30)).unwrap();
    format!("{rec}.bsr")
}

/// A shell recording (80×24 unless given) in a new memory store.
pub fn shell(tag: &str, size: (u32, u32), steps: &[Step]) -> ChannelFiles {
    let store = Arc::new(MemStore::new());
    let dir = write_session(store.clone(), tag, Runs::Shell, Some(size), steps);
    channel(store, &dir)
}

/// The only shell or exec channel of a recording.
pub fn channel(store: Arc<dyn ReadStore>, dir: &str) -> ChannelFiles {
    let rec = Recording::open(store, dir).unwrap();
    select_channel(&rec, None, None).unwrap()
}

/// The transcript's lines (full-screen blocks as `[alt] row|row|…`).
pub fn lines(files: &ChannelFiles) -> Vec<String> {
    let mut v = Vec::new();
    transcript(files, |_, item| {
        v.push(match item {
            TextItem::Line(l) => l.text.clone(),
            TextItem::AltScreen(b) => format!("[alt] {}", b.frame.join("|")),
        });
        Ok(())
    })
    .unwrap();
    v
}

/// The transcript's items.
pub fn items(files: &ChannelFiles) -> Vec<TextItem> {
    let mut v = Vec::new();
    transcript(files, |_, item| {
        v.push(item.clone());
        Ok(())
    })
    .unwrap();
    v
}

/// The commands.
pub fn cmds(files: &ChannelFiles) -> Vec<CommandRecord> {
    let mut v = Vec::new();
    commands(files, |_, c| {
        v.push(c);
        Ok(())
    })
    .unwrap();
    v
}

/// The commands as displayed.
pub fn cmd_texts(files: &ChannelFiles) -> Vec<String> {
    cmds(files).iter().map(|c| c.display()).collect()
}
