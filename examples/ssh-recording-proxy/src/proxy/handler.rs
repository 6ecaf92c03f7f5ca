//! The server handler: russh's callbacks for one client connection. Authentication connects
//! the upstream and starts the recording; every channel open, data and request is recorded
//! and relayed through [`Conn`]'s relaying. Requests russh has no method for arrive through
//! the hooks of the vendored russh fork ([`server::Handler::unknown_channel_request`],
//! [`server::Handler::unknown_global_request`]) as a name and a raw payload: recorded as what
//! BSR knows them as (an unknown request with the raw payload, for most).

use super::conn::{Conn, OpenKind};
use super::requests::{self, DirectTcpip, TermSize};
use super::{REPLY_TIMEOUT, lock, upstream};
use crate::recorder::{Event, Recorder, SessionFacts, publish_failure};
use bsr_core::ssh::Request;
use bsr_core::{Direction, Timestamp};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId, Pty, Sig, server};
use std::sync::Arc;

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
        match upstream::connect(&self.cfg, self.shared.clone(), user).await {
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
            self.record_request(session, key, req).await;
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
