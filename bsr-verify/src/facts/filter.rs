//! The filters auditors use (`--since`, `--until`, `--user`, `--target`, `--kind`).

use super::{Event, Facts, ns};
use bsr_core::format::Timestamp;
use serde_json::Value;

/// Every event name `events` writes (what `--kind` accepts).
pub const EVENT_KINDS: &[&str] = &[
    "session.start",
    "session.end",
    "connection.open",
    "connection.close",
    "channel.open",
    "channel.close",
    "session.data",
    "session.pty",
    "resize",
    "session.env",
    "session.command",
    "session.shell",
    "session.subsystem",
    "session.signal",
    "session.exit",
    "session.exit_signal",
    "session.network",
    "session.x11_forwarding",
    "session.x11",
    "session.break",
    "session.xon_xoff",
    "session.request",
];

/// Filters auditors use.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events (and recordings) at or after this time.
    pub since: Option<Timestamp>,
    /// Only events (and recordings) before this time.
    pub until: Option<Timestamp>,
    /// User id or name.
    pub user: Option<String>,
    /// Target id or name.
    pub target: Option<String>,
    /// Event names; an entry ending in `*` is a prefix (`session.*`).
    pub kinds: Vec<String>,
}

impl Filter {
    /// Whether the recording's identity matches the user and target filters.
    pub fn matches_identity(&self, facts: &Facts) -> bool {
        let has = |v: &Value, want: &str| {
            v.get("id").and_then(Value::as_str) == Some(want)
                || v.get("name").and_then(Value::as_str) == Some(want)
        };
        self.user.as_deref().is_none_or(|u| has(&facts.user, u))
            && self.target.as_deref().is_none_or(|t| has(&facts.target, t))
    }

    /// Whether a recording overlaps the time range.
    pub fn matches_facts(&self, facts: &Facts) -> bool {
        if !self.matches_identity(facts) {
            return false;
        }
        let start = facts.start.as_deref().and_then(Timestamp::parse_rfc3339);
        let end = facts
            .end
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .or(start);
        if let (Some(since), Some(end)) = (self.since, end)
            && end < since
        {
            return false;
        }
        if let (Some(until), Some(start)) = (self.until, start)
            && start >= until
        {
            return false;
        }
        true
    }

    /// Checks that every kind names an event, or is a prefix pattern (`session.*`) matching at
    /// least one: a misspelt kind is a usage error, not an empty result. The error lists the
    /// kinds.
    pub fn check_kinds(&self) -> Result<(), String> {
        let matches = |k: &str| match k.strip_suffix('*') {
            Some(prefix) => EVENT_KINDS.iter().any(|e| e.starts_with(prefix)),
            None => EVENT_KINDS.contains(&k),
        };
        match self.kinds.iter().find(|k| !matches(k)) {
            None => Ok(()),
            Some(k) => Err(format!(
                "{:?} is not an event kind; the kinds are {} (a trailing * matches a prefix, e.g. session.*)",
                k,
                EVENT_KINDS.join(", ")
            )),
        }
    }

    /// Whether an event passes the time and kind filters.
    pub fn matches_event(&self, e: &Event) -> bool {
        if let Some(s) = self.since
            && e.time_ns < ns(s)
        {
            return false;
        }
        if let Some(u) = self.until
            && e.time_ns >= ns(u)
        {
            return false;
        }
        self.kinds.is_empty()
            || self.kinds.iter().any(|k| match k.strip_suffix('*') {
                Some(prefix) => e.event.starts_with(prefix),
                None => e.event == k,
            })
    }
}
