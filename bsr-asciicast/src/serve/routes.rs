//! The routes: pages and the JSON API (docs/SERVE.md).

use super::pages::{SearchResults, list_page, list_policy, url_encode};
use super::query::{ListQuery, list};
use super::security::{guard, require_token};
use super::stream::streamed;
use super::{App, HANDLER_TIMEOUT, ServeError};
use crate::convert::{
    ChannelFiles, ConvertContext, ConvertOptions, Format, convert_with, select_channel,
};
use crate::html::{HtmlOptions, page_policy, render};
use crate::search::{Found, Hit, Matcher, search_recording};
use crate::search_index::query_all;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bsr_core::read::Recording;
use std::collections::HashMap;
use std::sync::Arc;

/// Most search hits shown on the list page.
const MAX_HITS: usize = 200;
/// Largest request body accepted (GET and HEAD carry none).
const MAX_BODY: usize = 1024;

/// The server's routes with their guards (token, read-only, headers, limits, timeout).
pub fn router(app: Arc<App>) -> Router {
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::timeout::TimeoutLayer;
    Router::new()
        .route("/", get(list_html))
        .route("/sessions/{id}", get(replay_html))
        .route("/api/v1/sessions", get(api_list))
        .route("/api/v1/sessions/{id}", get(api_session))
        .route("/api/v1/sessions/{id}/cast", get(api_cast))
        .route("/api/v1/sessions/{id}/text", get(api_text))
        .route("/api/v1/sessions/{id}/commands", get(api_commands))
        .route("/api/v1/sessions/{id}/events", get(api_events))
        .route("/api/v1/sessions/{id}/verify", get(api_verify))
        .route("/live/{id}", get(live_html))
        .route("/api/v1/sessions/{id}/live", get(api_live))
        .fallback(|| async { ServeError::NotFound })
        .layer(from_fn_with_state(app.clone(), require_token))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            HANDLER_TIMEOUT,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(from_fn(guard))
        .with_state(app)
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = match &self {
            ServeError::NotFound => StatusCode::NOT_FOUND,
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::Refused(_) => StatusCode::FORBIDDEN,
            ServeError::Conflict(_) => StatusCode::CONFLICT,
            ServeError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            axum::Json(serde_json::json!({"error": self.to_string()})),
        )
            .into_response()
    }
}

/// Runs blocking work (verification, reading) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServeError::Read(format!("worker: {e}")))?
}

fn html(status: StatusCode, body: String, csp: &str) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The recording named `id`; an id not listed makes the targets be listed again first (at
/// most once a second), so that a recording that appeared since startup can be opened by its
/// link before the next rescan.
fn index(app: &App, id: &str) -> Result<usize, ServeError> {
    if let Some(i) = app.catalog.find(id) {
        return Ok(i);
    }
    app.catalog.refresh_on_miss(RELIST_ON_MISS);
    app.catalog.find(id).ok_or(ServeError::NotFound)
}

/// Least time between two listings made because a request named an unknown id.
const RELIST_ON_MISS: std::time::Duration = std::time::Duration::from_secs(1);

async fn list_html(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    let r = blocking(move || {
        let page = list(&app.catalog, &q)?;
        let search = match q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => Some(search_all(&app, &q, p)?),
            None => None,
        };
        Ok(list_page(&q, &page, search.as_ref()))
    })
    .await;
    match r {
        Ok(body) => html(StatusCode::OK, body, &list_policy()),
        Err(e) => e.into_response(),
    }
}

