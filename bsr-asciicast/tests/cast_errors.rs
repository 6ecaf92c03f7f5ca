//! Strict validation of casts: every kind of bad input gives a typed error with its line,
//! byte offset and a clear reason; lenient mode skips bad event lines and lists them.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::cast::{CastReader, EventKind, MAX_LINE, MAX_WARNINGS};
use bsr_asciicast::error::CastError;

const V2: &str = "{\"version\":2,\"width\":80,\"height\":24}\n";
const V3: &str = "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n";

/// The first error reading `cast` in strict mode (header or events).
fn first_error(cast: &str) -> CastError {
    match CastReader::new(cast.as_bytes()) {
        Err(e) => e,
        Ok(r) => {
            for e in r {
                if let Err(e) = e {
                    return e;
                }
            }
            panic!("no error for {cast:?}")
        }
    }
}

fn events(cast: &str) -> Vec<(i128, EventKind, String)> {
    CastReader::new(cast.as_bytes())
        .unwrap_or_else(|e| panic!("{cast:?}: {e}"))
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("{cast:?}: {e}"));
            (e.time_ns, e.kind, e.data)
        })
        .collect()
}

#[test]
fn bad_event_lines() {
    let good = "[0.5, \"o\", \"ok\"]\n";
    for (line, want) in [
        ("[1.0, \"o\", \"x\"", "invalid JSON"),
        ("{\"t\": 1}", "not a 3-element array"),
        ("[1.0, \"o\"]", "not a 3-element array (it has 2 elements)"),
        (
            "[1.0, \"o\", \"x\", 4]",
            "not a 3-element array (it has 4 elements)",
        ),
        ("[1.0, 5, \"x\"]", "event code is not a non-empty string: 5"),
        ("[1.0, \"\", \"x\"]", "event code is not a non-empty string"),
        ("[1.0, \"o\", 7]", "event data is not a string: 7"),
        ("[1.0, \"o\", null]", "event data is not a string: null"),
        ("[-1.5, \"o\", \"x\"]", "event time is negative: -1.5"),
        (
            "[\"1.5\", \"o\", \"x\"]",
            "event time is not a number: \"1.5\"",
        ),
        ("[null, \"o\", \"x\"]", "event time is not a number"),
        ("[1e300, \"o\", \"x\"]", "event time is too large"),
        ("[0.25, \"o\", \"x\"]", "goes backwards"),
        (
            "[1.0, \"r\", \"-1x0\"]",
            "resize data \"-1x0\" is not COLSxROWS",
        ),
        ("[1.0, \"r\", \"0x24\"]", "resize data \"0x24\""),
        ("[1.0, \"r\", \"80x\"]", "resize data \"80x\""),
        ("[1.0, \"r\", \"+80x24\"]", "resize data \"+80x24\""),
        ("[1.0, \"r\", \"80x24x1\"]", "resize data \"80x24x1\""),
        ("[1.0, \"r\", \" 80x24\"]", "resize data \" 80x24\""),
        ("[1.0, \"r\", \"99999999999x24\"]", "resize data"),
    ] {
        let cast = format!("{V2}{good}{line}\n");
        let e = first_error(&cast);
        let msg = e.to_string();
        assert!(msg.contains(want), "{line}: {msg}");
        assert_eq!(e.line(), Some(3), "{line}: {msg}");
        assert_eq!(e.offset(), Some((V2.len() + good.len()) as u64), "{line}");
        assert!(msg.starts_with("line 3 (byte "), "{msg}");
    }
}

#[test]
fn invalid_utf8_is_rejected() {
    let mut cast = V2.as_bytes().to_vec();
    cast.extend_from_slice(b"[1, \"o\", \"\xff\"]\n");
    let e = CastReader::new(&cast[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, CastError::Json { line: 2, .. }), "{e}");
}

