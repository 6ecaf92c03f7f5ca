#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = bsr_core::format::checksum::parse(data, "SHA256SUM") {
        let mut names = std::collections::HashSet::new();
        for e in &entries {
            assert!(bsr_core::format::checksum::valid_name(&e.name));
            assert!(names.insert(e.name.clone()));
            assert!(bsr_core::format::checksum::line(&e.digest, &e.name).is_ok());
        }
    }
});
