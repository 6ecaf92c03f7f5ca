//! The listing-at-scale benchmark's tools (`benches/scale.sh`): an archive of many small
//! recordings written quickly, the verifier's own search timed alone, and a real S3-compatible
//! server over a folder, in its own process: s3s-fs (the one the tests use) with its own
//! `ListObjectsV2` replaced by one that reads only what a page needs ([`SortedList`]).

use anyhow::{Context, bail};
use bsr_core::store::{FsStore, StoreFile, WriteStore};
use s3s::dto::{CommonPrefix, ListObjectsV2Input, ListObjectsV2Output, Object, Timestamp};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A local folder whose `sync` does nothing: the archive is benchmark input, written once and
/// read back from the page cache, so making it durable only costs time.
#[derive(Debug)]
pub(crate) struct NoSync(pub(crate) FsStore);
struct NoSyncFile(Box<dyn StoreFile>);

impl std::io::Write for NoSyncFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
impl StoreFile for NoSyncFile {
    fn sync(&mut self) -> bsr_core::Result<()> {
        std::io::Write::flush(&mut self.0).map_err(|e| bsr_core::Error::io("flush", e))
    }
}
impl WriteStore for NoSync {
    fn create_dir(&self, dir: &str) -> bsr_core::Result<()> {
        self.0.create_dir(dir)
    }
    fn create(&self, path: &str) -> bsr_core::Result<Box<dyn StoreFile>> {
        Ok(Box::new(NoSyncFile(self.0.create(path)?)))
    }
    fn sync_dir(&self, _: &str) -> bsr_core::Result<()> {
        Ok(())
    }
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        // gen-archive DIR N: N recordings of one 4 KiB chunk each, flat in DIR, two threads
        "gen-archive" => gen_archive(Path::new(&arg(2)), arg(3).parse()?),
        // list TARGET: the verifier's search alone; prints "count seconds"
        "list" => {
            let start = Instant::now();
            let opened = bsr_verify::target::open(&arg(2), &Default::default())?;
            let mut n = 0u64;
            let skipped = opened.walk(&mut |_| {
                n += 1;
                Ok(())
            })?;
            if !skipped.is_empty() {
                bail!("the search skipped {} entries", skipped.len());
            }
            println!("{n} {:.6}", start.elapsed().as_secs_f64());
            Ok(())
        }
        // s3-serve ROOT [s3s-fs]: serves ROOT's folders as buckets on a loopback port; prints
        // the endpoint, then serves until stdin is closed. With `s3s-fs`, s3s-fs's own
        // listing (quadratic) instead of SortedList's, to compare the two.
        "s3-serve" => s3_serve(Path::new(&arg(2)), arg(3) == "s3s-fs"),
        other => bail!("not a scale subcommand: {other:?}"),
    }
}

fn gen_archive(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let store: Arc<dyn WriteStore> = Arc::new(NoSync(FsStore::new(dir)));
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        super::write_recording_to(store.clone(), &format!("a{i:07}"), 4096, 4096)?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a writer thread failed"))??;
        }
        anyhow::Ok(())
    })?;
    eprintln!(
        "wrote {n} recordings in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn s3_serve(root: &Path, plain: bool) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    use s3s::auth::SimpleAuth;
    use s3s::service::S3ServiceBuilder;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut b = if plain {
        S3ServiceBuilder::new(
            s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?,
        )
    } else {
        S3ServiceBuilder::new(SortedList::new(root)?)
    };
    b.set_auth(SimpleAuth::from_single(
        "bsrbench",
        "bsrbenchsecret0123456789",
    ));
    let service = b.build();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    println!("http://{}", listener.local_addr()?);
    rt.spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            // s3s-fs writes a response's head and body separately: with Nagle's algorithm
            // the body waits for the client's delayed ACK of the head, about 40 ms per
            // object on loopback, which is what the verification through S3 then measured.
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    // Serve until whoever started us closes our stdin.
    std::io::copy(&mut std::io::stdin(), &mut std::io::sink())?;
    rt.shutdown_background();
    Ok(())
}

