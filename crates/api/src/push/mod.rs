//! Receiving Retarus status pushes: `POST /push/{push_key}`.
//!
//! The order of the checks is the contract with Retarus: an unknown URL is 404, bad
//! credentials 401 (nothing is kept), an oversized body 413, a content type we cannot read
//! 415 and an unreadable body 400 (both kept as rejected pushes, so nothing is lost), and
//! 2xx only once the reports are committed. Storage trouble is 503 with `Retry-After`.

mod basic;
mod bearer;
mod digest;
mod keys;
pub mod oauth2;
mod targets;

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use faxrelay_core::codec::{self, BodyType};
use faxrelay_core::ids::{DeliveryId, PushCredentialId, ReportId};
use faxrelay_core::push_auth::PushAuthMethod;
use faxrelay_queue::{Due, EnqueueMode};
use faxrelay_storage::dispatch::DispatchItem;
use faxrelay_storage::ingest::IngestRequest;
use faxrelay_storage::push::PushTarget;
use faxrelay_worker::HotDelivery;
use serde::Serialize;
use utoipa::ToSchema;

pub use keys::PushKeys;
pub use targets::PushTargets;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The answer to an accepted push.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"reports": [{"id": "rpt_01JDX8M2Q5G7T0V6Z3B1C4N8K2", "job_id": "FJIJPNJYN906EDIJNFGI5S", "duplicate": false}]}))]
pub struct PushReceipt {
    /// One entry per fax job in the body.
    pub reports: Vec<PushedReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushedReport {
    #[schema(value_type = String, example = "rpt_01JDX8M2Q5G7T0V6Z3B1C4N8K2")]
    pub id: ReportId,
    pub job_id: String,
    /// The same report was received before; `id` is the stored copy's.
    pub duplicate: bool,
}

/// Which credential let a push in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authenticated {
    pub credential: PushCredentialId,
}

/// Hands the new reports' deliveries on, off the request's path: they are committed
/// already, and the sweeper queues whatever this step fails to.
///
/// With a worker in this process they are leased in the queue and attempted here at once,
/// from what ingest has in hand; otherwise they are queued for any worker.
fn dispatch_deliveries(state: &AppState, deliveries: Vec<DispatchItem>, raw: Arc<[u8]>) {
    if deliveries.is_empty() {
        return;
    }
    let queue = state.queue.clone();
    let handoff = state.handoff.clone();
    actix_web::rt::spawn(async move {
        let ids: Vec<DeliveryId> = deliveries.iter().map(|item| item.delivery.id).collect();
        let result = match handoff {
            Some(handoff) => match queue.enqueue_leased(&ids, handoff.lease()).await {
                Ok(leased) => {
                    let leased_at = std::time::Instant::now();
                    let hot = deliveries
                        .into_iter()
                        .filter(|item| leased.contains(&item.delivery.id))
                        .map(|item| HotDelivery {
                            item,
                            raw: Some(raw.clone()),
                            leased_at,
                        })
                        .collect();
                    // A busy worker refuses: make those due for whichever worker is free.
                    for refused in handoff.hand(hot) {
                        let _ = queue.reschedule(refused.item.delivery.id, Utc::now()).await;
                    }
                    Ok(())
                }
                Err(error) => Err(error),
            },
            None => {
                let now = Utc::now();
                let items: Vec<Due> = ids.iter().map(|id| Due { id: *id, at: now }).collect();
                queue.enqueue(&items, EnqueueMode::IfAbsent).await
            }
        };
        if let Err(error) = result {
            tracing::warn!(error = %error, deliveries = ids.len(), "queueing deliveries failed; the sweeper will");
        }
    });
}

/// Records when a credential was last used, at most once a minute per process and off the
/// request's path: bookkeeping must neither slow the answer nor fail it.
fn note_credential_use(state: &AppState, credential: PushCredentialId) {
    if !state.credential_use.due(credential) {
        return;
    }
    let store = state.store.clone();
    actix_web::rt::spawn(async move {
        if let Err(error) = store.touch_push_credential(credential).await {
            tracing::debug!(error = %error, "could not note credential use");
        }
    });
}

