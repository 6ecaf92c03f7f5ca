//! The session list's filters and pages (`/` and `GET /api/v1/sessions`).

use super::ServeError;
use super::catalog::{Catalog, Party, Row, Summary};
use bsr_core::Timestamp;
use std::sync::Arc;

/// Default page size.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size.
pub const MAX_PAGE_SIZE: usize = 500;

/// Query parameters of the list (all optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListQuery {
    /// Page number, from 1.
    pub page: Option<usize>,
    /// Rows per page (at most [`MAX_PAGE_SIZE`]).
    pub page_size: Option<usize>,
    /// User id or name (exact), or a part of the name.
    pub user: Option<String>,
    /// Target id or name (exact), or a part of the name.
    pub target: Option<String>,
    /// Sessions that ended at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Sessions that started before this time (RFC 3339).
    pub until: Option<String>,
    /// Verdict (`authentic`, `unauthenticated`, `invalid`, `incomplete`, `error`), or
    /// `refused` for every verdict the gate refuses.
    pub verdict: Option<String>,
    /// Text search (the list page's search box; not used by this filter).
    pub q: Option<String>,
}

/// A page of rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListPage {
    /// Page number, from 1.
    pub page: usize,
    /// Rows per page.
    pub page_size: usize,
    /// Recordings listed (all, before filtering).
    pub recordings: usize,
    /// Whether a later page has rows.
    pub more: bool,
    /// The rows.
    pub sessions: Vec<Arc<Row>>,
}

struct Filter {
    user: Option<String>,
    target: Option<String>,
    since: Option<i128>,
    until: Option<i128>,
    verdict: Option<String>,
}

fn time(name: &str, v: &Option<String>) -> Result<Option<i128>, ServeError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            // A date alone means its midnight UTC; a minute without seconds gets ":00".
            let full = match s.len() {
                10 => format!("{s}T00:00:00Z"),
                16 => format!("{s}:00Z"),
                _ => s.to_string(),
            };
            Timestamp::parse_rfc3339(&full)
                .map(|t| Some(t.as_nanos()))
                .ok_or_else(|| ServeError::BadRequest(format!("{name}: not an RFC 3339 time")))
        }
    }
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Filter {
    fn of(q: &ListQuery) -> Result<Self, ServeError> {
        Ok(Filter {
            user: nonempty(&q.user),
            target: nonempty(&q.target),
            since: time("since", &q.since)?,
            until: time("until", &q.until)?,
            verdict: nonempty(&q.verdict),
        })
    }

    fn is_empty(&self) -> bool {
        self.user.is_none()
            && self.target.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.verdict.is_none()
    }

    fn matches(&self, r: &Summary) -> bool {
        if let Some(v) = &self.verdict {
            let ok = if v == "refused" {
                !r.shown
            } else {
                &*r.verdict == v
            };
            if !ok {
                return false;
            }
        }
        let needs_facts = self.user.is_some()
            || self.target.is_some()
            || self.since.is_some()
            || self.until.is_some();
        if !needs_facts {
            return true;
        }
        // A refused recording has no facts to match.
        let (Some(user), Some(target)) = (&r.user, &r.target) else {
            return false;
        };
        let has = |p: &Party, want: &str| {
            p.id.as_deref() == Some(want)
                || p.name
                    .as_deref()
                    .is_some_and(|n| n == want || n.to_lowercase().contains(&want.to_lowercase()))
        };
        if self.user.as_deref().is_some_and(|u| !has(user, u))
            || self.target.as_deref().is_some_and(|t| !has(target, t))
        {
            return false;
        }
        let end = r.end_ns.or(r.start_ns);
        if let (Some(s), Some(e)) = (self.since, end)
            && e < s
        {
            return false;
        }
        if let (Some(u), Some(s)) = (self.until, r.start_ns)
            && s >= u
        {
            return false;
        }
        if (self.since.is_some() || self.until.is_some()) && r.start_ns.is_none() {
            return false;
        }
        true
    }
}

/// One page of the list. Without filters, only the page's recordings are read (or taken from
/// the cache); with filters, recordings are read in order until the page is full and one more
/// match shows whether a next page exists, so a first page never waits for the whole archive.
pub fn list(cat: &Catalog, q: &ListQuery) -> Result<ListPage, ServeError> {
    let page = q.page.unwrap_or(1).max(1);
    let size = q
        .page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let filter = Filter::of(q)?;
    let skip = (page - 1).saturating_mul(size);
    let mut sessions = Vec::new();
    let mut more = false;
    if filter.is_empty() {
        let end = skip.saturating_add(size).min(cat.len());
        for i in skip.min(end)..end {
            sessions.push(cat.row(i)?);
        }
        more = end < cat.len();
    } else {
        let mut matched = 0usize;
        for i in 0..cat.len() {
            // The filters look at summaries (kept for every recording); whole rows are read
            // for the page's recordings only.
            if !filter.matches(&*cat.summary(i)?) {
                continue;
            }
            matched += 1;
            if matched <= skip {
                continue;
            }
            if sessions.len() == size {
                more = true;
                break;
            }
            sessions.push(cat.row(i)?);
        }
    }
    Ok(ListPage {
        page,
        page_size: size,
        recordings: cat.len(),
        more,
        sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_dates_and_minutes() -> Result<(), ServeError> {
        let d = time("since", &Some("2023-11-14".into()))?;
        let m = time("since", &Some("2023-11-14T00:00".into()))?;
        assert!(d.is_some());
        assert_eq!(d, m);
        assert!(time("since", &Some("yesterday".into())).is_err());
        assert_eq!(time("since", &Some("  ".into()))?, None);
        Ok(())
    }
}
