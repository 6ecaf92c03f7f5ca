//! `search --index`: a full-text index of what `search` looks at, on disk ([tantivy]).
//!
//! * **What is indexed.** Every line [`crate::search::walk_recording`] gives (the transcript
//!   lines, soft-wrapped rows joined, and the rows of full-screen programs' last frames, of every
//!   shell and exec channel), one document each, with what a hit shows: recording, connection
//!   and channel ids, user, target, offset and absolute time. Only recordings that passed the
//!   verification gate ([`crate::verified::gate`]) are indexed, with each channel's files pinned
//!   to the digests that verified. Lines are streamed into tantivy's writer, whose heap is
//!   bounded ([`WRITER_HEAP`]); no recording is collected in memory.
//! * **Incremental.** A recording is known by its location (as the store describes it; it ends
//!   in the recording id) and keyed by SHA-256 of its session `SHA256SUM.sig` and by the trust
//!   anchors it was verified with. An update reads each recording's `.sig` and skips the
//!   recording when both keys are unchanged; a new recording is verified and indexed; a changed
//!   one (replaced, or now checked against other trust anchors) is verified again and its lines
//!   replaced. Recordings in the index but no longer under the targets are removed from it
//!   (when every target could be listed). Recordings that cannot be indexed are reported with
//!   the reason and tried again by the next update.
//! * **Queries** give exactly the scan's hits: tantivy narrows the candidate lines by trigrams
//!   ([`plan`]), and each candidate is confirmed with the scan's
//!   [`Matcher`](crate::search::Matcher) on the stored line.
//! * **Sharding.** An index records the `--shard K/N` it was built for and refuses an update
//!   for another; N shard indexes are queried together with [`query_all`].
//! * **Safety.** The index folder is locked while written (tantivy's writer lock): a second
//!   writer gets [`IndexError::Busy`]. A folder that is not an index of this kind (another
//!   tantivy schema, a damaged `meta.json`, files that are not tantivy's) gives a typed error.
//!
//! [tantivy]: https://crates.io/crates/tantivy

mod build;
pub mod plan;
mod query;

pub use build::{IndexEvent, UpdateOptions, UpdateSummary, recording_sig};
pub use query::{QueryStats, query_all};

use std::path::{Path, PathBuf};
use tantivy::schema::{Field, STORED, STRING, Schema};
use tantivy::{Index, IndexWriter, TantivyDocument};

/// The schema's name and version, kept in every commit's payload.
pub const SCHEMA: &str = "bsr-asciicast/search-index/v1";
/// The writer's heap budget: tantivy writes a segment out when it is full.
pub const WRITER_HEAP: usize = 64 << 20;

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// Another process is writing the index.
    #[error(
        "{0}: the index is being written by another process (its writer lock is held); wait for it, or query without updating"
    )]
    Busy(String),
    /// The folder is not a search index of this kind.
    #[error("{path}: not a bsr-asciicast search index: {reason}")]
    Foreign {
        /// The folder.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The folder does not exist (a query needs an index that was built).
    #[error("{0}: no search index here (build it with `bsr-asciicast index DIR TARGET...`)")]
    Missing(String),
    /// The index was built for another shard.
    #[error(
        "{path}: this index holds shard {have}; refusing to update it as shard {want} (one index per shard)"
    )]
    ShardMismatch {
        /// The folder.
        path: String,
        /// The shard it holds (`all` when not sharded).
        have: String,
        /// The shard asked for.
        want: String,
    },
    /// tantivy failed (a damaged index, an I/O error).
    #[error("{path}: {source}")]
    Tantivy {
        /// The folder.
        path: String,
        /// What went wrong.
        source: tantivy::TantivyError,
    },
    /// tantivy gave up on damaged data (it panicked; the panic was caught).
    #[error("{0}: the index is damaged (reading it failed); rebuild it into an empty folder")]
    Damaged(String),
    /// Listing or reading the folder.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `line` or `rec`.
    kind: Field,
    /// The recording's location (indexed: lookups and deletion).
    loc: Field,
    /// The line's folded trigrams (indexed only).
    grams: Field,
    /// The line as shown.
    text: Field,
    conn: Field,
    chan: Field,
    user: Field,
    target: Field,
    /// Seconds from the channel's start.
    t: Field,
    /// RFC 3339.
    time: Field,
    /// 1 for a full-screen row.
    full_screen: Field,
    /// Recording documents: SHA-256 of `SHA256SUM.sig`, the trust key, channels, lines.
    sig: Field,
    trust: Field,
    channels: Field,
    lines: Field,
}

