//! `.meta` files, summaries and `session-meta.json` (spec §6, `docs/FORMAT.md` §6–7).

use crate::error::{Error, Location, Result};
use crate::format::{Direction, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Largest meta file accepted.
pub const MAX_META_BYTES: usize = 16 * 1024 * 1024;
/// Most lines accepted in a meta file.
pub const MAX_META_LINES: usize = 100_000;

/// `key: value` lines, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaFile {
    /// The entries.
    pub entries: Vec<(String, String)>,
}

impl MetaFile {
    /// Parses a meta file: split at the first `:`, value trimmed, empty lines skipped. A line
    /// without `:`, non-UTF-8 bytes, more than 100 000 lines or 16 MiB are errors.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        if bytes.len() > MAX_META_BYTES {
            return Err(Error::TooLarge {
                loc: Location::at(0).in_file(path),
                what: "meta file",
                size: bytes.len() as u64,
                limit: MAX_META_BYTES as u64,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Error::malformed(
                Location::at(e.valid_up_to() as u64).in_file(path),
                "meta file is not UTF-8",
            )
        })?;
        let mut entries = Vec::new();
        let mut offset = 0u64;
        for (i, line) in text.split('\n').enumerate() {
            let here = offset;
            offset += line.len() as u64 + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            if entries.len() >= MAX_META_LINES {
                return Err(Error::TooMany {
                    loc: Location::at(here).in_file(path),
                    what: "lines in a meta file",
                    limit: MAX_META_LINES as u64,
                });
            }
            let Some((k, v)) = line.split_once(':') else {
                return Err(Error::malformed(
                    Location::at(here).in_file(path),
                    format!("line {}: no ':' in {line:?}", i + 1),
                ));
            };
            entries.push((k.to_string(), v.trim().to_string()));
        }
        Ok(MetaFile { entries })
    }
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Appends an entry.
    pub fn push(&mut self, key: &str, value: &str) {
        self.entries.push((key.to_string(), value.to_string()));
    }
    /// `key: value\n` lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.entries {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

fn need_id(m: &MetaFile, path: &str) -> Result<String> {
    match m.get("id") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(Error::malformed(
            Location::at(0).in_file(path),
            "meta file has no id",
        )),
    }
}

fn dirs(m: &MetaFile, key: &str, path: &str) -> Result<Vec<Direction>> {
    m.get_all(key)
        .map(|v| match v {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            other => Err(Error::malformed(
                Location::at(0).in_file(path),
                format!("{key}: unknown direction {other:?}"),
            )),
        })
        .collect()
}

/// `session-recording.meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRecordingMeta {
    /// Session recording id.
    pub id: String,
    /// Protocol (`BSSH`).
    pub protocol: String,
    /// `<id>.connection` entries.
    pub connections: Vec<String>,
}

impl SessionRecordingMeta {
    /// From parsed lines.
    pub fn from_meta(m: &MetaFile, path: &str) -> Result<Self> {
        Ok(SessionRecordingMeta {
            id: need_id(m, path)?,
            protocol: m.get("protocol").unwrap_or_default().to_string(),
            connections: m.get_all("connection").map(str::to_string).collect(),
        })
    }
    /// Parses the file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        Self::from_meta(&MetaFile::parse(bytes, path)?, path)
    }
    /// Boundary's line order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = MetaFile::default();
        m.push("id", &self.id);
        m.push("protocol", &self.protocol);
        for c in &self.connections {
            m.push("connection", c);
        }
        m.to_bytes()
    }
}

/// `connection-recording.meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionRecordingMeta {
    /// Connection recording id.
    pub id: String,
    /// `requests:` lines.
    pub requests: Vec<Direction>,
    /// `messages:` lines (non-multiplexed protocols).
    pub messages: Vec<Direction>,
    /// `<id>.channel` entries.
    pub channels: Vec<String>,
    /// `error:` lines (shown in Boundary's docs).
    pub errors: Vec<String>,
}

