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
use crate::analysis::live_queries;
use crate::scheduler::{analysis_event, callback, plan::Plan, plan_of};
use crate::service::{resolve_template, ServiceError, TemplateRef};
use crate::source::Window;
use crate::store::{now_ms, AnalysisRow, DeliveryRow, IntervalRow, NewAnalysis, ScheduleRow};
use crate::template::{resolve_args, Template};

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
}

/// An analysis with its intervals and callbacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalysisView {
    /// Id.
    pub id: String,
    /// pending | running | completed | cancelled.
    #[schema(value_type = String)]
    pub state: crate::store::AnalysisState,
    /// The last interval's verdict (final once completed).
    pub verdict: Option<String>,
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
    pub intervals: Vec<IntervalRow>,
    /// Callback deliveries.
    pub deliveries: Vec<DeliveryRow>,
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

async fn view(state: &AppState, a: AnalysisRow) -> Result<AnalysisView, ApiError> {
    let mut intervals = state.store.list_intervals(&a.id).await?;
    let mut reports = state.store.interval_reports(&a.id).await?;
    for i in &mut intervals {
        i.report = reports.remove(&i.index);
    }
    let deliveries = state.store.list_deliveries(Some(&a.id), None).await?;
    Ok(AnalysisView {
        intervals,
        deliveries,
        ..summary(a)
    })
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
        callback_url: a.callback_url,
        interval_count: a.interval_count,
        next,
        last_error: a.last_error,
        created_at: a.created_at,
        intervals: Vec::new(),
        deliveries: Vec::new(),
    }
}

/// Checks that the template's queries render for these scopes and arguments with its source.
fn check_queries(
    state: &AppState,
    template: &Template,
    baseline: &str,
    canary: &str,
    args: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    live_queries(&state.settings, template, baseline, canary, args)
        .map_err(|e| ApiError::Service(ServiceError::Analysis(e)))?;
    Ok(())
}

async fn check_callback(
    state: &AppState,
    url: &Option<String>,
    secret: &Option<String>,
) -> Result<(), ApiError> {
    match (url, secret) {
        (Some(url), secret) => {
            callback::check_destination(url, &state.settings.callbacks)
                .await
                .map_err(|why| ApiError::bad("callback_url", why))?;
            if secret.as_deref().is_none_or(|s| s.is_empty()) {
                return Err(ApiError::bad(
                    "callback_secret",
                    "required with callback_url: callbacks are signed with it",
                ));
            }
            Ok(())
        }
        (None, Some(_)) => Err(ApiError::bad(
            "callback_secret",
            "given without callback_url",
        )),
        (None, None) => Ok(()),
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
    let (template, version, _) = resolve_template(
        &state.store,
        &TemplateRef::Named {
            name: req.template.clone(),
            version: req.template_version,
        },
    )
    .await?;
    let version = version.unwrap_or(1);
    let args =
        resolve_args(&template, &req.args).map_err(|e| ApiError::bad("args", e.to_string()))?;
    for (field, v) in [("baseline", &req.baseline), ("canary", &req.canary)] {
        if v.trim().is_empty() {
            return Err(ApiError::bad(field, "required"));
        }
    }
    check_queries(&state, &template, &req.baseline, &req.canary, &req.args)?;
    check_callback(&state, &req.callback_url, &req.callback_secret).await?;
    let start = match &req.start {
        Some(v) => time_field("start", v)?,
        None => now_ms(),
    };
    let settle = state.settings.scheduler.settle_seconds;
    let plan = Plan::new(
        start,
        req.lifetime_minutes,
        req.interval_minutes,
        req.begin_after_minutes,
        req.lookback_minutes,
        settle,
    )
    .map_err(|(field, message)| ApiError::bad(field, message))?;
    if plan.count() < 1 {
        return Err(ApiError::bad("lifetime_minutes", "no interval fits"));
    }
    let step = req.step_seconds.unwrap_or(template.step_seconds);
    // The widest window must be fetchable (points per series are bounded).
    let widest = (0..plan.count())
        .map(|k| plan.window(k))
        .max_by_key(|(s, e)| *e - *s)
        .unwrap_or_else(|| plan.window(0));
    Window::new(widest.0, widest.1, step)
        .map_err(|e| ApiError::bad("step_seconds", e.to_string()))?;
    let new = NewAnalysis {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: request_id.0,
        template: template.name.clone(),
        template_version: version,
        args: serde_json::to_value(&args).unwrap_or_default(),
        baseline: req.baseline,
        canary: req.canary,
        start_at: start,
        lifetime_minutes: req.lifetime_minutes,
        interval_minutes: req.interval_minutes,
        begin_after_minutes: req.begin_after_minutes,
        lookback_minutes: req.lookback_minutes,
        step_seconds: stored_step(req.step_seconds)?,
        settle_seconds: settle,
        callback_url: req.callback_url,
        callback_secret: req.callback_secret,
        stop_on_fail: req.stop_on_fail.unwrap_or(true),
        interval_count: plan.count(),
        first_due_at: plan.due(0),
    };
    state.store.insert_analysis(&new).await?;
    state.wake.notify_waiters();
    tracing::info!(analysis_id = %new.id, template = %new.template, intervals = new.interval_count, "analysis started");
    let Some(a) = state.store.get_analysis(&new.id).await? else {
        return Err(not_found(&new.id));
    };
    let v = view(&state, a).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/analyses/{}", v.id)))
        .json(v))
}

