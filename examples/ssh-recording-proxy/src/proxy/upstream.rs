//! The client facing the upstream `sshd`: connecting and authenticating with the pinned
//! host key, recording the upstream's global requests, and relaying its channel requests
//! that russh has no method for (such as sshd's `keepalive@openssh.com`) to the client
//! through [`client::Handler::unknown_channel_request`] of the vendored russh fork.

use super::state::{MAX_EARLY_GLOBAL, Shared, UpChan};
use super::{ProxyConfig, REPLY_TIMEOUT, lock, requests};
use crate::recorder::{Event, publish_failure};
use bsr_core::{Direction, Timestamp};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelId, client};
use std::sync::Arc;

/// The upstream connection.
pub(super) type UpHandle = Arc<client::Handle<Upstream>>;

/// The upstream client handler: checks the pinned host key, relays the upstream's channel
/// requests that russh does not know to the client.
#[derive(Debug)]
pub(super) struct Upstream {
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

/// Connects to the upstream server and authenticates there with the proxy's key, as the
/// configured upstream user (default: the client's `user`).
pub(super) async fn connect(
    cfg: &ProxyConfig,
    shared: Arc<Shared>,
    user: &str,
) -> anyhow::Result<client::Handle<Upstream>> {
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let mut h = client::connect(
        config,
        cfg.upstream.as_str(),
        Upstream {
            expected: cfg.upstream_host_key.clone(),
            shared,
        },
    )
    .await?;
    let upstream_user = cfg.upstream_user.as_deref().unwrap_or(user);
    let r = h
        .authenticate_publickey(
            upstream_user,
            PrivateKeyWithHashAlg::new(cfg.upstream_key.clone(), None),
        )
        .await?;
    if !r.success() {
        anyhow::bail!(
            "the upstream server {} refused the proxy's key for user {upstream_user:?}",
            cfg.upstream
        );
    }
    Ok(h)
}
