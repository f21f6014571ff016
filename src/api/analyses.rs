//! `POST/GET/DELETE /api/v1/analyses[/{id}]`: scheduled multi-interval analyses, and
//! `POST/GET/DELETE /api/v1/schedules[/{id}]`: recurring checks (cron).

use std::collections::BTreeMap;

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::judgments::time_field;
use super::observe::RequestId;
use super::{body, AppState};
use crate::judge::sequential::{SequentialReport, SequentialSpec};
use crate::service::analyses::{
    self as service, plan_of, AnalysisDetail, AnalysisSpec, ScheduleSpec,
};
use crate::service::ServiceError;
use crate::stats::sequential::Spending;
use crate::store::{AnalysisRow, AnalysisState, DeliveryRow, IntervalRow, ScheduleRow, Verdict};

/// Starts an analysis.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// A stored template's name.
    pub template: String,
    /// Its version (default: the latest, pinned for the whole analysis).
    pub template_version: Option<i64>,
    /// Template arguments.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// When the canary started taking traffic, RFC 3339 or Unix seconds (default: now). Windows
    /// already in the past are judged at once.
    #[schema(value_type = Option<String>)]
    pub start: Option<Value>,
    /// How long intervals are judged, after `begin_after_minutes`.
    pub lifetime_minutes: f64,
    /// Distance between two judgments.
    pub interval_minutes: f64,
    /// Wait before the first interval (default 0).
    #[serde(default)]
    pub begin_after_minutes: f64,
    /// Window of each judgment; 0 (default): from the start, growing.
    #[serde(default)]
    pub lookback_minutes: f64,
    /// Step between points (default: the template's).
    pub step_seconds: Option<u64>,
    /// Called for every interval and at the end (host must be allowed).
    pub callback_url: Option<String>,
    /// HMAC-SHA256 key of the callbacks' `X-Canaryd-Signature`; required with `callback_url`.
    pub callback_secret: Option<String>,
    /// End at the first failing interval (default true).
    pub stop_on_fail: Option<bool>,
    /// A stated false-fail rate for the whole analysis, however many intervals it has, and
    /// decisions as early as the evidence allows (each interval then reads back with
    /// `sequential: {evidence, boundary, decision}`).
    pub sequential: Option<SequentialRequest>,
}

/// `sequential` of an analysis.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SequentialRequest {
    /// The chance that a healthy canary fails anywhere in the analysis (default 0.05).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Pass before the last interval once the evidence bounds the change within the judge's
    /// `allowed_increase` (default false).
    #[serde(default)]
    pub pass_early: bool,
    /// How alpha is spent over the intervals: `pocock` (default: early decisions) or
    /// `o-brien-fleming` (little early, more at the end).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub spending: Spending,
}

/// The alpha of a `sequential` that gives none.
pub const DEFAULT_ALPHA: f64 = 0.05;

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}

impl From<SequentialRequest> for SequentialSpec {
    fn from(r: SequentialRequest) -> Self {
        SequentialSpec {
            alpha: r.alpha,
            pass_early: r.pass_early,
            spending: r.spending,
        }
    }
}

/// An analysis with its intervals and callbacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalysisView {
    /// Id.
    pub id: String,
    /// pending | running | completed | cancelled.
    #[schema(value_type = String)]
    pub state: AnalysisState,
    /// The last interval's verdict (final once completed).
    #[schema(value_type = Option<String>)]
    pub verdict: Option<Verdict>,
    /// Why it ended.
    pub reason: Option<String>,
    /// Template name.
    pub template: String,
    /// Pinned version.
    pub template_version: i64,
    /// Arguments.
    #[schema(value_type = Object)]
    pub args: Value,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// Timing.
    pub lifetime_minutes: f64,
    /// Timing.
    pub interval_minutes: f64,
    /// Timing.
    pub begin_after_minutes: f64,
    /// Timing.
    pub lookback_minutes: f64,
    /// Settle delay applied after each window.
    pub settle_seconds: f64,
    /// Step.
    pub step_seconds: Option<i64>,
    /// Stop at the first fail.
    pub stop_on_fail: bool,
    /// The whole-analysis error rate, when sequential.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sequential: Option<SequentialSpec>,
    /// Callback URL (the secret is never shown).
    pub callback_url: Option<String>,
    /// Intervals planned.
    pub interval_count: i64,
    /// The next interval, its window and due time (null once ended).
    pub next: Option<NextInterval>,
    /// The last failed try of the next interval.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Judged intervals, in order, each with its report.
    pub intervals: Vec<IntervalView>,
    /// Callback deliveries.
    pub deliveries: Vec<DeliveryView>,
}

