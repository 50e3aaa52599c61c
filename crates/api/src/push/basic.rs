//! HTTP Basic (RFC 7617) for pushes.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use faxrelay_core::crypto::{constant_time_eq, sha256_hex};
use faxrelay_core::ids::PushCredentialId;
use faxrelay_storage::push::PushTarget;

use crate::problem::ApiError;

const CHALLENGE: &str = r#"Basic realm="faxrelay", charset="UTF-8""#;

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
        challenges: vec![CHALLENGE.to_owned()],
    }
}

/// The user name and password of a `Basic` Authorization header.
pub(crate) fn credentials(request: &HttpRequest) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub(super) fn verify(
    request: &HttpRequest,
    target: &PushTarget,
) -> Result<PushCredentialId, ApiError> {
    let (user, password) = credentials(request)
        .ok_or_else(|| unauthorized("this push URL needs HTTP Basic authentication"))?;
    let presented = sha256_hex(password);
    // Compare against every credential without stopping early, so the time taken does not
    // tell which user names exist.
    let mut matched = None;
    for credential in &target.credentials {
        let user_matches = credential
            .principal
            .as_deref()
            .is_some_and(|p| constant_time_eq(p, &user));
        let secret_matches = credential
            .stored
            .secret_hash
            .as_deref()
            .is_some_and(|h| constant_time_eq(h, &presented));
        if user_matches & secret_matches {
            matched = Some(credential.id);
        }
    }
    matched.ok_or_else(|| unauthorized("the user name or password is wrong"))
}
