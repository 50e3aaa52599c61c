//! Tenants' webhooks: where reports are delivered, how, and in what shape.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Duration, Utc};
use faxrelay_core::ids::{DeliveryId, TemplateId, WebhookId};
use faxrelay_core::retry::RetrySchedule;
use faxrelay_core::signing::SigningSecret;
use faxrelay_core::template;
use faxrelay_core::webhook::{AuthConfig, FanOut, Filter};
use faxrelay_queue::{Due, EnqueueMode};
use faxrelay_storage::webhooks::{MAX_WEBHOOKS_PER_TENANT, WebhookRecord, WebhookSettings};
use faxrelay_worker::render;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::common::path_id;
use crate::caller::Caller;
use crate::json::{Json, OptionalJson};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// How long a replaced signing secret keeps signing alongside the new one.
const ROTATION_OVERLAP: Duration = Duration::hours(24);
const MAX_HEADERS: usize = 20;
/// Headers faxrelay sets itself (or that would break the request).
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "host",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "webhook-id",
    "webhook-signature",
    "webhook-timestamp",
];

/// Outbound authentication as written in a request, secrets included.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthInput {
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer {
        token: String,
    },
    #[serde(rename = "oauth2")]
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        #[serde(default)]
        scope: Option<String>,
    },
}

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A webhook as written in a create or update request. On update, absent fields keep
/// their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example.com/fax",
    "description": "ERP status import",
    "template": "json",
    "filter": {"statuses": ["failed", "partial"]},
    "fan_out": "report",
    "headers": {"X-Source": "faxrelay"},
    "auth": {"type": "basic", "username": "faxrelay", "password": "s3cret"},
    "retry_schedule": "0s,30s,5m,1h"
}))]
pub struct WebhookInput {
    /// Where to POST (http or https; public addresses only, unless the operator allows more).
    pub url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Default true.
    pub enabled: Option<bool>,
    /// A built-in template (`json`, `xml`, `slack`, `teams`, `text`) or a template id.
    /// Default `json`.
    pub template: Option<String>,
    /// Which reports to deliver; empty lists deliver everything.
    pub filter: Option<Filter>,
    /// `report` (default): one delivery per report; `recipient`: one per recipient.
    pub fan_out: Option<FanOut>,
    /// Extra headers sent with every delivery. Put secrets in `auth`, not here.
    pub headers: Option<BTreeMap<String, String>>,
    pub auth: Option<AuthInput>,
    /// Delays before each attempt (`0s,5s,30s`); `null` for the deployment's default.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "0s,5s,30s,2m,10m")]
    pub retry_schedule: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(value_type = String, example = "whk_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: WebhookId,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the webhook was disabled (by the account, a 410 answer, or failing too long).
    pub disabled_reason: Option<String>,
    pub template: String,
    pub filter: Filter,
    pub fan_out: FanOut,
    pub headers: BTreeMap<String, String>,
    /// The authentication, without its secret.
    pub auth: AuthConfig,
    /// The webhook's own retry schedule; `null` for the deployment's default.
    pub retry_schedule: Option<String>,
    /// Since when every attempt failed, if the last one did.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Until when the previous signing secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookRecord> for WebhookView {
    fn from(record: WebhookRecord) -> Self {
        Self {
            id: record.id,
            url: record.url,
            description: record.description,
            enabled: record.enabled,
            disabled_reason: record.disabled_reason,
            template: record.template,
            filter: record.filter,
            fan_out: record.fan_out,
            headers: record.headers,
            auth: record.auth,
            retry_schedule: record.retry_schedule,
            failing_since: record.failing_since,
            last_success_at: record.last_success_at,
            previous_secret_expires_at: record
                .previous_secret_expires_at
                .filter(|until| *until > Utc::now()),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// A new webhook with its signing secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// Verify `webhook-signature` with this (Standard Webhooks).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub signing_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookView>,
    /// Always null: an account's webhooks fit one page.
    pub next_cursor: Option<String>,
}

/// Applies `input` over `settings`, validating each field.
async fn apply(
    state: &AppState,
    caller: Caller,
    input: WebhookInput,
    settings: &mut WebhookSettings,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let client = state.deliverer.client();
    if let Some(url) = input.url {
        match client.vet(url.trim()).await {
            Ok(url) => settings.url = url.to_string(),
            Err(error) => errors.push(FieldError::new("url", error.to_string())),
        }
    }
    if let Some(description) = input.description {
        match description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
        {
            Some(d) if d.chars().count() > 1000 => errors.push(FieldError::new(
                "description",
                "must be at most 1000 characters",
            )),
            other => settings.description = other,
        }
    }
    if let Some(enabled) = input.enabled {
        settings.enabled = enabled;
    }
    if let Some(name) = input.template {
        // A template id is stored in its canonical spelling (ids parse ignoring case), so
        // that "is this template in use?" finds every webhook using it.
        let canonical = if template::builtin(&name).is_some() {
            Some(name)
        } else {
            match name.parse::<TemplateId>() {
                Ok(id) => state
                    .store
                    .template(caller.tenant_id, id)
                    .await?
                    .map(|_| id.to_string()),
                Err(_) => None,
            }
        };
        if let Some(name) = canonical {
            settings.template = name;
        } else {
            errors.push(FieldError::new("template", "is neither a built-in template (json, xml, slack, teams, text) nor one of your templates"));
        }
    }
    if let Some(filter) = input.filter {
        settings.filter = filter;
    }
    if let Some(fan_out) = input.fan_out {
        settings.fan_out = fan_out;
    }
    if let Some(headers) = input.headers {
        if headers.len() > MAX_HEADERS {
            errors.push(FieldError::new(
                "headers",
                format!("at most {MAX_HEADERS} headers"),
            ));
        }
        for (name, value) in &headers {
            let field = format!("headers.{name}");
            let lower = name.to_ascii_lowercase();
            if name.is_empty()
                || name.len() > 100
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                errors.push(FieldError::new(field, "is not a valid header name"));
            } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                errors.push(FieldError::new(
                    field,
                    "is set by faxrelay; use `auth` for credentials",
                ));
            } else if value.len() > 1024
                || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
            {
                errors.push(FieldError::new(
                    field,
                    "must be at most 1024 characters on one line",
                ));
            }
        }
        settings.headers = headers;
    }
    if let Some(auth) = input.auth {
        let sealer = state.deliverer.sealer();
        let required = |field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>| {
            if value.is_empty() || value.len() > max {
                errors.push(FieldError::new(
                    format!("auth.{field}"),
                    format!("must be 1 to {max} characters"),
                ));
            }
        };
        match auth {
            AuthInput::None => {
                settings.auth = AuthConfig::None;
                settings.auth_secret_sealed = None;
            }
            AuthInput::Basic { username, password } => {
                required("username", &username, 200, &mut errors);
                if username.contains(':') {
                    errors.push(FieldError::new("auth.username", "must not contain `:`"));
                }
                required("password", &password, 1024, &mut errors);
                settings.auth = AuthConfig::Basic { username };
                settings.auth_secret_sealed = Some(sealer.seal(&password));
            }
            AuthInput::Bearer { token } => {
                required("token", &token, 4096, &mut errors);
                settings.auth = AuthConfig::Bearer;
                settings.auth_secret_sealed = Some(sealer.seal(&token));
            }
            AuthInput::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            } => {
                if let Err(error) = client.vet(token_url.trim()).await {
                    errors.push(FieldError::new("auth.token_url", error.to_string()));
                }
                required("client_id", &client_id, 512, &mut errors);
                required("client_secret", &client_secret, 4096, &mut errors);
                settings.auth = AuthConfig::OAuth2 {
                    token_url: token_url.trim().to_owned(),
                    client_id,
                    scope,
                };
                settings.auth_secret_sealed = Some(sealer.seal(&client_secret));
            }
        }
    }
    if let Some(schedule) = input.retry_schedule {
        match schedule.map(|text| text.parse::<RetrySchedule>()) {
            None => settings.retry_schedule = None,
            Some(Ok(schedule)) => settings.retry_schedule = Some(schedule.to_string()),
            Some(Err(error)) => errors.push(FieldError::new("retry_schedule", error.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidFields(errors))
    }
}

/// Create a webhook.
///
/// Every new report matching the filter is delivered to it, rendered through its
/// template and signed with its signing secret (shown only in this answer).
#[utoipa::path(
    tag = "webhooks",
    request_body = WebhookInput,
    responses(
        (status = 201, body = CreatedWebhook),
        (status = 409, description = "The account holds the most webhooks allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, e.g. the URL points to a private address", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    if input.url.is_none() {
        return Err(ApiError::invalid("url", "is required"));
    }
    let mut settings = WebhookSettings {
        url: String::new(),
        description: None,
        enabled: true,
        template: "json".to_owned(),
        filter: Filter::default(),
        fan_out: FanOut::Report,
        headers: BTreeMap::new(),
        auth: AuthConfig::None,
        auth_secret_sealed: None,
        retry_schedule: None,
    };
    apply(&state, caller, input, &mut settings).await?;
    let secret = SigningSecret::generate();
    let sealed = state.deliverer.sealer().seal(secret.expose());
    let record = state
        .store
        .create_webhook(caller.tenant_id, settings, sealed)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "an account may hold {MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first"
            ))
        })?;
    Ok(HttpResponse::Created().json(CreatedWebhook {
        webhook: record.into(),
        signing_secret: secret.expose().to_owned(),
    }))
}

