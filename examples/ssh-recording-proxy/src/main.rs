//! `ssh-recording-proxy`: a recording SSH proxy built on russh and bsr-core's writer API.
//!
//! The client connects to the proxy, which authenticates it by public key, connects to the
//! upstream `sshd` with its own key and relays every channel both ways while writing a signed
//! BSR recording per TCP connection. See the README next to this file.

mod proxy;
mod recorder;

use anyhow::Context;
use bsr_core::keys::{AeadWrapper, KeyWrapper, RecorderKey};
use bsr_core::store::{FsStore, WriteStore};
use clap::Parser;
use recorder::{FailingStore, Fault, RecordingConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "ssh-recording-proxy",
    version,
    about = "A recording SSH proxy: relays OpenSSH sessions to an upstream sshd and records them as signed BSR recordings"
)]
struct Cli {
    /// Address to listen on (port 0: any free port; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:2222")]
    listen: String,
    /// The proxy's SSH host key (OpenSSH private key file).
    #[arg(long, value_name = "FILE")]
    host_key: PathBuf,
    /// Client public keys allowed in (authorized_keys format).
    #[arg(long, value_name = "FILE")]
    authorized_keys: PathBuf,
    /// The upstream sshd, `host:port`.
    #[arg(long, value_name = "HOST:PORT")]
    upstream: String,
    /// The proxy's private key for the upstream sshd.
    #[arg(long, value_name = "FILE")]
    upstream_key: PathBuf,
    /// The upstream sshd's host public key (`.pub`): pinned, any other key is refused.
    #[arg(long, value_name = "FILE")]
    upstream_host_key: PathBuf,
    /// User on the upstream server (default: the user the client logged in as).
    #[arg(long)]
    upstream_user: Option<String>,
    /// Folder the recordings (`sr_….bsr`) are written to.
    #[arg(long, value_name = "DIR", required_unless_present = "no_record")]
    recordings: Option<PathBuf>,
    /// AEAD key-encryption key file (32 bytes raw, hex or base64): wraps each recording's keys.
    #[arg(long, value_name = "FILE", required_unless_present = "no_record")]
    kek: Option<PathBuf>,
    /// Recorder attestation key (hex seed): each recording gets a recorder attestation.
    #[arg(long, value_name = "FILE")]
    recorder_key: Option<PathBuf>,
    /// Relay without recording (for comparisons).
    #[arg(long, conflicts_with_all = ["recordings", "kek", "recorder_key"])]
    no_record: bool,
    /// Byte budget of the queue between relaying and the recorder, in KiB.
    #[arg(long, default_value_t = 16 * 1024, value_name = "KIB")]
    record_buffer_kib: usize,
    /// Seconds relaying may wait for a full recorder queue before the recording (and the
    /// session) fails.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    record_stall_timeout: u64,
    /// Milliseconds between syncs that make recorded data durable (0: only at the end).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    sync_interval_ms: u64,
    /// Testing only: make the recording storage fail after this many bytes.
    #[arg(long, hide = true, value_name = "BYTES")]
    fail_recording_after_bytes: Option<u64>,
    /// Testing only: make the recording storage hang after this many bytes.
    #[arg(long, hide = true, value_name = "BYTES")]
    stall_recording_after_bytes: Option<u64>,
}

fn load_authorized(path: &std::path::Path) -> anyhow::Result<Vec<russh::keys::PublicKey>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `[options] type base64 [comment]`: the base64 blob follows the key type.
        let fields: Vec<&str> = line.split_whitespace().collect();
        let blob = fields
            .windows(2)
            .find(|w| w[0].starts_with("ssh-") || w[0].starts_with("ecdsa-"))
            .map(|w| w[1])
            .with_context(|| format!("{}:{}: no key", path.display(), i + 1))?;
        keys.push(
            russh::keys::parse_public_key_base64(blob)
                .with_context(|| format!("{}:{}: bad key", path.display(), i + 1))?,
        );
    }
    if keys.is_empty() {
        anyhow::bail!("{}: no keys", path.display());
    }
    Ok(keys)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let host_key = russh::keys::load_secret_key(&cli.host_key, None)
        .with_context(|| format!("host key {}", cli.host_key.display()))?;
    let upstream_key = russh::keys::load_secret_key(&cli.upstream_key, None)
        .with_context(|| format!("upstream key {}", cli.upstream_key.display()))?;
    let upstream_host_key = russh::keys::load_public_key(&cli.upstream_host_key)
        .with_context(|| format!("upstream host key {}", cli.upstream_host_key.display()))?;
    let authorized = load_authorized(&cli.authorized_keys)?;

    let recording = match (&cli.recordings, &cli.kek) {
        (Some(dir), Some(kek)) if !cli.no_record => {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
            let wrapper: Arc<dyn KeyWrapper> = Arc::new(
                AeadWrapper::from_kek_file(kek)
                    .with_context(|| format!("reading KEK {}", kek.display()))?,
            );
            let recorder_key = match &cli.recorder_key {
                Some(p) => {
                    Some(Arc::new(RecorderKey::from_file(p).with_context(|| {
                        format!("reading recorder key {}", p.display())
                    })?))
                }
                None => None,
            };
            let mut store: Arc<dyn WriteStore> = Arc::new(FsStore::new(dir));
            if let Some(n) = cli.fail_recording_after_bytes {
                store = Arc::new(FailingStore::new(store, n, Fault::Fail));
            }
            if let Some(n) = cli.stall_recording_after_bytes {
                store = Arc::new(FailingStore::new(store, n, Fault::Stall));
            }
            Some(RecordingConfig {
                store,
                wrapper,
                recorder_key,
                budget_bytes: cli.record_buffer_kib.max(512) * 1024,
                stall_timeout: Duration::from_secs(cli.record_stall_timeout.max(1)),
                sync_interval: Duration::from_millis(cli.sync_interval_ms),
            })
        }
        _ => None,
    };
    let recording_note = match &cli.recordings {
        Some(d) if recording.is_some() => format!("recording to {}", d.display()),
        _ => "NOT recording (--no-record)".to_string(),
    };

    let cfg = Arc::new(proxy::ProxyConfig {
        upstream: cli.upstream.clone(),
        upstream_user: cli.upstream_user.clone(),
        upstream_key: Arc::new(upstream_key),
        upstream_host_key,
        authorized,
        recording,
    });
    let server_cfg = Arc::new(russh::server::Config {
        keys: vec![host_key],
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    });

    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .with_context(|| format!("listening on {}", cli.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    eprintln!(
        "ssh-recording-proxy: listening on {addr}, upstream {}, {recording_note}",
        cli.upstream
    );
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("ssh-recording-proxy: accept: {e}");
                        continue;
                    }
                };
                tokio::spawn(proxy::serve(server_cfg.clone(), cfg.clone(), stream, Some(peer)));
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("ssh-recording-proxy: interrupted");
                return Ok(());
            }
        }
    }
}
