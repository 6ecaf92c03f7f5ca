//! `bsr-asciicast`: convert BSR SSH channels to asciicast, import casts as BSR recordings, and
//! the auditor's views (text, commands, search, the HTML evidence page).

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bsr-asciicast",
    version,
    about = "Convert BSR SSH channels to asciicast (with a header-security report), import casts, and read sessions as text, commands, search hits or an HTML evidence page"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Convert a channel of a recording (or raw channel .data files) to asciicast. The recording
    /// is verified first (checksums and signatures); exit 5 if it is invalid, 6 if unfinished.
    Convert(cli::convert::ConvertArgs),
    /// Turn an asciicast v1, v2 or v3 file into a signed BSR recording.
    Import(cli::import::ImportArgs),
    /// Write a signed, redacted copy of a verified recording, with a manifest of what was
    /// redacted (cli/redact.rs, docs/REDACT.md).
    Redact(cli::redact::RedactArgs),
    /// The text views: text, commands, search (cli/views.rs).
    #[command(flatten)]
    Views(cli::views::ViewCmd),
    /// Write a self-contained HTML evidence page: player, transcript, commands, facts and
    /// integrity (cli/html.rs).
    Html(cli::html::HtmlArgs),
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Convert(a) => cli::convert::run(a),
        Cmd::Import(a) => cli::import::run(a),
        Cmd::Redact(a) => cli::redact::run(a),
        Cmd::Views(v) => cli::views::run(v),
        Cmd::Html(a) => cli::html::run(a),
    };
    match res {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            cli::print_error(&e);
            std::process::exit(2);
        }
    }
}
