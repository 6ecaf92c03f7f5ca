//! `bsr-verify`: the auditor's verifier for BSR recordings.
//!
//! Exit codes: 0 intact and authentic; 1 tampered, corrupt or invalid; 2 usage or I/O error;
//! 3 intact but authenticity not established; 4 incomplete (unfinished recording).

use anyhow::Context;
use bsr_core::keys::{AeadWrapper, KeyWrapper, RecorderTrust};
use bsr_verify::report::{Severity, escape_controls};
use bsr_verify::shard::{Chain, Listing, Options, Shard};
use bsr_verify::target::{Opened, S3Flags, Skipped, open};
use bsr_verify::{Report, Trust, VerifyOptions};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "bsr-verify",
    version,
    about = "Verify Boundary session recordings (BSR) in local folders and S3-compatible stores",
    long_about = "Verify Boundary session recordings (BSR) in local folders and S3-compatible stores.\n\n\
Exit codes: 0 intact and authentic; 1 tampered, corrupt or invalid; 2 usage or I/O error;\n\
3 intact but authenticity not established; 4 incomplete (unfinished recording).",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    verify: VerifyArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Verify recordings (the default when no subcommand is given).
    Verify(VerifyArgs),
    /// Moved to `bsr-recover` (the verifier is read-only).
    #[command(hide = true)]
    Recover {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// One JSON object of session facts per recording (JSON lines).
    Facts(FactsArgs),
    /// Audit events of each recording, in time order (JSON lines).
    Events(FactsArgs),
    /// Combine the `--json` reports of all N shards of a `--shard` run into the summary that
    /// one run over the whole archive gives; refuses missing, duplicated, inconsistent or
    /// edited shard reports (exit 2).
    Merge {
        /// The shard reports (JSON lines of `bsr-verify --json --shard K/N`).
        #[arg(value_name = "REPORT", required = true)]
        reports: Vec<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
struct FactsArgs {
    /// Recording folders, folders of recordings, or `s3://bucket/prefix`.
    #[arg(value_name = "TARGET", required = true)]
    targets: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Do not verify (metadata only); facts then carry no verdict.
    #[arg(long)]
    no_verify: bool,
    /// Leave out recordings that are not intact and authentic (a warning goes to stderr).
    #[arg(long)]
    verified_only: bool,
    /// Only recordings/events at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only recordings/events before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// User id or name.
    #[arg(long)]
    user: Option<String>,
    /// Target id or name.
    #[arg(long)]
    target: Option<String>,
    /// Event kinds, comma-separated; `session.*` matches a prefix (events only).
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Parallel workers (default: the number of cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Only this shard's recordings: K/N, K 0-based (0..N), e.g. `--shard "$JOB_COMPLETION_INDEX/8"`.
    /// A recording's shard is SHA-256 of its recording id (folder name without `.bsr`) modulo N
    /// (docs/SCALE.md). Takes exactly one TARGET.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

#[derive(Args, Debug, Clone)]
struct TrustArgs {
    /// AEAD key-encryption key file (32 bytes raw, hex or base64): unwraps the BSR key and checks
    /// the KMS binding of the recording's public key.
    #[arg(long, value_name = "FILE")]
    kek: Option<PathBuf>,
    /// Trusted recorder public key(s) (hex lines) or recorder key file: checks the recorder
    /// attestation.
    #[arg(long, value_name = "FILE")]
    recorder_key: Option<PathBuf>,
    /// S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// S3 region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1).
    #[arg(long)]
    region: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct VerifyArgs {
    /// Recording folders (`*.bsr`), folders holding recordings, or `s3://bucket/prefix`.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Write one JSON report per recording (JSON lines) and a final summary object to stdout.
    #[arg(long)]
    json: bool,
    /// Parallel workers (default: the number of cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Do not compare the object store's own SHA-256 checksums.
    #[arg(long)]
    no_store_checksums: bool,
    /// Read local data files with read calls instead of a sliding memory map (for folders that
    /// another process may truncate while they are verified; a little slower).
    #[arg(long)]
    no_mmap: bool,
    /// Only this shard's recordings: K/N, K 0-based (0..N), e.g. `--shard "$JOB_COMPLETION_INDEX/8"`.
    /// A recording's shard is SHA-256 of its recording id (folder name without `.bsr`) modulo N
    /// (docs/SCALE.md). Takes exactly one TARGET.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Print only the summary line of each recording, not each problem.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Also print warnings.
    #[arg(long, short = 'w')]
    warnings: bool,
    /// The original of a redacted copy (a `*.bsr` folder or s3:// prefix holding one
    /// recording): verify it too, and prove that every byte of the copy outside the ranges its
    /// REDACTION.json lists is the original's.
    #[arg(long, value_name = "DIR")]
    original: Option<String>,
}

impl TrustArgs {
    fn s3_flags(&self) -> S3Flags {
        S3Flags {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
        }
    }
}

/// `--jobs`, defaulting to the number of cores.
fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

fn trust_from(args: &TrustArgs) -> anyhow::Result<Trust> {
    let kek: Option<Arc<dyn KeyWrapper>> = match &args.kek {
        Some(p) => Some(Arc::new(AeadWrapper::from_kek_file(p).context("--kek")?)),
        None => None,
    };
    let recorder = match &args.recorder_key {
        Some(p) => Some(Arc::new(
            RecorderTrust::from_file(p).context("--recorder-key")?,
        )),
        None => None,
    };
    Ok(Trust { kek, recorder })
}

fn print_human(
    out: &mut impl Write,
    r: &Report,
    quiet: bool,
    warnings: bool,
) -> std::io::Result<()> {
    if !quiet {
        for p in &r.problems {
            if p.severity == Severity::Error || warnings {
                writeln!(out, "{p}")?;
            }
        }
    }
    let errors = r
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warns = r.problems.len() - errors;
    let mut recovered = if r.recovered {
        " [recovered after a crash: closed by bsr-recover, not by the recorder]"
    } else {
        ""
    }
    .to_string();
    if let Some(rd) = &r.redaction {
        recovered.push_str(&rd.describe());
    }
    writeln!(
        out,
        "{}: {}{recovered} [trust: {}] ({} error(s), {} warning(s); {} containers, {} files, {} bytes, {} chunks)",
        escape_controls(&r.location),
        r.verdict.describe(),
        r.trust.mode,
        errors,
        warns,
        r.stats.containers,
        r.stats.files,
        r.stats.bytes,
        r.stats.chunks
    )
}

/// Says on stderr what a target holds that will not be looked at: no recordings at all, or
/// skipped symbolic links. Returns false when there was any (the run then cannot pass).
fn report_unseen(spec: &str, skipped: &[Skipped], found: u64) -> bool {
    for s in skipped {
        eprintln!(
            "bsr-verify: error: {}: skipped: {}",
            escape_controls(&s.location),
            s.reason
        );
    }
    if found == 0 {
        eprintln!(
            "bsr-verify: error: {}: no recordings (*.bsr folders) found",
            escape_controls(spec)
        );
        return false;
    }
    skipped.is_empty()
}

/// Opens every target for a streaming search; with `--shard`, exactly one target is allowed.
fn open_all(
    targets: &[String],
    s3: &bsr_verify::target::S3Flags,
    shard: Option<Shard>,
) -> anyhow::Result<Vec<(String, Opened)>> {
    check_shard_targets(targets, shard)?;
    targets
        .iter()
        .map(|spec| Ok((spec.clone(), open(spec, s3)?)))
        .collect()
}

fn check_shard_targets(targets: &[String], shard: Option<Shard>) -> anyhow::Result<()> {
    if shard.is_some() && targets.len() != 1 {
        anyhow::bail!(
            "--shard takes exactly one TARGET (got {}): run one sharded job per archive",
            targets.len()
        );
    }
    Ok(())
}

/// SHA-256 of a file's bytes (hex), for the options fingerprint.
fn file_sha256(p: &std::path::Path) -> anyhow::Result<String> {
    use sha2::Digest;
    let b = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(hex::encode(sha2::Sha256::digest(&b)))
}

fn run_verify(a: VerifyArgs) -> anyhow::Result<i32> {
    if a.targets.is_empty() {
        anyhow::bail!(
            "no TARGET given (a *.bsr folder, a folder of recordings, or s3://bucket/prefix)"
        );
    }
    let trust = trust_from(&a.trust)?;
    let options = Options {
        tool: format!("bsr-verify {}", env!("CARGO_PKG_VERSION")),
        command: "verify".into(),
        kek: trust.kek.as_ref().map(|k| k.key_id()),
        recorder_keys: a
            .trust
            .recorder_key
            .as_deref()
            .map(file_sha256)
            .transpose()?,
        store_checksums: !a.no_store_checksums,
    };
    let opts = VerifyOptions {
        trust,
        store_checksums: !a.no_store_checksums,
        map_files: !a.no_mmap,
        ..VerifyOptions::default()
    };
    let jobs = jobs_or_cores(a.jobs);
    let s3 = a.trust.s3_flags();
    let opened = open_all(&a.targets, &s3, a.shard)?;
    let fingerprint = options.fingerprint();
    let mut chain = a.shard.map(|s| Chain::start(s, &fingerprint));
    let mut listing = Listing::default();
    let original = match &a.original {
        Some(spec) => {
            let (store, dir) = bsr_verify::target::resolve_one(spec, &s3)?;
            Some(bsr_verify::verify::OriginalRef::verify(store, &dir, &opts))
        }
        None => None,
    };
    let mut covered = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    for (spec, target) in &opened {
        // The listing streams: recordings are verified while the search goes on, so the bar's
        // length grows as recordings are found.
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} recordings (listed so far) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut io_err: Option<std::io::Error> = None;
        let ran = target.run(
            a.shard,
            jobs,
            &|mine| {
                if mine {
                    pb.inc_length(1);
                }
            },
            |d| {
                let mut r = bsr_verify::verify(&*target.store, d, &opts);
                if let Some(o) = &original {
                    bsr_verify::verify::check_against_original(&mut r, target.store.clone(), o);
                }
                r
            },
            |r| {
                pb.inc(1);
                *counts.entry(r.verdict.key().to_string()).or_default() += 1;
                if chain.is_some() {
                    covered.push(r.recording.clone());
                }
                let res = if a.json {
                    line.clear();
                    serde_json::to_writer(&mut line, &r)
                        .map_err(std::io::Error::other)
                        .and_then(|_| {
                            if let Some(c) = &mut chain {
                                c.push(&line);
                            }
                            line.push(b'\n');
                            out.write_all(&line)
                        })
                } else {
                    pb.suspend(|| print_human(&mut out, &r, a.quiet, a.warnings))
                };
                if let Err(e) = res {
                    io_err.get_or_insert(e);
                }
            },
        );
        pb.finish_and_clear();
        if let Some(e) = io_err {
            return Err(e).context("writing the report");
        }
        let (mut seen, skipped) = ran.with_context(|| format!("searching {spec}"))?;
        if !report_unseen(spec, &skipped, seen.count()) {
            seen.unseen += skipped.len().max(1) as u64;
        }
        listing.absorb(&seen);
    }
    covered.sort();
    let shard = a
        .shard
        .zip(chain.as_ref())
        .map(|(s, c)| (s, covered.as_slice(), c));
    let summary = bsr_verify::shard::summary(&counts, &options, &listing, shard);
    let code = summary["exit_code"].as_i64().unwrap_or(2) as i32;
    let total: u64 = counts.values().sum();
    if a.json {
        writeln!(out, "{summary}")?;
    } else if total != 1 || a.shard.is_some() {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let of = match a.shard {
            Some(s) => format!(" (shard {s}: {total} of the {} listed)", listing.count()),
            None => String::new(),
        };
        writeln!(
            out,
            "checked {total} recording(s){of}: {}",
            parts.join(", ")
        )?;
    }
    out.flush()?;
    Ok(code)
}

fn run_merge(reports: &[PathBuf]) -> anyhow::Result<i32> {
    let texts = reports
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))
                .map(|t| (p.display().to_string(), t))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let summary = bsr_verify::shard::merge(&texts).context("merge refused")?;
    println!("{summary}");
    Ok(summary["exit_code"].as_i64().unwrap_or(2) as i32)
}

fn parse_time(s: &Option<String>, flag: &str) -> anyhow::Result<Option<bsr_core::Timestamp>> {
    match s {
        None => Ok(None),
        Some(t) => bsr_core::Timestamp::parse_rfc3339(t)
            .map(Some)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--{flag}: {t:?} is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)"
                )
            }),
    }
}

