//! The SSH side: a russh server facing the client, a russh client facing the upstream
//! `sshd`, and the relaying between them.
//!
//! Client → upstream traffic arrives in the server [`Handler`] callbacks, which record it and
//! forward it on the upstream channel. Requests that want a reply are forwarded with
//! `want_reply` and the callback waits for the upstream's answer before answering the client,
//! so the client sees the real server's verdict. Upstream → client traffic is read by one
//! task per channel ([`upstream_reader`]), which records it and writes it to the client
//! channel (waiting for the client's window: SSH flow control stays end to end).
//!
//! Requests russh has no method for reach the proxy through the hooks of the vendored russh
//! fork (`vendor/russh/PATCHES.md`): client channel and global requests through
//! [`server::Handler::unknown_channel_request`] and [`server::Handler::unknown_global_request`],
//! upstream channel requests (such as sshd's `keepalive@openssh.com`) through
//! [`client::Handler::unknown_channel_request`]. Each is recorded as what BSR knows it as
//! (an unknown request with its raw payload, for most), relayed, and answered with the
//! peer's real answer.

mod requests;

use crate::recorder::{Event, Recorder, RecordingConfig, SessionFacts, publish_failure};
use bsr_core::ssh::Request;
use bsr_core::{Direction, Timestamp};
use bytes::Bytes;
use requests::{DirectTcpip, OpenFields, TermSize};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{
    Channel, ChannelId, ChannelMsg, ChannelOpenFailure, ChannelReadHalf, ChannelWriteHalf,
    Disconnect, Pty, Sig, client, server,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How long a forwarded request may wait for the upstream's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the proxy needs to serve a connection.
#[derive(Debug)]
pub struct ProxyConfig {
    /// `host:port` of the upstream `sshd`.
    pub upstream: String,
    /// User on the upstream server (default: the client's user).
    pub upstream_user: Option<String>,
    /// The proxy's identity towards the upstream server.
    pub upstream_key: Arc<PrivateKey>,
    /// The upstream server's host key (pinned).
    pub upstream_host_key: PublicKey,
    /// Client keys allowed in.
    pub authorized: Vec<PublicKey>,
    /// Recording, unless `--no-record`.
    pub recording: Option<RecordingConfig>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The upstream client handler: checks the pinned host key, relays the upstream's channel
/// requests that russh does not know to the client.
#[derive(Debug)]
pub struct Upstream {
    expected: PublicKey,
    shared: Arc<Shared>,
}

/// Relays one upstream channel request to the client and passes the client's answer back
/// upstream. Runs in its own task, so the upstream connection is not held up meanwhile.
async fn relay_to_client(
    c: UpChan,
    up: UpHandle,
    up_id: ChannelId,
    request_type: String,
    want_reply: bool,
    data: Vec<u8>,
) {
    // One request at a time per channel, so that each answer goes with its request.
    let mut replies = c.replies.lock().await;
    while replies.try_recv().is_ok() {}
    let sent = c
        .handle
        .channel_request_raw(c.client, want_reply, request_type, data)
        .await
        .is_ok();
    if want_reply {
        let ok = sent
            && matches!(
                tokio::time::timeout(REPLY_TIMEOUT, replies.recv()).await,
                Ok(Some(true))
            );
        let _ = if ok {
            up.channel_success(up_id).await
        } else {
            up.channel_failure(up_id).await
        };
    }
}

impl client::Handler for Upstream {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => {
                key.key_data() == self.expected.key_data()
            }
            russh::keys::PublicKeyOrCertificate::Certificate(_) => false,
        })
    }

    /// The upstream's global requests (keepalives, `hostkeys-00@openssh.com`, any other) are
    /// about the upstream hop, so they are recorded (outbound, in the connection's requests)
    /// and answered by russh as before, not relayed: the client must not learn the upstream's
    /// host keys as the proxy's.
    async fn global_request_observed(
        &mut self,
        request_type: &str,
        want_reply: bool,
        data: &[u8],
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let req = requests::wire(request_type, want_reply, data);
        let time = Timestamp::now();
        // Checked under the early list's lock, which `auth_succeeded` holds while it installs
        // the recorder and takes the list: a request is either kept or sent, never lost.
        let mut early = lock(&self.shared.early_global);
        let rec = lock(&self.shared.recorder).clone();
        match rec {
            Some(rec) => {
                drop(early);
                let _ = rec
                    .send(Event::ConnRequest {
                        dir: Direction::Outbound,
                        time,
                        req,
                    })
                    .await;
            }
            None => {
                if early.len() < MAX_EARLY_GLOBAL {
                    early.push((time, req));
                } else {
                    drop(early);
                    publish_failure(
                        &self.shared.failed,
                        "more upstream global requests than can be kept before the recording starts"
                            .into(),
                    );
                }
            }
        }
        Ok(())
    }

    async fn unknown_channel_request(
        &mut self,
        channel: ChannelId,
        request_type: &str,
        want_reply: bool,
        data: &[u8],
        _session: &mut client::Session,
    ) -> Result<bool, Self::Error> {
        let found = lock(&self.shared.up_chans).get(&channel).cloned();
        let up = lock(&self.shared.upstream).clone();
        let (Some(c), Some(up)) = (found, up) else {
            return Ok(false);
        };
        let rec = lock(&self.shared.recorder).clone();
        if let Some(rec) = rec {
            let ev = Event::Request {
                key: c.key,
                dir: Direction::Outbound,
                time: Timestamp::now(),
                req: requests::wire(request_type, want_reply, data),
            };
            if rec.send(ev).await.is_err() {
                // A recording failure: the supervisor ends the session; relay nothing.
                if want_reply {
                    let _ = up.channel_failure(channel).await;
                }
                return Ok(true);
            }
        }
        let task = tokio::spawn(relay_to_client(
            c,
            up,
            channel,
            request_type.to_string(),
            want_reply,
            data.to_vec(),
        ));
        let mut tasks = lock(&self.shared.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(true)
    }
}

