//! The BSR records of the requests and channel opens the proxy relays, built directly from
//! the typed values russh hands over.
//!
//! Only requests russh has no method for arrive as a name and a raw RFC 4254 payload; those
//! go through [`Request::from_ssh_wire`] ([`wire`]), which keeps the payload of the ones BSR
//! has no type for. The tests prove that every typed record here equals what
//! `from_ssh_wire` (or `from_channel_open`) parses from the request's wire encoding, so the
//! recordings hold the same bytes either way.

use bsr_core::ssh::{
    CancelTcpipForwardRequest, DirectTcpipRequest, EnvRequest, ExecRequest, ExitSignalRequest,
    ExitStatusRequest, PtyRequest, Request, SessionRequest, ShellRequest, SignalRequest,
    SubsystemRequest, TcpipForwardRequest, UnknownRequest, WindowChangeRequest,
    X11ForwardingRequest, XonXoffRequest,
};
use russh::{Pty, Sig};

/// A terminal's size: columns, rows, width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TermSize {
    pub cols: u32,
    pub rows: u32,
    pub pix_width: u32,
    pub pix_height: u32,
}

/// The record of a request from its SSH name and wire payload: typed when BSR knows the
/// type, else (or when the payload does not parse) an unknown request with the raw payload.
pub(super) fn wire(request_type: &str, want_reply: bool, data: &[u8]) -> Request {
    Request::from_ssh_wire(request_type, want_reply, data).unwrap_or_else(|_| {
        Request::Unknown(UnknownRequest {
            request_type: request_type.to_string(),
            want_reply,
            data: data.to_vec(),
        })
    })
}

/// The RFC 4254 encoding of terminal modes: opcode and `uint32` value pairs, ended by
/// `TTY_OP_END` (russh reports unknown opcodes as `TTY_OP_END`; they are left out).
pub(super) fn terminal_modes(modes: &[(Pty, u32)]) -> Vec<u8> {
    let mut m = Vec::with_capacity(modes.len() * 5 + 1);
    for (code, v) in modes.iter().filter(|(c, _)| *c != Pty::TTY_OP_END) {
        m.push(*code as u8);
        m.extend_from_slice(&v.to_be_bytes());
    }
    m.push(Pty::TTY_OP_END as u8);
    m
}

/// `pty-req`.
pub(super) fn pty(want_reply: bool, term: &str, size: TermSize, modes: &[(Pty, u32)]) -> Request {
    Request::Pty(PtyRequest {
        request_type: "pty-req".into(),
        want_reply,
        term_env_var: term.to_string(),
        terminal_width_characters: size.cols,
        terminal_height_rows: size.rows,
        terminal_width_pixels: size.pix_width,
        terminal_height_pixels: size.pix_height,
        encoded_terminal_mode: terminal_modes(modes),
    })
}

/// `x11-req`.
pub(super) fn x11(
    want_reply: bool,
    single_connection: bool,
    protocol: &str,
    cookie: &str,
    screen: u32,
) -> Request {
    Request::X11Forwarding(X11ForwardingRequest {
        request_type: "x11-req".into(),
        want_reply,
        single_connection,
        x11_authentication_protocol: protocol.to_string(),
        x11_authentication_cookie: cookie.to_string(),
        x11_screen_number: screen,
    })
}

/// `env`.
pub(super) fn env(want_reply: bool, name: &str, value: &str) -> Request {
    Request::Env(EnvRequest {
        request_type: "env".into(),
        want_reply,
        variable_name: name.to_string(),
        variable_value: value.to_string(),
    })
}

/// `shell`.
pub(super) fn shell(want_reply: bool) -> Request {
    Request::Shell(ShellRequest {
        request_type: "shell".into(),
        want_reply,
    })
}

/// `exec`: the command as text (bytes that are not UTF-8 become U+FFFD, as BSR's string
/// field requires).
pub(super) fn exec(want_reply: bool, command: &[u8]) -> Request {
    Request::Exec(ExecRequest {
        request_type: "exec".into(),
        want_reply,
        command: String::from_utf8_lossy(command).into_owned(),
    })
}

/// `subsystem`.
pub(super) fn subsystem(want_reply: bool, name: &str) -> Request {
    Request::Subsystem(SubsystemRequest {
        request_type: "subsystem".into(),
        want_reply,
        subsystem_name: name.to_string(),
    })
}

