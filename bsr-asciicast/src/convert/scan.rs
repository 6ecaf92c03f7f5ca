//! Reading a channel's request files, with their checksums.

use super::MAX_REQUESTS;
use crate::error::ConvertError;
use bsr_core::format::Timestamp;
use bsr_core::read::ChunkStream;
use bsr_core::read::structure::StreamKind;
use bsr_core::ssh::{Decoded, Request, decode_chunk_payload};
use bsr_core::store::ReadStore;

/// One request, with its chunk time and file.
pub(super) struct Req {
    pub time: Timestamp,
    pub req: Request,
    pub file: String,
}

/// The requests of one file, and the chunks that are not requests (time, file, what).
#[derive(Default)]
pub(super) struct Scan {
    pub reqs: Vec<Req>,
    pub unknown: Vec<(Timestamp, String, String)>,
}

/// Reads the requests of `path`, if given, checking its SHA-256 against `checksums`.
pub(super) fn scan_optional(
    store: &dyn ReadStore,
    path: Option<&str>,
    checksums: &super::select::Digests,
) -> Result<Scan, ConvertError> {
    match path {
        Some(p) => scan_requests(store, p, checksums),
        None => Ok(Scan::default()),
    }
}

fn scan_requests(
    store: &dyn ReadStore,
    path: &str,
    checksums: &super::select::Digests,
) -> Result<Scan, ConvertError> {
    let mut out = Scan::default();
    let mut s = super::select::open_stream(store, checksums, path, StreamKind::Requests)?;
    while let Some(c) = s.next_chunk()? {
        if out.reqs.len() >= MAX_REQUESTS {
            return Err(ConvertError::Malformed(format!(
                "{path}: more than {MAX_REQUESTS} requests"
            )));
        }
        match decode_chunk_payload(&c, false).map_err(|e| e.in_file(path))? {
            Decoded::Request(req) => out.reqs.push(Req {
                time: c.time,
                req,
                file: path.to_string(),
            }),
            Decoded::Unknown {
                protocol,
                chunk_type,
                ..
            } => out.unknown.push((
                c.time,
                path.to_string(),
                format!(
                    "{}/{}",
                    String::from_utf8_lossy(&protocol),
                    String::from_utf8_lossy(&chunk_type)
                ),
            )),
            Decoded::Data(_) => {
                out.unknown
                    .push((c.time, path.to_string(), "DATA in a requests file".into()))
            }
            _ => {}
        }
    }
    check_sum(s, path, checksums)?;
    Ok(out)
}

/// Ends a stream and compares its SHA-256 with the expected one, when there is one.
pub(crate) fn check_sum<R: std::io::Read>(
    s: ChunkStream<R>,
    path: &str,
    checksums: &super::select::Digests,
) -> Result<(), ConvertError> {
    let end = s.finish()?;
    if let Some(got) = end.sha256 {
        checksums.observe(path, got);
    }
    if let (Some(want), Some(got)) = (checksums.get(path), end.sha256)
        && *want != got
    {
        return Err(bsr_core::Error::Checksum {
            path: path.to_string(),
            expected: hex::encode(want),
            actual: hex::encode(got),
        }
        .into());
    }
    Ok(())
}
