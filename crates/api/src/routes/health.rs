//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a dependency is down.
    pub status: &'static str,
    /// `ok` or what went wrong (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)), security(()))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: None,
        queue: None,
    })
}

/// Readiness: the database and the queue answer.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "A dependency is down", body = Health)),
    security(()),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, queue) =
        futures_util::future::join(state.store.ping(), state.queue.ping()).await;
    let ready = database.is_ok() && queue.is_ok();
    let health = Health {
        status: if ready { "ok" } else { "unavailable" },
        database: Some(database.map_or_else(|e| e.to_string(), |()| "ok".to_owned())),
        queue: Some(queue.map_or_else(|e| e.to_string(), |()| "ok".to_owned())),
    };
    if ready {
        HttpResponse::Ok().json(health)
    } else {
        HttpResponse::ServiceUnavailable().json(health)
    }
}

/// Prometheus metrics.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain")),
    security(()),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let body = state
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
