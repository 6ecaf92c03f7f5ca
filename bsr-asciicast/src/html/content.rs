//! What a page is written from: the verified channel's cast (size-limited), its transcript
//! and command lines, the recording's facts and its session `SHA256SUM`.

use super::{Entry, HtmlError, HtmlOptions, MAX_SUMS};
use crate::convert::{
    ConvertContext, ConvertOptions, Format, SecurityReport, convert, convert_with, select_channel,
};
use crate::verified::Verification;
use bsr_core::format;
use bsr_core::read::Recording;
use bsr_core::store::{ReadStore, join};
use bsr_verify::facts::{Facts, analyze};
use sha2::Digest;
use std::sync::Arc;

/// A `Write` that fails once more than `limit` bytes were written.
struct Limited {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl std::io::Write for Limited {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + b.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("cast size limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The verified parts a page is written from.
pub(super) struct Content {
    pub(super) verification: Verification,
    pub(super) cast: String,
    pub(super) report: SecurityReport,
    pub(super) text: Vec<Entry>,
    pub(super) commands: Vec<Entry>,
    pub(super) facts: Facts,
    pub(super) sums: String,
}

/// Reads and checks the parts of a verified recording that its page shows.
pub(super) fn read_content(
    store: Arc<dyn ReadStore>,
    dir: &str,
    verification: Verification,
    opts: &HtmlOptions,
) -> Result<Content, HtmlError> {
    let rec = Recording::open(store.clone(), dir)?;
    let mut files = select_channel(&rec, opts.connection.as_deref(), opts.channel.as_deref())?;
    verification.pin(&mut files)?;
    let mut out = Limited {
        buf: Vec::new(),
        limit: opts.max_cast_bytes,
        exceeded: false,
    };
    let copts = ConvertOptions {
        format: Format::V2,
        // Never keystrokes: the page holds only what the terminal showed.
        input: false,
        resize: true,
        // Findings are given to the player as markers by the page, with their severity.
        markers: false,
        strict: false,
    };
    // A page that fetches its cast (from `serve`) still needs the report's findings.
    let done = match &opts.cast_url {
        Some(_) => {
            let ctx = ConvertContext {
                max_output_bytes: opts.max_cast_bytes,
                ..ConvertContext::default()
            };
            convert_with(&files, &copts, &ctx, std::io::sink())
        }
        None => convert(&files, &copts, &mut out),
    };
    let done = match done {
        Ok(d) => d,
        Err(_) if out.exceeded => {
            return Err(HtmlError::TooLarge {
                name: files.name.clone(),
                limit: opts.max_cast_bytes,
            });
        }
        Err(e) => return Err(e.into()),
    };
    // convert writes UTF-8 (invalid bytes become U+FFFD); lossy is a no-op guard.
    let cast = String::from_utf8_lossy(&out.buf).into_owned();
    let output_bytes = store.size(&files.messages_outbound)?;
    let (text, commands) = match opts.max_text_bytes {
        Some(limit) if output_bytes > limit => {
            let note = |what: &str| {
                vec![Entry {
                    t: 0.0,
                    text: format!(
                        "[the channel's output ({output_bytes} bytes) is larger than {limit} bytes: its {what} is not listed in this page; the server's API streams it]"
                    ),
                }]
            };
            (note("transcript"), note("command list"))
        }
        _ => text_and_commands(&files)?,
    };
    let (facts, _) = analyze(store.clone(), dir, None);
    let sums_bytes = store.read_limited(&join(dir, format::CHECKSUM_FILE), MAX_SUMS)?;
    if verification.session_sha256sum.as_deref()
        != Some(hex::encode(sha2::Sha256::digest(&sums_bytes)).as_str())
    {
        return Err(HtmlError::Changed(store.describe(dir)));
    }
    let sums = String::from_utf8_lossy(&sums_bytes).into_owned();
    Ok(Content {
        verification,
        cast,
        report: done.report,
        text,
        commands,
        facts,
        sums,
    })
}

/// Most lines a page's Text tab (and, separately, its Commands tab) holds.
pub const MAX_ENTRIES: usize = 200_000;

/// The Text and Commands tabs' lines, from the text view (`crate::text::transcript` and
/// `crate::commands::commands`): what the terminal showed, never keystrokes that it did not
/// echo (such a command shows as `[input not echoed: N keystrokes]`). Times are seconds from
/// the channel's HEAD, the cast's time 0. More than [`MAX_ENTRIES`] lines end with a note.
fn text_and_commands(
    files: &crate::convert::ChannelFiles,
) -> Result<(Vec<Entry>, Vec<Entry>), HtmlError> {
    use crate::term::{TextItem, printable};
    use crate::text::{block_header, offset_seconds};
    let mut text = Vec::new();
    let mut cut = 0u64;
    crate::text::transcript(files, |start, item| {
        if text.len() >= MAX_ENTRIES {
            cut += 1;
            return Ok(());
        }
        match item {
            TextItem::Line(l) => text.push(Entry {
                t: offset_seconds(l.time, start.head),
                text: printable(&l.text).into_owned(),
            }),
            TextItem::AltScreen(b) => {
                let t = offset_seconds(b.start, start.head);
                text.push(Entry {
                    t,
                    text: block_header(b, start.head),
                });
                for r in &b.frame {
                    text.push(Entry {
                        t,
                        text: format!("| {}", printable(r)),
                    });
                }
            }
        }
        Ok(())
    })?;
    if cut > 0 {
        text.push(Entry {
            t: 0.0,
            text: format!("[{cut} more transcript items not shown]"),
        });
    }
    let mut commands = Vec::new();
    crate::commands::commands(files, |start, c| {
        if commands.len() < MAX_ENTRIES {
            commands.push(Entry {
                t: offset_seconds(c.time, start.head),
                text: c.display(),
            });
        }
        Ok(())
    })?;
    Ok((text, commands))
}
