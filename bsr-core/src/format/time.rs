//! [`Timestamp`], the time of a chunk, and its RFC 3339 form (compatible with Go's `time.Time`
//! JSON encoding).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A timestamp as stored in a chunk: seconds since the Unix epoch and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: u64,
    /// Nanoseconds, 0..=999_999_999.
    pub nanos: u32,
}

impl Timestamp {
    /// New timestamp (nanos must be ≤ 999 999 999 to be encodable).
    pub const fn new(secs: u64, nanos: u32) -> Self {
        Timestamp { secs, nanos }
    }
    /// The current system time (times before 1970 clamp to 0).
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        }
    }
    /// Nanoseconds since the epoch, as i128 (never overflows).
    pub fn as_nanos(self) -> i128 {
        self.secs as i128 * 1_000_000_000 + self.nanos as i128
    }
    /// From nanoseconds since the epoch (negative clamps to 0).
    pub fn from_nanos(n: i128) -> Self {
        if n <= 0 {
            return Timestamp::default();
        }
        let secs = (n / 1_000_000_000).min(u64::MAX as i128) as u64;
        Timestamp {
            secs,
            nanos: (n % 1_000_000_000) as u32,
        }
    }
    /// RFC 3339 in UTC with nanoseconds trimmed of trailing zeros (Go's `RFC3339Nano`,
    /// the format of `time.Time` in Boundary's summary JSON).
    pub fn to_rfc3339(self) -> String {
        format_rfc3339_nano(self)
    }
    /// Parse RFC 3339 (any offset, any number of fraction digits up to 9).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        parse_rfc3339(s)
    }
}

/// Go's `RFC3339Nano` in UTC: `2023-09-19T15:05:39.343307163Z`, trailing zeros of the
/// fraction trimmed, no fraction at all for whole seconds.
fn format_rfc3339_nano(t: Timestamp) -> String {
    let secs = i64::try_from(t.secs).unwrap_or(i64::MAX);
    let dt = DateTime::<Utc>::from_timestamp(secs, t.nanos.min(999_999_999))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let n = dt.nanosecond() % 1_000_000_000;
    if n != 0 {
        let frac = format!("{n:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parse RFC 3339 with any offset; returns `None` for anything else or pre-1970 times.
fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    let secs = u64::try_from(dt.timestamp()).ok()?;
    Some(Timestamp {
        secs,
        nanos: dt.timestamp_subsec_nanos().min(999_999_999),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_format() {
        assert_eq!(
            format_rfc3339_nano(Timestamp::new(1_695_135_939, 343_307_163)),
            "2023-09-19T15:05:39.343307163Z"
        );
        assert_eq!(
            format_rfc3339_nano(Timestamp::new(1_678_963_623, 14)),
            "2023-03-16T10:47:03.000000014Z"
        );
        assert_eq!(
            format_rfc3339_nano(Timestamp::new(1_678_963_623, 500_000_000)),
            "2023-03-16T10:47:03.5Z"
        );
        assert_eq!(
            format_rfc3339_nano(Timestamp::new(0, 0)),
            "1970-01-01T00:00:00Z"
        );
        let t = Timestamp::new(1_695_135_939, 343_307_163);
        assert_eq!(parse_rfc3339(&format_rfc3339_nano(t)), Some(t));
        assert_eq!(
            parse_rfc3339("2023-09-19T17:05:39.5+02:00"),
            Some(Timestamp::new(1_695_135_939, 500_000_000))
        );
        assert_eq!(parse_rfc3339("nope"), None);
    }
}
