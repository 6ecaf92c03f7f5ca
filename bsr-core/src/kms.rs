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
//! use bsr_core::kms::{AeadWrapper, RecordingKeys, SessionKeyFiles};
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

use crate::error::{Error, Location, Result};
use crate::format;
use aes_gcm::aead::{Aead, KeyInit};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use prost::Message;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// go-kms-wrapping v2 protobuf types (field numbers of spec §4.3).
pub mod pb {
    /// `KeyType` Aes256.
    pub const KEY_TYPE_AES256: i32 = 4;
    /// `KeyType` HMAC.
    pub const KEY_TYPE_HMAC: i32 = 8;
    /// `KeyType` Ed25519.
    pub const KEY_TYPE_ED25519: i32 = 9;
    /// `KeyEncoding` Bytes.
    pub const KEY_ENCODING_BYTES: i32 = 3;
    /// `KeyPurpose` Encrypt.
    pub const PURPOSE_ENCRYPT: i32 = 1;
    /// `KeyPurpose` Decrypt.
    pub const PURPOSE_DECRYPT: i32 = 2;
    /// `KeyPurpose` Sign.
    pub const PURPOSE_SIGN: i32 = 3;
    /// `KeyPurpose` Verify.
    pub const PURPOSE_VERIFY: i32 = 4;
    /// `HmacType` Sha256.
    pub const HMAC_SHA256: i32 = 2;

    /// `KeyInfo`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct KeyInfo {
        /// Mechanism.
        #[prost(uint64, tag = "1")]
        pub mechanism: u64,
        /// HMAC mechanism.
        #[prost(uint64, tag = "2")]
        pub hmac_mechanism: u64,
        /// Key id.
        #[prost(string, tag = "3")]
        pub key_id: String,
        /// HMAC key id.
        #[prost(string, tag = "4")]
        pub hmac_key_id: String,
        /// Wrapped key (a `BlobInfo`).
        #[prost(bytes = "vec", tag = "5")]
        pub wrapped_key: Vec<u8>,
        /// Flags.
        #[prost(uint64, tag = "6")]
        pub flags: u64,
        /// Key type.
        #[prost(int32, tag = "7")]
        pub key_type: i32,
        /// Purposes (packed).
        #[prost(int32, repeated, packed = "true", tag = "8")]
        pub key_purposes: Vec<i32>,
        /// Plain key.
        #[prost(bytes = "vec", tag = "9")]
        pub key: Vec<u8>,
        /// Key encoding.
        #[prost(int32, tag = "10")]
        pub key_encoding: i32,
        /// Wrapped key encoding.
        #[prost(int32, tag = "11")]
        pub wrapped_key_encoding: i32,
    }

    /// `SigInfo`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct SigInfo {
        /// Key info.
        #[prost(message, optional, tag = "10")]
        pub key_info: Option<KeyInfo>,
        /// Signature.
        #[prost(bytes = "vec", tag = "20")]
        pub signature: Vec<u8>,
        /// HMAC type (set for HMAC signatures).
        #[prost(int32, optional, tag = "30")]
        pub hmac_type: Option<i32>,
    }

    /// `BlobInfo`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct BlobInfo {
        /// Ciphertext (AEAD: nonce ‖ ciphertext ‖ tag).
        #[prost(bytes = "vec", tag = "1")]
        pub ciphertext: Vec<u8>,
        /// IV.
        #[prost(bytes = "vec", tag = "2")]
        pub iv: Vec<u8>,
        /// HMAC.
        #[prost(bytes = "vec", tag = "3")]
        pub hmac: Vec<u8>,
        /// Deprecated.
        #[prost(bool, tag = "4")]
        pub wrapped: bool,
        /// Key info of the wrapping key.
        #[prost(message, optional, tag = "5")]
        pub key_info: Option<KeyInfo>,
        /// Deprecated.
        #[prost(string, tag = "6")]
        pub value_path: String,
        /// Plaintext (unused).
        #[prost(bytes = "vec", tag = "7")]
        pub plaintext: Vec<u8>,
        /// `google.protobuf.Struct`, kept opaque.
        #[prost(bytes = "vec", tag = "8")]
        pub client_data: Vec<u8>,
    }
}

use pb::{BlobInfo, KeyInfo, SigInfo};

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

fn checksum_key_info(key_id: &str) -> KeyInfo {
    KeyInfo {
        key_id: key_id.to_string(),
        key_type: pb::KEY_TYPE_ED25519,
        key_purposes: vec![pb::PURPOSE_SIGN],
        ..Default::default()
    }
}

fn unwrap_keyinfo(ki: &KeyInfo, wrapper: &dyn KeyWrapper, file: &str) -> Result<Vec<u8>> {
    let blob = BlobInfo::decode(ki.wrapped_key.as_slice()).map_err(|e| {
        Error::malformed(
            Location::at(0).in_file(file),
            format!("wrapped_key is not a BlobInfo: {e}"),
        )
    })?;
    wrapper.unwrap(&blob).map_err(|e| e.in_file(file))
}

fn decode_exact<M: Message + Default>(bytes: &[u8], file: &str, what: &str) -> Result<M> {
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

mod subtle_eq {
    /// Constant-time comparison (length is public).
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Recorder attestation
// ---------------------------------------------------------------------------------------------

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

fn recorder_key_id(pk: &[u8; 32]) -> String {
    format!("recorder_{}", &hex::encode(Sha256::digest(pk))[..16])
}

fn read_hex32(text: &str, path: &str) -> Result<Vec<[u8; 32]>> {
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