/// `window-change` (never wants a reply).
pub(super) fn window_change(size: TermSize) -> Request {
    Request::WindowChange(WindowChangeRequest {
        request_type: "window-change".into(),
        want_reply: false,
        terminal_width_columns: size.cols,
        terminal_height_rows: size.rows,
        terminal_width_pixels: size.pix_width,
        terminal_height_pixels: size.pix_height,
    })
}

/// `signal` (never wants a reply).
pub(super) fn signal(signal: &Sig) -> Request {
    Request::Signal(SignalRequest {
        request_type: "signal".into(),
        want_reply: false,
        signal_name: sig_name(signal),
    })
}

/// `exit-status` (never wants a reply).
pub(super) fn exit_status(exit_status: u32) -> Request {
    Request::ExitStatus(ExitStatusRequest {
        request_type: "exit-status".into(),
        want_reply: false,
        exit_status,
    })
}

/// `exit-signal` (never wants a reply).
pub(super) fn exit_signal(
    signal: &Sig,
    core_dumped: bool,
    error_message: &str,
    language_tag: &str,
) -> Request {
    Request::ExitSignal(ExitSignalRequest {
        request_type: "exit-signal".into(),
        want_reply: false,
        signal_name: sig_name(signal),
        core_dumped,
        error_message: error_message.to_string(),
        language_tag: language_tag.to_string(),
    })
}

/// `xon-xoff` (never wants a reply).
pub(super) fn xon_xoff(client_can_do: bool) -> Request {
    Request::XonXoff(XonXoffRequest {
        request_type: "xon-xoff".into(),
        want_reply: false,
        client_can_do,
    })
}

/// `auth-agent-req@openssh.com`: no BSR type of its own, so an unknown request (its wire
/// payload is empty).
pub(super) fn agent() -> Request {
    Request::Unknown(UnknownRequest {
        request_type: "auth-agent-req@openssh.com".into(),
        want_reply: true,
        data: Vec::new(),
    })
}

/// `tcpip-forward` (a global request).
pub(super) fn tcpip_forward(want_reply: bool, address: &str, port: u32) -> Request {
    Request::TcpipForward(TcpipForwardRequest {
        request_type: "tcpip-forward".into(),
        want_reply,
        address_to_bind: address.to_string(),
        port_to_bind: port,
    })
}

/// `cancel-tcpip-forward` (a global request).
pub(super) fn cancel_tcpip_forward(want_reply: bool, address: &str, port: u32) -> Request {
    Request::CancelTcpipForward(CancelTcpipForwardRequest {
        request_type: "cancel-tcpip-forward".into(),
        want_reply,
        address_to_bind: address.to_string(),
        port_to_bind: port,
    })
}

/// The common fields of a channel open: the sender's channel number, its initial window
/// and its largest packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OpenFields {
    pub sender_channel: u32,
    pub initial_window: u32,
    pub max_packet: u32,
}

/// A `direct-tcpip` channel's target and originator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DirectTcpip {
    pub host: String,
    pub port: u32,
    pub orig_addr: String,
    pub orig_port: u32,
}

/// The open record of a `session` channel.
pub(super) fn open_session(f: OpenFields) -> Request {
    Request::Session(SessionRequest {
        request_type: "session".into(),
        sender_channel: f.sender_channel,
        initial_window_size: f.initial_window,
        maximum_packet_size: f.max_packet,
    })
}

/// The open record of a `direct-tcpip` channel.
pub(super) fn open_direct_tcpip(f: OpenFields, t: &DirectTcpip) -> Request {
    Request::DirectTcpip(DirectTcpipRequest {
        request_type: "direct-tcpip".into(),
        sender_channel: f.sender_channel,
        initial_window_size: f.initial_window,
        maximum_packet_size: f.max_packet,
        host: t.host.clone(),
        port: t.port,
        originator_ip_address: t.orig_addr.clone(),
        originator_port: t.orig_port,
    })
}

