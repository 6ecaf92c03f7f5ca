//! Keys, wrapping, signatures and the key bindings (spec §4, `docs/FORMAT.md` §4–5).
//!
//! * [`RecordingKeys`]: the per-recording secret material a writer holds (Ed25519 key pair and
//!   the 32-byte BSR key), and the five key files it writes.
//! * [`KeyWrapper`]: the external KMS; [`AeadWrapper`] is the built-in AES-256-GCM wrapper with
//!   go-kms-wrapping's `BlobInfo` layout (nonce ‖ ciphertext ‖ tag).
//! * [`SessionKeyFiles`]: what a verifier reads back, with the self-signature, checksum
//!   signatures (`verify_strict`) and the HMAC binding to the KMS.
//! * [`RecorderKey`] / [`RecorderTrust`]: our recorder attestation.
//!
//! ```
//! use bsr_core::keys::{AeadWrapper, RecordingKeys, SessionKeyFiles};
//! let kms = AeadWrapper::new([1u8; 32], "kek_demo");
//! let keys = RecordingKeys::generate("s_1234567890")?;
//! let files = keys.key_files(&kms)?;
//! let f = |n: &str| files.iter().find(|(name, _)| *name == n).map(|(_, b)| b.clone()).unwrap_or_default();
//! let parsed = SessionKeyFiles::parse(&f("bsrKey.pub"), &f("wrappedBsrKey"), &f("wrappedPrivKey"),
//!     &f("pubKeySelfSignature.sign"), &f("pubKeyBsrSignature.sign"))?;
//! parsed.verify_self_signature()?;
//! parsed.verify_kms_binding(&kms)?;
//! let sums = b"0000  x\n";
//! parsed.verify_checksums(sums, &keys.sign_checksums(sums))?;
//! # Ok::<(), bsr_core::Error>(())
//! ```
//!
//! Imports: [`crate::error`] and [`crate::format`] only (never `read`, `write` or `store`).

mod attest;
mod recording;
mod session;
mod wrap;

pub use crate::format::pb;
pub use attest::{ATTESTATION_DOMAIN, RecorderKey, RecorderTrust, attestation_message};
pub use recording::RecordingKeys;
pub use session::SessionKeyFiles;
pub use wrap::{AeadWrapper, KeyWrapper, hmac_binding};

use recording::{decode_exact, unwrap_keyinfo};