type UpHandle = Arc<client::Handle<Upstream>>;

/// State shared between a connection's handler and its supervisor.
pub struct Shared {
    /// The first recording failure.
    pub failed: Arc<watch::Sender<Option<String>>>,
    /// The upstream connection, once authenticated.
    pub upstream: Mutex<Option<UpHandle>>,
    /// The recorder, once the recording exists.
    pub recorder: Mutex<Option<Recorder>>,
    /// The per-channel upstream reader tasks.
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The channels by their upstream id, for relaying the upstream's channel requests.
    up_chans: Mutex<HashMap<ChannelId, UpChan>>,
    /// Global requests of the upstream that came before the recording existed (sshd sends
    /// `hostkeys-00@openssh.com` right after the proxy authenticates, before the client's
    /// authentication completes); written to the recording as soon as it exists.
    early_global: Mutex<Vec<(Timestamp, Request)>>,
}

/// Most upstream global requests kept while the recording does not exist yet; one more fails
/// the recording rather than leaving it out.
const MAX_EARLY_GLOBAL: usize = 64;

/// What relaying a request of the upstream on one channel needs.
#[derive(Clone)]
struct UpChan {
    /// The client side's channel.
    client: ChannelId,
    /// The recording's channel key.
    key: u64,
    /// The client connection.
    handle: server::Handle,
    /// The client's answers to requests sent on the channel.
    replies: Arc<tokio::sync::Mutex<mpsc::Receiver<bool>>>,
}

impl std::fmt::Debug for UpChan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpChan")
            .field("client", &self.client)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Fresh state.
    pub fn new() -> Arc<Self> {
        let (tx, _) = watch::channel(None);
        Arc::new(Shared {
            failed: Arc::new(tx),
            upstream: Mutex::new(None),
            recorder: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            early_global: Mutex::new(Vec::new()),
            up_chans: Mutex::new(HashMap::new()),
        })
    }
}

struct Chan {
    key: u64,
    up: ChannelWriteHalf<client::Msg>,
    replies: mpsc::Receiver<bool>,
}

