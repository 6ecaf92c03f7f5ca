#![no_main]
use bsr_core::ssh::Request;
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "pty-req", "x11-req", "env", "shell", "exec", "subsystem", "window-change", "xon-xoff", "signal",
    "exit-status", "exit-signal", "break", "tcpip-forward", "cancel-tcpip-forward", "keepalive@openssh.com",
];
const OPENS: &[&str] = &["session", "direct-tcpip", "forwarded-tcpip", "x11", "other"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let ty = [data[0], data[1], data[2], data[3]];
    if let Ok(r) = Request::decode(ty, &data[4..]) {
        let again = Request::decode(r.chunk_type(), &r.encode());
        assert_eq!(again.ok().as_ref(), Some(&r));
    }
    let name = NAMES[data[0] as usize % NAMES.len()];
    if let Ok(r) = Request::from_ssh_wire(name, data[1] & 1 == 1, &data[2..]) {
        // Anything built from the wire encodes and decodes back.
        assert_eq!(Request::decode(r.chunk_type(), &r.encode()).ok().as_ref(), Some(&r));
    }
    let _ = Request::from_channel_open(OPENS[data[0] as usize % OPENS.len()], 1, 2, 3, &data[2..]);
});
