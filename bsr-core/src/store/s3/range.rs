//! Reading objects: a sequential reader over ranged GETs, and the [`ReadStore`] impl.

use super::{ATTEMPTS, S3Store};
use crate::error::{Error as CoreError, Result as CoreResult};
use crate::store::{DirEntry, ReadStore, check_path};
use std::io::Read;

/// Sequential reader over ranged GETs.
struct RangeReader<'a> {
    store: &'a S3Store,
    key: String,
    size: u64,
    pos: u64,
    window_end: u64,
    body: Option<ureq::BodyReader<'static>>,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let mut attempts = 0;
        loop {
            if self.body.is_none() {
                let end = (self.pos + self.store.window).min(self.size) - 1;
                match self.store.get_range(&self.key, self.pos, end) {
                    Ok(b) => {
                        self.body = Some(b.into_with_config().limit(self.store.window).reader());
                        self.window_end = end + 1;
                    }
                    Err(e) => {
                        attempts += 1;
                        if attempts >= ATTEMPTS {
                            return Err(std::io::Error::other(e.to_string()));
                        }
                        continue;
                    }
                }
            }
            let want = (buf.len() as u64).min(self.window_end - self.pos) as usize;
            let res = match self.body.as_mut() {
                Some(b) => b.read(&mut buf[..want]),
                None => continue,
            };
            match res {
                Ok(0) => {
                    self.body = None;
                    if self.pos < self.window_end {
                        attempts += 1;
                        if attempts >= ATTEMPTS {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                format!("{}: short read at {}", self.key, self.pos),
                            ));
                        }
                    }
                }
                Ok(n) => {
                    self.pos += n as u64;
                    if self.pos >= self.window_end {
                        self.body = None;
                    }
                    return Ok(n);
                }
                Err(e) => {
                    self.body = None;
                    attempts += 1;
                    if attempts >= ATTEMPTS {
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl ReadStore for S3Store {
    fn list(&self, dir: &str) -> CoreResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        self.list_each(dir, &mut |e| {
            out.push(e);
            Ok(())
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn list_each(
        &self,
        dir: &str,
        each: &mut dyn FnMut(DirEntry) -> CoreResult<()>,
    ) -> CoreResult<()> {
        check_path(dir)?;
        self.list_pages(dir, each)
    }

    fn open(&self, path: &str) -> CoreResult<Box<dyn Read + Send + '_>> {
        let size = self.size(path)?;
        Ok(Box::new(RangeReader {
            store: self,
            key: self.key(path),
            size,
            pos: 0,
            window_end: 0,
            body: None,
        }))
    }

    fn size(&self, path: &str) -> CoreResult<u64> {
        check_path(path)?;
        let key = self.key(path);
        if let Some(s) = self
            .sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(*s);
        }
        let resp = self.head(path, false).map_err(|e| self.to_core(path, e))?;
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                CoreError::io(
                    self.describe(path),
                    std::io::Error::other("HEAD without Content-Length"),
                )
            })?;
        Ok(len)
    }

    fn stored_sha256(&self, path: &str) -> CoreResult<Option<[u8; 32]>> {
        use base64::Engine;
        let resp = self.head(path, true).map_err(|e| self.to_core(path, e))?;
        let h = resp.headers();
        if h.get("x-amz-checksum-type").and_then(|v| v.to_str().ok()) == Some("COMPOSITE") {
            return Ok(None);
        }
        let Some(v) = h.get("x-amz-checksum-sha256").and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        if v.contains('-') {
            return Ok(None);
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|_| {
                CoreError::io(
                    self.describe(path),
                    std::io::Error::other(format!("bad x-amz-checksum-sha256 {v:?}")),
                )
            })?;
        Ok(<[u8; 32]>::try_from(raw.as_slice()).ok())
    }

    fn describe(&self, path: &str) -> String {
        self.url(&self.key(path))
    }
}
