//! The listing-at-scale benchmark's tools (`benches/scale.sh`): an archive of many small
//! recordings written quickly, the verifier's own search timed alone, and a real S3-compatible
//! server (s3s-fs, the one the tests use) over a folder, in its own process.

use anyhow::{Context, bail};
use bsr_core::store::{FsStore, StoreFile, WriteStore};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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
        // s3-serve ROOT: serves ROOT's folders as buckets on a loopback port; prints the
        // endpoint, then serves until stdin is closed
        "s3-serve" => s3_serve(Path::new(&arg(2))),
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

fn s3_serve(root: &Path) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    use s3s::auth::SimpleAuth;
    use s3s::service::S3ServiceBuilder;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
    let mut b = S3ServiceBuilder::new(fs);
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
