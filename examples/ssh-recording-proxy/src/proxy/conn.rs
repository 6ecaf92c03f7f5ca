//! The server handler's connection state and its relaying: one client connection, its
//! upstream, its recorder and its channels; opening a channel on both sides, and recording
//! then forwarding the client's data and requests.

use super::channels::{client_replies_reader, upstream_reader};
use super::requests::{self, DirectTcpip, OpenFields};
use super::state::{Chan, Shared, UpChan};
use super::upstream::UpHandle;
use super::{ProxyConfig, REPLY_TIMEOUT, lock};
use crate::recorder::{Event, Recorder};
use bsr_core::ssh::Request;
use bsr_core::{Direction, Timestamp};
use bytes::Bytes;
use russh::keys::PublicKey;
use russh::server::{ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure, ChannelWriteHalf, Disconnect, client};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The server handler of one client connection.
pub(super) struct Conn {
    /// The proxy's configuration.
    pub(super) cfg: Arc<ProxyConfig>,
    /// The client's address.
    pub(super) peer: Option<SocketAddr>,
    /// What the supervisor, the upstream client and the tasks share.
    pub(super) shared: Arc<Shared>,
    /// The client's user, once authenticated.
    pub(super) user: String,
    /// The upstream connection, once authenticated.
    pub(super) upstream: Option<UpHandle>,
    /// The recorder, once the recording exists.
    pub(super) rec: Option<Recorder>,
    /// The open channels by their client-side id.
    pub(super) chans: HashMap<ChannelId, Chan>,
    /// The session is being ended because recording failed: relay nothing more.
    pub(super) dead: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// A handler for a new client connection.
    pub(super) fn new(
        cfg: Arc<ProxyConfig>,
        peer: Option<SocketAddr>,
        shared: Arc<Shared>,
    ) -> Self {
        Conn {
            cfg,
            peer,
            shared,
            user: String::new(),
            upstream: None,
            rec: None,
            chans: HashMap::new(),
            dead: false,
        }
    }

    pub(super) fn is_authorized(&self, key: &PublicKey) -> bool {
        self.cfg
            .authorized
            .iter()
            .any(|k| k.key_data() == key.key_data())
    }

    /// Records an event; on failure ends the session with the reason and returns false.
    pub(super) async fn record(&mut self, session: &mut Session, ev: Event) -> bool {
        if self.dead {
            return false;
        }
        let Some(rec) = &self.rec else {
            return true;
        };
        match rec.send(ev).await {
            Ok(()) => true,
            Err(msg) => {
                self.end_for_recording(session, &msg);
                false
            }
        }
    }

    pub(super) fn end_for_recording(&mut self, session: &mut Session, msg: &str) {
        if self.dead {
            return;
        }
        self.dead = true;
        eprintln!(
            "ssh-recording-proxy: {}: recording failed: {msg}",
            self.who()
        );
        let _ = session.disconnect(
            Disconnect::ByApplication,
            &format!("session recording failed, the session is ended: {msg}"),
            "en",
        );
    }

    pub(super) fn who(&self) -> String {
        match self.peer {
            Some(p) => format!("{}@{p}", self.user),
            None => self.user.clone(),
        }
    }

