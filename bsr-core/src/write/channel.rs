//! [`ChannelWriter`]: one channel container and its four data files.

use super::{ChunkFile, Container};
use crate::error::{Error, Result};
use crate::format::meta::ChannelSummary;
use crate::format::{Direction, Timestamp};
use crate::ssh::{Request, SessionProgram};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes one channel container. `Send`: give each channel to the thread that relays it.
#[derive(Debug)]
pub struct ChannelWriter {
    pub(super) parent: Arc<Container>,
    pub(super) container: Arc<Container>,
    pub(super) id: String,
    pub(super) connection_id: String,
    pub(super) channel_type: String,
    pub(super) start_time: Timestamp,
    pub(super) messages: [ChunkFile; 2],
    pub(super) requests: [ChunkFile; 2],
    pub(super) bytes_up: u64,
    pub(super) bytes_down: u64,
    pub(super) conn_up: Arc<AtomicU64>,
    pub(super) conn_down: Arc<AtomicU64>,
    pub(super) program: Option<SessionProgram>,
    pub(super) open_failure: Option<(u32, String)>,
    pub(super) finished: bool,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

impl ChannelWriter {
    /// The channel recording id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Appends channel data (`DATA` chunks, split above 256 KiB) to `messages-<dir>.data`.
    /// Inbound data counts as bytes up, outbound as bytes down. Returns the chunks written.
    pub fn write_data(&mut self, dir: Direction, time: Timestamp, data: &[u8]) -> Result<u64> {
        super::check_time(time, "data time")?;
        let n = self.messages[idx(dir)].data(time, data)?;
        let len = data.len() as u64;
        match dir {
            Direction::Inbound => {
                self.bytes_up += len;
            }
            Direction::Outbound => {
                self.bytes_down += len;
            }
        }
        Ok(n)
    }

    /// Appends a request chunk to `requests-<dir>.data`. `shell`, `exec` and `subsystem`
    /// requests set the summary's session program.
    pub fn write_request(&mut self, dir: Direction, time: Timestamp, req: &Request) -> Result<()> {
        super::check_time(time, "request time")?;
        self.requests[idx(dir)].request(time, req)?;
        if self.program.is_none() {
            self.program = SessionProgram::of(req);
        }
        Ok(())
    }

    /// Appends one chunk of another recording as it was: `DATA` (never split, counted like
    /// [`Self::write_data`]) to `messages-<dir>.data`, a request chunk (its payload must decode
    /// as that request) to `requests-<dir>.data`. For tools that copy a recording chunk by
    /// chunk and must keep every chunk's index, time and payload (redaction).
    pub fn copy_chunk(
        &mut self,
        dir: Direction,
        time: Timestamp,
        chunk_type: [u8; 4],
        data: &[u8],
    ) -> Result<()> {
        super::check_time(time, "chunk time")?;
        if chunk_type == crate::format::CHUNK_DATA {
            self.messages[idx(dir)].copy(time, chunk_type, data)?;
            let len = data.len() as u64;
            match dir {
                Direction::Inbound => {
                    self.bytes_up += len;
                }
                Direction::Outbound => {
                    self.bytes_down += len;
                }
            }
            return Ok(());
        }
        let req = Request::decode(chunk_type, data)?;
        self.requests[idx(dir)].copy(time, chunk_type, data)?;
        if self.program.is_none() {
            self.program = SessionProgram::of(&req);
        }
        Ok(())
    }

    /// Records that the channel open failed (summary `OpenFailure`).
    pub fn set_open_failure(&mut self, reason: u32, message: &str) {
        self.open_failure = Some((reason, message.to_string()));
    }

    /// Makes all data written so far durable; returns the number of chunks now durable in the
    /// channel's four data files (HEAD chunks included).
    pub fn sync(&mut self) -> Result<u64> {
        let mut n = 0;
        for f in self.messages.iter_mut().chain(self.requests.iter_mut()) {
            n += f.sync()?;
        }
        self.container.sync()?;
        Ok(n)
    }

    /// Writes DONE in the four data files, then meta, summary, `SHA256SUM` and its signature.
    pub fn finish(mut self, end_time: Timestamp) -> Result<ChannelSummary> {
        super::check_time(end_time, "channel end time")?;
        if self.finished {
            return Err(Error::Usage("channel already finished".into()));
        }
        self.finished = true;
        for f in self.messages.iter_mut().chain(self.requests.iter_mut()) {
            let digest = f.close(end_time)?;
            self.container.add_sum(f.name, &digest)?;
        }
        let mut summary = ChannelSummary {
            id: self.id.clone(),
            connection_recording_id: self.connection_id.clone(),
            start_time: self.start_time,
            end_time,
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
            channel_type: self.channel_type.clone(),
            session_program: String::new(),
            subsystem_name: String::new(),
            exec_program: String::new(),
            file_transfer_direction: String::new(),
            open_failure: self
                .open_failure
                .clone()
                .map(|(reason, message)| crate::format::meta::OpenFailure { reason, message }),
        };
        set_program(&mut summary, self.program.as_ref());
        self.container.close(&summary.to_bytes()?)?;
        // The connection's totals take the channel's once, when it is closed: the connection
        // reads them only when every channel is (an atomic add per chunk cost ~8 % of the
        // writer's time with 16-byte chunks; benches/notes.md).
        self.conn_up.fetch_add(self.bytes_up, Ordering::Relaxed);
        self.conn_down.fetch_add(self.bytes_down, Ordering::Relaxed);
        self.parent.child_closed();
        Ok(summary)
    }
}

/// Fills the summary's program fields from the channel's session program (Boundary's values:
/// `none` for a session channel that started nothing, `not applicable` elsewhere).
pub(super) fn set_program(s: &mut ChannelSummary, program: Option<&SessionProgram>) {
    let na = "not applicable";
    s.session_program = match program {
        Some(p) => p.as_str(),
        None if s.channel_type == "session" => "none",
        None => na,
    }
    .to_string();
    s.subsystem_name = match program {
        Some(SessionProgram::Subsystem { name }) => name.clone(),
        _ => String::new(),
    };
    let (exec, transfer) = program.and_then(|p| p.exec_class()).unwrap_or((na, na));
    s.exec_program = exec.to_string();
    s.file_transfer_direction = transfer.to_string();
}
