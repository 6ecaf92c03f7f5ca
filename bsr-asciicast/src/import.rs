//! asciicast → signed BSR recording.
//!
//! `o` → outbound DATA, `i` → inbound DATA, `r` → window-change, header size and TERM →
//! pty-req, SHELL and the other env entries → env requests, markers → an `UNKR` request of
//! type `marker@bsr` carrying the label, `x` (v3) → exit-status. Chunk times are the header
//! timestamp (or now) plus the event time, to the nanosecond of the parsed value.
//!
//! The header's env entries are written as env requests after a `cast-header@bsr` request,
//! so that the converter knows them for the cast header they came from and does not turn
//! them into `bsr: env …` markers the original cast did not have. What the import had to
//! invent or replace (no SHELL, no TERM, a missing or negative timestamp) is listed in
//! [`Imported::notes`]. Times after the year 9999 (which a recording's summaries cannot hold)
//! are refused.

use crate::cast::{CastReader, Event, EventKind, parse_resize};
use crate::convert::MARKER_REQUEST;
use crate::error::ConvertError;
use bsr_core::format::{Direction, Timestamp};
use bsr_core::keys::{KeyWrapper, RecorderKey, RecordingKeys};
use bsr_core::ssh::*;
use bsr_core::store::WriteStore;
use bsr_core::write::{ChannelWriter, SessionOptions, SessionWriter};
use sha2::Digest;
use std::io::BufRead;
use std::sync::Arc;

/// What `import` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The recording folder (`sr_….bsr`) in the store.
    pub dir: String,
    /// Events imported.
    pub events: u64,
    /// What the import invented or replaced, for people (`import` prints them on stderr).
    pub notes: Vec<String>,
}

/// Request type our `import` writes before the env requests taken from the cast header.
pub const CAST_HEADER_REQUEST: &str = "cast-header@bsr";

/// Seconds of 10000-01-01T00:00:00Z: the first time an RFC 3339 summary cannot hold.
pub const YEAR_10000: u64 = 253_402_300_800;

/// The session recording id `import` gives the cast with this SHA-256 (`sr_<id>.bsr`).
pub fn recording_id(cast_digest: &[u8; 32]) -> String {
    id_from("sr", cast_digest)
}

fn too_late(what: &str, t: Timestamp) -> ConvertError {
    ConvertError::Malformed(format!(
        "{what} is {}.{:09} s after 1970, after the year 9999: a BSR recording's summaries cannot hold it",
        t.secs, t.nanos
    ))
}

pub(crate) fn id_from(label: &str, digest: &[u8]) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let s: String = digest
        .iter()
        .take(10)
        .map(|b| B62[(*b as usize) % 62] as char)
        .collect();
    format!("{label}_{s}")
}

