//! Which channel to convert, and where its files are.

use crate::error::ConvertError;
use crate::human::escape;
use bsr_core::format::{self, Direction};
use bsr_core::read::structure::StreamKind;
use bsr_core::read::{ChannelRecording, ChunkStream, Recording};
use bsr_core::store::{ReadStore, join};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a channel's files are.
#[derive(Debug, Clone)]
pub struct ChannelFiles {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// A name for messages (the channel folder).
    pub name: String,
    /// SSH channel type.
    pub channel_type: String,
    /// `requests-inbound.data` (pty-req, env, shell, exec, window-change, …).
    pub requests_inbound: Option<String>,
    /// `requests-outbound.data` (exit-status, exit-signal).
    pub requests_outbound: Option<String>,
    /// `messages-outbound.data` (terminal output).
    pub messages_outbound: String,
    /// `messages-inbound.data` (keystrokes).
    pub messages_inbound: Option<String>,
    /// The connection's `requests-inbound.data` (global requests such as tcpip-forward).
    pub connection_requests: Option<String>,
    /// Expected SHA-256 of files by path (from the container's `SHA256SUM`, or pinned by
    /// [`crate::verified::Verification::pin`]).
    pub checksums: BTreeMap<String, [u8; 32]>,
}

impl ChannelFiles {
    /// The files of a channel in a recording, with its `SHA256SUM` entries.
    pub fn of_channel(
        ch: &ChannelRecording,
        connection_dir: Option<&str>,
    ) -> Result<Self, ConvertError> {
        let store = ch.store().clone();
        let dir = ch.dir();
        let mut checksums = BTreeMap::new();
        if let Some(entries) = ch.checksums()? {
            for e in entries {
                checksums.insert(join(dir, &e.name), e.digest);
            }
        }
        // An optional file is absent only when it does not exist: a FIFO, a folder or an
        // unreadable file in its place is an error that names it, never "no such file".
        let present = |p: String| -> Result<_, ConvertError> {
            Ok(bsr_core::store::exists(&*store, &p)?.then_some(p))
        };
        let opt = |name: &str| present(join(dir, name));
        Ok(ChannelFiles {
            name: dir.to_string(),
            channel_type: ch.channel_type().to_string(),
            requests_inbound: opt(format::requests_file(Direction::Inbound))?,
            requests_outbound: opt(format::requests_file(Direction::Outbound))?,
            messages_outbound: join(dir, format::messages_file(Direction::Outbound)),
            messages_inbound: opt(format::messages_file(Direction::Inbound))?,
            connection_requests: match connection_dir {
                Some(c) => present(join(c, format::requests_file(Direction::Inbound)))?,
                None => None,
            },
            checksums,
            store,
        })
    }
}

impl ChannelFiles {
    /// Opens one of the channel's files as a chunk stream under the structure rules of `kind`,
    /// hashing it (SHA-256, on a second thread for files over 1 MiB) only when a digest is
    /// expected for it: pinned by the gate, or from `SHA256SUM` for raw files. `--unverified` expects none, so nothing is hashed (as its
    /// warning says, no checksum was checked); the CRC of every chunk is checked either way.
    pub fn stream(
        &self,
        path: &str,
        kind: StreamKind,
    ) -> Result<ChunkStream<Box<dyn std::io::Read + Send + '_>>, bsr_core::Error> {
        open_stream(&*self.store, &self.checksums, path, kind)
    }
}

/// [`ChannelFiles::stream`] for a store and digests given apart.
pub fn open_stream<'a>(
    store: &'a dyn ReadStore,
    checksums: &BTreeMap<String, [u8; 32]>,
    path: &str,
    kind: StreamKind,
) -> Result<ChunkStream<Box<dyn std::io::Read + Send + 'a>>, bsr_core::Error> {
    let s = ChunkStream::new(store.open(path)?, &store.describe(path)).with_structure(kind);
    Ok(if checksums.contains_key(path) {
        // The conversion or the emulator keeps this core busy: the hash runs on another.
        s.with_sha256_on_thread()
    } else {
        s
    })
}

/// Picks the channel to convert: the given ids, or the only shell/exec channel. When the
/// choice is ambiguous the error lists the channels.
pub fn select_channel(
    rec: &Recording,
    connection: Option<&str>,
    channel: Option<&str>,
) -> Result<ChannelFiles, ConvertError> {
    let mut candidates = Vec::new();
    let mut all = Vec::new();
    for conn in rec.connections()? {
        if connection.is_some_and(|c| c != conn.id()) {
            continue;
        }
        for ch in conn.channels()? {
            if channel.is_some_and(|c| c != ch.id()) {
                continue;
            }
            let program = ch.summary()?.map(|s| s.session_program).unwrap_or_default();
            all.push(escape(&format!(
                "  --connection {} --channel {}  ({}, {})",
                conn.id(),
                ch.id(),
                ch.channel_type(),
                if program.is_empty() { "?" } else { &program }
            )));
            let interactive = ch.channel_type() == "session"
                && (program == "shell" || program == "exec" || program.is_empty());
            if channel.is_some() || interactive {
                candidates.push((conn.dir().to_string(), ch));
            }
        }
    }
    match candidates.len() {
        1 => {
            let (cdir, ch) = candidates.remove(0);
            ChannelFiles::of_channel(&ch, Some(&cdir))
        }
        0 if all.is_empty() => Err(ConvertError::Selection(format!(
            "{}: no such channel",
            escape(rec.dir())
        ))),
        0 => Err(ConvertError::NotInteractive(format!(
            "{}: no shell or exec channel to convert; the channels are:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
        _ => Err(ConvertError::Selection(format!(
            "{}: several channels could be converted; pick one with --connection and --channel:\n{}",
            escape(rec.dir()),
            all.join("\n")
        ))),
    }
}
