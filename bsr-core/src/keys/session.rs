//! The key files a verifier reads back: self-signature, checksum signatures, KMS binding.

use super::{KeyWrapper, decode_exact, hmac_binding, pb, unwrap_keyinfo};
use crate::error::{Error, Location, Result};
use crate::format;
use crate::format::pb::{KeyInfo, SigInfo};
use ed25519_dalek::VerifyingKey;

/// The parsed public key material of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeyFiles {
    /// `bsrKey.pub`.
    pub public: KeyInfo,
    /// `wrappedBsrKey`.
    pub wrapped_bsr_key: KeyInfo,
    /// `wrappedPrivKey`.
    pub wrapped_priv_key: KeyInfo,
    /// `pubKeySelfSignature.sign`.
    pub self_sig: SigInfo,
    /// `pubKeyBsrSignature.sign`.
    pub bsr_sig: SigInfo,
}

impl SessionKeyFiles {
    /// Decodes the five files (each error names its file).
    pub fn parse(
        bsr_key_pub: &[u8],
        wrapped_bsr_key: &[u8],
        wrapped_priv_key: &[u8],
        self_sig: &[u8],
        bsr_sig: &[u8],
    ) -> Result<Self> {
        let k = SessionKeyFiles {
            public: decode_exact(bsr_key_pub, format::PUB_KEY_FILE, "KeyInfo")?,
            wrapped_bsr_key: decode_exact(
                wrapped_bsr_key,
                format::WRAPPED_BSR_KEY_FILE,
                "KeyInfo",
            )?,
            wrapped_priv_key: decode_exact(
                wrapped_priv_key,
                format::WRAPPED_PRIV_KEY_FILE,
                "KeyInfo",
            )?,
            self_sig: decode_exact(self_sig, format::PUB_KEY_SELF_SIG_FILE, "SigInfo")?,
            bsr_sig: decode_exact(bsr_sig, format::PUB_KEY_BSR_SIG_FILE, "SigInfo")?,
        };
        k.public_key()?;
        Ok(k)
    }
    /// The Ed25519 public key (key type Ed25519, encoding Bytes, 32 bytes).
    pub fn public_key(&self) -> Result<VerifyingKey> {
        let bad = |r: &str| {
            Error::malformed(Location::at(0).in_file(format::PUB_KEY_FILE), r.to_string())
        };
        if self.public.key_type != pb::KEY_TYPE_ED25519
            || self.public.key_encoding != pb::KEY_ENCODING_BYTES
        {
            return Err(bad("public key is not an Ed25519 key in Bytes encoding"));
        }
        let b: [u8; 32] = self
            .public
            .key
            .as_slice()
            .try_into()
            .map_err(|_| bad("public key is not 32 bytes"))?;
        VerifyingKey::from_bytes(&b).map_err(|_| bad("public key is not a valid Ed25519 point"))
    }
    /// The key id (session id).
    pub fn key_id(&self) -> &str {
        &self.public.key_id
    }
    /// Spec §4.4 step 3: the self-signature, with matching key ids.
    pub fn verify_self_signature(&self) -> Result<()> {
        let path = format::PUB_KEY_SELF_SIG_FILE.to_string();
        let ki = self.self_sig.key_info.as_ref();
        if ki.map(|k| k.key_id.as_str()) != Some(self.key_id()) {
            return Err(Error::Signature {
                path,
                reason: "key id differs from bsrKey.pub".into(),
            });
        }
        let sig = ed25519_dalek::Signature::from_slice(&self.self_sig.signature).map_err(|_| {
            Error::Signature {
                path: path.clone(),
                reason: "not a 64-byte signature".into(),
            }
        })?;
        let pk = self.public_key()?;
        pk.verify_strict(pk.as_bytes(), &sig)
            .map_err(|_| Error::Signature {
                path,
                reason: "self-signature does not verify".into(),
            })
    }
    /// Verifies a container's `SHA256SUM.sig` (a canonical `SigInfo` for this key) over the
    /// exact `SHA256SUM` bytes.
    pub fn verify_checksums(&self, sha256sum: &[u8], sig_file: &[u8]) -> Result<()> {
        let path = format::SIG_FILE.to_string();
        let si: SigInfo = decode_exact(sig_file, format::SIG_FILE, "SigInfo")?;
        // SHA256SUM.sig is covered by no hash: every field of its key info must be what the
        // writer puts there (key id, Ed25519, the private key's purposes, nothing else), so no
        // bit of the file can change unnoticed.
        let expected = KeyInfo {
            key_id: self.key_id().to_string(),
            key_type: pb::KEY_TYPE_ED25519,
            key_purposes: self.wrapped_priv_key.key_purposes.clone(),
            ..Default::default()
        };
        if si.key_info.as_ref() != Some(&expected) {
            return Err(Error::Signature {
                path,
                reason: "key info does not name this recording's Ed25519 signing key".into(),
            });
        }
        if si.hmac_type.is_some() {
            return Err(Error::Signature {
                path,
                reason: "an HMAC where an Ed25519 signature belongs".into(),
            });
        }
        let sig =
            ed25519_dalek::Signature::from_slice(&si.signature).map_err(|_| Error::Signature {
                path: path.clone(),
                reason: "not a 64-byte signature".into(),
            })?;
        self.public_key()?
            .verify_strict(sha256sum, &sig)
            .map_err(|_| Error::Signature {
                path,
                reason: "Ed25519 signature over SHA256SUM does not verify".into(),
            })
    }
    /// Spec §4.4 steps 2 and 4: unwraps the BSR key through the KMS and checks the HMAC
    /// binding of the public key.
    pub fn verify_kms_binding(&self, wrapper: &dyn KeyWrapper) -> Result<()> {
        let path = format::PUB_KEY_BSR_SIG_FILE.to_string();
        if self.wrapped_bsr_key.key_type != pb::KEY_TYPE_AES256
            || self.wrapped_bsr_key.key_encoding != pb::KEY_ENCODING_BYTES
        {
            return Err(Error::KeyBinding {
                path: format::WRAPPED_BSR_KEY_FILE.into(),
                reason: "BSR key is not Aes256/Bytes".into(),
            });
        }
        if self.wrapped_bsr_key.key_id != self.key_id() {
            return Err(Error::KeyBinding {
                path: format::WRAPPED_BSR_KEY_FILE.into(),
                reason: "key id differs from bsrKey.pub".into(),
            });
        }
        let bsr = unwrap_keyinfo(&self.wrapped_bsr_key, wrapper, format::WRAPPED_BSR_KEY_FILE)?;
        let bsr: [u8; 32] = bsr.as_slice().try_into().map_err(|_| Error::KeyBinding {
            path: format::WRAPPED_BSR_KEY_FILE.into(),
            reason: "BSR key is not 32 bytes".into(),
        })?;
        if self.bsr_sig.key_info.as_ref().map(|k| k.key_id.as_str()) != Some(self.key_id()) {
            return Err(Error::KeyBinding {
                path,
                reason: "key id differs from bsrKey.pub".into(),
            });
        }
        if self.bsr_sig.hmac_type != Some(pb::HMAC_SHA256) {
            return Err(Error::KeyBinding {
                path,
                reason: "hmac_type is not Sha256".into(),
            });
        }
        let want = hmac_binding(&bsr, self.public_key()?.as_bytes());
        use subtle_eq::ct_eq;
        if !ct_eq(&want, &self.bsr_sig.signature) {
            return Err(Error::KeyBinding {
                path,
                reason: "HMAC of the public key under the KMS-held BSR key does not match".into(),
            });
        }
        Ok(())
    }
}

pub(super) mod subtle_eq {
    /// Constant-time comparison (length is public).
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