/// The list page's search: the text view's search over the recordings that match the
/// filters, each through the gate (refused ones are counted, not searched). With search
/// indexes (`--index`), a recording that an index holds in its current state (the SHA-256 of
/// its `SHA256SUM.sig` is the one it was indexed with, and it passes the gate now) is
/// answered by the index (the same hits as a scan); the others are scanned.
fn search_all(app: &App, q: &ListQuery, pattern: &str) -> Result<SearchResults, ServeError> {
    let matcher =
        Matcher::new(pattern, false, true).map_err(|e| ServeError::BadRequest(e.to_string()))?;
    let mut res = SearchResults::default();
    let mut indexed_sigs = std::collections::BTreeMap::new();
    for ix in &app.indexes {
        // An index that cannot be read now is not used: its recordings are scanned.
        if let Ok(r) = ix.recordings() {
            indexed_sigs.extend(r);
        }
    }
    // The recordings the indexes answer for, by location, with their ids.
    let mut by_index: HashMap<String, String> = HashMap::new();
    let mut all = q.clone();
    all.page_size = Some(super::query::MAX_PAGE_SIZE);
    let mut page = 1;
    loop {
        all.page = Some(page);
        let p = list(&app.catalog, &all)?;
        for row in &p.sessions {
            let (Some(i), true) = (app.catalog.find(&row.id), row.shown) else {
                res.failed += 1;
                continue;
            };
            let Some(e) = app.catalog.entry(i) else {
                res.failed += 1;
                continue;
            };
            // The row says the recording passes the gate in its current state (its key);
            // an index is used without verifying it again.
            if !indexed_sigs.is_empty() {
                let loc = e.store.describe(&e.dir);
                if let (Some(have), Some(now)) = (
                    indexed_sigs.get(&loc),
                    crate::search_index::recording_sig(&*e.store, &e.dir),
                ) && *have == now
                {
                    by_index.insert(loc, row.id.clone());
                    continue;
                }
            }
            match app.catalog.verification(i) {
                Ok(v) => scan(&e, &v, &row.id, &matcher, &mut res),
                Err(_) => res.failed += 1,
            }
        }
        if !p.more {
            break;
        }
        page += 1;
    }
    if !by_index.is_empty() {
        let mut hits = Vec::new();
        let asked = query_all(&app.indexes, &matcher, &mut |h: Hit| {
            if let Some(id) = by_index.get(&h.recording) {
                hits.push((id.clone(), h));
            }
        });
        match asked {
            Ok(_) => {
                res.searched += by_index.len() as u64;
                res.indexed += by_index.len() as u64;
                for (id, h) in hits {
                    keep_hit(&mut res, &id, h);
                }
            }
            // The index failed (damaged, rewritten under us): those recordings are scanned.
            Err(_) => {
                for id in by_index.values() {
                    let i = app.catalog.find(id);
                    match (
                        i.and_then(|i| app.catalog.entry(i)),
                        i.map(|i| app.catalog.verification(i)),
                    ) {
                        (Some(e), Some(Ok(v))) => scan(&e, &v, id, &matcher, &mut res),
                        _ => res.failed += 1,
                    }
                }
            }
        }
    }
    Ok(res)
}

/// Scans one recording (verified as `v`) for the search box.
fn scan(
    e: &super::catalog::Entry,
    v: &crate::verified::Verification,
    id: &str,
    matcher: &Matcher,
    res: &mut SearchResults,
) {
    let r = {
        let mut found = |f: Found| {
            if let Found::Hit(h) = f {
                keep_hit(res, id, h);
            }
        };
        search_recording(&e.store, &e.dir, matcher, Some(v), &mut found)
    };
    match r {
        Ok(_) => res.searched += 1,
        Err(_) => res.failed += 1,
    }
}

fn keep_hit(res: &mut SearchResults, id: &str, h: Hit) {
    if res.hits.len() < MAX_HITS {
        res.hits.push((id.to_string(), h));
    } else {
        res.more += 1;
    }
}

/// `?connection=&channel=&t=` of the replay page and the content routes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct ChannelQuery {
    connection: Option<String>,
    channel: Option<String>,
    t: Option<f64>,
}

