//! One container: its `SHA256SUM` and signature, and every file in it. The meta file, the
//! children and the summary are in [`super::tree`] and [`super::summary`].

use super::ctx::{Ctx, is_not_found, read_class};
use super::data::{data_dir, scan_data};
use crate::report::{Class, ContainerReport, FileReport, FileStatus};
use bsr_core::format::complete_lines;
use bsr_core::format::{self, ContainerKind};
use bsr_core::store::{DirEntry, EntryKind, join};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Where a container sits, as its parent saw it.
pub(super) struct Place<'a> {
    pub dir: &'a str,
    pub kind: ContainerKind,
    /// The id its folder name gives.
    pub expected_id: Option<&'a str>,
    /// The id of the parent container.
    pub parent_id: Option<&'a str>,
    /// The parent was finished and signed, or this is the session.
    pub parent_signed_or_root: bool,
}

/// What the file loop of a container found and read.
#[derive(Default)]
pub(super) struct Files {
    pub reports: Vec<FileReport>,
    /// DATA totals of `messages-inbound.data` / `messages-outbound.data`.
    pub data_totals: BTreeMap<&'static str, u64>,
    pub child_dirs: Vec<String>,
    pub meta: Option<Vec<u8>>,
    pub summary: Option<Vec<u8>>,
    /// The session's `REDACTION.json`.
    pub redaction: Option<Vec<u8>>,
}

/// Checks one container and, recursively, its children. Returns the id from its meta.
pub(super) fn check_container(cx: &mut Ctx, at: &Place, entries: &[DirEntry]) -> Option<String> {
    cx.stats.containers += 1;
    let names: BTreeMap<&str, &DirEntry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let sig_entry = names.get(format::SIG_FILE);
    let sig_present = sig_entry.is_some_and(|e| e.kind == EntryKind::File && e.size > 0);
    // A FIFO, socket, device, link or folder where the signature belongs is not what a crash
    // leaves: it is refused (naming it), and the container is not judged unfinished.
    let sig_not_file = sig_entry.is_some_and(|e| e.kind != EntryKind::File);
    if sig_not_file {
        let p = join(at.dir, format::SIG_FILE);
        match cx.store.size(&p) {
            Err(e) => cx.core_err("unreadable", &p, &e, false),
            Ok(_) => cx.err(
                Class::Malformed,
                "not-regular-file",
                &p,
                "not a regular file",
            ),
        }
    }
    let unsigned = !sig_present && !sig_not_file;
    report_unfinished(cx, at, unsigned);
    let (signed, listed) = read_checksums(cx, at.dir, sig_present);
    let mut files = check_files(cx, at, entries, &listed, unsigned);
    check_listed_present(cx, at.dir, &names, &listed, &mut files.reports);
    if let Some(b) = files.redaction.take() {
        super::redaction::load(cx, at.dir, b);
    }
    let meta = super::tree::check_meta(cx, at, files.meta.take(), &names, unsigned);
    super::tree::check_declared(cx, at, &meta, &names, &files.reports, unsigned);
    let child_summaries = super::tree::check_children(cx, at, &meta, &names, &files, unsigned);
    if let Some(b) = files.summary.take() {
        let sum = super::summary::SummaryInput {
            bytes: &b,
            meta: &meta,
            child_summaries: &child_summaries,
            data_totals: &files.data_totals,
            parent_id: at.parent_id,
        };
        super::summary::check_summary(cx, at, &sum, unsigned);
    } else if !unsigned {
        let p = join(at.dir, at.kind.summary_file());
        cx.err(
            Class::Structure,
            "summary-missing",
            &p,
            "summary file missing",
        );
    }
    cx.containers.push(ContainerReport {
        path: at.dir.to_string(),
        kind: at.kind.name(),
        id: meta.id.clone(),
        signed,
        files: files.reports,
    });
    meta.id
}

fn report_unfinished(cx: &mut Ctx, at: &Place, unsigned: bool) {
    let sig_path = join(at.dir, format::SIG_FILE);
    if unsigned && at.kind != ContainerKind::Session && at.parent_signed_or_root {
        cx.err(
            Class::Structure,
            "unsigned-child",
            &sig_path,
            "this container is unfinished but its parent was finished and signed (impossible for a crash)",
        );
    } else if unsigned {
        cx.err(
            Class::Incomplete,
            "unfinished-container",
            &sig_path,
            "container not finished (no SHA256SUM.sig)",
        );
    }
}