/// s3s-fs with a linear `ListObjectsV2`. s3s-fs answers each page by walking the whole bucket
/// folder (every file of every recording) and sorting it, so listing N recordings costs N²
/// and each recording's own listing costs N. This type forwards every other operation to
/// s3s-fs and answers `ListObjectsV2` itself with the same results: it starts in the folder
/// the prefix names, walks it in key order from the continuation token (or start-after) on,
/// reports a folder below the prefix as its common prefix once it has found one file in it
/// (instead of walking all of it), and stops one entry after max-keys (to know whether the
/// page is truncated). A big folder's sorted names are kept while its modification time
/// says it has not changed. `tests::lists_as_s3s_fs_does` checks the answers against
/// s3s-fs's own, page by page.
pub(crate) struct SortedList {
    fs: s3s_fs::FileSystem,
    tree: Arc<Tree>,
}

/// The folder s3s-fs serves, and the big folders' sorted names.
struct Tree {
    root: PathBuf,
    dirs: Mutex<HashMap<PathBuf, SortedDir>>,
}

/// One folder's entries in key order: a file's name, or a folder's name and `/` (all of the
/// folder's keys sort there, since no file name contains `/`).
struct SortedDir {
    mtime: SystemTime,
    names: Arc<Vec<String>>,
}

/// Folders with fewer entries are read again each time.
const CACHE_FROM: usize = 1024;
/// Folders whose sorted names are kept at most.
const CACHE_DIRS: usize = 16;
/// A folder's names are kept only if it was last changed at least this long before it was
/// read, so a change in the same tick of the file system's clock cannot go unseen.
const SETTLED: Duration = Duration::from_secs(2);

/// Forwards operations to s3s-fs; the methods are written as `async_trait` expands them.
macro_rules! forward {
    ($($op:ident: $input:ident => $output:ident;)*) => {$(
        fn $op<'life0, 'async_trait>(
            &'life0 self,
            req: S3Request<s3s::dto::$input>,
        ) -> Pin<Box<dyn Future<Output = S3Result<S3Response<s3s::dto::$output>>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.fs.$op(req)
        }
    )*};
}

impl s3s::S3 for SortedList {
    // What bsr's S3 client sends (bsr-core/src/store/s3), then the rest of what s3s-fs serves.
    forward! {
        head_object: HeadObjectInput => HeadObjectOutput;
        get_object: GetObjectInput => GetObjectOutput;
        put_object: PutObjectInput => PutObjectOutput;
        create_bucket: CreateBucketInput => CreateBucketOutput;
        delete_object: DeleteObjectInput => DeleteObjectOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        list_buckets: ListBucketsInput => ListBucketsOutput;
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
        delete_bucket: DeleteBucketInput => DeleteBucketOutput;
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
        copy_object: CopyObjectInput => CopyObjectOutput;
        list_objects: ListObjectsInput => ListObjectsOutput;
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
        upload_part: UploadPartInput => UploadPartOutput;
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
        list_parts: ListPartsInput => ListPartsOutput;
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    }

    fn list_objects_v2<'life0, 'async_trait>(
        &'life0 self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Pin<
        Box<dyn Future<Output = S3Result<S3Response<ListObjectsV2Output>>> + Send + 'async_trait>,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.list_v2(req.input))
    }
}

/// One entry of a listing page.
enum Item {
    Object(Box<Object>),
    Prefix(String),
}

impl Item {
    fn key(&self) -> &str {
        match self {
            Item::Object(o) => o.key.as_deref().unwrap_or(""),
            Item::Prefix(p) => p,
        }
    }
}

/// One page's walk: files are keys below `prefix`, grouped by `delimiter` into common
/// prefixes, after `marker`, `want` entries at most.
struct Walk<'a> {
    tree: &'a Tree,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    marker: Option<&'a str>,
    want: usize,
    items: Vec<Item>,
}

impl SortedList {
    pub(crate) fn new(root: &Path) -> anyhow::Result<SortedList> {
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
        // The root as s3s-fs resolves it.
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        Ok(SortedList {
            fs,
            tree: Arc::new(Tree {
                root,
                dirs: Mutex::default(),
            }),
        })
    }

