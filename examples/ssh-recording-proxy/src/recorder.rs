//! The recorder: one thread per TCP connection that owns the bsr-core writers.
//!
//! Relaying tasks never touch a writer. They hand [`Event`]s to [`Recorder::send`], which
//! charges each event against a byte budget (a semaphore) and queues it for the recorder
//! thread. The thread writes with blocking I/O and gives the budget back once an event is in
//! the recording. So:
//!
//! * memory held by the queue is bounded by the budget;
//! * when the disk is slower than the network, relaying slows down to the disk's pace (the
//!   SSH windows then push back on the peers), but never waits longer than the stall timeout:
//!   a recorder that accepted nothing for that long fails the recording;
//! * any failure (a write error, a stall, the thread gone) is published once on a watch
//!   channel; the connection's supervisor then ends the SSH session with that message. The
//!   writers are dropped unfinished, so the recording stays visibly unfinished (no DONE
//!   chunks, no final signature), never "finished" over missing data.

use bsr_core::format::meta::{SessionMeta, User};
use bsr_core::keys::{KeyWrapper, RecorderKey, RecordingKeys};
use bsr_core::ssh::Request;
use bsr_core::store::WriteStore;
use bsr_core::write::{ChannelWriter, ConnectionWriter, SessionOptions, SessionWriter};
use bsr_core::{Direction, Timestamp};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};

/// Fixed cost charged per event on top of its data, so that a flood of empty events is
/// bounded too.
const EVENT_OVERHEAD: usize = 256;

/// What the recorder thread writes.
#[derive(Debug)]
pub enum Event {
    /// A channel was opened (and accepted by the upstream server).
    OpenChannel {
        /// Our channel key.
        key: u64,
        /// SSH channel type.
        channel_type: String,
        /// The channel-open record for the connection's requests file.
        open: Request,
        /// When.
        time: Timestamp,
    },
    /// Channel data.
    Data {
        /// Channel key.
        key: u64,
        /// Inbound: client → server; outbound: server → client.
        dir: Direction,
        /// When.
        time: Timestamp,
        /// The bytes.
        data: Bytes,
    },
    /// A channel request.
    Request {
        /// Channel key.
        key: u64,
        /// Direction.
        dir: Direction,
        /// When.
        time: Timestamp,
        /// The request.
        req: Request,
    },
    /// A connection-level request (global requests).
    ConnRequest {
        /// Direction.
        dir: Direction,
        /// When.
        time: Timestamp,
        /// The request.
        req: Request,
    },
    /// One side of a channel is closed; the channel container is finished when both are.
    Closed {
        /// Channel key.
        key: u64,
        /// Which side: `true` for the client side, `false` for the upstream side.
        client_side: bool,
        /// When.
        time: Timestamp,
    },
    /// The TCP connection ended: finish every container.
    Finish {
        /// When.
        time: Timestamp,
        /// Told the recording's path once it is finished and signed.
        done: oneshot::Sender<Result<String, String>>,
    },
}

impl Event {
    fn cost(&self) -> usize {
        EVENT_OVERHEAD
            + match self {
                Event::Data { data, .. } => data.len(),
                _ => 0,
            }
    }
}

/// Where and how recordings are written.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// The store (the recordings folder).
    pub store: Arc<dyn WriteStore>,
    /// The KMS that wraps each recording's keys (the AEAD KEK).
    pub wrapper: Arc<dyn KeyWrapper>,
    /// The recorder's long-term attestation key.
    pub recorder_key: Option<Arc<RecorderKey>>,
    /// Byte budget of the queue between relaying and the recorder thread.
    pub budget_bytes: usize,
    /// Longest time relaying waits for the recorder before the recording fails.
    pub stall_timeout: Duration,
    /// How often written data is made durable (zero: only when the recording is finished).
    pub sync_interval: Duration,
}

