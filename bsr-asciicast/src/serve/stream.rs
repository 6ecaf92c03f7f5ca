//! Streaming response bodies: a blocking producer (a conversion, a keyframe, a transcript)
//! writes into a [`ChannelWriter`] on a blocking thread; the body sends each piece as soon as
//! it is written. The channel is bounded, so memory does not grow with the recording, and a
//! client that stops reading for longer than [`SEND_TIMEOUT`] ends the producer.

use axum::body::Body;
use bytes::Bytes;
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

/// Pieces in flight per response.
const DEPTH: usize = 8;
/// Bytes collected before a piece is sent.
const PIECE: usize = 64 * 1024;
/// Longest a producer waits for a slow client to take a piece.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// A `Write` whose bytes become a response body.
#[derive(Debug)]
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    handle: tokio::runtime::Handle,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self, item: Result<Bytes, std::io::Error>) -> std::io::Result<()> {
        let tx = self.tx.clone();
        self.handle
            .block_on(async move { tx.send_timeout(item, SEND_TIMEOUT).await })
            .map_err(|_| std::io::Error::other("the client stopped reading"))
    }

    /// Ends the body with an error (the client sees a cut response, never a partial one that
    /// looks complete).
    pub fn fail(mut self, message: String) {
        let _ = self.send(Err(std::io::Error::other(message)));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        self.send(Ok(piece))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.flush();
        }
    }
}

/// Runs `produce` on a blocking thread and returns the body it writes. `produce`'s error ends
/// the body with an error.
pub fn streamed<F>(produce: F) -> Body
where
    F: FnOnce(&mut ChannelWriter) -> Result<(), String> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(DEPTH);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx,
            handle,
            buf: Vec::with_capacity(PIECE),
        };
        match produce(&mut w) {
            Ok(()) => {
                let _ = w.flush();
            }
            Err(m) => {
                w.buf.clear();
                w.fail(m);
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Body::from_stream(stream)
}
