//! How Retarus authenticates its pushes to a tenant, and the credentials faxrelay issues for
//! each method.
//!
//! Secrets are generated here and leave this module twice: in plain text once, for the
//! response that shows them to the tenant, and as the hashes that are stored. For HTTP
//! Digest the stored form is HA1 per algorithm (`H(user:realm:password)`), which is what the
//! server side of RFC 7616 needs; the password itself is never stored.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{SecretString, random_token, sha256_hex};

/// The realm of Basic and Digest challenges. It is part of every stored HA1, so it never
/// changes.
pub const REALM: &str = "faxrelay";

/// The authentication methods Retarus offers for status pushes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushAuthMethod {
    /// No authentication: the secret push key in the URL is the credential.
    None,
    /// HTTP Basic (RFC 7617).
    Basic,
    /// HTTP Digest (RFC 7616).
    Digest,
    /// OAuth2 client credentials; pushes carry a bearer token from `/oauth2/token`.
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl PushAuthMethod {
    pub const ALL: [PushAuthMethod; 4] = [Self::None, Self::Basic, Self::Digest, Self::OAuth2];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "basic",
            Self::Digest => "digest",
            Self::OAuth2 => "oauth2",
        }
    }

    /// The name Retarus uses for this method in `authMethod`.
    pub fn retarus_name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Basic => "HTTP_BASIC",
            Self::Digest => "HTTP_DIGEST",
            Self::OAuth2 => "OAUTH2",
        }
    }
}

impl fmt::Display for PushAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PushAuthMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|method| method.as_str() == text)
            .ok_or_else(|| format!("unknown push authentication method `{text}`"))
    }
}

/// Digest hash algorithms (RFC 7616 section 3.3), strongest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
}

impl DigestAlgorithm {
    pub const ALL: [DigestAlgorithm; 2] = [Self::Sha256, Self::Md5];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hex(self, data: &str) -> String {
        match self {
            Self::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
            Self::Md5 => hex::encode(Md5::digest(data.as_bytes())),
        }
    }

    /// Reads a list such as `SHA-256,MD5`.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let mut algorithms = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let algorithm = name.parse::<Self>()?;
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        if algorithms.is_empty() {
            return Err("at least one digest algorithm is needed".into());
        }
        Ok(algorithms)
    }

    pub fn format_list(algorithms: &[Self]) -> String {
        algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for DigestAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown digest algorithm `{text}`: use SHA-256 or MD5"))
    }
}

/// What is stored of a credential: identifiers and hashes, never a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoredCredential {
    pub principal: Option<String>,
    pub secret_hash: Option<String>,
    pub key_hash: Option<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

/// HA1 values are as good as the password, and the hashes need not be seen either.
impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// A freshly issued credential: the secret in plain text, shown once, and what to store.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub method: PushAuthMethod,
    /// User name (basic, digest) or client id (OAuth2).
    pub principal: Option<String>,
    /// Password, client secret, or for `none` the secret push key.
    pub secret: SecretString,
    pub stored: StoredCredential,
}

/// Issues a new credential for `method`, with 128 bits of entropy or more in each secret.
pub fn issue_credential(method: PushAuthMethod) -> IssuedCredential {
    let secret = SecretString::new(random_token(24));
    let principal = match method {
        PushAuthMethod::None => None,
        PushAuthMethod::Basic | PushAuthMethod::Digest => {
            Some(format!("push-{}", random_token(9).to_ascii_lowercase()))
        }
        PushAuthMethod::OAuth2 => Some(format!("cid_{}", random_token(15))),
    };
    let stored = match method {
        PushAuthMethod::None => StoredCredential {
            key_hash: Some(push_key_hash(secret.expose())),
            ..Default::default()
        },
        PushAuthMethod::Basic | PushAuthMethod::OAuth2 => StoredCredential {
            principal: principal.clone(),
            secret_hash: Some(sha256_hex(secret.expose())),
            ..Default::default()
        },
        PushAuthMethod::Digest => {
            let user = principal.clone().unwrap_or_default();
            let ha1 = |algorithm: DigestAlgorithm| {
                algorithm.hex(&format!("{user}:{REALM}:{}", secret.expose()))
            };
            StoredCredential {
                principal: principal.clone(),
                secret_hash: Some(sha256_hex(secret.expose())),
                ha1_md5: Some(ha1(DigestAlgorithm::Md5)),
                ha1_sha256: Some(ha1(DigestAlgorithm::Sha256)),
                ..Default::default()
            }
        }
    };
    IssuedCredential {
        method,
        principal,
        secret,
        stored,
    }
}

/// A new routing key for a tenant's push URL (`/push/{key}`), 144 random bits.
pub fn generate_push_key() -> String {
    random_token(18)
}

/// The stored form of a secret push key.
pub fn push_key_hash(key: &str) -> String {
    sha256_hex(format!("push-key:{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_credentials_store_only_hashes() {
        for method in PushAuthMethod::ALL {
            let issued = issue_credential(method);
            let secret = issued.secret.expose();
            assert!(secret.len() >= 22, "at least 128 bits");
            let stored = &issued.stored;
            let fields = [
                &stored.principal,
                &stored.secret_hash,
                &stored.key_hash,
                &stored.ha1_md5,
                &stored.ha1_sha256,
            ];
            let values: Vec<&str> = fields.iter().filter_map(|field| field.as_deref()).collect();
            assert!(
                !values.is_empty(),
                "{method}: something is stored to recognise the secret by"
            );
            for value in values {
                assert!(!value.contains(secret), "{method}: {value}");
            }
            assert!(
                !format!("{stored:?}").contains("ha1"),
                "the hashes do not print"
            );
        }
    }

    #[test]
    fn digest_credentials_store_ha1_for_both_algorithms() {
        let issued = issue_credential(PushAuthMethod::Digest);
        let user = issued.principal.clone().expect("user name");
        let expected =
            DigestAlgorithm::Md5.hex(&format!("{user}:faxrelay:{}", issued.secret.expose()));
        assert_eq!(issued.stored.ha1_md5.as_deref(), Some(expected.as_str()));
        assert_eq!(issued.stored.ha1_sha256.as_ref().map(String::len), Some(64));
    }

    #[test]
    fn the_rfc_7616_example_hashes_as_published() {
        // RFC 7616 section 3.9.1, SHA-256 variant.
        let ha1 = DigestAlgorithm::Sha256.hex("Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = DigestAlgorithm::Sha256.hex("GET:/dir/index.html");
        let response = DigestAlgorithm::Sha256.hex(&format!(
            "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
        ));
        assert_eq!(
            response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn algorithm_lists_parse_and_print() {
        assert_eq!(
            DigestAlgorithm::parse_list("sha-256, MD5"),
            Ok(vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5])
        );
        assert!(DigestAlgorithm::parse_list("").is_err());
        assert!(DigestAlgorithm::parse_list("SHA-1").is_err());
        assert_eq!(
            DigestAlgorithm::format_list(&DigestAlgorithm::ALL),
            "SHA-256,MD5"
        );
    }
}
