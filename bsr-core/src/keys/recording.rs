//! The per-recording secret material a writer holds, and the five key files it writes.

use super::{KeyWrapper, SessionKeyFiles, hmac_binding, pb};
use crate::error::{Error, Location, Result};
use crate::format;
use crate::format::pb::{BlobInfo, KeyInfo, SigInfo};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use rand_core::{CryptoRng, RngCore, SeedableRng};

/// Per-recording secret material.
pub struct RecordingKeys {
    key_id: String,
    signing: SigningKey,
    bsr_key: [u8; 32],
}

impl std::fmt::Debug for RecordingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RecordingKeys {
    fn from_rng(key_id: &str, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut bsr_key = [0u8; 32];
        rng.fill_bytes(&mut bsr_key);
        RecordingKeys {
            key_id: key_id.to_string(),
            signing: SigningKey::from_bytes(&seed),
            bsr_key,
        }
    }
    /// New keys from the OS CSPRNG.
    pub fn generate(key_id: &str) -> Result<Self> {
        Ok(Self::from_rng(key_id, &mut rand_core::OsRng))
    }
    /// Deterministic keys (ChaCha20 from `seed`), for reproducible test data ONLY.
    pub fn from_seed(key_id: &str, seed: [u8; 32]) -> Self {
        Self::from_rng(key_id, &mut rand_chacha::ChaCha20Rng::from_seed(seed))
    }
    /// The key id (the session id).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
    /// Ed25519 signature.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
    /// The five key files, in [`format::KEY_FILES`] order.
    pub fn key_files(&self, wrapper: &dyn KeyWrapper) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let id = self.key_id.clone();
        let pk = self.public_key();
        let mut priv64 = self.signing.to_bytes().to_vec();
        priv64.extend_from_slice(&pk);
        let wrapped_bsr = KeyInfo {
            key_id: id.clone(),
            wrapped_key: wrapper.wrap(&self.bsr_key)?.encode_to_vec(),
            key_type: pb::KEY_TYPE_AES256,
            key_encoding: pb::KEY_ENCODING_BYTES,
            key_purposes: vec![pb::PURPOSE_SIGN, pb::PURPOSE_ENCRYPT, pb::PURPOSE_DECRYPT],
            ..Default::default()
        };
        let wrapped_priv = KeyInfo {
            key_id: id.clone(),
            wrapped_key: wrapper.wrap(&priv64)?.encode_to_vec(),
            key_type: pb::KEY_TYPE_ED25519,
            key_encoding: pb::KEY_ENCODING_BYTES,
            key_purposes: vec![pb::PURPOSE_SIGN],
            ..Default::default()
        };
        let bsr_sig = SigInfo {
            key_info: Some(KeyInfo {
                key_id: id.clone(),
                key_purposes: vec![pb::PURPOSE_SIGN],
                ..Default::default()
            }),
            signature: hmac_binding(&self.bsr_key, &pk).to_vec(),
            hmac_type: Some(pb::HMAC_SHA256),
        };
        let self_sig = SigInfo {
            key_info: Some(KeyInfo {
                key_id: id.clone(),
                key_type: pb::KEY_TYPE_ED25519,
                key_purposes: vec![pb::PURPOSE_SIGN],
                ..Default::default()
            }),
            signature: self.sign(&pk).to_vec(),
            hmac_type: None,
        };
        let public = KeyInfo {
            key_id: id,
            key: pk.to_vec(),
            key_type: pb::KEY_TYPE_ED25519,
            key_encoding: pb::KEY_ENCODING_BYTES,
            key_purposes: vec![pb::PURPOSE_VERIFY],
            ..Default::default()
        };
        Ok(vec![
            (format::WRAPPED_BSR_KEY_FILE, wrapped_bsr.encode_to_vec()),
            (format::WRAPPED_PRIV_KEY_FILE, wrapped_priv.encode_to_vec()),
            (format::PUB_KEY_BSR_SIG_FILE, bsr_sig.encode_to_vec()),
            (format::PUB_KEY_SELF_SIG_FILE, self_sig.encode_to_vec()),
            (format::PUB_KEY_FILE, public.encode_to_vec()),
        ])
    }
    /// `SHA256SUM.sig`: a `SigInfo` with the Ed25519 signature of `sha256sum`.
    pub fn sign_checksums(&self, sha256sum: &[u8]) -> Vec<u8> {
        SigInfo {
            key_info: Some(checksum_key_info(&self.key_id)),
            signature: self.sign(sha256sum).to_vec(),
            hmac_type: None,
        }
        .encode_to_vec()
    }
    /// Recovers the secret keys from the wrapped files through the KMS (crash recovery).
    pub fn unwrap_from(files: &SessionKeyFiles, wrapper: &dyn KeyWrapper) -> Result<Self> {
        let bsr = unwrap_keyinfo(
            &files.wrapped_bsr_key,
            wrapper,
            format::WRAPPED_BSR_KEY_FILE,
        )?;
        let bsr_key: [u8; 32] = bsr.as_slice().try_into().map_err(|_| Error::Crypto {
            path: format::WRAPPED_BSR_KEY_FILE.into(),
            reason: format!("BSR key is {} bytes, expected 32", bsr.len()),
        })?;
        let p = unwrap_keyinfo(
            &files.wrapped_priv_key,
            wrapper,
            format::WRAPPED_PRIV_KEY_FILE,
        )?;
        if p.len() != 64 {
            return Err(Error::Crypto {
                path: format::WRAPPED_PRIV_KEY_FILE.into(),
                reason: format!("private key is {} bytes, expected 64", p.len()),
            });
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&p[..32]);
        let signing = SigningKey::from_bytes(&seed);
        if signing.verifying_key().to_bytes()[..] != p[32..]
            || signing.verifying_key() != files.public_key()?
        {
            return Err(Error::KeyBinding {
                path: format::WRAPPED_PRIV_KEY_FILE.into(),
                reason: "private key does not match bsrKey.pub".into(),
            });
        }
        Ok(RecordingKeys {
            key_id: files.key_id().to_string(),
            signing,
            bsr_key,
        })
    }
}

pub(super) fn checksum_key_info(key_id: &str) -> KeyInfo {
    KeyInfo {
        key_id: key_id.to_string(),
        key_type: pb::KEY_TYPE_ED25519,
        key_purposes: vec![pb::PURPOSE_SIGN],
        ..Default::default()
    }
}

pub(super) fn unwrap_keyinfo(
    ki: &KeyInfo,
    wrapper: &dyn KeyWrapper,
    file: &str,
) -> Result<Vec<u8>> {
    let blob = BlobInfo::decode(ki.wrapped_key.as_slice()).map_err(|e| {
        Error::malformed(
            Location::at(0).in_file(file),
            format!("wrapped_key is not a BlobInfo: {e}"),
        )
    })?;
    wrapper.unwrap(&blob).map_err(|e| e.in_file(file))
}

pub(super) fn decode_exact<M: Message + Default>(
    bytes: &[u8],
    file: &str,
    what: &str,
) -> Result<M> {
    let m = M::decode(bytes).map_err(|e| {
        Error::malformed(
            Location::at(0).in_file(file),
            format!("not a protobuf {what}: {e}"),
        )
    })?;
    // Everything outside SHA256SUM is unauthenticated: accept only the canonical encoding, so
    // no byte can change without changing the decoded value.
    if m.encode_to_vec() != bytes {
        return Err(Error::malformed(
            Location::at(0).in_file(file),
            format!("non-canonical {what} encoding (unknown or repeated fields)"),
        ));
    }
    Ok(m)
}
