#![no_main]
//! SSH → asciicast on arbitrary request and message files: no panic, and every cast written
//! reads back with the strict reader.
use bsr_asciicast::cast::CastReader;
use bsr_asciicast::convert::{ChannelFiles, ConvertOptions, Format, convert};
use bsr_core::store::MemStore;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|input: (Vec<u8>, Vec<u8>, Vec<u8>, u8)| {
    let (req, msg, inp, flags) = input;
    let m = |b: Vec<u8>| [&bsr_core::format::MAGIC[..], &b[..]].concat();
    let s = MemStore::new();
    s.put("c/requests-inbound.data", m(req)).unwrap();
    s.put("c/messages-outbound.data", m(msg)).unwrap();
    s.put("c/messages-inbound.data", m(inp)).unwrap();
    let files = ChannelFiles {
        store: Arc::new(s),
        name: "c".into(),
        channel_type: "session".into(),
        requests_inbound: Some("c/requests-inbound.data".into()),
        requests_outbound: None,
        messages_outbound: "c/messages-outbound.data".into(),
        messages_inbound: Some("c/messages-inbound.data".into()),
        connection_requests: None,
        checksums: Default::default(),
    };
    let opts = ConvertOptions {
        format: if flags & 1 == 1 { Format::V3 } else { Format::V2 },
        input: flags & 2 != 0,
        resize: flags & 4 != 0,
        markers: flags & 8 != 0,
        strict: flags & 16 != 0,
    };
    let mut out = Vec::new();
    if convert(&files, &opts, &mut out).is_ok() {
        let r = CastReader::new(&out[..]).expect("header we wrote must parse");
        for e in r {
            // Data events read back; timestamps can go backwards only if the recording's do.
            if let Err(e) = e {
                assert!(e.to_string().contains("goes backwards"), "{e}");
                break;
            }
        }
    }
});