async fn replay_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let r = blocking(move || {
        let i = index(&app, &id)?;
        let e = app.catalog.entry(i).ok_or(ServeError::NotFound)?;
        let mut cast_url = format!("/api/v1/sessions/{}/cast?", url_encode(&id));
        for (k, v) in [("connection", &q.connection), ("channel", &q.channel)] {
            if let Some(v) = v {
                cast_url.push_str(&format!("{k}={}&", url_encode(v)));
            }
        }
        let t = q.t.filter(|t| t.is_finite() && *t > 0.0);
        if let Some(t) = t {
            cast_url.push_str(&format!("t={t}"));
        }
        let opts = HtmlOptions {
            gate: app.catalog.gate_options().clone(),
            connection: q.connection.clone(),
            channel: q.channel.clone(),
            cast_url: Some(cast_url.trim_end_matches(['&', '?']).to_string()),
            start_at: t.unwrap_or(0.0),
            max_cast_bytes: super::MAX_CAST_BYTES,
            max_text_bytes: Some(super::MAX_PAGE_TEXT_BYTES),
            ..HtmlOptions::default()
        };
        let page = render(e.store.clone(), &e.dir, &opts)
            .map_err(|e| ServeError::Read(crate::human::escape(&e.to_string())))?;
        let status = if page.shown {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        let csp = if page.shown {
            page_policy(&opts)
        } else {
            page_policy(&HtmlOptions::default())
        };
        Ok(html(status, page.html, &csp))
    })
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn api_list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    blocking(move || Ok(axum::Json(list(&app.catalog, &q)?).into_response()))
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn api_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    blocking(move || {
        let i = index(&app, &id)?;
        Ok(axum::Json(app.catalog.row(i)?).into_response())
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// The channel's files, pinned to the digests that verified (the gate runs first; a refused
/// recording is `403`).
fn channel(app: &App, id: &str, q: &ChannelQuery) -> Result<(usize, ChannelFiles), ServeError> {
    let i = index(app, id)?;
    let v = app.catalog.verification(i)?;
    let e = app.catalog.entry(i).ok_or(ServeError::NotFound)?;
    let rec = Recording::open(e.store.clone(), &e.dir)
        .map_err(|x| ServeError::Read(crate::human::escape(&x.chain())))?;
    let mut files = select_channel(&rec, q.connection.as_deref(), q.channel.as_deref())
        .map_err(|x| ServeError::BadRequest(x.to_string()))?;
    v.pin(&mut files)
        .map_err(|x| ServeError::Refused(x.to_string()))?;
    Ok((i, files))
}

fn typed(body: axum::body::Body, content_type: &'static str) -> Response {
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn api_cast(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let t = q.t;
    // Checkpoints for opening at T: used when built; a first request starts building them.
    let (files, cp) = match blocking(move || {
        let (i, files) = channel(&app, &id, &q)?;
        let cp = app.catalog.checkpoints(i, &files);
        Ok((files, cp))
    })
    .await
    {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let body = streamed(move |w| match t {
        Some(t) => super::keyframe::write_from(&files, t, cp.as_deref(), w)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        None => {
            let opts = ConvertOptions {
                format: Format::V2,
                input: false,
                resize: true,
                markers: false,
                strict: false,
            };
            let ctx = ConvertContext {
                max_output_bytes: super::MAX_CAST_BYTES,
                ..ConvertContext::default()
            };
            convert_with(&files, &opts, &ctx, w)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
    typed(body, "application/x-asciicast")
}

async fn api_text(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    ndjson(app, id, q, |files, w| {
        let opts = crate::text::TextOptions { json: true };
        crate::text::write_text(files, &opts, w)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
}

async fn api_commands(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    ndjson(app, id, q, |files, w| {
        crate::commands::write_commands(files, true, w)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
}

/// A JSON-lines view of a channel that passed the gate, streamed as `produce` writes it.
async fn ndjson<F>(app: Arc<App>, id: String, q: ChannelQuery, produce: F) -> Response
where
    F: FnOnce(&ChannelFiles, &mut super::stream::ChannelWriter) -> Result<(), String>
        + Send
        + 'static,
{
    let files = match blocking(move || channel(&app, &id, &q)).await {
        Ok((_, f)) => f,
        Err(e) => return e.into_response(),
    };
    typed(
        streamed(move |w| produce(&files, w)),
        "application/x-ndjson",
    )
}

async fn api_events(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    blocking(move || {
        let i = index(&app, &id)?;
        // Only a recording that passed the gate has its events shown.
        app.catalog.verification(i)?;
        let e = app.catalog.entry(i).ok_or(ServeError::NotFound)?;
        let (_, events) = bsr_verify::facts::analyze(e.store.clone(), &e.dir, None);
        Ok(axum::Json(events).into_response())
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn api_verify(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    blocking(move || {
        let i = index(&app, &id)?;
        let e = app.catalog.entry(i).ok_or(ServeError::NotFound)?;
        let opts = bsr_verify::VerifyOptions {
            trust: app.catalog.gate_options().trust.clone(),
            ..bsr_verify::VerifyOptions::default()
        };
        Ok(axum::Json(bsr_verify::verify(&*e.store, &e.dir, &opts)).into_response())
    })
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// The folder of recording `id` on disk if it can be watched live: in a local folder and not
/// finished (its verdict is `incomplete`).
fn live_dir(app: &App, id: &str) -> Result<std::path::PathBuf, ServeError> {
    let i = index(app, id)?;
    let e = app.catalog.entry(i).ok_or(ServeError::NotFound)?;
    let Some(root) = &e.local_root else {
        return Err(ServeError::BadRequest(
            "live view: only recordings in local folders can be followed".into(),
        ));
    };
    let row = app.catalog.row(i)?;
    if row.verdict != "incomplete" {
        return Err(ServeError::Conflict(format!(
            "live view: the recording is not being written (verdict {}); its replay is /sessions/{}",
            crate::human::escape(&row.verdict),
            url_encode(id)
        )));
    }
    Ok(root.join(&e.dir))
}

async fn live_html(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let r = blocking(move || {
        live_dir(&app, &id)?;
        let url = format!("/api/v1/sessions/{}/live", url_encode(&id));
        super::live::live_page(&id, &url).map_err(|e| ServeError::Read(e.to_string()))
    })
    .await;
    match r {
        Ok(body) => html(StatusCode::OK, body, &super::live::live_policy()),
        Err(e) => e.into_response(),
    }
}

async fn api_live(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let Some(slot) = super::live::ViewerSlot::take() else {
        return ServeError::Busy(format!(
            "live view: {} viewers already",
            super::live::MAX_VIEWERS
        ))
        .into_response();
    };
    let timeout = app.live_writer_timeout;
    let dir = match blocking(move || live_dir(&app, &id)).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let sel = crate::convert::follow::FollowSelection {
        connection: q.connection,
        channel: q.channel,
    };
    let body = streamed(move |w| {
        let _slot = slot;
        super::live::stream(&dir, &sel, timeout, w)
    });
    let mut r = typed(body, "text/event-stream");
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