/// Facts about the session, for `session-meta.json`.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    /// The SSH user.
    pub user: String,
    /// The upstream endpoint (`ssh://host:port`).
    pub endpoint: String,
}

/// The relaying side's handle to one connection's recorder thread.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: std::sync::mpsc::Sender<(Event, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    stall: Duration,
    failed: Arc<watch::Sender<Option<String>>>,
    next_key: Arc<AtomicU64>,
    /// The recording's folder (relative to the store root).
    pub dir: String,
}

/// A fresh id `<prefix>_<hex>`: time, process id and a counter, unique within a proxy run and
/// practically unique across runs.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = Timestamp::now().as_nanos();
    format!(
        "{prefix}_{:x}{:x}{:x}",
        t & 0xffff_ffff_ffff,
        std::process::id() & 0xffff,
        n
    )
}

impl Recorder {
    /// Creates the recording (session and connection containers) on a new recorder thread.
    /// `failed` is where a failure is published.
    pub async fn start(
        cfg: &RecordingConfig,
        facts: SessionFacts,
        failed: Arc<watch::Sender<Option<String>>>,
    ) -> anyhow::Result<Recorder> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let cfg2 = cfg.clone();
        let failed2 = failed.clone();
        std::thread::Builder::new()
            .name("bsr-recorder".into())
            .spawn(move || recorder_thread(cfg2, facts, rx, ready_tx, failed2))?;
        let dir = ready_rx
            .await
            .map_err(|_| anyhow::anyhow!("the recorder thread stopped"))?
            .map_err(|e| anyhow::anyhow!("cannot create the recording: {e}"))?;
        Ok(Recorder {
            tx,
            budget: Arc::new(Semaphore::new(cfg.budget_bytes)),
            budget_bytes: cfg.budget_bytes,
            stall: cfg.stall_timeout,
            failed,
            next_key: Arc::new(AtomicU64::new(1)),
            dir,
        })
    }

    /// A new channel key.
    pub fn channel_key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    /// The failure, if the recording failed.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    fn fail(&self, msg: String) -> String {
        publish_failure(&self.failed, msg.clone());
        self.failure().unwrap_or(msg)
    }

    /// Queues an event. Waits (up to the stall timeout) while the byte budget is used up.
    /// An error means the recording failed and the session must end.
    pub async fn send(&self, ev: Event) -> Result<(), String> {
        if let Some(f) = self.failure() {
            return Err(f);
        }
        let cost = ev.cost().min(self.budget_bytes);
        let permits = u32::try_from(cost).unwrap_or(u32::MAX);
        let permit = match tokio::time::timeout(
            self.stall,
            self.budget.clone().acquire_many_owned(permits),
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(self.fail("the recorder is closed".into())),
            Err(_) => {
                return Err(self.fail(format!(
                    "the recorder fell behind: it accepted nothing for {:?} (recording storage too slow or blocked)",
                    self.stall
                )));
            }
        };
        if self.tx.send((ev, permit)).is_err() {
            return Err(self.fail("the recorder thread stopped".into()));
        }
        Ok(())
    }

    /// Finishes the recording (all containers) and waits until it is signed. Returns its
    /// folder.
    pub async fn finish(&self) -> Result<String, String> {
        let (done, rx) = oneshot::channel();
        self.send(Event::Finish {
            time: Timestamp::now(),
            done,
        })
        .await?;
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self
                .failure()
                .unwrap_or_else(|| "the recorder thread stopped".into())),
        }
    }
}

/// Publishes the first failure (later ones are kept out: the first is the cause).
pub fn publish_failure(failed: &watch::Sender<Option<String>>, msg: String) {
    failed.send_if_modified(|cur| {
        if cur.is_none() {
            *cur = Some(msg);
            true
        } else {
            false
        }
    });
}

struct Chan {
    w: ChannelWriter,
    client_closed: bool,
    upstream_closed: bool,
}

struct State {
    session: SessionWriter,
    conn: ConnectionWriter,
    chans: HashMap<u64, Chan>,
}

