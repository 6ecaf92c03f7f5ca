//! The recordings a server shows, their ids, and the facts cache.
//!
//! Ids are the recording folders' names without `.bsr` (`~2`, `~3`, … appended when two
//! targets hold the same name). A request's id is looked up in this listing; it is never
//! joined into a path, so `../`, `%2e%2e%2f` and the like name nothing.
//!
//! **The listing grows** ([`Catalog::refresh`]): the targets are listed again (by the server
//! every `--rescan` seconds, and when a request names an id it does not know, at most once a
//! second), and recordings that appeared since are appended with new ids. Nothing is ever
//! renumbered or removed, so an index or id once handed out keeps naming the same recording;
//! a recording deleted since stays listed, and reading it fails (its row says why).
//!
//! **The facts cache** (in memory) holds one [`Row`] per recording: its verdict, and when it
//! passed the verification gate its facts (who, what, where, when) and header-security
//! findings. An entry is used only while its [`CacheKey`] still matches: the SHA-256 of the
//! session's `SHA256SUM.sig` together with the name, size and modification time of every
//! file and folder in the recording's tree. A recording re-signed, grown, truncated or
//! rewritten (with a new modification time) is verified again; a rewrite that keeps size and
//! modification time is still caught when its content is read, because the replay pins every
//! file to the digest that verified.

use super::disk::{self, DiskCache};
use super::keyframe::{CHECKPOINT_BYTES, Checkpoints, checkpoints};
use super::{ServeError, ServeOptions};
use crate::convert::ChannelFiles;
use crate::convert::{ConvertContext, ConvertOptions, Severity, convert_with};
use crate::verified::{GateOptions, Verification, gate_keeping};
use bsr_core::format;
use bsr_core::read::Recording;
use bsr_core::store::{EntryKind, ReadStore, join};
use bsr_verify::facts::analyze_with;
use bsr_verify::report::Report;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Most files and folders hashed into one recording's cache key (a larger tree is keyed by
/// its first ones and the count).
const MAX_KEY_ENTRIES: usize = 100_000;
/// Largest `SHA256SUM.sig` read for a key.
const MAX_SIG: u64 = 64 * 1024;
/// Whole rows kept in memory (the others are read from the disk cache, or verified again).
pub const ROWS_KEPT: usize = 8192;
/// Largest row read from the disk cache.
const MAX_ROW_FILE: u64 = 1 << 20;
/// Largest verification (its digests) read from the disk cache.
const MAX_VERIFICATION_FILE: u64 = 64 << 20;
/// Verifications (with their pinned digests) kept for replays.
const VERIFICATIONS_KEPT: usize = 32;
/// Channels whose keyframe checkpoints are kept (in memory).
const CHECKPOINTS_KEPT: usize = 16;
/// Largest checkpoints file read from the disk cache.
const MAX_CHECKPOINTS_FILE: u64 = 256 << 20;

/// Checkpoints of one channel of one recording state.
type KeptCheckpoints = (usize, String, CacheKey, Arc<Checkpoints>);

/// Values by recording, with their keys, the oldest dropped past a bound.
#[derive(Debug)]
struct Kept<T> {
    map: HashMap<usize, (CacheKey, T)>,
    order: VecDeque<usize>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T: Clone> Kept<T> {
    fn get(&self, i: usize, key: &CacheKey) -> Option<T> {
        self.map
            .get(&i)
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn put(&mut self, i: usize, key: CacheKey, v: T, bound: usize) {
        if self.map.insert(i, (key, v)).is_none() {
            self.order.push_back(i);
        }
        while self.map.len() > bound {
            match self.order.pop_front() {
                Some(j) => {
                    self.map.remove(&j);
                }
                None => break,
            }
        }
    }
}

/// One recording the server lists.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The id in URLs.
    pub id: String,
    /// The store it is in.
    pub store: Arc<dyn ReadStore>,
    /// Its folder in the store.
    pub dir: String,
    /// The store's folder on disk, for local stores (modification times for the cache key).
    pub local_root: Option<PathBuf>,
}

/// What the cache key is made of (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey([u8; 32]);

/// Findings of the header-security report, by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FindingCounts {
    /// High.
    pub high: u32,
    /// Medium.
    pub medium: u32,
    /// Low.
    pub low: u32,
    /// Info.
    pub info: u32,
}

