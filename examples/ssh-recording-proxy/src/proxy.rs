//! The SSH side: a russh server facing the client, a russh client facing the upstream
//! `sshd`, and the relaying between them.
//!
//! Client → upstream traffic arrives in the server handler's callbacks ([`handler`]), which
//! record it and forward it on the upstream channel ([`conn`]). Requests that want a reply are
//! forwarded with `want_reply` and the callback waits for the upstream's answer before
//! answering the client, so the client sees the real server's verdict. Upstream → client
//! traffic is read by one task per channel ([`channels`]), which records it and writes it to
//! the client channel (waiting for the client's window: SSH flow control stays end to end).
//! The upstream client ([`upstream`]) checks the pinned host key and relays the upstream's
//! own requests; [`state`] is what these share, and [`serve`] runs one connection to its end.
//!
//! Every request is recorded as the typed BSR request built from russh's values
//! ([`requests`]). Requests russh has no method for reach the proxy through the hooks of the
//! vendored russh fork (`vendor/russh/PATCHES.md`) as a name and a raw payload; each is
//! recorded as what BSR knows it as (an unknown request with its raw payload, for most),
//! relayed, and answered with the peer's real answer.

mod channels;
mod conn;
mod handler;
mod requests;
mod serve;
mod state;
mod upstream;

pub use serve::serve;

use crate::recorder::RecordingConfig;
use russh::keys::{PrivateKey, PublicKey};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Locks `m`, going on after a panic of another holder (the state stays usable).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
