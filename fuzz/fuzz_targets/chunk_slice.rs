#![no_main]
use bsr_core::read::chunk::ChunkReader;
use bsr_core::read::structure::validate_structure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for input in [data, &[&bsr_core::format::MAGIC[..], data].concat()[..]] {
        let _ = validate_structure(input);
        let Ok(r) = ChunkReader::new(input) else { continue };
        for c in r {
            let Ok(c) = c else { break };
            let _ = c.data();
            let _ = c.header();
            let _ = bsr_core::ssh::decode_chunk_payload(&c, false);
            let _ = bsr_core::ssh::decode_chunk_payload(&c, true);
        }
    }
});
