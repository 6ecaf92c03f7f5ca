//! Errors of `bsr-asciicast`.

/// Errors reading casts. Every error about the content carries the 1-based line and the byte
/// offset of that line's start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CastError {
    /// I/O.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A line that is not JSON.
    #[error("line {line} (byte {offset}): invalid JSON: {reason}")]
    Json {
        /// Line (1-based).
        line: usize,
        /// Byte offset of the line.
        offset: u64,
        /// Parser message.
        reason: String,
    },
    /// Valid JSON that is not a valid header or event.
    #[error("line {line} (byte {offset}): {reason}")]
    Invalid {
        /// Line.
        line: usize,
        /// Byte offset of the line.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An asciicast version we do not read.
    #[error("unsupported asciicast version {version}")]
    Unsupported {
        /// The version.
        version: u64,
    },
}

impl CastError {
    /// The 1-based line of the problem (`None` for I/O and version errors).
    pub fn line(&self) -> Option<usize> {
        match self {
            CastError::Json { line, .. } | CastError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The byte offset of the start of the line of the problem.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CastError::Json { offset, .. } | CastError::Invalid { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// What is wrong, without the location.
    pub fn reason(&self) -> String {
        match self {
            CastError::Json { reason, .. } | CastError::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

/// Errors converting a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The recording (reading, checksums, format).
    #[error(transparent)]
    Bsr(#[from] bsr_core::Error),
    /// Writing the output.
    #[error("writing the cast: {0}")]
    Io(#[from] std::io::Error),
    /// A channel that has no terminal to play back.
    #[error("{0}")]
    NotInteractive(String),
    /// Which channel to convert is not clear, or it does not exist.
    #[error("{0}")]
    Selection(String),
    /// `--strict` and a high-severity finding.
    #[error("refusing to write a cast (--strict): {0}")]
    Strict(String),
    /// The recording's structure does not allow conversion.
    #[error("{0}")]
    Malformed(String),
    /// The cast would exceed the output limit (a decompression-bomb defence).
    #[error(
        "{channel}: the cast would exceed the output limit of {limit} bytes (the recording decompresses to more); raise it with --max-output if this is expected"
    )]
    OutputTooLarge {
        /// The channel.
        channel: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading a cast for import.
    #[error(transparent)]
    Cast(#[from] CastError),
}
