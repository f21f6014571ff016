//! Operations: `/healthz` (the process answers), `/readyz` (the store commits a write), `/metrics`
//! (Prometheus text format), `/openapi.json` (generated from the handlers).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::telemetry::metrics;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
    /// Why not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: 200 while the process serves requests.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz", guard = "crate::api::auth::public")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        reason: None,
    })
}

/// Readiness: 200 when the store commits a write (and, on SQLite, its file is still the one
/// opened), else 503 with the reason.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The store cannot commit a write", body = Health),
    )
)]
#[get("/readyz", guard = "crate::api::auth::public")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping(state.settings.store.min_free_bytes).await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ready".into(),
            reason: None,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "unavailable".into(),
                reason: Some(e.to_string()),
            })
        }
    }
}

/// The process's metrics, Prometheus text format 0.0.4.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain"))
)]
#[get("/metrics", guard = "crate::api::auth::public")]
pub async fn metrics_text() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::global().render())
}

/// This API's OpenAPI 3.1 description, generated from the handlers.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "OpenAPI document", body = Object)),
    security(("bearer" = ["read"]))
)]
#[get("/openapi.json", guard = "crate::api::auth::read")]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.clone())
}
