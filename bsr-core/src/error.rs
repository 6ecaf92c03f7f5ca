//! The error type of `bsr-core`.
//!
//! One enum for the whole library layer. Variants keep four families apart so that a caller
//! (the verifier above all) can map them to verdicts:
//!
//! * malformed input ([`Error::Malformed`], [`Error::Truncated`], [`Error::TooLarge`],
//!   [`Error::UnknownChunkType`]),
//! * integrity mismatch ([`Error::Crc`], [`Error::Checksum`]),
//! * authentication failure ([`Error::Signature`], [`Error::KeyBinding`]),
//! * I/O and usage ([`Error::Io`], [`Error::Usage`], [`Error::Crypto`]).
//!
//! Every variant that concerns a place in a file carries a [`Location`]: the file's path (empty
//! when the bytes did not come from a named file), the byte offset and, for chunk files, the
//! index of the chunk.

use std::fmt;

/// Where in which file something was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Path of the file inside its store (empty when unknown, e.g. a bare slice).
    pub path: String,
    /// Byte offset from the start of the file (the start of the chunk for chunk errors).
    pub offset: u64,
    /// Index of the chunk in its file (0 = first chunk after the magic), when it applies.
    pub chunk: Option<u64>,
}

impl Location {
    /// A location at `offset` in an unnamed input.
    pub fn at(offset: u64) -> Self {
        Location {
            path: String::new(),
            offset,
            chunk: None,
        }
    }
    /// A location at `offset`, chunk `index`, in an unnamed input.
    pub fn chunk(offset: u64, index: u64) -> Self {
        Location {
            path: String::new(),
            offset,
            chunk: Some(index),
        }
    }
    /// Same location, in file `path`.
    pub fn in_file(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "<input>")?;
        } else {
            write!(f, "{}", self.path)?;
        }
        write!(f, " @ byte {}", self.offset)?;
        if let Some(c) = self.chunk {
            write!(f, " (chunk {c})")?;
        }
        Ok(())
    }
}

/// The `bsr-core` error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that do not follow the format.
    #[error("{loc}: malformed: {reason}")]
    Malformed {
        /// Where.
        loc: Location,
        /// What was wrong.
        reason: String,
    },
    /// The input ends before a structure is complete (e.g. a torn chunk).
    #[error("{loc}: truncated: {what} needs {needed} bytes, {available} available")]
    Truncated {
        /// Where the incomplete structure starts.
        loc: Location,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A size field or decompressed size above a limit; rejected before allocating.
    #[error("{loc}: {what} of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Where.
        loc: Location,
        /// What was too large.
        what: &'static str,
        /// The size found (or reached).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More items (lines of a meta file, …) than a limit allows; rejected at the first one over.
    #[error("{loc}: more than {limit} {what}")]
    TooMany {
        /// Where the first item over the limit starts.
        loc: Location,
        /// What was counted (`meta file lines`).
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A (protocol, chunk type) pair that is not registered (strict reading).
    #[error("{loc}: unknown chunk type {protocol:?}/{chunk_type:?}")]
    UnknownChunkType {
        /// Where.
        loc: Location,
        /// The protocol, lossy UTF-8.
        protocol: String,
        /// The chunk type, lossy UTF-8.
        chunk_type: String,
    },
    /// A chunk's CRC does not match its bytes.
    #[error("{loc}: CRC mismatch: stored {stored:08x}, computed {computed:08x}")]
    Crc {
        /// Where.
        loc: Location,
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the chunk.
        computed: u32,
    },
    /// A file's SHA-256 differs from the value listed for it.
    #[error("{path}: SHA-256 mismatch: listed {expected}, computed {actual}")]
    Checksum {
        /// The file.
        path: String,
        /// Hex digest listed (in `SHA256SUM` or an object store).
        expected: String,
        /// Hex digest computed.
        actual: String,
    },
    /// An Ed25519 signature (or the encoding of one) does not verify.
    #[error("{path}: signature invalid: {reason}")]
    Signature {
        /// The signature file or signed file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The public key is not bound to the KMS / recorder key (HMAC or attestation mismatch).
    #[error("{path}: key binding invalid: {reason}")]
    KeyBinding {
        /// The file holding the binding.
        path: String,
        /// Why.
        reason: String,
    },
    /// Wrapping or unwrapping a key failed (wrong KEK, corrupt blob, ...).
    #[error("{path}: key unwrap failed: {reason}")]
    Crypto {
        /// The file holding the wrapped key (may be empty).
        path: String,
        /// Why.
        reason: String,
    },
    /// An I/O error on a named file. The message names only the error's kind; the cause (the
    /// system's words, `File exists (os error 17)`, or what a remote store answered) is the
    /// error's [`source`](std::error::Error::source), so a report that prints the chain (or
    /// [`Error::chain`]) says it once.
    #[error("{path}: I/O error ({})", IoWords(source))]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A recording file that is not a regular file (FIFO, socket, device, folder, symbolic
    /// link): refused before anything is read from it or written to it.
    #[error(
        "{path}: is a {kind}, refused (a recording holds only regular files and its container folders)"
    )]
    NotRegularFile {
        /// The file.
        path: String,
        /// What it is instead (`FIFO`, `symbolic link`, `folder`, …).
        kind: &'static str,
    },
    /// The API was used in a way it does not support (e.g. writing after finish).
    #[error("usage: {0}")]
    Usage(String),
}

