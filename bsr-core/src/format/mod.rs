//! On-disk constants of the BSR format: magic, chunk field layout, limits, file names.
//!
//! Everything here is a fact of Boundary's format (see `docs/FORMAT.md`); nothing here reads or
//! writes on its own: the file-level codecs here (`SHA256SUM` lines, `.meta` files and summaries,
//! protobuf messages) turn bytes into values and back, and leave the I/O to `read` and `write`.
//!
//! Imports: [`crate::error`] only. Every other module may import `format`.

pub mod checksum;
pub mod chunk;
pub mod meta;
pub mod pb;
pub mod redaction;
mod time;

pub use chunk::{Compression, Header};

/// The complete lines of a text file that may still be being written (a `.meta` file or
/// `SHA256SUM` of an unfinished container): everything up to and including the last `\n`; a
/// torn last line is dropped. Written once for recovery and the verifier.
pub fn complete_lines(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &[],
    }
}
pub use time::Timestamp;

/// The 8-byte magic at the start of every `.data` file: `\x89BSR\r\n\x1a\n`.
pub const MAGIC: [u8; 8] = [0x89, b'B', b'S', b'R', 0x0D, 0x0A, 0x1A, 0x0A];

/// Size of the `length` field.
pub const LENGTH_SIZE: usize = 4;
/// Size of the protocol field.
pub const PROTOCOL_SIZE: usize = 4;
/// Size of the chunk-type field.
pub const CHUNK_TYPE_SIZE: usize = 4;
/// Size of the direction field.
pub const DIRECTION_SIZE: usize = 1;
/// Size of the timestamp (u64 seconds + u32 nanoseconds).
pub const TIMESTAMP_SIZE: usize = 12;
/// Bytes covered by the CRC before the data: protocol, type, direction, timestamp.
pub const CRC_DATA_SIZE: usize = PROTOCOL_SIZE + CHUNK_TYPE_SIZE + DIRECTION_SIZE + TIMESTAMP_SIZE;
/// Bytes of a chunk before its data.
pub const CHUNK_BASE_SIZE: usize = LENGTH_SIZE + CRC_DATA_SIZE;
/// Size of the trailing CRC.
pub const CRC_SIZE: usize = 4;
/// Fixed bytes per chunk (header + CRC): a chunk takes `CHUNK_OVERHEAD + length` bytes.
pub const CHUNK_OVERHEAD: usize = CHUNK_BASE_SIZE + CRC_SIZE;

/// The largest stored data length a reader accepts (Boundary's `MaxChunkDataLength`).
pub const MAX_CHUNK_DATA_LENGTH: u32 = 6_400_000;
/// The largest decompressed data length a reader accepts (same limit; going over is an error).
pub const MAX_DECOMPRESSED_LENGTH: usize = 6_400_000;
/// Outbound/inbound SSH data above this size is split into several DATA chunks.
pub const MAX_PACKET_SIZE: usize = 256 * 1024;
/// Largest nanoseconds value in a timestamp.
pub const MAX_NANOS: u32 = 999_999_999;
/// The last second an RFC 3339 time (and so a summary) can hold: 9999-12-31T23:59:59Z.
pub const MAX_RFC3339_SECS: u64 = 253_402_300_799;

/// HEAD chunk type.
pub const CHUNK_HEAD: [u8; 4] = *b"HEAD";
/// DONE chunk type.
pub const CHUNK_DONE: [u8; 4] = *b"DONE";
/// DATA chunk type (SSH channel data).
pub const CHUNK_DATA: [u8; 4] = *b"DATA";

/// The SSH protocol id.
pub const PROTOCOL_SSH: [u8; 4] = *b"BSSH";

/// HEAD compression byte: none.
pub const COMPRESSION_NONE: u8 = 0;
/// HEAD compression byte: per-chunk gzip member.
pub const COMPRESSION_GZIP: u8 = 1;
/// HEAD encryption byte: none (the only defined value).
pub const ENCRYPTION_NONE: u8 = 0;

/// Name template suffixes of containers.
pub const SESSION_DIR_SUFFIX: &str = ".bsr";
/// Connection container directory suffix.
pub const CONNECTION_DIR_SUFFIX: &str = ".connection";
/// Channel container directory suffix.
pub const CHANNEL_DIR_SUFFIX: &str = ".channel";