const KIND_LINE: &str = "line";
const KIND_REC: &str = "rec";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        kind: b.add_text_field("kind", STRING),
        loc: b.add_text_field("loc", STRING | STORED),
        grams: b.add_text_field("grams", STRING),
        text: b.add_text_field("text", STORED),
        conn: b.add_text_field("conn", STORED),
        chan: b.add_text_field("chan", STORED),
        user: b.add_text_field("user", STORED),
        target: b.add_text_field("target", STORED),
        t: b.add_f64_field("t", STORED),
        time: b.add_text_field("time", STORED),
        full_screen: b.add_u64_field("full_screen", STORED),
        sig: b.add_text_field("sig", STORED),
        trust: b.add_text_field("trust", STORED),
        channels: b.add_u64_field("channels", STORED),
        lines: b.add_u64_field("lines", STORED),
    };
    // Marks the schema as ours (never set).
    b.add_text_field("bsr_search_index_v1", STORED);
    (b.build(), f)
}

/// What a commit's payload records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Payload {
    schema: String,
    /// `K/N`, or `None` for an index of every recording.
    shard: Option<String>,
}

/// A search index folder.
#[derive(Debug)]
pub struct SearchIndex {
    index: Index,
    path: PathBuf,
    fields: Fields,
}

impl SearchIndex {
    /// Opens the index in `dir` for queries. The folder must hold an index of this kind.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.display().to_string();
        if !dir.join("meta.json").is_file() {
            return Err(if dir.exists() {
                IndexError::Foreign {
                    path,
                    reason: "no meta.json".into(),
                }
            } else {
                IndexError::Missing(path)
            });
        }
        let index = guarded(&path, || {
            Index::open_in_dir(dir).map_err(|e| tantivy_error(&path, e))
        })?;
        let (want, fields) = schema();
        if index.schema() != want {
            return Err(IndexError::Foreign {
                path,
                reason: "its fields are not those of a bsr-asciicast search index".into(),
            });
        }
        let s = SearchIndex {
            index,
            path: dir.to_path_buf(),
            fields,
        };
        match s.payload()? {
            Some(p) if p.schema == SCHEMA => Ok(s),
            _ => Err(IndexError::Foreign {
                path: s.shown(),
                reason: format!("its last commit does not name the schema {SCHEMA}"),
            }),
        }
    }

    /// Opens the index in `dir`, creating it when the folder does not exist or is empty. A
    /// folder holding anything else is refused, never written into.
    pub fn open_or_create(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.display().to_string();
        let io = |source| IndexError::Io {
            path: path.clone(),
            source,
        };
        let empty = match std::fs::read_dir(dir) {
            Ok(mut it) => it.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io)?;
                true
            }
            Err(e) => return Err(io(e)),
        };
        if !empty {
            return Self::open(dir);
        }
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir, schema).map_err(|e| tantivy_error(&path, e))?;
        let s = SearchIndex {
            index,
            path: dir.to_path_buf(),
            fields,
        };
        // The first commit names the schema, so that an empty index is recognised as ours.
        let mut w = s.writer()?;
        s.commit(&mut w, None)?;
        Ok(s)
    }

    /// The folder, for messages.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }

    /// The shard this index holds (`None`: every recording of its targets).
    pub fn shard(&self) -> Result<Option<String>, IndexError> {
        Ok(self.payload()?.and_then(|p| p.shard))
    }

    fn payload(&self) -> Result<Option<Payload>, IndexError> {
        let metas = self
            .index
            .load_metas()
            .map_err(|e| tantivy_error(&self.shown(), e))?;
        Ok(metas
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok()))
    }

    fn writer(&self) -> Result<IndexWriter<TantivyDocument>, IndexError> {
        self.index
            .writer_with_num_threads(1, WRITER_HEAP)
            .map_err(|e| tantivy_error(&self.shown(), e))
    }

    fn commit(
        &self,
        w: &mut IndexWriter<TantivyDocument>,
        shard: Option<String>,
    ) -> Result<(), IndexError> {
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA.into(),
            shard,
        })
        .map_err(|e| IndexError::Io {
            path: self.shown(),
            source: e.into(),
        })?;
        let mut prepared = w
            .prepare_commit()
            .map_err(|e| tantivy_error(&self.shown(), e))?;
        prepared.set_payload(&payload);
        prepared
            .commit()
            .map_err(|e| tantivy_error(&self.shown(), e))?;
        Ok(())
    }
}

/// Runs `f`, turning a panic inside tantivy (on data it does not check) into
/// [`IndexError::Damaged`]: a damaged index must give an error, never abort the process.
fn guarded<T>(path: &str, f: impl FnOnce() -> Result<T, IndexError>) -> Result<T, IndexError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(IndexError::Damaged(path.to_string())))
}

fn tantivy_error(path: &str, e: tantivy::TantivyError) -> IndexError {
    match e {
        tantivy::TantivyError::LockFailure(..) => IndexError::Busy(path.to_string()),
        source => IndexError::Tantivy {
            path: path.to_string(),
            source,
        },
    }
}
