//! Narrowing: which index terms a line must hold for a pattern to match it.
//!
//! Lines are indexed by the **trigrams** (three consecutive characters) of their *folded* text:
//! every character replaced by the smallest character of its simple case-folding class (the
//! classes the `regex` crate uses for `-i`), so one index serves case-sensitive and
//! case-insensitive queries alike.
//!
//! A pattern is narrowed by literals that every match must contain, found with
//! `regex-syntax`'s literal extractor on the pattern (and on each part of a top-level
//! concatenation, since a match of `ab` holds a match of `a` and one of `b`): when every match
//! of a part starts (or ends) with one of a finite set of literals, each at least three
//! characters long, a matching line holds all the trigrams of at least one of them. Lines
//! selected this way are then confirmed by the same [`Matcher`](crate::search::Matcher) the scan
//! uses, so narrowing can only make a query faster, never change its hits. A pattern with no
//! such literals (`.`, `a|b`, `\w+`, anything shorter than three characters) is not narrowed:
//! every stored line is confirmed.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange, Hir, HirKind};
use std::collections::BTreeSet;

/// Trigrams kept per literal (spread over it): enough to narrow, few enough to stay cheap.
const MAX_GRAMS_PER_LITERAL: usize = 24;
/// Alternative literals accepted for one part; more and the part does not narrow.
const MAX_LITERALS: usize = 64;
/// Parts of a concatenation whose filters are combined.
const MAX_PARTS: usize = 4;

/// The canonical character of `c`'s simple case-folding class: its smallest member.
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        // ASCII letters' classes (k also holds the Kelvin sign, s the long s) start with the
        // capital.
        return c.to_ascii_uppercase();
    }
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class.ranges().first().map_or(c, |r| r.start())
}

/// The distinct trigrams of `text`, folded.
pub fn trigrams(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().map(fold_char).collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// A filter: a line passes when, for every part, it holds all the trigrams of one of the part's
/// alternatives. `None` from [`plan`] means no filter (confirm every line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Parts, all required; each a list of alternatives, each a set of trigrams (all required).
    pub parts: Vec<Vec<BTreeSet<String>>>,
}

/// The filter for the regular expression `pattern` (as [`regex::Regex::as_str`] gives it), or
/// `None` when it cannot be narrowed.
pub fn plan(pattern: &str) -> Option<Plan> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let mut candidates = vec![&hir];
    let mut inner = &hir;
    while let HirKind::Capture(c) = inner.kind() {
        inner = &c.sub;
    }
    if let HirKind::Concat(subs) = inner.kind() {
        candidates.extend(subs.iter());
    }
    let mut parts: Vec<Vec<BTreeSet<String>>> = candidates
        .into_iter()
        .filter_map(part_filter)
        .collect::<Vec<_>>();
    // The strongest first: the alternative with the fewest trigrams decides.
    parts.sort_by_key(|p| std::cmp::Reverse(p.iter().map(BTreeSet::len).min().unwrap_or(0)));
    parts.dedup();
    parts.truncate(MAX_PARTS);
    (!parts.is_empty()).then_some(Plan { parts })
}

/// The alternatives of one sub-expression, from its prefix or its suffix literals (the better).
fn part_filter(hir: &Hir) -> Option<Vec<BTreeSet<String>>> {
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| alternatives(&Extractor::new().kind(kind).extract(hir)))
        .max_by_key(|alts| alts.iter().map(BTreeSet::len).min().unwrap_or(0))
}

fn alternatives(seq: &Seq) -> Option<Vec<BTreeSet<String>>> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > MAX_LITERALS {
        return None;
    }
    let mut alts = Vec::with_capacity(lits.len());
    for lit in lits {
        // A literal cut by the extractor's limits may end (or, for a suffix, start) inside a
        // character: only its whole characters are used.
        let mut grams = BTreeSet::new();
        for chunk in lit.as_bytes().utf8_chunks() {
            grams.extend(trigrams(chunk.valid()));
        }
        if grams.is_empty() {
            return None;
        }
        alts.push(spread(grams));
    }
    alts.sort();
    alts.dedup();
    Some(alts)
}

