//! The `BSSH` protocol: chunk types and their proto3 payloads (`ssh.v1` messages of spec §3,
//! encoded with prost derive; field numbers are the wire contract).
//!
//! ```
//! use bsr_core::ssh::{Request, EnvRequest};
//! let r = Request::Env(EnvRequest { request_type: "env".into(), want_reply: false,
//!     variable_name: "SHELL".into(), variable_value: "/bin/fish".into() });
//! let bytes = r.encode();
//! assert_eq!(Request::decode(*b"ENVR", &bytes)?, r);
//! # Ok::<(), bsr_core::Error>(())
//! ```

use crate::chunk::{Chunk, Header};
use crate::error::{Error, Location, Result};
use crate::format::{CHUNK_DATA, CHUNK_DONE, CHUNK_HEAD, PROTOCOL_SSH};
use std::borrow::Cow;

macro_rules! chunk_types {
    ($($name:ident = $lit:literal),* $(,)?) => {
        $(
            #[doc = concat!("Chunk type `", $lit, "`.")]
            pub const $name: [u8; 4] = four($lit);
        )*
    };
}

const fn four(s: &str) -> [u8; 4] {
    let b = s.as_bytes();
    [b[0], b[1], b[2], b[3]]
}

chunk_types! {
    CHUNK_BREK = "BREK", CHUNK_CTPF = "CTPF", CHUNK_DTCP = "DTCP", CHUNK_ENVR = "ENVR",
    CHUNK_EXEC = "EXEC", CHUNK_EXSG = "EXSG", CHUNK_EXST = "EXST", CHUNK_FTCP = "FTCP",
    CHUNK_PTYR = "PTYR", CHUNK_SESS = "SESS", CHUNK_SHLL = "SHLL", CHUNK_SGNL = "SGNL",
    CHUNK_SUBS = "SUBS", CHUNK_TCPF = "TCPF", CHUNK_UNKR = "UNKR", CHUNK_WCHG = "WCHG",
    CHUNK_X11F = "X11F", CHUNK_X11R = "X11R", CHUNK_XOXO = "XOXO",
}

/// `UnknownRequest`: any request without its own type; keeps the raw payload.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct UnknownRequest {
    /// SSH request name.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply flag.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Raw RFC 4254 payload.
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
}

/// `SessionRequest`: a `session` channel open.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SessionRequest {
    /// `session`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// Sender channel.
    #[prost(uint32, tag = "2")]
    pub sender_channel: u32,
    /// Initial window size.
    #[prost(uint32, tag = "3")]
    pub initial_window_size: u32,
    /// Maximum packet size.
    #[prost(uint32, tag = "4")]
    pub maximum_packet_size: u32,
}

/// `X11Request`: an `x11` channel open.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct X11Request {
    /// `x11`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// Sender channel.
    #[prost(uint32, tag = "2")]
    pub sender_channel: u32,
    /// Initial window size.
    #[prost(uint32, tag = "3")]
    pub initial_window_size: u32,
    /// Maximum packet size.
    #[prost(uint32, tag = "4")]
    pub maximum_packet_size: u32,
    /// Originator address.
    #[prost(string, tag = "5")]
    pub originator_address: String,
    /// Originator port.
    #[prost(uint32, tag = "6")]
    pub originator_port: u32,
}

/// `ForwardedTCPIPRequest`: a `forwarded-tcpip` channel open.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ForwardedTcpipRequest {
    /// `forwarded-tcpip`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// Sender channel.
    #[prost(uint32, tag = "2")]
    pub sender_channel: u32,
    /// Initial window size.
    #[prost(uint32, tag = "3")]
    pub initial_window_size: u32,
    /// Maximum packet size.
    #[prost(uint32, tag = "4")]
    pub maximum_packet_size: u32,
    /// Address that was connected.
    #[prost(string, tag = "5")]
    pub address: String,
    /// Port that was connected.
    #[prost(uint32, tag = "6")]
    pub port: u32,
    /// Originator IP address.
    #[prost(string, tag = "7")]
    pub originator_ip_address: String,
    /// Originator port.
    #[prost(uint32, tag = "8")]
    pub originator_port: u32,
}

/// `DirectTCPIPRequest`: a `direct-tcpip` channel open (port forwarding, `ssh -L`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct DirectTcpipRequest {
    /// `direct-tcpip`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// Sender channel.
    #[prost(uint32, tag = "2")]
    pub sender_channel: u32,
    /// Initial window size.
    #[prost(uint32, tag = "3")]
    pub initial_window_size: u32,
    /// Maximum packet size.
    #[prost(uint32, tag = "4")]
    pub maximum_packet_size: u32,
    /// Host to connect.
    #[prost(string, tag = "5")]
    pub host: String,
    /// Port to connect.
    #[prost(uint32, tag = "6")]
    pub port: u32,
    /// Originator IP address.
    #[prost(string, tag = "7")]
    pub originator_ip_address: String,
    /// Originator port.
    #[prost(uint32, tag = "8")]
    pub originator_port: u32,
}

