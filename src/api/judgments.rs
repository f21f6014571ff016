//! `POST /api/v1/judgments`, `GET /api/v1/judgments[/{id}]`, `POST .../{id}/replay`.

use std::collections::BTreeMap;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::observe::RequestId;
use super::{body, AppState};
use crate::service::{self, JudgmentInput, Points, TemplateRef};
use crate::source::{parse_time, RecordedData};
use crate::store::Verdict;
use crate::store::{JudgmentFilter, JudgmentSummary};

/// A judgment request: a template (stored name or inline object), and either recorded `data`
/// or the live form (`baseline`, `canary`, `start`, `end`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgmentRequest {
    /// A stored template's name, or a whole template as a JSON object (CONTRACT §2).
    #[schema(value_type = Object)]
    pub template: Value,
    /// A stored template's version (default: the latest).
    pub template_version: Option<i64>,
    /// Template arguments.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Live: the baseline scope.
    pub baseline: Option<String>,
    /// Live: the canary scope.
    pub canary: Option<String>,
    /// Live: window start, RFC 3339 or Unix seconds.
    #[schema(value_type = Option<String>)]
    pub start: Option<Value>,
    /// Live: window end, RFC 3339 or Unix seconds.
    #[schema(value_type = Option<String>)]
    pub end: Option<Value>,
    /// Live: step between points (default: the template's `step_seconds`).
    pub step_seconds: Option<u64>,
    /// Recorded points (CONTRACT §3): `{"metrics": {NAME: {"baseline": [...], "canary": [...]}}}`.
    #[schema(value_type = Option<Object>)]
    pub data: Option<RecordedData>,
}

/// A judgment: the report (CONTRACT §4) plus `id`, `created_at` and `request_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JudgmentResponse {
    /// Id, for `GET /api/v1/judgments/{id}`.
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The request that made it (also in the logs).
    pub request_id: String,
    /// pass | marginal | fail.
    pub verdict: String,
    /// 0..100.
    pub score: f64,
    /// Why.
    pub reason: String,
    /// Template name.
    pub template: String,
    /// Group scores.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Value>,
    /// Metric results.
    #[schema(value_type = Vec<Object>)]
    pub metrics: Vec<Value>,
}

/// A time given as RFC 3339 text or Unix seconds.
pub fn time_field(path: &str, v: &Value) -> Result<DateTime<Utc>, ApiError> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::bad(
                path,
                "expected RFC 3339 text or Unix seconds",
            ))
        }
    };
    parse_time(&text).map_err(|e| ApiError::bad(path, e.to_string()))
}

/// `name` when it is a valid template name, else a 400 naming `field`.
pub fn template_name(field: &str, name: &str) -> Result<String, ApiError> {
    match crate::template::name_problem(name) {
        None => Ok(name.to_string()),
        Some(problem) => Err(ApiError::bad(field, format!("template name: {problem}"))),
    }
}

/// The template a request names: a stored name or an inline object.
pub fn template_ref(v: &Value, version: Option<i64>) -> Result<TemplateRef, ApiError> {
    match v {
        Value::String(name) if !name.trim().is_empty() => Ok(TemplateRef::Named {
            name: template_name("template", name.trim())?,
            version,
        }),
        Value::Object(_) => {
            if version.is_some() {
                return Err(ApiError::bad(
                    "template_version",
                    "applies to a stored template, not an inline one",
                ));
            }
            // Pretty, so that a problem's line and column point somewhere readable.
            let text = serde_json::to_string_pretty(v).unwrap_or_default();
            Ok(TemplateRef::Inline(text))
        }
        _ => Err(ApiError::bad(
            "template",
            "expected a stored template's name or an inline template object",
        )),
    }
}

/// The judgment input of a request.
pub fn input_of(req: JudgmentRequest, request_id: String) -> Result<JudgmentInput, ApiError> {
    let template = template_ref(&req.template, req.template_version)?;
    let live_fields = [
        ("baseline", req.baseline.is_some()),
        ("canary", req.canary.is_some()),
        ("start", req.start.is_some()),
        ("end", req.end.is_some()),
        ("step_seconds", req.step_seconds.is_some()),
    ];
    let points = match req.data {
        Some(data) => {
            if let Some((name, _)) = live_fields.iter().find(|f| f.1) {
                return Err(ApiError::bad(
                    *name,
                    "give either `data` (recorded points) or the live fields, not both",
                ));
            }
            Points::Data(data)
        }
        None => {
            let need = |name: &str, v: Option<String>| {
                v.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                    ApiError::bad(
                        name,
                        "required (or give `data` with recorded points to judge offline)",
                    )
                })
            };
            let baseline = need("baseline", req.baseline)?;
            let canary = need("canary", req.canary)?;
            let start = req
                .start
                .as_ref()
                .ok_or_else(|| ApiError::bad("start", "required for a live judgment"))?;
            let end = req
                .end
                .as_ref()
                .ok_or_else(|| ApiError::bad("end", "required for a live judgment"))?;
            Points::Live {
                baseline,
                canary,
                start: time_field("start", start)?,
                end: time_field("end", end)?,
                step_seconds: req.step_seconds,
            }
        }
    };
    Ok(JudgmentInput {
        template,
        args: req.args,
        points,
        request_id,
        gate: None,
        sequential: None,
    })
}

/// Make a judgment and store it.
#[utoipa::path(
    operation_id = "create_judgment",
    tag = "judgments",
    request_body = JudgmentRequest,
    responses(
        (status = 201, description = "Judged and stored; the verdict is in the body", body = JudgmentResponse),
        (status = 400, description = "Bad request, naming the field", body = ErrorBody),
        (status = 404, description = "Unknown template", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 502, description = "The metric source failed", body = ErrorBody),
        (status = 504, description = "The metric source did not answer in time", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/judgments", guard = "crate::api::auth::judge")]
pub async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: JudgmentRequest = body::json(&bytes)?;
    let input = input_of(req, request_id.0)?;
    let judgment = service::make_judgment(&state.settings, &state.store, input).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/judgments/{}", judgment.id)))
        .json(judgment))
}

