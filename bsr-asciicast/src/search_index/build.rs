//! Building and updating the index: new recordings added, replaced ones re-indexed, unchanged
//! ones skipped after reading their `SHA256SUM.sig`, missing ones removed.

use super::plan::trigrams;
use super::{Fields, IndexError, KIND_LINE, KIND_REC, SearchIndex, tantivy_error};
use crate::search::{Failure, LineRef, walk_recording};
use crate::term::{TextError, printable};
use crate::verified::{GateOptions, gate};
use bsr_core::format::SIG_FILE;
use bsr_core::store::{ReadStore, join};
use bsr_verify::shard::Shard;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexWriter, TantivyDocument, Term};

/// Recordings processed between two commits (what a crash can lose).
const BATCH: usize = 1000;
/// Largest `SHA256SUM.sig` read.
const MAX_SIG_FILE: u64 = 1 << 20;

/// Options of [`SearchIndex::update`].
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Recordings verified and indexed in parallel.
    pub jobs: usize,
    /// The verification gate's trust anchors.
    pub gate: GateOptions,
    /// Names the trust anchors (e.g. SHA-256 of the key files): a recording indexed under other
    /// anchors is verified again.
    pub trust_key: String,
    /// Only this shard's recordings (as `bsr-verify --shard` assigns them).
    pub shard: Option<Shard>,
    /// Remove recordings that are in the index but not in the sources. Set it only when every
    /// target could be listed.
    pub remove_missing: bool,
}

/// What an update did with one recording.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexEvent {
    /// Verified and indexed.
    Indexed {
        /// The recording.
        recording: String,
        /// Shell and exec channels indexed.
        channels: u64,
        /// Lines indexed.
        lines: u64,
        /// It was in the index with another `SHA256SUM.sig` (or other trust anchors).
        replaced: bool,
    },
    /// In the index with the same `SHA256SUM.sig` and trust anchors: not read again.
    Unchanged {
        /// The recording.
        recording: String,
    },
    /// Could not be indexed (not verified, unreadable); not in the index after the update.
    Failed(Failure),
    /// In the index, but no longer under the targets: removed.
    Removed {
        /// The recording.
        recording: String,
    },
}

/// Counts of an update.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpdateSummary {
    /// Recordings indexed (new or replaced).
    pub indexed: u64,
    /// Of those, recordings that replaced an earlier version.
    pub replaced: u64,
    /// Recordings already in the index, unchanged.
    pub unchanged: u64,
    /// Recordings that could not be indexed.
    pub failed: u64,
    /// Recordings removed (no longer under the targets).
    pub removed: u64,
    /// Lines indexed.
    pub lines: u64,
}

impl UpdateSummary {
    fn add(&mut self, e: &IndexEvent) {
        match e {
            IndexEvent::Indexed {
                lines, replaced, ..
            } => {
                self.indexed += 1;
                self.replaced += u64::from(*replaced);
                self.lines += lines;
            }
            IndexEvent::Unchanged { .. } => self.unchanged += 1,
            IndexEvent::Failed(_) => self.failed += 1,
            IndexEvent::Removed { .. } => self.removed += 1,
        }
    }
}

/// What the index holds about a recording.
#[derive(Debug, Clone)]
struct Known {
    sig: String,
    trust: String,
}

type Writer = IndexWriter<TantivyDocument>;