impl Error {
    /// Attach a file path to an error that carries a location or path and has none yet.
    pub fn in_file(mut self, file: &str) -> Self {
        match &mut self {
            Error::Malformed { loc, .. }
            | Error::Truncated { loc, .. }
            | Error::TooLarge { loc, .. }
            | Error::TooMany { loc, .. }
            | Error::UnknownChunkType { loc, .. }
            | Error::Crc { loc, .. } => {
                if loc.path.is_empty() {
                    loc.path = file.to_string();
                }
            }
            Error::Checksum { path, .. }
            | Error::Signature { path, .. }
            | Error::KeyBinding { path, .. }
            | Error::Crypto { path, .. }
            | Error::NotRegularFile { path, .. }
            | Error::Io { path, .. } => {
                if path.is_empty() {
                    *path = file.to_string();
                }
            }
            Error::Usage(_) => {}
        }
        self
    }

    /// Shorthand for [`Error::Malformed`].
    pub fn malformed(loc: Location, reason: impl Into<String>) -> Self {
        Error::Malformed {
            loc,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The location, for variants that have one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Malformed { loc, .. }
            | Error::Truncated { loc, .. }
            | Error::TooLarge { loc, .. }
            | Error::TooMany { loc, .. }
            | Error::UnknownChunkType { loc, .. }
            | Error::Crc { loc, .. } => Some(loc),
            _ => None,
        }
    }

    /// True for errors that mean "the input ends early" (a torn or unfinished file).
    pub fn is_truncation(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }

    /// The message and every cause under it, each said once (`path: I/O error (entity not
    /// found): No such file or directory (os error 2)`): for people, where the error is not
    /// printed with its source chain.
    pub fn chain(&self) -> String {
        chain(self)
    }

    /// True for an I/O error saying that the file does not exist (and for nothing else: a
    /// file that exists but cannot be read, or is not a regular file, is not "absent").
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Any error and every cause under it, each said once, for where an error is shown without
/// its source chain (a JSON field, a list of failures). A transparent wrapper that repeats its
/// cause's text does not make it appear twice.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

/// How [`Error::Io`] describes its cause.
struct IoWords<'a>(&'a std::io::Error);

impl fmt::Display for IoWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.kind())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages (issue 14): "File exists (os error 17): File exists (os error 17)" came from an
    /// I/O error both displayed in the message and returned as its source.
    #[test]
    fn io_error_text_is_not_repeated_in_the_chain() {
        let e = Error::io("sr_x.bsr", std::io::Error::from_raw_os_error(libc::EEXIST));
        let mut chain = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            chain.push_str(&format!(": {s}"));
            src = s.source();
        }
        assert_eq!(chain.matches("os error 17").count(), 1, "{chain}");
        assert!(
            chain.starts_with("sr_x.bsr: I/O error (entity already exists)"),
            "{chain}"
        );
    }
}
