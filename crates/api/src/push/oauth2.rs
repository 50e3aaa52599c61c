//! The OAuth2 token endpoint (RFC 6749 section 4.4, client credentials) that Retarus uses
//! to obtain bearer tokens for its pushes.
//!
//! Errors follow RFC 6749 section 5.2 (`{"error": "invalid_client"}` and so on), not the
//! problem format of the rest of the API: that is what OAuth2 clients parse.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use faxrelay_core::crypto::{constant_time_eq, sha256_hex};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The largest token request body read.
const MAX_BODY: usize = 8 * 1024;

/// An issued access token.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9...", "token_type": "Bearer", "expires_in": 3600}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// An error as RFC 6749 section 5.2 describes it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid_client", "error_description": "unknown client or wrong secret"}))]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type` or `server_error`.
    pub error: &'static str,
    pub error_description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    // Every 401 names the scheme to authenticate with (RFC 9110), whichever way the client
    // tried.
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="faxrelay""#));
    }
    response.json(OAuthError {
        error,
        error_description: description.to_owned(),
    })
}

fn invalid_request(description: &str) -> HttpResponse {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// Client id and secret from an HTTP Basic header, whose parts RFC 6749 section 2.3.1
/// form-encodes.
fn basic_client(request: &HttpRequest) -> Option<(String, String)> {
    let (id, secret) = super::basic::credentials(request)?;
    let decode = |text: &str| {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(&id)?, decode(&secret)?))
}

/// Obtain an access token for pushes (OAuth2 client credentials grant).
///
/// Authenticate with the client id and secret faxrelay issued, either as HTTP Basic or as
/// the `client_id` and `client_secret` form fields. The token goes into the push's
/// `Authorization: Bearer` header.
#[utoipa::path(
    tag = "push",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`grant_type=client_credentials`, and `client_id` + `client_secret` unless sent as HTTP Basic"),
    responses(
        (status = 200, description = "A token was issued", body = TokenResponse),
        (status = 400, description = "`invalid_request` or `unsupported_grant_type`", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown client or wrong secret", body = OAuthError),
    ),
    security(()),
)]
#[post("/oauth2/token")]
pub async fn token(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match crate::body::read(&request, payload, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return invalid_request("the request body is too large or could not be read"),
    };
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return invalid_request("send the parameters as application/x-www-form-urlencoded");
    }
    let mut fields = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        // RFC 6749 section 3.2: parameters must not be repeated.
        if fields
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return invalid_request("a parameter is repeated");
        }
    }
    match fields.get("grant_type").map(String::as_str) {
        None => return invalid_request("`grant_type` is missing"),
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
    }
    let from_header = basic_client(&request);
    let from_form = match (fields.get("client_id"), fields.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => return invalid_request("send both `client_id` and `client_secret`"),
    };
    let (client_id, client_secret) = match (from_header, from_form) {
        (Some(_), Some(_)) => return invalid_request("authenticate the client one way only"),
        (Some(client), None) | (None, Some(client)) => client,
        (None, None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            );
        }
    };
    let invalid_client = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        )
    };
    if client_id.len() > 128 {
        return invalid_client();
    }

    let client = match state.store.oauth2_client(&client_id).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(error = %error, "token request failed");
            let status = if error.is_unavailable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            return oauth_error(status, "server_error", "try again shortly");
        }
    };
    let presented = sha256_hex(&client_secret);
    let Some(client) = client.filter(|c| {
        c.stored
            .secret_hash
            .as_deref()
            .is_some_and(|h| constant_time_eq(h, &presented))
    }) else {
        return invalid_client();
    };
    match state.push_keys.issue_token(client.tenant_id, client.id) {
        Ok(access_token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in: state.push_keys.token_ttl.as_secs(),
            }),
        Err(error) => {
            tracing::error!(error = %error, "signing an access token failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be issued",
            )
        }
    }
}