/// The server handler of one client connection.
pub struct Conn {
    cfg: Arc<ProxyConfig>,
    peer: Option<SocketAddr>,
    shared: Arc<Shared>,
    user: String,
    upstream: Option<UpHandle>,
    rec: Option<Recorder>,
    chans: HashMap<ChannelId, Chan>,
    /// The session is being ended because recording failed: relay nothing more.
    dead: bool,
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
    pub fn new(cfg: Arc<ProxyConfig>, peer: Option<SocketAddr>, shared: Arc<Shared>) -> Self {
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

    fn is_authorized(&self, key: &PublicKey) -> bool {
        self.cfg
            .authorized
            .iter()
            .any(|k| k.key_data() == key.key_data())
    }

    /// Records an event; on failure ends the session with the reason and returns false.
    async fn record(&mut self, session: &mut Session, ev: Event) -> bool {
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

    fn end_for_recording(&mut self, session: &mut Session, msg: &str) {
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

    fn who(&self) -> String {
        match self.peer {
            Some(p) => format!("{}@{p}", self.user),
            None => self.user.clone(),
        }
    }

    async fn connect_upstream(&self, user: &str) -> anyhow::Result<client::Handle<Upstream>> {
        let config = Arc::new(client::Config {
            nodelay: true,
            ..Default::default()
        });
        let mut h = client::connect(
            config,
            self.cfg.upstream.as_str(),
            Upstream {
                expected: self.cfg.upstream_host_key.clone(),
                shared: self.shared.clone(),
            },
        )
        .await?;
        let upstream_user = self.cfg.upstream_user.as_deref().unwrap_or(user);
        let r = h
            .authenticate_publickey(
                upstream_user,
                PrivateKeyWithHashAlg::new(self.cfg.upstream_key.clone(), None),
            )
            .await?;
        if !r.success() {
            anyhow::bail!(
                "the upstream server {} refused the proxy's key for user {upstream_user:?}",
                self.cfg.upstream
            );
        }
        Ok(h)
    }

    /// Opens the matching upstream channel, records the open and starts the reader task.
    async fn open_channel(
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

    /// Records a client request and forwards it; `forward` sends it upstream. When
    /// `wants_reply`, waits for the upstream's answer and passes it on.
    /// Records client data (`ext`: the extended-data code, for stderr-like streams) and, once
    /// it is in the recording, forwards it upstream, waiting for the upstream window so that
    /// back-pressure reaches the client.
    async fn relay_client_data(
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

    async fn relay_request<F, Fut>(
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
        if !self
            .record(
                session,
                Event::Request {
                    key,
                    dir: Direction::Inbound,
                    time: Timestamp::now(),
                    req,
                },
            )
            .await
        {
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
}

/// Reads the client side of a channel for the client's answers to the requests the proxy
/// relayed to it (everything else on it is also handed to the handler callbacks).
async fn client_replies_reader(mut client: ChannelReadHalf, replies: mpsc::Sender<bool>) {
    while let Some(msg) = client.wait().await {
        match msg {
            ChannelMsg::Success => {
                let _ = replies.try_send(true);
            }
            ChannelMsg::Failure => {
                let _ = replies.try_send(false);
            }
            _ => {}
        }
    }
}

enum OpenKind {
    Session,
    DirectTcpip(DirectTcpip),
}

impl server::Handler for Conn {
    type Error = anyhow::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(if self.is_authorized(offer.public_key) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if !self.is_authorized(key.public_key) {
            return Ok(Auth::reject());
        }
        self.user = user.to_string();
        match self.connect_upstream(user).await {
            Ok(h) => {
                let h = Arc::new(h);
                *lock(&self.shared.upstream) = Some(h.clone());
                self.upstream = Some(h);
                Ok(Auth::Accept)
            }
            Err(e) => {
                eprintln!("ssh-recording-proxy: {}: upstream: {e:#}", self.who());
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        let Some(rc) = self.cfg.recording.clone() else {
            return Ok(());
        };
        let facts = SessionFacts {
            user: self.user.clone(),
            endpoint: format!("ssh://{}", self.cfg.upstream),
        };
        match Recorder::start(&rc, facts, self.shared.failed.clone()).await {
            Ok(r) => {
                eprintln!(
                    "ssh-recording-proxy: {}: recording to {}",
                    self.who(),
                    r.dir
                );
                let early: Vec<(Timestamp, Request)> = {
                    let mut early = lock(&self.shared.early_global);
                    *lock(&self.shared.recorder) = Some(r.clone());
                    std::mem::take(&mut *early)
                };
                for (time, req) in early {
                    let ev = Event::ConnRequest {
                        dir: Direction::Outbound,
                        time,
                        req,
                    };
                    if let Err(msg) = r.send(ev).await {
                        self.end_for_recording(session, &msg);
                        break;
                    }
                }
                self.rec = Some(r);
            }
            Err(e) => {
                let msg = format!("{e:#}");
                publish_failure(&self.shared.failed, msg.clone());
                self.end_for_recording(session, &msg);
            }
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.open_channel(channel, reply, session, OpenKind::Session)
            .await
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.open_channel(
            channel,
            reply,
            session,
            OpenKind::DirectTcpip(DirectTcpip {
                host: host_to_connect.to_string(),
                port: port_to_connect,
                orig_addr: originator_address.to_string(),
                orig_port: originator_port,
            }),
        )
        .await
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.relay_client_data(channel, None, data, session).await;
        Ok(())
    }

    async fn extended_data(
        &mut self,
        channel: ChannelId,
        code: u32,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.relay_client_data(channel, Some(code), data, session)
            .await;
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.chans.get(&channel) {
            let _ = c.up.eof().await;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.chans.remove(&channel) {
            let _ = c.up.close().await;
            self.record(
                session,
                Event::Closed {
                    key: c.key,
                    client_side: true,
                    time: Timestamp::now(),
                },
            )
            .await;
        }
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        pix_width: u32,
        pix_height: u32,
        modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let size = TermSize {
            cols: col_width,
            rows: row_height,
            pix_width,
            pix_height,
        };
        let req = requests::pty(
            session.channel_request_wants_reply(channel),
            term,
            size,
            modes,
        );
        let term = term.to_string();
        let modes: Vec<(Pty, u32)> = modes
            .iter()
            .copied()
            .filter(|(c, _)| *c != Pty::TTY_OP_END)
            .collect();
        self.relay_request(channel, req, true, session, move |up| async move {
            let r = up
                .request_pty(
                    true, &term, col_width, row_height, pix_width, pix_height, &modes,
                )
                .await;
            (up, r)
        })
        .await
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        single_connection: bool,
        x11_auth_protocol: &str,
        x11_auth_cookie: &str,
        x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Recorded, and refused: the proxy does not open X11 channels back to the client.
        let req = requests::x11(
            session.channel_request_wants_reply(channel),
            single_connection,
            x11_auth_protocol,
            x11_auth_cookie,
            x11_screen_number,
        );
        self.relay_request(channel, req, true, session, |up| async move {
            (up, Err(russh::Error::Inconsistent))
        })
        .await
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::env(
            session.channel_request_wants_reply(channel),
            variable_name,
            variable_value,
        );
        let (n, v) = (variable_name.to_string(), variable_value.to_string());
        self.relay_request(channel, req, true, session, move |up| async move {
            let r = up.set_env(true, n, v).await;
            (up, r)
        })
        .await
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::shell(session.channel_request_wants_reply(channel));
        self.relay_request(channel, req, true, session, |up| async move {
            let r = up.request_shell(true).await;
            (up, r)
        })
        .await
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::exec(session.channel_request_wants_reply(channel), data);
        let cmd = data.to_vec();
        self.relay_request(channel, req, true, session, move |up| async move {
            let r = up.exec(true, cmd).await;
            (up, r)
        })
        .await
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::subsystem(session.channel_request_wants_reply(channel), name);
        let name = name.to_string();
        self.relay_request(channel, req, true, session, move |up| async move {
            let r = up.request_subsystem(true, name).await;
            (up, r)
        })
        .await
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        pix_width: u32,
        pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::window_change(TermSize {
            cols: col_width,
            rows: row_height,
            pix_width,
            pix_height,
        });
        self.relay_request(channel, req, false, session, move |up| async move {
            let r = up
                .window_change(col_width, row_height, pix_width, pix_height)
                .await;
            (up, r)
        })
        .await
    }

    async fn agent_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        // A request without its own BSR type: recorded as an unknown request, and refused
        // (the proxy does not forward agents).
        let req = requests::agent();
        if let Some(key) = self.chans.get(&channel).map(|c| c.key) {
            self.record(
                session,
                Event::Request {
                    key,
                    dir: Direction::Inbound,
                    time: Timestamp::now(),
                    req,
                },
            )
            .await;
        }
        Ok(false)
    }

    async fn signal(
        &mut self,
        channel: ChannelId,
        signal: Sig,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let req = requests::signal(&signal);
        self.relay_request(channel, req, false, session, move |up| async move {
            let r = up.signal(signal).await;
            (up, r)
        })
        .await
    }

    async fn unknown_channel_request(
        &mut self,
        channel: ChannelId,
        request_type: &str,
        want_reply: bool,
        data: &[u8],
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        // Requests russh has no method for (`break`, the client's `xon-xoff`, vendor
        // requests): recorded (unknown ones with their raw payload) and relayed as they are.
        let req = requests::wire(request_type, want_reply, data);
        let (t, d) = (request_type.to_string(), data.to_vec());
        self.relay_request(channel, req, want_reply, session, move |up| async move {
            let r = up.request_raw(want_reply, t, d).await;
            (up, r)
        })
        .await?;
        Ok(true)
    }

    async fn unknown_global_request(
        &mut self,
        request_type: &str,
        want_reply: bool,
        data: &[u8],
        session: &mut Session,
    ) -> Result<Option<Vec<u8>>, Self::Error> {
        // Global requests russh has no method for (such as OpenSSH's keepalive@openssh.com):
        // recorded in the connection's requests and relayed upstream; the client gets the
        // upstream's answer.
        let req = requests::wire(request_type, want_reply, data);
        if !self.record_conn(session, req).await {
            return Ok(None);
        }
        let Some(up) = self.upstream.clone() else {
            return Ok(None);
        };
        let sent = up.send_global_request(request_type, data, want_reply);
        Ok(match tokio::time::timeout(REPLY_TIMEOUT, sent).await {
            Ok(Ok(Some(payload))) => Some(payload.to_vec()),
            Ok(Ok(None)) => Some(Vec::new()), // no reply wanted: none is sent
            _ => None,
        })
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        // Remote forwarding is recorded and refused (the proxy would have to open
        // forwarded-tcpip channels towards the client).
        let req = requests::tcpip_forward(session.global_request_wants_reply(), address, *port);
        self.record_conn(session, req).await;
        Ok(false)
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let req =
            requests::cancel_tcpip_forward(session.global_request_wants_reply(), address, port);
        self.record_conn(session, req).await;
        Ok(false)
    }
}

impl Conn {
    /// Records a connection-level request; false when the recording failed.
    async fn record_conn(&mut self, session: &mut Session, req: Request) -> bool {
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

/// Writes upstream data (`ext`: the extended-data code) to the client, waiting for the client's
/// window so that back-pressure reaches the upstream.
async fn write_to_client(client: &ChannelWriteHalf<Msg>, data: Bytes, ext: Option<u32>) -> bool {
    match ext {
        None => client.data_bytes(data).await.is_ok(),
        Some(ext) => client.extended_data_bytes(ext, data).await.is_ok(),
    }
}

async fn upstream_reader(
    mut up: ChannelReadHalf,
    client: ChannelWriteHalf<Msg>,
    handle: server::Handle,
    rec: Option<Recorder>,
    key: u64,
    replies: mpsc::Sender<bool>,
) {
    let id = client.id();
    let record = |ev: Event| {
        let rec = rec.clone();
        async move {
            match rec {
                Some(r) => r.send(ev).await.is_ok(),
                None => true,
            }
        }
    };
    let out = |req: Request| Event::Request {
        key,
        dir: Direction::Outbound,
        time: Timestamp::now(),
        req,
    };
    let out_data = |data: Bytes| Event::Data {
        key,
        dir: Direction::Outbound,
        time: Timestamp::now(),
        data,
    };
    while let Some(msg) = up.wait().await {
        let ok = match msg {
            ChannelMsg::Data { data } => {
                record(out_data(data.clone())).await && write_to_client(&client, data, None).await
            }
            ChannelMsg::ExtendedData { data, ext } => {
                record(out_data(data.clone())).await
                    && write_to_client(&client, data, Some(ext)).await
            }
            ChannelMsg::Eof => client.eof().await.is_ok(),
            ChannelMsg::Close => break,
            ChannelMsg::ExitStatus { exit_status } => {
                let ok = record(out(requests::exit_status(exit_status))).await;
                ok && client.exit_status(exit_status).await.is_ok()
            }
            ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                lang_tag,
            } => {
                let ok = record(out(requests::exit_signal(
                    &signal_name,
                    core_dumped,
                    &error_message,
                    &lang_tag,
                )))
                .await;
                ok && handle
                    .exit_signal_request(id, signal_name, core_dumped, error_message, lang_tag)
                    .await
                    .is_ok()
            }
            ChannelMsg::XonXoff { client_can_do } => {
                let ok = record(out(requests::xon_xoff(client_can_do))).await;
                ok && handle.xon_xoff_request(id, client_can_do).await.is_ok()
            }
            ChannelMsg::Success => {
                let _ = replies.try_send(true);
                true
            }
            ChannelMsg::Failure => {
                let _ = replies.try_send(false);
                true
            }
            _ => true,
        };
        if !ok {
            if rec.as_ref().is_some_and(|r| r.failure().is_some()) {
                // A recording failure: the supervisor ends the session with the reason. Do
                // not close the client's channel here: a client that sees its session channel
                // close exits (OpenSSH with status 255) before it reads the DISCONNECT that
                // says why.
                return;
            }
            break;
        }
    }
    let _ = client.close().await;
    if let Some(r) = &rec {
        let _ = r
            .send(Event::Closed {
                key,
                client_side: false,
                time: Timestamp::now(),
            })
            .await;
    }
}

/// Serves one client TCP connection to its end, then closes the recording: finished and
/// signed after a clean end, left unfinished after a recording failure.
pub async fn serve(
    server_cfg: Arc<server::Config>,
    cfg: Arc<ProxyConfig>,
    stream: tokio::net::TcpStream,
    peer: Option<SocketAddr>,
) {
    let _ = stream.set_nodelay(true);
    let shared = Shared::new();
    let mut failed_rx = shared.failed.subscribe();
    let handler = Conn::new(cfg, peer, shared.clone());
    let running = match server::run_stream(server_cfg, stream, handler).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ssh-recording-proxy: {peer:?}: {e:#}");
            return;
        }
    };
    let handle = running.handle();
    tokio::pin!(running);
    let mut told = false;
    let result = loop {
        tokio::select! {
            r = &mut running => break r,
            changed = failed_rx.changed(), if !told => {
                if changed.is_err() {
                    told = true;
                    continue;
                }
                let msg = failed_rx.borrow_and_update().clone();
                if let Some(msg) = msg {
                    told = true;
                    eprintln!("ssh-recording-proxy: {peer:?}: recording failed: {msg}");
                    let _ = handle
                        .disconnect(
                            Disconnect::ByApplication,
                            format!("session recording failed, the session is ended: {msg}"),
                            "en".into(),
                        )
                        .await;
                    let up = lock(&shared.upstream).clone();
                    if let Some(up) = up {
                        let _ = up.disconnect(Disconnect::ByApplication, "", "en").await;
                    }
                }
            }
        }
    };
    if let Err(e) = &result {
        // A client that goes away mid-session is a normal end; say so and go on.
        eprintln!("ssh-recording-proxy: {peer:?}: session ended: {e:#}");
    }
    let upstream = lock(&shared.upstream).take();
    if let Some(up) = &upstream {
        let _ = up
            .disconnect(Disconnect::ByApplication, "client disconnected", "en")
            .await;
    }
    lock(&shared.up_chans).clear();
    let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&shared.tasks));
    for t in tasks {
        let abort = t.abort_handle();
        if tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    drop(upstream);
    let rec = lock(&shared.recorder).take();
    if let Some(rec) = rec {
        match rec.failure() {
            Some(f) => eprintln!(
                "ssh-recording-proxy: {peer:?}: recording {} left UNFINISHED: {f}",
                rec.dir
            ),
            None => match rec.finish().await {
                Ok(dir) => eprintln!("ssh-recording-proxy: {peer:?}: recording {dir} finished"),
                Err(e) => eprintln!(
                    "ssh-recording-proxy: {peer:?}: recording {} left UNFINISHED: {e}",
                    rec.dir
                ),
            },
        }
    }
}
