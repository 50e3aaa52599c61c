//! The keys behind push authentication, derived from the deployment's master key, so every
//! faxrelay process of a deployment issues and accepts the same tokens and nonces.

use std::time::Duration;

use chrono::Utc;
use faxrelay_core::crypto::{MasterKey, hmac_sha256, random_token};
use faxrelay_core::ids::{PushCredentialId, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::settings::ApiSettings;

/// The `aud` of push access tokens.
pub const AUDIENCE: &str = "faxrelay:push";

/// The claims of a push access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The tenant.
    pub sub: String,
    /// The OAuth2 client (push credential) the token was issued to.
    pub cid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct PushKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    pub(crate) token_ttl: Duration,
    pub(crate) nonce_ttl: Duration,
    nonce_key: [u8; 32],
}

impl std::fmt::Debug for PushKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl PushKeys {
    pub fn derive(master: &MasterKey, settings: &ApiSettings) -> Self {
        let jwt_key = master.derive("faxrelay/push-jwt/v1");
        // HS256 only: the algorithm is pinned, so a token naming `none` or RS256 is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[settings.issuer()]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // We issue and verify the tokens ourselves, so there is no foreign clock to allow for.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(&jwt_key)
                .expect("HMAC keys of any length are valid"),
            decoding: DecodingKey::from_secret(&jwt_key)
                .expect("HMAC keys of any length are valid"),
            validation,
            issuer: settings.issuer(),
            token_ttl: settings.token_ttl,
            nonce_ttl: settings.nonce_ttl,
            nonce_key: master.derive("faxrelay/digest-nonce/v1"),
        }
    }

    /// A signed access token for an OAuth2 client of a tenant.
    pub fn issue_token(
        &self,
        tenant: TenantId,
        client: PushCredentialId,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub: tenant.to_string(),
            cid: client.to_string(),
            iat: now,
            exp: now + self.token_ttl.as_secs() as i64,
            jti: random_token(16),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a token this deployment issued, if it is valid and unexpired.
    pub fn verify_token(&self, token: &str) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
    }

    /// A MAC binding digest nonce material to one tenant.
    pub(crate) fn nonce_mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.nonce_key, data)
    }
}