/// One judged interval.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IntervalRow)]
pub struct IntervalView {
    /// From 0.
    pub index: i64,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// pass | marginal | fail.
    // (or `error`: the words are those of the published OpenAPI document, kept as they were)
    #[schema(value_type = String)]
    pub verdict: Verdict,
    /// Score.
    pub score: f64,
    /// The stored judgment (`null` when the interval could not be judged).
    pub judgment_id: Option<String>,
    /// Why it could not be judged.
    pub error: Option<String>,
    /// When.
    pub judged_at: DateTime<Utc>,
    /// Which instance.
    pub judged_by: String,
    /// The interval's report (CONTRACT §4), when shown with the analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// The look of a sequential analysis: `{evidence, boundary, decision, ...}`, where
    /// `decision` is `continue`, `fail` or `pass`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sequential: Option<SequentialReport>,
}

impl From<IntervalRow> for IntervalView {
    fn from(i: IntervalRow) -> Self {
        IntervalView {
            index: i.index,
            start: i.start,
            end: i.end,
            verdict: i.verdict,
            score: i.score,
            judgment_id: i.judgment_id,
            error: i.error,
            judged_at: i.judged_at,
            judged_by: i.judged_by,
            report: i.report,
            sequential: i.sequential,
        }
    }
}

/// A delivery's record.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeliveryRow)]
pub struct DeliveryView {
    /// The event id (`X-Canaryd-Event-Id`).
    pub id: String,
    /// interval | completed | cancelled | schedule_run.
    pub event: String,
    /// Interval index.
    pub interval_index: Option<i64>,
    /// Where.
    pub url: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Tries so far.
    pub attempts: i64,
    /// Next try.
    pub next_attempt_at: DateTime<Utc>,
    /// Delivered (a 2xx answer).
    pub delivered_at: Option<DateTime<Utc>>,
    /// Given up.
    pub failed_at: Option<DateTime<Utc>>,
    /// The last answer's status.
    pub last_status: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        DeliveryView {
            id: d.id,
            event: d.event,
            interval_index: d.interval_index,
            url: d.url,
            created_at: d.created_at,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            failed_at: d.failed_at,
            last_status: d.last_status,
            last_error: d.last_error,
        }
    }
}

/// A recurring check, as the API shows it (the callback secret never is).
#[derive(Debug, Serialize)]
pub struct ScheduleView {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Cron pattern (5 fields, UTC).
    pub cron: String,
    /// Template name (latest version at each run).
    pub template: String,
    /// Arguments.
    pub args: Value,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// Window ending at the run time.
    pub window_minutes: f64,
    /// Step.
    pub step_seconds: Option<i64>,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Next run.
    pub next_run_at: DateTime<Utc>,
    /// Last run.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Last run's judgment.
    pub last_judgment_id: Option<String>,
    /// Last run's verdict.
    pub last_verdict: Option<Verdict>,
    /// Last run's error.
    pub last_error: Option<String>,
    /// Runs so far.
    pub runs: i64,
}

impl From<ScheduleRow> for ScheduleView {
    fn from(s: ScheduleRow) -> Self {
        ScheduleView {
            id: s.id,
            name: s.name,
            created_at: s.created_at,
            cron: s.cron,
            template: s.template,
            args: s.args,
            baseline: s.baseline,
            canary: s.canary,
            window_minutes: s.window_minutes,
            step_seconds: s.step_seconds,
            callback_url: s.callback_url,
            next_run_at: s.next_run_at,
            last_run_at: s.last_run_at,
            last_judgment_id: s.last_judgment_id,
            last_verdict: s.last_verdict,
            last_error: s.last_error,
            runs: s.runs,
        }
    }
}

/// The interval to judge next.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextInterval {
    /// Index.
    pub index: i64,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// When it is judged.
    pub due_at: DateTime<Utc>,
}

/// The answer for one analysis, whole.
fn view(d: AnalysisDetail) -> AnalysisView {
    AnalysisView {
        intervals: d.intervals.into_iter().map(IntervalView::from).collect(),
        deliveries: d.deliveries.into_iter().map(DeliveryView::from).collect(),
        ..summary(d.analysis)
    }
}

