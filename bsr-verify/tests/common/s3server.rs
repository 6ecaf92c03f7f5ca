//! A real S3-compatible server (s3s-fs) started in-process on a loopback port for the tests.

use bsr_verify::s3::{S3Config, S3Location, S3Store};
use std::net::SocketAddr;

pub const ACCESS_KEY: &str = "bsrtestaccess";
pub const SECRET_KEY: &str = "bsrtestsecretkey0123456789";

pub struct TestS3 {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestS3 {
    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            session_token: None,
            path_style: true,
        }
    }

    pub fn store(&self, bucket: &str, prefix: &str) -> S3Store {
        S3Store::new(
            self.config(),
            S3Location {
                bucket: bucket.into(),
                prefix: prefix.into(),
            },
        )
        .unwrap()
    }

    /// Overwrites the stored bytes of an object behind the server's back, so that its stored
    /// `ChecksumSHA256` no longer matches (a corrupt object in the store).
    pub fn corrupt_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let p = self.root.path().join(bucket).join(key);
        assert!(p.exists(), "{} missing", p.display());
        std::fs::write(p, bytes).unwrap();
    }

    /// Environment for the `bsr-verify` binary.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn start() -> TestS3 {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    use s3s::auth::SimpleAuth;
    use s3s::service::S3ServiceBuilder;

    let root = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = b.build();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
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
    TestS3 {
        endpoint: format!("http://{addr}"),
        root,
        runtime: Some(rt),
    }
}