    /// `ListObjectsV2` with s3s-fs's answers: the same checks, defaults and output fields.
    async fn list_v2(
        &self,
        input: ListObjectsV2Input,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let b = input.bucket.as_str();
        if b.is_empty() || b == "." || b == ".." || b.contains(['/', '\\']) {
            return Err(s3_error!(NoSuchBucket));
        }
        let bucket = self.tree.root.join(b);
        if !bucket.exists() {
            return Err(s3_error!(NoSuchBucket));
        }
        let max_keys = input.max_keys.unwrap_or(1000);
        let max = usize::try_from(max_keys).unwrap_or(1000);
        let marker = match (input.continuation_token.clone(), input.start_after.clone()) {
            (Some(ct), Some(sa)) => Some(ct.max(sa)),
            (ct, sa) => ct.or(sa),
        };
        let prefix = input
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        // An empty delimiter groups nothing (S3 ignores it; s3s-fs would fail).
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let tree = self.tree.clone();
        let mut items = tokio::task::spawn_blocking(move || {
            let mut walk = Walk {
                tree: &tree,
                prefix: &prefix,
                delimiter: delimiter.as_deref(),
                marker: marker.as_deref(),
                // One more than asked, to know whether the page is truncated.
                want: if max == 0 { 0 } else { max.saturating_add(1) },
                items: Vec::new(),
            };
            walk.start(&bucket).map(|()| walk.items)
        })
        .await
        .map_err(|e| s3_error!(InternalError, "listing: {e}"))?
        .map_err(|e| s3_error!(InternalError, "listing: {e}"))?;
        let is_truncated = items.len() > max;
        items.truncate(max);
        let next_continuation_token = if is_truncated {
            items.last().map(|i| i.key().to_string())
        } else {
            None
        };
        let key_count = i32::try_from(items.len()).map_err(|_| s3_error!(InternalError))?;
        let (mut contents, mut common_prefixes) = (Vec::new(), Vec::new());
        for item in items {
            match item {
                Item::Object(o) => contents.push(*o),
                Item::Prefix(p) => common_prefixes.push(CommonPrefix { prefix: Some(p) }),
            }
        }
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(key_count),
            max_keys: Some(max_keys),
            is_truncated: Some(is_truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            continuation_token: input.continuation_token,
            next_continuation_token,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
    }
}

impl Tree {
    /// `dir`'s entries (UTF-8 names only, as s3s-fs lists), a folder's with `/` appended, in
    /// key order.
    fn sorted(&self, dir: &Path) -> std::io::Result<Arc<Vec<String>>> {
        let read_at = SystemTime::now();
        let mtime = std::fs::metadata(dir)?.modified()?;
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = dirs.get(dir).filter(|d| d.mtime == mtime) {
            return Ok(d.names.clone());
        }
        drop(dirs);
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let Ok(mut name) = e.file_name().into_string() else {
                continue;
            };
            if e.file_type()?.is_dir() {
                name.push('/');
            }
            names.push(name);
        }
        names.sort_unstable();
        let names = Arc::new(names);
        if names.len() >= CACHE_FROM && mtime + SETTLED <= read_at {
            dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
            if dirs.len() >= CACHE_DIRS {
                dirs.clear();
            }
            dirs.insert(
                dir.to_path_buf(),
                SortedDir {
                    mtime,
                    names: names.clone(),
                },
            );
        }
        Ok(names)
    }
}