/// The RFC 4254 signal name (without `SIG`).
pub fn sig_name(s: &Sig) -> String {
    match s {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(c) => c.as_str(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    //! Each typed record against what `from_ssh_wire` / `from_channel_open` parse from the
    //! wire bytes the proxy used to build (the encoders below are the old code's), compared
    //! as values and as the recorded (proto3) bytes.
    use super::*;

    fn put_str(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }

    /// The old RFC 4254 wire payload of a pty-req.
    fn pty_payload(term: &str, dims: [u32; 4], modes: &[(Pty, u32)]) -> Vec<u8> {
        let mut p = Vec::new();
        put_str(&mut p, term.as_bytes());
        for d in dims {
            p.extend_from_slice(&d.to_be_bytes());
        }
        let mut m = Vec::new();
        for (code, v) in modes.iter().filter(|(c, _)| *c != Pty::TTY_OP_END) {
            m.push(*code as u8);
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.push(0);
        put_str(&mut p, &m);
        p
    }

    /// The old encoding of a `(string, uint32)` pair (tcpip-forward, cancel-tcpip-forward).
    fn addr_port(address: &str, port: u32) -> Vec<u8> {
        let mut p = Vec::new();
        put_str(&mut p, address.as_bytes());
        p.extend_from_slice(&port.to_be_bytes());
        p
    }

    /// `typed` equals the parse of `(name, want_reply, payload)`, as a value and in bytes, and
    /// is not an unknown request unless it should be.
    fn same(typed: Request, name: &str, want_reply: bool, payload: &[u8]) {
        let parsed = Request::from_ssh_wire(name, want_reply, payload).unwrap();
        assert_eq!(typed, parsed, "{name}");
        assert_eq!(typed.encode(), parsed.encode(), "{name}");
        assert_eq!(typed.chunk_type(), parsed.chunk_type(), "{name}");
        assert_eq!(typed.request_type(), name);
    }

    const SIZE: TermSize = TermSize {
        cols: 100,
        rows: 30,
        pix_width: 800,
        pix_height: 600,
    };

    #[test]
    fn pty_req() {
        let modes = [
            (Pty::VINTR, 3),
            (Pty::TTY_OP_END, 0), // an unknown code as russh reports it: left out
            (Pty::ECHO, 1),
            (Pty::TTY_OP_OSPEED, 38400),
        ];
        for (want, modes) in [(true, &modes[..]), (false, &[][..])] {
            let typed = pty(want, "xterm-256color", SIZE, modes);
            let p = pty_payload("xterm-256color", [100, 30, 800, 600], modes);
            same(typed.clone(), "pty-req", want, &p);
            let Request::Pty(x) = typed else {
                panic!("{typed:?}")
            };
            assert_eq!(x.terminal_width_characters, 100);
            assert_eq!(x.encoded_terminal_mode.last(), Some(&0));
        }
        let Request::Pty(x) = pty(true, "vt100", SIZE, &modes[..3]) else {
            panic!()
        };
        assert_eq!(
            x.encoded_terminal_mode,
            [1, 0, 0, 0, 3, Pty::ECHO as u8, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn x11_req() {
        for (want, single) in [(true, false), (false, true)] {
            let mut p = vec![u8::from(single)];
            put_str(&mut p, b"MIT-MAGIC-COOKIE-1");
            put_str(&mut p, b"0123456789abcdef");
            p.extend_from_slice(&7u32.to_be_bytes());
            let typed = x11(want, single, "MIT-MAGIC-COOKIE-1", "0123456789abcdef", 7);
            same(typed, "x11-req", want, &p);
        }
    }

    #[test]
    fn env_req() {
        for (want, name, value) in [(true, "LANG", "C.UTF-8"), (false, "X_É", "")] {
            let mut p = Vec::new();
            put_str(&mut p, name.as_bytes());
            put_str(&mut p, value.as_bytes());
            same(env(want, name, value), "env", want, &p);
        }
    }

    #[test]
    fn shell_req() {
        for want in [true, false] {
            same(shell(want), "shell", want, &[]);
        }
    }

    #[test]
    fn exec_req() {
        // Not UTF-8: both sides replace the bad byte the same way.
        for (want, cmd) in [
            (true, &b"echo hi; exit 3"[..]),
            (false, &b"printf '\xff'"[..]),
        ] {
            let mut p = Vec::new();
            put_str(&mut p, cmd);
            same(exec(want, cmd), "exec", want, &p);
        }
        let Request::Exec(x) = exec(true, b"a\xffb") else {
            panic!()
        };
        assert_eq!(x.command, "a\u{fffd}b");
    }

    #[test]
    fn subsystem_req() {
        for want in [true, false] {
            let mut p = Vec::new();
            put_str(&mut p, b"sftp");
            same(subsystem(want, "sftp"), "subsystem", want, &p);
        }
    }

    #[test]
    fn window_change_req() {
        let mut p = Vec::new();
        for d in [100u32, 30, 800, 600] {
            p.extend_from_slice(&d.to_be_bytes());
        }
        same(window_change(SIZE), "window-change", false, &p);
    }

    #[test]
    fn signal_req() {
        for s in [Sig::INT, Sig::Custom("WINCH".into())] {
            let mut p = Vec::new();
            put_str(&mut p, sig_name(&s).as_bytes());
            same(signal(&s), "signal", false, &p);
        }
    }

    #[test]
    fn exit_status_req() {
        same(exit_status(3), "exit-status", false, &3u32.to_be_bytes());
    }

    #[test]
    fn exit_signal_req() {
        let mut p = Vec::new();
        put_str(&mut p, b"KILL");
        p.push(1);
        put_str(&mut p, b"killed");
        put_str(&mut p, b"en");
        same(
            exit_signal(&Sig::KILL, true, "killed", "en"),
            "exit-signal",
            false,
            &p,
        );
    }

    #[test]
    fn xon_xoff_req() {
        for can in [true, false] {
            same(xon_xoff(can), "xon-xoff", false, &[u8::from(can)]);
        }
    }

    #[test]
    fn agent_req_is_unknown_with_an_empty_payload() {
        let typed = agent();
        same(typed.clone(), "auth-agent-req@openssh.com", true, &[]);
        assert!(matches!(typed, Request::Unknown(_)));
    }

    #[test]
    fn tcpip_forward_reqs() {
        for want in [true, false] {
            let p = addr_port("localhost", 8022);
            same(
                tcpip_forward(want, "localhost", 8022),
                "tcpip-forward",
                want,
                &p,
            );
            same(
                cancel_tcpip_forward(want, "localhost", 8022),
                "cancel-tcpip-forward",
                want,
                &p,
            );
        }
    }

    #[test]
    fn unknown_and_malformed_wire_requests_keep_their_payload() {
        let r = wire("keepalive@openssh.com", true, b"");
        assert!(matches!(&r, Request::Unknown(u) if u.data.is_empty() && u.want_reply));
        let r = wire("vendor@example.com", false, b"\x00\x01raw");
        assert!(matches!(&r, Request::Unknown(u) if u.data == b"\x00\x01raw"));
        // A known name whose payload does not parse: unknown, with the raw payload.
        let r = wire("exit-status", false, b"\x00");
        assert!(
            matches!(&r, Request::Unknown(u) if u.request_type == "exit-status" && u.data == b"\x00")
        );
        // A known name that parses: typed.
        let r = wire("break", false, &500u32.to_be_bytes());
        assert!(matches!(&r, Request::Break(b) if b.break_length_ms == 500));
    }

    const OPEN: OpenFields = OpenFields {
        sender_channel: 4,
        initial_window: 2_097_152,
        max_packet: 32_768,
    };

    #[test]
    fn session_open() {
        let parsed = Request::from_channel_open("session", 4, 2_097_152, 32_768, &[]).unwrap();
        let typed = open_session(OPEN);
        assert_eq!(typed, parsed);
        assert_eq!(typed.encode(), parsed.encode());
    }

    #[test]
    fn direct_tcpip_open() {
        let t = DirectTcpip {
            host: "127.0.0.1".into(),
            port: 8080,
            orig_addr: "::1".into(),
            orig_port: 51_000,
        };
        let mut p = Vec::new();
        put_str(&mut p, t.host.as_bytes());
        p.extend_from_slice(&t.port.to_be_bytes());
        put_str(&mut p, t.orig_addr.as_bytes());
        p.extend_from_slice(&t.orig_port.to_be_bytes());
        let parsed = Request::from_channel_open("direct-tcpip", 4, 2_097_152, 32_768, &p).unwrap();
        let typed = open_direct_tcpip(OPEN, &t);
        assert_eq!(typed, parsed);
        assert_eq!(typed.encode(), parsed.encode());
        assert!(matches!(typed, Request::DirectTcpip(_)));
    }

    #[test]
    fn signal_names_follow_rfc4254() {
        assert_eq!(sig_name(&Sig::TERM), "TERM");
        assert_eq!(sig_name(&Sig::Custom("WINCH".into())), "WINCH");
    }
}
