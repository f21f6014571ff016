//! The report pages (HTML): `GET /judgments/{id}` and `GET /analyses/{id}`. Self-contained:
//! served with a Content-Security-Policy that lets the page fetch nothing at all.

use actix_web::{get, web, HttpResponse};

use super::error::ApiError;
use super::AppState;
use crate::html::{analysis_page, judgment_page, JudgmentMeta};
use crate::service::{self, ServiceError};
use crate::source::ObservationSet;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

/// A judgment as a page: verdict, reason, metrics, and charts of the points judged.
#[utoipa::path(
    operation_id = "judgment_page",
    tag = "pages",
    params(("id" = String, Path, description = "Judgment id")),
    responses(
        (status = 200, description = "The report page", body = String, content_type = "text/html"),
        (status = 404, description = "No such judgment"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/judgments/{id}", guard = "crate::api::auth::page_read")]
pub async fn judgment(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(record) = state.store.get_judgment(&id).await? else {
        return Err(ServiceError::JudgmentNotFound {
            id: id.into_inner(),
        }
        .into());
    };
    let report = service::stored_report(&record)?;
    let data: Option<ObservationSet> = serde_json::from_value(record.data.clone()).ok();
    let meta = JudgmentMeta {
        id: Some(record.id.clone()),
        created_at: Some(record.created_at),
        baseline: record.baseline.clone(),
        canary: record.canary.clone(),
        start: record.window_start,
        end: record.window_end,
        step_seconds: record.step_seconds,
        request_id: Some(record.request_id.clone()),
        analysis_id: record.analysis_id.clone(),
    };
    Ok(html(judgment_page(
        &report,
        data.as_ref().map(|d| &d.metrics),
        &meta,
    )))
}

/// An analysis as a page: state, verdict, interval scores, intervals, callbacks.
#[utoipa::path(
    operation_id = "analysis_page",
    tag = "pages",
    params(("id" = String, Path, description = "Analysis id")),
    responses(
        (status = 200, description = "The analysis page", body = String, content_type = "text/html"),
        (status = 404, description = "No such analysis"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/analyses/{id}", guard = "crate::api::auth::page_read")]
pub async fn analysis(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(a) = state.store.get_analysis(&id).await? else {
        return Err(ServiceError::AnalysisNotFound {
            id: id.into_inner(),
        }
        .into());
    };
    let intervals = state.store.list_intervals(&a.id).await?;
    let deliveries = state.store.list_deliveries(Some(&a.id), None).await?;
    Ok(html(analysis_page(&a, &intervals, &deliveries)))
}