/// History filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this template.
    pub template: Option<String>,
    /// Only this verdict (pass | marginal | fail).
    pub verdict: Option<String>,
    /// Only judgments made at or after (RFC 3339 or Unix seconds).
    pub since: Option<String>,
    /// Only judgments made before (RFC 3339 or Unix seconds).
    pub until: Option<String>,
    /// Page size, 1..1000 (default 50).
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
}

/// One page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct JudgmentPage {
    /// Newest first.
    pub judgments: Vec<JudgmentSummary>,
    /// Cursor for the next (older) page: pass it as `before`; null on the last page.
    pub next: Option<String>,
}

/// Judgment history, newest first.
#[utoipa::path(
    operation_id = "list_judgments",
    tag = "judgments",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = JudgmentPage),
        (status = 400, description = "Bad filter", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/judgments", guard = "crate::api::auth::read")]
pub async fn list(
    state: web::Data<AppState>,
    query: Result<web::Query<ListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = body::query(query)?;
    if let Some(v) = &q.verdict {
        if Verdict::parse(v).is_none_or(|v| v == Verdict::Error) {
            return Err(ApiError::bad("verdict", "expected pass, marginal or fail"));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("limit", "expected 1..1000"));
    }
    let time = |name: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
        v.as_ref()
            .map(|s| parse_time(s).map_err(|e| ApiError::bad(name, e.to_string())))
            .transpose()
    };
    let filter = JudgmentFilter {
        template: q.template,
        verdict: q.verdict,
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        before: q.before,
        limit,
    };
    let (judgments, more) = state.store.list_judgments(&filter).await?;
    let next = if more {
        judgments.last().map(|j| j.id.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(JudgmentPage { judgments, next }))
}

/// What a judgment was made of.
#[derive(Debug, Serialize, ToSchema)]
pub struct JudgmentInputRecord {
    /// Template name.
    pub template: String,
    /// Stored version used (null: inline).
    pub template_version: Option<i64>,
    /// The template text as used.
    pub template_source: String,
    /// `data` or `live`.
    pub mode: String,
    /// Arguments.
    #[schema(value_type = Object)]
    pub args: Value,
    /// Baseline scope (live).
    pub baseline: Option<String>,
    /// Canary scope (live).
    pub canary: Option<String>,
    /// Window start (live).
    pub start: Option<DateTime<Utc>>,
    /// Window end (live).
    pub end: Option<DateTime<Utc>>,
    /// Step (live).
    pub step_seconds: Option<i64>,
    /// Every point judged, per metric and side (with the queries, for live judgments).
    #[schema(value_type = Object)]
    pub data: Value,
    /// The gate that asked.
    pub gate: Option<String>,
}

/// A stored judgment: the report plus `id`, and everything it was made of.
#[derive(Debug, Serialize)]
pub struct StoredJudgmentResponse {
    #[serde(flatten)]
    judgment: service::Judgment,
    input: JudgmentInputRecord,
}

fn not_found(id: &str) -> ApiError {
    ApiError::Service(service::ServiceError::JudgmentNotFound { id: id.to_string() })
}

/// One judgment, whole: the report, and the template, arguments, scopes, window and points it
/// was made of.
#[utoipa::path(
    operation_id = "get_judgment",
    tag = "judgments",
    params(("id" = String, Path, description = "Judgment id")),
    responses(
        (status = 200, description = "The judgment (report fields plus `input`)", body = JudgmentResponse),
        (status = 404, description = "No such judgment", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/judgments/{id}", guard = "crate::api::auth::read")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(record) = state.store.get_judgment(&id).await? else {
        return Err(not_found(&id));
    };
    let judgment = service::judgment_of(&record, false)?;
    Ok(HttpResponse::Ok().json(StoredJudgmentResponse {
        judgment,
        input: JudgmentInputRecord {
            template: record.template,
            template_version: record.template_version,
            template_source: record.template_source,
            mode: record.mode,
            args: record.args,
            baseline: record.baseline,
            canary: record.canary,
            start: record.window_start,
            end: record.window_end,
            step_seconds: record.step_seconds,
            data: record.data,
            gate: record.gate,
        },
    }))
}

/// A replay's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResponse {
    /// The judgment replayed.
    pub id: String,
    /// True when the replayed report equals the stored one.
    pub identical: bool,
    /// The report judged again now from the stored template text and points.
    #[schema(value_type = Object)]
    pub report: Value,
}

/// Judge a stored judgment again from its stored template and points (nothing is fetched or
/// stored): shows that the verdict follows from what was recorded.
#[utoipa::path(
    operation_id = "replay_judgment",
    tag = "judgments",
    params(("id" = String, Path, description = "Judgment id")),
    responses(
        (status = 200, description = "The replayed report", body = ReplayResponse),
        (status = 404, description = "No such judgment", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/judgments/{id}/replay", guard = "crate::api::auth::judge")]
pub async fn replay(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(record) = state.store.get_judgment(&id).await? else {
        return Err(not_found(&id));
    };
    let replayed = service::replay(&record)?;
    let stored = service::stored_report(&record)?;
    // Compared as written: a NaN (null in JSON) is never equal to itself as a number.
    let replayed = serde_json::to_value(&replayed).unwrap_or_default();
    let stored = serde_json::to_value(&stored).unwrap_or_default();
    Ok(HttpResponse::Ok().json(ReplayResponse {
        id: record.id,
        identical: replayed == stored,
        report: replayed,
    }))
}
