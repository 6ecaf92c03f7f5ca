//! S3-compatible object stores as a [`ReadStore`] (rusty-s3 signing, ureq transport, blocking).
//!
//! * Listing: `ListObjectsV2` with delimiter `/`, paginated with continuation tokens.
//! * Reading: a stream of ranged GETs of [`S3Store::window`] bytes each, one after another, so
//!   no more than one window is in flight and nothing is buffered whole; a failed window is
//!   retried from the current offset a bounded number of times.
//! * `ChecksumSHA256`: `HEAD` with `x-amz-checksum-mode: ENABLED`; a full-object checksum is
//!   returned for comparison (Boundary's "validate external data store"). A composite
//!   (multipart, `…-N`) checksum is not a SHA-256 of the object and is not compared.
//!
//! Plain `http://` endpoints only in this build (TLS is not compiled in): point `--endpoint`
//! at an S3-compatible server or a TLS-terminating proxy on a trusted network.

use crate::error::Error as CoreError;
use crate::store::{DirEntry, EntryKind, ReadStore, check_path};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

/// How long presigned URLs stay valid.
const SIGN_FOR: Duration = Duration::from_secs(3600);
/// Largest list or error response read.
const MAX_XML: u64 = 16 * 1024 * 1024;
/// Default bytes per ranged GET.
pub const DEFAULT_WINDOW: u64 = 8 * 1024 * 1024;
/// Attempts per window.
const ATTEMPTS: u32 = 3;

/// Errors of the S3 client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A bad `s3://` location or endpoint URL.
    #[error("invalid S3 location or endpoint: {0}")]
    Url(String),
    /// Missing or bad configuration (credentials, region).
    #[error("S3 configuration: {0}")]
    Config(String),
    /// The server answered with an error status.
    #[error("S3 {status} {code} for {key}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// S3 error code (`NoSuchKey`, …), when the body had one.
        code: String,
        /// S3 error message.
        message: String,
        /// Object key or prefix.
        key: String,
    },
    /// Transport failure.
    #[error("S3 transport error for {key}: {message}")]
    Transport {
        /// Object key or prefix.
        key: String,
        /// What failed.
        message: String,
    },
    /// An unreadable XML response.
    #[error("S3 response for {key} could not be parsed: {message}")]
    Xml {
        /// Object key or prefix.
        key: String,
        /// What failed.
        message: String,
    },
    /// Local I/O while uploading.
    #[error("{path}: {source}")]
    Io {
        /// Local path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket.
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Result<Self, S3Error> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| S3Error::Url(format!("{s:?} does not start with s3://")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(S3Error::Url(format!("{s:?}: invalid bucket name")));
        }
        let prefix = prefix.trim_matches('/').to_string();
        check_path(&prefix).map_err(|e| S3Error::Url(format!("{s:?}: {e}")))?;
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

/// Endpoint, region and credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token.
    pub session_token: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), the default; virtual-host style otherwise.
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// From flags, falling back to the standard AWS variables: `AWS_ENDPOINT_URL_S3` /
    /// `AWS_ENDPOINT_URL`, `AWS_REGION` / `AWS_DEFAULT_REGION` (default `us-east-1`),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub fn from_env_and_flags(
        endpoint: Option<String>,
        region: Option<String>,
    ) -> Result<Self, S3Error> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = endpoint
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .ok_or_else(|| {
                S3Error::Config("no endpoint: pass --endpoint or set AWS_ENDPOINT_URL".into())
            })?;
        let region = region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let access_key = env("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| S3Error::Config("AWS_ACCESS_KEY_ID is not set".into()))?;
        let secret_key = env("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| S3Error::Config("AWS_SECRET_ACCESS_KEY is not set".into()))?;
        Ok(S3Config {
            endpoint,
            region,
            access_key,
            secret_key,
            session_token: env("AWS_SESSION_TOKEN"),
            path_style: true,
        })
    }
}