impl SearchIndex {
    /// Brings the index up to date with the recordings `sources` lists (each a store and its
    /// recording folders, as [`bsr_verify::target::resolve`] gives them), giving each
    /// recording's [`IndexEvent`] to `report`. Holds the index's writer lock throughout
    /// ([`IndexError::Busy`] when another process holds it). Errors only for the index itself;
    /// a recording that cannot be indexed is an event.
    pub fn update(
        &self,
        sources: &[(Arc<dyn ReadStore>, Vec<String>)],
        opts: &UpdateOptions,
        report: &(dyn Fn(&IndexEvent) + Sync),
    ) -> Result<UpdateSummary, IndexError> {
        let mut writer = self.writer()?;
        let known = self.known()?;
        let want = opts.shard.map(|s| s.to_string());
        let have = self.shard()?;
        if have != want && !known.is_empty() {
            return Err(IndexError::ShardMismatch {
                path: self.shown(),
                have: have.unwrap_or_else(|| "all".into()),
                want: want.unwrap_or_else(|| "all".into()),
            });
        }
        // Each location once (a target given twice lists its recordings twice).
        let mut seen = BTreeSet::new();
        let work: Vec<(&Arc<dyn ReadStore>, &String)> = sources
            .iter()
            .flat_map(|(store, dirs)| dirs.iter().map(move |d| (store, d)))
            .filter(|(_, d)| opts.shard.is_none_or(|s| s.contains(d)))
            .filter(|(s, d)| seen.insert(s.describe(d)))
            .collect();
        let summary = Mutex::new(UpdateSummary::default());
        let emit = |e: IndexEvent| {
            if let Ok(mut s) = summary.lock() {
                s.add(&e);
            }
            report(&e);
        };
        for batch in work.chunks(BATCH) {
            self.run_batch(&writer, batch, &known, opts, &emit)?;
            self.commit(&mut writer, want.clone())?;
        }
        if opts.remove_missing {
            for loc in known.keys().filter(|l| !seen.contains(*l)) {
                writer.delete_term(Term::from_field_text(self.fields.loc, loc));
                emit(IndexEvent::Removed {
                    recording: loc.clone(),
                });
            }
        }
        self.commit(&mut writer, want)?;
        writer
            .wait_merging_threads()
            .map_err(|e| tantivy_error(&self.shown(), e))?;
        Ok(summary.into_inner().unwrap_or_default())
    }

