//! `session-meta.json`: Boundary's `SessionMeta`.

use super::summary::json_err;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
