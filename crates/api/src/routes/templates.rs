//! Tenants' handlebars templates, and previews.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use faxrelay_core::ids::{DeliveryId, ReportId, TemplateId, WebhookId};
use faxrelay_core::report::ReportView;
use faxrelay_core::template::{self, BUILTINS, Engine, Escaping, TemplateError};
use faxrelay_storage::templates::{
    DeleteTemplateOutcome, MAX_TEMPLATES_PER_TENANT, TemplateFields, TemplateRecord,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::common::{display_name, path_id};
use crate::caller::Caller;
use crate::json::Json;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// The longest template body accepted.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    #[schema(value_type = String, example = "tpl_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: TemplateId,
    pub name: String,
    /// The content type deliveries are sent with; it decides how `{{value}}` is escaped
    /// (JSON, XML/HTML, or not at all).
    pub content_type: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TemplateRecord> for TemplateView {
    fn from(record: TemplateRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            content_type: record.content_type,
            body: record.body,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// A built-in template.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuiltinView {
    /// Use this name as a webhook's `template`.
    pub name: &'static str,
    /// `null`: the content type of the original push.
    pub content_type: Option<&'static str>,
    pub description: &'static str,
    pub body: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateView>,
    /// The built-in templates, usable by name.
    pub builtins: Vec<BuiltinView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Short JSON",
    "content_type": "application/json",
    "body": "{\"job\": \"{{report.job_id}}\", \"status\": \"{{report.status}}\", \"failed\": [{{#each report.recipients}}{{#unless (eq category \"delivered\")}}\"{{number}}\"{{/unless}}{{/each}}]}"
}))]
pub struct TemplateInput {
    pub name: String,
    pub content_type: String,
    /// Handlebars source.
    pub body: String,
}

fn content_type(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let essence = value.split(';').next().unwrap_or_default().trim();
    let valid = value.len() <= 255
        && essence
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty())
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(
            "content_type",
            "must be a media type such as application/json",
        ))
    }
}

fn template_error(field: &str, error: &TemplateError) -> FieldError {
    FieldError::new(field, error.to_string())
}

/// Checks a template: it compiles, and it renders the sample report (whole and per
/// recipient) into valid output for its content type.
pub fn validate(engine: &Engine, body: &str, content_type: &str) -> Result<(), ApiError> {
    if body.len() > MAX_TEMPLATE_BYTES {
        return Err(ApiError::invalid(
            "body",
            format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    Engine::compile(body).map_err(|e| ApiError::InvalidFields(vec![template_error("body", &e)]))?;
    let escaping = Escaping::for_content_type(content_type);
    for recipient in [None, Some(0)] {
        let output = engine
            .render_once(body, escaping, &template::sample_context(recipient))
            .map_err(|e| {
                ApiError::InvalidFields(vec![FieldError::new(
                    "body",
                    format!("fails on the sample report: {e}"),
                )])
            })?;
        if escaping == Escaping::Json
            && let Err(error) = serde_json::from_str::<Value>(&output)
        {
            return Err(ApiError::invalid(
                "body",
                format!(
                    "renders invalid JSON for the sample report: {error} (line {}, column {} of the output)",
                    error.line(),
                    error.column()
                ),
            ));
        }
    }
    Ok(())
}

fn fields(state: &AppState, input: TemplateInput) -> Result<TemplateFields, ApiError> {
    let name = display_name("name", &input.name)?;
    let content_type = content_type(&input.content_type)?;
    validate(state.deliverer.engine(), &input.body, &content_type)?;
    Ok(TemplateFields {
        name,
        content_type,
        body: input.body,
    })
}

/// Create a template.
///
/// The template must compile and render the sample report; otherwise the answer is 422
/// with the line and column of the problem.
#[utoipa::path(
    tag = "templates",
    request_body = TemplateInput,
    responses(
        (status = 201, body = TemplateView),
        (status = 409, description = "The account holds the most templates allowed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The template does not compile or fails on the sample report", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<TemplateInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = fields(&state, body.into_inner())?;
    let record = state
        .store
        .create_template(caller.tenant_id, fields)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "an account may hold {MAX_TEMPLATES_PER_TENANT} templates; delete one first"
            ))
        })?;
    Ok(HttpResponse::Created().json(TemplateView::from(record)))
}

/// The account's templates, and the built-in ones.
#[utoipa::path(tag = "templates", responses((status = 200, body = TemplateList)))]
#[get("/templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let templates = state.store.list_templates(caller.tenant_id).await?;
    Ok(HttpResponse::Ok().json(TemplateList {
        data: templates.into_iter().map(TemplateView::from).collect(),
        builtins: BUILTINS
            .iter()
            .map(|b| BuiltinView {
                name: b.name,
                content_type: b.content_type,
                description: b.description,
                body: b.body,
            })
            .collect(),
    }))
}

