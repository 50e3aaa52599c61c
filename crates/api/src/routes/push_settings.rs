//! How Retarus reaches a tenant: the push URL, the authentication method and its
//! credentials, with rotation.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use faxrelay_core::ids::PushCredentialId;
use faxrelay_core::push_auth::{
    DigestAlgorithm, IssuedCredential, PushAuthMethod, issue_credential,
};
use faxrelay_storage::push::{DeleteCredentialOutcome, NewPushCredential, PushCredentialRecord};
use faxrelay_storage::tenants::Tenant;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::path_id;
use crate::caller::Caller;
use crate::json::Json;
use crate::problem::{ApiError, Problem};
use crate::settings::ApiSettings;
use crate::state::AppState;

/// What to configure at Retarus, with the secret of a new credential. Shown once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "url": "https://relay.example.com/push/q2X9kLm4Zr8bT1vW6yNc0dPe",
    "auth_method": "basic",
    "retarus_auth_method": "HTTP_BASIC",
    "credential_id": "pcr_01JDX8M2Q5G7T0V6Z3B1C4N8K2",
    "username": "push-h3kq9zt2m",
    "password": "Vb7mQ2xK9pL4sT8wZ1nR6cY3dF5gH0jA"
}))]
pub struct PushSetup {
    /// The status push URL (`httpStatusPush.url`).
    pub url: String,
    pub auth_method: PushAuthMethod,
    /// The same method as Retarus names it (`authMethod`).
    pub retarus_auth_method: &'static str,
    #[schema(value_type = String)]
    pub credential_id: PushCredentialId,
    /// Basic and digest: the `principal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic and digest: the `credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// OAuth2: the `principal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OAuth2: the `credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// OAuth2: the token URL to set up on the Retarus account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Digest: the algorithms offered, strongest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithms: Option<Vec<DigestAlgorithm>>,
}

impl PushSetup {
    pub fn new(
        settings: &ApiSettings,
        tenant: &Tenant,
        record: &PushCredentialRecord,
        issued: &IssuedCredential,
    ) -> Self {
        let method = issued.method;
        let secret = issued.secret.expose().to_owned();
        let (username, password, client_id, client_secret) = match method {
            PushAuthMethod::None => (None, None, None, None),
            PushAuthMethod::Basic | PushAuthMethod::Digest => {
                (issued.principal.clone(), Some(secret), None, None)
            }
            PushAuthMethod::OAuth2 => (None, None, issued.principal.clone(), Some(secret)),
        };
        let url = match method {
            PushAuthMethod::None => settings.push_url(issued.secret.expose()),
            _ => settings.push_url(&tenant.push_key),
        };
        Self {
            url,
            auth_method: method,
            retarus_auth_method: method.retarus_name(),
            credential_id: record.id,
            username,
            password,
            client_id,
            client_secret,
            token_url: (method == PushAuthMethod::OAuth2).then(|| settings.token_url()),
            digest_algorithms: (method == PushAuthMethod::Digest)
                .then(|| tenant.digest_algorithms.clone()),
        }
    }
}

