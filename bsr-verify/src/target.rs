//! Turning a command-line target (a folder, a `*.bsr` folder, or `s3://bucket/prefix`) into a
//! store and the recording folders in it.
//!
//! The search has no depth limit: a recording however deep below the target is found. Loops
//! (a folder reached twice, e.g. through a bind mount) are refused by their (device, inode)
//! pair, as an error that names the folder. Symbolic links are never followed; a skipped link
//! that names a recording or points to a folder is listed in [`Target::skipped`], so that the
//! caller can say that it was not looked at.

use crate::s3::{S3Config, S3Location, S3Store};
use bsr_core::format::SESSION_DIR_SUFFIX;
use bsr_core::store::{EntryKind, FsStore, ReadStore, join};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A resolved target.
#[derive(Debug)]
pub struct Target {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// Recording folders in the store.
    pub recordings: Vec<String>,
    /// What the search did not look at (symbolic links to recordings or folders), with why.
    pub skipped: Vec<Skipped>,
}

/// Something the search saw but did not look into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where (as the store describes it).
    pub location: String,
    /// Why it was not looked at.
    pub reason: String,
}

/// S3 connection settings from the command line (the rest comes from the AWS environment).
#[derive(Debug, Clone, Default)]
pub struct S3Flags {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--region`.
    pub region: Option<String>,
}

/// Resolves a target that must hold exactly one recording (`--original`): its store and
/// folder. Skipped links count as something it holds.
pub fn resolve_one(spec: &str, s3: &S3Flags) -> anyhow::Result<(Arc<dyn ReadStore>, String)> {
    let t = resolve(spec, s3)?;
    match (t.recordings.as_slice(), t.skipped.is_empty()) {
        ([dir], true) => Ok((t.store.clone(), dir.clone())),
        (r, _) => anyhow::bail!(
            "{}: holds {} recording(s) and {} skipped link(s), not one recording",
            crate::report::escape_controls(spec),
            r.len(),
            t.skipped.len()
        ),
    }
}

/// Resolves `spec`: a local folder or `*.bsr` folder, or `s3://bucket/prefix`.
pub fn resolve(spec: &str, s3: &S3Flags) -> anyhow::Result<Target> {
    if spec.starts_with("s3://") {
        return resolve_s3(spec, s3);
    }
    let path = Path::new(spec);
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        anyhow::bail!(
            "{}: not a folder (symbolic links are not followed)",
            path.display()
        );
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(SESSION_DIR_SUFFIX) {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(parent));
        return Ok(Target {
            store,
            recordings: vec![name],
            skipped: Vec::new(),
        });
    }
    let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(path));
    let (recordings, skipped) = find_recordings(&*store, Some(path))?;
    Ok(Target {
        store,
        recordings,
        skipped,
    })
}

fn resolve_s3(spec: &str, s3: &S3Flags) -> anyhow::Result<Target> {
    let mut loc = S3Location::parse(spec)?;
    let cfg = S3Config::from_env_and_flags(s3.endpoint.clone(), s3.region.clone())?;
    let mut single = None;
    if loc.prefix.ends_with(SESSION_DIR_SUFFIX) {
        let (parent, name) = match loc.prefix.rsplit_once('/') {
            Some((p, n)) => (p.to_string(), n.to_string()),
            None => (String::new(), loc.prefix.clone()),
        };
        loc.prefix = parent;
        single = Some(name);
    }
    let store: Arc<dyn ReadStore> = Arc::new(S3Store::new(cfg, loc)?);
    let (recordings, skipped) = match single {
        Some(n) => (vec![n], Vec::new()),
        None => find_recordings(&*store, None)?,
    };
    Ok(Target {
        store,
        recordings,
        skipped,
    })
}

/// Every `*.bsr` folder below the root of `store`, sorted, at any depth. `local_root` is the
/// store's folder on disk (for the loop guard and to tell where skipped links point); `None`
/// for object stores, whose prefixes cannot loop.
pub fn find_recordings(
    store: &dyn ReadStore,
    local_root: Option<&Path>,
) -> anyhow::Result<(Vec<String>, Vec<Skipped>)> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut visited: HashSet<(u64, u64)> = HashSet::new();
    let mut stack = vec![String::new()];
    while let Some(d) = stack.pop() {
        if let Some(root) = local_root
            && let Some(id) = dev_ino(&root.join(&d))?
            && !visited.insert(id)
        {
            anyhow::bail!(
                "{}: folder loop: this folder was already searched (a bind mount?); not searching it again",
                store.describe(&d)
            );
        }
        let mut subdirs = Vec::new();
        for e in store.list(&d)? {
            let p = join(&d, &e.name);
            match e.kind {
                EntryKind::Dir if e.name.ends_with(SESSION_DIR_SUFFIX) => out.push(p),
                EntryKind::Dir => subdirs.push(p),
                EntryKind::Symlink => {
                    if let Some(s) = skipped_link(store, local_root, &p, &e.name) {
                        skipped.push(s);
                    }
                }
                EntryKind::File | EntryKind::Other => {}
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort();
    Ok((out, skipped))
}

/// A symbolic link the search does not follow, when it names a recording or points to a folder.
fn skipped_link(
    store: &dyn ReadStore,
    local_root: Option<&Path>,
    p: &str,
    name: &str,
) -> Option<Skipped> {
    let to_dir = local_root
        .map(|r| r.join(p))
        .is_some_and(|full: PathBuf| std::fs::metadata(full).is_ok_and(|m| m.is_dir()));
    let reason = if name.ends_with(SESSION_DIR_SUFFIX) {
        "symbolic link to a recording folder: not followed, not verified"
    } else if to_dir {
        "symbolic link to a folder: not followed, recordings below it not searched"
    } else {
        return None;
    };
    Some(Skipped {
        location: store.describe(p),
        reason: reason.to_string(),
    })
}

#[cfg(unix)]
fn dev_ino(p: &Path) -> anyhow::Result<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(Some((m.dev(), m.ino())))
}

#[cfg(not(unix))]
fn dev_ino(_p: &Path) -> anyhow::Result<Option<(u64, u64)>> {
    Ok(None)
}