impl Plan {
    /// Whether a line with the (folded) trigrams `grams` passes the filter: what the tantivy
    /// query asks, on one line.
    pub fn admits(&self, grams: &BTreeSet<String>) -> bool {
        self.parts
            .iter()
            .all(|alts| alts.iter().any(|need| need.is_subset(grams)))
    }
}

/// At most [`MAX_GRAMS_PER_LITERAL`] of `grams`, spread over the set.
fn spread(grams: BTreeSet<String>) -> BTreeSet<String> {
    let n = grams.len();
    if n <= MAX_GRAMS_PER_LITERAL {
        return grams;
    }
    let step = n.div_ceil(MAX_GRAMS_PER_LITERAL);
    grams.into_iter().step_by(step).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn folding_joins_each_case_class() {
        assert_eq!(fold_char('k'), fold_char('K'));
        assert_eq!(fold_char('k'), fold_char('\u{212a}'));
        assert_eq!(fold_char('s'), fold_char('\u{17f}'));
        assert_eq!(fold_char('σ'), fold_char('Σ'));
        assert_eq!(fold_char('ς'), fold_char('Σ'));
        assert_eq!(fold_char('é'), fold_char('É'));
        assert_ne!(fold_char('a'), fold_char('b'));
        assert_eq!(fold_char('✓'), '✓');
    }

    use proptest::prelude::*;

    /// Characters whose case classes are tricky, plus separators and digits.
    const ALPHABET: &[char] = &[
        'a', 'A', 'k', 'K', '\u{212a}', 's', 'S', '\u{17f}', 'σ', 'ς', 'Σ', 'é', 'É', 'ß', 'ẞ',
        '-', '0', '7', ' ', '.', '✓',
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(ALPHABET), 0..24)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        /// Narrowing never loses a line the matcher accepts: for a literal taken from the line
        /// (its case changed or not, with or without -i) and for regexes built around it.
        #[test]
        fn a_matching_line_is_always_a_candidate(
            line in text(),
            start in 0usize..24,
            len in 0usize..12,
            flip in proptest::collection::vec(any::<bool>(), 12),
            other in text(),
            ci in any::<bool>(),
            shape in 0usize..5,
        ) {
            let chars: Vec<char> = line.chars().collect();
            let from = start.min(chars.len());
            let to = (from + len).min(chars.len());
            let lit: String = chars[from..to]
                .iter()
                .zip(flip.iter().chain(std::iter::repeat(&false)))
                .map(|(c, f)| {
                    if *f {
                        c.to_uppercase().next().unwrap_or(*c)
                    } else {
                        *c
                    }
                })
                .collect();
            let (e, o) = (regex::escape(&lit), regex::escape(&other));
            let pattern = match shape {
                0 => lit.clone(),
                1 => format!("{e}\\d*"),
                2 => format!("({e}|{o})"),
                3 => format!(".?{e}.*"),
                _ => format!("{o}{e}"),
            };
            let regex = shape != 0;
            let m = crate::search::Matcher::new(&pattern, regex, ci).unwrap();
            if m.is_match(&line)
                && let Some(p) = plan(m.regex().as_str())
            {
                prop_assert!(p.admits(&trigrams(&line)), "{pattern:?} -i={ci} on {line:?}: {p:?}");
            }
        }
    }

    #[test]
    fn literals_narrow_and_short_or_open_patterns_do_not() {
        let p = plan(&regex::escape("needle-001")).unwrap();
        assert_eq!(p.parts[0].len(), 1);
        assert!(p.parts[0][0].contains("NEE"));
        assert!(plan(r"NEEDLE-\d+").is_some());
        assert!(plan(r"\d+ needle").is_some());
        assert!(plan("foo|barbaz").is_some());
        assert_eq!(plan("(foo|barbaz)").unwrap().parts[0].len(), 2);
        for open in ["ab", ".", r"\w+", "a|bcd", "", r"[a-z]{5}"] {
            assert_eq!(plan(open), None, "{open}");
        }
    }
}