#[test]
fn good_edge_cases() {
    // Equal times are allowed in v2; integer, exponent and zero times; extra whitespace;
    // CRLF line ends; blank lines; unknown codes kept.
    let cast = format!(
        "{V2}[1, \"o\", \"a\"]\r\n\n[1, \"o\", \"b\"]\n  [ 1.5e0 ,\"z\",\"c\" ]  \n[2E+0,\"r\",\"100x30\"]\n[0.0000019999,\"o\",\"x\"]\n"
    );
    // The last line goes backwards: read up to it.
    let r = CastReader::new(cast.as_bytes()).unwrap();
    let got: Vec<_> = r.take(4).map(|e| e.unwrap()).collect();
    let t: Vec<_> = got.iter().map(|e| e.time_ns).collect();
    assert_eq!(
        t,
        [1_000_000_000, 1_000_000_000, 1_500_000_000, 2_000_000_000]
    );
    assert_eq!(got[2].kind, EventKind::Other("z".into()));
    assert_eq!(got[3].kind, EventKind::Resize);

    // Times are exact (not through f64): 0.1 + 0.2 in v3 is exactly 0.3 s.
    let ev = events(&format!(
        "{V3}[0.1,\"o\",\"a\"]\n[0.2,\"o\",\"b\"]\n[1234567.891234567,\"o\",\"c\"]\n"
    ));
    assert_eq!(ev[1].0, 300_000_000);
    assert_eq!(ev[2].0, 300_000_000 + 1_234_567_891_234_567);
    // Rounded to the nanosecond, halves up.
    let ev = events(&format!(
        "{V2}[0.0000000015,\"o\",\"a\"]\n[0.0000000025,\"o\",\"b\"]\n"
    ));
    assert_eq!((ev[0].0, ev[1].0), (2, 3));
}

#[test]
fn comments_only_in_v3() {
    assert_eq!(
        events(&format!("{V3}# c\n[1,\"o\",\"a\"]\n#\n")).len(),
        1,
        "v3 skips # lines"
    );
    let e = first_error(&format!("{V2}# c\n"));
    assert!(matches!(e, CastError::Json { line: 2, .. }), "{e}");
}

#[test]
fn header_errors() {
    for (cast, want) in [
        ("", "empty file: no header"),
        ("\n\n  \n", "empty file: no header"),
        ("[1, \"o\", \"x\"]\n", "header is not a JSON object"),
        ("{\"width\":80,\"height\":24}\n", "header has no version"),
        (
            "{\"version\":\"2\",\"width\":80,\"height\":24}\n",
            "version is not an integer",
        ),
        ("{\"version\":2,\"height\":24}\n", "header needs width"),
        ("{\"version\":2,\"width\":80}\n", "header needs height"),
        (
            "{\"version\":2,\"width\":0,\"height\":24}\n",
            "width is not an integer ≥ 1: 0",
        ),
        (
            "{\"version\":2,\"width\":-5,\"height\":24}\n",
            "width is not an integer ≥ 1",
        ),
        (
            "{\"version\":2,\"width\":80.5,\"height\":24}\n",
            "width is not an integer",
        ),
        (
            "{\"version\":2,\"width\":4294967296,\"height\":24}\n",
            "width is not an integer",
        ),
        (
            "{\"version\":3,\"width\":80,\"height\":24}\n",
            "v3 header needs term",
        ),
        (
            "{\"version\":3,\"term\":[80,24]}\n",
            "header term is not an object",
        ),
        (
            "{\"version\":3,\"term\":{\"rows\":24}}\n",
            "header needs term.cols",
        ),
        (
            "{\"version\":3,\"term\":{\"cols\":80}}\n",
            "header needs term.rows",
        ),
        (
            "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":5}}\n",
            "\"type\" is not a string",
        ),
        (
            "{\"version\":2,\"width\":80,\"height\":24,\"env\":{\"A\":1}}\n",
            "header env",
        ),
        (
            "{\"version\":2,\"width\":80,\"height\":24,\"env\":[]}\n",
            "header env",
        ),
        (
            "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":\"x\"}\n",
            "timestamp is not a number",
        ),
        (
            "{\"version\":2,\"width\":80,\"height\":24,\"idle_time_limit\":true}\n",
            "idle_time_limit is not a number",
        ),
        (
            "{\"version\":2,\"width\":80,\"height\":24,\"title\":[]}\n",
            "\"title\" is not a string",
        ),
        ("{\"version\":2,\"width\":80,\"height\"\n", "invalid JSON"),
        (
            "{\"version\":1,\"width\":80,\"height\":24}\n",
            "v1 file needs a stdout array",
        ),
        (
            "{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0.5]]}",
            "stdout frame 0: not [delay, data]",
        ),
        (
            "{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0.5,\"a\"],[-1,\"b\"]]}",
            "stdout frame 1: time is negative",
        ),
        (
            "{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[\"1\",\"a\"]]}",
            "stdout frame 0: delay is not a number",
        ),
        (
            "{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[1,2]]}",
            "stdout frame 0: data is not a string",
        ),
    ] {
        let e = match CastReader::new(cast.as_bytes()) {
            Err(e) => e,
            Ok(_) => panic!("no error for {cast:?}"),
        };
        let msg = e.to_string();
        assert!(msg.contains(want), "{cast:?}: {msg}");
    }
    let e = CastReader::new(&b"{\"version\":4,\"width\":1,\"height\":1}\n"[..]).unwrap_err();
    assert!(matches!(e, CastError::Unsupported { version: 4 }), "{e}");
    assert_eq!(e.to_string(), "unsupported asciicast version 4");
    assert_eq!(e.line(), None);
}

