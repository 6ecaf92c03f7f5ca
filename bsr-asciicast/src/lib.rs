//! # bsr-asciicast
//!
//! SSH channel → asciicast v2/v3 with a header-security report ([`convert`]), and asciicast
//! v1/v2/v3 → signed BSR recordings ([`import`]).
//!
//! Every command that shows recording content goes through [`verified`] first: the recording's
//! checksums and signature chain must verify (or the user said `--unverified`, and the output
//! says so). [`human`] escapes recording-controlled text for terminals.
//!
//! ```no_run
//! use bsr_asciicast::convert::{convert, select_channel, ConvertOptions};
//! use bsr_core::read::Recording;
//! let rec = Recording::open_path(std::path::Path::new("testdata/recordings/sr_shell00001.bsr"))?;
//! let files = select_channel(&rec, None, None)?;
//! let mut cast = Vec::new();
//! let done = convert(&files, &ConvertOptions::default(), &mut cast)?;
//! assert_eq!(done.report.session_program, "shell");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cast;
pub mod commands;
pub mod convert;
pub mod error;
pub mod html;
pub mod human;
pub mod import;
pub mod redact;
pub mod search;
pub mod search_index;
pub mod serve;
pub mod term;
pub mod text;
pub mod utf8;
pub mod verified;
