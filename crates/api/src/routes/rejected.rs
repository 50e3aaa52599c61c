//! Pushes that were authenticated but could not be read.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use faxrelay_core::ids::RejectedPushId;
use faxrelay_storage::rejected::RejectedPush;
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{QueryParams, list_type, path_id};
use super::reports::raw_response;
use crate::caller::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedPushView {
    #[schema(value_type = String, example = "rej_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: RejectedPushId,
    pub received_at: DateTime<Utc>,
    pub content_type: Option<String>,
    /// Why the push could not be read (what the push was answered).
    pub error: String,
    /// The body's size in bytes; the body itself is at `/raw`.
    pub size: u64,
}

impl From<RejectedPush> for RejectedPushView {
    fn from(push: RejectedPush) -> Self {
        Self {
            id: push.id,
            received_at: push.received_at,
            content_type: push.content_type,
            error: push.error,
            size: push.size,
        }
    }
}

list_type!(RejectedPushList, RejectedPushView);

/// List rejected pushes, newest first.
///
/// A push that passed authentication but could not be read (unknown layout, malformed
/// body, unsupported content type) is answered 4xx and kept here with its body, so that
/// nothing Retarus sent is lost.
#[utoipa::path(
    tag = "reports",
    params(
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = RejectedPushList), (status = 422, body = Problem, content_type = "application/problem+json")),
)]
#[get("/rejected-pushes")]
pub async fn list_rejected(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::of(&request);
    let page = params.page();
    params.finish()?;
    let page = state
        .store
        .list_rejected_pushes(caller.tenant_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(RejectedPushList::from_page(page, RejectedPushView::from)))
}

/// The body of a rejected push, byte for byte.
#[utoipa::path(
    tag = "reports",
    params(("id" = String, Path, description = "A rejected push id (`rej_...`)")),
    responses((status = 200, description = "The body as received"), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/rejected-pushes/{id}/raw")]
pub async fn get_rejected_raw(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RejectedPushId = path_id(&id, "rejected push")?;
    let raw = state
        .store
        .rejected_push_raw(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("rejected push"))?;
    Ok(raw_response(raw))
}
