//! The proto3 messages of `BSSH` request chunks (`ssh.v1`, field numbers of spec §3).

/// A request message: `request_type` (field 1), then the fields given.
macro_rules! request_message {
    ($(#[$m:meta])* $name:ident, $rt:literal { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, prost::Message)]
        pub struct $name {
            #[doc = concat!("`", $rt, "`.")]
            #[prost(string, tag = "1")]
            pub request_type: String,
            $($body)*
        }
    };
}

/// A channel-open message: `request_type` and the three numbers every channel open carries
/// (fields 1–4), then the message's own fields.
macro_rules! channel_open {
    ($(#[$m:meta])* $name:ident, $rt:literal { $($body:tt)* }) => {
        request_message! {
            $(#[$m])* $name, $rt {
                /// Sender channel.
                #[prost(uint32, tag = "2")]
                pub sender_channel: u32,
                /// Initial window size.
                #[prost(uint32, tag = "3")]
                pub initial_window_size: u32,
                /// Maximum packet size.
                #[prost(uint32, tag = "4")]
                pub maximum_packet_size: u32,
                $($body)*
            }
        }
    };
}

/// A channel or global request message: `request_type` and `want_reply` (fields 1–2), then
/// the message's own fields.
macro_rules! channel_request {
    ($(#[$m:meta])* $name:ident, $rt:literal { $($body:tt)* }) => {
        request_message! {
            $(#[$m])* $name, $rt {
                /// want-reply.
                #[prost(bool, tag = "2")]
                pub want_reply: bool,
                $($body)*
            }
        }
    };
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

channel_open! {
    /// `SessionRequest`: a `session` channel open.
    SessionRequest, "session" {}
}

channel_open! {
    /// `X11Request`: an `x11` channel open.
    X11Request, "x11" {
        /// Originator address.
        #[prost(string, tag = "5")]
        pub originator_address: String,
        /// Originator port.
        #[prost(uint32, tag = "6")]
        pub originator_port: u32,
    }
}

channel_open! {
    /// `ForwardedTCPIPRequest`: a `forwarded-tcpip` channel open.
    ForwardedTcpipRequest, "forwarded-tcpip" {
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
}

channel_open! {
    /// `DirectTCPIPRequest`: a `direct-tcpip` channel open (port forwarding, `ssh -L`).
    DirectTcpipRequest, "direct-tcpip" {
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
}

channel_request! {
    /// `PtyRequest`: `pty-req`.
    PtyRequest, "pty-req" {
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
}

channel_request! {
    /// `X11ForwardingRequest`: `x11-req`.
    X11ForwardingRequest, "x11-req" {
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
}

channel_request! {
    /// `EnvRequest`: `env`.
    EnvRequest, "env" {
        /// Name.
        #[prost(string, tag = "3")]
        pub variable_name: String,
        /// Value.
        #[prost(string, tag = "4")]
        pub variable_value: String,
    }
}

channel_request! {
    /// `ShellRequest`: `shell`.
    ShellRequest, "shell" {
    }
}

channel_request! {
    /// `ExecRequest`: `exec`.
    ExecRequest, "exec" {
        /// Command line.
        #[prost(string, tag = "3")]
        pub command: String,
    }
}

channel_request! {
    /// `SubsystemRequest`: `subsystem`.
    SubsystemRequest, "subsystem" {
        /// Subsystem name (`sftp`).
        #[prost(string, tag = "3")]
        pub subsystem_name: String,
    }
}

channel_request! {
    /// `WindowChangeRequest`: `window-change`.
    WindowChangeRequest, "window-change" {
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
}

channel_request! {
    /// `XonXoffRequest`: `xon-xoff`.
    XonXoffRequest, "xon-xoff" {
        /// Client can do flow control.
        #[prost(bool, tag = "3")]
        pub client_can_do: bool,
    }
}

channel_request! {
    /// `SignalRequest`: `signal`.
    SignalRequest, "signal" {
        /// Signal name without `SIG` (`INT`).
        #[prost(string, tag = "3")]
        pub signal_name: String,
    }
}

channel_request! {
    /// `ExitStatusRequest`: `exit-status`.
    ExitStatusRequest, "exit-status" {
        /// Exit status.
        #[prost(uint32, tag = "3")]
        pub exit_status: u32,
    }
}

channel_request! {
    /// `ExitSignalRequest`: `exit-signal`.
    ExitSignalRequest, "exit-signal" {
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
}

channel_request! {
    /// `BreakRequest`: `break`.
    BreakRequest, "break" {
        /// Break length in milliseconds.
        #[prost(uint32, tag = "3")]
        pub break_length_ms: u32,
    }
}

channel_request! {
    /// `TCPIPForwardRequest`: the `tcpip-forward` global request (`ssh -R`).
    TcpipForwardRequest, "tcpip-forward" {
        /// Address to bind.
        #[prost(string, tag = "3")]
        pub address_to_bind: String,
        /// Port to bind.
        #[prost(uint32, tag = "4")]
        pub port_to_bind: u32,
    }
}

channel_request! {
    /// `CancelTCPIPForwardRequest`: `cancel-tcpip-forward`.
    CancelTcpipForwardRequest, "cancel-tcpip-forward" {
        /// Address to bind.
        #[prost(string, tag = "3")]
        pub address_to_bind: String,
        /// Port to bind.
        #[prost(uint32, tag = "4")]
        pub port_to_bind: u32,
    }
}
