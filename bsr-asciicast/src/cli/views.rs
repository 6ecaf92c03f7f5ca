//! The text views on the command line: `text`, `commands`, `search`.

use anyhow::Context;
use bsr_asciicast::convert::ChannelFiles;
use bsr_asciicast::search::{Check, Found, Matcher, search};
use bsr_asciicast::term::{MAX_COLS, MAX_LINE_CHARS, MAX_ROWS, TextError, printable};
use bsr_asciicast::verified::{GateArgs, GateError, GateOptions, Pending, UNVERIFIED_WARNING};
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The arguments of `text` and `commands`.
#[derive(clap::Args, Debug)]
pub struct ChannelArgs {
    /// The recording folder (`*.bsr`).
    recording: PathBuf,
    /// Connection recording id.
    #[arg(long)]
    connection: Option<String>,
    /// Channel recording id.
    #[arg(long)]
    channel: Option<String>,
    /// JSON objects, one per line.
    #[arg(long)]
    json: bool,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Subcommand, Debug)]
pub enum ViewCmd {
    /// What the terminal showed, as text: every line with the time it was completed (JSON:
    /// {"t", "time", "line"}); full-screen programs as marked blocks with their last frame.
    Text(ChannelArgs),
    /// The commands the user ran, with their times (`time<TAB>command`; JSON: {"t", "time",
    /// "command", "source", "echoed"}).
    Commands(ChannelArgs),
    /// Search the text that appeared on screen in every shell and exec channel of the
    /// recordings under folders and s3:// prefixes.
    Search {
        /// Text to find (a regular expression with --regex).
        pattern: String,
        /// Recording folders, folders of recordings, or s3://bucket/prefix. With --index: the
        /// index is first brought up to date with them; without targets, only queried.
        #[arg(required_unless_present = "index")]
        targets: Vec<String>,
        /// Search the index in DIR (docs/TEXT.md): updated from the targets first (new and
        /// replaced recordings verified and indexed, unchanged ones skipped). Several --index
        /// without targets (one per shard) are queried together.
        #[arg(long, value_name = "DIR")]
        index: Vec<PathBuf>,
        /// PATTERN is a regular expression.
        #[arg(long)]
        regex: bool,
        /// Case-insensitive.
        #[arg(short = 'i', long = "ignore-case")]
        ignore_case: bool,
        /// One JSON object per hit, and per recording that could not be searched.
        #[arg(long)]
        json: bool,
        /// Recordings searched in parallel.
        #[arg(short = 'j', long, default_value_t = 1)]
        jobs: usize,
        /// Only this shard's recordings: K/N, K 0-based, as `bsr-verify --shard` assigns them
        /// (SHA-256 of the recording id modulo N; docs/SCALE.md).
        #[arg(long, value_name = "K/N")]
        shard: Option<bsr_verify::shard::Shard>,
        /// S3 endpoint URL (for s3:// targets).
        #[arg(long)]
        endpoint: Option<String>,
        /// S3 region (for s3:// targets).
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Build or update a search index (for `search --index`) from the recordings under folders
    /// and s3:// prefixes: only verified content is indexed; unchanged recordings are skipped.
    Index(super::search_index::IndexArgs),
}

/// Runs a view command; returns the exit code.
pub fn run(cmd: ViewCmd) -> anyhow::Result<i32> {
    match cmd {
        ViewCmd::Text(a) => {
            let (files, pending) = match verified_channel(&a)? {
                Ok(x) => x,
                Err(code) => return Ok(code),
            };
            let warning = pending.warning();
            let opts = bsr_asciicast::text::TextOptions { json: a.json };
            let r = gated_output(a.output.as_deref(), &files, pending, |w| {
                warn_in_output(w, warning, a.json)?;
                bsr_asciicast::text::write_text(&files, &opts, w)
            })?;
            let s = match r {
                Ok(s) => s,
                Err(code) => return code,
            };
            if s.cut_lines > 0 {
                eprintln!(
                    "bsr-asciicast: {} line(s) longer than {MAX_LINE_CHARS} characters were cut (marked in the output)",
                    s.cut_lines
                );
            }
            notes(s.clamped, s.finished, s.utf8_replacements, warning);
            Ok(0)
        }
        ViewCmd::Commands(a) => {
            let (files, pending) = match verified_channel(&a)? {
                Ok(x) => x,
                Err(code) => return Ok(code),
            };
            let warning = pending.warning();
            let r = gated_output(a.output.as_deref(), &files, pending, |w| {
                warn_in_output(w, warning, a.json)?;
                bsr_asciicast::commands::write_commands(&files, a.json, w)
            })?;
            let done = match r {
                Ok(d) => d,
                Err(code) => return code,
            };
            if !done.had_input {
                eprintln!(
                    "bsr-asciicast: the channel has no recorded keystrokes; only an exec request's command can be listed"
                );
            }
            notes(
                false,
                done.end.finished,
                done.end.utf8_replacements,
                warning,
            );
            Ok(0)
        }
        ViewCmd::Search {
            pattern,
            targets,
            index,
            regex,
            ignore_case,
            json,
            jobs,
            shard,
            endpoint,
            region,
            gate,
        } => {
            if !index.is_empty() {
                let matcher = Matcher::new(&pattern, regex, ignore_case).context("the pattern")?;
                return super::search_index::run_search(super::search_index::IndexedSearch {
                    indexes: &index,
                    targets: &targets,
                    matcher: &matcher,
                    json,
                    jobs,
                    shard,
                    s3: bsr_verify::target::S3Flags { endpoint, region },
                    gate: &gate,
                });
            }
            let check = if gate.unverified {
                eprintln!("bsr-asciicast: {UNVERIFIED_WARNING}");
                Check::Unverified
            } else {
                match GateOptions::from_key_files(gate.kek.as_deref(), gate.recorder_key.as_deref())
                {
                    Ok(o) => Check::Verify(o),
                    Err(e) => {
                        let code = e.exit_code();
                        super::print_error(&e.into());
                        return Ok(code);
                    }
                }
            };
            run_search(
                &pattern,
                &targets,
                SearchFlags {
                    regex,
                    ignore_case,
                    json,
                    jobs,
                    shard,
                },
                bsr_verify::target::S3Flags { endpoint, region },
                &check,
            )
        }
        ViewCmd::Index(a) => super::search_index::run_index(a),
    }
}

/// The verification gate for `text` and `commands`: the channel's files, readied while the
/// recording is verified ([`super::held`]); `Err(exit code)` when the gate refused (the reason
/// is printed).
fn verified_channel(a: &ChannelArgs) -> anyhow::Result<Result<(ChannelFiles, Pending), i32>> {
    let out = a.output.as_deref();
    let chosen = a
        .gate
        .start(&a.recording, super::held::streams(out))
        .map_err(anyhow::Error::from)
        .and_then(|o| super::held::channel(o, a.connection.as_deref(), a.channel.as_deref()));
    match chosen {
        Ok(x) => Ok(Ok(x)),
        Err(e) => match e.downcast_ref::<GateError>() {
            Some(g) => {
                let code = g.exit_code();
                super::print_error(&e);
                Ok(Err(code))
            }
            None => Err(e),
        },
    }
}

/// Runs a view through [`super::held::run_gated`]; `Err(exit code result)` when it refused or
/// failed (the reason is printed).
fn gated_output<T>(
    output: Option<&Path>,
    files: &ChannelFiles,
    pending: Pending,
    work: impl FnOnce(&mut (dyn Write + Send)) -> Result<T, TextError>,
) -> anyhow::Result<Result<T, anyhow::Result<i32>>> {
    let shown = |p: &Path| p.display().to_string();
    let r = super::held::run_gated(output, files, pending, work).with_context(|| {
        format!(
            "writing {}",
            output.map(shown).unwrap_or_else(|| "the output".into())
        )
    })?;
    Ok(match r {
        super::held::Gated::Shown(t, _) => Ok(t),
        super::held::Gated::Refused(g) => {
            let code = g.exit_code();
            super::print_error(&g.into());
            Err(Ok(code))
        }
        super::held::Gated::Failed(e) => Err(report_error(e)),
    })
}

/// The `--unverified` warning as the output's first line.
fn warn_in_output(w: &mut dyn Write, warning: Option<&str>, json: bool) -> Result<(), TextError> {
    if let Some(text) = warning {
        if json {
            serde_json::to_writer(&mut *w, &serde_json::json!({ "warning": text }))
                .map_err(std::io::Error::from)?;
            writeln!(w)?;
        } else {
            writeln!(w, "[{text}]")?;
        }
    }
    Ok(())
}

fn notes(clamped: bool, finished: bool, replaced: u64, warning: Option<&str>) {
    if let Some(w) = warning {
        eprintln!("bsr-asciicast: {w}");
    }
    if clamped {
        eprintln!(
            "bsr-asciicast: a window size was larger than {MAX_COLS}x{MAX_ROWS} and was modelled at that size"
        );
    }
    if !finished {
        eprintln!("bsr-asciicast: the channel's output has no DONE chunk (unfinished recording)");
    }
    if replaced > 0 {
        eprintln!("bsr-asciicast: {replaced} invalid UTF-8 sequence(s) shown as U+FFFD");
    }
}

fn report_error(e: TextError) -> anyhow::Result<i32> {
    match e {
        TextError::NotInteractive(m)
        | TextError::Convert(bsr_asciicast::error::ConvertError::NotInteractive(m)) => {
            eprintln!("bsr-asciicast: {}", printable(&m));
            Ok(3)
        }
        e => Err(e.into()),
    }
}

/// `search`'s output flags.
struct SearchFlags {
    regex: bool,
    ignore_case: bool,
    json: bool,
    jobs: usize,
    shard: Option<bsr_verify::shard::Shard>,
}

fn run_search(
    pattern: &str,
    targets: &[String],
    flags: SearchFlags,
    s3: bsr_verify::target::S3Flags,
    check: &Check,
) -> anyhow::Result<i32> {
    let SearchFlags {
        regex,
        ignore_case,
        json,
        jobs,
        shard,
    } = flags;
    let matcher = Matcher::new(pattern, regex, ignore_case).context("the pattern")?;
    let printer = HitPrinter::new(json);
    let print = |f: Found| printer.print(f);
    for spec in targets {
        let target = match bsr_verify::target::resolve(spec, &s3) {
            Ok(t) => t,
            Err(e) => {
                print(Found::Failed(bsr_asciicast::search::Failure {
                    recording: spec.clone(),
                    reason: printable(&format!("{e:#}")).into_owned(),
                }));
                continue;
            }
        };
        let mine: Vec<String> = target
            .recordings
            .iter()
            .filter(|r| shard.is_none_or(|s| s.contains(r)))
            .cloned()
            .collect();
        search(&target.store, &mine, &matcher, jobs, check, &print);
    }
    printer.finish()
}

/// Prints `search`'s hits (tab-separated or JSON) and failures (stderr, and JSON with
/// `--json`), counting both for the exit code. Shared by the scan and `--index`.
pub(super) struct HitPrinter {
    json: bool,
    hits: Mutex<u64>,
    failures: Mutex<u64>,
    out: Mutex<std::io::BufWriter<std::io::Stdout>>,
}

impl HitPrinter {
    pub(super) fn new(json: bool) -> Self {
        HitPrinter {
            json,
            hits: Mutex::new(0),
            failures: Mutex::new(0),
            out: Mutex::new(std::io::BufWriter::new(std::io::stdout())),
        }
    }

