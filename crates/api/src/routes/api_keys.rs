//! Management API keys.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use faxrelay_core::crypto::{SecretString, random_token, sha256_hex};
use faxrelay_core::ids::ApiKeyId;
use faxrelay_storage::api_keys::{ApiKeyRecord, DeleteKeyOutcome, MAX_KEYS_PER_TENANT, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{display_name, path_id};
use crate::caller::{API_KEY_PREFIX, Caller};
use crate::json::OptionalJson;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A new key (256 random bits) and what is stored of it.
pub fn new_api_key(name: Option<String>) -> (SecretString, NewApiKey) {
    let key = format!("{API_KEY_PREFIX}{}", random_token(32));
    let stored = NewApiKey {
        name,
        prefix: key[..API_KEY_PREFIX.len() + 6].to_owned(),
        key_hash: sha256_hex(&key),
    };
    (SecretString::new(key), stored)
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String, example = "key_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: ApiKeyId,
    pub name: Option<String>,
    /// The first characters of the key, to tell keys apart.
    #[schema(example = "frk_3q2X9k")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// When the key was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(record: ApiKeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            prefix: record.prefix,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKeyView>,
}

/// A new API key with its secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key itself. It is not stored and cannot be shown again.
    #[schema(example = "frk_3q2X9kLm4Zr8bT1vW6yNc0dPeHs7Ju5Ag1Bf2Cg3Dh4")]
    pub key: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label, e.g. where the key is used.
    pub name: Option<String>,
}

/// The account's API keys.
#[utoipa::path(tag = "api keys", responses((status = 200, body = ApiKeyList), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/api-keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let keys = state.store.list_api_keys(caller.tenant_id).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: keys.into_iter().map(ApiKeyView::from).collect(),
    }))
}

/// Create an API key.
#[utoipa::path(
    tag = "api keys",
    request_body(content = Option<CreateApiKey>, description = "Optional; an empty body creates an unnamed key"),
    responses(
        (status = 201, description = "The key; its secret is shown only here", body = CreatedApiKey),
        (status = 409, description = "The account holds the most keys allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/api-keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJson<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = match body.name {
        Some(name) => Some(display_name("name", &name)?),
        None => None,
    };
    let (key, stored) = new_api_key(name);
    let record = state
        .store
        .create_api_key(caller.tenant_id, stored)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "an account may hold {MAX_KEYS_PER_TENANT} API keys; delete one first"
            ))
        })?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        api_key: record.into(),
        key: key.expose().to_owned(),
    }))
}

/// Revoke an API key. It stops working at once.
#[utoipa::path(
    tag = "api keys",
    params(("id" = String, Path, description = "An API key id (`key_...`)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last key cannot be revoked", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/api-keys/{id}")]
pub async fn delete_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = path_id(&id, "API key")?;
    match state.store.delete_api_key(caller.tenant_id, id).await? {
        DeleteKeyOutcome::Deleted => Ok(HttpResponse::NoContent().finish()),
        DeleteKeyOutcome::NotFound => Err(ApiError::not_found("API key")),
        DeleteKeyOutcome::LastKey => Err(ApiError::Conflict(
            "this is the account's last API key; create another before revoking it".into(),
        )),
    }
}
