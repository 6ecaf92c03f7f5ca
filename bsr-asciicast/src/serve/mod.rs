//! `serve`: a small read-only web server over folders of recordings and `s3://` prefixes
//! (docs/SERVE.md).
//!
//! * **Session Logs** (`/`): who, what, where, when, duration, verdict and findings of every
//!   recording, filtered by user, target, time range and verdict, in pages; its search box runs
//!   the text view's search ([`crate::search`]). Facts come from `bsr-verify`'s facts, kept in
//!   a cache ([`catalog`]) keyed so that a changed recording is read again.
//! * **Replay** (`/sessions/{id}`): the HTML evidence page ([`crate::html`]) with its cast
//!   fetched from the server as it is converted (a streaming body), and `?t=T` opens it at T
//!   from a keyframe ([`keyframe`]) instead of replaying from the start.
//! * **API** (`/api/v1/…`): JSON for SIEMs.
//! * **Live** (`/live/{id}`): a recording in a local folder that is still being written,
//!   followed as it grows and streamed to asciinema-player as Server-Sent Events; a viewer
//!   who joins late first gets the current screen ([`live`]).
//!
//! Security: loopback only unless a bearer token is configured ([`check_listen`]); GET and HEAD
//! only; ids resolved against the listing, never joined into paths; a strict
//! Content-Security-Policy on every response; request heads bounded in size and time; every
//! content view goes through the verification gate ([`crate::verified`]).

pub mod catalog;
pub mod disk;
pub mod keyframe;
pub mod live;
mod pages;
pub mod query;
mod routes;
mod security;
pub mod stream;

pub use catalog::Catalog;
pub use routes::router;
pub use security::{Token, check_listen};

use crate::verified::GateOptions;
use bsr_verify::target::S3Flags;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Longest a client may take to send a request's head (slow clients are cut off).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head, bytes (larger gets `431`, or the connection closed).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest a handler may take before its response starts.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest cast the server converts for one channel (the cast is streamed, so this bounds
/// the work a decompression bomb can cause, not memory): 64 GiB.
pub const MAX_CAST_BYTES: u64 = 64 << 30;
/// Largest channel output whose transcript and commands the replay page lists (larger: the
/// API's `/text` and `/commands` stream them): 64 MiB.
pub const MAX_PAGE_TEXT_BYTES: u64 = 64 << 20;
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// How to serve.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Folders, `*.bsr` folders and `s3://bucket/prefix` targets.
    pub targets: Vec<String>,
    /// S3 settings for `s3://` targets.
    pub s3: S3Flags,
    /// Verification (trust anchors).
    pub gate: GateOptions,
    /// The bearer token clients must send (`--token-file`); required off loopback.
    pub token: Option<Token>,
    /// Fill the facts cache in the background from the start.
    pub warm: bool,
    /// Longest a client may take to send a request head (`None`: [`HEADER_TIMEOUT`]).
    pub header_timeout: Option<Duration>,
    /// Live view: how long an unfinished recording may stay unchanged before its writer is
    /// taken to be gone (`None`: [`live::WRITER_TIMEOUT`]).
    pub live_writer_timeout: Option<Duration>,
    /// List the targets again this often, adding recordings that appeared since
    /// ([`Catalog::refresh`]); `None`: only when a request names an unknown id.
    pub rescan: Option<Duration>,
    /// The cache on disk (`--cache-dir`): rows and keyframe checkpoints kept across restarts
    /// ([`disk`]).
    pub cache: Option<CacheOptions>,
    /// Output between two keyframe checkpoints (`None`: [`keyframe::CHECKPOINT_BYTES`]).
    pub checkpoint_bytes: Option<u64>,
    /// Search indexes (`bsr-asciicast index`, one or one per shard) that the search box
    /// queries for the recordings they hold in their current state (the others are scanned).
    pub indexes: Vec<std::path::PathBuf>,
}