fn run_facts(a: FactsArgs, events: bool) -> anyhow::Result<i32> {
    use bsr_verify::facts::{Filter, verify_and_analyze};
    let filter = Filter {
        since: parse_time(&a.since, "since")?,
        until: parse_time(&a.until, "until")?,
        user: a.user.clone(),
        target: a.target.clone(),
        kinds: a.kind.clone(),
    };
    filter
        .check_kinds()
        .map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let opts = VerifyOptions {
        trust: trust_from(&a.trust)?,
        store_checksums: true,
        ..VerifyOptions::default()
    };
    let jobs = jobs_or_cores(a.jobs);
    let s3 = a.trust.s3_flags();
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut left_out = 0u64;
    let mut did_not_verify = 0u64;
    let mut unseen = false;
    for (spec, target) in &open_all(&a.targets, &s3, a.shard)? {
        let store = target.store.clone();
        let mut err: Option<anyhow::Error> = None;
        let ran = target.run(
            a.shard,
            jobs,
            &|_| {},
            |dir| verify_and_analyze(store.clone(), dir, (!a.no_verify).then_some(&opts)),
            |(facts, evs)| {
                if err.is_some() {
                    return;
                }
                // A recording that could not be read (in whole or in part) is never dropped in
                // silence: what could not be read is named on stderr, and the exit is non-zero.
                if !facts.read_errors.is_empty() {
                    left_out += 1;
                    let loc = escape_controls(&facts.location);
                    if let Some(why) = &facts.unreadable {
                        let what = if events { ", no events" } else { "" };
                        let why = escape_controls(why);
                        eprintln!(
                            "bsr-verify: error: {loc}: the recording cannot be read{what}: {why}"
                        );
                    } else {
                        for e in &facts.read_errors {
                            eprintln!("bsr-verify: error: {loc}: {}", escape_controls(e));
                        }
                    }
                    if events && facts.unreadable.is_some() {
                        return;
                    }
                }
                if !filter.matches_facts(&facts) {
                    return;
                }
                if a.verified_only && facts.verification.as_ref().is_none_or(|v| v.exit_code != 0) {
                    left_out += 1;
                    let why = facts
                        .verification
                        .as_ref()
                        .map_or("not verified (--no-verify)".to_string(), |v| {
                            v.verdict.clone()
                        });
                    eprintln!(
                        "bsr-verify: warning: {} left out (--verified-only): {why}",
                        escape_controls(&facts.location)
                    );
                    return;
                }
                // Shown, with its verdict, but never passed as valid: a recording that did not
                // verify (tampered, unreadable, unfinished) is named on stderr and the exit is 1.
                if let Some(v) = &facts.verification
                    && matches!(v.exit_code, 1 | 2 | 4)
                {
                    did_not_verify += 1;
                    eprintln!(
                        "bsr-verify: error: {}: did not verify ({}, {} error(s)):",
                        escape_controls(&facts.location),
                        v.verdict,
                        v.errors
                    );
                    for e in &v.quoted {
                        eprintln!("  {}", escape_controls(e));
                    }
                }
                let res = if events {
                    evs.iter()
                        .filter(|e| filter.matches_event(e))
                        .try_for_each(|e| {
                            serde_json::to_writer(&mut out, e).map_err(std::io::Error::other)?;
                            writeln!(out)
                        })
                } else {
                    serde_json::to_writer(&mut out, &facts)
                        .map_err(std::io::Error::other)
                        .and_then(|_| writeln!(out))
                };
                if let Err(e) = res {
                    err = Some(e.into());
                }
            },
        );
        if let Some(e) = err {
            return Err(e);
        }
        let (seen, skipped) = ran.with_context(|| format!("searching {spec}"))?;
        unseen |= !report_unseen(spec, &skipped, seen.count());
    }
    out.flush()?;
    Ok(if unseen {
        2
    } else if left_out > 0 || did_not_verify > 0 {
        1
    } else {
        0
    })
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Some(Cmd::Verify(a)) => run_verify(a),
        None => run_verify(cli.verify),
        Some(Cmd::Recover { args }) => Err(anyhow::anyhow!(
            "`recover` writes, and the verifier is read-only: it moved to the separate tool \
             `bsr-recover` (run: bsr-recover {})",
            escape_controls(&args.join(" "))
        )),
        Some(Cmd::Facts(a)) => run_facts(a, false),
        Some(Cmd::Events(a)) => run_facts(a, true),
        Some(Cmd::Merge { reports }) => run_merge(&reports),
    };
    match res {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("bsr-verify: error: {e:#}");
            std::process::exit(2);
        }
    }
}
