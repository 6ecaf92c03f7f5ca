//! Recorder attestation: a long-term recorder key signs each recording's public key.

use super::{RecordingKeys, SessionKeyFiles, decode_exact, pb};
use crate::error::{Error, Location, Result};
use crate::format;
use crate::format::pb::{KeyInfo, SigInfo};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use prost::Message;
use rand_core::RngCore;
use sha2::{Digest, Sha256};

/// Domain separator of attestation messages.
pub const ATTESTATION_DOMAIN: &[u8] = b"bsr-recorder-attestation-v1\0";

/// The message a recorder signs (see `docs/FORMAT.md` §5).
pub fn attestation_message(recording_id: &str, key_id: &str, public_key: &[u8; 32]) -> Vec<u8> {
    let mut m = ATTESTATION_DOMAIN.to_vec();
    for s in [recording_id, key_id] {
        m.extend_from_slice(&(s.len() as u32).to_be_bytes());
        m.extend_from_slice(s.as_bytes());
    }
    m.extend_from_slice(public_key);
    m
}

pub(super) fn recorder_key_id(pk: &[u8; 32]) -> String {
    format!("recorder_{}", &hex::encode(Sha256::digest(pk))[..16])
}

pub(super) fn read_hex32(text: &str, path: &str) -> Result<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let mut k = [0u8; 32];
        hex::decode_to_slice(l, &mut k).map_err(|_| {
            Error::malformed(
                Location::at(0).in_file(path),
                format!("line {}: expected 64 hex digits", i + 1),
            )
        })?;
        out.push(k);
    }
    Ok(out)
}

/// A long-term recorder signing key.
pub struct RecorderKey {
    signing: SigningKey,
}

impl std::fmt::Debug for RecorderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderKey")
            .field("public", &hex::encode(self.public_key()))
            .finish()
    }
}

impl RecorderKey {
    /// From a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        RecorderKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }
    /// A new key from the OS CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut seed);
        Ok(Self::from_seed(seed))
    }
    /// Reads a key file: the hex of a 32-byte seed (one line), or 32 raw bytes.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let p = path.display().to_string();
        let b = std::fs::read(path).map_err(|e| Error::io(p.clone(), e))?;
        if b.len() == 32 {
            let mut s = [0u8; 32];
            s.copy_from_slice(&b);
            return Ok(Self::from_seed(s));
        }
        let text = std::str::from_utf8(&b).map_err(|_| {
            Error::malformed(Location::at(0).in_file(&p), "not a recorder key file")
        })?;
        match read_hex32(text, &p)?.as_slice() {
            [seed] => Ok(Self::from_seed(*seed)),
            _ => Err(Error::malformed(
                Location::at(0).in_file(&p),
                "a recorder key file holds one 32-byte seed in hex",
            )),
        }
    }
    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
    /// The attestation file (`recorderAttestation.sign`) for a recording.
    pub fn attest(&self, recording_id: &str, keys: &RecordingKeys) -> Vec<u8> {
        let pk = self.public_key();
        let msg = attestation_message(recording_id, keys.key_id(), &keys.public_key());
        SigInfo {
            key_info: Some(KeyInfo {
                key_id: recorder_key_id(&pk),
                key_type: pb::KEY_TYPE_ED25519,
                key_encoding: pb::KEY_ENCODING_BYTES,
                key_purposes: vec![pb::PURPOSE_SIGN],
                key: pk.to_vec(),
                ..Default::default()
            }),
            signature: self.signing.sign(&msg).to_bytes().to_vec(),
            hmac_type: None,
        }
        .encode_to_vec()
    }
}

/// Trusted recorder public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderTrust {
    keys: Vec<[u8; 32]>,
}

impl RecorderTrust {
    /// Reads hex public keys, one per line (`#` comments allowed).
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let p = path.display().to_string();
        let b = std::fs::read(path).map_err(|e| Error::io(p.clone(), e))?;
        let text = std::str::from_utf8(&b).map_err(|_| {
            Error::malformed(
                Location::at(0).in_file(&p),
                "not a text file of hex public keys",
            )
        })?;
        let keys = read_hex32(text, &p)?;
        if keys.is_empty() {
            return Err(Error::malformed(
                Location::at(0).in_file(&p),
                "no recorder public key in the file",
            ));
        }
        Ok(RecorderTrust { keys })
    }
    /// From public keys.
    pub fn from_public_keys(keys: Vec<[u8; 32]>) -> Self {
        RecorderTrust { keys }
    }
    /// Checks an attestation for recording `recording_id` with key material `keys`.
    pub fn verify_attestation(
        &self,
        attestation: &[u8],
        recording_id: &str,
        keys: &SessionKeyFiles,
    ) -> Result<()> {
        let path = format::RECORDER_ATTESTATION_FILE.to_string();
        let si: SigInfo = decode_exact(attestation, format::RECORDER_ATTESTATION_FILE, "SigInfo")?;
        let ki = si.key_info.as_ref().ok_or_else(|| Error::KeyBinding {
            path: path.clone(),
            reason: "no key info".into(),
        })?;
        let rk: [u8; 32] = ki
            .key
            .as_slice()
            .try_into()
            .map_err(|_| Error::KeyBinding {
                path: path.clone(),
                reason: "recorder key is not 32 bytes".into(),
            })?;
        if !self.keys.contains(&rk) {
            return Err(Error::KeyBinding {
                path,
                reason: format!(
                    "signed by recorder key {} which is not trusted",
                    hex::encode(rk)
                ),
            });
        }
        if ki.key_id != recorder_key_id(&rk) || ki.key_type != pb::KEY_TYPE_ED25519 {
            return Err(Error::KeyBinding {
                path,
                reason: "key info does not match the recorder key".into(),
            });
        }
        let vk = VerifyingKey::from_bytes(&rk).map_err(|_| Error::KeyBinding {
            path: path.clone(),
            reason: "invalid recorder key".into(),
        })?;
        let sig =
            ed25519_dalek::Signature::from_slice(&si.signature).map_err(|_| Error::KeyBinding {
                path: path.clone(),
                reason: "not a 64-byte signature".into(),
            })?;
        let msg = attestation_message(recording_id, keys.key_id(), keys.public_key()?.as_bytes());
        vk.verify_strict(&msg, &sig).map_err(|_| Error::KeyBinding {
            path,
            reason: "attestation does not verify for this recording id, key id and public key"
                .into(),
        })
    }
}
