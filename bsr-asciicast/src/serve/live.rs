//! **Live**: watching a recording while it is written (docs/SERVE.md, "Live").
//!
//! A recording in a local folder that is not finished (its verdict is `incomplete`) can be
//! watched at `/live/{id}`: a page with asciinema-player on its `eventsource` driver, fed by
//! `/api/v1/sessions/{id}/live`, a Server-Sent Events stream in the protocol that driver reads
//! (the same as asciinema's live streams):
//!
//! * `data: {"cols":C,"rows":R,"time":T,"init":"…"}`: reset the terminal to C×R, draw `init`
//!   (the screen now, as escape sequences from the emulator's dump) and set the clock to T
//!   seconds from the cast's start;
//! * `data: [t,"o","…"]`: output at t seconds, as in an asciicast v2 file;
//! * `data: {"state":"offline"}`: the writer is gone and the recording is unfinished;
//! * `event: done`: the channel is done (the stream ends).
//!
//! Each viewer gets its own [`Follower`] and the live converter
//! ([`crate::convert::follow`]) on a blocking thread. The backlog (everything already durable
//! when the viewer joins) is not sent event by event: it is fed to an emulator ([`avt`]), and
//! once the converter is caught up ([`IdleHook`]) its screen is sent as the reset's `init`, so
//! a viewer who joins late sees the current screen at once. From then on each output chunk is
//! sent as it becomes durable.
//!
//! What it shows and does not: only the terminal's output (`o` events), never the input
//! stream, so a password typed at a prompt that did not echo it is not shown. The data is not
//! verified (no checksum or signature exists before the recording is finished): the page says
//! so, and the finished recording is watched on its replay page, through the gate. Every JSON
//! value is serialised by serde_json, so recording text cannot end an SSE field (a newline is
//! always `\n` inside a JSON string). Viewers are bounded ([`MAX_VIEWERS`]); a viewer who
//! leaves is noticed at the next keep-alive ([`KEEPALIVE`]) and its thread ends.
//!
//! Recordings are listed when the server starts: a recording that begins after that is not
//! listed until the server is restarted.

use crate::convert::follow::{FollowEnd, FollowSelection, IdleHook, convert_follow_idle};
use crate::convert::{ConvertContext, ConvertOptions, Format};
use crate::html::{PLAYER_CSS, PLAYER_JS, esc, json_for_script};
use crate::term::clamp_size;
use avt::Terminal;
use bsr_core::read::follow::{FollowOptions, Follower};
use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often a quiet stream checks that its viewer is still there (and sends a keep-alive).
pub const TICK: Duration = Duration::from_secs(1);
/// Longest a stream stays silent: a comment line is sent after this, which also tells the
/// server that a viewer has gone.
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// Most live viewers at once (each holds a blocking thread and a follower).
pub const MAX_VIEWERS: usize = 32;
/// Seconds without any change in an unfinished recording after which its writer is taken to
/// be gone (the stream then says `offline` and ends).
pub const WRITER_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest single cast line the feed accepts (an output chunk, JSON-escaped).
pub const MAX_LINE: usize = 64 << 20;

static VIEWERS: AtomicUsize = AtomicUsize::new(0);

/// A place among the [`MAX_VIEWERS`]; freed when dropped.
#[derive(Debug)]
pub struct ViewerSlot(());

impl ViewerSlot {
    /// Takes a place, or `None` when [`MAX_VIEWERS`] are watching.
    pub fn take() -> Option<Self> {
        VIEWERS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_VIEWERS).then_some(n + 1)
            })
            .ok()
            .map(|_| ViewerSlot(()))
    }
}

