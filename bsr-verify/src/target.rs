//! Turning a command-line target (a folder, a `*.bsr` folder, or `s3://bucket/prefix`) into a
//! store and the recording folders in it.
//!
//! The search has no depth limit: a recording however deep below the target is found. Loops
//! (a folder reached twice, e.g. through a bind mount) are refused by their (device, inode)
//! pair, as an error that names the folder. Symbolic links are never followed; a skipped link
//! that names a recording or points to a folder is listed in [`Target::skipped`], so that the
//! caller can say that it was not looked at.

use crate::s3::{S3Config, S3Location, S3Store};
use crate::shard::{Listing, Shard};
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

/// A target opened but not yet searched: [`Opened::walk`] hands over its recordings as the
/// search finds them, so that a run over a large archive starts before the listing ends.
#[derive(Debug)]
pub struct Opened {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// The store's folder on disk (for the loop guard); `None` for object stores.
    local_root: Option<PathBuf>,
    /// The one recording, when the target names a `*.bsr` folder itself.
    single: Option<String>,
}

/// Resolves `spec` and searches it: a local folder or `*.bsr` folder, or `s3://bucket/prefix`.
/// The recordings come back sorted; [`open`] and [`Opened::walk`] stream them instead.
pub fn resolve(spec: &str, s3: &S3Flags) -> anyhow::Result<Target> {
    let opened = open(spec, s3)?;
    let mut recordings = Vec::new();
    let skipped = opened.walk(&mut |r| {
        recordings.push(r);
        Ok(())
    })?;
    recordings.sort();
    Ok(Target {
        store: opened.store,
        recordings,
        skipped,
    })
}

/// Opens `spec` (a local folder or `*.bsr` folder, or `s3://bucket/prefix`) without listing it.
pub fn open(spec: &str, s3: &S3Flags) -> anyhow::Result<Opened> {
    if spec.starts_with("s3://") {
        return open_s3(spec, s3);
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
        return Ok(Opened {
            store: Arc::new(FsStore::new(parent)),
            local_root: None,
            single: Some(name),
        });
    }
    Ok(Opened {
        store: Arc::new(FsStore::new(path)),
        local_root: Some(path.to_path_buf()),
        single: None,
    })
}

fn open_s3(spec: &str, s3: &S3Flags) -> anyhow::Result<Opened> {
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
    Ok(Opened {
        store: Arc::new(S3Store::new(cfg, loc)?),
        local_root: None,
        single,
    })
}

impl Opened {
    /// A target over any store (an embedder's own, or a test's): the search starts at the
    /// store's root. `local_root` is the store's folder on disk, when it has one, for the loop
    /// guard.
    pub fn new(store: Arc<dyn ReadStore>, local_root: Option<PathBuf>) -> Self {
        Opened {
            store,
            local_root,
            single: None,
        }
    }
    /// Searches the target, calling `found` with each recording folder as soon as the search
    /// finds it (in the store's listing order, not sorted), and returns what it skipped. An
    /// error from `found` ends the search and is returned.
    pub fn walk(
        &self,
        found: &mut dyn FnMut(String) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Skipped>> {
        match &self.single {
            Some(name) => {
                found(name.clone())?;
                Ok(Vec::new())
            }
            None => walk_recordings(&*self.store, self.local_root.as_deref(), found),
        }
    }
    /// Runs `work` on this target's recordings with `jobs` threads while the search is still
    /// listing them, handing each result to `sink` on the calling thread. Every recording
    /// found goes into the returned [`Listing`]; only those of `shard` (all without one) are
    /// worked on. `listed` is told of each recording found (for a progress bar). At most
    /// [`QUEUE`] listed recordings wait for a worker, so memory stays bounded however large
    /// the archive. A search that fails part way returns its error after the recordings
    /// already listed have been worked on and handed to `sink`.
    pub fn run<T: Send>(
        &self,
        shard: Option<Shard>,
        jobs: usize,
        listed: &(dyn Fn(bool) + Sync),
        work: impl Fn(&str) -> T + Sync,
        sink: impl FnMut(T),
    ) -> anyhow::Result<(Listing, Vec<Skipped>)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE);
        std::thread::scope(|scope| {
            let walker = scope.spawn(move || {
                let mut listing = Listing::default();
                let walked = self.walk(&mut |p| {
                    listing.add(&p);
                    let mine = shard.is_none_or(|s| s.contains(&p));
                    listed(mine);
                    if mine {
                        tx.send(p)
                            .map_err(|_| anyhow::anyhow!("the workers stopped early"))?;
                    }
                    Ok(())
                });
                walked.map(|skipped| (listing, skipped))
            });
            crate::verify::map_iter(rx.into_iter(), jobs, work, sink);
            walker
                .join()
                .map_err(|_| anyhow::anyhow!("the search thread failed"))?
        })
    }
}

/// How many listed recordings may wait for a worker in [`Opened::run`].
pub const QUEUE: usize = 1024;

/// Every `*.bsr` folder below the root of `store`, sorted, at any depth. `local_root` is the
/// store's folder on disk (for the loop guard and to tell where skipped links point); `None`
/// for object stores, whose prefixes cannot loop.
pub fn find_recordings(
    store: &dyn ReadStore,
    local_root: Option<&Path>,
) -> anyhow::Result<(Vec<String>, Vec<Skipped>)> {
    let mut out = Vec::new();
    let skipped = walk_recordings(store, local_root, &mut |r| {
        out.push(r);
        Ok(())
    })?;
    out.sort();
    Ok((out, skipped))
}

/// The search behind [`find_recordings`] and [`Opened::walk`]: depth first, each folder listed
/// with [`ReadStore::list_each`] (one page of an object store at a time), each recording handed
/// to `found` as its folder's listing reaches it. Memory holds the folders still to search, not
/// the recordings.
fn walk_recordings(
    store: &dyn ReadStore,
    local_root: Option<&Path>,
    found: &mut dyn FnMut(String) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Skipped>> {
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
        // `found`'s own error is kept apart, so that it comes back as it was, not as a
        // listing error.
        let mut stopped: Option<anyhow::Error> = None;
        let listed = store.list_each(&d, &mut |e| {
            let p = join(&d, &e.name);
            match e.kind {
                EntryKind::Dir if e.name.ends_with(SESSION_DIR_SUFFIX) => {
                    if let Err(err) = found(p) {
                        stopped = Some(err);
                        return Err(bsr_core::Error::io(
                            store.describe(&d),
                            std::io::Error::other("search stopped"),
                        ));
                    }
                }
                EntryKind::Dir => subdirs.push(p),
                EntryKind::Symlink => {
                    if let Some(s) = skipped_link(store, local_root, &p, &e.name) {
                        skipped.push(s);
                    }
                }
                EntryKind::File | EntryKind::Other => {}
            }
            Ok(())
        });
        if let Some(err) = stopped {
            return Err(err);
        }
        listed?;
        subdirs.sort();
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(skipped)
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
