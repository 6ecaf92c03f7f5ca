//! The verdict on a recording, from its problems and its trust chain.

use crate::report::{Check, Class, Problem, Severity, TrustReport, Verdict};

/// Whether an error of a class matching `f` was found.
fn has(problems: &[Problem], f: impl Fn(Class) -> bool) -> bool {
    problems
        .iter()
        .any(|p| p.severity == Severity::Error && f(p.class))
}

/// The verdict: anything changed or malformed is invalid; then a key that does not match a
/// given anchor; then read errors; then an unfinished recording; then authenticity.
pub(crate) fn decide(problems: &[Problem], finished: bool, trust: &TrustReport) -> Verdict {
    if has(problems, |c| {
        matches!(
            c,
            Class::Integrity | Class::Authentication | Class::Malformed | Class::Structure
        )
    }) {
        Verdict::Invalid
    } else if has(problems, |c| c == Class::KeyMismatch) {
        Verdict::KeyMismatch
    } else if has(problems, |c| c == Class::Io) {
        Verdict::Error
    } else if !finished || has(problems, |c| c == Class::Incomplete) {
        Verdict::Incomplete
    } else if trust.mode.established()
        && trust.self_signature == Check::Passed
        && trust.checksum_signatures == Check::Passed
    {
        Verdict::Authentic
    } else {
        Verdict::Unauthenticated
    }
}