    /// Opens the matching upstream channel, records the open and starts the reader task.
    pub(super) async fn open_channel(
        &mut self,
        client_chan: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
        kind: OpenKind,
    ) -> anyhow::Result<()> {
        let Some(up) = self.upstream.clone() else {
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        };
        if self.dead {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        let opened = match &kind {
            OpenKind::Session => up.channel_open_session().await,
            OpenKind::DirectTcpip(t) => {
                up.channel_open_direct_tcpip(
                    t.host.clone(),
                    t.port,
                    t.orig_addr.clone(),
                    t.orig_port,
                )
                .await
            }
        };
        let up_chan = match opened {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "ssh-recording-proxy: {}: upstream refused the channel: {e}",
                    self.who()
                );
                let reason = match e {
                    russh::Error::ChannelOpenFailure(r) => r,
                    _ => ChannelOpenFailure::ConnectFailed,
                };
                reply.reject(reason).await;
                return Ok(());
            }
        };
        let key = self.rec.as_ref().map(|r| r.channel_key()).unwrap_or(0);
        let up_id = up_chan.id().number();
        let client_cfg = client::Config::default();
        // The channel-open record carries what the upstream server saw: the proxy's channel
        // number, window and packet size on the upstream hop.
        let fields = OpenFields {
            sender_channel: up_id,
            initial_window: client_cfg.window_size,
            max_packet: client_cfg.maximum_packet_size,
        };
        let open = match &kind {
            OpenKind::Session => requests::open_session(fields),
            OpenKind::DirectTcpip(t) => requests::open_direct_tcpip(fields, t),
        };
        let channel_type = open.request_type().to_string();
        if !self
            .record(
                session,
                Event::OpenChannel {
                    key,
                    channel_type,
                    open,
                    time: Timestamp::now(),
                },
            )
            .await
        {
            let _ = up_chan.close().await;
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        let (up_read, up_write) = up_chan.split();
        let (client_read, client_write) = client_chan.split();
        let (reply_tx, replies) = mpsc::channel(16);
        let (client_reply_tx, client_replies) = mpsc::channel(16);
        lock(&self.shared.up_chans).insert(
            up_write.id(),
            UpChan {
                client: client_write.id(),
                key,
                handle: session.handle(),
                replies: Arc::new(tokio::sync::Mutex::new(client_replies)),
            },
        );
        let task = tokio::spawn(client_replies_reader(client_read, client_reply_tx));
        lock(&self.shared.tasks).push(task);
        self.chans.insert(
            client_write.id(),
            Chan {
                key,
                up: up_write,
                replies,
            },
        );
        let task = tokio::spawn(upstream_reader(
            up_read,
            client_write,
            session.handle(),
            self.rec.clone(),
            key,
            reply_tx,
        ));
        lock(&self.shared.tasks).push(task);
        reply.accept().await;
        Ok(())
    }

    /// Records client data (`ext`: the extended-data code, for stderr-like streams) and, once
    /// it is in the recording, forwards it upstream, waiting for the upstream window so that
    /// back-pressure reaches the client.
    pub(super) async fn relay_client_data(
        &mut self,
        channel: ChannelId,
        ext: Option<u32>,
        data: &[u8],
        session: &mut Session,
    ) {
        let Some(key) = self.chans.get(&channel).map(|c| c.key) else {
            return;
        };
        let bytes = Bytes::copy_from_slice(data);
        let ev = Event::Data {
            key,
            dir: Direction::Inbound,
            time: Timestamp::now(),
            data: bytes.clone(),
        };
        if !self.record(session, ev).await {
            return;
        }
        if let Some(c) = self.chans.get(&channel) {
            let _ = match ext {
                None => c.up.data_bytes(bytes).await,
                Some(code) => c.up.extended_data_bytes(code, bytes).await,
            };
        }
    }

    /// Records a client request and forwards it; `forward` sends it upstream. When
    /// `wants_reply`, waits for the upstream's answer and passes it on.
    pub(super) async fn relay_request<F, Fut>(
        &mut self,
        channel: ChannelId,
        req: Request,
        wants_reply: bool,
        session: &mut Session,
        forward: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce(ChannelWriteHalf<client::Msg>) -> Fut,
        Fut:
            std::future::Future<Output = (ChannelWriteHalf<client::Msg>, Result<(), russh::Error>)>,
    {
        let Some(key) = self.chans.get(&channel).map(|c| c.key) else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        if !self.record_request(session, key, req).await {
            return Ok(());
        }
        let Some(c) = self.chans.remove(&channel) else {
            return Ok(());
        };
        let Chan {
            key,
            up,
            mut replies,
        } = c;
        let (up, sent) = forward(up).await;
        let ok = if sent.is_err() {
            false
        } else if wants_reply {
            matches!(
                tokio::time::timeout(REPLY_TIMEOUT, replies.recv()).await,
                Ok(Some(true))
            )
        } else {
            true
        };
        self.chans.insert(channel, Chan { key, up, replies });
        if wants_reply {
            if ok {
                session.channel_success(channel)?;
            } else {
                session.channel_failure(channel)?;
            }
        }
        Ok(())
    }

    /// Records a client request on the channel with recording key `key`; false when the
    /// recording failed.
    pub(super) async fn record_request(
        &mut self,
        session: &mut Session,
        key: u64,
        req: Request,
    ) -> bool {
        let ev = Event::Request {
            key,
            dir: Direction::Inbound,
            time: Timestamp::now(),
            req,
        };
        self.record(session, ev).await
    }

    /// Records a connection-level request; false when the recording failed.
    pub(super) async fn record_conn(&mut self, session: &mut Session, req: Request) -> bool {
        self.record(
            session,
            Event::ConnRequest {
                dir: Direction::Inbound,
                time: Timestamp::now(),
                req,
            },
        )
        .await
    }
}

/// The kind of channel a client opens.
pub(super) enum OpenKind {
    Session,
    DirectTcpip(DirectTcpip),
}