/// Reads `SHA256SUM`, checks `SHA256SUM.sig` over it, and parses the listed digests.
fn read_checksums(
    cx: &mut Ctx,
    dir: &str,
    sig_present: bool,
) -> (bool, BTreeMap<String, [u8; 32]>) {
    let unsigned = !sig_present;
    let sum_path = join(dir, format::CHECKSUM_FILE);
    let mut listed = BTreeMap::new();
    let sum_bytes = match cx.read_small(&sum_path) {
        Err(e) if is_not_found(&e) => {
            let m = "SHA256SUM missing";
            cx.err_unless_unsigned(unsigned, "checksum-file-missing", &sum_path, m);
            return (false, listed);
        }
        Err(e) => {
            cx.core_err("unreadable", &sum_path, &e, unsigned);
            return (false, listed);
        }
        Ok(b) => b,
    };
    let signed = sig_present && check_signature(cx, dir, &sum_bytes);
    let parse_bytes = if unsigned {
        complete_lines(&sum_bytes)
    } else {
        &sum_bytes[..]
    };
    if unsigned && parse_bytes.len() < sum_bytes.len() {
        cx.err(
            Class::Incomplete,
            "torn-checksum-line",
            &sum_path,
            "last SHA256SUM line is incomplete",
        );
    }
    match bsr_core::format::checksum::parse(parse_bytes, &sum_path) {
        Ok(entries) => {
            for e in entries {
                if e.binary {
                    let m = format!("line {} uses the binary-mode separator", e.line);
                    cx.warn("binary-mode-line", &sum_path, m);
                }
                listed.insert(e.name, e.digest);
            }
        }
        Err(e) => cx.core_err("checksum-file-malformed", &sum_path, &e, unsigned),
    }
    (signed, listed)
}

/// Verifies `SHA256SUM.sig` over `sum_bytes` with the session keys.
fn check_signature(cx: &mut Ctx, dir: &str, sum_bytes: &[u8]) -> bool {
    let sig_path = join(dir, format::SIG_FILE);
    let sig = match cx.read_small(&sig_path) {
        Ok(s) => s,
        Err(e) => {
            cx.core_err("unreadable", &sig_path, &e, false);
            return false;
        }
    };
    let Some(keys) = &cx.keys else {
        cx.sig_ok = false;
        cx.err(
            Class::Authentication,
            "checksum-signature",
            &sig_path,
            "cannot verify: the session keys are unusable",
        );
        return false;
    };
    cx.sig_checked = true;
    match keys.verify_checksums(sum_bytes, &sig) {
        Ok(()) => true,
        Err(e) => {
            cx.sig_ok = false;
            cx.core_err_as(Class::Authentication, "checksum-signature", &sig_path, &e);
            false
        }
    }
}

/// Every entry of the folder: kind, contents (data files scanned, small files read once and
/// kept for the meta and summary checks), digest against `SHA256SUM` and the store.
fn check_files(
    cx: &mut Ctx,
    at: &Place,
    entries: &[DirEntry],
    listed: &BTreeMap<String, [u8; 32]>,
    unsigned: bool,
) -> Files {
    let mut out = Files::default();
    for e in entries {
        let name = e.name.as_str();
        let path = join(at.dir, name);
        if name == format::CHECKSUM_FILE || name == format::SIG_FILE {
            continue;
        }
        match e.kind {
            EntryKind::Symlink => {
                let m = "symbolic link inside a recording (not followed)";
                cx.err(Class::Structure, "symlink", &path, m);
                continue;
            }
            EntryKind::Other => {
                let m = "not a regular file or folder";
                cx.err(Class::Structure, "special-file", &path, m);
                continue;
            }
            EntryKind::Dir => {
                out.child_dirs.push(name.to_string());
                continue;
            }
            EntryKind::File => {}
        }
        let mut fr = FileReport {
            name: name.to_string(),
            size: Some(e.size),
            sha256: None,
            listed: listed.contains_key(name),
            status: FileStatus::Ok,
            chunks: None,
            data_bytes: None,
            store_checksum_ok: None,
        };
        let digest = if name.ends_with(".data") {
            let scan = scan_data(cx, &path, name, unsigned);
            fr.chunks = Some(scan.chunks);
            fr.data_bytes = Some(scan.data_bytes);
            if let Some(d) = data_dir(name).filter(|_| scan.complete) {
                out.data_totals.insert(d, scan.data_bytes);
            }
            scan.sha256
        } else {
            read_small_file(cx, at.kind, name, &path, &mut out)
        };
        match digest {
            None => fr.status = FileStatus::Unreadable,
            Some(d) => compare_digest(cx, &path, d, listed.get(name), unsigned, &mut fr),
        }
        out.reports.push(fr);
    }
    out
}

