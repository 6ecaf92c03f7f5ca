//! Turning a command-line target (a folder, a `*.bsr` folder, or `s3://bucket/prefix`) into a
//! store and the recording folders in it.

use crate::s3::{S3Config, S3Location, S3Store};
use bsr_core::read::Recording;
use bsr_core::store::{FsStore, ReadStore};
use std::sync::Arc;

/// How deep below a target folder recordings are searched for.
pub const MAX_SEARCH_DEPTH: usize = 16;

/// A resolved target.
#[derive(Debug)]
pub struct Target {
    /// The store.
    pub store: Arc<dyn ReadStore>,
    /// Recording folders in the store.
    pub recordings: Vec<String>,
}

/// S3 connection settings from the command line (the rest comes from the AWS environment).
#[derive(Debug, Clone, Default)]
pub struct S3Flags {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--region`.
    pub region: Option<String>,
}

/// Resolves `spec`: a local folder or `*.bsr` folder, or `s3://bucket/prefix`.
pub fn resolve(spec: &str, s3: &S3Flags) -> anyhow::Result<Target> {
    if spec.starts_with("s3://") {
        let mut loc = S3Location::parse(spec)?;
        let cfg = S3Config::from_env_and_flags(s3.endpoint.clone(), s3.region.clone())?;
        let mut single = None;
        if loc.prefix.ends_with(bsr_core::format::SESSION_DIR_SUFFIX) {
            let (parent, name) = match loc.prefix.rsplit_once('/') {
                Some((p, n)) => (p.to_string(), n.to_string()),
                None => (String::new(), loc.prefix.clone()),
            };
            loc.prefix = parent;
            single = Some(name);
        }
        let store: Arc<dyn ReadStore> = Arc::new(S3Store::new(cfg, loc)?);
        let recordings = match single {
            Some(n) => vec![n],
            None => Recording::find_all(&*store, "", MAX_SEARCH_DEPTH)?,
        };
        return Ok(Target { store, recordings });
    }
    let path = std::path::Path::new(spec);
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
    if name.ends_with(bsr_core::format::SESSION_DIR_SUFFIX) {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(parent));
        return Ok(Target {
            store,
            recordings: vec![name],
        });
    }
    let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(path));
    let recordings = Recording::find_all(&*store, "", MAX_SEARCH_DEPTH)?;
    Ok(Target { store, recordings })
}
