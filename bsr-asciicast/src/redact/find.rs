//! Finding pattern matches in a channel direction's data with bounded memory.
//!
//! The data of a stream (the DATA chunks of one `messages-*.data` file, concatenated) is fed
//! in pieces; the finder keeps a window of at most `2 × max_match` bytes. Whenever the window
//! is full, every pattern is searched in it (leftmost-first, non-overlapping, as
//! `regex::bytes::Regex::find_iter`), and the matches that *start* in the first half are kept;
//! the first half is then dropped, so consecutive windows overlap by `max_match` bytes.
//!
//! The bound, and what it guarantees:
//! * memory: the window (`2 × max_match` bytes) plus the ranges found;
//! * a match of at most `max_match` bytes lies inside one window before its start leaves the
//!   window, so it is found whole, wherever the chunk boundaries fall;
//! * a longer match of a greedy run (`a+`, `(?s).+`, `[A-Za-z0-9]+`) is cut at the window's
//!   end and continued from there in the next window (windows never start inside a UTF-8
//!   character): it is covered by adjacent ranges, so it is still redacted whole;
//! * but a longer match that needs what follows it (an anchor such as `$`, a suffix) is only
//!   found when it fits in a window: give `--max-match` at least the longest secret;
//! * anchors and word boundaries see the window's edges as the text's edges, so `^` or `$`
//!   may also match at a window's edge (more redacted, never a shorter match);
//! * empty matches redact nothing;
//! * time: the `regex` crate never backtracks (`(a+)+$` is linear); each byte is searched at
//!   most twice per pattern, and a window's search is bounded by the window's size.

use std::ops::Range;

/// One range found: stream offsets and the index of the rule that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Stream offsets.
    pub range: Range<u64>,
    /// The rule.
    pub rule: u32,
}

/// Adds `range` of `rule` to `out`, merged with the last range of the same rule when they
/// touch or overlap; fails with the limit when `out` would hold more than `limit` ranges.
pub(crate) fn push_range(
    out: &mut Vec<Found>,
    range: Range<u64>,
    rule: u32,
    limit: usize,
) -> Result<(), usize> {
    if range.is_empty() {
        return Ok(());
    }
    if let Some(last) = out.iter_mut().rev().find(|f| f.rule == rule)
        && range.start <= last.range.end
        && range.end >= last.range.start
    {
        last.range.start = last.range.start.min(range.start);
        last.range.end = last.range.end.max(range.end);
        return Ok(());
    }
    if out.len() >= limit {
        return Err(limit);
    }
    out.push(Found { range, rule });
    Ok(())
}

/// The windowed multi-pattern search over one stream.
#[derive(Debug)]
pub struct Finder<'r> {
    patterns: &'r [(u32, regex::bytes::Regex)],
    max_match: usize,
    limit: usize,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Per pattern: the stream offset from which its next search starts.
    next: Vec<u64>,
    found: Vec<Found>,
}

impl<'r> Finder<'r> {
    /// A finder for `patterns` (each with its rule index), keeping matches of up to
    /// `max_match` bytes whole (at least 1), and at most `limit` ranges.
    pub fn new(patterns: &'r [(u32, regex::bytes::Regex)], max_match: usize, limit: usize) -> Self {
        let max_match = max_match.max(1);
        Finder {
            patterns,
            max_match,
            limit,
            buf: Vec::with_capacity(2 * max_match),
            base: 0,
            next: vec![0; patterns.len()],
            found: Vec::new(),
        }
    }