/// One line of the session list (and of `GET /api/v1/sessions`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// The id in URLs.
    pub id: String,
    /// `authentic`, `unauthenticated`, `incomplete`, `invalid`, `error`.
    pub verdict: String,
    /// Whether it passed the verification gate (only then are the other fields filled).
    pub shown: bool,
    /// For a refused recording: the verifier's problem codes (at most 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The facts (`bsr-verify facts`, as JSON), when shown.
    pub facts: Option<Box<RawValue>>,
    /// Header-security findings of its interactive channels, when shown.
    pub findings: Option<FindingCounts>,
    /// The facts the list shows and filters on (read from `facts`).
    #[serde(skip)]
    pub shown_facts: Option<ShownFacts>,
}

/// The facts a list row shows and filters on (a part of `bsr-verify facts`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ShownFacts {
    /// User id and name.
    #[serde(default)]
    pub user: Value,
    /// Target id, name, scope.
    #[serde(default)]
    pub target: Value,
    /// Host id and address.
    #[serde(default)]
    pub host: Value,
    /// Worker id.
    #[serde(default)]
    pub worker: Option<String>,
    /// Start (RFC 3339).
    #[serde(default)]
    pub start: Option<String>,
    /// End (RFC 3339).
    #[serde(default)]
    pub end: Option<String>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
}

impl ShownFacts {
    /// Start, nanoseconds since the Unix epoch.
    pub fn start_ns(&self) -> Option<i128> {
        parse_time(&self.start)
    }

    /// End, nanoseconds since the Unix epoch.
    pub fn end_ns(&self) -> Option<i128> {
        parse_time(&self.end)
    }
}

fn parse_time(s: &Option<String>) -> Option<i128> {
    s.as_deref()
        .and_then(bsr_core::Timestamp::parse_rfc3339)
        .map(|t| t.as_nanos())
}

/// An id or a name, as the filters match them.
#[derive(Debug, Clone, Default)]
pub struct Party {
    /// The id.
    pub id: Option<Box<str>>,
    /// The name.
    pub name: Option<Box<str>>,
}

impl Party {
    fn of(v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(Box::from);
        Party {
            id: s("id"),
            name: s("name"),
        }
    }
}

/// What the list's filters look at: kept in memory for every recording (about 200 bytes),
/// while whole rows are kept for the last [`ROWS_KEPT`] used.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The verdict.
    pub verdict: Box<str>,
    /// Whether it passed the gate.
    pub shown: bool,
    /// The user, when shown.
    pub user: Option<Party>,
    /// The target, when shown.
    pub target: Option<Party>,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: Option<i128>,
    /// End, nanoseconds since the Unix epoch.
    pub end_ns: Option<i128>,
}

impl Summary {
    /// The summary of a row.
    pub fn of(r: &Row) -> Self {
        let f = r.shown_facts.as_ref();
        Summary {
            verdict: r.verdict.as_str().into(),
            shown: r.shown,
            user: f.map(|f| Party::of(&f.user)),
            target: f.map(|f| Party::of(&f.target)),
            start_ns: f.and_then(ShownFacts::start_ns),
            end_ns: f.and_then(ShownFacts::end_ns),
        }
    }
}

/// The listing and the caches.
#[derive(Debug)]
pub struct Catalog {
    /// Append-only (see the module documentation). Lock order: `entries`, then `by_id`.
    entries: RwLock<Vec<Entry>>,
    by_id: RwLock<HashMap<String, usize>>,
    /// The next id suffix to try per folder name.
    next_suffix: Mutex<HashMap<String, usize>>,
    /// The targets as given, and the recordings listed from each (by target index).
    targets: Vec<String>,
    s3: bsr_verify::target::S3Flags,
    known: Mutex<HashSet<(usize, String)>>,
    /// When the targets were last listed (one listing at a time).
    listed: Mutex<Option<Instant>>,
    /// When a request for an unknown id last made them be listed.
    listed_on_miss: Mutex<Option<Instant>>,
    gate: GateOptions,
    /// Every recording's summary, by its key.
    summaries: Mutex<HashMap<usize, (CacheKey, Arc<Summary>)>>,
    /// The last [`ROWS_KEPT`] rows used, oldest first.
    rows: Mutex<Kept<Arc<Row>>>,
    verifications: Mutex<VecDeque<(usize, CacheKey, Verification)>>,
    checkpoints: Arc<Mutex<VecDeque<KeptCheckpoints>>>,
    building: Arc<Mutex<std::collections::HashSet<(usize, String)>>>,
    /// The cache on disk and the trust anchors' name (`--cache-dir`).
    disk: Option<(DiskCache, [u8; 32])>,
    /// Output between two keyframe checkpoints.
    every: u64,
}

