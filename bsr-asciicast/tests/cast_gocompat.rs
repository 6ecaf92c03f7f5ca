//! Go `encoding/json` compatibility tables: float64 formatting, string escaping (HTML escaping
//! on, as `json.Marshal` and a default `json.Encoder` do), and Boundary's time arithmetic.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::cast::{
    duration_seconds, go_float, go_seconds, go_string, go_string_bytes, go_string_into,
};
use proptest::prelude::*;

fn f(x: f64) -> String {
    let mut s = String::new();
    go_float(&mut s, x);
    s
}

/// Outputs of Go's `json.Marshal(float64)` (from Go's documented rules and published test
/// tables: `1e-9` and `-2.236734e-9` after the `e-09` clean-up, `5e-324`, `1.7976931348623157e+308`).
#[test]
fn float_table() {
    for (x, want) in [
        (0.000001, "0.000001"),
        (0.000002, "0.000002"),
        (1e-7, "1e-7"),
        (1.5, "1.5"),
        (2.0, "2"),
        (0.1, "0.1"),
        (123.456789012, "123.456789012"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e20, "100000000000000000000"),
        (5.600001, "5.600001"),
        (10.5, "10.5"),
        (0.0, "0"),
        (-1.0, "-1"),
        (1e-9, "1e-9"),
        (-2.236734e-9, "-2.236734e-9"),
        (1e-10, "1e-10"),
        (1.23e-7, "1.23e-7"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (1234.0, "1234"),
        (12.3456, "12.3456"),
        (-78.9012, "-78.9012"),
        (123456789.0, "123456789"),
        (0.3, "0.3"),
        (1.0 / 3.0, "0.3333333333333333"),
        (86400.000000001, "86400.000000001"),
    ] {
        assert_eq!(f(x), want, "{x:e}");
    }
}

proptest! {
    /// Any finite float: round-trips, notation switches exactly at 1e-6 and 1e21, no `e-0N`,
    /// a signed positive exponent, no `.0` tail on integral values, no leading `+`.
    #[test]
    fn float_shape(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let s = f(x);
        prop_assert_eq!(s.parse::<f64>().unwrap(), x);
        let a = x.abs();
        let exp = a != 0.0 && !(1e-6..1e21).contains(&a);
        prop_assert_eq!(s.contains('e'), exp, "{}", s);
        prop_assert!(!s.contains("e-0") && !s.contains(".0e") && !s.ends_with(".0"));
        if exp && a >= 1.0 {
            prop_assert!(s.contains("e+"));
        }
    }
}

/// Go's `json.Marshal` of every ASCII byte on its own.
#[test]
fn ascii_table() {
    for b in 0u8..0x80 {
        let want = match b {
            0x08 => "\\b".to_string(),
            0x09 => "\\t".to_string(),
            0x0a => "\\n".to_string(),
            0x0c => "\\f".to_string(),
            0x0d => "\\r".to_string(),
            b'"' => "\\\"".to_string(),
            b'\\' => "\\\\".to_string(),
            b'<' => "\\u003c".to_string(),
            b'>' => "\\u003e".to_string(),
            b'&' => "\\u0026".to_string(),
            0..0x20 => format!("\\u{:04x}", b),
            _ => (b as char).to_string(), // 0x7f (DEL) is not escaped by Go
        };
        let mut v = Vec::new();
        go_string_bytes(&mut v, &[b]);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            format!("\"{want}\""),
            "{b:#x}"
        );
        let mut s = String::new();
        go_string(&mut s, &(b as char).to_string());
        assert_eq!(s, format!("\"{want}\""), "{b:#x}");
    }
}

