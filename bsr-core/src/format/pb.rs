//! go-kms-wrapping v2 protobuf types (field numbers of spec §4.3).

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
