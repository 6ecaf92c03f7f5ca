//! A container's summary file against its meta, its children and its data files. Parsed
//! summaries are kept in [`super::ctx::Seen`] (the parent's totals and `facts` use them).

use super::container::Place;
use super::ctx::Ctx;
use super::tree::MetaFacts;
use crate::report::Class;
use bsr_core::format::meta::{ChannelSummary, ConnectionSummary, SessionSummary};
use bsr_core::format::{ContainerKind, Timestamp};
use bsr_core::store::join;
use std::collections::BTreeMap;

/// What a summary is checked against.
pub(super) struct SummaryInput<'a> {
    pub bytes: &'a [u8],
    pub meta: &'a MetaFacts,
    /// `(BytesUp, BytesDown)` of each child channel summary that was read.
    pub child_summaries: &'a [(u64, u64)],
    /// DATA totals of the messages files.
    pub data_totals: &'a BTreeMap<&'static str, u64>,
    pub parent_id: Option<&'a str>,
}

/// Parses and checks the summary of the container at `at`.
pub(super) fn check_summary(cx: &mut Ctx, at: &Place, input: &SummaryInput, unsigned: bool) {
    let path = join(at.dir, at.kind.summary_file());
    let rid = input.meta.id.clone().unwrap_or_default();
    let parsed = match at.kind {
        ContainerKind::Session => SessionSummary::parse(input.bytes, &path).map(|s| {
            session(cx, &path, &rid, input, &s);
            cx.seen.session_summary = Some(s);
        }),
        ContainerKind::Connection => ConnectionSummary::parse(input.bytes, &path).map(|s| {
            connection(cx, &path, &rid, input, &s);
            cx.seen.connection_summaries.insert(at.dir.to_string(), s);
        }),
        ContainerKind::Channel => ChannelSummary::parse(input.bytes, &path).map(|s| {
            channel(cx, &path, &rid, input, &s);
            cx.seen.channel_summaries.insert(at.dir.to_string(), s);
        }),
    };
    if let Err(e) = parsed {
        cx.core_err("summary-malformed", &path, &e, unsigned);
    }
}

fn check_id(cx: &mut Ctx, path: &str, id: &str, rid: &str) {
    if id != rid {
        let m = format!("summary id {id:?} differs from {rid:?}");
        cx.err(Class::Structure, "summary-id", path, m);
    }
}

fn check_times(cx: &mut Ctx, path: &str, start: Timestamp, end: Timestamp) {
    if end < start {
        let m = format!(
            "EndTime {} is before StartTime {}",
            end.to_rfc3339(),
            start.to_rfc3339()
        );
        cx.warn("summary-times", path, m);
    }
}

fn session(cx: &mut Ctx, path: &str, rid: &str, input: &SummaryInput, s: &SessionSummary) {
    check_id(cx, path, &s.id, rid);
    let n = input.meta.children.len();
    if s.connection_count != n as u64 {
        let m = format!(
            "ConnectionCount {} but {n} connections listed",
            s.connection_count
        );
        cx.err(Class::Structure, "summary-count", path, m);
    }
    check_times(cx, path, s.start_time, s.end_time);
}

fn connection(cx: &mut Ctx, path: &str, rid: &str, input: &SummaryInput, s: &ConnectionSummary) {
    check_id(cx, path, &s.id, rid);
    let n = input.meta.children.len();
    if s.channel_count != n as u64 {
        let m = format!("ChannelCount {} but {n} channels listed", s.channel_count);
        cx.err(Class::Structure, "summary-count", path, m);
    }
    let up: u64 = input.child_summaries.iter().map(|x| x.0).sum();
    let down: u64 = input.child_summaries.iter().map(|x| x.1).sum();
    if input.child_summaries.len() == n && (s.bytes_up != up || s.bytes_down != down) {
        let m = format!(
            "BytesUp/BytesDown {}/{} differ from the channels' totals {up}/{down}",
            s.bytes_up, s.bytes_down
        );
        cx.warn("summary-bytes", path, m);
    }
    check_times(cx, path, s.start_time, s.end_time);
}

fn channel(cx: &mut Ctx, path: &str, rid: &str, input: &SummaryInput, s: &ChannelSummary) {
    check_id(cx, path, &s.id, rid);
    if let Some(pid) = input.parent_id
        && s.connection_recording_id != pid
    {
        let m = format!(
            "channel summary names connection {:?}, but it is inside {pid:?}",
            s.connection_recording_id
        );
        cx.err(Class::Structure, "channel-moved", path, m);
    }
    if let Some(ct) = &input.meta.channel_type
        && &s.channel_type != ct
    {
        let m = format!(
            "summary channel type {:?} differs from the meta's {ct:?}",
            s.channel_type
        );
        cx.err(Class::Structure, "channel-type", path, m);
    }
    for (dir, declared, file) in [
        ("inbound", s.bytes_up, "BytesUp"),
        ("outbound", s.bytes_down, "BytesDown"),
    ] {
        if let Some(&got) = input.data_totals.get(dir)
            && declared != got
        {
            let m = format!("{file} {declared} but messages-{dir}.data holds {got} DATA bytes");
            cx.err(Class::Structure, "summary-bytes", path, m);
        }
    }
    check_times(cx, path, s.start_time, s.end_time);
}
