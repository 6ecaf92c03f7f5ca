//! The connection state: what a connection's server handler, its upstream client, its
//! channel tasks and its supervisor share, and what the handler keeps per channel.

use super::upstream::UpHandle;
use crate::recorder::Recorder;
use bsr_core::Timestamp;
use bsr_core::ssh::Request;
use russh::{ChannelId, ChannelWriteHalf, client, server};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// State shared between a connection's handler and its supervisor.
pub(super) struct Shared {
    /// The first recording failure.
    pub(super) failed: Arc<watch::Sender<Option<String>>>,
    /// The upstream connection, once authenticated.
    pub(super) upstream: Mutex<Option<UpHandle>>,
    /// The recorder, once the recording exists.
    pub(super) recorder: Mutex<Option<Recorder>>,
    /// The per-channel upstream reader tasks.
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The channels by their upstream id, for relaying the upstream's channel requests.
    pub(super) up_chans: Mutex<HashMap<ChannelId, UpChan>>,
    /// Global requests of the upstream that came before the recording existed (sshd sends
    /// `hostkeys-00@openssh.com` right after the proxy authenticates, before the client's
    /// authentication completes); written to the recording as soon as it exists.
    pub(super) early_global: Mutex<Vec<(Timestamp, Request)>>,
}

/// Most upstream global requests kept while the recording does not exist yet; one more fails
/// the recording rather than leaving it out.
pub(super) const MAX_EARLY_GLOBAL: usize = 64;

/// What relaying a request of the upstream on one channel needs.
#[derive(Clone)]
pub(super) struct UpChan {
    /// The client side's channel.
    pub(super) client: ChannelId,
    /// The recording's channel key.
    pub(super) key: u64,
    /// The client connection.
    pub(super) handle: server::Handle,
    /// The client's answers to requests sent on the channel.
    pub(super) replies: Arc<tokio::sync::Mutex<mpsc::Receiver<bool>>>,
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
    pub(super) fn new() -> Arc<Self> {
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

/// A client channel's upstream side.
pub(super) struct Chan {
    /// The recording's channel key.
    pub(super) key: u64,
    /// The upstream channel, for forwarding.
    pub(super) up: ChannelWriteHalf<client::Msg>,
    /// The upstream's answers to requests forwarded on the channel.
    pub(super) replies: mpsc::Receiver<bool>,
}