    /// Feeds the next bytes of the stream. Fails with the limit when more than `limit` ranges
    /// were found.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), usize> {
        if self.patterns.is_empty() {
            return Ok(());
        }
        while !data.is_empty() {
            let room = 2 * self.max_match - self.buf.len();
            let (now, rest) = data.split_at(room.min(data.len()));
            self.buf.extend_from_slice(now);
            data = rest;
            if self.buf.len() == 2 * self.max_match {
                self.scan(false)?;
            }
        }
        Ok(())
    }

    /// Searches what is left and returns the ranges found, per rule in stream order.
    pub fn finish(mut self) -> Result<Vec<Found>, usize> {
        if !self.patterns.is_empty() {
            self.scan(true)?;
        }
        Ok(self.found)
    }

    fn scan(&mut self, eof: bool) -> Result<(), usize> {
        let len = self.buf.len();
        // Matches starting before `commit` are decided; the rest waits for more data.
        let mut commit = if eof {
            len
        } else {
            len.saturating_sub(self.max_match)
        };
        // Never start the next window inside a UTF-8 character (a run of `.` or `é+` would
        // stop at a lone continuation byte); always keep some progress.
        let mut back = 0;
        while !eof
            && back < 3
            && commit > 1
            && self.buf.get(commit).is_some_and(|b| b & 0xc0 == 0x80)
        {
            commit -= 1;
            back += 1;
        }
        for (k, (rule, re)) in self.patterns.iter().enumerate() {
            let mut at = (self.next[k].saturating_sub(self.base) as usize).min(len);
            while at <= len {
                let Some(m) = re.find_at(&self.buf, at) else {
                    break;
                };
                if m.start() >= commit && !eof {
                    break;
                }
                let (s, e) = (self.base + m.start() as u64, self.base + m.end() as u64);
                push_range(&mut self.found, s..e, *rule, self.limit)?;
                at = if m.end() > m.start() {
                    m.end()
                } else {
                    m.end() + 1
                };
            }
            self.next[k] = self.base + at.max(commit) as u64;
        }
        self.buf.drain(..commit);
        self.base += commit as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::Regex;

    fn find(pats: &[&str], data: &[u8], piece: usize, max_match: usize) -> Vec<Found> {
        let p: Vec<(u32, Regex)> = pats
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, Regex::new(s).unwrap()))
            .collect();
        let mut f = Finder::new(&p, max_match, 1_000_000);
        for c in data.chunks(piece.max(1)) {
            f.push(c).unwrap();
        }
        f.finish().unwrap()
    }

    #[test]
    fn a_secret_is_found_whatever_the_pieces_and_windows() {
        let mut data = vec![b'x'; 1000];
        for at in [0usize, 17, 255, 511, 990] {
            data[at..at + 10].copy_from_slice(b"tok_123456");
        }
        for piece in [1, 3, 7, 64, 1000] {
            for max_match in [10, 11, 16, 100, 4096] {
                let got = find(&["tok_[0-9]{6}"], &data, piece, max_match);
                let starts: Vec<u64> = got.iter().map(|f| f.range.start).collect();
                assert_eq!(starts, [0, 17, 255, 511, 990], "{piece} {max_match}");
                assert!(got.iter().all(|f| f.range.end - f.range.start == 10));
            }
        }
    }

    proptest::proptest! {
        /// A literal of at most `max_match` bytes: the windowed search finds exactly what one
        /// search over the whole stream finds, however the stream is cut into pieces.
        #[test]
        fn windows_find_what_the_whole_stream_search_finds(
            data in proptest::collection::vec(proptest::sample::select(&b"abx"[..]), 0..300),
            needle in proptest::collection::vec(proptest::sample::select(&b"ab"[..]), 1..6),
            extra in 0usize..12,
            piece in 1usize..40,
        ) {
            let pat = regex::escape(std::str::from_utf8(&needle).unwrap());
            let whole: Vec<Range<u64>> = Regex::new(&pat)
                .unwrap()
                .find_iter(&data)
                .map(|m| m.start() as u64..m.end() as u64)
                .collect();
            let got = find(&[&pat], &data, piece, needle.len() + extra);
            // Adjacent matches merge into one range: compare the bytes covered.
            let covered = |rs: &[Range<u64>]| {
                let mut v = vec![false; data.len()];
                for r in rs {
                    for i in r.clone() {
                        v[i as usize] = true;
                    }
                }
                v
            };
            let got: Vec<Range<u64>> = got.into_iter().map(|f| f.range).collect();
            proptest::prop_assert_eq!(covered(&got), covered(&whole));
        }
    }

    #[test]
    fn hostile_patterns_stay_bounded_and_cover() {
        let data = vec![b'a'; 10_000];
        // Matches everything: adjacent pieces merge into one range over the whole stream.
        assert_eq!(
            find(&["(a+)+$"], &data, 333, 64),
            [Found {
                range: 0..10_000,
                rule: 0
            }]
        );
        assert_eq!(find(&["[a]+"], &data, 1, 16)[0].range, 0..10_000);
        // A run of two-byte characters across windows that would split them.
        let e = "é".repeat(5000);
        for max_match in [2, 3, 5, 64] {
            let got = find(&["(?s).+"], e.as_bytes(), 7, max_match);
            assert_eq!(got[0].range, 0..10_000, "{max_match}: {got:?}");
        }
        // Only empty matches: nothing.
        assert!(find(&["b*", "^", "$"], &data, 100, 16).is_empty());
        // Too many ranges: the limit, not unbounded memory.
        let p = [(0u32, Regex::new("a").unwrap())];
        let mut f = Finder::new(&p, 8, 10);
        let res = f
            .push(b"abababababababababababababab")
            .and_then(|()| f.finish().map(|_| ()));
        assert_eq!(res, Err(10));
    }
}