/// The analysis without its intervals and deliveries (listings).
fn summary(a: AnalysisRow) -> AnalysisView {
    let next = match (a.state.is_open(), plan_of(&a)) {
        (true, Ok(plan)) if a.next_index < a.interval_count => {
            let (start, end) = plan.window(a.next_index);
            Some(NextInterval {
                index: a.next_index,
                start,
                end,
                due_at: a.next_due_at,
            })
        }
        _ => None,
    };
    AnalysisView {
        id: a.id,
        state: a.state,
        verdict: a.verdict,
        reason: a.reason,
        template: a.template,
        template_version: a.template_version,
        args: a.args,
        baseline: a.baseline,
        canary: a.canary,
        start: a.start_at,
        lifetime_minutes: a.lifetime_minutes,
        interval_minutes: a.interval_minutes,
        begin_after_minutes: a.begin_after_minutes,
        lookback_minutes: a.lookback_minutes,
        settle_seconds: a.settle_seconds,
        step_seconds: a.step_seconds,
        stop_on_fail: a.stop_on_fail,
        sequential: a.sequential,
        callback_url: a.callback_url,
        interval_count: a.interval_count,
        next,
        last_error: a.last_error,
        created_at: a.created_at,
        intervals: Vec::new(),
        deliveries: Vec::new(),
    }
}

/// Start an analysis: every interval is judged once its window has closed (plus the settle
/// delay); windows already past are judged at once.
#[utoipa::path(
    operation_id = "create_analysis",
    tag = "analyses",
    request_body = AnalysisRequest,
    responses(
        (status = 201, description = "Started", body = AnalysisView),
        (status = 400, description = "Bad request, naming the field", body = ErrorBody),
        (status = 404, description = "Unknown template", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/analyses", guard = "crate::api::auth::judge")]
pub async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: AnalysisRequest = body::json(&bytes)?;
    super::judgments::template_name("template", &req.template)?;
    let start = req
        .start
        .as_ref()
        .map(|v| time_field("start", v))
        .transpose()?;
    let spec = AnalysisSpec {
        template: req.template,
        template_version: req.template_version,
        args: req.args,
        baseline: req.baseline,
        canary: req.canary,
        start,
        lifetime_minutes: req.lifetime_minutes,
        interval_minutes: req.interval_minutes,
        begin_after_minutes: req.begin_after_minutes,
        lookback_minutes: req.lookback_minutes,
        step_seconds: req.step_seconds,
        callback_url: req.callback_url,
        callback_secret: req.callback_secret,
        stop_on_fail: req.stop_on_fail,
        sequential: req.sequential.map(SequentialSpec::from),
    };
    let d = service::create_analysis(
        &state.settings,
        &state.store,
        &state.wake,
        request_id.0,
        spec,
    )
    .await?;
    let v = view(d);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/analyses/{}", v.id)))
        .json(v))
}

/// One analysis: state, every judged interval, callback deliveries.
#[utoipa::path(
    operation_id = "get_analysis",
    tag = "analyses",
    params(("id" = String, Path, description = "Analysis id")),
    responses(
        (status = 200, description = "The analysis", body = AnalysisView),
        (status = 404, description = "No such analysis", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/analyses/{id}", guard = "crate::api::auth::read")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = service::analysis_detail(&state.store, &id).await?;
    Ok(HttpResponse::Ok().json(view(d)))
}

/// Analysis listing filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this state.
    pub state: Option<String>,
    /// At most this many (1..1000, default 50).
    pub limit: Option<i64>,
}

