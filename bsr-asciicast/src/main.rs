//! `bsr-asciicast`: convert BSR SSH channels to asciicast, and import casts as BSR recordings.

use anyhow::Context;
use bsr_asciicast::convert::{
    ChannelFiles, ConvertOptions, Format, Severity, convert, select_channel,
};
use bsr_asciicast::error::ConvertError;
use bsr_core::read::Recording;
use bsr_core::store::{FsStore, ReadStore};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

mod views_cli;

#[derive(Parser, Debug)]
#[command(
    name = "bsr-asciicast",
    version,
    about = "Convert BSR SSH channels to asciicast (with a header-security report), and import casts"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Convert a channel of a recording (or raw channel .data files) to asciicast.
    Convert {
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
        /// Raw `messages-outbound.data` taken out of a recording.
        #[arg(long)]
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
        /// Output format.
        #[arg(long, value_parser = ["v2", "v3"], default_value = "v2")]
        format: String,
        /// No summary on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Turn an asciicast v1, v2 or v3 file into a signed BSR recording.
    Import {
        /// The cast.
        cast: PathBuf,
        /// Folder in which to create `sr_<id>.bsr`.
        #[arg(long)]
        out: PathBuf,
        /// AEAD key-encryption key file (wraps the recording's keys).
        #[arg(long)]
        kek: PathBuf,
        /// Recorder private key file (adds a recorder attestation).
        #[arg(long)]
        recorder_key: Option<PathBuf>,
    },
    /// The text views: text, commands, search (views_cli.rs).
    #[command(flatten)]
    Views(views_cli::ViewCmd),
}

fn raw_files(requests: Option<PathBuf>, messages: PathBuf) -> anyhow::Result<ChannelFiles> {
    let abs = |p: &PathBuf| std::fs::canonicalize(p).with_context(|| format!("{}", p.display()));
    let m = abs(&messages)?;
    let root = PathBuf::from("/");
    let rel = |p: &std::path::Path| {
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

#[allow(clippy::too_many_arguments)]
fn run_convert(
    recording: Option<PathBuf>,
    connection: Option<String>,
    channel: Option<String>,
    requests: Option<PathBuf>,
    messages: Option<PathBuf>,
    output: Option<PathBuf>,
    report: Option<PathBuf>,
    opts: ConvertOptions,
    quiet: bool,
) -> anyhow::Result<i32> {
    let files = match (recording, messages) {
        (Some(r), _) => {
            let rec = Recording::open_path(&r)?;
            select_channel(&rec, connection.as_deref(), channel.as_deref())?
        }
        (None, Some(m)) => raw_files(requests, m)?,
        (None, None) => anyhow::bail!("give a recording or --messages"),
    };
    let result = match &output {
        Some(p) => {
            // Written progressively to a temporary name, renamed only when complete and verified.
            let tmp = p.with_extension("cast.partial");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let r = convert(
                &files,
                &opts,
                std::io::BufWriter::with_capacity(256 * 1024, f),
            );
            match &r {
                Ok(_) => std::fs::rename(&tmp, p)
                    .with_context(|| format!("renaming to {}", p.display()))?,
                Err(_) => {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            r
        }
        None => {
            let out = std::io::stdout();
            convert(
                &files,
                &opts,
                std::io::BufWriter::with_capacity(256 * 1024, out.lock()),
            )
        }
    };
    let done = match result {
        Ok(d) => d,
        Err(e @ ConvertError::NotInteractive(_)) => {
            eprintln!("bsr-asciicast: {e}");
            return Ok(3);
        }
        Err(e @ ConvertError::Strict(_)) => {
            eprintln!("bsr-asciicast: {e}");
            return Ok(4);
        }
        Err(e) => return Err(e.into()),
    };
    let r = &done.report;
    if let Some(p) = &report {
        let mut f =
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
        serde_json::to_writer_pretty(&mut f, r)?;
        writeln!(f)?;
    }
    if !quiet {
        let high = r.high();
        let medium = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Medium)
            .count();
        eprintln!(
            "{}: {} channel, {} events, {} env request(s), exit status {}; findings: {high} high, {medium} medium, {} other",
            r.channel,
            r.session_program,
            r.events.values().sum::<u64>(),
            r.env.len(),
            r.exit_status.map_or("-".to_string(), |s| s.to_string()),
            r.findings.len() - high - medium
        );
        for f in r.findings.iter().filter(|f| f.severity >= Severity::Medium) {
            eprintln!(
                "  {:?} [{}] at {}s ({}): {}",
                f.severity, f.code, f.offset_seconds, f.file, f.message
            );
        }
    }
    Ok(0)
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Convert {
            recording,
            connection,
            channel,
            requests,
            messages,
            output,
            report,
            strict,
            input,
            resize,
            markers,
            all,
            format,
            quiet,
        } => {
            let opts = ConvertOptions {
                format: if format == "v3" {
                    Format::V3
                } else {
                    Format::V2
                },
                input: input || all,
                resize: resize || all,
                markers: markers || all,
                strict,
            };
            run_convert(
                recording, connection, channel, requests, messages, output, report, opts, quiet,
            )
        }
        Cmd::Import {
            cast,
            out,
            kek,
            recorder_key,
        } => (|| -> anyhow::Result<i32> {
            use sha2::Digest;
            let bytes =
                std::fs::read(&cast).with_context(|| format!("reading {}", cast.display()))?;
            let wrapper = bsr_core::kms::AeadWrapper::from_kek_file(&kek)?;
            let recorder = recorder_key
                .as_deref()
                .map(bsr_core::kms::RecorderKey::from_file)
                .transpose()?;
            std::fs::create_dir_all(&out)?;
            let store = Arc::new(FsStore::new(&out));
            let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
            let done = bsr_asciicast::import::import_cast(
                &bytes[..],
                digest,
                store.clone(),
                "",
                &wrapper,
                recorder.as_ref(),
            )
            .with_context(|| format!("importing {}", cast.display()))?;
            println!("{}", store.describe(&done.dir));
            eprintln!("imported {} events", done.events);
            Ok(0)
        })(),
        Cmd::Views(v) => views_cli::run(v),
    };
    match res {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("bsr-asciicast: error: {e:#}");
            std::process::exit(2);
        }
    }
}