async fn authenticate(
    state: &AppState,
    request: &HttpRequest,
    target: &PushTarget,
) -> Result<Authenticated, ApiError> {
    let credential = match target.tenant.push_auth {
        // The secret push key in the URL found this credential.
        PushAuthMethod::None => target
            .credentials
            .first()
            .map(|c| c.id)
            .ok_or_else(|| ApiError::not_found("push URL"))?,
        PushAuthMethod::Basic => basic::verify(request, target)?,
        PushAuthMethod::Digest => digest::verify(state, request, target).await?,
        PushAuthMethod::OAuth2 => bearer::verify(state, request, target)?,
    };
    Ok(Authenticated { credential })
}

/// Receive a fax status report from Retarus.
///
/// Configure this URL at Retarus as the status push URL (`httpStatusPush.url`), with the
/// authentication method and credentials faxrelay issued. Bodies are the Retarus XML
/// (`faxJobReport` or `ReportResponse`) or JSON layouts. The answer is 200 only once every
/// report in the body is stored; the same report pushed again is stored once and answered
/// 200 with `duplicate: true`.
#[utoipa::path(
    tag = "push",
    params(("push_key" = String, Path, description = "The key of the tenant's push URL")),
    request_body(
        description = "A Retarus status report",
        content((String = "text/xml"), (String = "application/xml"), (String = "application/json")),
    ),
    responses(
        (status = 200, description = "Every report of the body is stored", body = PushReceipt),
        (status = 400, description = "The body is not a readable report; it is kept as a rejected push", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong credentials; nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such push URL", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The content type is not XML or JSON; the body is kept as a rejected push", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage is unavailable; nothing is stored, push again later", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
#[post("/push/{push_key}")]
pub async fn receive_push(
    state: web::Data<AppState>,
    request: HttpRequest,
    push_key: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let result = handle_push(&state, &request, &push_key, payload).await;
    let outcome = match &result {
        Ok(_) => "stored",
        Err(error) => error.kind().0,
    };
    metrics::counter!("faxrelay_pushes_total", "outcome" => outcome).increment(1);
    metrics::histogram!("faxrelay_push_seconds").record(started.elapsed().as_secs_f64());
    result
}

async fn handle_push(
    state: &AppState,
    request: &HttpRequest,
    push_key: &str,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if push_key.len() > 128 {
        return Err(ApiError::not_found("push URL"));
    }
    let not_found = || ApiError::not_found("push URL");
    let lookup = state
        .push_targets
        .get(&state.store, push_key)
        .await?
        .ok_or_else(not_found)?;
    let (target, authenticated) = match authenticate(state, request, &lookup.target).await {
        Ok(authenticated) => (lookup.target, authenticated),
        // The cached copy may predate a new credential or method: ask the database once.
        Err(_) if lookup.cached => {
            let fresh = state
                .push_targets
                .refresh(&state.store, push_key)
                .await?
                .ok_or_else(not_found)?;
            let authenticated = authenticate(state, request, &fresh).await?;
            (fresh, authenticated)
        }
        Err(refused) => return Err(refused),
    };
    let tenant_id = target.tenant.id;

    let body = crate::body::read(request, payload, state.settings.max_push_body).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let parsed = BodyType::from_content_type(content_type.as_deref())
        .map_err(|error| ApiError::UnsupportedMediaType(error.to_string()))
        .and_then(|body_type| {
            codec::parse(body_type, &body, &state.settings.parse_limits).map_err(|error| {
                ApiError::MalformedRequest(format!("the report cannot be read: {error}"))
            })
        });
    let reports = match parsed {
        Ok(reports) => reports,
        Err(error) => {
            let id = state
                .store
                .add_rejected_push(tenant_id, content_type, body.to_vec(), error.to_string())
                .await?;
            tracing::info!(tenant.id = %tenant_id, rejected_push.id = %id, reason = %error, "push rejected and kept");
            return Err(error);
        }
    };

    let raw: Arc<[u8]> = Arc::from(body.as_ref());
    let receipt = state
        .ingest
        .write(IngestRequest {
            tenant_id,
            tenant_name: target.tenant.name.clone(),
            received_at: Utc::now(),
            content_type: content_type.unwrap_or_default(),
            raw_body: raw.clone(),
            reports,
        })
        .await?;

    note_credential_use(state, authenticated.credential);
    dispatch_deliveries(state, receipt.deliveries, raw);

    let reports: Vec<PushedReport> = receipt
        .reports
        .into_iter()
        .map(|report| PushedReport {
            id: report.id,
            job_id: report.job_id,
            duplicate: report.duplicate,
        })
        .collect();
    tracing::debug!(tenant.id = %tenant_id, reports = reports.len(), "push stored");
    Ok(HttpResponse::Ok().json(PushReceipt { reports }))
}