fn create(cfg: &RecordingConfig, facts: &SessionFacts) -> bsr_core::Result<State> {
    let recording_id = new_id("sr");
    let session_id = new_id("s");
    let now = Timestamp::now();
    let keys = RecordingKeys::generate(&session_id)?;
    let mut opts = SessionOptions::new(&recording_id, &session_id, now);
    let mut meta = SessionMeta::with_id(&session_id);
    meta.endpoint = facts.endpoint.clone();
    meta.user = Some(User {
        name: facts.user.clone(),
        ..Default::default()
    });
    opts.session_meta = Some(meta);
    let session = SessionWriter::create(
        cfg.store.clone(),
        "",
        opts,
        keys,
        &*cfg.wrapper,
        cfg.recorder_key.as_deref(),
    )?;
    let conn = session.new_connection(&new_id("cr"), now)?;
    Ok(State {
        session,
        conn,
        chans: HashMap::new(),
    })
}

fn chan(chans: &mut HashMap<u64, Chan>, key: u64) -> bsr_core::Result<&mut Chan> {
    chans
        .get_mut(&key)
        .ok_or_else(|| bsr_core::Error::Usage(format!("internal: no open channel {key}")))
}

/// Applies one event (every kind but `Finish`).
fn apply(st: &mut State, ev: Event) -> bsr_core::Result<()> {
    match ev {
        Event::OpenChannel {
            key,
            channel_type,
            open,
            time,
        } => {
            st.conn.write_request(Direction::Inbound, time, &open)?;
            let w = st.conn.new_channel(&new_id("chr"), &channel_type, time)?;
            st.chans.insert(
                key,
                Chan {
                    w,
                    client_closed: false,
                    upstream_closed: false,
                },
            );
        }
        Event::Data {
            key,
            dir,
            time,
            data,
        } => {
            chan(&mut st.chans, key)?.w.write_data(dir, time, &data)?;
        }
        Event::Request {
            key,
            dir,
            time,
            req,
        } => chan(&mut st.chans, key)?.w.write_request(dir, time, &req)?,
        Event::ConnRequest { dir, time, req } => st.conn.write_request(dir, time, &req)?,
        Event::Closed {
            key,
            client_side,
            time,
        } => {
            let c = chan(&mut st.chans, key)?;
            if client_side {
                c.client_closed = true;
            } else {
                c.upstream_closed = true;
            }
            if c.client_closed
                && c.upstream_closed
                && let Some(c) = st.chans.remove(&key)
            {
                c.w.finish(time)?;
            }
        }
        Event::Finish { .. } => {
            return Err(bsr_core::Error::Usage(
                "internal: finish handled by the loop".into(),
            ));
        }
    }
    Ok(())
}

fn finish(st: State, time: Timestamp) -> bsr_core::Result<String> {
    let State {
        session,
        conn,
        chans,
    } = st;
    let mut keys: Vec<u64> = chans.keys().copied().collect();
    keys.sort_unstable();
    let mut chans = chans;
    for k in keys {
        if let Some(c) = chans.remove(&k) {
            c.w.finish(time)?;
        }
    }
    conn.finish(time)?;
    let dir = session.dir().to_string();
    session.finish(time)?;
    Ok(dir)
}

fn sync(st: &mut State) -> bsr_core::Result<()> {
    for c in st.chans.values_mut() {
        c.w.sync()?;
    }
    st.conn.sync()?;
    st.session.sync()
}