/// One template.
#[utoipa::path(
    tag = "templates",
    params(("id" = String, Path, description = "A template id (`tpl_...`)")),
    responses((status = 200, body = TemplateView), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/templates/{id}")]
pub async fn get_template(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: TemplateId = path_id(&id, "template")?;
    let record = state
        .store
        .template(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("template"))?;
    Ok(HttpResponse::Ok().json(TemplateView::from(record)))
}

/// Replace a template. Webhooks using it render with the new version from now on.
#[utoipa::path(
    tag = "templates",
    params(("id" = String, Path, description = "A template id (`tpl_...`)")),
    request_body = TemplateInput,
    responses(
        (status = 200, body = TemplateView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/templates/{id}")]
pub async fn update_template(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<TemplateInput>,
) -> Result<HttpResponse, ApiError> {
    let id: TemplateId = path_id(&id, "template")?;
    let fields = fields(&state, body.into_inner())?;
    let record = state
        .store
        .update_template(caller.tenant_id, id, fields)
        .await?
        .ok_or_else(|| ApiError::not_found("template"))?;
    Ok(HttpResponse::Ok().json(TemplateView::from(record)))
}

/// Delete a template that no webhook uses.
#[utoipa::path(
    tag = "templates",
    params(("id" = String, Path, description = "A template id (`tpl_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A webhook uses it", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/templates/{id}")]
pub async fn delete_template(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: TemplateId = path_id(&id, "template")?;
    match state.store.delete_template(caller.tenant_id, id).await? {
        DeleteTemplateOutcome::Deleted => Ok(HttpResponse::NoContent().finish()),
        DeleteTemplateOutcome::NotFound => Err(ApiError::not_found("template")),
        DeleteTemplateOutcome::InUse => Err(ApiError::Conflict(
            "a webhook uses this template; change its template first".into(),
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"template_id": "slack", "report_id": "rpt_01JDX8M2Q5G7T0V6Z3B1C4N8K2"}))]
pub struct PreviewRequest {
    /// A built-in template's name or a template id. Give this or `body`.
    pub template_id: Option<String>,
    /// A handlebars source to try. Give this or `template_id`.
    pub body: Option<String>,
    /// With `body`: the content type (default `application/json`).
    pub content_type: Option<String>,
    /// A stored report to render; default: a sample report.
    #[schema(value_type = Option<String>)]
    pub report_id: Option<ReportId>,
    /// Render as for a webhook with `fan_out: recipient`, for the recipient at this
    /// position.
    pub recipient: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub content_type: String,
    /// The rendered body.
    pub body: String,
}

/// Render a template against a stored report or a sample.
#[utoipa::path(
    tag = "templates",
    request_body = PreviewRequest,
    responses(
        (status = 200, body = Preview),
        (status = 404, description = "No such template or report", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The template fails", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/templates/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let stored;
    let (source, content_type, key): (&str, Option<String>, Option<String>) =
        match (&request.template_id, &request.body) {
            (Some(name), None) if template::builtin(name).is_some() => {
                let builtin = template::builtin(name).expect("checked above");
                (
                    builtin.body,
                    builtin.content_type.map(str::to_owned),
                    Some(format!("builtin:{}", builtin.name)),
                )
            }
            (Some(id), None) => {
                let id: TemplateId = id.parse().map_err(|_| {
                    ApiError::invalid(
                        "template_id",
                        "is neither a built-in template nor a template id",
                    )
                })?;
                stored = state
                    .store
                    .template(caller.tenant_id, id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("template"))?;
                (
                    stored.body.as_str(),
                    Some(stored.content_type.clone()),
                    None,
                )
            }
            (None, Some(body)) => {
                if body.len() > MAX_TEMPLATE_BYTES {
                    return Err(ApiError::invalid(
                        "body",
                        format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
                    ));
                }
                let content_type = content_type(
                    request
                        .content_type
                        .as_deref()
                        .unwrap_or("application/json"),
                )?;
                Engine::compile(body)
                    .map_err(|e| ApiError::InvalidFields(vec![template_error("body", &e)]))?;
                (body.as_str(), Some(content_type), None)
            }
            _ => {
                return Err(ApiError::invalid(
                    "template_id",
                    "give either `template_id` or `body`",
                ));
            }
        };

    let recipient = request.recipient.map(|i| i as usize);
    let (context, raw_content_type) = match request.report_id {
        None => (
            template::sample_context(recipient),
            "text/xml; charset=UTF-8".to_owned(),
        ),
        Some(report_id) => {
            let stored = state
                .store
                .report(caller.tenant_id, report_id)
                .await?
                .ok_or_else(|| ApiError::not_found("report"))?;
            let raw = state
                .store
                .report_raw(caller.tenant_id, report_id)
                .await?
                .ok_or_else(|| ApiError::not_found("report"))?;
            let tenant = state
                .store
                .tenant(caller.tenant_id)
                .await?
                .ok_or_else(|| ApiError::not_found("account"))?;
            let view = ReportView {
                id: stored.id,
                received_at: stored.received_at,
                report: stored.report,
            };
            // A preview is no delivery: the webhook and delivery fields are placeholders.
            let envelope = template::Envelope {
                tenant_id: tenant.id,
                tenant_name: &tenant.name,
                webhook_id: WebhookId::from_uuid(uuid::Uuid::nil()),
                webhook_url: "https://hooks.example.com/preview",
                webhook_description: Some("preview"),
                delivery_id: DeliveryId::generate(),
                attempt: 1,
                created_at: chrono::Utc::now(),
            };
            (
                template::context(&view, recipient, &envelope, Some(&raw.body)),
                raw.content_type,
            )
        }
    };
    if request.recipient.is_some() && context["recipient"].is_null() {
        return Err(ApiError::invalid(
            "recipient",
            "the report has no recipient at this position",
        ));
    }
    let content_type = content_type.unwrap_or(raw_content_type);
    let engine = state.deliverer.engine();
    let escaping = Escaping::for_content_type(&content_type);
    let rendered = match key {
        Some(key) => engine.render(&key, source, escaping, &context),
        None => engine.render_once(source, escaping, &context),
    }
    .map_err(|e| ApiError::InvalidFields(vec![template_error("body", &e)]))?;
    Ok(HttpResponse::Ok().json(Preview {
        content_type,
        body: rendered,
    }))
}