impl Catalog {
    /// Resolves the targets (folders, `*.bsr` folders, `s3://` prefixes, as `bsr-verify`).
    pub fn open(opts: &ServeOptions) -> Result<Self, ServeError> {
        let mut c = Self::from_entries(Vec::new(), opts.gate.clone());
        if let Some(o) = &opts.cache {
            c.disk = Some((DiskCache::open(&o.dir)?, o.anchors));
        }
        c.every = opts.checkpoint_bytes.unwrap_or(CHECKPOINT_BYTES).max(1);
        c.targets = opts.targets.clone();
        c.s3 = opts.s3.clone();
        c.refresh()?;
        Ok(c)
    }

    /// Lists the targets again and appends the recordings that appeared since (with new
    /// ids); returns how many. A target that cannot be listed is an error (the listing so far
    /// stays as it was).
    pub fn refresh(&self) -> Result<usize, ServeError> {
        let mut listed = match self.listed.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        let mut added = 0;
        for (t, spec) in self.targets.iter().enumerate() {
            let r =
                bsr_verify::target::resolve(spec, &self.s3).map_err(|e| ServeError::Target {
                    target: crate::human::escape(spec),
                    message: crate::human::escape(&format!("{e:#}")),
                })?;
            let local_root = local_root(spec);
            for dir in r.recordings {
                let key = (t, dir.clone());
                let new = match self.known.lock() {
                    Ok(mut k) => k.insert(key),
                    Err(p) => p.into_inner().insert(key),
                };
                if new {
                    self.push(Entry {
                        id: String::new(),
                        store: r.store.clone(),
                        dir,
                        local_root: local_root.clone(),
                    });
                    added += 1;
                }
            }
        }
        *listed = Some(Instant::now());
        Ok(added)
    }

    /// [`Catalog::refresh`], unless the targets were listed less than `age` ago. Errors are
    /// dropped (the listing stays as it was; the next rescan tries again).
    pub fn refresh_if_older(&self, age: Duration) {
        let due = match self.listed.lock() {
            Ok(l) => l.is_none_or(|t| t.elapsed() >= age),
            Err(_) => true,
        };
        if due && !self.targets.is_empty() {
            let _ = self.refresh();
        }
    }

    /// The targets listed again because a request named an id that is not listed, unless
    /// that happened less than `gap` ago (so unknown ids cannot make the server list all the
    /// time). Errors are dropped, as in [`Catalog::refresh_if_older`].
    pub fn refresh_on_miss(&self, gap: Duration) {
        if self.targets.is_empty() {
            return;
        }
        {
            let mut last = match self.listed_on_miss.lock() {
                Ok(l) => l,
                Err(p) => p.into_inner(),
            };
            if last.is_some_and(|t| t.elapsed() < gap) {
                return;
            }
            *last = Some(Instant::now());
        }
        let _ = self.refresh();
    }

    /// Appends `e` with the next free id for its folder name.
    fn push(&self, mut e: Entry) {
        let base = e
            .dir
            .rsplit('/')
            .next()
            .unwrap_or(&e.dir)
            .trim_end_matches(format::SESSION_DIR_SUFFIX)
            .to_string();
        let mut entries = match self.entries.write() {
            Ok(x) => x,
            Err(p) => p.into_inner(),
        };
        let mut by_id = match self.by_id.write() {
            Ok(x) => x,
            Err(p) => p.into_inner(),
        };
        let mut next = match self.next_suffix.lock() {
            Ok(x) => x,
            Err(p) => p.into_inner(),
        };
        let mut id = base.clone();
        // The next suffix to try per name (many copies of one name stay linear).
        let n = next.entry(base.clone()).or_insert(1);
        while by_id.contains_key(&id) {
            *n += 1;
            id = format!("{base}~{n}");
        }
        by_id.insert(id.clone(), entries.len());
        e.id = id;
        entries.push(e);
    }

