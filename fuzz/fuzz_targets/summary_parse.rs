#![no_main]
use bsr_core::format::meta::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SessionSummary::parse(data, "s") {
        assert_eq!(SessionSummary::parse(&s.to_bytes().unwrap(), "s").ok(), Some(s));
    }
    if let Ok(s) = ConnectionSummary::parse(data, "s") {
        assert_eq!(ConnectionSummary::parse(&s.to_bytes().unwrap(), "s").ok(), Some(s));
    }
    if let Ok(s) = ChannelSummary::parse(data, "s") {
        assert_eq!(ChannelSummary::parse(&s.to_bytes().unwrap(), "s").ok(), Some(s));
    }
    let _ = SessionMeta::parse(data, "s");
});