#[test]
fn v1_multiline_and_single_line() {
    let one = "{\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0.1,\"a\"],[0.2,\"b\"]]}";
    let pretty = "\n{\n  \"version\": 1,\n  \"width\": 80,\n  \"height\": 24,\n  \"stdout\": [[0.1, \"a\"], [0.2, \"b\"]]\n}\n";
    for cast in [one, pretty] {
        let ev = events(cast);
        assert_eq!(
            ev.iter().map(|e| e.0).collect::<Vec<_>>(),
            [100_000_000, 300_000_000],
            "{cast:?}"
        );
    }
    // A broken v1 document reports the line inside the document.
    let broken = "{\n \"version\": 1,\n \"width\": 80,\n \"height\": 24,\n \"stdout\": [[0.1, \"a\"],,]\n}\n";
    let e = first_error(broken);
    assert!(matches!(e, CastError::Json { line: 5, .. }), "{e}");
}

#[test]
fn lines_over_64_mib_are_refused() {
    let mut cast = V2.as_bytes().to_vec();
    cast.extend_from_slice(b"[1, \"o\", \"");
    cast.resize(cast.len() + MAX_LINE, b'a');
    cast.extend_from_slice(b"\"]\n");
    let e = CastReader::lenient(&cast[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("line longer than 64 MiB"), "{e}");
    assert_eq!(e.line(), Some(2));
    // The same for a v1 document.
    let mut v1 = b"{\n\"version\":1,\"width\":80,\"height\":24,\"stdout\":[[0,\"".to_vec();
    v1.resize(v1.len() + MAX_LINE, b'a');
    v1.extend_from_slice(b"\"]]}\n");
    let e = CastReader::new(&v1[..]).unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
}

#[test]
fn lenient_mode_skips_and_lists() {
    let cast = format!(
        "{V2}[1,\"o\",\"a\"]\n[oops\n[0.5,\"o\",\"back\"]\n[2,\"r\",\"1x\"]\n[2,5,\"x\"]\n[3,\"o\",\"b\"]\n"
    );
    let mut r = CastReader::lenient(cast.as_bytes()).unwrap();
    let ev: Vec<_> = r.by_ref().map(|e| e.unwrap().data).collect();
    assert_eq!(ev, ["a", "b"]);
    assert_eq!(r.skipped(), 4);
    let lines: Vec<_> = r.warnings().iter().map(|w| w.line().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(matches!(r.warnings()[0], CastError::Json { .. }));
    assert!(r.warnings()[1].reason().contains("goes backwards"));
    assert!(r.warnings()[2].reason().contains("resize data \"1x\""));
    assert!(r.warnings()[3].reason().contains("event code"));

    // Warnings are capped; the count is not.
    let mut many = V2.to_string();
    for _ in 0..MAX_WARNINGS + 10 {
        many.push_str("[1,\"r\",\"bad\"]\n");
    }
    let mut r = CastReader::lenient(many.as_bytes()).unwrap();
    assert_eq!(r.by_ref().count(), 0);
    assert_eq!(r.warnings().len(), MAX_WARNINGS);
    assert_eq!(r.skipped(), (MAX_WARNINGS + 10) as u64);
}

#[test]
fn header_extra_keys_are_kept_and_written_back() {
    let cast = "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":\"xterm-256color\"},\"tags\":[\"a\",\"b\"],\"title\":\"t<1>\"}\n[1,\"o\",\"x\"]\n";
    let r = CastReader::new(cast.as_bytes()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.term_type.as_deref(), Some("xterm-256color"));
    assert_eq!(h.title.as_deref(), Some("t<1>"));
    assert_eq!(h.extra.get("tags"), Some(&serde_json::json!(["a", "b"])));
    let w = bsr_asciicast::cast::CastWriter::new_v3(Vec::new(), &h).unwrap();
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    assert_eq!(
        out,
        "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":\"xterm-256color\"},\"title\":\"t\\u003c1\\u003e\",\"tags\":[\"a\",\"b\"]}\n"
    );
}
