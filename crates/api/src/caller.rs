//! The caller of the management API, as an extractor: a handler that takes a [`Caller`]
//! can only run for a request with a valid API key, and only sees that key's tenant.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use faxrelay_core::crypto::sha256_hex;
use faxrelay_core::ids::{ApiKeyId, TenantId};

use crate::problem::ApiError;
use crate::state::AppState;

/// The prefix of every API key, so a leaked key is recognisable (and greppable).
pub const API_KEY_PREFIX: &str = "frk_";

/// An authenticated API caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub key_id: ApiKeyId,
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
        challenges: vec![r#"Bearer realm="faxrelay""#.to_owned()],
    }
}

/// The bearer token of a request, if it has the shape of an API key.
fn api_key_of(request: &HttpRequest) -> Result<String, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send your API key as `Authorization: Bearer <key>`"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not valid text"))?;
    let (scheme, key) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("expected `Bearer <key>`"))?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !key.starts_with(API_KEY_PREFIX) || key.len() > 100
    {
        return Err(unauthorized("the API key is invalid or revoked"));
    }
    Ok(key.to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let key = api_key_of(request);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state is missing"))?;
            let key = key?;
            let record = state
                .store
                .authenticate_api_key(&sha256_hex(&key))
                .await?
                .ok_or_else(|| unauthorized("the API key is invalid or revoked"))?;
            Ok(Caller {
                tenant_id: record.tenant_id,
                key_id: record.id,
            })
        })
    }
}
