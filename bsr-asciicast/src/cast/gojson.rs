//! JSON output formatted exactly like Go's `encoding/json` (as Boundary's converter uses it), and
//! exact parsing of JSON time values.
//!
//! * Floats ([`go_float`]): Go's `floatEncoder` for `float64` — shortest round-trip digits
//!   (`strconv` precision −1) in plain `'f'` notation, except when the absolute value is below
//!   `1e-6` or at least `1e21`, where `'e'` notation is used and a two-digit negative exponent
//!   with a leading zero is cleaned up (`1e-07` → `1e-7`). Integral values have no fraction
//!   (`2`), positive exponents keep their sign (`1e+21`). Rust's `{}` and `{:e}` for `f64`
//!   also print the shortest round-trip digits, so only the notation differs and is mapped.
//! * Strings ([`go_string`], [`go_string_bytes`]): Go's `appendString` with HTML escaping on
//!   (what `json.Marshal` and a default `json.Encoder` do): `"` `\\` → `\"` `\\`; `\b \f \n \r
//!   \t` short forms (Go ≥ 1.22); other bytes below 0x20 and `<`, `>`, `&` → `\u00XX`
//!   (lowercase hex); 0x7f is *not* escaped; U+2028/U+2029 → `\u2028`/`\u2029`; each byte that
//!   Go's `utf8.DecodeRuneInString` rejects (one byte at a time) → `\ufffd`.
//! * Times: Boundary computes an event time as `float64(d) / float64(time.Second)` where `d` is
//!   the saturating `time.Time.Sub` of two nanosecond timestamps ([`go_seconds`]).

use std::io::Write as _;

/// Per-byte class for the string escaper: 0 copy, 1 ASCII to escape, 2 lead byte 0xE2
/// (possible U+2028/U+2029), 3 lead byte 0xEF (possible U+FFFD).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 1;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'<' as usize] = 1;
    t[b'>' as usize] = 1;
    t[b'&' as usize] = 1;
    t[0xe2] = 2;
    t[0xef] = 3;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the escape of an ASCII byte whose class is 1.
#[inline]
fn push_ascii_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(b >> 4) as usize],
            HEX[(b & 15) as usize],
        ]),
    }
}

/// Bytes tested at once by [`has_special`].
const SCAN_BLOCK: usize = 32;

/// Whether a byte of `block` has a class other than 0 (the same bytes as [`CLASS`]), written
/// without branches or table lookups so that it compiles to vector compares.
#[inline]
fn has_special(block: &[u8]) -> bool {
    let mut special = false;
    for &b in block {
        special |= (b < 0x20)
            | (b == b'"')
            | (b == b'\\')
            | (b == b'<')
            | (b == b'>')
            | (b == b'&')
            | (b == 0xe2)
            | (b == 0xef);
    }
    special
}

