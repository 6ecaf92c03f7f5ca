//! The `BSSH` protocol: chunk types and their proto3 payloads (`ssh.v1` messages of spec §3,
//! encoded with prost derive; field numbers are the wire contract).
//!
//! Rooms: `messages` (the proto3 request messages), `wire` (building requests from RFC 4254
//! wire payloads), `program` (the session program a channel runs, decided once for the
//! writer, recovery and the converter), and this module (the [`Request`] table and decoding).
//!
//! Imports: [`crate::error`], [`crate::format`], and [`crate::read::chunk`] (to decode a
//! chunk's payload).
//!
//! ```
//! use bsr_core::ssh::{Request, EnvRequest};
//! let r = Request::Env(EnvRequest { request_type: "env".into(), want_reply: false,
//!     variable_name: "SHELL".into(), variable_value: "/bin/fish".into() });
//! let bytes = r.encode();
//! assert_eq!(Request::decode(*b"ENVR", &bytes)?, r);
//! # Ok::<(), bsr_core::Error>(())
//! ```

use crate::error::{Error, Location, Result};
use crate::format::Header;
use crate::format::{CHUNK_DATA, CHUNK_DONE, CHUNK_HEAD, PROTOCOL_SSH};
use crate::read::chunk::Chunk;
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

mod messages;
mod program;
mod wire;

pub use messages::*;
pub use program::{SessionProgram, classify_exec};

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
