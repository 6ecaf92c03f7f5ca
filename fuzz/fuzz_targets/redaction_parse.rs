#![no_main]
//! `REDACTION.json`: any bytes parse or fail cleanly; what parses writes back to the same
//! manifest. And the redactor's windowed search never panics and keeps its ranges inside the
//! stream, whatever the pattern, the data and the pieces.
use bsr_asciicast::redact::find::Finder;
use bsr_core::format::redaction::RedactionManifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, String, Vec<u8>, u8, u8)| {
    let (json, pattern, data, piece, max_match) = input;
    if let Ok(m) = RedactionManifest::parse(&json, "REDACTION.json") {
        let again = RedactionManifest::parse(&m.to_bytes().unwrap(), "REDACTION.json").unwrap();
        assert_eq!(again, m);
    }
    let Ok(re) = regex::bytes::RegexBuilder::new(&pattern).size_limit(1 << 20).build() else {
        return;
    };
    let pats = [(0u32, re)];
    let mut f = Finder::new(&pats, usize::from(max_match).max(1), 10_000);
    for c in data.chunks(usize::from(piece).max(1)) {
        if f.push(c).is_err() {
            return;
        }
    }
    if let Ok(found) = f.finish() {
        for r in found {
            assert!(r.range.start < r.range.end && r.range.end <= data.len() as u64);
        }
    }
});
