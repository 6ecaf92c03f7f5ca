//! Incremental UTF-8 decoding across chunk boundaries.
//!
//! A multi-byte character split between two DATA chunks comes out intact; only bytes that are
//! really invalid become U+FFFD, with the same replacement policy as
//! [`String::from_utf8_lossy`] (one U+FFFD per maximal invalid subpart, the WHATWG policy).
//!
//! Valid runs are appended with a single copy; at most 3 bytes are carried between pushes.
//! (Boundary's Go converter differs: it decodes each chunk on its own, so a split character
//! becomes several `\ufffd`, one per byte; see [`crate::cast::go_string_bytes`].)

/// Decoder state: at most 3 bytes of an incomplete character carried between pushes.
#[derive(Debug, Default, Clone)]
pub struct Utf8Stream {
    carry: [u8; 4],
    len: usize,
    /// U+FFFD characters produced for invalid input so far.
    pub replaced: u64,
}

/// Length of the sequence a lead byte announces (0 for a byte that cannot lead).
fn seq_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

/// Whether `b` may follow the lead byte `lead` as its first continuation byte.
fn valid_second(lead: u8, b: u8) -> bool {
    match lead {
        0xe0 => (0xa0..=0xbf).contains(&b),
        0xed => (0x80..=0x9f).contains(&b),
        0xf0 => (0x90..=0xbf).contains(&b),
        0xf4 => (0x80..=0x8f).contains(&b),
        _ => (0x80..=0xbf).contains(&b),
    }
}

impl Utf8Stream {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes complete input with `from_utf8_lossy`'s policy: one U+FFFD per maximal invalid
    /// subpart (what `utf8_chunks` yields as `invalid()`).
    fn push_lossy(&mut self, bytes: &[u8], out: &mut String) {
        for chunk in bytes.utf8_chunks() {
            out.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                out.push('\u{fffd}');
                self.replaced += 1;
            }
        }
    }

    /// Bytes of an incomplete character carried to the next push (0 to 3).
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Decodes `bytes`, appending complete characters to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut String) {
        // Finish a carried, incomplete character first.
        while self.len > 0 && !bytes.is_empty() {
            let need = seq_len(self.carry[0]);
            let b = bytes[0];
            let ok = if self.len == 1 {
                valid_second(self.carry[0], b)
            } else {
                (0x80..=0xbf).contains(&b)
            };
            if !ok {
                // The carried prefix is a maximal invalid subpart: one U+FFFD, then go on with b.
                out.push('\u{fffd}');
                self.replaced += 1;
                self.len = 0;
                break;
            }
            self.carry[self.len] = b;
            self.len += 1;
            bytes = &bytes[1..];
            if self.len == need {
                let c = self.carry;
                self.push_lossy(&c[..need], out);
                self.len = 0;
            }
        }
        if bytes.is_empty() {
            return;
        }
        // Keep an incomplete but so-far-valid tail for the next push.
        let tail = incomplete_tail(bytes);
        let (body, rest) = bytes.split_at(bytes.len() - tail);
        match std::str::from_utf8(body) {
            Ok(s) => out.push_str(s),
            Err(_) => self.push_lossy(body, out),
        }
        self.carry[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
    }

    /// Flushes an incomplete character at the end of the stream as U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        if self.len > 0 {
            out.push('\u{fffd}');
            self.replaced += 1;
            self.len = 0;
        }
    }
}

/// Bytes at the end of `b` that start a valid but incomplete sequence (0 to 3).
fn incomplete_tail(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=3.min(n) {
        let i = n - back;
        let lead = b[i];
        let need = seq_len(lead);
        if need >= 2 {
            if need <= back {
                return 0; // complete (or invalid) sequence: decoded now
            }
            // Check the continuation bytes seen so far.
            let ok = b[i + 1..].iter().enumerate().all(|(k, &c)| {
                if k == 0 {
                    valid_second(lead, c)
                } else {
                    (0x80..=0xbf).contains(&c)
                }
            });
            return if ok { back } else { 0 };
        }
        if !(0x80..=0xbf).contains(&lead) {
            return 0;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(parts: &[&[u8]]) -> String {
        let mut d = Utf8Stream::new();
        let mut out = String::new();
        for p in parts {
            d.push(p, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn split_characters_survive() {
        let s = "héllo → ✓ 🎉".as_bytes();
        for i in 0..s.len() {
            for j in i..s.len() {
                assert_eq!(run(&[&s[..i], &s[i..j], &s[j..]]), "héllo → ✓ 🎉");
            }
        }
        assert_eq!(run(&[b"a\xe2\x86", b"x"]), "a\u{fffd}x");
        assert_eq!(run(&[b"a\xf0\x9f"]), "a\u{fffd}");
        assert_eq!(run(&[b"\xff", b"\xc3", b"\xa9"]), "\u{fffd}é");
    }

    #[test]
    fn replacements_are_counted_not_literal_fffd() {
        let mut d = Utf8Stream::new();
        let mut out = String::new();
        d.push("ok \u{fffd} ".as_bytes(), &mut out);
        assert_eq!(d.replaced, 0);
        d.push(b"\xe2\x86x\xff\xc3", &mut out);
        assert_eq!(d.pending(), 1);
        d.push(b"\xa9\xf0\x9f\x8e", &mut out);
        assert_eq!(d.pending(), 3);
        d.finish(&mut out);
        assert_eq!(d.pending(), 0);
        assert_eq!(out, "ok \u{fffd} \u{fffd}x\u{fffd}é\u{fffd}");
        assert_eq!(d.replaced, 3);
    }

    proptest! {
        #[test]
        fn byte_at_a_time(data in proptest::collection::vec(any::<u8>(), 0..48)) {
            let parts: Vec<&[u8]> = data.chunks(1).collect();
            prop_assert_eq!(run(&parts), String::from_utf8_lossy(&data).into_owned());
        }
        #[test]
        fn replaced_counts_invalid_subparts(data in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..64) {
            let cut = cut.min(data.len());
            let mut d = Utf8Stream::new();
            let mut out = String::new();
            d.push(&data[..cut], &mut out);
            d.push(&data[cut..], &mut out);
            d.finish(&mut out);
            let want = data.utf8_chunks().filter(|c| !c.invalid().is_empty()).count() as u64;
            prop_assert_eq!(d.replaced, want);
        }
        #[test]
        fn same_as_lossy(data in proptest::collection::vec(any::<u8>(), 0..64), cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut parts = Vec::new();
            let mut prev = 0;
            for c in cuts { parts.push(&data[prev..c]); prev = c; }
            parts.push(&data[prev..]);
            prop_assert_eq!(run(&parts), String::from_utf8_lossy(&data).into_owned());
        }
        #[test]
        fn same_as_lossy_utf8ish(s in "\\PC{0,20}", noise in proptest::collection::vec(prop_oneof![Just(0x80u8), Just(0xc3), Just(0xe2), Just(0xf0), Just(0xff)], 0..4), at in 0usize..40, cut in 0usize..60) {
            let mut data = s.into_bytes();
            let at = at.min(data.len());
            for (k, b) in noise.into_iter().enumerate() { data.insert((at + k).min(data.len()), b); }
            let cut = cut.min(data.len());
            prop_assert_eq!(run(&[&data[..cut], &data[cut..]]), String::from_utf8_lossy(&data).into_owned());
        }
    }
}
