//! Splitting an archive between independent workers (`--shard K/N`) and merging their reports
//! (`bsr-verify merge`).
//!
//! * **Assignment.** A recording belongs to shard `K` of `N` (`K` is 0-based, as Kubernetes'
//!   `JOB_COMPLETION_INDEX` and Nomad's `NOMAD_ALLOC_INDEX` are) when the first 8 bytes of
//!   SHA-256 of its **recording id**, read as a big-endian integer, are `K` modulo `N`. The
//!   recording id is the name of the recording folder without `.bsr` (Boundary names the folder
//!   after the session recording id, `sr_…`), so a local folder and an `s3://` prefix holding
//!   the same recording put it in the same shard, and a recording never changes shard as the
//!   archive grows. No worker needs to know about another.
//! * **Report.** A shard's JSON-lines report ends with a summary that records the shard, the
//!   options (a [fingerprint](Options::fingerprint)), the listing the shard saw (count and a
//!   digest of every recording in it, not only its own) and the recordings it covered, and a
//!   SHA-256 chain over the report's lines.
//! * **Merge.** [`merge`] refuses shards that are missing, given twice, ran with other options,
//!   saw another listing, covered a recording twice or covered a recording that is not theirs,
//!   and a shard report whose lines do not agree with its own summary or chain.
//!
//! The chain has no key: it detects a truncated or edited report (a line changed, dropped or
//! added without the summary being rewritten to match), not a forger who rewrites the summary
//! and recomputes the chain. For that, sign the report files or keep them in a write-once
//! bucket (see `docs/SCALE.md`).

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Schema of the summary line of `bsr-verify --json` and of `bsr-verify merge`.
pub const SUMMARY_SCHEMA: &str = "bsr-verify/summary/v1";

/// A shard: `k` of `n`, `k` 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// This shard, `0..n`.
    pub k: u32,
    /// Number of shards, at least 1.
    pub n: u32,
}

/// Why `--shard` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardError {
    /// Not of the form `K/N` with decimal numbers.
    #[error("{0:?} is not K/N (e.g. 0/8, or \"$JOB_COMPLETION_INDEX/8\")")]
    Syntax(String),
    /// `N` is 0.
    #[error("N must be at least 1")]
    Zero,
    /// `K` is not below `N`.
    #[error("K={k} is not below N={n}: K is 0-based (0..{n}), as JOB_COMPLETION_INDEX is")]
    OutOfRange {
        /// K.
        k: u32,
        /// N.
        n: u32,
    },
}

impl std::str::FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let bad = || ShardError::Syntax(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let num = |t: &str| -> Result<u32, ShardError> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse().map_err(|_| bad())
        };
        let (k, n) = (num(k)?, num(n)?);
        if n == 0 {
            return Err(ShardError::Zero);
        }
        if k >= n {
            return Err(ShardError::OutOfRange { k, n });
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// Whether the recording at listing entry `entry` (a store path ending in the recording
    /// folder) belongs to this shard.
    pub fn contains(&self, entry: &str) -> bool {
        shard_of(recording_id(entry), self.n) == self.k
    }
}

/// The recording id of a listing entry: the last path component without `.bsr`.
pub fn recording_id(entry: &str) -> &str {
    let name = entry.rsplit('/').next().unwrap_or(entry);
    name.strip_suffix(bsr_core::format::SESSION_DIR_SUFFIX)
        .unwrap_or(name)
}

/// The shard (`0..n`) of recording id `id`: SHA-256(id)[0..8] as big-endian, modulo `n`.
pub fn shard_of(id: &str, n: u32) -> u32 {
    let h = Sha256::digest(id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(b) % u64::from(n.max(1))) as u32
}

/// What a run saw: every recording of every target (not only its shard's), counted and
/// digested as the listing streams by, with nothing kept per recording.
///
/// The digest does not depend on the order the entries came in (a folder's entries arrive in
/// the file system's order, an object store's in key order): it is SHA-256 over the count and
/// the sum, modulo 2²⁵⁶, of SHA-256 of each entry. Two runs over the same archive agree on it
/// however they listed it. Like the report chain, it detects mistakes (another listing, a
/// recording left out), not a forger who chooses recording names to collide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    count: u64,
    sum: [u64; 4],
    /// Things the search skipped (symbolic links) or targets with no recordings.
    pub unseen: u64,
}