/// Analyses, newest first, without their intervals and deliveries (fetch one for those).
#[utoipa::path(
    operation_id = "list_analyses",
    tag = "analyses",
    params(ListQuery),
    responses((status = 200, description = "Analyses", body = Vec<AnalysisView>)),
    security(("bearer" = ["read"]))
)]
#[get("/analyses", guard = "crate::api::auth::read")]
pub async fn list(
    state: web::Data<AppState>,
    query: Result<web::Query<ListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let q = body::query(query)?;
    let wanted = q
        .state
        .as_deref()
        .map(|s| {
            AnalysisState::parse(s).ok_or_else(|| {
                ApiError::bad("state", "expected pending, running, completed or cancelled")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("limit", "expected 1..1000"));
    }
    let rows = state.store.list_analyses(wanted, limit).await?;
    let out: Vec<AnalysisView> = rows.into_iter().map(summary).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Cancel an analysis: nothing more is judged; a `cancelled` callback is sent.
#[utoipa::path(
    operation_id = "cancel_analysis",
    tag = "analyses",
    params(("id" = String, Path, description = "Analysis id")),
    responses(
        (status = 200, description = "Cancelled", body = AnalysisView),
        (status = 404, description = "No such analysis", body = ErrorBody),
        (status = 409, description = "Already completed or cancelled", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[delete("/analyses/{id}", guard = "crate::api::auth::judge")]
pub async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = service::cancel_analysis(&state.settings, &state.store, &state.wake, &id).await?;
    Ok(HttpResponse::Ok().json(view(d)))
}

/// A recurring check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Unique name.
    pub name: String,
    /// Cron pattern, 5 fields (minute hour day-of-month month day-of-week), UTC; `@hourly`...
    pub cron: String,
    /// A stored template's name (its latest version at each run).
    pub template: String,
    /// Template arguments.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// Each run judges the window of this length ending at its cron time.
    pub window_minutes: f64,
    /// Step between points (default: the template's).
    pub step_seconds: Option<u64>,
    /// Called after every run.
    pub callback_url: Option<String>,
    /// HMAC key of the callbacks.
    pub callback_secret: Option<String>,
}

/// Start a recurring check: each run is a judgment stored like any other (`gate` `schedule`).
#[utoipa::path(
    operation_id = "create_schedule",
    tag = "schedules",
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Created", body = Object),
        (status = 400, description = "Bad request, naming the field", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/schedules", guard = "crate::api::auth::judge")]
pub async fn create_schedule(
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: ScheduleRequest = body::json(&bytes)?;
    super::judgments::template_name("template", &req.template)?;
    if req.name.trim().is_empty()
        || !req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad("name", "expected [A-Za-z0-9_-]+"));
    }
    let cron: croner::Cron = req
        .cron
        .parse()
        .map_err(|e| ApiError::bad("cron", format!("not a cron pattern: {e}")))?;
    let spec = ScheduleSpec {
        name: req.name,
        cron_text: req.cron,
        cron,
        template: req.template,
        args: req.args,
        baseline: req.baseline,
        canary: req.canary,
        window_minutes: req.window_minutes,
        step_seconds: req.step_seconds,
        callback_url: req.callback_url,
        callback_secret: req.callback_secret,
    };
    let row = service::create_schedule(&state.settings, &state.store, &state.wake, spec).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/schedules/{}", row.id)))
        .json(ScheduleView::from(row)))
}

/// Every recurring check.
#[utoipa::path(
    operation_id = "list_schedules",
    tag = "schedules",
    responses((status = 200, description = "Schedules", body = Vec<Object>)),
    security(("bearer" = ["read"]))
)]
#[get("/schedules", guard = "crate::api::auth::read")]
pub async fn list_schedules(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.list_schedules().await?;
    let out: Vec<ScheduleView> = rows.into_iter().map(ScheduleView::from).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// One recurring check (by id or name), with its callback deliveries.
#[utoipa::path(
    operation_id = "get_schedule",
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id or name")),
    responses(
        (status = 200, description = "The schedule", body = Object),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/schedules/{id}", guard = "crate::api::auth::read")]
pub async fn get_schedule(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(s) = state.store.get_schedule(&id).await? else {
        return Err(schedule_not_found(&id));
    };
    let deliveries = state.store.list_deliveries(None, Some(&s.id)).await?;
    let deliveries: Vec<DeliveryView> = deliveries.into_iter().map(DeliveryView::from).collect();
    let mut v = serde_json::to_value(ScheduleView::from(s)).unwrap_or_default();
    v["deliveries"] = serde_json::to_value(deliveries).unwrap_or_default();
    Ok(HttpResponse::Ok().json(v))
}

fn schedule_not_found(id: &str) -> ApiError {
    ApiError::Service(ServiceError::ScheduleNotFound { id: id.to_string() })
}

/// Delete a recurring check (its judgments stay).
#[utoipa::path(
    operation_id = "delete_schedule",
    tag = "schedules",
    params(("id" = String, Path, description = "Schedule id or name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[delete("/schedules/{id}", guard = "crate::api::auth::judge")]
pub async fn delete_schedule(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_schedule(&id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(schedule_not_found(&id))
    }
}