/// The step as stored (a signed number): a step that does not fit is refused, never wrapped.
fn stored_step(step_seconds: Option<u64>) -> Result<Option<i64>, ApiError> {
    step_seconds
        .map(|s| {
            i64::try_from(s).map_err(|_| {
                ApiError::bad(
                    "step_seconds",
                    format!("must be at most {}, found {s}", i64::MAX),
                )
            })
        })
        .transpose()
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        code: "analysis_not_found",
        message: format!("no analysis with id '{id}'"),
    }
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
    let Some(a) = state.store.get_analysis(&id).await? else {
        return Err(not_found(&id));
    };
    Ok(HttpResponse::Ok().json(view(&state, a).await?))
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
    if let Some(s) = &q.state {
        if crate::store::AnalysisState::parse(s).is_none() {
            return Err(ApiError::bad(
                "state",
                "expected pending, running, completed or cancelled",
            ));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("limit", "expected 1..1000"));
    }
    let rows = state.store.list_analyses(q.state.as_deref(), limit).await?;
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
    let Some(a) = state.store.get_analysis(&id).await? else {
        return Err(not_found(&id));
    };
    let event = analysis_event(
        &state.settings,
        &a,
        "cancelled",
        None,
        crate::store::AnalysisState::Cancelled,
        a.verdict.as_deref(),
        Some("cancelled by request"),
    );
    if !state.store.cancel_analysis(&id, event.as_ref()).await? {
        return Err(ApiError::Conflict(format!(
            "analysis '{id}' has already ended ({})",
            a.state
        )));
    }
    state.wake.notify_waiters();
    tracing::info!(analysis_id = %id, "analysis cancelled");
    let Some(a) = state.store.get_analysis(&id).await? else {
        return Err(not_found(&id));
    };
    Ok(HttpResponse::Ok().json(view(&state, a).await?))
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
    let (template, _, _) = resolve_template(
        &state.store,
        &TemplateRef::Named {
            name: req.template.clone(),
            version: None,
        },
    )
    .await?;
    let args =
        resolve_args(&template, &req.args).map_err(|e| ApiError::bad("args", e.to_string()))?;
    check_queries(&state, &template, &req.baseline, &req.canary, &req.args)?;
    check_callback(&state, &req.callback_url, &req.callback_secret).await?;
    let window = crate::scheduler::plan::checked_minutes(req.window_minutes)
        .filter(|_| req.window_minutes > 0.0)
        .ok_or_else(|| {
            ApiError::bad(
                "window_minutes",
                format!(
                    "expected minutes > 0 and at most {} (100 years), found {}",
                    crate::scheduler::plan::MAX_MINUTES,
                    req.window_minutes
                ),
            )
        })?;
    let now = now_ms();
    let next = cron
        .find_next_occurrence(&now, false)
        .map_err(|e| ApiError::bad("cron", format!("never runs: {e}")))?;
    let end = next;
    let start = end.checked_sub_signed(window).ok_or_else(|| {
        ApiError::bad(
            "window_minutes",
            "the window would start before the first date supported",
        )
    })?;
    let step = req.step_seconds.unwrap_or(template.step_seconds);
    let field = if step > crate::source::MAX_STEP_SECONDS {
        "step_seconds"
    } else {
        "window_minutes"
    };
    Window::new(start, end, step).map_err(|e| ApiError::bad(field, e.to_string()))?;
    let row = ScheduleRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: req.name,
        created_at: now,
        cron: req.cron,
        template: template.name,
        args: serde_json::to_value(&args).unwrap_or_default(),
        baseline: req.baseline,
        canary: req.canary,
        window_minutes: req.window_minutes,
        step_seconds: stored_step(req.step_seconds)?,
        callback_url: req.callback_url,
        callback_secret: req.callback_secret,
        next_run_at: next,
        last_run_at: None,
        last_judgment_id: None,
        last_verdict: None,
        last_error: None,
        runs: 0,
    };
    if !state.store.insert_schedule(&row).await? {
        return Err(ApiError::Conflict(format!(
            "a schedule named '{}' exists",
            row.name
        )));
    }
    state.wake.notify_waiters();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/schedules/{}", row.id)))
        .json(row))
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
    Ok(HttpResponse::Ok().json(state.store.list_schedules().await?))
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
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    v["deliveries"] = serde_json::to_value(deliveries).unwrap_or_default();
    Ok(HttpResponse::Ok().json(v))
}

fn schedule_not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        code: "schedule_not_found",
        message: format!("no schedule '{id}'"),
    }
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