/// `PtyRequest`: `pty-req`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PtyRequest {
    /// `pty-req`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// TERM.
    #[prost(string, tag = "3")]
    pub term_env_var: String,
    /// Columns.
    #[prost(uint32, tag = "4")]
    pub terminal_width_characters: u32,
    /// Rows.
    #[prost(uint32, tag = "5")]
    pub terminal_height_rows: u32,
    /// Width in pixels.
    #[prost(uint32, tag = "6")]
    pub terminal_width_pixels: u32,
    /// Height in pixels.
    #[prost(uint32, tag = "7")]
    pub terminal_height_pixels: u32,
    /// Encoded terminal modes.
    #[prost(bytes = "vec", tag = "8")]
    pub encoded_terminal_mode: Vec<u8>,
}

/// `X11ForwardingRequest`: `x11-req`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct X11ForwardingRequest {
    /// `x11-req`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Single connection.
    #[prost(bool, tag = "3")]
    pub single_connection: bool,
    /// Authentication protocol.
    #[prost(string, tag = "4")]
    pub x11_authentication_protocol: String,
    /// Authentication cookie.
    #[prost(string, tag = "5")]
    pub x11_authentication_cookie: String,
    /// Screen number.
    #[prost(uint32, tag = "6")]
    pub x11_screen_number: u32,
}

/// `EnvRequest`: `env`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct EnvRequest {
    /// `env`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Name.
    #[prost(string, tag = "3")]
    pub variable_name: String,
    /// Value.
    #[prost(string, tag = "4")]
    pub variable_value: String,
}

/// `ShellRequest`: `shell`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ShellRequest {
    /// `shell`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
}

/// `ExecRequest`: `exec`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ExecRequest {
    /// `exec`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Command line.
    #[prost(string, tag = "3")]
    pub command: String,
}

/// `SubsystemRequest`: `subsystem`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SubsystemRequest {
    /// `subsystem`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Subsystem name (`sftp`).
    #[prost(string, tag = "3")]
    pub subsystem_name: String,
}

/// `WindowChangeRequest`: `window-change`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct WindowChangeRequest {
    /// `window-change`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Columns.
    #[prost(uint32, tag = "3")]
    pub terminal_width_columns: u32,
    /// Rows.
    #[prost(uint32, tag = "4")]
    pub terminal_height_rows: u32,
    /// Width in pixels.
    #[prost(uint32, tag = "5")]
    pub terminal_width_pixels: u32,
    /// Height in pixels.
    #[prost(uint32, tag = "6")]
    pub terminal_height_pixels: u32,
}

/// `XonXoffRequest`: `xon-xoff`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct XonXoffRequest {
    /// `xon-xoff`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Client can do flow control.
    #[prost(bool, tag = "3")]
    pub client_can_do: bool,
}

/// `SignalRequest`: `signal`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SignalRequest {
    /// `signal`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Signal name without `SIG` (`INT`).
    #[prost(string, tag = "3")]
    pub signal_name: String,
}

/// `ExitStatusRequest`: `exit-status`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ExitStatusRequest {
    /// `exit-status`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Exit status.
    #[prost(uint32, tag = "3")]
    pub exit_status: u32,
}

/// `ExitSignalRequest`: `exit-signal`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ExitSignalRequest {
    /// `exit-signal`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Signal name.
    #[prost(string, tag = "3")]
    pub signal_name: String,
    /// Core dumped.
    #[prost(bool, tag = "4")]
    pub core_dumped: bool,
    /// Error message.
    #[prost(string, tag = "5")]
    pub error_message: String,
    /// Language tag.
    #[prost(string, tag = "6")]
    pub language_tag: String,
}

/// `BreakRequest`: `break`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct BreakRequest {
    /// `break`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Break length in milliseconds.
    #[prost(uint32, tag = "3")]
    pub break_length_ms: u32,
}

/// `TCPIPForwardRequest`: the `tcpip-forward` global request (`ssh -R`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct TcpipForwardRequest {
    /// `tcpip-forward`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Address to bind.
    #[prost(string, tag = "3")]
    pub address_to_bind: String,
    /// Port to bind.
    #[prost(uint32, tag = "4")]
    pub port_to_bind: u32,
}

