//! `bsr-asciicast convert`: a channel of a verified recording (or raw channel files, with
//! `--unverified`) to asciicast, with the header-security summary on stderr.

use anyhow::Context;
use bsr_asciicast::convert::{
    ChannelFiles, ConvertContext, ConvertOptions, DEFAULT_MAX_OUTPUT, Format, Severity,
    convert_with,
};
use bsr_asciicast::error::ConvertError;
use bsr_asciicast::human::escape;
use bsr_asciicast::verified::{GateArgs, GateError, Pending, Verification};
use bsr_core::store::FsStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The recording folder (`*.bsr`).
    #[arg(required_unless_present = "messages")]
    recording: Option<PathBuf>,
    /// Connection recording id.
    #[arg(long)]
    connection: Option<String>,
    /// Channel recording id.
    #[arg(long)]
    channel: Option<String>,
    /// Raw `requests-inbound.data` taken out of a recording (with --messages).
    #[arg(long, requires = "messages", conflicts_with = "recording")]
    requests: Option<PathBuf>,
    /// Raw `messages-outbound.data` taken out of a recording (not with a recording folder;
    /// raw files carry no signature, so this needs --unverified).
    #[arg(long, conflicts_with_all = ["recording", "connection", "channel"])]
    messages: Option<PathBuf>,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write the header-security report as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Refuse to write a cast when a high-severity finding exists.
    #[arg(long)]
    strict: bool,
    /// Add `i` events from the user's input.
    #[arg(long)]
    input: bool,
    /// Add `r` events at window changes.
    #[arg(long)]
    resize: bool,
    /// Add `m` markers at exec, env, signal, subsystem and unknown requests.
    #[arg(long)]
    markers: bool,
    /// Everything: --input --resize --markers.
    #[arg(long)]
    all: bool,
    /// Output format (asciinema 2.4 plays v2 only; v3 needs asciinema 3 or asciinema-player 3.10+).
    #[arg(long, value_parser = ["v2", "v3"], default_value = "v2")]
    format: String,
    /// Most bytes of cast to write (suffixes K, M, G, T; default 1G): a recording's gzip
    /// chunks can expand ~400 times, so the output is capped as a decompression-bomb defence.
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_MAX_OUTPUT)]
    max_output: u64,
    /// No summary on stderr.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    follow: super::follow::FollowArgs,
    #[command(flatten)]
    gate: GateArgs,
}

/// `1024`, `64K`, `512M`, `1G`, `2T` (binary units).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {c:?} (K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1073741824, 512M, 2G)"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn raw_files(requests: Option<PathBuf>, messages: PathBuf) -> anyhow::Result<ChannelFiles> {
    let abs = |p: &PathBuf| std::fs::canonicalize(p).with_context(|| p.display().to_string());
    let m = abs(&messages)?;
    let root = PathBuf::from("/");
    let rel = |p: &Path| {
        p.strip_prefix(&root)
            .map(|r| r.display().to_string())
            .unwrap_or_default()
    };
    Ok(ChannelFiles {
        store: Arc::new(FsStore::new(&root)),
        name: messages.display().to_string(),
        channel_type: "session".into(),
        requests_inbound: match requests {
            Some(r) => Some(rel(&abs(&r)?)),
            None => None,
        },
        requests_outbound: None,
        messages_outbound: rel(&m),
        messages_inbound: None,
        connection_requests: None,
        checksums: Default::default(),
    })
}

/// The channel's files, readied while the recording is verified ([`super::held`]).
fn gated_files(a: &ConvertArgs) -> anyhow::Result<(ChannelFiles, Pending)> {
    match (&a.recording, &a.messages) {
        (Some(r), _) => {
            let opening = a.gate.start(r, super::held::streams(a.output.as_deref()))?;
            super::held::channel(opening, a.connection.as_deref(), a.channel.as_deref())
        }
        (None, Some(m)) => {
            if !a.gate.unverified {
                anyhow::bail!(
                    "raw channel files (--messages) carry no checksum or signature, so they cannot be verified; add --unverified to convert them anyway (the cast then carries a warning)"
                );
            }
            let mut files = raw_files(a.requests.clone(), m.clone())?;
            let p = Pending::unverified(m.display().to_string());
            p.prepare(&mut files)?;
            Ok((files, p))
        }
        (None, None) => anyhow::bail!("give a recording or --messages"),
    }
}

