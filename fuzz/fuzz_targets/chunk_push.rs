#![no_main]
//! The push decoder must yield exactly what the slice reader yields, whatever the splits.
use bsr_core::read::chunk::ChunkReader;
use bsr_core::read::decoder::StreamDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (splits, body) = input;
    let data = [&bsr_core::format::MAGIC[..], &body[..]].concat();
    let mut want = Vec::new();
    let mut want_err = false;
    for c in ChunkReader::new(&data).into_iter().flatten() {
        match c {
            Ok(c) => want.push((c.chunk_type, c.time, c.stored.to_vec(), c.compressed)),
            Err(_) => {
                want_err = true;
                break;
            }
        }
    }
    let mut d = StreamDecoder::new();
    let mut got = Vec::new();
    let mut pos = 0usize;
    let mut err = false;
    let mut cuts = splits.iter().map(|b| *b as usize + 1).cycle();
    'outer: while pos < data.len() {
        let n = cuts.next().unwrap_or(data.len()).min(data.len() - pos);
        if d.push(&data[pos..pos + n]).is_err() {
            err = true;
            break;
        }
        pos += n;
        loop {
            match d.next_chunk() {
                Ok(Some(c)) => got.push((c.chunk_type, c.time, c.stored.to_vec(), c.compressed)),
                Ok(None) => break,
                Err(_) => {
                    err = true;
                    break 'outer;
                }
            }
        }
    }
    if !err && d.finish().is_err() {
        err = true;
    }
    assert_eq!(err, want_err, "error disagreement");
    if !err {
        assert_eq!(got, want);
    } else {
        assert!(want.starts_with(&got) || got.len() <= want.len());
    }
});
