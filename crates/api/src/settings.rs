//! What the API needs to know about the deployment, validated by the binary at start-up.

use std::time::Duration;

use faxrelay_core::codec::Limits;
use faxrelay_core::crypto::SecretString;
use url::Url;

/// Who may sign up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupPolicy {
    /// Anyone who can reach the API.
    Open,
    /// Whoever presents this token in `signup_token`.
    Token(SecretString),
    /// Nobody: the operator creates tenants out of band.
    Closed,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The base of the push URLs and the OAuth2 issuer, e.g. `https://relay.example.com`.
    pub public_url: Url,
    pub signup: SignupPolicy,
    /// The largest push body accepted.
    pub max_push_body: usize,
    /// The largest management API body accepted.
    pub max_json_body: usize,
    /// How long an OAuth2 access token is valid.
    pub token_ttl: Duration,
    /// How long a digest nonce is valid before a client must take a fresh one.
    pub nonce_ttl: Duration,
    pub parse_limits: Limits,
}

impl ApiSettings {
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            signup: SignupPolicy::Open,
            max_push_body: 1024 * 1024,
            max_json_body: 256 * 1024,
            token_ttl: Duration::from_secs(3600),
            nonce_ttl: Duration::from_secs(300),
            parse_limits: Limits::default(),
        }
    }

    /// An absolute URL under the public base.
    pub fn public(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }

    /// The push URL for a key.
    pub fn push_url(&self, push_key: &str) -> String {
        self.public(&format!("/push/{push_key}"))
    }

    pub fn token_url(&self) -> String {
        self.public("/oauth2/token")
    }

    /// The `iss` of issued tokens.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}
