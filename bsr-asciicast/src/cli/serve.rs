//! `bsr-asciicast serve TARGET... [--listen ADDR] [--token-file FILE]` (docs/SERVE.md).

use anyhow::Context;
use bsr_asciicast::serve::{App, CacheOptions, ServeOptions, Token, check_listen, disk, serve};
use bsr_asciicast::verified::GateOptions;
use bsr_verify::target::S3Flags;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Folders of recordings, recording folders (`*.bsr`) or `s3://bucket/prefix`.
    #[arg(required = true)]
    targets: Vec<String>,
    /// Address to listen on. Anything but loopback needs --token-file.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// File holding the bearer token clients must send (`Authorization: Bearer TOKEN`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// AEAD key-encryption key file: checks the KMS binding (verdict `authentic`).
    #[arg(long)]
    kek: Option<PathBuf>,
    /// Trusted recorder public key(s) or recorder key file: checks the recorder attestation.
    #[arg(long)]
    recorder_key: Option<PathBuf>,
    /// S3 endpoint URL (for `s3://` targets).
    #[arg(long)]
    endpoint: Option<String>,
    /// S3 region.
    #[arg(long)]
    region: Option<String>,
    /// Do not fill the facts cache in the background (rows are read when first shown).
    #[arg(long)]
    no_warm: bool,
    /// Live view: seconds without any change in an unfinished recording after which its
    /// writer is taken to be gone (the stream says "offline" and ends). Longer than the idle
    /// time sessions are allowed.
    #[arg(long, default_value_t = 600.0)]
    live_writer_timeout: f64,
    /// Seconds between two listings of the targets, which add the recordings that appeared
    /// since (0: never; an unknown id in a request also lists them again, at most once a
    /// second).
    #[arg(long, default_value_t = 30.0)]
    rescan: f64,
    /// Keep the list's rows and the keyframe checkpoints in this folder across restarts
    /// (created with mode 0700; refused if others can write to it). Without it, they are kept
    /// in memory only.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// A search index (`bsr-asciicast index DIR ...`; repeat for one per shard): the search
    /// box answers from it for the recordings it holds in their current state, and scans the
    /// others.
    #[arg(long = "index", value_name = "DIR")]
    indexes: Vec<PathBuf>,
}

/// Serves until killed.
pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    if !(a.live_writer_timeout.is_finite() && a.live_writer_timeout > 0.0) {
        anyhow::bail!("--live-writer-timeout must be a positive number of seconds");
    }
    if !(a.rescan.is_finite() && a.rescan >= 0.0) {
        anyhow::bail!("--rescan must be a number of seconds (0: never)");
    }
    let token = a.token_file.as_deref().map(Token::from_file).transpose()?;
    check_listen(a.listen, token.as_ref())?;
    // The trust anchors are part of a cached row's key: a verdict holds under given anchors.
    let read = |p: &Option<PathBuf>| -> anyhow::Result<Vec<u8>> {
        Ok(match p {
            Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            None => Vec::new(),
        })
    };
    let (kek_bytes, recorder_bytes) = (read(&a.kek)?, read(&a.recorder_key)?);
    let cache = a.cache_dir.map(|dir| CacheOptions {
        dir,
        anchors: disk::key(&[b"kek", &kek_bytes, b"recorder", &recorder_bytes]),
    });
    let opts = ServeOptions {
        targets: a.targets,
        s3: S3Flags {
            endpoint: a.endpoint,
            region: a.region,
        },
        gate: GateOptions::from_key_files(a.kek.as_deref(), a.recorder_key.as_deref())?,
        token,
        warm: !a.no_warm,
        header_timeout: None,
        live_writer_timeout: Some(std::time::Duration::from_secs_f64(
            a.live_writer_timeout.min(1e9),
        )),
        rescan: (a.rescan > 0.0).then(|| std::time::Duration::from_secs_f64(a.rescan.min(1e9))),
        cache,
        checkpoint_bytes: None,
        indexes: a.indexes,
    };
    let app = App::open(&opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "bsr-asciicast serve: {} recording(s) on http://{addr}/",
            app.catalog.len()
        );
        serve(listener, app).await?;
        Ok::<_, anyhow::Error>(0)
    })
}