/// A read-only store over `bucket/prefix` (plus upload helpers for tests and tooling).
pub struct S3Store {
    bucket: Bucket,
    creds: Credentials,
    loc: S3Location,
    agent: ureq::Agent,
    window: u64,
    max_keys: usize,
    sizes: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.loc.bucket)
            .field("prefix", &self.loc.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Connects (lazily: no request is made here).
    pub fn new(cfg: S3Config, loc: S3Location) -> Result<Self, S3Error> {
        let url: url::Url = cfg
            .endpoint
            .parse()
            .map_err(|e| S3Error::Url(format!("{}: {e}", cfg.endpoint)))?;
        if url.scheme() != "http" {
            return Err(S3Error::Url(format!(
                "{}: only http:// endpoints are supported by this build",
                cfg.endpoint
            )));
        }
        let style = if cfg.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, loc.bucket.clone(), cfg.region.clone())
            .map_err(|e| S3Error::Url(e.to_string()))?;
        let creds = match cfg.session_token {
            Some(t) => Credentials::new_with_token(cfg.access_key, cfg.secret_key, t),
            None => Credentials::new(cfg.access_key, cfg.secret_key),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(300)))
            .build()
            .into();
        Ok(S3Store {
            bucket,
            creds,
            loc,
            agent,
            window: DEFAULT_WINDOW,
            max_keys: 1000,
            sizes: Mutex::new(HashMap::new()),
        })
    }

    /// Bytes per ranged GET (default 8 MiB).
    pub fn with_window(mut self, bytes: u64) -> Self {
        self.window = bytes.max(1);
        self
    }

    /// Keys per list page (default 1000).
    pub fn with_max_keys(mut self, n: usize) -> Self {
        self.max_keys = n.clamp(1, 1000);
        self
    }

    /// The window size.
    pub fn window(&self) -> u64 {
        self.window
    }

    fn key(&self, path: &str) -> String {
        match (self.loc.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.loc.prefix.clone(),
            (false, false) => format!("{}/{path}", self.loc.prefix),
        }
    }

    fn http_err(&self, key: &str, resp: ureq::http::Response<ureq::Body>) -> S3Error {
        let status = resp.status().as_u16();
        let mut body = String::new();
        let _ = resp
            .into_body()
            .into_with_config()
            .limit(MAX_XML)
            .reader()
            .take(MAX_XML)
            .read_to_string(&mut body);
        let tag = |t: &str| {
            let open = format!("<{t}>");
            body.find(&open).and_then(|i| {
                let rest = &body[i + open.len()..];
                rest.find(&format!("</{t}>")).map(|j| rest[..j].to_string())
            })
        };
        S3Error::Http {
            status,
            code: tag("Code").unwrap_or_default(),
            message: tag("Message").unwrap_or_default(),
            key: self.url(key),
        }
    }

    /// `s3://bucket/key`, as every S3 error names the object (or the bucket, for `""`).
    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.loc.bucket)
    }

    fn transport(&self, key: &str, e: impl std::fmt::Display) -> S3Error {
        S3Error::Transport {
            key: self.url(key),
            message: e.to_string(),
        }
    }

    fn to_core(&self, path: &str, e: S3Error) -> CoreError {
        let kind = match &e {
            S3Error::Http { status: 404, .. } => std::io::ErrorKind::NotFound,
            S3Error::Http { status: 403, .. } => std::io::ErrorKind::PermissionDenied,
            _ => std::io::ErrorKind::Other,
        };
        // The core error names the object; the cause says only what went wrong.
        let cause = match e {
            S3Error::Http {
                status,
                code,
                message,
                ..
            } => format!("S3 {status} {code}: {message}"),
            S3Error::Transport { message, .. } => format!("S3 transport error: {message}"),
            S3Error::Xml { message, .. } => format!("S3 response could not be parsed: {message}"),
            other => other.to_string(),
        };
        CoreError::io(self.describe(path), std::io::Error::new(kind, cause))
    }

    fn head(
        &self,
        path: &str,
        checksum: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, S3Error> {
        let key = self.key(path);
        let mut a = self.bucket.head_object(Some(&self.creds), &key);
        if checksum {
            a.headers_mut().insert("x-amz-checksum-mode", "ENABLED");
        }
        let url = a.sign(SIGN_FOR);
        let mut req = self.agent.head(url.as_str());
        if checksum {
            req = req.header("x-amz-checksum-mode", "ENABLED");
        }
        let resp = req.call().map_err(|e| self.transport(&key, e))?;
        if !resp.status().is_success() {
            return Err(self.http_err(&key, resp));
        }
        Ok(resp)
    }

    /// Lists everything below `dir` (one level), following continuation tokens, handing each
    /// page's entries to `each` before the next page is fetched (objects first, then common
    /// prefixes, each in the server's order). An error from `each` ends the listing.
    fn list_pages(
        &self,
        dir: &str,
        each: &mut dyn FnMut(DirEntry) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        let mut prefix = self.key(dir);
        if !prefix.is_empty() {
            prefix.push('/');
        }
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_page(&prefix, token.as_deref())
                .map_err(|e| self.to_core(dir, e))?;
            for c in page.contents {
                let Some(name) = c.key.strip_prefix(&prefix) else {
                    continue;
                };
                if name.is_empty() || name.contains('/') {
                    continue;
                }
                let size = c.size.unwrap_or(0);
                {
                    let mut sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
                    if sizes.len() > 100_000 {
                        sizes.clear();
                    }
                    sizes.insert(c.key.clone(), size);
                }
                each(DirEntry {
                    name: name.to_string(),
                    kind: EntryKind::File,
                    size,
                })?;
            }
            for p in page.common_prefixes {
                let Some(name) = p.prefix.strip_prefix(&prefix) else {
                    continue;
                };
                let name = name.trim_end_matches('/');
                if !name.is_empty() && !name.contains('/') {
                    each(DirEntry {
                        name: name.to_string(),
                        kind: EntryKind::Dir,
                        size: 0,
                    })?;
                }
            }
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(()),
            }
        }
    }

    /// One `ListObjectsV2` page below `prefix` (ending in `/`, or empty for the root).
    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<rusty_s3::actions::list_objects_v2::ListObjectsV2Response, S3Error> {
        let mut a = self.bucket.list_objects_v2(Some(&self.creds));
        a.with_prefix(prefix);
        a.with_delimiter("/");
        a.with_max_keys(self.max_keys);
        if let Some(t) = token {
            a.with_continuation_token(t);
        }
        let url = a.sign(SIGN_FOR);
        let resp = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| self.transport(prefix, e))?;
        if !resp.status().is_success() {
            return Err(self.http_err(prefix, resp));
        }
        let mut text = String::new();
        resp.into_body()
            .into_with_config()
            .limit(MAX_XML)
            .reader()
            .read_to_string(&mut text)
            .map_err(|e| self.transport(prefix, e))?;
        rusty_s3::actions::ListObjectsV2::parse_response(&text).map_err(|e| S3Error::Xml {
            key: prefix.to_string(),
            message: e.to_string(),
        })
    }

    /// Uploads an object with its SHA-256 as `x-amz-checksum-sha256`.
    pub fn put_object(&self, path: &str, data: &[u8]) -> Result<(), S3Error> {
        use base64::Engine;
        use sha2::Digest;
        let key = self.key(path);
        let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data));
        let mut a = self.bucket.put_object(Some(&self.creds), &key);
        a.headers_mut().insert("x-amz-checksum-sha256", sum.clone());
        let url = a.sign(SIGN_FOR);
        let resp = self
            .agent
            .put(url.as_str())
            .header("x-amz-checksum-sha256", sum)
            .send(data)
            .map_err(|e| self.transport(&key, e))?;
        if !resp.status().is_success() {
            return Err(self.http_err(&key, resp));
        }
        Ok(())
    }

    /// Uploads a local folder recursively below `dest` (symbolic links are skipped).
    pub fn upload_dir(&self, local: &std::path::Path, dest: &str) -> Result<u64, S3Error> {
        let io = |p: &std::path::Path, e| S3Error::Io {
            path: p.display().to_string(),
            source: e,
        };
        let mut n = 0;
        let mut entries: Vec<_> = std::fs::read_dir(local)
            .map_err(|e| io(local, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| io(local, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            let ft = e.file_type().map_err(|err| io(&p, err))?;
            let d = if dest.is_empty() {
                name
            } else {
                format!("{dest}/{name}")
            };
            if ft.is_dir() {
                n += self.upload_dir(&p, &d)?;
            } else if ft.is_file() {
                let data = std::fs::read(&p).map_err(|err| io(&p, err))?;
                self.put_object(&d, &data)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Creates the bucket.
    pub fn create_bucket(&self) -> Result<(), S3Error> {
        let url = self.bucket.create_bucket(&self.creds).sign(SIGN_FOR);
        let resp = self
            .agent
            .put(url.as_str())
            .send_empty()
            .map_err(|e| self.transport("", e))?;
        if !resp.status().is_success() {
            return Err(self.http_err("", resp));
        }
        Ok(())
    }

    /// Deletes an object.
    pub fn delete_object(&self, path: &str) -> Result<(), S3Error> {
        let key = self.key(path);
        let url = self
            .bucket
            .delete_object(Some(&self.creds), &key)
            .sign(SIGN_FOR);
        let resp = self
            .agent
            .delete(url.as_str())
            .call()
            .map_err(|e| self.transport(&key, e))?;
        if !resp.status().is_success() {
            return Err(self.http_err(&key, resp));
        }
        Ok(())
    }

    fn get_range(&self, key: &str, start: u64, end_inclusive: u64) -> Result<ureq::Body, S3Error> {
        let range = format!("bytes={start}-{end_inclusive}");
        let mut a = self.bucket.get_object(Some(&self.creds), key);
        a.headers_mut().insert("range", range.clone());
        let url = a.sign(SIGN_FOR);
        let resp = self
            .agent
            .get(url.as_str())
            .header("range", range)
            .call()
            .map_err(|e| self.transport(key, e))?;
        if !resp.status().is_success() {
            return Err(self.http_err(key, resp));
        }
        Ok(resp.into_body())
    }
}

mod range;