/// Escapes the body (no quotes) of a string that is valid UTF-8. With `escape_fffd`, a U+FFFD
/// character is written as `\ufffd` (for text whose U+FFFD stand for bytes that were invalid).
fn escape_valid(out: &mut Vec<u8>, s: &[u8], escape_fffd: bool) {
    let n = s.len();
    let mut start = 0;
    let mut i = 0;
    while i < n {
        // Fast scan over bytes that are copied as they are: 32 at a time while a whole block
        // is clean (a test the compiler turns into a few vector compares), then byte by byte.
        while let Some(block) = s.get(i..i + SCAN_BLOCK)
            && !has_special(block)
        {
            i += SCAN_BLOCK;
        }
        while i < n && CLASS[s[i] as usize] == 0 {
            i += 1;
        }
        if i >= n {
            break;
        }
        let b = s[i];
        match CLASS[b as usize] {
            1 => {
                out.extend_from_slice(&s[start..i]);
                push_ascii_escape(out, b);
                i += 1;
                start = i;
            }
            2 if i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9) => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(if s[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
            }
            3 if escape_fffd && i + 2 < n && s[i + 1] == 0xbf && s[i + 2] == 0xbd => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\ufffd");
                i += 3;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends `s` as a quoted JSON string, escaped like Go's `encoding/json` with HTML escaping.
///
/// `s` is text whose invalid bytes were already replaced by U+FFFD (for example by
/// [`crate::utf8::Utf8Stream`]), so every U+FFFD is written as the escape `\ufffd`, the form Go
/// writes for an invalid byte. (Go itself writes a *valid* U+FFFD in its input unescaped; use
/// [`go_string_bytes`] on the raw bytes for Go's exact output.)
pub fn go_string_into(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    escape_valid(out, s.as_bytes(), true);
    out.push(b'"');
}

/// [`go_string_into`] appending to a `String`.
pub fn go_string(out: &mut String, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 2);
    go_string_into(&mut v, s);
    // The escaper only splits at character boundaries and adds ASCII: always valid UTF-8.
    out.push_str(&String::from_utf8_lossy(&v));
}

/// Appends raw bytes as a quoted JSON string exactly as Go's `json.Marshal(string(b))` does:
/// valid UTF-8 (including a valid U+FFFD) is copied, each byte that does not start a valid
/// sequence becomes `\ufffd` (Go decodes one byte at a time on error, so a truncated 3-byte
/// sequence gives two `\ufffd`, where [`String::from_utf8_lossy`] gives one U+FFFD).
pub fn go_string_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    for chunk in b.utf8_chunks() {
        escape_valid(out, chunk.valid().as_bytes(), false);
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

/// Appends `f` formatted like Go's `encoding/json` encodes a `float64` (see the module docs).
/// NaN and infinities, which Go refuses to encode, are written as `0`.
pub fn go_float_into(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.push(b'0');
        return;
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // Rust's `{:e}`: shortest digits, exponent without sign when positive and without
        // leading zeros ("1e-7", "1e21"). Go (after the JSON clean-up): "1e-7", "1e+21".
        let mut tmp = Vec::with_capacity(32);
        let _ = write!(tmp, "{f:e}");
        if let Some(p) = tmp.iter().position(|&c| c == b'e') {
            out.extend_from_slice(&tmp[..=p]);
            if tmp.get(p + 1) != Some(&b'-') {
                out.push(b'+');
            }
            out.extend_from_slice(&tmp[p + 1..]);
        } else {
            out.extend_from_slice(&tmp);
        }
    } else {
        // Rust's `{}`: shortest round-trip digits, never exponent notation, no ".0" for
        // integral values: the same as Go's strconv 'f' with precision -1.
        let _ = write!(out, "{f}");
    }
}

/// [`go_float_into`] appending to a `String`.
pub fn go_float(out: &mut String, f: f64) {
    let mut v = Vec::with_capacity(32);
    go_float_into(&mut v, f);
    out.push_str(&String::from_utf8_lossy(&v));
}

/// Event time in seconds as Boundary computes it: `float64(t.Sub(start)) / float64(time.Second)`.
/// `ns` is clamped to the `int64` range (Go's `Time.Sub` saturates); the division of the
/// (correctly rounded) `f64` of the nanoseconds by 1e9 is then correctly rounded, like Go's.
pub fn go_seconds(ns: i128) -> f64 {
    let ns = ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    ns as f64 / 1e9
}

/// Go's `time.Duration.Seconds()`: `float64(d / Second) + float64(d % Second) / 1e9`. It can
/// differ from [`go_seconds`] in the last bit; Boundary's converter does not use it.
pub fn duration_seconds(ns: i128) -> f64 {
    let ns = ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let sec = ns / 1_000_000_000;
    let nsec = ns % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

/// Largest time accepted when reading: `i64::MAX` nanoseconds (about 292 years).
pub const MAX_TIME_NS: i128 = i64::MAX as i128;

/// Parses the text of a JSON number of seconds into nanoseconds, **exactly**: the decimal
/// digits are used as written (no `f64` step), rounded to the nearest nanosecond, halves up.
///
/// Errors (as a reason) for text that is not a JSON-style number, for a negative value (`-0`
/// is zero), and for values above [`MAX_TIME_NS`].
pub fn parse_seconds_ns(tok: &str) -> Result<i128, &'static str> {
    const NOT: &str = "time is not a number";
    let b = tok.as_bytes();
    let n = b.len();
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i += 1;
    }
    let int_start = i;
    while i < n && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    if int_digits.is_empty() {
        return Err(NOT);
    }
    let mut frac_digits: &[u8] = &[];
    if i < n && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == fs {
            return Err(NOT);
        }
        frac_digits = &b[fs..i];
    }
    let mut exp: i64 = 0;
    if i < n && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let mut eneg = false;
        if i < n && (b[i] == b'+' || b[i] == b'-') {
            eneg = b[i] == b'-';
            i += 1;
        }
        let es = i;
        while i < n && b[i].is_ascii_digit() {
            // Saturate: anything this large is out of range (or zero) anyway.
            exp = (exp * 10 + i64::from(b[i] - b'0')).min(1_000_000_000);
            i += 1;
        }
        if i == es {
            return Err(NOT);
        }
        if eneg {
            exp = -exp;
        }
    }
    if i != n {
        return Err(NOT);
    }
    let len = (int_digits.len() + frac_digits.len()) as i64;
    let digit = |k: i64| -> u8 {
        if k < 0 || k >= len {
            return 0;
        }
        let k = k as usize;
        if k < int_digits.len() {
            int_digits[k] - b'0'
        } else {
            frac_digits[k - int_digits.len()] - b'0'
        }
    };
    // First non-zero digit.
    let Some(z) = (0..len).find(|&k| digit(k) != 0) else {
        return Ok(0);
    };
    if neg {
        return Err("time is negative");
    }
    // The nanosecond value's decimal point sits after digit index `p`.
    let p = int_digits.len() as i64 + exp + 9;
    if p - z > 19 {
        return Err("time is too large");
    }
    let mut v: i128 = 0;
    for k in z..p {
        v = v * 10 + i128::from(digit(k));
    }
    // Round half up on the first dropped digit (index `p`; zero when outside the digits).
    if digit(p) >= 5 {
        v += 1;
    }
    if v > MAX_TIME_NS {
        return Err("time is too large");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut s = String::new();
        go_float(&mut s, x);
        s
    }

    #[test]
    fn block_scan_agrees_with_the_class_table() {
        // Every byte value at every position of a block.
        for b in 0..=255u8 {
            for at in 0..SCAN_BLOCK {
                let mut block = [b'a'; SCAN_BLOCK];
                block[at] = b;
                assert_eq!(has_special(&block), CLASS[b as usize] != 0, "byte {b:#x}");
            }
        }
        // And the escaper gives the same output whatever the block boundaries: a special
        // byte at every offset of a string longer than several blocks.
        for special in [
            "\"",
            "\\",
            "<",
            "\n",
            "\u{2028}",
            "\u{fffd}",
            "\u{e9}",
            "\u{1f600}",
        ] {
            for at in 0..100 {
                let text = format!("{}{special}{}", "x".repeat(at), "y".repeat(100 - at));
                let mut fast = Vec::new();
                escape_valid(&mut fast, text.as_bytes(), true);
                let mut slow = Vec::new();
                for c in text.chars() {
                    let mut b = [0u8; 4];
                    escape_valid(&mut slow, c.encode_utf8(&mut b).as_bytes(), true);
                }
                assert_eq!(fast, slow, "{special:?} at {at}");
            }
        }
    }

    #[test]
    fn floats_known_go_outputs() {
        for (x, want) in [
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5, "1.5"),
            (2.0, "2"),
            (0.1, "0.1"),
            (123.456789012, "123.456789012"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (5.600001, "5.600001"),
            (0.0, "0"),
            (-0.0, "-0"),
            (-0.5, "-0.5"),
            (1.5e-8, "1.5e-8"),
            (1e-9, "1e-9"),
            (-2.236734e-9, "-2.236734e-9"),
            (1e-10, "1e-10"),
            (1e-100, "1e-100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-f64::MAX, "-1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-6, "0.000001"),
            // The neighbours of the notation thresholds.
            (
                f64::from_bits(1e-6f64.to_bits() - 1),
                "9.999999999999997e-7",
            ),
            (
                f64::from_bits(1e21f64.to_bits() - 1),
                "999999999999999900000",
            ),
            (1234.0, "1234"),
            (-987654321.0, "-987654321"),
            (12345678901234567890.0, "12345678901234567000"),
        ] {
            assert_eq!(f(x), want, "{x:e}");
        }
    }

    #[test]
    fn seconds_formulas() {
        assert_eq!(go_seconds(1_000), 0.000001);
        assert_eq!(go_seconds(2_000), 0.000002);
        assert_eq!(go_seconds(3_000_000_000), 3.0);
        assert_eq!(go_seconds(i128::MAX), i64::MAX as f64 / 1e9);
        // The two Go formulas are not the same function.
        let differ = (0..2_000_000i128)
            .map(|k| 1_000_000_000 + k * 7919)
            .find(|&ns| go_seconds(ns) != duration_seconds(ns));
        assert!(differ.is_some());
    }

    #[test]
    fn exact_time_parsing() {
        for (t, want) in [
            ("0", Ok(0)),
            ("-0", Ok(0)),
            ("-0.0e5", Ok(0)),
            ("0.000001", Ok(1_000)),
            ("5.600001", Ok(5_600_001_000)),
            ("1e-7", Ok(100)),
            ("1E-7", Ok(100)),
            ("1.5e-9", Ok(2)),
            ("1.4999e-9", Ok(1)),
            ("4e-10", Ok(0)),
            ("5e-10", Ok(1)),
            ("0.0000000005", Ok(1)),
            ("0.00000000049999", Ok(0)),
            ("1e+3", Ok(1_000_000_000_000)),
            ("2", Ok(2_000_000_000)),
            ("123.4567890125", Ok(123_456_789_013)),
            ("9223372036.854775807", Ok(i64::MAX as i128)),
            ("9223372036.854775808", Err("time is too large")),
            ("1e300", Err("time is too large")),
            ("1e-999999999999999", Ok(0)),
            ("-1", Err("time is negative")),
            ("-0.000001", Err("time is negative")),
            ("", Err("time is not a number")),
            ("1.", Err("time is not a number")),
            (".5", Err("time is not a number")),
            ("1e", Err("time is not a number")),
            ("1x", Err("time is not a number")),
        ] {
            assert_eq!(parse_seconds_ns(t), want, "{t:?}");
        }
    }

    #[test]
    fn strings_known_go_outputs() {
        let mut v = Vec::new();
        go_string_bytes(&mut v, b"a<b>&\"\\\n\r\t\x08\x0c\x00\x01\x1f\x7f\xe2\x80\xa8\xe2\x80\xa9\xef\xbf\xbd\xc3\xa9\xff\xe2\x86x\xe2\x86\x92");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\r\\t\\b\\f\\u0000\\u0001\\u001f\x7f\\u2028\\u2029\u{fffd}é\\ufffd\\ufffd\\ufffdx→\""
        );
        let mut s = String::new();
        go_string(&mut s, "x\u{fffd}\u{2028}é");
        assert_eq!(s, "\"x\\ufffd\\u2028é\"");
    }
}