    /// A catalog of the given recordings (their ids are assigned here).
    pub fn from_entries(entries: Vec<Entry>, gate: GateOptions) -> Self {
        let c = Catalog {
            entries: RwLock::new(Vec::with_capacity(entries.len())),
            by_id: RwLock::new(HashMap::with_capacity(entries.len())),
            next_suffix: Mutex::new(HashMap::new()),
            targets: Vec::new(),
            s3: Default::default(),
            known: Mutex::new(HashSet::new()),
            listed: Mutex::new(None),
            listed_on_miss: Mutex::new(None),
            gate,
            summaries: Mutex::new(HashMap::new()),
            rows: Mutex::new(Kept::default()),
            verifications: Mutex::new(VecDeque::new()),
            checkpoints: Arc::new(Mutex::new(VecDeque::new())),
            building: Arc::new(Mutex::new(std::collections::HashSet::new())),
            disk: None,
            every: CHECKPOINT_BYTES,
        };
        for e in entries {
            c.push(e);
        }
        c
    }

    /// Number of recordings listed.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recording with this id (exact match in the listing; nothing else).
    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.read().ok()?.get(id).copied()
    }

    /// The recording at index `i`.
    pub fn entry(&self, i: usize) -> Option<Entry> {
        self.entries.read().ok()?.get(i).cloned()
    }

    /// The trust anchors of the gate.
    pub fn gate_options(&self) -> &GateOptions {
        &self.gate
    }

    /// The cache key of recording `i` now.
    pub fn key(&self, i: usize) -> Result<CacheKey, ServeError> {
        let e = self.entry(i).ok_or(ServeError::NotFound)?;
        cache_key(&e)
    }

    /// The row of recording `i`: from the cache (in memory, then on disk) while its key
    /// matches, else verified and read now (and cached).
    pub fn row(&self, i: usize) -> Result<Arc<Row>, ServeError> {
        let e = self.entry(i).ok_or(ServeError::NotFound)?;
        let key = cache_key(&e)?;
        if let Some(r) = lock(&self.rows).get(i, &key) {
            return Ok(r);
        }
        let dkey = self
            .disk
            .as_ref()
            .map(|(_, anchors)| entry_key(b"row v1", &e, &key, anchors));
        let on_disk = match (&self.disk, &dkey) {
            (Some((d, _)), Some(k)) => d
                .get("rows", k, MAX_ROW_FILE)
                .and_then(|b| serde_json::from_slice::<Row>(&b).ok()),
            _ => None,
        };
        let row = match on_disk {
            Some(mut r) => {
                r.id = e.id.clone();
                r.shown_facts = r.facts.as_deref().and_then(shown_facts);
                r
            }
            None => {
                let (row, verification) = build_row(&e, &self.gate);
                // An `error` verdict may be passing (a store that did not answer): not kept
                // across restarts.
                if let (Some((d, _)), Some(k)) = (&self.disk, &dkey)
                    && row.verdict != "error"
                    && let Ok(b) = serde_json::to_vec(&row)
                {
                    let _ = d.put("rows", k, &b);
                }
                if let Some(v) = verification {
                    self.keep_verification(i, key.clone(), v);
                }
                row
            }
        };
        let row = Arc::new(row);
        lock(&self.summaries).insert(i, (key.clone(), Arc::new(Summary::of(&row))));
        lock(&self.rows).put(i, key, row.clone(), ROWS_KEPT);
        Ok(row)
    }

    /// The summary of recording `i` (what the list's filters look at): kept for every
    /// recording while its key matches, else from [`Catalog::row`].
    pub fn summary(&self, i: usize) -> Result<Arc<Summary>, ServeError> {
        let key = self.key(i)?;
        if let Some((k, s)) = lock(&self.summaries).get(&i)
            && *k == key
        {
            return Ok(s.clone());
        }
        let row = self.row(i)?;
        Ok(Arc::new(Summary::of(&row)))
    }

    /// Whether recording `i` has a summary (whatever its key).
    pub fn is_cached(&self, i: usize) -> bool {
        lock(&self.summaries).contains_key(&i)
    }

    /// Whole rows in memory now (at most [`ROWS_KEPT`]).
    pub fn rows_in_memory(&self) -> usize {
        lock(&self.rows).map.len()
    }

    /// The verification of recording `i` for reading its content: cached while the key
    /// matches, else the gate runs again. `Err` when the gate refuses it.
    pub fn verification(&self, i: usize) -> Result<Verification, ServeError> {
        let key = self.key(i)?;
        if let Ok(v) = self.verifications.lock()
            && let Some((_, _, v)) = v.iter().find(|(j, k, _)| *j == i && *k == key)
        {
            return Ok(v.clone());
        }
        let e = self.entry(i).ok_or(ServeError::NotFound)?;
        if let Some((d, anchors)) = &self.disk
            && let Some(v) = d
                .get(
                    "verifications",
                    &entry_key(b"verification v1", &e, &key, anchors),
                    MAX_VERIFICATION_FILE,
                )
                .and_then(|b| Verification::from_kept(&b))
        {
            self.keep_verification_in_memory(i, key, v.clone());
            return Ok(v);
        }
        let (v, _, _) = gate_keeping(&*e.store, &e.dir, &self.gate);
        let v = v.map_err(|g| ServeError::Refused(g.to_string()))?;
        self.keep_verification(i, key, v.clone());
        Ok(v)
    }

    /// The keyframe checkpoints of a channel (`files`, pinned) of recording `i`, when they
    /// are built for its current state (kept in memory, or in the disk cache); otherwise
    /// starts building them on a background thread (once) and returns `None`.
    pub fn checkpoints(&self, i: usize, files: &ChannelFiles) -> Option<Arc<Checkpoints>> {
        let key = self.key(i).ok()?;
        if let Ok(q) = self.checkpoints.lock()
            && let Some((_, _, _, c)) = q
                .iter()
                .find(|(j, n, k, _)| *j == i && *n == files.name && *k == key)
        {
            return Some(c.clone());
        }
        let disk = self.disk.as_ref().map(|(d, _)| d.clone());
        let every = self.every;
        if let Some(d) = &disk
            && let Some(c) = load_checkpoints(d, &key, &files.name, every)
        {
            let c = Arc::new(c);
            keep_checkpoints(&self.checkpoints, (i, files.name.clone(), key, c.clone()));
            return Some(c);
        }
        let job = (i, files.name.clone());
        let started = self
            .building
            .lock()
            .map(|mut b| b.insert(job.clone()))
            .unwrap_or(false);
        if !started {
            return None;
        }
        let (kept, building, files) = (
            self.checkpoints.clone(),
            self.building.clone(),
            files.clone(),
        );
        std::thread::spawn(move || {
            if let Ok(c) = checkpoints(&files, every) {
                if let Some(d) = &disk {
                    store_checkpoints(d, &key, &files.name, every, &c);
                }
                keep_checkpoints(&kept, (job.0, job.1.clone(), key, Arc::new(c)));
            }
            if let Ok(mut b) = building.lock() {
                b.remove(&job);
            }
        });
        None
    }

    /// Builds the keyframe checkpoints of every interactive channel of recording `i` into the
    /// disk cache, unless they are there already (the server's background pass, after the
    /// rows; without a disk cache, nothing). Returns how many channels were built.
    pub fn prepare_checkpoints(&self, i: usize) -> usize {
        let Some((d, _)) = &self.disk else { return 0 };
        let (Some(e), Ok(key)) = (self.entry(i), self.key(i)) else {
            return 0;
        };
        if !self.row(i).is_ok_and(|r| r.shown) {
            return 0;
        }
        let Ok(v) = self.verification(i) else {
            return 0;
        };
        let mut built = 0;
        for files in session_channels(&e, &v) {
            if disk_has_checkpoints(d, &key, &files.name, self.every) {
                continue;
            }
            if let Ok(c) = checkpoints(&files, self.every) {
                store_checkpoints(d, &key, &files.name, self.every, &c);
                built += 1;
            }
        }
        built
    }

    /// Keeps a verification that the gate just made, in memory and in the disk cache.
    fn keep_verification(&self, i: usize, key: CacheKey, v: Verification) {
        if let Some((d, anchors)) = &self.disk
            && let Some(e) = self.entry(i)
            && let Some(b) = v.to_kept()
        {
            let _ = d.put(
                "verifications",
                &entry_key(b"verification v1", &e, &key, anchors),
                &b,
            );
        }
        self.keep_verification_in_memory(i, key, v);
    }

    fn keep_verification_in_memory(&self, i: usize, key: CacheKey, v: Verification) {
        if let Ok(mut q) = self.verifications.lock() {
            q.retain(|(j, _, _)| *j != i);
            if q.len() >= VERIFICATIONS_KEPT {
                q.pop_front();
            }
            q.push_back((i, key, v));
        }
    }
}

