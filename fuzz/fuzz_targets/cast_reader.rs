#![no_main]
use bsr_asciicast::cast::CastReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for strict in [true, false] {
        if let Ok(r) = CastReader::with_strictness(data, strict) {
            let mut last = 0i128;
            for e in r.take(100_000) {
                let Ok(e) = e else { break };
                assert!(e.time_ns >= last, "times go backwards");
                last = e.time_ns;
            }
        }
    }
});
