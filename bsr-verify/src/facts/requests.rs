//! Request files: their decoded requests (kept by verification, or read here) and the events
//! they give.

use super::{Event, Facts, MAX_EVENTS_PER_RECORDING};
use crate::verify::Seen;
use bsr_core::format::{Direction, Timestamp};
use bsr_core::read::ChunkStream;
use bsr_core::ssh::Request;
use bsr_core::store::ReadStore;
use serde_json::{Map, Value, json};

/// Builds an event: name, time, container path, connection id, channel id, fields.
pub(super) type EventBuilder<'a> = dyn Fn(&'static str, Timestamp, &str, Option<&str>, Option<&str>, Map<String, Value>) -> Event
    + 'a;

/// The requests of one request file, in order: kept by the verification that just read the
/// file ([`Seen::requests`]), or read here (read and decode errors go to `f.errors`).
fn requests_of(
    store: &dyn ReadStore,
    path: &str,
    seen: &Seen,
    f: &mut Facts,
) -> Vec<(Timestamp, Request)> {
    if let Some(r) = seen.requests.get(path) {
        return r.clone();
    }
    let mut out = Vec::new();
    // Check the kind first (without following links or opening): opening a FIFO blocks.
    let reader = match store.size(path).and_then(|_| store.open(path)) {
        Ok(r) => r,
        Err(e) => {
            f.read_error(e.chain());
            return out;
        }
    };
    let mut s = ChunkStream::new(reader, path);
    loop {
        let c = match s.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                f.read_error(e.chain());
                break;
            }
        };
        if c.is_head() || c.is_done() || c.is_data() {
            continue;
        }
        if out.len() > MAX_EVENTS_PER_RECORDING {
            break;
        }
        match c.data().and_then(|d| Request::decode(c.chunk_type, &d)) {
            Ok(r) => out.push((c.time, r)),
            Err(e) => f.read_error(e.chain()),
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub(super) fn request_events(
    store: &dyn ReadStore,
    path: &str,
    dir: Direction,
    container: &str,
    conn: Option<&str>,
    chan: Option<&str>,
    base: &EventBuilder<'_>,
    ev: &mut Vec<Event>,
    f: &mut Facts,
    seen: &Seen,
) {
    for (t, req) in requests_of(store, path, seen, f) {
        if ev.len() >= MAX_EVENTS_PER_RECORDING {
            f.read_error(format!(
                "{path}: more than {MAX_EVENTS_PER_RECORDING} events; the rest are left out"
            ));
            break;
        }
        let mut m = Map::new();
        m.insert("direction".into(), json!(dir.as_str()));
        let name: &'static str = match &req {
            Request::Pty(p) => {
                m.insert("term".into(), json!(p.term_env_var));
                m.insert("cols".into(), json!(p.terminal_width_characters));
                m.insert("rows".into(), json!(p.terminal_height_rows));
                "session.pty"
            }
            Request::WindowChange(w) => {
                m.insert("cols".into(), json!(w.terminal_width_columns));
                m.insert("rows".into(), json!(w.terminal_height_rows));
                "resize"
            }
            Request::Env(e) => {
                m.insert("name".into(), json!(e.variable_name));
                m.insert("value".into(), json!(e.variable_value));
                "session.env"
            }
            Request::Exec(e) => {
                f.commands.push(e.command.clone());
                m.insert("command".into(), json!(e.command));
                "session.command"
            }
            Request::Shell(_) => "session.shell",
            Request::Subsystem(x) => {
                m.insert("subsystem".into(), json!(x.subsystem_name));
                "session.subsystem"
            }
            Request::Signal(x) => {
                m.insert("signal".into(), json!(x.signal_name));
                "session.signal"
            }
            Request::ExitStatus(x) => {
                f.exit_statuses.push(x.exit_status);
                m.insert("exit_status".into(), json!(x.exit_status));
                "session.exit"
            }
            Request::ExitSignal(x) => {
                f.exit_signals.push(x.signal_name.clone());
                m.insert("signal".into(), json!(x.signal_name));
                m.insert("core_dumped".into(), json!(x.core_dumped));
                m.insert("message".into(), json!(x.error_message));
                "session.exit_signal"
            }
            Request::DirectTcpip(x) => {
                let dst = (x.host.as_str(), x.port);
                let src = (x.originator_ip_address.as_str(), x.originator_port);
                network(&mut m, "direct-tcpip", dst, src)
            }
            Request::ForwardedTcpip(x) => {
                let dst = (x.address.as_str(), x.port);
                let src = (x.originator_ip_address.as_str(), x.originator_port);
                network(&mut m, "forwarded-tcpip", dst, src)
            }
            Request::TcpipForward(x) => {
                m.insert("action".into(), json!("tcpip-forward"));
                m.insert("bind_addr".into(), json!(x.address_to_bind));
                m.insert("bind_port".into(), json!(x.port_to_bind));
                "session.network"
            }
            Request::CancelTcpipForward(x) => {
                m.insert("action".into(), json!("cancel-tcpip-forward"));
                m.insert("bind_addr".into(), json!(x.address_to_bind));
                m.insert("bind_port".into(), json!(x.port_to_bind));
                "session.network"
            }
            Request::X11Forwarding(_) => "session.x11_forwarding",
            Request::X11(x) => {
                m.insert("src_addr".into(), json!(x.originator_address));
                m.insert("src_port".into(), json!(x.originator_port));
                "session.x11"
            }
            Request::Session(_) => "session.channel_request",
            Request::Break(x) => {
                m.insert("length_ms".into(), json!(x.break_length_ms));
                "session.break"
            }
            Request::XonXoff(x) => {
                m.insert("client_can_do".into(), json!(x.client_can_do));
                "session.xon_xoff"
            }
            Request::Unknown(u) => {
                m.insert("request_type".into(), json!(u.request_type));
                m.insert("data_len".into(), json!(u.data.len()));
                "session.request"
            }
        };
        if name == "session.channel_request" {
            continue; // the channel.open event carries this
        }
        ev.push(base(name, t, container, conn, chan, m));
    }
}

/// The fields of a `session.network` event for a channel opened to `dst` from `src`.
fn network(
    m: &mut Map<String, Value>,
    action: &str,
    (dst_host, dst_port): (&str, u32),
    (src_addr, src_port): (&str, u32),
) -> &'static str {
    m.insert("action".into(), json!(action));
    m.insert("dst_host".into(), json!(dst_host));
    m.insert("dst_port".into(), json!(dst_port));
    m.insert("src_addr".into(), json!(src_addr));
    m.insert("src_port".into(), json!(src_port));
    "session.network"
}