/// The folder on disk that a local target's recordings are in (for modification times).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The disk cache's key of a recording's entry of `kind` (a row, a verification): the
/// recording's state, where it is (its facts name the location), and the trust anchors.
fn entry_key(kind: &[u8], e: &Entry, key: &CacheKey, anchors: &[u8; 32]) -> [u8; 32] {
    disk::key(&[kind, &key.0, e.store.describe(&e.dir).as_bytes(), anchors])
}

fn shown_facts(raw: &RawValue) -> Option<ShownFacts> {
    serde_json::from_str(raw.get()).ok()
}

fn local_root(spec: &str) -> Option<PathBuf> {
    (!spec.starts_with("s3://")).then(|| {
        let p = PathBuf::from(spec);
        if spec
            .trim_end_matches('/')
            .ends_with(format::SESSION_DIR_SUFFIX)
        {
            p.parent()
                .filter(|q| !q.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
        } else {
            p
        }
    })
}

/// Verifies a recording and reads what its row shows. Only a recording that passed the gate
/// gets facts and findings.
fn build_row(e: &Entry, gate: &GateOptions) -> (Row, Option<Verification>) {
    let (v, report, seen) = gate_keeping(&*e.store, &e.dir, gate);
    let verdict = verdict_name(&report);
    let Ok(v) = v else {
        return (refused_row(e, verdict, &report), None);
    };
    let (facts, _) = analyze_with(e.store.clone(), &e.dir, Some(&report), &seen);
    let findings = findings(e, &v);
    let facts = serde_json::value::to_raw_value(&facts).ok();
    let row = Row {
        id: e.id.clone(),
        verdict,
        shown: true,
        problems: Vec::new(),
        shown_facts: facts.as_deref().and_then(shown_facts),
        facts,
        findings,
    };
    (row, Some(v))
}

fn refused_row(e: &Entry, verdict: String, report: &Report) -> Row {
    Row {
        id: e.id.clone(),
        verdict,
        shown: false,
        problems: report
            .errors()
            .take(5)
            .map(|p| p.code.to_string())
            .collect(),
        facts: None,
        findings: None,
        shown_facts: None,
    }
}

fn verdict_name(r: &Report) -> String {
    serde_json::to_value(r.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn keep_checkpoints(kept: &Mutex<VecDeque<KeptCheckpoints>>, k: KeptCheckpoints) {
    if let Ok(mut q) = kept.lock() {
        q.retain(|(j, n, _, _)| !(*j == k.0 && *n == k.1));
        if q.len() >= CHECKPOINTS_KEPT {
            q.pop_front();
        }
        q.push_back(k);
    }
}

/// The disk cache's key of a channel's checkpoints: the recording's state, the channel, and
/// the spacing.
fn checkpoints_key(key: &CacheKey, channel: &str, every: u64) -> [u8; 32] {
    disk::key(&[
        b"checkpoints v1",
        &key.0,
        channel.as_bytes(),
        &every.to_le_bytes(),
    ])
}

fn load_checkpoints(
    d: &DiskCache,
    key: &CacheKey,
    channel: &str,
    every: u64,
) -> Option<Checkpoints> {
    let b = d.get(
        "checkpoints",
        &checkpoints_key(key, channel, every),
        MAX_CHECKPOINTS_FILE,
    )?;
    serde_json::from_slice(&b).ok()
}

fn disk_has_checkpoints(d: &DiskCache, key: &CacheKey, channel: &str, every: u64) -> bool {
    load_checkpoints(d, key, channel, every).is_some()
}

fn store_checkpoints(d: &DiskCache, key: &CacheKey, channel: &str, every: u64, c: &Checkpoints) {
    if let Ok(b) = serde_json::to_vec(c) {
        let _ = d.put("checkpoints", &checkpoints_key(key, channel, every), &b);
    }
}

/// The files of every `session` channel of the recording, each pinned to its verified
/// digest (channels that cannot be read or pinned are left out).
fn session_channels(e: &Entry, v: &Verification) -> Vec<ChannelFiles> {
    let Ok(rec) = Recording::open(e.store.clone(), &e.dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for conn in rec.connections().into_iter().flatten() {
        for ch in conn.channels().into_iter().flatten() {
            if ch.channel_type() != "session" {
                continue;
            }
            if let Ok(mut files) = ChannelFiles::of_channel(&ch, Some(conn.dir()))
                && v.pin(&mut files).is_ok()
            {
                out.push(files);
            }
        }
    }
    out
}

/// The header-security findings of every interactive channel (each file pinned to its
/// verified digest); `None` when a channel could not be read.
fn findings(e: &Entry, v: &Verification) -> Option<FindingCounts> {
    let rec = Recording::open(e.store.clone(), &e.dir).ok()?;
    let mut counts = FindingCounts::default();
    let opts = ConvertOptions::default();
    let ctx = ConvertContext {
        max_output_bytes: super::MAX_CAST_BYTES,
        ..ConvertContext::default()
    };
    for conn in rec.connections().ok()? {
        for ch in conn.channels().ok()? {
            if ch.channel_type() != "session" {
                continue;
            }
            let mut files = ChannelFiles::of_channel(&ch, Some(conn.dir())).ok()?;
            v.pin(&mut files).ok()?;
            let Ok(done) = convert_with(&files, &opts, &ctx, std::io::sink()) else {
                continue; // no shell or exec: nothing shown, nothing found
            };
            for f in done.report.findings {
                match f.severity {
                    Severity::High => counts.high += 1,
                    Severity::Medium => counts.medium += 1,
                    Severity::Low => counts.low += 1,
                    Severity::Info => counts.info += 1,
                }
            }
        }
    }
    Some(counts)
}

/// The cache key of a recording now (see the module documentation).
fn cache_key(e: &Entry) -> Result<CacheKey, ServeError> {
    let mut h = Sha256::new();
    let sig = e
        .store
        .read_limited(&join(&e.dir, format::SIG_FILE), MAX_SIG)
        .unwrap_or_default();
    h.update(Sha256::digest(&sig));
    let mut stack = vec![e.dir.clone()];
    let mut seen = 0usize;
    while let Some(d) = stack.pop() {
        let list = match e.store.list(&d) {
            Ok(l) => l,
            // An unreadable folder is part of the state: the gate will say what is wrong.
            Err(_) => {
                h.update(b"unlisted\0");
                h.update(d.as_bytes());
                continue;
            }
        };
        for x in list {
            seen += 1;
            if seen > MAX_KEY_ENTRIES {
                h.update(seen.to_le_bytes());
                return Ok(CacheKey(h.finalize().into()));
            }
            let p = join(&d, &x.name);
            h.update(p.as_bytes());
            h.update([0, x.kind as u8]);
            h.update(x.size.to_le_bytes());
            if let Some(root) = &e.local_root
                && let Ok(m) = std::fs::symlink_metadata(root.join(&p))
            {
                h.update(m.len().to_le_bytes());
                if let Ok(t) = m.modified()
                    && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
                {
                    h.update(d.as_nanos().to_le_bytes());
                }
            }
            if x.kind == EntryKind::Dir {
                stack.push(p);
            }
        }
    }
    Ok(CacheKey(h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_rows_are_bounded_and_drop_the_oldest() {
        let mut k: Kept<u32> = Kept::default();
        let key = |b: u8| CacheKey([b; 32]);
        for i in 0..5 {
            k.put(i, key(1), i as u32, 3);
        }
        assert_eq!(k.map.len(), 3);
        assert_eq!(k.get(0, &key(1)), None);
        assert_eq!(k.get(4, &key(1)), Some(4));
        // A value under another key is not given.
        assert_eq!(k.get(4, &key(2)), None);
        // Replacing a kept value does not count twice.
        k.put(4, key(2), 40, 3);
        assert_eq!((k.map.len(), k.order.len()), (3, 3));
        assert_eq!(k.get(4, &key(2)), Some(40));
    }
}
