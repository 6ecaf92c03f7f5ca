//! `SHA256SUM` files (GNU `sha256sum` text format) and a hashing writer.

use crate::error::{Error, Location, Result};
use sha2::{Digest, Sha256};
use std::io::Write;

/// One line of a `SHA256SUM` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumEntry {
    /// The SHA-256.
    pub digest: [u8; 32],
    /// Base file name.
    pub name: String,
    /// `"<hex> *name"` (binary-mode separator) rather than two spaces.
    pub binary: bool,
    /// Line number (1-based).
    pub line: usize,
    /// Byte offset of the line.
    pub offset: u64,
}

/// Longest line accepted.
pub const MAX_LINE: usize = 4096;

/// Whether `name` is a plain base name we write and accept.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0', '\n', '\r'])
}

/// The line for a file: `<64 lowercase hex>  <name>\n`.
pub fn line(digest: &[u8; 32], name: &str) -> Result<String> {
    if !valid_name(name) {
        return Err(Error::Usage(format!(
            "file name {name:?} cannot be listed in SHA256SUM"
        )));
    }
    Ok(format!("{}  {name}\n", hex::encode(digest)))
}

/// Parses a `SHA256SUM` file strictly: each line is 64 hex digits, `"  "` or `" *"`, a plain
/// base name; no duplicate names. The last line may lack its `\n` (as `sha256sum -c` allows).
pub fn parse(bytes: &[u8], path: &str) -> Result<Vec<ChecksumEntry>> {
    let mut out: Vec<ChecksumEntry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0usize;
    let mut lineno = 0usize;
    while offset < bytes.len() {
        lineno += 1;
        let rest = &bytes[offset..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        let loc = Location::at(offset as u64).in_file(path);
        let bad = |why: &str| Error::malformed(loc.clone(), format!("line {lineno}: {why}"));
        if line.len() > MAX_LINE {
            return Err(bad("line too long"));
        }
        if line.len() < 67 {
            return Err(bad("expected <64 hex digits><two spaces or ' *'><name>"));
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&line[..64], &mut digest)
            .map_err(|_| bad("digest is not 64 hex digits"))?;
        let binary = match &line[64..66] {
            b"  " => false,
            b" *" => true,
            _ => return Err(bad("missing separator after the digest")),
        };
        let name = std::str::from_utf8(&line[66..]).map_err(|_| bad("name is not UTF-8"))?;
        if !valid_name(name) {
            return Err(bad(&format!(
                "invalid file name {name:?} (empty, path or traversal)"
            )));
        }
        if !seen.insert(name.to_string()) {
            return Err(bad(&format!("duplicate entry for {name:?}")));
        }
        out.push(ChecksumEntry {
            digest,
            name: name.to_string(),
            binary,
            line: lineno,
            offset: offset as u64,
        });
        offset += end + 1;
    }
    Ok(out)
}

/// A writer that hashes and counts everything written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Returns the inner writer, the SHA-256 and the byte count.
    pub fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_reject() {
        let d = [0xabu8; 32];
        let good = format!("{}{}", line(&d, "a").unwrap(), line(&d, "b.data").unwrap());
        let e = parse(good.as_bytes(), "S").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "b.data");
        assert_eq!(e[1].offset, 68);
        let h = hex::encode(d);
        for bad in [
            format!("{h} a\n"),
            format!("{h}  ../x\n"),
            format!("{h}  a/b\n"),
            format!("{h}  a\n{h}  a\n"),
            format!("{}  a\n", &h[..63]),
            format!("{}zz  a\n", &h[..62]),
            format!("{h}  \n"),
        ] {
            assert!(parse(bad.as_bytes(), "S").is_err(), "{bad:?}");
        }
        assert!(parse(format!("{h} *a").as_bytes(), "S").unwrap()[0].binary);
        assert!(line(&d, "a/b").is_err());
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (v, dg, n) = w.finish();
        assert_eq!((v.as_slice(), n), (&b"abc"[..], 3));
        assert_eq!(
            hex::encode(dg),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
