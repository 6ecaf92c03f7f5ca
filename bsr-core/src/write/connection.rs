//! [`ConnectionWriter`]: one connection container.

use super::{ChannelWriter, ChunkFile, Container, SessionShared, check_id, lock};
use crate::error::{Error, Result};
use crate::format::meta::ConnectionSummary;
use crate::format::{self, ContainerKind, Direction, Timestamp};
use crate::ssh::Request;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Writes one connection container. Shareable between threads (`&self` methods).
#[derive(Debug)]
pub struct ConnectionWriter {
    pub(super) session: Arc<SessionShared>,
    pub(super) container: Arc<Container>,
    pub(super) id: String,
    pub(super) start_time: Timestamp,
    pub(super) files: Mutex<Vec<ChunkFile>>,
    pub(super) channels: AtomicUsize,
    pub(super) bytes_up: Arc<AtomicU64>,
    pub(super) bytes_down: Arc<AtomicU64>,
    pub(super) errors: Mutex<Vec<String>>,
    pub(super) finished: std::sync::atomic::AtomicBool,
}

impl ConnectionWriter {
    /// The connection recording id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Opens a channel container `<id>.channel/` with its four data files.
    /// `channel_type` is the SSH channel type (`session`, `direct-tcpip`, …).
    pub fn new_channel(
        &self,
        id: &str,
        channel_type: &str,
        start_time: Timestamp,
    ) -> Result<ChannelWriter> {
        check_id(id)?;
        super::check_time(start_time, "channel start time")?;
        if channel_type.is_empty() || channel_type.contains(['\n', '\r']) {
            return Err(Error::Usage(format!(
                "invalid channel type {channel_type:?}"
            )));
        }
        self.container.child_opened()?;
        let name = format!("{id}{}", format::CHANNEL_DIR_SUFFIX);
        let res = (|| {
            let c = self
                .container
                .open_child("channel", &name, ContainerKind::Channel, id)?;
            c.meta_line("channelType", channel_type)?;
            let s = &self.session;
            let session = (s.session_id.as_str(), s.opts);
            let [mi, mo] = c.data_files(false, session, start_time)?;
            let [ri, ro] = c.data_files(true, session, start_time)?;
            c.sync()?;
            Ok(ChannelWriter {
                parent: self.container.clone(),
                container: c,
                id: id.to_string(),
                connection_id: self.id.clone(),
                channel_type: channel_type.to_string(),
                start_time,
                messages: [mi, mo],
                requests: [ri, ro],
                bytes_up: 0,
                bytes_down: 0,
                conn_up: self.bytes_up.clone(),
                conn_down: self.bytes_down.clone(),
                program: None,
                open_failure: None,
                finished: false,
            })
        })();
        match &res {
            Ok(_) => {
                self.channels.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => self.container.child_closed(),
        }
        res
    }

    /// Appends a request chunk (global requests, channel opens) to the connection's
    /// `requests-<dir>.data`.
    pub fn write_request(&self, dir: Direction, time: Timestamp, req: &Request) -> Result<()> {
        super::check_time(time, "request time")?;
        let mut files = lock(&self.files);
        let i = if dir == Direction::Inbound { 0 } else { 1 };
        match files.get_mut(i) {
            Some(f) => f.request(time, req),
            None => Err(Error::Usage("connection is finished".into())),
        }
    }

    /// Appends a request chunk of another recording with its payload as it was (it must
    /// decode as that request); see [`ChannelWriter::copy_chunk`].
    pub fn copy_request(
        &self,
        dir: Direction,
        time: Timestamp,
        chunk_type: [u8; 4],
        payload: &[u8],
    ) -> Result<()> {
        super::check_time(time, "request time")?;
        Request::decode(chunk_type, payload)?;
        let mut files = lock(&self.files);
        let i = if dir == Direction::Inbound { 0 } else { 1 };
        match files.get_mut(i) {
            Some(f) => f.copy(time, chunk_type, payload),
            None => Err(Error::Usage("connection is finished".into())),
        }
    }

    /// Records an error message in the connection summary's `Errors`.
    pub fn record_error(&self, message: &str) {
        lock(&self.errors).push(message.to_string());
    }

    /// Makes the connection's request files and container files durable; returns the number of
    /// chunks now durable in its data files.
    pub fn sync(&self) -> Result<u64> {
        let mut n = 0;
        for f in lock(&self.files).iter_mut() {
            n += f.sync()?;
        }
        self.container.sync()?;
        Ok(n)
    }

    /// Writes DONE in the request files, then meta, summary, `SHA256SUM` and its signature.
    /// Every channel must be finished first.
    pub fn finish(&self, end_time: Timestamp) -> Result<ConnectionSummary> {
        super::check_time(end_time, "connection end time")?;
        if self.finished.swap(true, Ordering::SeqCst) {
            return Err(Error::Usage(format!(
                "connection {} already finished",
                self.id
            )));
        }
        {
            let st = lock(&self.container.state);
            if st.open_children > 0 {
                self.finished.store(false, Ordering::SeqCst);
                return Err(Error::Usage(format!(
                    "connection {}: {} channel(s) still open; finish them first",
                    self.id, st.open_children
                )));
            }
        }
        let mut files = std::mem::take(&mut *lock(&self.files));
        for f in files.iter_mut() {
            let digest = f.close(end_time)?;
            self.container.add_sum(f.name, &digest)?;
        }
        let summary = ConnectionSummary {
            id: self.id.clone(),
            channel_count: self.channels.load(Ordering::Relaxed) as u64,
            start_time: self.start_time,
            end_time,
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            errors: lock(&self.errors).join("\n"),
        };
        self.container.close(&summary.to_bytes()?)?;
        self.session.container.child_closed();
        Ok(summary)
    }
}
