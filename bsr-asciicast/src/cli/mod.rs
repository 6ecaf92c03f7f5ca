//! The subcommands of the `bsr-asciicast` binary, one module each; `main.rs` only parses and
//! dispatches.

pub mod convert;
pub mod follow;
pub mod html;
pub mod import;
pub mod redact;
pub mod search_index;
pub mod views;

use bsr_asciicast::error::ConvertError;
use bsr_asciicast::human::escape;
use bsr_asciicast::verified::GateError;

/// Prints an error for people, with every recording-controlled text escaped (issue 14, item 7).
/// Messages whose parts were escaped where they were built are printed as they are (keeping
/// their line breaks); any other message is escaped whole.
pub fn print_error(e: &anyhow::Error) {
    let text = if e.downcast_ref::<GateError>().is_some()
        || matches!(
            e.downcast_ref::<ConvertError>(),
            Some(
                ConvertError::Selection(_)
                    | ConvertError::NotInteractive(_)
                    | ConvertError::Strict(_)
            )
        ) {
        e.to_string()
    } else {
        escape(&format!("{e:#}"))
    };
    eprintln!("bsr-asciicast: error: {text}");
}