/// Imports the cast read from `cast` (its bytes also name the recording: ids are derived from
/// their SHA-256) into `store` below `parent`, signed with fresh keys wrapped by `wrapper`.
pub fn import_cast<R: BufRead>(
    cast: R,
    cast_digest: [u8; 32],
    store: Arc<dyn WriteStore>,
    parent: &str,
    wrapper: &dyn KeyWrapper,
    recorder: Option<&RecorderKey>,
) -> Result<Imported, ConvertError> {
    let mut reader = CastReader::new(cast)?;
    let h = reader.header().clone();
    let mut notes = Vec::new();
    let base = match h.timestamp {
        Some(t) if t > 0 => Timestamp::new(t as u64, 0),
        other => {
            let now = Timestamp::now();
            notes.push(match other {
                None => format!(
                    "the cast has no timestamp: the recording starts now ({})",
                    now.to_rfc3339()
                ),
                Some(t) => format!(
                    "the cast's timestamp {t} is not after 1970: replaced by now ({})",
                    now.to_rfc3339()
                ),
            });
            now
        }
    };
    if base.secs >= YEAR_10000 {
        return Err(too_late("the cast's timestamp", base));
    }
    let at = |ns: i128| Timestamp::from_nanos(base.as_nanos() + ns);
    let rec = id_from("sr", &cast_digest);
    let sess = id_from("s", &sha2::Sha256::digest(cast_digest));
    let keys = RecordingKeys::generate(&sess)?;
    let s = SessionWriter::create(
        store,
        parent,
        SessionOptions::new(&rec, &sess, base),
        keys,
        wrapper,
        recorder,
    )?;
    let conn = s.new_connection(&id_from("cr", &sha2::Sha256::digest(rec.as_bytes())), base)?;
    conn.write_request(
        Direction::Inbound,
        base,
        &Request::Session(SessionRequest {
            request_type: "session".into(),
            sender_channel: 0,
            initial_window_size: 2_097_152,
            maximum_packet_size: 32_768,
        }),
    )?;
    let mut ch = conn.new_channel(
        &id_from("chr", &sha2::Sha256::digest(sess.as_bytes())),
        "session",
        base,
    )?;
    let term = h
        .term_type
        .clone()
        .or_else(|| h.env_get("TERM").map(str::to_string))
        .unwrap_or_default();
    if term.is_empty() {
        notes.push(
            "the cast names no TERM: the pty-req has none, and a conversion shows Boundary's default TERM=xterm".into(),
        );
    }
    if h.env_get("SHELL").is_none_or(str::is_empty) {
        notes.push(
            "the cast names no SHELL: the recording has none, and a conversion shows Boundary's default SHELL=/bin/bash".into(),
        );
    }
    ch.write_request(
        Direction::Inbound,
        base,
        &Request::Pty(PtyRequest {
            request_type: "pty-req".into(),
            want_reply: true,
            term_env_var: term,
            terminal_width_characters: h.width,
            terminal_height_rows: h.height,
            ..Default::default()
        }),
    )?;
    if h.env.iter().any(|(k, v)| k != "TERM" && v.is_some()) {
        ch.write_request(
            Direction::Inbound,
            base,
            &Request::Unknown(UnknownRequest {
                request_type: CAST_HEADER_REQUEST.into(),
                want_reply: false,
                data: b"env".to_vec(),
            }),
        )?;
    }
    for (k, v) in &h.env {
        if k == "TERM" {
            continue;
        }
        if let Some(v) = v {
            ch.write_request(
                Direction::Inbound,
                base,
                &Request::Env(EnvRequest {
                    request_type: "env".into(),
                    want_reply: false,
                    variable_name: k.clone(),
                    variable_value: v.clone(),
                }),
            )?;
        }
    }
    let start = if let Some(cmd) = &h.command {
        Request::Exec(ExecRequest {
            request_type: "exec".into(),
            want_reply: true,
            command: cmd.clone(),
        })
    } else {
        Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        })
    };
    ch.write_request(Direction::Inbound, base, &start)?;
    let mut n = 0u64;
    let mut last = base;
    while let Some(e) = reader.next_event()? {
        let t = at(e.time_ns);
        if t.secs >= YEAR_10000 {
            return Err(too_late(&format!("event {}'s time", n + 1), t));
        }
        last = t;
        n += 1;
        write_event(&mut ch, t, e)?;
    }
    ch.finish(last)?;
    conn.finish(last)?;
    let dir = s.dir().to_string();
    s.finish(last)?;
    Ok(Imported {
        dir,
        events: n,
        notes,
    })
}

/// Writes one cast event as the chunk or request that carries it.
fn write_event(ch: &mut ChannelWriter, t: Timestamp, e: Event) -> Result<(), ConvertError> {
    match e.kind {
        EventKind::Output => {
            ch.write_data(Direction::Outbound, t, e.data.as_bytes())?;
        }
        EventKind::Input => {
            ch.write_data(Direction::Inbound, t, e.data.as_bytes())?;
        }
        EventKind::Resize => {
            let (c, r) = parse_resize(&e.data)
                .ok_or_else(|| ConvertError::Malformed(format!("bad resize {:?}", e.data)))?;
            ch.write_request(
                Direction::Inbound,
                t,
                &Request::WindowChange(WindowChangeRequest {
                    request_type: "window-change".into(),
                    want_reply: false,
                    terminal_width_columns: c,
                    terminal_height_rows: r,
                    ..Default::default()
                }),
            )?;
        }
        EventKind::Marker => {
            ch.write_request(
                Direction::Inbound,
                t,
                &Request::Unknown(UnknownRequest {
                    request_type: MARKER_REQUEST.into(),
                    want_reply: false,
                    data: e.data.into_bytes(),
                }),
            )?;
        }
        EventKind::Exit => {
            let code = e.data.trim().parse::<u32>().unwrap_or(255);
            ch.write_request(
                Direction::Outbound,
                t,
                &Request::ExitStatus(ExitStatusRequest {
                    request_type: "exit-status".into(),
                    want_reply: false,
                    exit_status: code,
                }),
            )?;
        }
        EventKind::Other(code) => {
            ch.write_request(
                Direction::Inbound,
                t,
                &Request::Unknown(UnknownRequest {
                    request_type: format!("asciicast-{code}@bsr"),
                    want_reply: false,
                    data: e.data.into_bytes(),
                }),
            )?;
        }
    }
    Ok(())
}
