//! The trust chain: the session key files, their self-signature, and the trust anchors (the
//! KMS binding under `--kek`, the recorder attestation under `--recorder-key`).

use super::MAX_SMALL_FILE;
use super::ctx::{Ctx, core_problem, is_not_found};
use crate::report::{Check, Class, TrustMode, TrustReport};
use bsr_core::format;
use bsr_core::keys::{KeyWrapper, RecorderTrust, SessionKeyFiles};
use bsr_core::store::join;
use std::sync::Arc;

/// Trust anchors.
#[derive(Debug, Default, Clone)]
pub struct Trust {
    /// The KMS wrapper that unwraps the BSR key (`--kek`).
    pub kek: Option<Arc<dyn KeyWrapper>>,
    /// Trusted recorder public keys (`--recorder-key`).
    pub recorder: Option<Arc<RecorderTrust>>,
}

impl TrustReport {
    /// Nothing checked yet.
    pub(super) fn unchecked() -> Self {
        TrustReport {
            self_signature: Check::NotChecked,
            checksum_signatures: Check::NotChecked,
            kms_binding: Check::NotChecked,
            recorder_attestation: Check::NotChecked,
            mode: TrustMode::None,
        }
    }
}

/// What established authenticity, from the two anchor checks.
pub(super) fn trust_mode(t: &TrustReport) -> TrustMode {
    match (
        t.kms_binding == Check::Passed,
        t.recorder_attestation == Check::Passed,
    ) {
        (true, true) => TrustMode::KmsRecorder,
        (true, false) => TrustMode::Kms,
        (false, true) => TrustMode::Recorder,
        (false, false) => TrustMode::None,
    }
}

/// Reads and parses the five key files and checks the self-signature; keeps the keys in `cx`.
pub(super) fn load_keys(cx: &mut Ctx, dir: &str, unsigned: bool, trust: &mut TrustReport) {
    let mut raw = Vec::new();
    for name in [
        format::PUB_KEY_FILE,
        format::WRAPPED_BSR_KEY_FILE,
        format::WRAPPED_PRIV_KEY_FILE,
        format::PUB_KEY_SELF_SIG_FILE,
        format::PUB_KEY_BSR_SIG_FILE,
    ] {
        let p = join(dir, name);
        match cx.store.read_limited(&p, MAX_SMALL_FILE) {
            Ok(b) => raw.push(b),
            Err(e) if is_not_found(&e) => {
                cx.err_unless_unsigned(unsigned, "key-file-missing", &p, "key file missing");
                return;
            }
            Err(e) => {
                cx.core_err("unreadable", &p, &e, unsigned);
                return;
            }
        }
    }
    let keys = match SessionKeyFiles::parse(&raw[0], &raw[1], &raw[2], &raw[3], &raw[4]) {
        Ok(k) => k,
        Err(e) => {
            let path = e
                .location()
                .map(|l| join(dir, &l.path))
                .unwrap_or_else(|| dir.to_string());
            cx.core_err("key-file-malformed", &path, &e, unsigned);
            return;
        }
    };
    match keys.verify_self_signature() {
        Ok(()) => trust.self_signature = Check::Passed,
        Err(e) => {
            trust.self_signature = Check::Failed;
            let p = join(dir, format::PUB_KEY_SELF_SIG_FILE);
            cx.core_err_as(Class::Authentication, "self-signature", &p, &e);
        }
    }
    cx.session_id = Some(keys.key_id().to_string());
    cx.keys = Some(keys);
}

/// Checks the trust anchors that were given against the loaded keys. A recording whose keys do
/// not match a given anchor is reported as a key mismatch that names the key, not as tampering
/// (whether it was changed is what the checksum signatures say).
pub(super) fn check_anchors(
    cx: &mut Ctx,
    dir: &str,
    recording_id: &str,
    unsigned: bool,
    trust: &mut TrustReport,
) {
    if let (Some(kek), Some(keys)) = (cx.opts.trust.kek.clone(), cx.keys.as_ref()) {
        if let Err(e) = keys.verify_kms_binding(&*kek) {
            trust.kms_binding = Check::Failed;
            let p = join(dir, format::PUB_KEY_BSR_SIG_FILE);
            let mut pr = core_problem(Class::KeyMismatch, "kms-binding", &p, &e);
            pr.message = format!(
                "the recording's keys do not match the KEK {} (--kek): {}",
                kek.key_id(),
                pr.message
            );
            cx.problems.push(pr);
        } else {
            trust.kms_binding = Check::Passed;
        }
    }
    let (Some(rt), Some(keys)) = (cx.opts.trust.recorder.clone(), cx.keys.as_ref()) else {
        return;
    };
    let p = join(dir, format::RECORDER_ATTESTATION_FILE);
    trust.recorder_attestation = Check::Failed;
    match cx.store.read_limited(&p, MAX_SMALL_FILE) {
        Ok(att) => match rt.verify_attestation(&att, recording_id, keys) {
            Ok(()) => trust.recorder_attestation = Check::Passed,
            Err(e) => {
                let mut pr = core_problem(Class::KeyMismatch, "recorder-attestation", &p, &e);
                pr.message = format!(
                    "the recording is not attested by a trusted recorder key (--recorder-key): {}",
                    pr.message
                );
                cx.problems.push(pr);
            }
        },
        // A crash can come before the attestation is written: then it is what a crash leaves.
        Err(e) if is_not_found(&e) => cx.err(
            if unsigned {
                Class::Incomplete
            } else {
                Class::Authentication
            },
            "no-recorder-attestation",
            &p,
            "the recording has no recorder attestation",
        ),
        Err(e) => cx.core_err("unreadable", &p, &e, false),
    }
}
