//! Sign-up and the caller's own account.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use faxrelay_core::crypto::constant_time_eq;
use faxrelay_core::ids::TenantId;
use faxrelay_core::push_auth::{
    DigestAlgorithm, PushAuthMethod, generate_push_key, issue_credential,
};
use faxrelay_storage::push::NewPushCredential;
use faxrelay_storage::tenants::{NewTenant, Tenant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_keys::new_api_key;
use super::common::display_name;
use super::push_settings::{PushSetup, digest_algorithms};
use crate::caller::Caller;
use crate::json::Json;
use crate::problem::{ApiError, Problem};
use crate::settings::SignupPolicy;
use crate::state::AppState;

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    #[schema(value_type = String, example = "tnt_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: TenantId,
    #[schema(example = "ACME Legal")]
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name.clone(),
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ACME Legal", "push_auth": "digest"}))]
pub struct SignupRequest {
    /// The account's display name.
    pub name: String,
    /// How Retarus will authenticate its pushes (default `basic`).
    #[serde(default)]
    pub push_auth: Option<PushAuthMethod>,
    /// Digest only: the algorithms to offer (default both, SHA-256 preferred).
    #[serde(default)]
    pub digest_algorithms: Option<Vec<DigestAlgorithm>>,
    /// Needed when the deployment's sign-up is by token.
    #[serde(default)]
    pub signup_token: Option<String>,
}

/// A new account, with every secret it needs. Shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub tenant: TenantView,
    /// The first API key, for `Authorization: Bearer`.
    #[schema(example = "frk_3q2X9kLm4Zr8bT1vW6yNc0dPeHs7Ju5Ag1Bf2Cg3Dh4")]
    pub api_key: String,
    /// What to configure at Retarus.
    pub push: PushSetup,
}

fn check_signup_allowed(policy: &SignupPolicy, token: Option<&str>) -> Result<(), ApiError> {
    match policy {
        SignupPolicy::Open => Ok(()),
        SignupPolicy::Closed => Err(ApiError::Forbidden(
            "sign-up is closed on this deployment".into(),
        )),
        SignupPolicy::Token(expected) => match token {
            Some(token) if constant_time_eq(token, expected.expose()) => Ok(()),
            Some(_) => Err(ApiError::Forbidden("the sign-up token is wrong".into())),
            None => Err(ApiError::Forbidden(
                "sign-up on this deployment needs a `signup_token`".into(),
            )),
        },
    }
}

/// Sign up: create an account.
///
/// Answers with the account, its first API key and the push URL with credentials to
/// configure at Retarus. The secrets appear in this answer only.
#[utoipa::path(
    tag = "account",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "The account was created", body = SignupResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sign-up is closed or needs a token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/tenants")]
pub async fn sign_up(
    state: web::Data<AppState>,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_signup_allowed(&state.settings.signup, body.signup_token.as_deref())?;
    let name = display_name("name", &body.name)?;
    let method = body.push_auth.unwrap_or(PushAuthMethod::Basic);
    let algorithms = digest_algorithms(body.digest_algorithms)?;

    let (api_key, new_key) = new_api_key(Some("default".to_owned()));
    let issued = issue_credential(method);
    let new_tenant = NewTenant {
        name,
        push_auth: method,
        push_key: generate_push_key(),
        digest_algorithms: algorithms,
    };
    let credential = NewPushCredential {
        method,
        stored: issued.stored.clone(),
    };
    let (tenant, _, record) = state
        .store
        .create_tenant(new_tenant, new_key, credential)
        .await?;
    tracing::info!(tenant.id = %tenant.id, method = %method, "tenant signed up");
    Ok(HttpResponse::Created().json(SignupResponse {
        tenant: TenantView::from(&tenant),
        api_key: api_key.expose().to_owned(),
        push: PushSetup::new(&state.settings, &tenant, &record, &issued),
    }))
}

/// The caller's account.
#[utoipa::path(
    tag = "account",
    responses((status = 200, body = TenantView), (status = 401, body = Problem, content_type = "application/problem+json")),
)]
#[get("/tenant")]
pub async fn get_tenant(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let tenant = state
        .store
        .tenant(caller.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: String,
}

/// Rename the caller's account.
#[utoipa::path(
    tag = "account",
    request_body = UpdateTenant,
    responses((status = 200, body = TenantView), (status = 422, body = Problem, content_type = "application/problem+json")),
)]
#[patch("/tenant")]
pub async fn update_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<UpdateTenant>,
) -> Result<HttpResponse, ApiError> {
    let name = display_name("name", &body.name)?;
    let tenant = state
        .store
        .rename_tenant(caller.tenant_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    // Pushes carry the tenant's name to the templates: new ones get the new name.
    state.push_targets.forget_tenant(caller.tenant_id);
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// Delete the caller's account and everything it owns.
///
/// Reports, rejected pushes, API keys and push credentials are removed at once and for
/// good; pushes to the account's URL are answered 404 from now on.
#[utoipa::path(
    tag = "account",
    responses((status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = "application/problem+json")),
)]
#[delete("/tenant")]
pub async fn delete_tenant(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_tenant(caller.tenant_id).await?;
    state.push_targets.forget_tenant(caller.tenant_id);
    tracing::info!(tenant.id = %caller.tenant_id, "tenant deleted");
    Ok(HttpResponse::NoContent().finish())
}