impl Listing {
    /// A listing of `entries`.
    pub fn new<S: AsRef<str>>(entries: impl IntoIterator<Item = S>, unseen: u64) -> Self {
        let mut l = Listing {
            unseen,
            ..Listing::default()
        };
        for e in entries {
            l.add(e.as_ref());
        }
        l
    }
    /// Adds one entry (a recording's store path).
    pub fn add(&mut self, entry: &str) {
        let h = Sha256::digest(entry.as_bytes());
        let mut carry = 0u128;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[i * 8..i * 8 + 8]);
            let v = u128::from(*limb) + u128::from(u64::from_le_bytes(b)) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        self.count += 1;
    }
    /// Adds every entry of `other` (a listing of another target of the same run).
    pub fn absorb(&mut self, other: &Listing) {
        let mut carry = 0u128;
        for (limb, o) in self.sum.iter_mut().zip(other.sum) {
            let v = u128::from(*limb) + u128::from(o) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        self.count += other.count;
        self.unseen += other.unseen;
    }
    /// Number of entries.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The order-independent digest (hex).
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"bsr-verify listing v2\n");
        h.update(self.count.to_le_bytes());
        for limb in self.sum {
            h.update(limb.to_le_bytes());
        }
        hex::encode(h.finalize())
    }
    /// The `listing` object of the summary.
    pub fn to_json(&self) -> Value {
        json!({"count": self.count, "digest": self.digest(), "unseen": self.unseen})
    }
}

/// The options that can change a verdict, as recorded in a report and compared by [`merge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Options {
    /// The tool and its version (another version may judge differently).
    pub tool: String,
    /// The command (`verify`).
    pub command: String,
    /// The KEK's key id (`kek_` + 8 hex digits of SHA-256 of the KEK), if `--kek` was given.
    pub kek: Option<String>,
    /// Hex SHA-256 of the `--recorder-key` file's bytes, if given.
    pub recorder_keys: Option<String>,
    /// Whether the object store's own checksums were compared.
    pub store_checksums: bool,
}

impl Options {
    /// Hex SHA-256 of the canonical JSON of these options (keys sorted).
    pub fn fingerprint(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }
    /// The `options` object of the summary.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("fingerprint".into(), Value::String(self.fingerprint()));
        }
        v
    }
}

/// The SHA-256 chain over a shard report's lines.
#[derive(Debug, Clone)]
pub struct Chain(Sha256, [u8; 32]);

impl Chain {
    /// The chain's start, bound to the shard and the options. The listing, which a streaming
    /// run knows only at its end, is bound by [`Chain::seal`].
    pub fn start(shard: Shard, options_fingerprint: &str) -> Self {
        let seed: [u8; 32] = Sha256::digest(
            format!("bsr-verify shard chain v2\n{shard}\n{options_fingerprint}\n").as_bytes(),
        )
        .into();
        Chain(Sha256::new(), seed)
    }
    /// Adds one line (without its newline).
    pub fn push(&mut self, line: &[u8]) {
        let mut h = std::mem::take(&mut self.0);
        h.update(self.1);
        h.update(line);
        self.1 = h.finalize_reset().into();
        self.0 = h;
    }
    /// The chain's final value (hex), bound to the listing the run saw.
    pub fn seal(&self, listing_digest: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.1);
        h.update(b"listing ");
        h.update(listing_digest.as_bytes());
        hex::encode(h.finalize())
    }
}

/// The worst verdict in `counts` (by [`crate::Verdict::rank`]), as an exit code; 2 when the
/// listing had something unseen or nothing at all.
pub fn exit_code(counts: &BTreeMap<String, u64>, listing_count: u64, unseen: u64) -> i32 {
    use crate::Verdict::Error;
    let worst = crate::report::ALL_VERDICTS
        .into_iter()
        .filter(|v| counts.get(v.key()).is_some_and(|c| *c > 0))
        .max_by_key(|v| v.rank());
    let mut code = worst.map_or(0, |w| w.exit_code());
    if unseen > 0 || listing_count == 0 {
        // As the single run does: an unseen part makes the run an error unless worse.
        let w = worst.map_or(0, |w| w.rank());
        if w < Error.rank() {
            code = Error.exit_code();
        }
    }
    code
}

/// The summary object of a run (with `shard` when it is a shard's).
pub fn summary(
    counts: &BTreeMap<String, u64>,
    options: &Options,
    listing: &Listing,
    shard: Option<(Shard, &[String], &Chain)>,
) -> Value {
    let total: u64 = counts.values().sum();
    let mut v = json!({
        "schema": SUMMARY_SCHEMA,
        "recordings": total,
        "verdicts": counts,
        "exit_code": exit_code(counts, listing.count, listing.unseen),
        "options": options.to_json(),
        "listing": listing.to_json(),
    });
    if let (Some((s, covered, chain)), Value::Object(o)) = (shard, &mut v) {
        o.insert(
            "shard".into(),
            json!({"k": s.k, "n": s.n, "covered": covered, "chain": chain.seal(&listing.digest())}),
        );
    }
    v
}