impl ConnectionRecordingMeta {
    /// From parsed lines.
    pub fn from_meta(m: &MetaFile, path: &str) -> Result<Self> {
        Ok(ConnectionRecordingMeta {
            id: need_id(m, path)?,
            requests: dirs(m, "requests", path)?,
            messages: dirs(m, "messages", path)?,
            channels: m.get_all("channel").map(str::to_string).collect(),
            errors: m.get_all("error").map(str::to_string).collect(),
        })
    }
    /// Parses the file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        Self::from_meta(&MetaFile::parse(bytes, path)?, path)
    }
    /// Lines: id, requests, messages, channels, errors.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = MetaFile::default();
        m.push("id", &self.id);
        for d in &self.requests {
            m.push("requests", d.as_str());
        }
        for d in &self.messages {
            m.push("messages", d.as_str());
        }
        for c in &self.channels {
            m.push("channel", c);
        }
        for e in &self.errors {
            m.push("error", e);
        }
        m.to_bytes()
    }
}

/// `channel-recording.meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelRecordingMeta {
    /// Channel recording id.
    pub id: String,
    /// SSH channel type.
    pub channel_type: String,
    /// `messages:` lines.
    pub messages: Vec<Direction>,
    /// `requests:` lines.
    pub requests: Vec<Direction>,
}

impl ChannelRecordingMeta {
    /// From parsed lines.
    pub fn from_meta(m: &MetaFile, path: &str) -> Result<Self> {
        Ok(ChannelRecordingMeta {
            id: need_id(m, path)?,
            channel_type: m.get("channelType").unwrap_or_default().to_string(),
            messages: dirs(m, "messages", path)?,
            requests: dirs(m, "requests", path)?,
        })
    }
    /// Parses the file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        Self::from_meta(&MetaFile::parse(bytes, path)?, path)
    }
    /// Lines: id, channelType, messages, requests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = MetaFile::default();
        m.push("id", &self.id);
        m.push("channelType", &self.channel_type);
        for d in &self.messages {
            m.push("messages", d.as_str());
        }
        for d in &self.requests {
            m.push("requests", d.as_str());
        }
        m.to_bytes()
    }
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

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

fn json_err(e: serde_json::Error, bytes: &[u8], path: &str) -> Error {
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

fn pretty<T: Serialize>(v: &T) -> Result<Vec<u8>> {
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

// ---------------------------------------------------------------------------------------------
// session-meta.json
// ---------------------------------------------------------------------------------------------

/// A scope (`User.Scope`, `Target.Scope`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Scope {
    /// Id.
    pub public_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Type.
    #[serde(rename = "Type")]
    pub scope_type: String,
    /// Parent id.
    pub parent_id: String,
    /// Primary auth method.
    pub primary_auth_method_id: String,
}

/// The user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct User {
    /// Id.
    pub public_id: String,
    /// Scope.
    pub scope: Option<Scope>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
}

/// The worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Worker {
    /// Id.
    pub public_id: String,
    /// Version.
    pub version: String,
    /// Build hash.
    pub sha: String,
}

/// `session-meta.json`: Boundary's `SessionMeta` (Go field names). Complex parts that we only
/// pass through are kept as JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SessionMeta {
    /// Session id.
    pub public_id: String,
    /// Endpoint (the target address the client reached).
    pub endpoint: String,
    /// User.
    pub user: Option<User>,
    /// Target.
    pub target: Option<Value>,
    /// Worker.
    pub worker: Option<Worker>,
    /// Static host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_host: Option<Value>,
    /// Dynamic host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_host: Option<Value>,
    /// Credential lists.
    #[serde(rename = "StaticJSONCredentials")]
    pub static_json_credentials: Option<Value>,
    /// Credential lists.
    pub static_username_password_credentials: Option<Value>,
    /// Credential lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_password_credentials: Option<Value>,
    /// Credential lists.
    pub static_ssh_private_key_credentials: Option<Value>,
    /// Credential lists.
    pub vault_generic_libraries: Option<Value>,
    /// Credential lists.
    pub vault_ssh_certificate_libraries: Option<Value>,
}