/// Runs `convert`; returns the exit code.
pub fn run(a: ConvertArgs) -> anyhow::Result<i32> {
    if a.follow.follow {
        let Some(rec) = &a.recording else {
            anyhow::bail!("--follow needs a recording folder");
        };
        let sel = (a.connection.clone(), a.channel.clone());
        let out = (a.output.as_deref(), a.max_output, a.quiet, a.format == "v3");
        return super::follow::run(&a.follow, rec, sel, out);
    }
    let opts = ConvertOptions {
        format: if a.format == "v3" {
            Format::V3
        } else {
            Format::V2
        },
        input: a.input || a.all,
        resize: a.resize || a.all,
        markers: a.markers || a.all,
        strict: a.strict,
    };
    let (files, pending) = match gated_files(&a) {
        Ok(x) => x,
        Err(e) => match e.downcast_ref::<GateError>() {
            Some(g) => {
                let code = g.exit_code();
                super::print_error(&e);
                return Ok(code);
            }
            None => return Err(e),
        },
    };
    let mut ctx = ConvertContext::default();
    ctx.max_output_bytes = a.max_output;
    // Raw mode: Boundary converts a channel that never started a shell or exec.
    ctx.allow_no_program = a.messages.is_some();
    ctx.unverified_warning = pending.warning().map(str::to_string);
    let gated = super::held::run_gated(a.output.as_deref(), &files, pending, |w| {
        convert_with(&files, &opts, &ctx, w)
    })
    .with_context(|| match &a.output {
        Some(p) => format!("writing {}", p.display()),
        None => "writing the output".to_string(),
    })?;
    let (done, verification) = match gated {
        super::held::Gated::Shown(d, v) => (d, v),
        super::held::Gated::Refused(g) => {
            let code = g.exit_code();
            super::print_error(&g.into());
            return Ok(code);
        }
        super::held::Gated::Failed(e) => match e {
            e @ ConvertError::NotInteractive(_) => {
                super::print_error(&e.into());
                return Ok(3);
            }
            e @ ConvertError::Strict(_) => {
                super::print_error(&e.into());
                return Ok(4);
            }
            e => return Err(e.into()),
        },
    };
    let r = &done.report;
    if let Some(p) = &a.report {
        let mut f =
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
        serde_json::to_writer_pretty(&mut f, r)?;
        writeln!(f)?;
    }
    if verification.warning().is_some() {
        eprintln!("bsr-asciicast: {}", verification.summary());
    }
    if !a.quiet {
        print_summary(&done.report, &verification);
    }
    Ok(0)
}

/// The human summary on stderr, with recording-controlled text escaped.
fn print_summary(r: &bsr_asciicast::convert::SecurityReport, v: &Verification) {
    let high = r.high();
    let medium = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Medium)
        .count();
    eprintln!(
        "{}: {} channel, {} events, {} env request(s), exit status {}; findings: {high} high, {medium} medium, {} other",
        escape(&r.channel),
        escape(&r.session_program),
        r.events.values().sum::<u64>(),
        r.env.len(),
        r.exit_status.map_or("-".to_string(), |s| s.to_string()),
        r.findings.len() - high - medium
    );
    if v.verified {
        eprintln!("  {}", v.summary());
    }
    for f in r.findings.iter().filter(|f| f.severity >= Severity::Medium) {
        eprintln!(
            "  {:?} [{}] at {}s ({}): {}",
            f.severity,
            f.code,
            f.offset_seconds,
            escape(&f.file),
            escape(&f.message)
        );
    }
}
