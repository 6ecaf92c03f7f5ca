//! A redacted copy on its own: its `REDACTION.json` parses, every range it lists lies inside
//! a DATA chunk of the file it names, carries that chunk's time and holds only filler bytes,
//! and the copy keeps the original's session id. (With the original at hand,
//! [`super::original`] proves the rest.)

use super::ctx::Ctx;
use crate::report::{Class, Problem, RedactionReport, Severity};
use bsr_core::format::redaction::{Redaction, RedactionManifest};
use bsr_core::read::chunk::Chunk;
use bsr_core::store::join;
use std::collections::{BTreeMap, BTreeSet};

/// The manifest of the recording being verified, and which of its files were scanned.
#[derive(Debug)]
pub(super) struct State {
    pub manifest: RedactionManifest,
    /// The session folder.
    dir: String,
    /// Index in `manifest.files` by store path.
    by_path: BTreeMap<String, usize>,
    scanned: BTreeSet<usize>,
}

/// Parses the session container's `REDACTION.json` (read once by the file loop).
pub(super) fn load(cx: &mut Ctx, dir: &str, bytes: Vec<u8>) {
    let path = join(dir, bsr_core::format::REDACTION_FILE);
    match RedactionManifest::parse(&bytes, &path) {
        Ok(manifest) => {
            let by_path = manifest
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (join(dir, &f.path), i))
                .collect();
            cx.redaction = Some(State {
                manifest,
                dir: dir.to_string(),
                by_path,
                scanned: BTreeSet::new(),
            });
        }
        Err(e) => cx.core_err_as(Class::Malformed, "redaction-manifest", &path, &e),
    }
}

/// The ranges listed for the data file `path`, if any, with the filler; marks it scanned.
pub(super) fn ranges_for(cx: &mut Ctx, path: &str) -> Option<RangeCheck> {
    let st = cx.redaction.as_mut()?;
    let i = *st.by_path.get(path)?;
    st.scanned.insert(i);
    let f = st.manifest.files.get(i)?;
    Some(RangeCheck {
        ranges: f.redactions.clone(),
        filler: st.manifest.filler,
        next: 0,
    })
}

/// Checks the listed ranges of one file against its DATA chunks, as they are scanned.
#[derive(Debug)]
pub(super) struct RangeCheck {
    ranges: Vec<Redaction>,
    filler: u8,
    next: usize,
}

fn problem(path: &str, at: Option<(u64, u64)>, message: String) -> Problem {
    Problem {
        severity: Severity::Error,
        class: Class::Structure,
        code: "redaction-range",
        path: path.to_string(),
        offset: at.map(|a| a.0),
        chunk: at.map(|a| a.1),
        message,
    }
}

impl RangeCheck {
    /// The ranges of DATA chunk `chunk`, whose data is `data`.
    pub fn data(&mut self, path: &str, chunk: &Chunk<'_>, data: &[u8], out: &mut Vec<Problem>) {
        let at = Some((chunk.offset, chunk.index));
        self.skip_before(path, chunk.index, out);
        let mut bad = 0u64;
        while let Some(r) = self
            .ranges
            .get(self.next)
            .filter(|r| r.chunk == chunk.index)
        {
            self.next += 1;
            let bytes = usize::try_from(r.offset)
                .ok()
                .zip(usize::try_from(r.end()).ok())
                .and_then(|(a, b)| data.get(a..b));
            let Some(bytes) = bytes else {
                let m = format!(
                    "REDACTION.json lists bytes {}..{} of a chunk of {} data bytes",
                    r.offset,
                    r.end(),
                    data.len()
                );
                out.push(problem(path, at, m));
                continue;
            };
            if r.time != chunk.time.to_rfc3339() {
                let m = format!(
                    "REDACTION.json gives time {} for a chunk of time {}",
                    r.time,
                    chunk.time.to_rfc3339()
                );
                out.push(problem(path, at, m));
            }
            bad += bytes.iter().filter(|b| **b != self.filler).count() as u64;
        }
        if bad > 0 {
            let m = format!("{bad} byte(s) inside the listed redactions are not the filler");
            out.push(problem(path, at, m));
        }
    }

    /// Ranges listed for chunks before `index` that were not DATA chunks.
    fn skip_before(&mut self, path: &str, index: u64, out: &mut Vec<Problem>) {
        while let Some(r) = self.ranges.get(self.next).filter(|r| r.chunk < index) {
            self.next += 1;
            let m = format!(
                "REDACTION.json lists chunk {}, which is not a DATA chunk",
                r.chunk
            );
            out.push(problem(path, None, m));
        }
    }

    /// Ranges listed for chunks the file does not have.
    pub fn end(mut self, path: &str, out: &mut Vec<Problem>) {
        self.skip_before(path, u64::MAX, out);
    }
}

/// After the whole tree: every file the manifest lists was there, and the copy kept the
/// original's session id. Returns the report's redaction section.
pub(super) fn finish(cx: &mut Ctx) -> Option<RedactionReport> {
    let st = cx.redaction.take()?;
    for (i, f) in st.manifest.files.iter().enumerate() {
        if !st.scanned.contains(&i) {
            let m = "REDACTION.json lists redactions in a file the recording does not have";
            cx.err(
                Class::Structure,
                "redaction-range",
                &join(&st.dir, &f.path),
                m,
            );
        }
    }
    let manifest_path = join(&st.dir, bsr_core::format::REDACTION_FILE);
    if let Some(sid) = cx.session_id.clone()
        && sid != st.manifest.original.session_id
    {
        let m = format!(
            "the copy's session id {sid:?} is not the original's {:?}",
            st.manifest.original.session_id
        );
        cx.err(Class::Structure, "redaction-session", &manifest_path, m);
    }
    Some(RedactionReport::of(&st.manifest))
}
