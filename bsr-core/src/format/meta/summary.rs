//! The JSON summaries: `session-recording-summary.json`, `connection-recording-summary.json`
//! and `channel-recording-summary.json`.

use crate::error::{Error, Location, Result};
use crate::format::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod go_time {
    use super::*;
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}")))
    }
}

fn errors_de<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

pub(super) fn json_err(e: serde_json::Error, bytes: &[u8], path: &str) -> Error {
    // Map line/column to a byte offset.
    let (line, col) = (e.line(), e.column());
    let mut offset = 0usize;
    if line > 0 {
        for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
            if i + 1 == line {
                offset += col.saturating_sub(1);
                break;
            }
            offset += l.len() + 1;
        }
    }
    Error::malformed(
        Location::at(offset.min(bytes.len()) as u64).in_file(path),
        format!("JSON: {e}"),
    )
}

pub(super) fn pretty<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|e| Error::Usage(format!("JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// `session-recording-summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionSummary {
    /// Session recording id.
    pub id: String,
    /// Connections.
    pub connection_count: u64,
    /// Start.
    #[serde(with = "go_time")]
    pub start_time: Timestamp,
    /// End.
    #[serde(with = "go_time")]
    pub end_time: Timestamp,
    /// Errors (string; read from string or null).
    #[serde(deserialize_with = "errors_de", default)]
    pub errors: String,
}

/// `connection-recording-summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionSummary {
    /// Connection recording id.
    pub id: String,
    /// Channels.
    pub channel_count: u64,
    /// Start.
    #[serde(with = "go_time")]
    pub start_time: Timestamp,
    /// End.
    #[serde(with = "go_time")]
    pub end_time: Timestamp,
    /// Bytes from the client.
    pub bytes_up: u64,
    /// Bytes to the client.
    pub bytes_down: u64,
    /// Errors.
    #[serde(deserialize_with = "errors_de", default)]
    pub errors: String,
}

/// `OpenFailure` of a channel summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OpenFailure {
    /// SSH reason code.
    pub reason: u32,
    /// Message.
    pub message: String,
}

/// `channel-recording-summary.json` (SSH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSummary {
    /// Channel recording id.
    pub id: String,
    /// The parent connection's id.
    pub connection_recording_id: String,
    /// Start.
    pub start_time: Timestamp,
    /// End.
    pub end_time: Timestamp,
    /// Inbound DATA bytes.
    pub bytes_up: u64,
    /// Outbound DATA bytes.
    pub bytes_down: u64,
    /// SSH channel type.
    pub channel_type: String,
    /// `shell`, `exec`, `subsystem`, `none`, `not applicable`.
    pub session_program: String,
    /// Subsystem name.
    pub subsystem_name: String,
    /// `scp`, `rsync`, `unknown`, `not applicable`.
    pub exec_program: String,
    /// `upload`, `download`, `not applicable`.
    pub file_transfer_direction: String,
    /// Set when the channel open failed.
    pub open_failure: Option<OpenFailure>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChannelSummaryInner {
    id: String,
    connection_recording_id: String,
    #[serde(with = "go_time")]
    start_time: Timestamp,
    #[serde(with = "go_time")]
    end_time: Timestamp,
    bytes_up: u64,
    bytes_down: u64,
    channel_type: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChannelSummaryJson {
    channel_summary: ChannelSummaryInner,
    #[serde(default)]
    session_program: String,
    #[serde(default)]
    subsystem_name: String,
    #[serde(default)]
    exec_program: String,
    #[serde(default)]
    file_transfer_direction: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    open_failure: Option<OpenFailure>,
}

macro_rules! json_file {
    ($t:ty) => {
        impl $t {
            /// Parses the JSON file.
            pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
                serde_json::from_slice(bytes).map_err(|e| json_err(e, bytes, path))
            }
            /// Two-space indented JSON and `\n`.
            pub fn to_bytes(&self) -> Result<Vec<u8>> {
                pretty(self)
            }
        }
    };
}
json_file!(SessionSummary);
json_file!(ConnectionSummary);

impl ChannelSummary {
    /// Parses the JSON file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        let j: ChannelSummaryJson =
            serde_json::from_slice(bytes).map_err(|e| json_err(e, bytes, path))?;
        Ok(ChannelSummary {
            id: j.channel_summary.id,
            connection_recording_id: j.channel_summary.connection_recording_id,
            start_time: j.channel_summary.start_time,
            end_time: j.channel_summary.end_time,
            bytes_up: j.channel_summary.bytes_up,
            bytes_down: j.channel_summary.bytes_down,
            channel_type: j.channel_summary.channel_type,
            session_program: j.session_program,
            subsystem_name: j.subsystem_name,
            exec_program: j.exec_program,
            file_transfer_direction: j.file_transfer_direction,
            open_failure: j.open_failure,
        })
    }
    /// Two-space indented JSON and `\n`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        pretty(&ChannelSummaryJson {
            channel_summary: ChannelSummaryInner {
                id: self.id.clone(),
                connection_recording_id: self.connection_recording_id.clone(),
                start_time: self.start_time,
                end_time: self.end_time,
                bytes_up: self.bytes_up,
                bytes_down: self.bytes_down,
                channel_type: self.channel_type.clone(),
            },
            session_program: self.session_program.clone(),
            subsystem_name: self.subsystem_name.clone(),
            exec_program: self.exec_program.clone(),
            file_transfer_direction: self.file_transfer_direction.clone(),
            open_failure: self.open_failure.clone(),
        })
    }
}
