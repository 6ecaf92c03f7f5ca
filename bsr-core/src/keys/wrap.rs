//! The external KMS ([`KeyWrapper`]) and the built-in AES-256-GCM wrapper.

use crate::error::{Error, Result};
use crate::format::pb::{BlobInfo, KeyInfo};
use aes_gcm::aead::{Aead, KeyInit};
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// An external KMS that wraps and unwraps key material.
pub trait KeyWrapper: Send + Sync + std::fmt::Debug {
    /// Id of the wrapping key.
    fn key_id(&self) -> String;
    /// Encrypts `plaintext`.
    fn wrap(&self, plaintext: &[u8]) -> Result<BlobInfo>;
    /// Decrypts a blob ([`Error::Crypto`] on failure).
    fn unwrap(&self, blob: &BlobInfo) -> Result<Vec<u8>>;
}

/// AES-256-GCM under a 32-byte key-encryption key, laid out like go-kms-wrapping's AEAD
/// wrapper: `ciphertext = 12-byte random nonce ‖ ciphertext ‖ 16-byte tag`, `key_info.key_id`
/// = the KEK's id.
pub struct AeadWrapper {
    kek: [u8; 32],
    key_id: String,
    rng: Option<Mutex<rand_chacha::ChaCha20Rng>>,
}

impl std::fmt::Debug for AeadWrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadWrapper")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AeadWrapper {
    /// A wrapper with key id `key_id`.
    pub fn new(kek: [u8; 32], key_id: impl Into<String>) -> Self {
        AeadWrapper {
            kek,
            key_id: key_id.into(),
            rng: None,
        }
    }

    /// Reads a KEK file: 64 hex digits, 32 raw bytes, or base64 of 32 bytes, with an optional
    /// trailing newline. The key id is `kek_` + the first 8 hex digits of SHA-256(KEK).
    pub fn from_kek_file(path: &std::path::Path) -> Result<Self> {
        let b = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        Self::from_kek_bytes(&b).map_err(|e| e.in_file(&path.display().to_string()))
    }

    /// Parses KEK file contents (see [`AeadWrapper::from_kek_file`]).
    pub fn from_kek_bytes(bytes: &[u8]) -> Result<Self> {
        use base64::Engine;
        let bad = || Error::Crypto {
            path: String::new(),
            reason: "a KEK is 32 bytes: raw, 64 hex digits or base64".into(),
        };
        let kek: [u8; 32] = if bytes.len() == 32 {
            bytes.try_into().map_err(|_| bad())?
        } else {
            let t = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
            if t.len() == 64 {
                let mut k = [0u8; 32];
                hex::decode_to_slice(t, &mut k).map_err(|_| bad())?;
                k
            } else {
                let v = base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .map_err(|_| bad())?;
                v.try_into().map_err(|_| bad())?
            }
        };
        let id = format!("kek_{}", &hex::encode(Sha256::digest(kek))[..8]);
        Ok(AeadWrapper::new(kek, id))
    }

    /// Deterministic nonces from `seed`, for reproducible test data ONLY.
    pub fn with_rng_seed(mut self, seed: [u8; 32]) -> Self {
        self.rng = Some(Mutex::new(rand_chacha::ChaCha20Rng::from_seed(seed)));
        self
    }

    fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        match &self.rng {
            Some(r) => r
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .fill_bytes(&mut n),
            None => rand_core::OsRng.fill_bytes(&mut n),
        }
        n
    }
}

impl KeyWrapper for AeadWrapper {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn wrap(&self, plaintext: &[u8]) -> Result<BlobInfo> {
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.kek).map_err(|e| Error::Crypto {
            path: String::new(),
            reason: e.to_string(),
        })?;
        let nonce = self.nonce();
        let ct = cipher
            .encrypt(aes_gcm::Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| Error::Crypto {
                path: String::new(),
                reason: "AES-GCM encryption failed".into(),
            })?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend_from_slice(&ct);
        Ok(BlobInfo {
            ciphertext,
            key_info: Some(KeyInfo {
                key_id: self.key_id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn unwrap(&self, blob: &BlobInfo) -> Result<Vec<u8>> {
        let err = |r: &str| Error::Crypto {
            path: String::new(),
            reason: r.into(),
        };
        if blob.ciphertext.len() < 12 + 16 {
            return Err(err("ciphertext shorter than nonce and tag"));
        }
        let cipher =
            aes_gcm::Aes256Gcm::new_from_slice(&self.kek).map_err(|e| err(&e.to_string()))?;
        cipher
            .decrypt(
                aes_gcm::Nonce::from_slice(&blob.ciphertext[..12]),
                &blob.ciphertext[12..],
            )
            .map_err(|_| err("AES-GCM authentication failed (wrong KEK or altered blob)"))
    }
}

/// `HKDF-SHA256(ikm = BSR key)[0..32]` → `BLAKE2b-256` → `HMAC-SHA256(public key)`.
pub fn hmac_binding(bsr_key: &[u8; 32], public_key: &[u8; 32]) -> [u8; 32] {
    use hmac::Mac;
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = hkdf::Hkdf::<Sha256>::new(None, bsr_key).expand(&[], &mut okm);
    let k = <blake2::Blake2b<blake2::digest::consts::U32> as Digest>::digest(okm);
    let Ok(mut mac) = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&k) else {
        return [0u8; 32]; // HMAC accepts keys of any length; unreachable
    };
    mac.update(public_key);
    mac.finalize().into_bytes().into()
}
