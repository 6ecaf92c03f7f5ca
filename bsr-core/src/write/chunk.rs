//! Encoding chunks: [`encode_raw`] and the [`ChunkEncoder`] that compresses per chunk.

use crate::error::{Error, Location, Result};
use crate::format::{
    self, CHUNK_DONE, CHUNK_HEAD, CHUNK_OVERHEAD, Compression, Direction, MAX_CHUNK_DATA_LENGTH,
    MAX_NANOS, Timestamp,
};

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// Appends one chunk with `stored` as its data (no compression applied).
#[inline]
pub fn encode_raw(
    out: &mut Vec<u8>,
    protocol: [u8; 4],
    chunk_type: [u8; 4],
    dir: Direction,
    time: Timestamp,
    stored: &[u8],
) -> Result<()> {
    if stored.len() > MAX_CHUNK_DATA_LENGTH as usize {
        return Err(Error::TooLarge {
            loc: Location::default(),
            what: "chunk data to write",
            size: stored.len() as u64,
            limit: MAX_CHUNK_DATA_LENGTH as u64,
        });
    }
    if time.nanos > MAX_NANOS {
        return Err(Error::Usage(format!(
            "timestamp nanoseconds {} > 999999999",
            time.nanos
        )));
    }
    out.reserve(CHUNK_OVERHEAD + stored.len());
    let start = out.len();
    out.extend_from_slice(&(stored.len() as u32).to_be_bytes());
    let mut hdr = [0u8; format::CRC_DATA_SIZE];
    hdr[0..4].copy_from_slice(&protocol);
    hdr[4..8].copy_from_slice(&chunk_type);
    hdr[8] = dir.to_byte();
    hdr[9..17].copy_from_slice(&time.secs.to_be_bytes());
    hdr[17..21].copy_from_slice(&time.nanos.to_be_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(stored);
    let crc = crc32fast::hash(&out[start + format::LENGTH_SIZE..]);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Encodes chunks, compressing data per chunk when the compression is gzip.
#[derive(Debug)]
pub struct ChunkEncoder {
    compression: Compression,
    scratch: Vec<u8>,
}

impl ChunkEncoder {
    /// A new encoder.
    pub fn new(compression: Compression) -> Self {
        ChunkEncoder {
            compression,
            scratch: Vec::new(),
        }
    }
    /// The compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// Appends the HEAD chunk (data never compressed).
    pub fn head(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        dir: Direction,
        time: Timestamp,
        session_id: &[u8],
    ) -> Result<()> {
        self.scratch.clear();
        self.scratch.push(self.compression.to_byte());
        self.scratch.push(format::ENCRYPTION_NONE);
        self.scratch.extend_from_slice(session_id);
        encode_raw(out, protocol, CHUNK_HEAD, dir, time, &self.scratch)
    }
    /// Appends a chunk, gzipping `data` when the compression is gzip.
    #[inline]
    pub fn chunk(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        chunk_type: [u8; 4],
        dir: Direction,
        time: Timestamp,
        data: &[u8],
    ) -> Result<()> {
        if chunk_type == CHUNK_HEAD || chunk_type == CHUNK_DONE {
            return Err(Error::Usage("use head()/done() for HEAD and DONE".into()));
        }
        match self.compression {
            Compression::None => encode_raw(out, protocol, chunk_type, dir, time, data),
            Compression::Gzip => {
                use std::io::Write;
                self.scratch.clear();
                let mut gz = flate2::GzBuilder::new().operating_system(255).write(
                    std::mem::take(&mut self.scratch),
                    flate2::Compression::default(),
                );
                gz.write_all(data)
                    .map_err(|e| Error::Usage(format!("gzip: {e}")))?;
                self.scratch = gz
                    .finish()
                    .map_err(|e| Error::Usage(format!("gzip: {e}")))?;
                encode_raw(out, protocol, chunk_type, dir, time, &self.scratch)
            }
        }
    }
    /// Appends the DONE chunk.
    pub fn done(
        &mut self,
        out: &mut Vec<u8>,
        protocol: [u8; 4],
        dir: Direction,
        time: Timestamp,
    ) -> Result<()> {
        encode_raw(out, protocol, CHUNK_DONE, dir, time, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_spec() {
        // spec §2.10: HEAD + DONE, protocol TEST.
        let t = Timestamp::new(0x6412_F3A7, 14);
        let mut out = Vec::new();
        let mut enc = ChunkEncoder::new(Compression::None);
        enc.head(&mut out, *b"TEST", Direction::Inbound, t, b"sess_123456789")
            .unwrap();
        assert_eq!(&out[out.len() - 4..], &[0xbe, 0x4c, 0x7c, 0x20]);
        enc.done(
            &mut out,
            *b"TEST",
            Direction::Inbound,
            Timestamp::new(0x6412_F3A7, 19),
        )
        .unwrap();
        assert_eq!(&out[out.len() - 4..], &[0x50, 0x91, 0xfe, 0x72]);
        let mut foo = Vec::new();
        encode_raw(&mut foo, *b"TEST", *b"TEST", Direction::Inbound, t, b"foo").unwrap();
        assert_eq!(&foo[foo.len() - 4..], &[0xa4, 0x6e, 0x48, 0x70]);
    }
}
