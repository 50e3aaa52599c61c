//! OAuth2 bearer tokens (RFC 6750) on pushes.

use actix_web::HttpRequest;
use actix_web::http::header;
use faxrelay_core::ids::PushCredentialId;
use faxrelay_storage::push::PushTarget;

use crate::problem::ApiError;
use crate::state::AppState;

fn invalid_token(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
        challenges: vec![format!(
            r#"Bearer realm="faxrelay", error="invalid_token", error_description="{detail}""#
        )],
    }
}

pub(super) fn verify(
    state: &AppState,
    request: &HttpRequest,
    target: &PushTarget,
) -> Result<PushCredentialId, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError::Unauthorized {
            detail: "this push URL needs an OAuth2 bearer token from the token endpoint".into(),
            challenges: vec![r#"Bearer realm="faxrelay""#.to_owned()],
        })?;
    let claims = state.push_keys.verify_token(token).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::ExpiredSignature => invalid_token("the access token has expired"),
            _ => invalid_token("the access token is invalid"),
        }
    })?;
    if claims.sub != target.tenant.id.to_string() {
        return Err(invalid_token(
            "the access token was issued for another account",
        ));
    }
    target
        .credentials
        .iter()
        .find(|credential| credential.id.to_string() == claims.cid)
        .map(|credential| credential.id)
        .ok_or_else(|| invalid_token("the client of this access token no longer exists"))
}