/// The account's webhooks.
#[utoipa::path(tag = "webhooks", responses((status = 200, body = WebhookList)))]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let hooks = state.store.list_webhooks(caller.tenant_id).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        data: hooks.into_iter().map(WebhookView::from).collect(),
        next_cursor: None,
    }))
}

async fn find(state: &AppState, caller: Caller, id: &str) -> Result<WebhookRecord, ApiError> {
    let id: WebhookId = path_id(id, "webhook")?;
    state
        .store
        .webhook(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// One webhook.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(WebhookView::from(find(&state, caller, &id).await?)))
}

/// Change a webhook. Absent fields keep their value. Enabling a disabled webhook sends its
/// held deliveries.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    request_body = WebhookInput,
    responses(
        (status = 200, body = WebhookView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let current = find(&state, caller, &id).await?;
    let mut settings = WebhookSettings::of(&current);
    apply(&state, caller, body.into_inner(), &mut settings).await?;
    let enabling = settings.enabled && !current.enabled;
    let record = state
        .store
        .update_webhook(caller.tenant_id, current.id, settings)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    if enabling {
        let held = state
            .store
            .open_deliveries_of_webhook(caller.tenant_id, record.id)
            .await?;
        enqueue(
            &state,
            held.into_iter().map(|(id, at)| Due { id, at }).collect(),
            EnqueueMode::IfAbsent,
        )
        .await;
    }
    Ok(HttpResponse::Ok().json(WebhookView::from(record)))
}

/// Delete a webhook and its deliveries.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: WebhookId = path_id(&id, "webhook")?;
    if state.store.delete_webhook(caller.tenant_id, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret, shown once.
    pub signing_secret: String,
    /// Until then deliveries carry a signature by the old secret too.
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// Rotate the signing secret. For 24 hours deliveries carry two signatures, by the new and
/// the old secret, so the receiver can switch at its own pace.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    responses((status = 200, body = RotatedSecret), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let secret = SigningSecret::generate();
    let until = Utc::now() + ROTATION_OVERLAP;
    let sealed = state.deliverer.sealer().seal(secret.expose());
    state
        .store
        .rotate_signing_secret(caller.tenant_id, id, sealed, until)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        signing_secret: secret.expose().to_owned(),
        previous_secret_expires_at: until,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestOutcome {
    /// Whether the endpoint answered 2xx.
    pub success: bool,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The start of the answer's body.
    pub response_excerpt: Option<String>,
    /// Why there was no answer (or the template failed).
    pub error: Option<String>,
    /// The `webhook-id` the test was sent with.
    pub message_id: String,
}

/// Send a sample report to the webhook now, and tell how it went.
///
/// The sample is rendered with the webhook's template, signed and authenticated like a
/// real delivery. Nothing is stored and nothing is retried.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    responses((status = 200, body = TestOutcome), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = find(&state, caller, &id).await?;
    let custom = match webhook.template.parse::<TemplateId>() {
        Ok(id) => state.store.template(caller.tenant_id, id).await?,
        Err(_) => None,
    };
    let tenant = state
        .store
        .tenant(caller.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let message_id = DeliveryId::generate();
    let report = template::sample_report();
    let envelope = render::envelope(
        (tenant.id, &tenant.name),
        &webhook,
        (message_id, 1, Utc::now()),
    );
    let recipient = (webhook.fan_out == FanOut::Recipient).then_some(0);
    let raw = template::SAMPLE_RAW_BODY.as_bytes();
    let context = render::context(&report, recipient, &envelope, Some(raw));
    let rendered = render::choose(&webhook.template, custom.as_ref()).and_then(|choice| {
        render::render(
            state.deliverer.engine(),
            &choice,
            &context,
            (raw, "text/xml; charset=UTF-8"),
        )
    });
    let outcome = match rendered {
        Ok(rendered) => {
            let result = state
                .deliverer
                .send(&webhook, &message_id.to_string(), &rendered)
                .await;
            let mut excerpt = result.body_excerpt.clone();
            if let Some(text) = excerpt.as_mut() {
                let cut = text.char_indices().nth(1024).map_or(text.len(), |(i, _)| i);
                text.truncate(cut);
            }
            TestOutcome {
                success: result.is_success(),
                status_code: result.status,
                latency_ms: result.duration.as_millis() as u64,
                response_excerpt: excerpt,
                error: result.error,
                message_id: message_id.to_string(),
            }
        }
        Err(error) => TestOutcome {
            success: false,
            status_code: None,
            latency_ms: 0,
            response_excerpt: None,
            error: Some(format!("the template failed: {error}")),
            message_id: message_id.to_string(),
        },
    };
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    /// Only deliveries created at or after this time (default: all).
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redriven {
    /// How many deliveries were scheduled again.
    pub redriven: usize,
}

/// Send every dead or failed delivery of the webhook again, now, with a fresh retry
/// schedule.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "A webhook id (`whk_...`)")),
    request_body(content = Option<RedriveRequest>, description = "Optional"),
    responses((status = 202, body = Redriven), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[post("/webhooks/{id}/redrive")]
pub async fn redrive(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: OptionalJson<RedriveRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let request = body.into_inner();
    let ids = state
        .store
        .redrive_webhook(caller.tenant_id, id, request.since)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    let now = Utc::now();
    let count = ids.len();
    enqueue(
        &state,
        ids.into_iter().map(|id| Due { id, at: now }).collect(),
        EnqueueMode::Earlier,
    )
    .await;
    Ok(HttpResponse::Accepted().json(Redriven { redriven: count }))
}

/// Queues deliveries. A failure is not the caller's problem: the deliveries are in the
/// database, and the sweeper queues them.
pub async fn enqueue(state: &AppState, items: Vec<Due>, mode: EnqueueMode) {
    if items.is_empty() {
        return;
    }
    if let Err(error) = state.queue.enqueue(&items, mode).await {
        tracing::warn!(error = %error, deliveries = items.len(), "queueing deliveries failed; the sweeper will");
    }
}
