//! Building [`Request`]s from RFC 4254 wire payloads (what an SSH library hands over).

use super::*;
use crate::error::{Error, Location, Result};

impl Request {
    /// Builds a request from an SSH request name and its RFC 4254 wire payload (what an SSH
    /// library hands over). Unrecognised names become [`Request::Unknown`] with the raw data.
    pub fn from_ssh_wire(request_type: &str, want_reply: bool, payload: &[u8]) -> Result<Request> {
        let mut w = Wire::new(payload, request_type);
        let rt = request_type.to_string();
        let r = match request_type {
            "pty-req" => Request::Pty(PtyRequest {
                request_type: rt,
                want_reply,
                term_env_var: w.string()?,
                terminal_width_characters: w.u32()?,
                terminal_height_rows: w.u32()?,
                terminal_width_pixels: w.u32()?,
                terminal_height_pixels: w.u32()?,
                encoded_terminal_mode: w.bytes()?.to_vec(),
            }),
            "x11-req" => Request::X11Forwarding(X11ForwardingRequest {
                request_type: rt,
                want_reply,
                single_connection: w.bool()?,
                x11_authentication_protocol: w.string()?,
                x11_authentication_cookie: w.string()?,
                x11_screen_number: w.u32()?,
            }),
            "env" => Request::Env(EnvRequest {
                request_type: rt,
                want_reply,
                variable_name: w.string()?,
                variable_value: w.string()?,
            }),
            "shell" => Request::Shell(ShellRequest {
                request_type: rt,
                want_reply,
            }),
            "exec" => Request::Exec(ExecRequest {
                request_type: rt,
                want_reply,
                command: w.string()?,
            }),
            "subsystem" => Request::Subsystem(SubsystemRequest {
                request_type: rt,
                want_reply,
                subsystem_name: w.string()?,
            }),
            "window-change" => Request::WindowChange(WindowChangeRequest {
                request_type: rt,
                want_reply,
                terminal_width_columns: w.u32()?,
                terminal_height_rows: w.u32()?,
                terminal_width_pixels: w.u32()?,
                terminal_height_pixels: w.u32()?,
            }),
            "xon-xoff" => Request::XonXoff(XonXoffRequest {
                request_type: rt,
                want_reply,
                client_can_do: w.bool()?,
            }),
            "signal" => Request::Signal(SignalRequest {
                request_type: rt,
                want_reply,
                signal_name: w.string()?,
            }),
            "exit-status" => Request::ExitStatus(ExitStatusRequest {
                request_type: rt,
                want_reply,
                exit_status: w.u32()?,
            }),
            "exit-signal" => Request::ExitSignal(ExitSignalRequest {
                request_type: rt,
                want_reply,
                signal_name: w.string()?,
                core_dumped: w.bool()?,
                error_message: w.string()?,
                language_tag: w.string()?,
            }),
            "break" => Request::Break(BreakRequest {
                request_type: rt,
                want_reply,
                break_length_ms: w.u32()?,
            }),
            "tcpip-forward" => Request::TcpipForward(TcpipForwardRequest {
                request_type: rt,
                want_reply,
                address_to_bind: w.string()?,
                port_to_bind: w.u32()?,
            }),
            "cancel-tcpip-forward" => Request::CancelTcpipForward(CancelTcpipForwardRequest {
                request_type: rt,
                want_reply,
                address_to_bind: w.string()?,
                port_to_bind: w.u32()?,
            }),
            _ => {
                return Ok(Request::Unknown(UnknownRequest {
                    request_type: rt,
                    want_reply,
                    data: payload.to_vec(),
                }));
            }
        };
        Ok(r)
    }

    /// Builds a channel-open record (`session`, `direct-tcpip`, `forwarded-tcpip`, `x11`) from
    /// the channel type, the common fields and the type-specific RFC 4254 payload. Other
    /// channel types become [`Request::Unknown`].
    pub fn from_channel_open(
        channel_type: &str,
        sender_channel: u32,
        initial_window: u32,
        max_packet: u32,
        payload: &[u8],
    ) -> Result<Request> {
        let mut w = Wire::new(payload, channel_type);
        let rt = channel_type.to_string();
        Ok(match channel_type {
            "session" => Request::Session(SessionRequest {
                request_type: rt,
                sender_channel,
                initial_window_size: initial_window,
                maximum_packet_size: max_packet,
            }),
            "direct-tcpip" => Request::DirectTcpip(DirectTcpipRequest {
                request_type: rt,
                sender_channel,
                initial_window_size: initial_window,
                maximum_packet_size: max_packet,
                host: w.string()?,
                port: w.u32()?,
                originator_ip_address: w.string()?,
                originator_port: w.u32()?,
            }),
            "forwarded-tcpip" => Request::ForwardedTcpip(ForwardedTcpipRequest {
                request_type: rt,
                sender_channel,
                initial_window_size: initial_window,
                maximum_packet_size: max_packet,
                address: w.string()?,
                port: w.u32()?,
                originator_ip_address: w.string()?,
                originator_port: w.u32()?,
            }),
            "x11" => Request::X11(X11Request {
                request_type: rt,
                sender_channel,
                initial_window_size: initial_window,
                maximum_packet_size: max_packet,
                originator_address: w.string()?,
                originator_port: w.u32()?,
            }),
            _ => Request::Unknown(UnknownRequest {
                request_type: rt,
                want_reply: false,
                data: payload.to_vec(),
            }),
        })
    }
}

/// RFC 4251 wire reader.
struct Wire<'a> {
    b: &'a [u8],
    what: &'a str,
}

impl<'a> Wire<'a> {
    fn new(b: &'a [u8], what: &'a str) -> Self {
        Wire { b, what }
    }
    fn err(&self, field: &str) -> Error {
        Error::malformed(
            Location::default(),
            format!("{} payload: {field} missing or truncated", self.what),
        )
    }
    fn u32(&mut self) -> Result<u32> {
        if self.b.len() < 4 {
            return Err(self.err("uint32"));
        }
        let v = u32::from_be_bytes([self.b[0], self.b[1], self.b[2], self.b[3]]);
        self.b = &self.b[4..];
        Ok(v)
    }
    fn bool(&mut self) -> Result<bool> {
        let (&v, rest) = self.b.split_first().ok_or_else(|| self.err("boolean"))?;
        self.b = rest;
        Ok(v != 0)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        if self.b.len() < n {
            return Err(self.err("string"));
        }
        let (v, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(v)
    }
    fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
}