/// `CancelTCPIPForwardRequest`: `cancel-tcpip-forward`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CancelTcpipForwardRequest {
    /// `cancel-tcpip-forward`.
    #[prost(string, tag = "1")]
    pub request_type: String,
    /// want-reply.
    #[prost(bool, tag = "2")]
    pub want_reply: bool,
    /// Address to bind.
    #[prost(string, tag = "3")]
    pub address_to_bind: String,
    /// Port to bind.
    #[prost(uint32, tag = "4")]
    pub port_to_bind: u32,
}

fn pb_err(chunk_type: [u8; 4], e: prost::DecodeError) -> Error {
    Error::malformed(
        Location::default(),
        format!("{} payload: {e}", String::from_utf8_lossy(&chunk_type)),
    )
}

/// One table, written once, generates the enum and every per-variant method.
macro_rules! requests {
    ($($variant:ident($msg:ty) = $ct:ident),* $(,)?) => {
        /// A typed SSH request chunk.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Request {
            $($variant($msg),)*
        }

        /// The chunk types of every request (what `BSSH` registers besides HEAD, DATA, DONE).
        pub const REQUEST_CHUNK_TYPES: &[[u8; 4]] = &[$($ct,)*];

        impl Request {
            fn decode_fields(chunk_type: [u8; 4], payload: &[u8]) -> Result<Request> {
                use prost::Message;
                if payload.is_empty() {
                    return Err(Error::malformed(
                        Location::default(),
                        format!("{} chunk with an empty payload", String::from_utf8_lossy(&chunk_type)),
                    ));
                }
                $(
                    if chunk_type == $ct {
                        return <$msg>::decode(payload).map(Request::$variant).map_err(|e| pb_err(chunk_type, e));
                    }
                )*
                Err(Error::UnknownChunkType {
                    loc: Location::default(),
                    protocol: String::from_utf8_lossy(&PROTOCOL_SSH).into_owned(),
                    chunk_type: String::from_utf8_lossy(&chunk_type).into_owned(),
                })
            }

            /// The chunk type of this request.
            pub fn chunk_type(&self) -> [u8; 4] {
                match self {
                    $(Request::$variant(_) => $ct,)*
                }
            }

            /// The proto3 encoding.
            pub fn encode(&self) -> Vec<u8> {
                use prost::Message;
                match self {
                    $(Request::$variant(m) => m.encode_to_vec(),)*
                }
            }

            /// The SSH request (or channel) type string recorded in the payload.
            pub fn request_type(&self) -> &str {
                match self {
                    $(Request::$variant(m) => &m.request_type,)*
                }
            }
        }
    };
}

requests! {
    Break(BreakRequest) = CHUNK_BREK,
    CancelTcpipForward(CancelTcpipForwardRequest) = CHUNK_CTPF,
    DirectTcpip(DirectTcpipRequest) = CHUNK_DTCP,
    Env(EnvRequest) = CHUNK_ENVR,
    Exec(ExecRequest) = CHUNK_EXEC,
    ExitSignal(ExitSignalRequest) = CHUNK_EXSG,
    ExitStatus(ExitStatusRequest) = CHUNK_EXST,
    ForwardedTcpip(ForwardedTcpipRequest) = CHUNK_FTCP,
    Pty(PtyRequest) = CHUNK_PTYR,
    Session(SessionRequest) = CHUNK_SESS,
    Shell(ShellRequest) = CHUNK_SHLL,
    Signal(SignalRequest) = CHUNK_SGNL,
    Subsystem(SubsystemRequest) = CHUNK_SUBS,
    TcpipForward(TcpipForwardRequest) = CHUNK_TCPF,
    Unknown(UnknownRequest) = CHUNK_UNKR,
    WindowChange(WindowChangeRequest) = CHUNK_WCHG,
    X11Forwarding(X11ForwardingRequest) = CHUNK_X11F,
    X11(X11Request) = CHUNK_X11R,
    XonXoff(XonXoffRequest) = CHUNK_XOXO,
}

