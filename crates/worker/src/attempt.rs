//! One delivery attempt: the signed, authenticated POST and what came back.

use std::time::{Duration, Instant};

use chrono::Utc;
use faxrelay_core::crypto::{MasterKey, Sealer};
use faxrelay_core::signing::{SigningSecret, signature_header};
use faxrelay_core::target::TargetPolicy;
use faxrelay_core::template::Engine;
use faxrelay_core::text::{truncate, without_nul};
use faxrelay_core::webhook::AuthConfig;
use faxrelay_storage::webhooks::WebhookRecord;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::auth::{TokenCache, authorization};
use crate::client::GuardedClient;
use crate::render::Rendered;

/// The most response body kept per attempt.
const BODY_EXCERPT: usize = 4096;
/// The most response headers kept per attempt, and the longest value.
const MAX_HEADERS: usize = 32;
const MAX_HEADER_VALUE: usize = 512;

/// What one attempt did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptResult {
    pub status: Option<u16>,
    pub response_headers: Option<Value>,
    pub body_excerpt: Option<String>,
    /// Why no HTTP answer came (or why none was tried).
    pub error: Option<String>,
    pub duration: Duration,
    /// The receiver's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    fn failed(error: impl std::fmt::Display, started: Instant) -> Self {
        Self {
            error: Some(error.to_string()),
            duration: started.elapsed(),
            ..Self::default()
        }
    }

    pub fn is_success(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// Sends deliveries: shared by the worker and the API's "send a test" endpoint.
#[derive(Debug)]
pub struct Deliverer {
    client: GuardedClient,
    tokens: TokenCache,
    sealer: Sealer,
    engine: Engine,
}

impl Deliverer {
    pub fn new(policy: TargetPolicy, timeout: Duration, master_key: &MasterKey) -> Self {
        Self {
            client: GuardedClient::new(policy, timeout),
            tokens: TokenCache::default(),
            sealer: master_key.sealer(),
            engine: Engine::new(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn client(&self) -> &GuardedClient {
        &self.client
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The webhook's live signing secrets, newest first.
    fn signing_secrets(&self, webhook: &WebhookRecord) -> Result<Vec<SigningSecret>, String> {
        let open = |sealed: &str| {
            self.sealer
                .unseal(sealed)
                .ok()
                .and_then(|text| SigningSecret::parse(text.expose()).ok())
                .ok_or_else(|| {
                    "the signing secret cannot be opened (was FAXRELAY_SECRET_KEY changed?)"
                        .to_owned()
                })
        };
        let mut secrets = vec![open(&webhook.signing_secret_sealed)?];
        if let (Some(previous), Some(until)) = (
            &webhook.previous_secret_sealed,
            webhook.previous_secret_expires_at,
        ) && until > Utc::now()
        {
            secrets.push(open(previous)?);
        }
        Ok(secrets)
    }

    /// POSTs a rendered body to the webhook, signed with `message_id` as `webhook-id`.
    pub async fn send(
        &self,
        webhook: &WebhookRecord,
        message_id: &str,
        rendered: &Rendered,
    ) -> AttemptResult {
        let started = Instant::now();
        let url = match url::Url::parse(&webhook.url) {
            Ok(url) => url,
            Err(error) => {
                return AttemptResult::failed(
                    format!("the webhook URL is invalid: {error}"),
                    started,
                );
            }
        };
        if let Err(error) = self.client.check_url(&url) {
            return AttemptResult::failed(error, started);
        }
        let secrets = match self.signing_secrets(webhook) {
            Ok(secrets) => secrets,
            Err(error) => return AttemptResult::failed(error, started),
        };
        let timestamp = Utc::now().timestamp();
        let signature = signature_header(
            &secrets.iter().collect::<Vec<_>>(),
            message_id,
            timestamp,
            &rendered.body,
        );

        let mut headers = HeaderMap::new();
        for (name, value) in &webhook.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set(&mut headers, "content-type", &rendered.content_type);
        set(&mut headers, "webhook-id", message_id);
        set(&mut headers, "webhook-timestamp", &timestamp.to_string());
        set(&mut headers, "webhook-signature", &signature);

        let mut refreshed = false;
        loop {
            let mut request_headers = headers.clone();
            match authorization(webhook, &self.sealer, &self.tokens, &self.client).await {
                Ok(Some(value)) => set(&mut request_headers, "authorization", &value),
                Ok(None) => {}
                Err(error) => return AttemptResult::failed(error, started),
            }
            let response = self
                .client
                .inner()
                .post(url.clone())
                .headers(request_headers)
                .body(rendered.body.clone())
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(error) => return AttemptResult::failed(describe(&error), started),
            };
            // A cached OAuth2 token may have been revoked early: fetch a fresh one, once.
            if response.status() == StatusCode::UNAUTHORIZED
                && matches!(webhook.auth, AuthConfig::OAuth2 { .. })
                && !refreshed
            {
                self.tokens.forget(webhook.id);
                refreshed = true;
                continue;
            }
            return capture(response, started).await;
        }
    }
}

/// A reqwest error with its causes, which say what actually went wrong.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error_chain(error)
    }
}

/// An error and each of its causes, joined by ": ".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn capture(mut response: reqwest::Response, started: Instant) -> AttemptResult {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers().iter().take(MAX_HEADERS) {
        let mut value = without_nul(String::from_utf8_lossy(value.as_bytes()).into_owned());
        truncate(&mut value, MAX_HEADER_VALUE);
        headers.insert(name.as_str().to_owned(), Value::String(value));
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = Vec::new();
    let mut error = None;
    while body.len() < BODY_EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the answer failed: {}", describe(&e)));
                break;
            }
        }
    }
    body.truncate(BODY_EXCERPT);
    AttemptResult {
        status: Some(status),
        response_headers: Some(Value::Object(headers)),
        // What a receiver answers is stored: it must be text PostgreSQL accepts.
        body_excerpt: Some(without_nul(String::from_utf8_lossy(&body).into_owned())),
        error,
        duration: started.elapsed(),
        retry_after,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&Utc) - Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let parsed = parse_retry_after(&later).expect("a date");
        assert!(
            (Duration::from_secs(85)..=Duration::from_secs(90)).contains(&parsed),
            "{parsed:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
