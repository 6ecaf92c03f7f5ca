//! The serve loop of one client connection: runs the server handler, ends the session when
//! the recording fails, and at the end closes the upstream, waits for the channel tasks and
//! finishes (or leaves unfinished) the recording.

use super::conn::Conn;
use super::state::Shared;
use super::{ProxyConfig, lock};
use russh::{Disconnect, server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

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