#[test]
fn string_table() {
    for (input, want) in [
        (
            &b"<script>alert('x')</script>"[..],
            "\"\\u003cscript\\u003ealert('x')\\u003c/script\\u003e\"",
        ),
        (b"a&b", "\"a\\u0026b\""),
        ("\u{2028}\u{2029}".as_bytes(), "\"\\u2028\\u2029\""),
        ("\u{2027}\u{202a}".as_bytes(), "\"\u{2027}\u{202a}\""),
        ("żółć 🎉 中文".as_bytes(), "\"żółć 🎉 中文\""),
        (b"\x1b[0m\x07", "\"\\u001b[0m\\u0007\""),
        (b"\xff", "\"\\ufffd\""),
        (b"\xc0\xaf", "\"\\ufffd\\ufffd\""), // overlong
        (b"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""), // surrogate
        (b"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""), // above U+10FFFF
        (b"\xf0\x9f\x8e", "\"\\ufffd\\ufffd\\ufffd\""), // truncated 4-byte
        (b"ok\xe2\x80", "\"ok\\ufffd\\ufffd\""),
        ("\u{fffd}".as_bytes(), "\"\u{fffd}\""),
        (b"", "\"\""),
    ] {
        let mut v = Vec::new();
        go_string_bytes(&mut v, input);
        assert_eq!(String::from_utf8(v).unwrap(), want, "{input:?}");
    }
}

/// An independent model of Go's `appendString`: decode one rune with the longest valid
/// prefix (at most 4 bytes), or one invalid byte.
fn go_model(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < b.len() {
        let c = (1..=4.min(b.len() - i)).rev().find_map(|k| {
            std::str::from_utf8(&b[i..i + k])
                .ok()
                .filter(|s| s.chars().count() == 1)
                .map(|s| (s.chars().next().unwrap(), k))
        });
        match c {
            None => {
                out.push_str("\\ufffd");
                i += 1;
            }
            Some((c, k)) => {
                match c {
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
                i += k;
            }
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn bytes_escaper_matches_go_model(b in proptest::collection::vec(prop_oneof![
        any::<u8>(),
        Just(0xe2u8), Just(0x80), Just(0xa8), Just(0xa9), Just(0xef), Just(0xbf), Just(0xbd),
        Just(b'<'), Just(b'\\'), Just(b'"'),
    ], 0..40)) {
        let mut v = Vec::new();
        go_string_bytes(&mut v, &b);
        let got = String::from_utf8(v).unwrap();
        prop_assert_eq!(&got, &go_model(&b));
        // Valid JSON that decodes to Go's reading of the bytes.
        let back: String = serde_json::from_str(&got).unwrap();
        let lossy_per_byte: String = b.utf8_chunks().map(|c| {
            format!("{}{}", c.valid(), "\u{fffd}".repeat(c.invalid().len()))
        }).collect();
        prop_assert_eq!(back, lossy_per_byte);
    }

    /// The text escaper gives valid JSON for the same string; it differs from Go's bytes
    /// output only in writing U+FFFD as `\ufffd`.
    #[test]
    fn text_escaper_round_trips(s in any::<String>()) {
        let mut v = Vec::new();
        go_string_into(&mut v, &s);
        let got = String::from_utf8(v).unwrap();
        let back: String = serde_json::from_str(&got).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(got.replace("\\ufffd", "\u{fffd}"), go_model(s.as_bytes()));
    }
}

/// Boundary: `float64(t.Sub(start)) / float64(time.Second)`, i.e. the f64 of the nanoseconds
/// divided by 1e9, correctly rounded; `time.Duration.Seconds()` is a different formula.
#[test]
fn boundary_time_arithmetic() {
    assert_eq!(go_seconds(1_000), 1e-6);
    assert_eq!(go_seconds(-1_000), -1e-6);
    assert_eq!(go_seconds(1_500_000_000), 1.5);
    // Saturates like Go's Time.Sub.
    assert_eq!(go_seconds(i128::MAX), i64::MAX as f64 / 1e9);
    assert_eq!(go_seconds(i128::MIN), i64::MIN as f64 / 1e9);
    // Where the two formulas differ, Boundary's is the correctly rounded quotient.
    let mut differ = 0;
    for k in 0..200_000i128 {
        let ns = 1_000_000_000 * (1 + k % 5000) + k * 7919 % 1_000_000_000;
        let q = go_seconds(ns);
        assert_eq!(q, ns as f64 / 1e9);
        if q != duration_seconds(ns) {
            differ += 1;
            // By one unit in the last place.
            assert_eq!(
                q.to_bits().abs_diff(duration_seconds(ns).to_bits()),
                1,
                "{ns}"
            );
        }
    }
    assert!(differ > 0, "the formulas should differ somewhere");
}