impl Request {
    /// Decodes the proto3 payload of a request chunk of type `chunk_type`. Boundary always
    /// sets `request_type` (field 1): a payload without it (e.g. only unknown fields) is
    /// malformed, not a request.
    pub fn decode(chunk_type: [u8; 4], payload: &[u8]) -> Result<Request> {
        let r = Self::decode_fields(chunk_type, payload)?;
        if r.request_type().is_empty() {
            return Err(Error::malformed(
                Location::default(),
                format!(
                    "{} payload has no request_type",
                    String::from_utf8_lossy(&chunk_type)
                ),
            ));
        }
        Ok(r)
    }

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

/// Whether `(protocol, chunk_type)` is registered: HEAD and DONE for any protocol; for `BSSH`,
/// DATA and every request type.
pub fn is_registered(protocol: [u8; 4], chunk_type: [u8; 4]) -> bool {
    if chunk_type == CHUNK_HEAD || chunk_type == CHUNK_DONE {
        return true;
    }
    protocol == PROTOCOL_SSH
        && (chunk_type == CHUNK_DATA || REQUEST_CHUNK_TYPES.contains(&chunk_type))
}

/// The meaning of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// HEAD.
    Head(Header),
    /// DONE.
    Done,
    /// DATA bytes (decompressed).
    Data(Cow<'a, [u8]>),
    /// A request.
    Request(Request),
    /// An unregistered (protocol, type) pair, surfaced in lenient reading.
    Unknown {
        /// Protocol.
        protocol: [u8; 4],
        /// Chunk type.
        chunk_type: [u8; 4],
        /// Data (decompressed).
        data: Cow<'a, [u8]>,
    },
}

/// Decodes a chunk's meaning. `strict`: an unregistered pair is [`Error::UnknownChunkType`];
/// otherwise it is returned as [`Decoded::Unknown`]. Errors carry the chunk's location.
pub fn decode_chunk_payload<'a>(chunk: &Chunk<'a>, strict: bool) -> Result<Decoded<'a>> {
    let loc = Location::chunk(chunk.offset, chunk.index);
    let fix = |e: Error| match e {
        Error::Malformed { reason, .. } => Error::Malformed {
            loc: loc.clone(),
            reason,
        },
        Error::UnknownChunkType {
            protocol,
            chunk_type,
            ..
        } => Error::UnknownChunkType {
            loc: loc.clone(),
            protocol,
            chunk_type,
        },
        Error::TooLarge {
            what, size, limit, ..
        } => Error::TooLarge {
            loc: loc.clone(),
            what,
            size,
            limit,
        },
        other => other,
    };
    if chunk.is_head() {
        return chunk.header().map(Decoded::Head);
    }
    if chunk.is_done() {
        return Ok(Decoded::Done);
    }
    if !is_registered(chunk.protocol, chunk.chunk_type) {
        if strict {
            return Err(Error::UnknownChunkType {
                loc,
                protocol: String::from_utf8_lossy(&chunk.protocol).into_owned(),
                chunk_type: String::from_utf8_lossy(&chunk.chunk_type).into_owned(),
            });
        }
        return Ok(Decoded::Unknown {
            protocol: chunk.protocol,
            chunk_type: chunk.chunk_type,
            data: chunk.data()?,
        });
    }
    let data = chunk.data()?;
    if chunk.is_data() {
        return Ok(Decoded::Data(data));
    }
    Request::decode(chunk.chunk_type, &data)
        .map(Decoded::Request)
        .map_err(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let pty = Request::Pty(PtyRequest {
            request_type: "pty-req".into(),
            term_env_var: "kitty".into(),
            terminal_width_characters: 160,
            terminal_height_rows: 200,
            ..Default::default()
        });
        assert_eq!(
            hex::encode(pty.encode()),
            "0a077074792d7265711a056b6974747920a00128c801"
        );
        let env = Request::Env(EnvRequest {
            request_type: "env".into(),
            variable_name: "SHELL".into(),
            variable_value: "/bin/fish".into(),
            ..Default::default()
        });
        assert_eq!(
            hex::encode(env.encode()),
            "0a03656e761a055348454c4c22092f62696e2f66697368"
        );
        assert_eq!(Request::decode(CHUNK_PTYR, &pty.encode()).unwrap(), pty);
    }

    #[test]
    fn wire_parsing() {
        let mut p = Vec::new();
        {
            let s = &b"xterm"[..];
            p.extend_from_slice(&(s.len() as u32).to_be_bytes());
            p.extend_from_slice(s);
        }
        for v in [80u32, 24, 0, 0] {
            p.extend_from_slice(&v.to_be_bytes());
        }
        p.extend_from_slice(&1u32.to_be_bytes());
        p.push(0);
        let r = Request::from_ssh_wire("pty-req", true, &p).unwrap();
        match r {
            Request::Pty(x) => {
                assert_eq!(
                    (
                        x.term_env_var.as_str(),
                        x.terminal_width_characters,
                        x.terminal_height_rows
                    ),
                    ("xterm", 80, 24)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Request::from_ssh_wire("exec", true, &[0, 0, 0, 9, b'l']).is_err());
        assert!(matches!(
            Request::from_ssh_wire("keepalive@openssh.com", true, b"").unwrap(),
            Request::Unknown(_)
        ));
        assert!(matches!(
            Request::decode(*b"ZZZZ", b"x"),
            Err(Error::UnknownChunkType { .. })
        ));
        assert!(Request::decode(CHUNK_EXEC, b"").is_err());
    }
}
