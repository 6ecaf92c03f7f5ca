//! One regression test per crash found by fuzzing (`fuzz/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bsr_core::ssh::Request;

/// fuzz/ssh_request: a payload of only unknown fields decoded to an all-default request whose
/// re-encoding is empty (and so not decodable). Such a payload has no request_type: Malformed.
#[test]
fn ssh_request_without_request_type() {
    let input = hex::decode("5345535328b07365737369 69".replace(' ', "")).unwrap();
    let e = Request::decode([input[0], input[1], input[2], input[3]], &input[4..]).unwrap_err();
    assert!(e.to_string().contains("no request_type"), "{e}");
    // Every decodable request round-trips.
    let ok = Request::from_ssh_wire("env", false, &[0, 0, 0, 1, b'A', 0, 0, 0, 1, b'B']).unwrap();
    assert_eq!(Request::decode(ok.chunk_type(), &ok.encode()).unwrap(), ok);
}