/// A push credential without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushCredentialView {
    #[schema(value_type = String, example = "pcr_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: PushCredentialId,
    pub auth_method: PushAuthMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&PushCredentialRecord> for PushCredentialView {
    fn from(record: &PushCredentialRecord) -> Self {
        let (username, client_id) = match record.method {
            PushAuthMethod::OAuth2 => (None, record.principal.clone()),
            _ => (record.principal.clone(), None),
        };
        Self {
            id: record.id,
            auth_method: record.method,
            username,
            client_id,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// The push settings of the account, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushSettings {
    /// The push URL; `null` for the `none` method, whose URLs carry the secret and were
    /// shown once, when each credential was created.
    pub url: Option<String>,
    pub auth_method: PushAuthMethod,
    pub retarus_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithms: Option<Vec<DigestAlgorithm>>,
    /// The live credentials; while two exist, both are accepted.
    pub credentials: Vec<PushCredentialView>,
}

/// The digest algorithms of a request, defaulting to both.
pub fn digest_algorithms(
    requested: Option<Vec<DigestAlgorithm>>,
) -> Result<Vec<DigestAlgorithm>, ApiError> {
    match requested {
        None => Ok(DigestAlgorithm::ALL.to_vec()),
        Some(list) if list.is_empty() => Err(ApiError::invalid(
            "digest_algorithms",
            "needs at least one algorithm",
        )),
        Some(list) => {
            // Strongest first, without repeats, whatever order the request used.
            Ok(DigestAlgorithm::ALL
                .into_iter()
                .filter(|a| list.contains(a))
                .collect())
        }
    }
}

/// The push URL, method and credentials (no secrets).
#[utoipa::path(
    tag = "push settings",
    responses((status = 200, body = PushSettings), (status = 401, body = Problem, content_type = "application/problem+json")),
)]
#[get("/push")]
pub async fn get_push(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let tenant = state
        .store
        .tenant(caller.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let credentials = state.store.push_credentials(caller.tenant_id).await?;
    let method = tenant.push_auth;
    Ok(HttpResponse::Ok().json(PushSettings {
        url: (method != PushAuthMethod::None).then(|| state.settings.push_url(&tenant.push_key)),
        auth_method: method,
        retarus_auth_method: method.retarus_name(),
        token_url: (method == PushAuthMethod::OAuth2).then(|| state.settings.token_url()),
        digest_algorithms: (method == PushAuthMethod::Digest)
            .then(|| tenant.digest_algorithms.clone()),
        credentials: credentials.iter().map(PushCredentialView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePushMethod {
    pub auth_method: PushAuthMethod,
    /// Digest only: the algorithms to offer (default both, SHA-256 preferred).
    pub digest_algorithms: Option<Vec<DigestAlgorithm>>,
}

/// Change the authentication method.
///
/// Every existing credential is replaced by one new credential of the new method, shown
/// once in the answer. Change the Retarus settings right after: pushes with the old
/// credentials are refused from now on.
#[utoipa::path(
    tag = "push settings",
    request_body = ChangePushMethod,
    responses(
        (status = 200, description = "The new method and its credential (secret shown once)", body = PushSetup),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/push")]
pub async fn change_method(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<ChangePushMethod>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let algorithms = digest_algorithms(body.digest_algorithms)?;
    let issued = issue_credential(body.auth_method);
    let credential = NewPushCredential {
        method: issued.method,
        stored: issued.stored.clone(),
    };
    let (tenant, record) = state
        .store
        .set_push_method(caller.tenant_id, &algorithms, credential)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    state.push_targets.forget_tenant(tenant.id);
    tracing::info!(tenant.id = %tenant.id, method = %tenant.push_auth, "push method changed");
    Ok(HttpResponse::Ok().json(PushSetup::new(&state.settings, &tenant, &record, &issued)))
}

/// Add a credential, for a rotation.
///
/// The new credential (of the current method) works alongside the old ones until they are
/// deleted, so Retarus can be switched over without losing a push. Its secret is shown
/// once.
#[utoipa::path(
    tag = "push settings",
    responses(
        (status = 201, description = "The new credential (secret shown once)", body = PushSetup),
        (status = 409, description = "The account holds the most credentials allowed", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/push/credentials")]
pub async fn add_credential(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let tenant = state
        .store
        .tenant(caller.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let issued = issue_credential(tenant.push_auth);
    let credential = NewPushCredential {
        method: issued.method,
        stored: issued.stored.clone(),
    };
    let record = state
        .store
        .add_push_credential(caller.tenant_id, credential)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "an account may hold {} push credentials; delete one first",
                faxrelay_storage::push::MAX_CREDENTIALS_PER_TENANT
            ))
        })?;
    Ok(HttpResponse::Created().json(PushSetup::new(&state.settings, &tenant, &record, &issued)))
}

/// Delete a credential.
#[utoipa::path(
    tag = "push settings",
    params(("id" = String, Path, description = "A push credential id (`pcr_...`)")),
    responses(
        (status = 204, description = "Deleted; pushes with it are refused from now on"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last credential cannot be deleted", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/push/credentials/{id}")]
pub async fn delete_credential(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: PushCredentialId = path_id(&id, "push credential")?;
    match state.store.delete_push_credential(caller.tenant_id, id).await? {
        DeleteCredentialOutcome::Deleted => {
            state.push_targets.forget_tenant(caller.tenant_id);
            Ok(HttpResponse::NoContent().finish())
        }
        DeleteCredentialOutcome::NotFound => Err(ApiError::not_found("push credential")),
        DeleteCredentialOutcome::LastCredential => Err(ApiError::Conflict(
            "this is the last push credential; add another (or change the method) before deleting it".into(),
        )),
    }
}