impl Drop for ViewerSlot {
    fn drop(&mut self) {
        VIEWERS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Turns the live converter's cast lines into the SSE messages (see the module
/// documentation): the backlog into an emulator, then the screen, then each event.
pub struct Feed<W: Write> {
    out: W,
    term: Option<Terminal>,
    size: Option<(usize, usize)>,
    last_t: f64,
    caught_up: bool,
    pending: Vec<u8>,
    last_sent: Instant,
    /// Messages sent (the reset included).
    pub messages: u64,
}

impl<W: Write> std::fmt::Debug for Feed<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("size", &self.size)
            .field("last_t", &self.last_t)
            .field("caught_up", &self.caught_up)
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Feed<W> {
    /// A feed writing SSE to `out`.
    pub fn new(out: W) -> Self {
        Feed {
            out,
            term: None,
            size: None,
            last_t: 0.0,
            caught_up: false,
            pending: Vec::new(),
            last_sent: Instant::now(),
            messages: 0,
        }
    }

    /// Sends one SSE message (`event` is its type; `None`: a plain message).
    fn send(&mut self, event: Option<&str>, data: &str) -> std::io::Result<()> {
        if let Some(e) = event {
            writeln!(self.out, "event: {e}")?;
        }
        // `data` is one line of JSON: serde_json escapes every control character.
        writeln!(self.out, "data: {data}\n")?;
        self.out.flush()?;
        self.messages += 1;
        self.last_sent = Instant::now();
        Ok(())
    }

    fn send_reset(&mut self) -> std::io::Result<()> {
        let Some((cols, rows)) = self.size else {
            return Ok(());
        };
        let init = self.term.take().map(|t| t.dump()).unwrap_or_default();
        let msg =
            serde_json::json!({"cols": cols, "rows": rows, "time": self.last_t, "init": init});
        self.send(None, &msg.to_string())
    }

    /// Everything durable so far has been read: the first call sends the reset with the
    /// current screen; later ones send a keep-alive when the stream has been silent for
    /// [`KEEPALIVE`] (a viewer who left makes it fail).
    pub fn idle(&mut self) -> std::io::Result<()> {
        if !self.caught_up {
            self.caught_up = true;
            return self.send_reset();
        }
        if self.last_sent.elapsed() >= KEEPALIVE {
            self.out.write_all(b": keep-alive\n\n")?;
            self.out.flush()?;
            self.last_sent = Instant::now();
        }
        Ok(())
    }

    /// Ends the stream: `done` when the channel is done, `offline` then `done` when the
    /// writer is gone.
    pub fn end(&mut self, end: &FollowEnd) -> std::io::Result<()> {
        if !self.caught_up {
            self.caught_up = true;
            self.send_reset()?;
        }
        if let FollowEnd::WriterGone { .. } = end {
            self.send(None, r#"{"state":"offline"}"#)?;
        }
        self.send(Some("done"), "{}")
    }

    fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| bad(&format!("live cast line: {e}")))?;
        if self.size.is_none() {
            // The header (the live converter writes v2).
            let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            let (c, r, _) = clamp_size(
                u32::try_from(n("width")).unwrap_or(u32::MAX),
                u32::try_from(n("height")).unwrap_or(u32::MAX),
            );
            self.size = Some((c, r));
            if self.caught_up {
                return self.send_reset();
            }
            self.term = Some(Terminal::new(c, r).map_err(|e| bad(&e.to_string()))?);
            return Ok(());
        }
        let (Some(t), Some(kind), Some(data)) = (
            v.get(0).and_then(serde_json::Value::as_f64),
            v.get(1).and_then(serde_json::Value::as_str),
            v.get(2).and_then(serde_json::Value::as_str),
        ) else {
            return Err(bad("live cast line: not an event"));
        };
        // Only output: markers (the live warning) are on the page, input is never shown.
        if kind != "o" {
            return Ok(());
        }
        self.last_t = t;
        if self.caught_up {
            let msg = serde_json::json!([t, "o", data]);
            return self.send(None, &msg.to_string());
        }
        if let Some(term) = self.term.as_mut() {
            term.feed(data);
        }
        Ok(())
    }
}

/// The [`Write`] end the live converter writes its cast into; complete lines go to the
/// [`Feed`].
struct Sink<W: Write>(Rc<RefCell<Feed<W>>>);

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut f = self.0.borrow_mut();
        f.pending.extend_from_slice(b);
        while let Some(nl) = f.pending.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = f.pending.drain(..=nl).collect();
            f.line(&line[..nl])?;
        }
        if f.pending.len() > MAX_LINE {
            return Err(std::io::Error::other(format!(
                "a live cast line longer than {MAX_LINE} bytes"
            )));
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Follows the recording folder `dir` and writes the SSE stream of its selected channel to
/// `out` until the channel is done, the writer is gone, or `out` fails (the viewer left).
pub fn stream<W: Write>(
    dir: &Path,
    sel: &FollowSelection,
    writer_timeout: Duration,
    out: W,
) -> Result<(), String> {
    let opts = FollowOptions {
        writer_timeout,
        ..FollowOptions::default()
    };
    let mut follower = Follower::open(dir, opts).map_err(|e| e.to_string())?;
    let feed = Rc::new(RefCell::new(Feed::new(out)));
    let conv = ConvertOptions {
        format: Format::V2,
        ..ConvertOptions::default()
    };
    let ctx = ConvertContext {
        max_output_bytes: super::MAX_CAST_BYTES,
        ..ConvertContext::default()
    };
    let hook_feed = feed.clone();
    let mut call = move || hook_feed.borrow_mut().idle();
    let hook = IdleHook {
        tick: TICK,
        call: &mut call,
    };
    let done = convert_follow_idle(
        &mut follower,
        sel,
        &conv,
        &ctx,
        Sink(feed.clone()),
        Some(hook),
    )
    .map_err(|e| crate::human::escape(&e.to_string()))?;
    feed.borrow_mut().end(&done.end).map_err(|e| e.to_string())
}

/// The warning at the top of the live page.
pub const PAGE_WARNING: &str = "WARNING: LIVE, UNVERIFIED CONTENT: this recording is still being written, so its checksums and signatures do not exist yet and nothing shown here has been checked. Once it is finished, its replay page shows it verified.";

const LIVE_JS: &str = include_str!("live.js");
const LIVE_CSS: &str = "body{font-family:system-ui,sans-serif;margin:1em 2em}\
.warning{background:#fff3cd;border:1px solid #c9a400;padding:.5em 1em}\
#status{color:#555}";

fn hash(s: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()))
    )
}