/// Checksum list of each container.
pub const CHECKSUM_FILE: &str = "SHA256SUM";
/// Ed25519 signature (protobuf `SigInfo`) over `SHA256SUM`.
pub const SIG_FILE: &str = "SHA256SUM.sig";
/// Local journal (never uploaded, not listed).
pub const JOURNAL_FILE: &str = ".journal";
/// Session metadata snapshot.
pub const SESSION_META_FILE: &str = "session-meta.json";
/// Public key (`KeyInfo`).
pub const PUB_KEY_FILE: &str = "bsrKey.pub";
/// Wrapped BSR key (`KeyInfo` holding a `BlobInfo`).
pub const WRAPPED_BSR_KEY_FILE: &str = "wrappedBsrKey";
/// Wrapped private key (`KeyInfo` holding a `BlobInfo`).
pub const WRAPPED_PRIV_KEY_FILE: &str = "wrappedPrivKey";
/// Self-signature of the public key (`SigInfo`).
pub const PUB_KEY_SELF_SIG_FILE: &str = "pubKeySelfSignature.sign";
/// HMAC of the public key under the BSR key (`SigInfo`).
pub const PUB_KEY_BSR_SIG_FILE: &str = "pubKeyBsrSignature.sign";
/// Our additive extension: recorder attestation (see `docs/FORMAT.md`).
pub const RECORDER_ATTESTATION_FILE: &str = "recorderAttestation.sign";
/// Our recovery marker, written by recovery into the session container and listed in `SHA256SUM`.
pub const RECOVERY_MARKER_FILE: &str = "RECOVERED.json";
/// Our redaction manifest ([`redaction`]), written into the session container of a redacted
/// copy and listed in its `SHA256SUM`.
pub const REDACTION_FILE: &str = "REDACTION.json";

/// The five key files of a session container, in the order our writer closes them.
pub const KEY_FILES: [&str; 5] = [
    WRAPPED_BSR_KEY_FILE,
    WRAPPED_PRIV_KEY_FILE,
    PUB_KEY_BSR_SIG_FILE,
    PUB_KEY_SELF_SIG_FILE,
    PUB_KEY_FILE,
];

/// Container kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `<id>.bsr`
    Session,
    /// `<id>.connection`
    Connection,
    /// `<id>.channel`
    Channel,
}

impl ContainerKind {
    /// `session`, `connection` or `channel` (the prefix of the meta and summary file names).
    pub fn name(self) -> &'static str {
        match self {
            ContainerKind::Session => "session",
            ContainerKind::Connection => "connection",
            ContainerKind::Channel => "channel",
        }
    }
    /// Directory suffix.
    pub fn dir_suffix(self) -> &'static str {
        match self {
            ContainerKind::Session => SESSION_DIR_SUFFIX,
            ContainerKind::Connection => CONNECTION_DIR_SUFFIX,
            ContainerKind::Channel => CHANNEL_DIR_SUFFIX,
        }
    }
    /// `<kind>-recording.meta`
    pub fn meta_file(self) -> &'static str {
        match self {
            ContainerKind::Session => "session-recording.meta",
            ContainerKind::Connection => "connection-recording.meta",
            ContainerKind::Channel => "channel-recording.meta",
        }
    }
    /// `<kind>-recording-summary.json`
    pub fn summary_file(self) -> &'static str {
        match self {
            ContainerKind::Session => "session-recording-summary.json",
            ContainerKind::Connection => "connection-recording-summary.json",
            ContainerKind::Channel => "channel-recording-summary.json",
        }
    }
}

/// Chunk direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (user → target). Wire value 1.
    Inbound,
    /// Towards the client (target → user). Wire value 2.
    Outbound,
}

impl Direction {
    /// Wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }
    }
    /// From the wire byte (0 and anything above 2 are rejected).
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Direction::Inbound),
            2 => Some(Direction::Outbound),
            _ => None,
        }
    }
    /// `inbound` / `outbound`, as used in file names and meta lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// `messages-<dir>.data`
pub fn messages_file(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "messages-inbound.data",
        Direction::Outbound => "messages-outbound.data",
    }
}

/// `requests-<dir>.data`
pub fn requests_file(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "requests-inbound.data",
        Direction::Outbound => "requests-outbound.data",
    }
}

/// The direction a `.data` file's name announces (`*-inbound.data`, `*-outbound.data`).
pub fn data_file_direction(name: &str) -> Option<Direction> {
    if name.ends_with("-inbound.data") {
        Some(Direction::Inbound)
    } else if name.ends_with("-outbound.data") {
        Some(Direction::Outbound)
    } else {
        None
    }
}
