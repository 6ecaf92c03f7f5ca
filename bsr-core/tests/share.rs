//! `read::share`: one read of a file for two readers. The reading side gets exactly the bytes
//! the tee read, whatever the read sizes on either side; a reader that goes away, or never
//! comes, does not stop the tee; a withdrawn share is an empty file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::read::share::share;
use std::io::Read;

/// A reader returning at most `step` bytes per call.
struct Steps {
    b: Vec<u8>,
    at: usize,
    step: usize,
}

impl Read for Steps {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.b.len() - self.at).min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.b[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 % 251) as u8).collect()
}

#[test]
fn the_reader_gets_exactly_what_the_tee_read() {
    for (n, tee_step, read_buf) in [
        (0, 7, 5),
        (1, 1, 1),
        (10_000, 333, 4096),
        (3_000_000, 1 << 20, 7),
        (3_000_000, 65_536, 1 << 20),
    ] {
        let data = bytes(n);
        let (sharer, mut reader) = share("f.data");
        let d = data.clone();
        let t = std::thread::spawn(move || {
            let src = Steps {
                b: d,
                at: 0,
                step: tee_step,
            };
            let mut tee = sharer.take("f.data", src).ok().unwrap();
            let mut seen = Vec::new();
            tee.read_to_end(&mut seen).unwrap();
            seen
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; read_buf];
        loop {
            let k = reader.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        assert_eq!(t.join().unwrap(), data, "the tee read all of it");
        assert_eq!(
            got, data,
            "{n} bytes, tee steps {tee_step}, reads of {read_buf}"
        );
    }
}

#[test]
fn only_the_shared_path_and_only_once() {
    let (sharer, _reader) = share("a.data");
    assert!(sharer.take("b.data", &b"x"[..]).is_err());
    assert!(sharer.take("a.data", &b"x"[..]).is_ok());
    assert!(sharer.take("a.data", &b"x"[..]).is_err(), "taken already");
}

#[test]
fn a_reader_that_goes_away_or_never_reads_does_not_stop_the_tee() {
    let data = bytes(20 << 20);
    // Dropped after a few reads.
    let (sharer, mut reader) = share("f.data");
    let mut buf = [0u8; 1000];
    let d = data.clone();
    let t = std::thread::spawn(move || {
        let mut tee = sharer.take("f.data", &d[..]).ok().unwrap();
        std::io::copy(&mut tee, &mut std::io::sink()).unwrap()
    });
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[..], &data[..1000]);
    drop(reader);
    assert_eq!(t.join().unwrap(), data.len() as u64);
    // Dropped before reading anything.
    let (sharer, reader) = share("f.data");
    drop(reader);
    let mut tee = sharer.take("f.data", &data[..]).ok().unwrap();
    assert_eq!(
        std::io::copy(&mut tee, &mut std::io::sink()).unwrap(),
        data.len() as u64
    );
}

#[test]
fn a_withdrawn_share_is_an_empty_file() {
    let (sharer, mut reader) = share("f.data");
    sharer.withdraw();
    assert!(sharer.take("f.data", &b"x"[..]).is_err());
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert!(got.is_empty());
}
