//! `--hidden-input`: the inbound bytes of keystrokes the terminal did not echo.
//!
//! The `commands` view decides which commands were typed without echo (a password prompt:
//! `[input not echoed: N keystrokes]`) and says which keystroke characters they were
//! ([`crate::commands::CommandRecord::keystroke_chars`]). Those character ranges are mapped
//! back to bytes of the inbound stream by decoding it again, chunk by chunk, exactly as the
//! replay does ([`crate::utf8::Utf8Stream`]). Where a chunk's text is not its bytes re-encoded
//! (invalid UTF-8 replaced by U+FFFD), every character of that chunk's text maps to the chunk's
//! whole byte span: this can only redact more.

use super::RedactError;
use crate::commands::commands;
use crate::convert::ChannelFiles;
use crate::term::TextError;
use crate::utf8::Utf8Stream;
use bsr_core::read::ChunkStream;
use bsr_core::read::structure::StreamKind;
use std::ops::Range;

/// The character ranges of the commands of `files` that were typed without echo; empty for a
/// channel without a terminal.
pub(super) fn hidden_chars(
    files: &ChannelFiles,
    limit: usize,
) -> Result<Vec<Range<u64>>, RedactError> {
    let mut out = Vec::new();
    let res = commands(files, |_, rec| {
        if !rec.echoed() && !rec.keystroke_chars.is_empty() {
            if out.len() >= limit {
                return Err(TextError::Malformed(format!(
                    "more than {limit} commands typed without echo"
                )));
            }
            out.push(rec.keystroke_chars.clone());
        }
        Ok(())
    });
    match res {
        Ok(_) => Ok(out),
        Err(TextError::NotInteractive(_)) => Ok(Vec::new()),
        Err(e) => Err(RedactError::Text(e)),
    }
}

/// Maps character ranges (sorted, non-overlapping) of the inbound stream of `path` to byte
/// ranges of it. `digest` is the SHA-256 the file verified with.
pub(super) fn chars_to_bytes(
    files: &ChannelFiles,
    path: &str,
    digest: Option<[u8; 32]>,
    chars: &[Range<u64>],
) -> Result<Vec<Range<u64>>, RedactError> {
    let store = &*files.store;
    let mut s = ChunkStream::new(store.open(path)?, &store.describe(path))
        .with_sha256()
        .with_structure(StreamKind::Messages);
    let mut dec = Utf8Stream::new();
    let mut text = String::new();
    let mut out: Vec<Range<u64>> = Vec::new();
    let (mut pos, mut c0) = (0u64, 0u64);
    let mut next = 0usize;
    while let Some(c) = s.next_chunk()? {
        if !c.is_data() {
            continue;
        }
        let data = c.data()?;
        let (before, replaced) = (dec.pending() as u64, dec.replaced);
        text.clear();
        dec.push(&data, &mut text);
        let after = dec.pending() as u64;
        let len = data.len() as u64;
        let span = pos.saturating_sub(before)..pos + len - after;
        let exact = dec.replaced == replaced && text.len() as u64 == span.end - span.start;
        map_text(&text, c0, span, exact, chars, &mut next, &mut out);
        c0 += text.chars().count() as u64;
        pos += len;
    }
    let end = s.finish()?;
    super::check_digest(path, digest, end.sha256)?;
    text.clear();
    let before = dec.pending() as u64;
    dec.finish(&mut text);
    map_text(
        &text,
        c0,
        pos.saturating_sub(before)..pos,
        false,
        chars,
        &mut next,
        &mut out,
    );
    Ok(out)
}

/// Maps the wanted character ranges that meet `text` (characters `c0..`, bytes `span`).
fn map_text(
    text: &str,
    c0: u64,
    span: Range<u64>,
    exact: bool,
    chars: &[Range<u64>],
    next: &mut usize,
    out: &mut Vec<Range<u64>>,
) {
    let n = text.chars().count() as u64;
    let c1 = c0 + n;
    let mut i = *next;
    while let Some(want) = chars.get(i) {
        if want.start >= c1 {
            break;
        }
        let lo = want.start.max(c0);
        let hi = want.end.min(c1);
        if lo < hi {
            let r = if exact {
                let byte = |k: u64| {
                    text.char_indices()
                        .nth((k - c0) as usize)
                        .map_or(text.len(), |(b, _)| b) as u64
                };
                span.start + byte(lo)..span.start + byte(hi)
            } else {
                span.clone()
            };
            match out.last_mut() {
                Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
                _ => out.push(r),
            }
        }
        if want.end <= c1 {
            i += 1;
        } else {
            break;
        }
    }
    *next = i;
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    #[test]
    fn characters_map_to_their_bytes() {
        let mut out = Vec::new();
        let mut next = 0;
        // "aé€x" at stream bytes 10..17, characters 5..9.
        map_text("aé€x", 5, 10..17, true, &[6..8], &mut next, &mut out);
        assert_eq!(out, [11..16]);
        // Not exact: the whole span.
        let mut out = Vec::new();
        let mut next = 0;
        map_text("a\u{fffd}", 0, 0..2, false, &[1..2], &mut next, &mut out);
        assert_eq!(out, [0..2]);
        // A range over two texts continues into the next.
        let mut out = Vec::new();
        let mut next = 0;
        map_text("ab", 0, 0..2, true, &[1..3], &mut next, &mut out);
        assert_eq!(next, 0);
        map_text("cd", 2, 2..4, true, &[1..3], &mut next, &mut out);
        assert_eq!((out, next), (vec![1..3], 1));
    }
}
