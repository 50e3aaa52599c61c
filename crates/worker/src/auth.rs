//! How deliveries authenticate to webhooks: HTTP Basic, a bearer token, or OAuth2 client
//! credentials (through the `oauth2` crate), with tokens cached until shortly before they
//! expire and fetched again when the receiver answers 401.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use faxrelay_core::crypto::{Sealer, SecretString};
use faxrelay_core::ids::WebhookId;
use faxrelay_core::webhook::AuthConfig;
use faxrelay_storage::webhooks::WebhookRecord;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use crate::client::GuardedClient;

/// A token is fetched again this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// The lifetime assumed for a token whose response names none.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the stored credential cannot be opened (was FAXRELAY_SECRET_KEY changed?)")]
    Unseal,
    #[error("the webhook's auth settings lack their secret")]
    MissingSecret,
    #[error("fetching an OAuth2 token failed: {0}")]
    Token(String),
}

/// OAuth2 tokens per webhook.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<WebhookId, (SecretString, Instant)>>,
}

impl TokenCache {
    fn get(&self, webhook: WebhookId) -> Option<SecretString> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(&webhook)
            .filter(|(_, expires)| Instant::now() + EXPIRY_MARGIN < *expires)
            .map(|(token, _)| token.clone())
    }

    fn put(&self, webhook: WebhookId, token: SecretString, lifetime: Duration) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.insert(webhook, (token, Instant::now() + lifetime));
    }

    /// Forgets a webhook's token, after the receiver refused it.
    pub fn forget(&self, webhook: WebhookId) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&webhook);
    }
}

fn secret(webhook: &WebhookRecord, sealer: &Sealer) -> Result<SecretString, AuthError> {
    let sealed = webhook
        .auth_secret_sealed
        .as_deref()
        .ok_or(AuthError::MissingSecret)?;
    sealer.unseal(sealed).map_err(|_| AuthError::Unseal)
}

/// The `Authorization` header value for a webhook, if it has auth.
pub async fn authorization(
    webhook: &WebhookRecord,
    sealer: &Sealer,
    tokens: &TokenCache,
    client: &GuardedClient,
) -> Result<Option<String>, AuthError> {
    match &webhook.auth {
        AuthConfig::None => Ok(None),
        AuthConfig::Basic { username } => {
            let password = secret(webhook, sealer)?;
            Ok(Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{}", password.expose()))
            )))
        }
        AuthConfig::Bearer => Ok(Some(format!(
            "Bearer {}",
            secret(webhook, sealer)?.expose()
        ))),
        AuthConfig::OAuth2 {
            token_url,
            client_id,
            scope,
        } => {
            if let Some(token) = tokens.get(webhook.id) {
                return Ok(Some(format!("Bearer {}", token.expose())));
            }
            let client_secret = secret(webhook, sealer)?;
            let (token, lifetime) = fetch_token(
                client,
                token_url,
                client_id,
                &client_secret,
                scope.as_deref(),
            )
            .await?;
            tokens.put(webhook.id, token.clone(), lifetime);
            Ok(Some(format!("Bearer {}", token.expose())))
        }
    }
}

/// A client credentials grant at `token_url`.
async fn fetch_token(
    client: &GuardedClient,
    token_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    scope: Option<&str>,
) -> Result<(SecretString, Duration), AuthError> {
    let url = url::Url::parse(token_url).map_err(|e| AuthError::Token(e.to_string()))?;
    client
        .check_url(&url)
        .map_err(|e| AuthError::Token(e.to_string()))?;
    let oauth = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_client_secret(ClientSecret::new(client_secret.expose().to_owned()))
        .set_token_uri(TokenUrl::from_url(url));
    let mut request = oauth.exchange_client_credentials();
    if let Some(scope) = scope {
        for part in scope.split_whitespace() {
            request = request.add_scope(Scope::new(part.to_owned()));
        }
    }
    // The future must own what it uses: `oauth2` asks for a client over any lifetime.
    let owned = client.clone();
    let http = move |request: oauth2::HttpRequest| send_oauth_request(owned.clone(), request);
    let response = request
        .request_async(&http)
        .await
        .map_err(|e| AuthError::Token(crate::attempt::error_chain(&e)))?;
    let lifetime = response.expires_in().unwrap_or(DEFAULT_TOKEN_LIFETIME);
    Ok((
        SecretString::new(response.access_token().secret().clone()),
        lifetime,
    ))
}

/// Carries an `oauth2` request over the guarded reqwest client (the `oauth2` crate is
/// built without its own reqwest, which is of another version).
async fn send_oauth_request(
    client: GuardedClient,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let mut builder = client.inner().request(parts.method, &url).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| TokenHttpError(e.to_string()))?;
    let mut answer = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| TokenHttpError(e.to_string()))?;
    answer
        .body(body.to_vec())
        .map_err(|e| TokenHttpError(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenHttpError(String);
