//! The tree of a recording: each container's meta file, the data files it declares, and its
//! children (listed ones present, unlisted folders reported).

use super::container::{Files, Place, check_container};
use super::ctx::Ctx;
use crate::report::{Class, FileReport, FileStatus};
use bsr_core::format::complete_lines;
use bsr_core::format::meta::{ChannelRecordingMeta, ConnectionRecordingMeta, SessionRecordingMeta};
use bsr_core::format::{self, ContainerKind};
use bsr_core::read::container_id;
use bsr_core::store::{DirEntry, EntryKind, join};
use std::collections::{BTreeMap, BTreeSet};

/// What a container's meta file says.
#[derive(Default)]
pub(super) struct MetaFacts {
    pub id: Option<String>,
    pub children: Vec<String>,
    pub declared: Vec<&'static str>,
    pub channel_type: Option<String>,
}

fn declared_files(
    requests: &[format::Direction],
    messages: &[format::Direction],
) -> Vec<&'static str> {
    let mut d: Vec<&'static str> = requests.iter().map(|x| format::requests_file(*x)).collect();
    d.extend(messages.iter().map(|x| format::messages_file(*x)));
    d
}

/// Parses the meta file (read once by the file loop) and checks its id.
pub(super) fn check_meta(
    cx: &mut Ctx,
    at: &Place,
    bytes: Option<Vec<u8>>,
    names: &BTreeMap<&str, &DirEntry>,
    unsigned: bool,
) -> MetaFacts {
    let meta_path = join(at.dir, at.kind.meta_file());
    let Some(b) = bytes else {
        if !names.contains_key(at.kind.meta_file()) {
            cx.err_unless_unsigned(unsigned, "meta-missing", &meta_path, "meta file missing");
        }
        return MetaFacts::default();
    };
    let b = if unsigned { complete_lines(&b) } else { &b[..] };
    let parsed = match at.kind {
        ContainerKind::Session => SessionRecordingMeta::parse(b, &meta_path).map(|m| {
            if m.protocol != "BSSH" {
                let msg = format!("protocol {:?} is not BSSH", m.protocol);
                cx.warn("protocol", &meta_path, msg);
            }
            MetaFacts {
                id: Some(m.id),
                children: m.connections,
                ..MetaFacts::default()
            }
        }),
        ContainerKind::Connection => {
            ConnectionRecordingMeta::parse(b, &meta_path).map(|m| MetaFacts {
                declared: declared_files(&m.requests, &m.messages),
                id: Some(m.id),
                children: m.channels,
                channel_type: None,
            })
        }
        ContainerKind::Channel => ChannelRecordingMeta::parse(b, &meta_path).map(|m| MetaFacts {
            declared: declared_files(&m.requests, &m.messages),
            id: Some(m.id),
            children: Vec::new(),
            channel_type: Some(m.channel_type),
        }),
    };
    match parsed {
        Ok(m) => {
            if let (Some(exp), Some(mid)) = (at.expected_id, m.id.as_deref())
                && mid != exp
            {
                let msg = format!("meta id {mid:?} does not match the folder name (id {exp:?})");
                cx.err(Class::Structure, "id-mismatch", &meta_path, msg);
            }
            m
        }
        Err(e) => {
            cx.core_err("meta-malformed", &meta_path, &e, unsigned);
            MetaFacts::default()
        }
    }
}

/// Data files the meta declares are present, once; present data files are declared.
pub(super) fn check_declared(
    cx: &mut Ctx,
    at: &Place,
    meta: &MetaFacts,
    names: &BTreeMap<&str, &DirEntry>,
    files: &[FileReport],
    unsigned: bool,
) {
    let dir = at.dir;
    let meta_path = join(dir, at.kind.meta_file());
    let mut seen = BTreeSet::new();
    for d in &meta.declared {
        if !seen.insert(*d) {
            cx.err(
                Class::Structure,
                "duplicate-meta-entry",
                &meta_path,
                format!("{d} declared twice"),
            );
        }
        if !names.contains_key(d) {
            let m = "declared in the meta file but missing";
            cx.err_unless_unsigned(unsigned, "declared-file-missing", &join(dir, d), m);
        }
    }
    for f in files {
        if f.name.ends_with(".data")
            && !meta.declared.contains(&f.name.as_str())
            && f.status != FileStatus::Missing
        {
            let m = "data file not declared in the meta file";
            cx.warn("undeclared-data-file", &join(dir, &f.name), m);
        }
    }
}

/// Checks every child the meta lists (recursively) and reports unlisted folders. Returns the
/// byte totals of the children's summaries that were read.
pub(super) fn check_children(
    cx: &mut Ctx,
    at: &Place,
    meta: &MetaFacts,
    names: &BTreeMap<&str, &DirEntry>,
    files: &Files,
    unsigned: bool,
) -> Vec<(u64, u64)> {
    let meta_path = join(at.dir, at.kind.meta_file());
    let child_kind = match at.kind {
        ContainerKind::Session => Some(ContainerKind::Connection),
        ContainerKind::Connection => Some(ContainerKind::Channel),
        ContainerKind::Channel => None,
    };
    let mut child_set = BTreeSet::new();
    let mut child_summaries = Vec::new();
    for c in &meta.children {
        if !child_set.insert(c.clone()) {
            let m = format!("{c} listed twice");
            cx.err(Class::Structure, "duplicate-child", &meta_path, m);
            continue;
        }
        let Some(ck) = child_kind else { continue };
        let Some(cid) = container_id(c, ck) else {
            let m = format!(
                "invalid {} name {c:?} (path traversal or bad id)",
                ck.name()
            );
            cx.err(Class::Malformed, "bad-child-name", &meta_path, m);
            continue;
        };
        let cpath = join(at.dir, c);
        match names.get(c.as_str()) {
            Some(e) if e.kind == EntryKind::Dir => match cx.store.list(&cpath) {
                Ok(ents) => {
                    let place = Place {
                        dir: &cpath,
                        kind: ck,
                        expected_id: Some(cid),
                        parent_id: meta.id.as_deref(),
                        parent_signed_or_root: !unsigned,
                    };
                    check_container(cx, &place, &ents);
                    if let Some(s) = cx.seen.channel_summaries.get(&cpath) {
                        child_summaries.push((s.bytes_up, s.bytes_down));
                    }
                }
                Err(e) => cx.core_err("unreadable", &cpath, &e, false),
            },
            Some(_) => cx.err(
                Class::Structure,
                "child-not-a-folder",
                &cpath,
                "listed child is not a folder",
            ),
            None => {
                let m = format!("{} listed in the meta but missing", ck.name());
                cx.err_unless_unsigned(unsigned, "listed-container-missing", &cpath, m);
            }
        }
    }
    for d in &files.child_dirs {
        if !child_set.contains(d) {
            let m = "folder not listed in the meta file";
            cx.err(Class::Structure, "unlisted-container", &join(at.dir, d), m);
        }
    }
    child_summaries
}