/// Whether the folder holds a file at any depth (s3s-fs lists files only: a folder without
/// one is no common prefix). Names that are not UTF-8 hide what is below them, as in s3s-fs.
fn holds_file(dir: &Path) -> std::io::Result<bool> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_name().to_str().is_none() {
            continue;
        }
        if !e.file_type()?.is_dir() || holds_file(&e.path())? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Walk<'_> {
    fn full(&self) -> bool {
        self.items.len() >= self.want
    }

    fn after_marker(&self, key: &str) -> bool {
        self.marker.is_none_or(|m| key > m)
    }

    /// Walks from the folder the prefix names: its part up to the last `/` is a path of
    /// folders (real ones: s3s-fs does not follow links below the bucket), since every key
    /// is made of the names on its path.
    fn start(&mut self, bucket: &Path) -> std::io::Result<()> {
        if self.want == 0 {
            return Ok(());
        }
        let split = self.prefix.rfind('/').map_or(0, |i| i + 1);
        let mut dir = bucket.to_path_buf();
        for name in self.prefix[..split].split_terminator('/') {
            if name.is_empty() || name == "." || name == ".." {
                return Ok(());
            }
            dir.push(name);
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                _ => return Ok(()),
            }
        }
        let prefix = self.prefix;
        self.walk(&dir, &prefix[..split], &prefix[split..])
    }

    /// Walks `dir`, whose keys start with `at`, in key order; only its entries whose name
    /// starts with `part` (the rest of the prefix, within this folder's names).
    fn walk(&mut self, dir: &Path, at: &str, part: &str) -> std::io::Result<()> {
        let names = self.tree.sorted(dir)?;
        // Skip the entries all of whose keys are at or before the marker: a file's key is
        // at `at`+name, a folder's keys start with `at`+name+`/` (a key is never a prefix of
        // another entry's keys, so the entries' key ranges follow one another in order).
        let mut from = names.partition_point(|n| n.as_str() < part);
        if let Some(m) = self.marker {
            from = from.max(names.partition_point(|n| {
                let key = format!("{at}{n}");
                key.as_str() <= m && !(n.ends_with('/') && m.starts_with(&key))
            }));
        }
        for name in &names[from..] {
            if !name.starts_with(part) || self.full() {
                break;
            }
            let key = format!("{at}{name}");
            let path = dir.join(name.trim_end_matches('/'));
            let group = self.group(&key);
            if let Some(common) = group {
                // The common prefix of this file, or of every key in this folder.
                let last = match self.items.last() {
                    Some(Item::Prefix(p)) => p == &common,
                    _ => false,
                };
                if last || !self.after_marker(&common) {
                    continue;
                }
                if !name.ends_with('/') || holds_file(&path)? {
                    self.items.push(Item::Prefix(common));
                }
            } else if name.ends_with('/') {
                self.walk(&path, &key, "")?;
            } else if self.after_marker(&key) {
                let meta = std::fs::symlink_metadata(&path)?;
                self.items.push(Item::Object(Box::new(Object {
                    key: Some(key),
                    last_modified: Some(Timestamp::from(meta.modified()?)),
                    size: Some(i64::try_from(meta.len()).map_err(std::io::Error::other)?),
                    ..Default::default()
                })));
            }
        }
        Ok(())
    }

    /// The common prefix `key` falls in: the prefix, then what follows up to and including
    /// the first delimiter. For a folder (`key` ends in `/`) only when the delimiter lies
    /// within its own path, so every key below it shares it.
    fn group(&self, key: &str) -> Option<String> {
        let d = self.delimiter?;
        let rest = key.strip_prefix(self.prefix)?;
        let end = rest.find(d)? + d.len();
        Some(format!("{}{}", self.prefix, &rest[..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3;

    fn request(input: ListObjectsV2Input) -> S3Request<ListObjectsV2Input> {
        S3Request {
            input,
            method: Default::default(),
            uri: Default::default(),
            headers: Default::default(),
            extensions: Default::default(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    /// Every page of one listing, through s3s-fs and through [`SortedList`]: the same.
    async fn same_pages(
        ours: &SortedList,
        bucket: &str,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        start_after: Option<&str>,
        max_keys: Option<i32>,
    ) -> usize {
        let mut token: Option<String> = None;
        let mut listed = 0;
        for _ in 0..10_000 {
            let input = ListObjectsV2Input {
                bucket: bucket.to_string(),
                prefix: prefix.map(str::to_string),
                delimiter: delimiter.map(str::to_string),
                start_after: start_after.map(str::to_string),
                max_keys,
                continuation_token: token.clone(),
                ..Default::default()
            };
            let theirs = ours.fs.list_objects_v2(request(input.clone())).await;
            let mine = ours.list_objects_v2(request(input.clone())).await;
            let (theirs, mine) = (theirs.unwrap().output, mine.unwrap().output);
            assert_eq!(theirs, mine, "{input:?}");
            listed += mine.key_count.unwrap_or(0) as usize;
            match mine.next_continuation_token {
                Some(t) => token = Some(t),
                None => return listed,
            }
        }
        panic!("no end to the listing");
    }

    #[test]
    fn lists_as_s3s_fs_does() {
        let root = std::env::temp_dir().join(format!("bsr-scale-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let b = root.join("bkt");
        let files = [
            "a.b",
            "a/b",
            "a/c/d",
            "a/c/e",
            "a-x",
            "a0",
            "a=",
            "ab/c",
            "b",
            "c-1/x",
            "c-2",
            "sr_1.bsr/SHA256SUM",
            "sr_1.bsr/c/x",
            "sr_1.bsr/c/y",
            "sr_10.bsr/z",
            "z/\u{fc}",
            "z/\u{fc}/x",
            "q/r/s/t",
        ];
        for f in files {
            let p = b.join(f);
            // "z/ü" is a file, so "z/ü/x" cannot be made.
            if std::fs::create_dir_all(p.parent().unwrap()).is_ok() {
                let _ = std::fs::write(&p, f.as_bytes());
            }
        }
        std::fs::create_dir_all(b.join("a/empty")).unwrap();
        std::fs::create_dir_all(b.join("a/emptier/deeper")).unwrap();
        std::fs::create_dir_all(b.join("e/f")).unwrap();
        std::fs::create_dir_all(root.join("big")).unwrap();
        for i in 0..1500 {
            let dir = root.join(format!("big/sr_{i:05}.bsr"));
            std::fs::create_dir_all(dir.join("c")).unwrap();
            std::fs::write(dir.join("SHA256SUM"), b"x").unwrap();
            std::fs::write(dir.join("c/y"), b"yy").unwrap();
        }
        std::fs::write(root.join("big/sr_00007.bsr0"), b"file").unwrap();
        // Old enough for its sorted names to be kept.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::open(root.join("big"))
            .unwrap()
            .set_modified(old)
            .unwrap();

        let ours = SortedList::new(&root).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let prefixes = [
                None,
                Some(""),
                Some("a"),
                Some("a/"),
                Some("a/c"),
                Some("a/c/"),
                Some("a."),
                Some("/a/"),
                Some("sr_1"),
                Some("sr_1.bsr/"),
                Some("sr_1.bsr/c/x"),
                Some("a/empty/"),
                Some("e/"),
                Some("z/\u{fc}"),
                Some("nothing/"),
                Some("a//"),
                Some("q/r/"),
            ];
            for prefix in prefixes {
                for delimiter in [None, Some("/"), Some("-"), Some("."), Some("c")] {
                    for start_after in [None, Some("a"), Some("a/"), Some("a/c/"), Some("b")] {
                        for max_keys in [None, Some(0), Some(1), Some(2), Some(3), Some(-1)] {
                            same_pages(&ours, "bkt", prefix, delimiter, start_after, max_keys)
                                .await;
                        }
                    }
                }
            }
            // A big folder: sorted once and kept, then changed.
            for round in 0..2 {
                for (prefix, delimiter, max_keys, n) in [
                    (None, Some("/"), Some(1000), [1501, 1502]),
                    (Some("sr_001"), Some("/"), Some(7), [100, 100]),
                    (Some("sr_00007.bsr"), Some("/"), Some(1), [2, 2]),
                    (Some("sr_00007.bsr/"), Some("/"), None, [2, 2]),
                    (None, None, Some(999), [3001, 3002]),
                ] {
                    let listed = same_pages(&ours, "big", prefix, delimiter, None, max_keys).await;
                    assert_eq!(listed, n[round], "{prefix:?} {delimiter:?}");
                }
                assert_eq!(ours.tree.dirs.lock().unwrap().len(), 1);
                std::fs::write(root.join("big/sr_00009.bsr0"), b"new").unwrap();
            }
            let missing = ours
                .list_objects_v2(request(ListObjectsV2Input {
                    bucket: "nope".into(),
                    ..Default::default()
                }))
                .await;
            assert!(missing.is_err());
        });
        std::fs::remove_dir_all(&root).unwrap();
    }
}