    pub(super) fn print(&self, f: Found) {
        let json = self.json;
        let mut o = match self.out.lock() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        let r = match &f {
            Found::Hit(h) => {
                if let Ok(mut n) = self.hits.lock() {
                    *n += 1;
                }
                if json {
                    serde_json::to_writer(&mut *o, h)
                        .map_err(std::io::Error::from)
                        .and_then(|_| o.write_all(b"\n"))
                } else {
                    writeln!(
                        o,
                        "{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}{}",
                        printable(&h.recording),
                        printable(&h.connection),
                        printable(&h.channel),
                        printable(&h.user),
                        printable(&h.target),
                        h.t,
                        h.time,
                        if h.full_screen { "[full-screen] " } else { "" },
                        h.line
                    )
                }
            }
            Found::Failed(fl) => {
                if let Ok(mut n) = self.failures.lock() {
                    *n += 1;
                }
                let _ = o.flush();
                eprintln!(
                    "bsr-asciicast: {}: could not be searched: {}",
                    printable(&fl.recording),
                    fl.reason
                );
                if json {
                    serde_json::to_writer(&mut *o, &serde_json::json!({"not_searched": fl}))
                        .map_err(std::io::Error::from)
                        .and_then(|_| o.write_all(b"\n"))
                } else {
                    Ok(())
                }
            }
            Found::Searched { .. } => Ok(()),
        };
        if let Err(e) = r
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            std::process::exit(0);
        }
    }

    /// Flushes; the exit code: 2 when a recording could not be searched, 0 when something
    /// matched, 1 when nothing did.
    pub(super) fn finish(&self) -> anyhow::Result<i32> {
        if let Ok(mut o) = self.out.lock() {
            o.flush()?;
        }
        let failed = self.failures.lock().map(|n| *n).unwrap_or(1);
        let found = self.hits.lock().map(|n| *n).unwrap_or(0);
        Ok(if failed > 0 {
            2
        } else if found > 0 {
            0
        } else {
            1
        })
    }
}
