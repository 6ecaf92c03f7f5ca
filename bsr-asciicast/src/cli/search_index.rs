//! `search --index DIR` and `index DIR TARGET...`: the search index on the command line
//! (library: `bsr_asciicast::search_index`).

use super::views::HitPrinter;
use anyhow::Context;
use bsr_asciicast::search::{Failure, Found, Matcher};
use bsr_asciicast::search_index::{
    IndexEvent, SearchIndex, UpdateOptions, UpdateSummary, query_all,
};
use bsr_asciicast::term::printable;
use bsr_asciicast::verified::{GateArgs, GateOptions};
use bsr_core::store::ReadStore;
use bsr_verify::shard::Shard;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// The arguments of `index`.
#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// The index folder (created when missing or empty).
    index: PathBuf,
    /// Recording folders, folders of recordings, or s3://bucket/prefix.
    #[arg(required = true)]
    targets: Vec<String>,
    /// Recordings verified and indexed in parallel.
    #[arg(short = 'j', long, default_value_t = 1)]
    jobs: usize,
    /// Only this shard's recordings: K/N, as `bsr-verify --shard` assigns them (one index
    /// per shard).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// One JSON object per recording not indexed or removed, and the counts at the end.
    #[arg(long)]
    json: bool,
    /// S3 endpoint URL (for s3:// targets).
    #[arg(long)]
    endpoint: Option<String>,
    /// S3 region (for s3:// targets).
    #[arg(long)]
    region: Option<String>,
    /// KEK file: also check that the KMS wrapped each recording's key (authenticity).
    #[arg(long)]
    kek: Option<PathBuf>,
    /// Trusted recorder public key file: also check the recorder attestation.
    #[arg(long)]
    recorder_key: Option<PathBuf>,
}

/// What `search --index` was given.
#[derive(Debug)]
pub struct IndexedSearch<'a> {
    /// The index folders (several: queried together; one with targets: updated first).
    pub indexes: &'a [PathBuf],
    /// Targets to bring the index up to date with first (may be empty).
    pub targets: &'a [String],
    /// The matcher.
    pub matcher: &'a Matcher,
    /// JSON output.
    pub json: bool,
    /// Parallel verification while updating.
    pub jobs: usize,
    /// The shard of the update.
    pub shard: Option<Shard>,
    /// S3 settings.
    pub s3: bsr_verify::target::S3Flags,
    /// Trust anchors (`--unverified` is refused: the index holds verified content only).
    pub gate: &'a GateArgs,
}

/// `search --index`: update the index from the targets (if any), then query.
pub fn run_search(a: IndexedSearch<'_>) -> anyhow::Result<i32> {
    if a.gate.unverified {
        anyhow::bail!("--index holds verified content only; it cannot be used with --unverified");
    }
    let printer = HitPrinter::new(a.json);
    let mut opened = Vec::new();
    if !a.targets.is_empty() {
        let [dir] = a.indexes else {
            anyhow::bail!(
                "give one --index to update from the targets, or several --index and no targets to query them together"
            );
        };
        let ix = SearchIndex::open_or_create(dir)?;
        let opts = update_options(a.gate, a.jobs, a.shard)?;
        let (sources, all_listed) = resolve(a.targets, &a.s3, &|f| printer.print(f));
        let summary = ix.update(
            &sources,
            &UpdateOptions {
                remove_missing: all_listed,
                ..opts
            },
            &|e| {
                if let IndexEvent::Failed(f) = e {
                    printer.print(Found::Failed(f.clone()));
                }
            },
        )?;
        say_summary(&ix, &summary);
        opened.push(ix);
    } else {
        for dir in a.indexes {
            opened.push(SearchIndex::open(dir)?);
        }
    }
    query_all(&opened, a.matcher, &mut |h| printer.print(Found::Hit(h)))?;
    printer.finish()
}

/// `index DIR TARGET...`: build or update the index; exit 2 when a recording could not be
/// indexed.
pub fn run_index(a: IndexArgs) -> anyhow::Result<i32> {
    let gate = GateArgs {
        kek: a.kek.clone(),
        recorder_key: a.recorder_key.clone(),
        unverified: false,
    };
    let ix = SearchIndex::open_or_create(&a.index)?;
    let opts = update_options(&gate, a.jobs, a.shard)?;
    let failures = std::sync::atomic::AtomicU64::new(0);
    let json_line = |v: serde_json::Value| {
        if a.json {
            println!("{v}");
        }
    };
    let fail = |f: &Failure| {
        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "bsr-asciicast: {}: could not be indexed: {}",
            printable(&f.recording),
            f.reason
        );
        json_line(serde_json::json!({ "not_indexed": f }));
    };
    let (sources, all_listed) = resolve(&a.targets, &a.s3(), &|f| {
        if let Found::Failed(f) = f {
            fail(&f);
        }
    });
    let summary = ix.update(
        &sources,
        &UpdateOptions {
            remove_missing: all_listed,
            ..opts
        },
        &|e| match e {
            IndexEvent::Failed(f) => fail(f),
            IndexEvent::Removed { recording } => {
                json_line(serde_json::json!({ "removed": recording }));
            }
            _ => {}
        },
    )?;
    say_summary(&ix, &summary);
    json_line(serde_json::json!({ "summary": summary }));
    Ok(if failures.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        2
    } else {
        0
    })
}

impl IndexArgs {
    fn s3(&self) -> bsr_verify::target::S3Flags {
        bsr_verify::target::S3Flags {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
        }
    }
}

fn say_summary(ix: &SearchIndex, s: &UpdateSummary) {
    eprintln!(
        "bsr-asciicast: index {}: {} indexed ({} replaced), {} unchanged, {} not indexed, {} removed; {} lines added",
        printable(&ix.shown()),
        s.indexed,
        s.replaced,
        s.unchanged,
        s.failed,
        s.removed,
        s.lines
    );
}

/// The update options from the gate's flags; the trust key is SHA-256 of the key files.
fn update_options(
    gate: &GateArgs,
    jobs: usize,
    shard: Option<Shard>,
) -> anyhow::Result<UpdateOptions> {
    let opts = GateOptions::from_key_files(gate.kek.as_deref(), gate.recorder_key.as_deref())?;
    let mut key = String::new();
    for (name, p) in [("kek", &gate.kek), ("recorder", &gate.recorder_key)] {
        if let Some(p) = p {
            let b = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
            key.push_str(&format!("{name}:{};", hex::encode(Sha256::digest(&b))));
        }
    }
    if key.is_empty() {
        key.push_str("none");
    }
    Ok(UpdateOptions {
        jobs,
        gate: opts,
        trust_key: key,
        shard,
        remove_missing: false,
    })
}

type Sources = Vec<(Arc<dyn ReadStore>, Vec<String>)>;

/// Every target's store and recordings; a target that cannot be listed is reported, and then
/// nothing is removed from the index (`false`).
fn resolve(
    targets: &[String],
    s3: &bsr_verify::target::S3Flags,
    report: &dyn Fn(Found),
) -> (Sources, bool) {
    let mut out = Vec::new();
    let mut all = true;
    for spec in targets {
        match bsr_verify::target::resolve(spec, s3) {
            Ok(t) => out.push((t.store, t.recordings)),
            Err(e) => {
                all = false;
                report(Found::Failed(Failure {
                    recording: spec.clone(),
                    reason: printable(&format!("{e:#}")).into_owned(),
                }));
            }
        }
    }
    (out, all)
}
