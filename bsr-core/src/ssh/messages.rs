//! The proto3 messages of `BSSH` request chunks (`ssh.v1`, field numbers of spec §3).

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
