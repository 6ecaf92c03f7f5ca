//! The per-channel tasks: one reads the upstream side of a channel (records and relays
//! data, EOF, close, exit status and signals, flow control, and collects the upstream's
//! answers), one reads the client side for the client's answers to relayed requests.
//! Writes to the client wait for its window, so SSH flow control stays end to end.

use super::requests;
use crate::recorder::{Event, Recorder};
use bsr_core::ssh::Request;
use bsr_core::{Direction, Timestamp};
use bytes::Bytes;
use russh::server::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, server};
use tokio::sync::mpsc;

/// Reads the client side of a channel for the client's answers to the requests the proxy
/// relayed to it (everything else on it is also handed to the handler callbacks).
pub(super) async fn client_replies_reader(
    mut client: ChannelReadHalf,
    replies: mpsc::Sender<bool>,
) {
    while let Some(msg) = client.wait().await {
        match msg {
            ChannelMsg::Success => {
                let _ = replies.try_send(true);
            }
            ChannelMsg::Failure => {
                let _ = replies.try_send(false);
            }
            _ => {}
        }
    }
}

/// Writes upstream data (`ext`: the extended-data code) to the client, waiting for the client's
/// window so that back-pressure reaches the upstream.
async fn write_to_client(client: &ChannelWriteHalf<Msg>, data: Bytes, ext: Option<u32>) -> bool {
    match ext {
        None => client.data_bytes(data).await.is_ok(),
        Some(ext) => client.extended_data_bytes(ext, data).await.is_ok(),
    }
}

/// Reads the upstream side of a channel: records what the upstream sends and writes it to the
/// client; hands the upstream's answers to forwarded requests to the handler (`replies`).
pub(super) async fn upstream_reader(
    mut up: ChannelReadHalf,
    client: ChannelWriteHalf<Msg>,
    handle: server::Handle,
    rec: Option<Recorder>,
    key: u64,
    replies: mpsc::Sender<bool>,
) {
    let id = client.id();
    let record = |ev: Event| {
        let rec = rec.clone();
        async move {
            match rec {
                Some(r) => r.send(ev).await.is_ok(),
                None => true,
            }
        }
    };
    let out = |req: Request| Event::Request {
        key,
        dir: Direction::Outbound,
        time: Timestamp::now(),
        req,
    };
    let out_data = |data: Bytes| Event::Data {
        key,
        dir: Direction::Outbound,
        time: Timestamp::now(),
        data,
    };
    while let Some(msg) = up.wait().await {
        let ok = match msg {
            ChannelMsg::Data { data } => {
                record(out_data(data.clone())).await && write_to_client(&client, data, None).await
            }
            ChannelMsg::ExtendedData { data, ext } => {
                record(out_data(data.clone())).await
                    && write_to_client(&client, data, Some(ext)).await
            }
            ChannelMsg::Eof => client.eof().await.is_ok(),
            ChannelMsg::Close => break,
            ChannelMsg::ExitStatus { exit_status } => {
                let ok = record(out(requests::exit_status(exit_status))).await;
                ok && client.exit_status(exit_status).await.is_ok()
            }
            ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                lang_tag,
            } => {
                let ok = record(out(requests::exit_signal(
                    &signal_name,
                    core_dumped,
                    &error_message,
                    &lang_tag,
                )))
                .await;
                ok && handle
                    .exit_signal_request(id, signal_name, core_dumped, error_message, lang_tag)
                    .await
                    .is_ok()
            }
            ChannelMsg::XonXoff { client_can_do } => {
                let ok = record(out(requests::xon_xoff(client_can_do))).await;
                ok && handle.xon_xoff_request(id, client_can_do).await.is_ok()
            }
            ChannelMsg::Success => {
                let _ = replies.try_send(true);
                true
            }
            ChannelMsg::Failure => {
                let _ = replies.try_send(false);
                true
            }
            _ => true,
        };
        if !ok {
            if rec.as_ref().is_some_and(|r| r.failure().is_some()) {
                // A recording failure: the supervisor ends the session with the reason. Do
                // not close the client's channel here: a client that sees its session channel
                // close exits (OpenSSH with status 255) before it reads the DISCONNECT that
                // says why.
                return;
            }
            break;
        }
    }
    let _ = client.close().await;
    if let Some(r) = &rec {
        let _ = r
            .send(Event::Closed {
                key,
                client_side: false,
                time: Timestamp::now(),
            })
            .await;
    }
}
