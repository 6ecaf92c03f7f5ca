//! The server's guards: the listen-address rule, the bearer token, and the headers every
//! response carries.

use super::{App, ServeError};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Shortest token accepted.
const MIN_TOKEN: usize = 16;
/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 4096;

/// The policy of every response that is not a page (JSON, casts, text): nothing may load or
/// run.
pub const STRICT_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A bearer token (`--token-file`).
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// Reads the token from a file: its first line, surrounding blanks removed, at least 16
    /// characters of visible ASCII.
    pub fn from_file(path: &Path) -> Result<Self, ServeError> {
        let err = |message: String| ServeError::TokenFile {
            path: crate::human::escape(&path.display().to_string()),
            message,
        };
        let md = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if !md.is_file() || md.len() > MAX_TOKEN_FILE {
            return Err(err(format!(
                "not a regular file of at most {MAX_TOKEN_FILE} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::new(text.lines().next().unwrap_or_default().trim()).map_err(err)
    }

    /// A token from its text.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.len() < MIN_TOKEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the token must be at least {MIN_TOKEN} characters of visible ASCII"
            ));
        }
        Ok(Token(text.as_bytes().to_vec()))
    }

    /// Whether `given` is the token (constant time in the token's content).
    pub fn matches(&self, given: &[u8]) -> bool {
        self.0.len() == given.len() && bool::from(self.0.ct_eq(given))
    }
}

/// Refuses a listen address off loopback unless a token is configured.
pub fn check_listen(addr: SocketAddr, token: Option<&Token>) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(ServeError::Exposed(addr))
    }
}

/// Requires `Authorization: Bearer TOKEN` when a token is configured.
pub async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(t) = &app.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if !t.matches(given) {
            let mut r = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
}

/// Only GET and HEAD; every response gets a Content-Security-Policy (pages set their own),
/// `nosniff`, no referrer, no framing and no caching.
pub async fn guard(req: Request, next: Next) -> Response {
    use axum::http::Method;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = (
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only: GET and HEAD only\n",
        )
            .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return secure(r);
    }
    secure(next.run(req).await)
}

fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRICT_CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        let t = Token::new("0123456789abcdef-xyz").unwrap_or_else(|_| unreachable!());
        assert!(t.matches(b"0123456789abcdef-xyz"));
        assert!(!t.matches(b"0123456789abcdef-xy"));
        assert!(!t.matches(b"0123456789abcdef-xyz0"));
        assert!(!t.matches(b""));
        assert!(Token::new("short").is_err());
        assert!(Token::new("has a space in it ok").is_err());
    }

    #[test]
    fn off_loopback_needs_a_token() {
        let t = Token::new("0123456789abcdef").ok();
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap_or_else(|_| unreachable!());
        let v6: SocketAddr = "[::1]:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(check_listen(lo, None).is_ok());
        assert!(check_listen(v6, None).is_ok());
        assert!(check_listen(any, None).is_err());
        assert!(check_listen(any, t.as_ref()).is_ok());
    }
}
