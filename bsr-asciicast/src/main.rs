//! `bsr-asciicast`: convert BSR SSH channels to asciicast, and import casts as BSR recordings.

mod cli;
mod views_cli;

use clap::{Parser, Subcommand};

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
    /// Convert a channel of a recording (or raw channel .data files) to asciicast. The recording
    /// is verified first (checksums and signatures); exit 5 if it is invalid, 6 if unfinished.
    Convert(cli::convert::ConvertArgs),
    /// Turn an asciicast v1, v2 or v3 file into a signed BSR recording.
    Import(cli::import::ImportArgs),
    /// The text views: text, commands, search (views_cli.rs).
    #[command(flatten)]
    Views(views_cli::ViewCmd),
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Convert(a) => cli::convert::run(a),
        Cmd::Import(a) => cli::import::run(a),
        Cmd::Views(v) => views_cli::run(v),
    };
    match res {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            cli::print_error(&e);
            std::process::exit(2);
        }
    }
}
