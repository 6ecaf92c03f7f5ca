#![no_main]
use bsr_core::format::meta::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MetaFile::parse(data, "m") {
        // What we write back parses to the same entries.
        let again = MetaFile::parse(&m.to_bytes(), "m");
        if m.entries.iter().all(|(k, v)| !k.contains('\n') && !k.contains(':') && !k.trim().is_empty() && v == v.trim() && !v.contains('\n')) {
            assert_eq!(again.ok(), Some(m));
        }
    }
    let _ = SessionRecordingMeta::parse(data, "m");
    let _ = ConnectionRecordingMeta::parse(data, "m");
    let _ = ChannelRecordingMeta::parse(data, "m");
});