    fn run_batch(
        &self,
        writer: &Writer,
        batch: &[(&Arc<dyn ReadStore>, &String)],
        known: &BTreeMap<String, Known>,
        opts: &UpdateOptions,
        emit: &(dyn Fn(IndexEvent) + Sync),
    ) -> Result<(), IndexError> {
        let next = AtomicUsize::new(0);
        let fatal: Mutex<Option<IndexError>> = Mutex::new(None);
        let work = || {
            while let Some((store, dir)) = batch.get(next.fetch_add(1, Ordering::Relaxed)) {
                match self.index_one(writer, store, dir, known, opts) {
                    Ok(e) => emit(e),
                    Err(e) => {
                        if let Ok(mut f) = fatal.lock() {
                            f.get_or_insert(e);
                        }
                        // Stop every thread.
                        next.store(batch.len(), Ordering::Relaxed);
                    }
                }
            }
        };
        let jobs = opts.jobs.clamp(1, batch.len().max(1));
        std::thread::scope(|s| {
            for _ in 1..jobs {
                s.spawn(work);
            }
            work();
        });
        match fatal.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Indexes one recording unless it is unchanged.
    fn index_one(
        &self,
        writer: &Writer,
        store: &Arc<dyn ReadStore>,
        dir: &str,
        known: &BTreeMap<String, Known>,
        opts: &UpdateOptions,
    ) -> Result<IndexEvent, IndexError> {
        let location = store.describe(dir);
        let f = self.fields;
        let sig = read_sig(&**store, dir);
        let before = known.get(&location);
        if let (Some(sig), Some(k)) = (&sig, before)
            && *sig == k.sig
            && opts.trust_key == k.trust
        {
            return Ok(IndexEvent::Unchanged {
                recording: location,
            });
        }
        let loc_term = Term::from_field_text(f.loc, &location);
        if before.is_some() {
            writer.delete_term(loc_term.clone());
        }
        let failed = |reason: String| {
            IndexEvent::Failed(Failure {
                recording: location.clone(),
                reason,
            })
        };
        let verification = match gate(&**store, dir, &opts.gate) {
            Ok(v) => v,
            Err(e) => return Ok(failed(e.to_string())),
        };
        let mut lines = 0u64;
        let mut fatal = None;
        let walked = walk_recording(store, dir, Some(&verification), &mut |l| {
            let r = writer.add_document(line_doc(&f, l));
            match r {
                Ok(_) => {
                    lines += 1;
                    Ok(())
                }
                Err(e) => {
                    fatal = Some(tantivy_error(&self.shown(), e));
                    Err(TextError::Malformed("the index writer failed".into()))
                }
            }
        });
        if let Some(e) = fatal {
            return Err(e);
        }
        let after = read_sig(&**store, dir);
        let reason = match (&walked, &sig, &after) {
            (Err(e), _, _) => Some(printable(&bsr_core::error::chain(e)).into_owned()),
            (Ok(_), Some(a), Some(b)) if a == b => None,
            _ => Some(format!(
                "{SIG_FILE} changed (or could not be read) while it was indexed; it will be indexed again by the next update"
            )),
        };
        if let Some(reason) = reason {
            // Take out the lines added for it.
            writer.delete_term(loc_term);
            return Ok(failed(reason));
        }
        let channels = walked.unwrap_or(0);
        let mut doc = TantivyDocument::new();
        doc.add_text(f.kind, KIND_REC);
        doc.add_text(f.loc, &location);
        doc.add_text(f.sig, sig.as_deref().unwrap_or_default());
        doc.add_text(f.trust, &opts.trust_key);
        doc.add_u64(f.channels, channels);
        doc.add_u64(f.lines, lines);
        writer
            .add_document(doc)
            .map_err(|e| tantivy_error(&self.shown(), e))?;
        Ok(IndexEvent::Indexed {
            recording: location,
            channels,
            lines,
            replaced: before.is_some(),
        })
    }

    /// The recordings in the index: their locations (as the store describes them) and the
    /// SHA-256 (hex) of the `SHA256SUM.sig` each was indexed with ([`recording_sig`]).
    pub fn recordings(&self) -> Result<BTreeMap<String, String>, IndexError> {
        Ok(self
            .known()?
            .into_iter()
            .map(|(loc, k)| (loc, k.sig))
            .collect())
    }

    /// The recordings in the index, by location.
    fn known(&self) -> Result<BTreeMap<String, Known>, IndexError> {
        let f = self.fields;
        let mut out = BTreeMap::new();
        let q = TermQuery::new(
            Term::from_field_text(f.kind, KIND_REC),
            IndexRecordOption::Basic,
        );
        self.for_each_doc(&q, &mut |doc| {
            let s = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            out.insert(
                s(f.loc),
                Known {
                    sig: s(f.sig),
                    trust: s(f.trust),
                },
            );
            Ok(())
        })?;
        Ok(out)
    }
}

/// SHA-256 (hex) of the session's `SHA256SUM.sig`, `None` when it cannot be read: what the
/// index keys a recording by ([`SearchIndex::recordings`]).
pub fn recording_sig(store: &dyn ReadStore, dir: &str) -> Option<String> {
    read_sig(store, dir)
}

/// SHA-256 (hex) of the session's `SHA256SUM.sig`, `None` when it cannot be read.
fn read_sig(store: &dyn ReadStore, dir: &str) -> Option<String> {
    store
        .read_limited(&join(dir, SIG_FILE), MAX_SIG_FILE)
        .ok()
        .map(|b| hex::encode(Sha256::digest(&b)))
}

fn line_doc(f: &Fields, l: &LineRef<'_>) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(f.kind, KIND_LINE);
    doc.add_text(f.loc, l.recording);
    for g in trigrams(l.text) {
        doc.add_text(f.grams, g);
    }
    doc.add_text(f.text, l.text);
    doc.add_text(f.conn, l.connection);
    doc.add_text(f.chan, l.channel);
    doc.add_text(f.user, l.user);
    doc.add_text(f.target, l.target);
    doc.add_f64(f.t, crate::text::offset_seconds(l.time, l.head));
    doc.add_text(f.time, l.time.to_rfc3339());
    doc.add_u64(f.full_screen, u64::from(l.full_screen));
    doc
}