fn recorder_thread(
    cfg: RecordingConfig,
    facts: SessionFacts,
    rx: std::sync::mpsc::Receiver<(Event, OwnedSemaphorePermit)>,
    ready: oneshot::Sender<Result<String, String>>,
    failed: Arc<watch::Sender<Option<String>>>,
) {
    let mut st = match create(&cfg, &facts) {
        Ok(st) => st,
        Err(e) => {
            let _ = ready.send(Err(e.chain()));
            return;
        }
    };
    let dir = st.session.dir().to_string();
    if ready.send(Ok(dir.clone())).is_err() {
        return;
    }
    // Every event is applied before its permit is given back: whatever relaying was told
    // "recorded" is in the writer's buffers, and in the files once the containers finish.
    // Every `sync_interval`, written data is also made durable, so that a crash of the proxy
    // loses at most that much (`bsr-verify recover` closes the rest).
    let mut last_sync = std::time::Instant::now();
    let mut dirty = false;
    loop {
        let next = if cfg.sync_interval.is_zero() || !dirty {
            rx.recv()
                .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(cfg.sync_interval.saturating_sub(last_sync.elapsed()))
        };
        match next {
            Ok((Event::Finish { time, done }, permit)) => {
                drop(permit);
                let r =
                    finish(st, time).map_err(|e| format!("{dir}: finishing failed: {}", e.chain()));
                if let Err(e) = &r {
                    publish_failure(&failed, e.clone());
                }
                let _ = done.send(r);
                return;
            }
            Ok((ev, permit)) => {
                if let Err(e) = apply(&mut st, ev) {
                    publish_failure(&failed, format!("{dir}: {}", e.chain()));
                    // The writers are dropped unfinished: the recording stays visibly
                    // unfinished.
                    return;
                }
                drop(permit);
                dirty = true;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if dirty && !cfg.sync_interval.is_zero() && last_sync.elapsed() >= cfg.sync_interval {
            if let Err(e) = sync(&mut st) {
                publish_failure(&failed, format!("{dir}: {}", e.chain()));
                return;
            }
            dirty = false;
            last_sync = std::time::Instant::now();
        }
    }
    // Every sender is gone without a Finish (the connection task died): leave the recording
    // unfinished rather than sign something whose end we did not see.
    publish_failure(
        &failed,
        format!("{dir}: the connection ended without closing the recording"),
    );
}

/// How [`FailingStore`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Writes fail (a full or broken disk).
    Fail,
    /// Writes hang (a stuck network filesystem).
    Stall,
}

/// A store that fails (or hangs) every write once `limit` bytes were written in total: lets
/// the tests (and anyone trying the proxy) see what a recording failure does to a live session.
#[derive(Debug)]
pub struct FailingStore {
    inner: Arc<dyn WriteStore>,
    written: Arc<AtomicU64>,
    limit: u64,
    fault: Fault,
}

impl FailingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn WriteStore>, limit: u64, fault: Fault) -> Self {
        FailingStore {
            inner,
            written: Arc::new(AtomicU64::new(0)),
            limit,
            fault,
        }
    }
}

struct FailingFile {
    inner: Box<dyn bsr_core::store::StoreFile>,
    written: Arc<AtomicU64>,
    limit: u64,
    fault: Fault,
}

impl std::io::Write for FailingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let before = self.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if before + buf.len() as u64 > self.limit {
            if self.fault == Fault::Stall {
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            return Err(std::io::Error::other(format!(
                "injected storage failure after {} bytes (--fail-recording-after-bytes)",
                self.limit
            )));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl bsr_core::store::StoreFile for FailingFile {
    fn sync(&mut self) -> bsr_core::Result<()> {
        self.inner.sync()
    }
}

impl WriteStore for FailingStore {
    fn create_dir(&self, dir: &str) -> bsr_core::Result<()> {
        self.inner.create_dir(dir)
    }
    fn create(&self, path: &str) -> bsr_core::Result<Box<dyn bsr_core::store::StoreFile>> {
        Ok(Box::new(FailingFile {
            inner: self.inner.create(path)?,
            written: self.written.clone(),
            limit: self.limit,
            fault: self.fault,
        }))
    }
    fn sync_dir(&self, dir: &str) -> bsr_core::Result<()> {
        self.inner.sync_dir(dir)
    }
}