impl SessionMeta {
    /// A minimal snapshot naming only the session.
    pub fn with_id(id: &str) -> Self {
        SessionMeta {
            public_id: id.to_string(),
            ..Default::default()
        }
    }
    /// Parses the JSON file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| json_err(e, bytes, path))
    }
    /// Compact JSON and `\n`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec(self).map_err(|e| Error::Usage(format!("JSON: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages (issue 14): "meta file lines of 100001 bytes exceeds the limit" counted lines
    /// and called them bytes. Too many lines is stated as lines, with the file and offset.
    #[test]
    fn meta_line_limit_is_stated_in_lines() {
        let text = "k: v\n".repeat(MAX_META_LINES + 1);
        let e = MetaFile::parse(text.as_bytes(), "x.meta").unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::TooMany { limit, .. } if limit == MAX_META_LINES as u64));
        assert_eq!(
            m,
            format!(
                "x.meta @ byte {}: more than 100000 lines in a meta file",
                5 * MAX_META_LINES
            )
        );
        assert!(MetaFile::parse("k: v\n".repeat(MAX_META_LINES).as_bytes(), "x").is_ok());
    }

    #[test]
    fn meta_lines() {
        let m = ConnectionRecordingMeta {
            id: "cr_1".into(),
            requests: vec![Direction::Inbound, Direction::Outbound],
            messages: vec![],
            channels: vec!["chr_1.channel".into()],
            errors: vec![],
        };
        let b = m.to_bytes();
        assert_eq!(
            b,
            b"id: cr_1\nrequests: inbound\nrequests: outbound\nchannel: chr_1.channel\n"
        );
        assert_eq!(ConnectionRecordingMeta::parse(&b, "x").unwrap(), m);
        assert!(MetaFile::parse(b"id: a\nbroken\n", "x").is_err());
        assert!(MetaFile::parse(b"\xff", "x").is_err());
        assert_eq!(
            MetaFile::parse(b"\n\nid:  a b \nunknown: 1", "x")
                .unwrap()
                .get("id"),
            Some("a b")
        );
        assert!(SessionRecordingMeta::parse(b"protocol: BSSH\n", "x").is_err());
        assert!(ChannelRecordingMeta::parse(b"id: c\nmessages: sideways\n", "x").is_err());
    }

    #[test]
    fn summaries() {
        let s = ChannelSummary {
            id: "chr_1".into(),
            connection_recording_id: "cr_1".into(),
            start_time: Timestamp::new(1_695_135_939, 343_307_163),
            end_time: Timestamp::new(1_695_135_940, 0),
            bytes_up: 1,
            bytes_down: 2,
            channel_type: "session".into(),
            session_program: "shell".into(),
            subsystem_name: String::new(),
            exec_program: "not applicable".into(),
            file_transfer_direction: "not applicable".into(),
            open_failure: None,
        };
        let b = s.to_bytes().unwrap();
        let text = String::from_utf8(b.clone()).unwrap();
        assert!(text.starts_with(
            "{\n  \"ChannelSummary\": {\n    \"Id\": \"chr_1\",\n    \"ConnectionRecordingId\""
        ));
        assert!(text.contains("\"StartTime\": \"2023-09-19T15:05:39.343307163Z\""));
        assert!(text.ends_with("}\n"));
        assert!(!text.contains("OpenFailure"));
        assert_eq!(ChannelSummary::parse(&b, "x").unwrap(), s);
        let c = br#"{"Id":"cr","ChannelCount":1,"StartTime":"2023-09-19T15:05:39Z","EndTime":"2023-09-19T15:05:40Z","BytesUp":0,"BytesDown":0,"Errors":null}"#;
        assert_eq!(ConnectionSummary::parse(c, "x").unwrap().errors, "");
        let e = ConnectionSummary::parse(b"{\n \"Id\": 5}", "x").unwrap_err();
        assert!(e.location().unwrap().offset > 0);
    }
}