/// The server's cache on disk ([`disk`]).
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// The folder (created with mode `0700` if missing; refused if others can write to it).
    pub dir: std::path::PathBuf,
    /// Names the trust anchors of [`ServeOptions::gate`] (e.g. a hash of the key files): a
    /// row is a verdict under given anchors, so rows cached under other anchors are not used.
    pub anchors: [u8; 32],
}

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A target could not be resolved.
    #[error("{target}: {message}")]
    Target {
        /// The target.
        target: String,
        /// Why.
        message: String,
    },
    /// The listen address is not loopback and no token was given.
    #[error(
        "{0}: refusing to listen on a non-loopback address without --token-file (anyone who can reach it could read the recordings)"
    )]
    Exposed(SocketAddr),
    /// The token file.
    #[error("token file {path}: {message}")]
    TokenFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No such recording (or channel).
    #[error("no such recording")]
    NotFound,
    /// A query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The verification gate refused the recording (the message names its problems).
    #[error("{0}")]
    Refused(String),
    /// Reading a recording failed.
    #[error("{0}")]
    Read(String),
    /// The request does not fit the recording's state (live view of a finished recording).
    #[error("{0}")]
    Conflict(String),
    /// Too many at once (live viewers).
    #[error("{0}")]
    Busy(String),
    /// A search index (`--index`) cannot be opened.
    #[error("{0}")]
    Index(String),
    /// The cache folder (`--cache-dir`) cannot be used.
    #[error("cache folder {path}: {message}")]
    CacheDir {
        /// The folder.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Listening or serving.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The server's shared state.
#[derive(Debug)]
pub struct App {
    /// The recordings and caches.
    pub catalog: Catalog,
    /// The bearer token, if any.
    pub token: Option<Token>,
    /// The search indexes the search box queries.
    pub indexes: Vec<crate::search_index::SearchIndex>,
    /// Longest a client may take to send a request head.
    pub header_timeout: Duration,
    /// Live view: how long an unfinished recording may stay unchanged before its writer is
    /// taken to be gone.
    pub live_writer_timeout: Duration,
}

impl App {
    /// Resolves the targets; with `opts.warm`, starts filling the facts cache on one
    /// background thread (then, with a disk cache, the keyframe checkpoints).
    pub fn open(opts: &ServeOptions) -> Result<Arc<Self>, ServeError> {
        let app = Arc::new(App {
            catalog: Catalog::open(opts)?,
            token: opts.token.clone(),
            indexes: opts
                .indexes
                .iter()
                .map(|d| crate::search_index::SearchIndex::open(d))
                .collect::<Result<_, _>>()
                .map_err(|e| ServeError::Index(crate::human::escape(&e.to_string())))?,
            header_timeout: opts.header_timeout.unwrap_or(HEADER_TIMEOUT),
            live_writer_timeout: opts.live_writer_timeout.unwrap_or(live::WRITER_TIMEOUT),
        });
        if opts.warm {
            let a = app.clone();
            std::thread::spawn(move || {
                let n = a.catalog.len();
                for i in 0..n {
                    let _ = a.catalog.row(i);
                }
                // Then, with a disk cache, the keyframe checkpoints of every channel, so that
                // opening any recording at a time T does not wait for the emulator.
                for i in 0..n {
                    a.catalog.prepare_checkpoints(i);
                }
            });
        }
        if let Some(every) = opts.rescan.filter(|d| !d.is_zero()) {
            // Holds the catalog only weakly: the thread ends with the server.
            let weak = Arc::downgrade(&app);
            let warm = opts.warm;
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(every);
                    let Some(a) = weak.upgrade() else { return };
                    let before = a.catalog.len();
                    a.catalog.refresh_if_older(every);
                    if warm {
                        for i in before..a.catalog.len() {
                            let _ = a.catalog.row(i);
                        }
                        for i in before..a.catalog.len() {
                            a.catalog.prepare_checkpoints(i);
                        }
                    }
                }
            });
        }
        Ok(app)
    }
}

/// Serves `app` on `listener` until the process ends. Each connection: the request head must
/// arrive within the header timeout ([`HEADER_TIMEOUT`] by default) and fit in [`MAX_HEAD_BYTES`]; at most
/// [`MAX_CONNECTIONS`] are served at once.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let header_timeout = app.header_timeout;
    let router = router(app);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = listener.accept().await?;
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let svc = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .keep_alive(true);
            let _ = b.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