/// Reads a small file once, keeping the meta and summary bytes; returns its digest.
fn read_small_file(
    cx: &mut Ctx,
    kind: ContainerKind,
    name: &str,
    path: &str,
    out: &mut Files,
) -> Option<[u8; 32]> {
    match cx.read_small(path) {
        Ok(b) => {
            let d: [u8; 32] = Sha256::digest(&b).into();
            if name == kind.meta_file() {
                out.meta = Some(b);
            } else if name == kind.summary_file() {
                out.summary = Some(b);
            } else if kind == ContainerKind::Session && name == format::REDACTION_FILE {
                out.redaction = Some(b);
            }
            Some(d)
        }
        Err(err) => {
            cx.core_err_as(read_class(&err), "unreadable", path, &err);
            None
        }
    }
}

/// Compares a file's digest with its `SHA256SUM` entry and with the store's own checksum.
fn compare_digest(
    cx: &mut Ctx,
    path: &str,
    d: [u8; 32],
    want: Option<&[u8; 32]>,
    unsigned: bool,
    fr: &mut FileReport,
) {
    fr.sha256 = Some(hex::encode(d));
    match want {
        Some(want) if *want == d => {}
        Some(want) => {
            fr.status = FileStatus::Mismatch;
            let m = format!(
                "SHA-256 {} differs from the SHA256SUM entry {}",
                hex::encode(d),
                hex::encode(want)
            );
            cx.err(Class::Integrity, "checksum-mismatch", path, m);
        }
        None if fr.name == format::JOURNAL_FILE => {
            fr.status = FileStatus::Unlisted;
            let m = "local journal, not covered by SHA256SUM (Boundary never uploads it)";
            cx.warn("journal", path, m);
        }
        None if unsigned => fr.status = FileStatus::Pending,
        None => {
            fr.status = FileStatus::Unlisted;
            let m = "file present but not listed in SHA256SUM";
            cx.err(Class::Structure, "unlisted-file", path, m);
        }
    }
    if !cx.opts.store_checksums {
        return;
    }
    match cx.store.stored_sha256(path) {
        Ok(Some(s)) => {
            fr.store_checksum_ok = Some(s == d);
            if s != d {
                let m = format!(
                    "object store SHA-256 {} differs from the content's {}",
                    hex::encode(s),
                    hex::encode(d)
                );
                cx.err(Class::Integrity, "store-checksum-mismatch", path, m);
            }
        }
        Ok(None) => {}
        Err(err) => cx.core_err("unreadable", path, &err, false),
    }
}

/// Every file `SHA256SUM` lists is present and a regular file.
fn check_listed_present(
    cx: &mut Ctx,
    dir: &str,
    names: &BTreeMap<&str, &DirEntry>,
    listed: &BTreeMap<String, [u8; 32]>,
    files: &mut Vec<FileReport>,
) {
    for name in listed.keys() {
        let p = join(dir, name);
        match names.get(name.as_str()) {
            None => {
                let m = "listed in SHA256SUM but missing";
                cx.err(Class::Structure, "listed-file-missing", &p, m);
                files.push(FileReport {
                    name: name.clone(),
                    size: None,
                    sha256: None,
                    listed: true,
                    status: FileStatus::Missing,
                    chunks: None,
                    data_bytes: None,
                    store_checksum_ok: None,
                });
            }
            Some(e) if e.kind != EntryKind::File => {
                let m = "listed in SHA256SUM but not a regular file";
                cx.err(Class::Structure, "listed-not-a-file", &p, m);
            }
            Some(_) => {}
        }
    }
}
