//! Standard Webhooks signatures (<https://www.standardwebhooks.com>).
//!
//! A receiver verifies `webhook-signature` with any library of that spec: the signature is
//! `v1,` and the base64 HMAC-SHA256, under the secret's bytes, of `{id}.{timestamp}.{body}`.
//! While a secret is being rotated, one header carries a signature per live secret,
//! separated by spaces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{SecretString, hmac_sha256, random_bytes};

const PREFIX: &str = "whsec_";

/// Why a signing secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is `whsec_` followed by base64 of 24 to 64 bytes")]
pub struct SigningSecretError;

/// A webhook's signing secret, `whsec_<base64>`.
#[derive(Clone)]
pub struct SigningSecret {
    text: SecretString,
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    pub fn generate() -> Self {
        let text = format!("{PREFIX}{}", STANDARD.encode(random_bytes(32)));
        Self::parse(&text).expect("a generated secret is valid")
    }

    pub fn parse(text: &str) -> Result<Self, SigningSecretError> {
        let key = text
            .strip_prefix(PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .filter(|key| (24..=64).contains(&key.len()))
            .ok_or(SigningSecretError)?;
        Ok(Self {
            text: SecretString::new(text),
            key,
        })
    }

    /// The `whsec_...` text, for the one response that shows it.
    pub fn expose(&self) -> &str {
        self.text.expose()
    }

    /// `v1,<signature>` for one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut signed = Vec::with_capacity(message_id.len() + body.len() + 24);
        signed.extend_from_slice(message_id.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(timestamp.to_string().as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        format!("v1,{}", STANDARD.encode(hmac_sha256(&self.key, &signed)))
    }
}

/// The `webhook-signature` header value: one signature per secret, newest first.
pub fn signature_header(
    secrets: &[&SigningSecret],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_spec_test_vector() {
        // The example from the Standard Webhooks specification.
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = SigningSecret::generate();
        assert_eq!(format!("{secret:?}"), "SigningSecret([redacted])");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for text in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_c2hvcnQ=",
        ] {
            assert!(SigningSecret::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn rotation_header_carries_every_signature() {
        let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
        let header = signature_header(&[&new, &old], "dlv_1", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("dlv_1", 1, b"{}"), old.sign("dlv_1", 1, b"{}")]
        );
    }
}