/// Why [`merge`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// A report is not a complete shard report.
    #[error("{file}: {reason}")]
    BadReport {
        /// The report's name.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Reports that do not belong together, or do not add up to the whole.
    #[error("{0}")]
    Inconsistent(String),
}

struct Parsed {
    file: String,
    shard: Shard,
    options: Value,
    listing: Value,
    counts: BTreeMap<String, u64>,
    covered: Vec<String>,
}

fn parse_report(file: &str, text: &str) -> Result<Parsed, MergeError> {
    let bad = |reason: String| MergeError::BadReport {
        file: file.to_string(),
        reason,
    };
    let body = text
        .strip_suffix('\n')
        .ok_or_else(|| bad("does not end with a newline: truncated?".into()))?;
    let lines: Vec<&str> = body.split('\n').collect();
    let (last, reports) = lines
        .split_last()
        .ok_or_else(|| bad("empty report".into()))?;
    let sum: Map<String, Value> = serde_json::from_str(last)
        .map_err(|e| bad(format!("last line is not a JSON summary: {e}")))?;
    if sum.get("schema").and_then(Value::as_str) != Some(SUMMARY_SCHEMA) {
        return Err(bad(format!(
            "last line is not a {SUMMARY_SCHEMA} summary: truncated?"
        )));
    }
    let sh = sum
        .get("shard")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the summary has no `shard`: not a --shard run".into()))?;
    let num = |o: &Map<String, Value>, k: &str| {
        o.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("summary field `{k}` missing or not a number")))
    };
    let (k, n) = (num(sh, "k")?, num(sh, "n")?);
    let shard = Shard {
        k: u32::try_from(k).map_err(|_| bad("shard k too large".into()))?,
        n: u32::try_from(n).map_err(|_| bad("shard n too large".into()))?,
    };
    if shard.n == 0 || shard.k >= shard.n {
        return Err(bad(format!("shard {shard} is out of range")));
    }
    let options = sum.get("options").cloned().unwrap_or(Value::Null);
    let listing = sum.get("listing").cloned().unwrap_or(Value::Null);
    let fp = options
        .get("fingerprint")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("summary has no options fingerprint".into()))?;
    let ld = listing
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("summary has no listing digest".into()))?;
    // The options fingerprint must be the options' own.
    let opts: Options = Options {
        tool: str_field(&options, "tool"),
        command: str_field(&options, "command"),
        kek: options
            .get("kek")
            .and_then(Value::as_str)
            .map(str::to_string),
        recorder_keys: options
            .get("recorder_keys")
            .and_then(Value::as_str)
            .map(str::to_string),
        store_checksums: options
            .get("store_checksums")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    if opts.to_json() != options {
        return Err(bad(
            "the options do not match their fingerprint (edited?)".into()
        ));
    }
    let mut chain = Chain::start(shard, fp);
    let mut counts = BTreeMap::<String, u64>::new();
    let mut seen = BTreeSet::<String>::new();
    for (i, line) in reports.iter().enumerate() {
        chain.push(line.as_bytes());
        let at = |r: &str| bad(format!("line {}: {r}", i + 1));
        let v: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| at(&format!("not JSON: {e}")))?;
        let rec = v
            .get("recording")
            .and_then(Value::as_str)
            .ok_or_else(|| at("no `recording`"))?;
        let verdict = v
            .get("verdict")
            .and_then(Value::as_str)
            .ok_or_else(|| at("no `verdict`"))?;
        let known = crate::report::ALL_VERDICTS
            .iter()
            .find(|x| x.key() == verdict)
            .ok_or_else(|| at(&format!("unknown verdict {verdict:?}")))?;
        if v.get("exit_code").and_then(Value::as_i64) != Some(i64::from(known.exit_code())) {
            return Err(at("`exit_code` does not match `verdict` (edited?)"));
        }
        if !shard.contains(rec) {
            return Err(at(&format!(
                "{rec:?} does not belong to shard {shard} (recording id {:?} hashes to shard {})",
                recording_id(rec),
                shard_of(recording_id(rec), shard.n)
            )));
        }
        if !seen.insert(rec.to_string()) {
            return Err(at(&format!("{rec:?} reported twice")));
        }
        *counts.entry(verdict.to_string()).or_default() += 1;
    }
    if sh.get("chain").and_then(Value::as_str) != Some(chain.seal(ld).as_str()) {
        return Err(bad("the chain over the report lines does not match the summary: a line was changed, added or removed (or the summary was)".into()));
    }
    let covered: Vec<String> = sh
        .get("covered")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("summary has no `covered` list".into()))?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("`covered` holds a non-string".into()))?;
    if covered.iter().cloned().collect::<BTreeSet<_>>() != seen || covered.len() != seen.len() {
        return Err(bad(
            "`covered` does not list exactly the recordings of the report lines".into(),
        ));
    }
    let sum_counts: BTreeMap<String, u64> = sum
        .get("verdicts")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(|| bad("summary has no `verdicts`".into()))?;
    let nonzero = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| (k.clone(), *c))
            .collect()
    };
    if nonzero(&sum_counts) != nonzero(&counts)
        || sum.get("recordings").and_then(Value::as_u64) != Some(seen.len() as u64)
    {
        return Err(bad(
            "the summary's counts do not add up to its report lines (edited?)".into(),
        ));
    }
    Ok(Parsed {
        file: file.to_string(),
        shard,
        options,
        listing,
        counts,
        covered,
    })
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Merges the reports of all N shards of one run, given as (name, contents), into the summary
/// that one run over the whole listing gives (without `shard`).
pub fn merge(reports: &[(String, String)]) -> Result<Value, MergeError> {
    let parsed: Vec<Parsed> = reports
        .iter()
        .map(|(f, t)| parse_report(f, t))
        .collect::<Result<_, _>>()?;
    let first = parsed
        .first()
        .ok_or_else(|| MergeError::Inconsistent("no shard reports given".into()))?;
    let n = first.shard.n;
    let mut by_k: BTreeMap<u32, &str> = BTreeMap::new();
    for p in &parsed {
        if p.shard.n != n {
            return Err(MergeError::Inconsistent(format!(
                "{} is shard {} but {} is shard {}: different N",
                p.file, p.shard, first.file, first.shard
            )));
        }
        if p.options != first.options {
            return Err(MergeError::Inconsistent(format!(
                "{} ran with other options than {} (fingerprint {} vs {}): {} vs {}",
                p.file,
                first.file,
                str_field(&p.options, "fingerprint"),
                str_field(&first.options, "fingerprint"),
                p.options,
                first.options
            )));
        }
        if p.listing != first.listing {
            return Err(MergeError::Inconsistent(format!(
                "{} saw another listing than {}: {} vs {} (the archive changed between the shards' runs, or they were given other targets)",
                p.file, first.file, p.listing, first.listing
            )));
        }
        if let Some(other) = by_k.insert(p.shard.k, &p.file) {
            return Err(MergeError::Inconsistent(format!(
                "shard {} appears twice: {other} and {}",
                p.shard, p.file
            )));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|k| !by_k.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Inconsistent(format!(
            "shard(s) missing: {} (got {} of {n})",
            missing.join(", "),
            by_k.len()
        )));
    }
    let mut all: BTreeMap<&str, &str> = BTreeMap::new();
    let mut counts = BTreeMap::<String, u64>::new();
    for p in &parsed {
        for c in &p.covered {
            if let Some(other) = all.insert(c, &p.file) {
                return Err(MergeError::Inconsistent(format!(
                    "{c:?} was covered twice: by {other} and by {}",
                    p.file
                )));
            }
        }
        for (k, c) in &p.counts {
            *counts.entry(k.clone()).or_default() += c;
        }
    }
    let keys: Vec<&str> = all.keys().copied().collect();
    let count = first.listing.get("count").and_then(Value::as_u64);
    if count != Some(keys.len() as u64)
        || first.listing.get("digest").and_then(Value::as_str)
            != Some(Listing::new(&keys, 0).digest().as_str())
    {
        return Err(MergeError::Inconsistent(format!(
            "the shards together covered {} recording(s), which are not the listing they saw ({}): a recording was left out",
            keys.len(),
            first.listing
        )));
    }
    let unseen = first
        .listing
        .get("unseen")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(json!({
        "schema": SUMMARY_SCHEMA,
        "recordings": keys.len(),
        "verdicts": counts,
        "exit_code": exit_code(&counts, keys.len() as u64, unseen),
        "options": first.options,
        "listing": first.listing,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_digest_ignores_order_and_adds_up() {
        let names: Vec<String> = (0..50).map(|i| format!("d{}/sr_{i}.bsr", i % 3)).collect();
        let mut rev = names.clone();
        rev.reverse();
        let a = Listing::new(&names, 0);
        assert_eq!(a.digest(), Listing::new(&rev, 0).digest());
        assert_eq!(a.count(), 50);
        let mut parts = Listing::new(&names[..20], 0);
        parts.absorb(&Listing::new(&names[20..], 0));
        assert_eq!(parts, a);
        // One entry more, less or different gives another digest.
        assert_ne!(Listing::new(&names[1..], 0).digest(), a.digest());
        let mut other = names.clone();
        other[7] = "d1/sr_x.bsr".into();
        assert_ne!(Listing::new(&other, 0).digest(), a.digest());
        let mut twice = names.clone();
        twice.push(names[0].clone());
        assert_ne!(Listing::new(&twice, 0).digest(), a.digest());
    }
}