fn style() -> String {
    format!("{PLAYER_CSS}\n{LIVE_CSS}")
}

/// The live page's Content-Security-Policy: the player's and the page's scripts by hash, its
/// stylesheet by hash, and connections to this server only (the event stream).
pub fn live_policy() -> String {
    format!(
        "default-src 'none'; script-src {} {} 'wasm-unsafe-eval'; style-src {}; img-src 'none'; \
         connect-src 'self'; font-src 'none'; media-src 'none'; object-src 'none'; \
         frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        hash(PLAYER_JS),
        hash(LIVE_JS),
        hash(&style())
    )
}

/// The live page of recording `id`, fed from `stream_url`.
pub fn live_page(id: &str, stream_url: &str) -> Result<String, serde_json::Error> {
    let data = json_for_script(&serde_json::json!({"url": stream_url, "id": id}))?;
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>Live: {title}</title>\n<style>{style}</style>\n</head>\n<body>\n\
         <p><a href=\"/\">&larr; Session Logs</a></p>\n<h1>Live: {title}</h1>\n\
         <p class=\"warning\" id=\"live-warning\">{warning}</p>\n\
         <p id=\"status\">connecting&hellip;</p>\n<div id=\"player\"></div>\n\
         <p class=\"note\">Only the terminal's output is shown, never what was typed. When the \
         recording is finished, its verified replay is at <a href=\"/sessions/{href}\">/sessions/{title}</a>.</p>\n\
         <script type=\"application/json\" id=\"bsr-live\">{data}</script>\n\
         <script>{PLAYER_JS}</script>\n<script>{LIVE_JS}</script>\n</body>\n</html>\n",
        csp = esc(&live_policy()),
        title = esc(id),
        href = super::pages::url_encode(id),
        style = style(),
        warning = esc(PAGE_WARNING),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(out: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(out)
            .split("\n\n")
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_backlog_becomes_one_screen_then_events_follow() -> std::io::Result<()> {
        let mut f = Feed::new(Vec::new());
        f.line(br#"{"version":2,"width":20,"height":3}"#)?;
        f.line(br#"[0.5,"o","one\r\ntwo\r\nthree\r\nfour"]"#)?;
        f.line(br#"[0.6,"m","a marker"]"#)?;
        assert!(
            f.out.is_empty(),
            "nothing is sent before the backlog is read"
        );
        f.idle()?;
        f.line(br#"[1.25,"o","\r\nfive </script>"]"#)?;
        f.end(&FollowEnd::ChannelDone)?;
        let m = messages(&f.out);
        assert_eq!(m.len(), 3, "{m:?}");
        let reset: serde_json::Value =
            serde_json::from_str(m[0].strip_prefix("data: ").unwrap_or_default())?;
        assert_eq!(reset["cols"], 20);
        assert_eq!(reset["rows"], 3);
        assert_eq!(reset["time"], 0.5);
        let init = reset["init"].as_str().unwrap_or_default();
        // The screen (3 rows) holds the last three lines; "one" scrolled away.
        assert!(init.contains("two") && init.contains("four"), "{init:?}");
        assert!(!init.contains("one"), "{init:?}");
        assert_eq!(m[1], r#"data: [1.25,"o","\r\nfive </script>"]"#);
        assert_eq!(m[2], "event: done\ndata: {}");
        Ok(())
    }

    #[test]
    fn a_viewer_who_joins_before_the_channel_starts_gets_an_empty_screen() -> std::io::Result<()> {
        let mut f = Feed::new(Vec::new());
        f.idle()?;
        assert!(f.out.is_empty());
        f.line(br#"{"version":2,"width":80,"height":24}"#)?;
        f.line(br#"[0.1,"o","hi"]"#)?;
        f.end(&FollowEnd::WriterGone { open: Vec::new() })?;
        let m = messages(&f.out);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].contains(r#""cols":80"#) && m[0].contains(r#""init":"""#));
        assert_eq!(m[1], r#"data: [0.1,"o","hi"]"#);
        assert_eq!(m[2], r#"data: {"state":"offline"}"#);
        Ok(())
    }

    #[test]
    fn recording_text_cannot_break_out_of_an_sse_field() -> std::io::Result<()> {
        let mut f = Feed::new(Vec::new());
        f.line(br#"{"version":2,"width":80,"height":24}"#)?;
        f.idle()?;
        f.line(br#"[0.1,"o","a\n\ndata: {\"state\":\"offline\"}\r\nevent: done\n"]"#)?;
        let m = messages(&f.out);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[1].starts_with("data: [0.1,") && !m[1].contains('\n'));
        Ok(())
    }

    #[test]
    fn viewer_slots_are_bounded_and_freed() {
        let held: Vec<ViewerSlot> = std::iter::from_fn(ViewerSlot::take).take(1000).collect();
        assert!(held.len() <= MAX_VIEWERS);
        assert!(ViewerSlot::take().is_none());
        drop(held);
        assert!(ViewerSlot::take().is_some());
    }
}
