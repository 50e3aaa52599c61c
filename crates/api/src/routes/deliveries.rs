//! Deliveries: looking back at what was sent, and sending again.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use faxrelay_core::ids::{AttemptId, DeliveryId, ReportId, WebhookId};
use faxrelay_core::webhook::DeliveryStatus;
use faxrelay_queue::{Due, EnqueueMode};
use faxrelay_storage::deliveries::{
    AttemptRecord, DeliveryFilter, DeliveryRecord, RedeliverOutcome, RetryOutcome,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{QueryParams, list_type, path_id};
use super::webhooks::enqueue;
use crate::caller::Caller;
use crate::json::OptionalJson;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also the `webhook-id` header of every attempt, so receivers can drop duplicates.
    #[schema(value_type = String, example = "dlv_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: DeliveryId,
    #[schema(value_type = String)]
    pub webhook_id: WebhookId,
    #[schema(value_type = String)]
    pub report_id: ReportId,
    /// With `fan_out: recipient`: the position of the recipient in the report.
    pub recipient_index: Option<u32>,
    /// `pending` (not tried yet), `failed` (a retry is scheduled), `succeeded`, `dead`.
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(record: DeliveryRecord) -> Self {
        Self {
            id: record.id,
            webhook_id: record.webhook_id,
            report_id: record.report_id,
            recipient_index: record.recipient_position,
            status: record.status,
            attempt_count: record.attempts,
            next_attempt_at: record.next_attempt_at.filter(|_| record.status.is_open()),
            last_attempt_at: record.last_attempt_at,
            last_status_code: record.last_status_code,
            last_error: record.last_error,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// One HTTP attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    #[schema(value_type = String, example = "att_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: AttemptId,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub status_code: Option<u16>,
    #[schema(value_type = Option<Object>)]
    pub response_headers: Option<serde_json::Value>,
    /// The start of the answer's body (at most 4 KiB).
    pub response_body: Option<String>,
    /// Why no answer came (connection refused, timeout, address not allowed, ...).
    pub error: Option<String>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(record: AttemptRecord) -> Self {
        Self {
            id: record.id,
            attempt: record.attempt,
            attempted_at: record.attempted_at,
            duration_ms: record.duration_ms,
            status_code: record.status_code,
            response_headers: record.response_headers,
            response_body: record.response_body,
            error: record.error,
        }
    }
}

/// A delivery with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    pub attempts: Vec<AttemptView>,
}

list_type!(DeliveryList, DeliveryView);

/// List deliveries, newest first.
#[utoipa::path(
    tag = "deliveries",
    params(
        ("status" = Option<DeliveryStatus>, Query, description = "pending, succeeded, failed or dead"),
        ("webhook_id" = Option<String>, Query, description = "A webhook id"),
        ("report_id" = Option<String>, Query, description = "A report id"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = DeliveryList), (status = 422, body = Problem, content_type = "application/problem+json")),
)]
#[get("/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::of(&request);
    let filter = DeliveryFilter {
        status: params.parsed("status", "one of pending, succeeded, failed, dead"),
        webhook_id: params.parsed("webhook_id", "a webhook id"),
        report_id: params.parsed("report_id", "a report id"),
    };
    let page = params.page();
    params.finish()?;
    let page = state
        .store
        .list_deliveries(caller.tenant_id, &filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryList::from_page(page, DeliveryView::from)))
}

/// One delivery with every attempt.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path, description = "A delivery id (`dlv_...`)")),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/deliveries/{id}")]
pub async fn get_delivery(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: DeliveryId = path_id(&id, "delivery")?;
    let delivery = state
        .store
        .delivery(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let attempts = state.store.delivery_attempts(caller.tenant_id, id).await?;
    Ok(HttpResponse::Ok().json(DeliveryDetail {
        delivery: delivery.into(),
        attempts: attempts.into_iter().map(AttemptView::from).collect(),
    }))
}

/// Attempt a delivery again, now, with a fresh retry schedule.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path, description = "A delivery id (`dlv_...`)")),
    responses(
        (status = 202, description = "Scheduled", body = DeliveryView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It succeeded already; redeliver the report for a new delivery", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/deliveries/{id}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: DeliveryId = path_id(&id, "delivery")?;
    match state.store.retry_delivery(caller.tenant_id, id).await? {
        RetryOutcome::Scheduled(record) => {
            enqueue(&state, vec![Due { id, at: Utc::now() }], EnqueueMode::Earlier).await;
            Ok(HttpResponse::Accepted().json(DeliveryView::from(record)))
        }
        RetryOutcome::NotFound => Err(ApiError::not_found("delivery")),
        RetryOutcome::AlreadySucceeded => Err(ApiError::Conflict(
            "this delivery succeeded; POST /api/v1/reports/{id}/redeliver sends the report again as a new delivery".into(),
        )),
    }
}

/// A report's deliveries, newest first.
#[utoipa::path(
    tag = "deliveries",
    params(
        ("id" = String, Path, description = "A report id (`rpt_...`)"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = DeliveryList), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/reports/{id}/deliveries")]
pub async fn report_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id: ReportId = path_id(&id, "report")?;
    let mut params = QueryParams::of(&request);
    let page = params.page();
    params.finish()?;
    state
        .store
        .report(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let filter = DeliveryFilter {
        report_id: Some(id),
        ..DeliveryFilter::default()
    };
    let page = state
        .store
        .list_deliveries(caller.tenant_id, &filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryList::from_page(page, DeliveryView::from)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// Only to this webhook (whatever its filter says); default: every enabled webhook
    /// whose filter matches.
    #[schema(value_type = Option<String>)]
    pub webhook_id: Option<WebhookId>,
}

/// Deliver a stored report again, as new deliveries.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path, description = "A report id (`rpt_...`)")),
    request_body(content = Option<RedeliverRequest>, description = "Optional"),
    responses(
        (status = 201, description = "The new deliveries", body = DeliveryList),
        (status = 404, description = "No such report or webhook", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/reports/{id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: OptionalJson<RedeliverRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: ReportId = path_id(&id, "report")?;
    let request = body.into_inner();
    match state
        .store
        .redeliver_report(caller.tenant_id, id, request.webhook_id)
        .await?
    {
        RedeliverOutcome::Created(records) => {
            let due = records
                .iter()
                .map(|r| Due {
                    id: r.id,
                    at: Utc::now(),
                })
                .collect();
            enqueue(&state, due, EnqueueMode::IfAbsent).await;
            Ok(HttpResponse::Created().json(DeliveryList {
                data: records.into_iter().map(DeliveryView::from).collect(),
                next_cursor: None,
            }))
        }
        RedeliverOutcome::ReportNotFound => Err(ApiError::not_found("report")),
        RedeliverOutcome::WebhookNotFound => Err(ApiError::not_found("webhook")),
    }
}
