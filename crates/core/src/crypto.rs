//! Secrets: generating them, hashing what we only need to recognise, encrypting what we
//! must send on, and comparing without leaking timing.
//!
//! Generated credentials carry at least 128 random bits, so a single SHA-256 is enough to
//! store them: there is nothing to brute-force that a slow hash would protect.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A string that must not appear in logs or debug output.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; len];
    rand::rng().fill_bytes(&mut buffer);
    buffer
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: impl AsRef<[u8]>, b: impl AsRef<[u8]>) -> bool {
    let (a, b) = (a.as_ref(), b.as_ref());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Why a master key or a sealed value is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the secret key must be at least 32 bytes of base64 or hex (64 hex characters); generate one with `openssl rand -base64 32`"
    )]
    TooShort,
    #[error("the secret key is neither base64 nor hex")]
    Encoding,
    #[error("a sealed value is corrupt or was sealed with another secret key")]
    Unseal,
}

/// The deployment's master secret (`FAXRELAY_SECRET_KEY`). Purpose-bound keys are derived
/// from it, so the JWT signing key, the nonce key and the encryption key never coincide.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Reads a key written as hex or base64 (standard or url-safe). Longer keys are
    /// compressed with SHA-256.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() >= 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KeyError::Encoding)?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| KeyError::Encoding)?
        };
        if bytes.len() < 32 {
            return Err(KeyError::TooShort);
        }
        Ok(Self(Sha256::digest(&bytes).into()))
    }

    /// A fresh random key, and its text form for storing.
    pub fn generate() -> (Self, String) {
        let text = STANDARD.encode(random_bytes(32));
        let key = Self::parse(&text).expect("a generated key is valid");
        (key, text)
    }

    /// A 32-byte key for one purpose.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(&self.0, purpose.as_bytes())
    }

    /// The cipher that seals outbound secrets at rest.
    pub fn sealer(&self) -> Sealer {
        Sealer::new(self.derive("faxrelay/seal/v1"))
    }
}

/// AES-256-GCM for secrets faxrelay must send on (webhook passwords, tokens, client secrets)
/// and so cannot hash. The text form is `v1.<base64 of nonce || ciphertext || tag>`.
pub struct Sealer {
    key: LessSafeKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    fn new(key: [u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key fits AES-256");
        Self {
            key: LessSafeKey::new(key),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] =
            random_bytes(NONCE_LEN).try_into().expect("nonce length");
        let mut buffer = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut buffer,
            )
            .expect("sealing a short secret cannot fail");
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&buffer);
        format!("v1.{}", STANDARD.encode(sealed))
    }

    pub fn unseal(&self, sealed: &str) -> Result<SecretString, KeyError> {
        let encoded = sealed.strip_prefix("v1.").ok_or(KeyError::Unseal)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| KeyError::Unseal)?;
        if bytes.len() < NONCE_LEN {
            return Err(KeyError::Unseal);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Unseal)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| KeyError::Unseal)?;
        String::from_utf8(plaintext.to_vec())
            .map(SecretString)
            .map_err(|_| KeyError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::parse(&"ab".repeat(32)).expect("hex key")
    }

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let sealed = key().sealer().seal("hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            key()
                .sealer()
                .unseal(&sealed)
                .map(|s| s.expose().to_owned()),
            Ok("hunter2".to_owned())
        );
        let (other, _) = MasterKey::generate();
        assert_eq!(other.sealer().unseal(&sealed), Err(KeyError::Unseal));
    }

    #[test]
    fn short_or_garbled_keys_are_refused() {
        assert_eq!(MasterKey::parse("c2hvcnQ=").err(), Some(KeyError::TooShort));
        assert_eq!(
            MasterKey::parse("not a key!").err(),
            Some(KeyError::Encoding)
        );
    }

    #[test]
    fn derived_keys_differ_per_purpose() {
        assert_ne!(key().derive("a"), key().derive("b"));
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", SecretString::new("pw")), "[redacted]");
    }

    #[test]
    fn random_tokens_are_long_enough() {
        assert_eq!(random_token(16).len(), 22);
        assert_ne!(random_token(16), random_token(16));
    }
}
