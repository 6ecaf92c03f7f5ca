//! RFC 3339 formatting compatible with Go's `time.Time` JSON encoding.

use crate::format::Timestamp;
use chrono::{DateTime, Datelike, Timelike, Utc};

/// Go's `RFC3339Nano` in UTC: `2023-09-19T15:05:39.343307163Z`, trailing zeros of the
/// fraction trimmed, no fraction at all for whole seconds.
pub(crate) fn format_rfc3339_nano(t: Timestamp) -> String {
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
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
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
