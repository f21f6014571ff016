//! Scheduled analyses and recurring checks, as the API asks for them: check a new analysis or
//! schedule against its template, its source and the callback allow-list, plan its intervals,
//! store it and wake the scheduler; cancel an analysis with its `cancelled` callback; read one
//! back with its intervals and deliveries. The scheduler then judges what is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::config::Settings;
use crate::judge::sequential::{Decision, Horizon, Look, SequentialSpec};
use crate::service::callbacks::{analysis_event, AnalysisEvent};
use crate::service::judgments::{resolve_template, TemplateRef};
use crate::service::live::live_queries;
use crate::service::plan::{self, Plan};
use crate::service::{delivery, ServiceError};
use crate::source::{Window, MAX_STEP_SECONDS};
use crate::store::Verdict;
use crate::store::{
    AnalysisRow, AnalysisState, DeliveryRow, IntervalRow, NewAnalysis, ScheduleRow, Store,
};
use crate::template::{resolve_args, Template};

/// A new analysis, as parsed from the request.
#[derive(Debug, Clone)]
pub struct AnalysisSpec {
    /// A stored template's name.
    pub template: String,
    /// Its version (default: the latest, pinned for the whole analysis).
    pub template_version: Option<i64>,
    /// Template arguments.
    pub args: BTreeMap<String, String>,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// When the canary started taking traffic (default: now).
    pub start: Option<DateTime<Utc>>,
    /// How long intervals are judged, after `begin_after_minutes`.
    pub lifetime_minutes: f64,
    /// Distance between two judgments.
    pub interval_minutes: f64,
    /// Wait before the first interval.
    pub begin_after_minutes: f64,
    /// Window of each judgment; 0: from the start, growing.
    pub lookback_minutes: f64,
    /// Step between points (default: the template's).
    pub step_seconds: Option<u64>,
    /// Called for every interval and at the end.
    pub callback_url: Option<String>,
    /// HMAC-SHA256 key of the callbacks.
    pub callback_secret: Option<String>,
    /// End at the first failing interval (default true).
    pub stop_on_fail: Option<bool>,
    /// A whole-rollout error rate instead of one per interval (issue 17).
    pub sequential: Option<SequentialSpec>,
}

/// A new recurring check, as parsed from the request.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    /// Unique name.
    pub name: String,
    /// The cron pattern as given.
    pub cron_text: String,
    /// The cron pattern, parsed.
    pub cron: croner::Cron,
    /// A stored template's name (its latest version at each run).
    pub template: String,
    /// Template arguments.
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

/// An analysis with its judged intervals (each with its report) and its callbacks.
#[derive(Debug, Clone)]
pub struct AnalysisDetail {
    /// The analysis.
    pub analysis: AnalysisRow,
    /// Judged intervals, in order.
    pub intervals: Vec<IntervalRow>,
    /// Callback deliveries.
    pub deliveries: Vec<DeliveryRow>,
}

/// The plan of a stored analysis, or the field and why its timing makes none.
pub fn plan_of(a: &AnalysisRow) -> Result<Plan, (&'static str, String)> {
    Plan::new(
        a.start_at,
        a.lifetime_minutes,
        a.interval_minutes,
        a.begin_after_minutes,
        a.lookback_minutes,
        a.settle_seconds,
    )
}

/// Checks that the template's queries render for these scopes and arguments with its source.
fn check_queries(
    settings: &Settings,
    template: &Template,
    baseline: &str,
    canary: &str,
    args: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    live_queries(settings, template, baseline, canary, args)?;
    Ok(())
}

/// A callback URL is allowed and comes with its secret; a secret comes with a URL.
async fn check_callback(
    settings: &Settings,
    url: &Option<String>,
    secret: &Option<String>,
) -> Result<(), ServiceError> {
    match (url, secret) {
        (Some(url), secret) => {
            delivery::check_destination(url, &settings.callbacks)
                .await
                .map_err(|why| ServiceError::invalid("callback_url", why))?;
            if secret.as_deref().is_none_or(|s| s.is_empty()) {
                return Err(ServiceError::invalid(
                    "callback_secret",
                    "required with callback_url: callbacks are signed with it",
                ));
            }
            Ok(())
        }
        (None, Some(_)) => Err(ServiceError::invalid(
            "callback_secret",
            "given without callback_url",
        )),
        (None, None) => Ok(()),
    }
}

/// The step as stored (a signed number): a step that does not fit is refused, never wrapped.
fn stored_step(step_seconds: Option<u64>) -> Result<Option<i64>, ServiceError> {
    step_seconds
        .map(|s| {
            i64::try_from(s).map_err(|_| {
                ServiceError::invalid(
                    "step_seconds",
                    format!("must be at most {}, found {s}", i64::MAX),
                )
            })
        })
        .transpose()
}

/// Checks, plans and stores a new analysis, then wakes the scheduler: every interval is judged
/// once its window has closed (plus the settle delay); windows already past are judged at once.
///
/// # Errors
/// An unknown template, arguments or scopes the template cannot take, a source that cannot
/// render its queries, a callback that is not allowed, timing that plans no interval.
pub async fn create_analysis(
    settings: &Settings,
    store: &Store,
    wake: &Notify,
    request_id: String,
    spec: AnalysisSpec,
) -> Result<AnalysisDetail, ServiceError> {
    let (template, version, _) = resolve_template(
        store,
        &TemplateRef::Named {
            name: spec.template.clone(),
            version: spec.template_version,
        },
    )
    .await?;
    let version = version.unwrap_or(1);
    let args = resolve_args(&template, &spec.args)
        .map_err(|e| ServiceError::invalid("args", e.to_string()))?;
    for (field, v) in [("baseline", &spec.baseline), ("canary", &spec.canary)] {
        if v.trim().is_empty() {
            return Err(ServiceError::invalid(field, "required"));
        }
    }
    check_queries(
        settings,
        &template,
        &spec.baseline,
        &spec.canary,
        &spec.args,
    )?;
    check_callback(settings, &spec.callback_url, &spec.callback_secret).await?;
    if let Some(sequential) = &spec.sequential {
        sequential
            .check()
            .map_err(|why| ServiceError::invalid("sequential", why))?;
    }
    let start = spec.start.unwrap_or_else(|| store.clock().now());
    let settle = settings.scheduler.settle_seconds;
    let plan = Plan::new(
        start,
        spec.lifetime_minutes,
        spec.interval_minutes,
        spec.begin_after_minutes,
        spec.lookback_minutes,
        settle,
    )
    .map_err(|(field, message)| ServiceError::invalid(field, message))?;
    if plan.count() < 1 {
        return Err(ServiceError::invalid(
            "lifetime_minutes",
            "no interval fits",
        ));
    }
    let step = spec.step_seconds.unwrap_or(template.step_seconds);
    // The widest window must be fetchable (points per series are bounded).
    let widest = (0..plan.count())
        .map(|k| plan.window(k))
        .max_by_key(|(s, e)| *e - *s)
        .unwrap_or_else(|| plan.window(0));
    Window::new(widest.0, widest.1, step)
        .map_err(|e| ServiceError::invalid("step_seconds", e.to_string()))?;
    let new = NewAnalysis {
        id: uuid::Uuid::now_v7().to_string(),
        request_id,
        template: template.name.clone(),
        template_version: version,
        args: serde_json::to_value(&args).unwrap_or_default(),
        baseline: spec.baseline,
        canary: spec.canary,
        start_at: start,
        lifetime_minutes: spec.lifetime_minutes,
        interval_minutes: spec.interval_minutes,
        begin_after_minutes: spec.begin_after_minutes,
        lookback_minutes: spec.lookback_minutes,
        step_seconds: stored_step(spec.step_seconds)?,
        settle_seconds: settle,
        callback_url: spec.callback_url,
        callback_secret: spec.callback_secret,
        stop_on_fail: spec.stop_on_fail.unwrap_or(true),
        interval_count: plan.count(),
        first_due_at: plan.due(0),
        sequential: spec.sequential,
    };
    store.insert_analysis(&new).await?;
    wake.notify_waiters();
    tracing::info!(analysis_id = %new.id, template = %new.template, intervals = new.interval_count, "analysis started");
    analysis_detail(store, &new.id).await
}

/// The look interval `k` (from 0) of analysis `a` is, when the analysis is sequential: look
/// `k + 1` of its planned intervals, on windows that nest when each grows from the start
/// (`lookback` 0) and that do not when they slide.
pub fn look_of(a: &AnalysisRow, k: i64) -> Option<(SequentialSpec, Look)> {
    let spec = a.sequential?;
    let count = |n: i64| usize::try_from(n.max(1)).unwrap_or(usize::MAX);
    Some((
        spec,
        Look {
            number: count(k + 1),
            horizon: Horizon::Looks(count(a.interval_count)),
            nested: a.lookback_minutes == 0.0,
        },
    ))
}

/// Where analysis `a` stands once `interval` (its next) is judged: its state, its verdict and,
/// when it ends, why.
///
/// Without `sequential`: the last interval ends it with that interval's verdict; a fail ends
/// it early under `stop_on_fail`. With `sequential`, the look's decision does: `fail` ends it
/// (under `stop_on_fail`; without, the analysis stays failed and goes on being judged),
/// `pass` ends it passed (early, or at the last look), `continue` goes on. An interval that
/// could not be judged (`error`) decides nothing: its look's share of alpha goes unspent.
pub fn after_interval(
    a: &AnalysisRow,
    interval: &IntervalRow,
) -> (AnalysisState, Verdict, Option<String>) {
    let k = interval.index;
    let n = a.interval_count;
    let last = k + 1 >= n;
    let Some(look) = interval
        .sequential
        .as_ref()
        .filter(|_| a.sequential.is_some())
    else {
        // Already failed in a sequential analysis without stop_on_fail: it stays failed.
        let sticky = a.sequential.is_some() && a.verdict == Some(Verdict::Fail);
        let verdict = if sticky {
            Verdict::Fail
        } else {
            interval.verdict
        };
        if last {
            return (
                AnalysisState::Completed,
                verdict,
                Some(format!(
                    "the last interval ({} of {n}) is {}",
                    k + 1,
                    interval.verdict
                )),
            );
        }
        if a.stop_on_fail && interval.verdict == Verdict::Fail {
            return (
                AnalysisState::Completed,
                verdict,
                Some(format!(
                    "interval {} of {n} failed and stop_on_fail is set",
                    k + 1
                )),
            );
        }
        return (AnalysisState::Running, verdict, None);
    };
    let failed_before = a.verdict == Some(Verdict::Fail);
    match look.decision {
        Decision::Fail if a.stop_on_fail || last => (
            AnalysisState::Completed,
            Verdict::Fail,
            Some(format!(
                "sequential: look {} of {n} is a conclusive fail ({})",
                k + 1,
                look.reason
            )),
        ),
        Decision::Fail => (AnalysisState::Running, Verdict::Fail, None),
        Decision::Pass if failed_before => (
            AnalysisState::Completed,
            Verdict::Fail,
            Some(format!(
                "sequential: an earlier look failed; look {} of {n} ends it",
                k + 1
            )),
        ),
        Decision::Pass => (
            AnalysisState::Completed,
            Verdict::Pass,
            Some(if last {
                format!(
                    "sequential: no conclusive regression in {n} looks ({})",
                    look.reason
                )
            } else {
                format!(
                    "sequential: passed early at look {} of {n} ({})",
                    k + 1,
                    look.reason
                )
            }),
        ),
        // A look that leaves the last interval undecided still ends the analysis: nothing
        // conclusive was found in all its looks.
        Decision::Continue if last => (
            AnalysisState::Completed,
            if failed_before {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            Some(format!(
                "sequential: no conclusive regression in {n} looks ({})",
                look.reason
            )),
        ),
        Decision::Continue if failed_before => (AnalysisState::Running, Verdict::Fail, None),
        Decision::Continue => (AnalysisState::Running, interval.verdict, None),
    }
}

/// One analysis with its intervals (each with its report) and deliveries.
///
/// # Errors
/// [`ServiceError::AnalysisNotFound`]; the store failed.
pub async fn analysis_detail(store: &Store, id: &str) -> Result<AnalysisDetail, ServiceError> {
    let Some(analysis) = store.get_analysis(id).await? else {
        return Err(ServiceError::AnalysisNotFound { id: id.to_string() });
    };
    let mut intervals = store.list_intervals(&analysis.id).await?;
    let mut reports = store.interval_reports(&analysis.id).await?;
    for i in &mut intervals {
        i.report = reports.remove(&i.index);
    }
    let deliveries = store.list_deliveries(Some(&analysis.id), None).await?;
    Ok(AnalysisDetail {
        analysis,
        intervals,
        deliveries,
    })
}

/// Cancels analysis `id`: nothing more is judged; a `cancelled` callback is stored in the same
/// write, then the scheduler is woken to deliver it.
///
/// # Errors
/// [`ServiceError::AnalysisNotFound`]; [`ServiceError::Conflict`] once it has ended.
pub async fn cancel_analysis(
    settings: &Settings,
    store: &Store,
    wake: &Notify,
    id: &str,
) -> Result<AnalysisDetail, ServiceError> {
    let Some(a) = store.get_analysis(id).await? else {
        return Err(ServiceError::AnalysisNotFound { id: id.to_string() });
    };
    let event = analysis_event(
        settings,
        &a,
        AnalysisEvent::Cancelled,
        None,
        AnalysisState::Cancelled,
        a.verdict,
        Some("cancelled by request"),
        store.clock().now(),
    );
    if !store.cancel_analysis(id, event.as_ref()).await? {
        return Err(ServiceError::Conflict(format!(
            "analysis '{id}' has already ended ({})",
            a.state
        )));
    }
    wake.notify_waiters();
    tracing::info!(analysis_id = %id, "analysis cancelled");
    analysis_detail(store, id).await
}

/// Checks and stores a new recurring check, its first run at the cron pattern's next time,
/// then wakes the scheduler. Each run is a judgment stored like any other (`gate` `schedule`).
///
/// # Errors
/// An unknown template, arguments or scopes it cannot take, a callback that is not allowed, a
/// window that cannot be fetched, a pattern that never runs, a name taken
/// ([`ServiceError::Conflict`]).
pub async fn create_schedule(
    settings: &Settings,
    store: &Store,
    wake: &Notify,
    spec: ScheduleSpec,
) -> Result<ScheduleRow, ServiceError> {
    let (template, _, _) = resolve_template(
        store,
        &TemplateRef::Named {
            name: spec.template.clone(),
            version: None,
        },
    )
    .await?;
    let args = resolve_args(&template, &spec.args)
        .map_err(|e| ServiceError::invalid("args", e.to_string()))?;
    check_queries(
        settings,
        &template,
        &spec.baseline,
        &spec.canary,
        &spec.args,
    )?;
    check_callback(settings, &spec.callback_url, &spec.callback_secret).await?;
    let window = plan::checked_minutes(spec.window_minutes)
        .filter(|_| spec.window_minutes > 0.0)
        .ok_or_else(|| {
            ServiceError::invalid(
                "window_minutes",
                format!(
                    "expected minutes > 0 and at most {} (100 years), found {}",
                    plan::MAX_MINUTES,
                    spec.window_minutes
                ),
            )
        })?;
    let now = store.clock().now();
    let next = spec
        .cron
        .find_next_occurrence(&now, false)
        .map_err(|e| ServiceError::invalid("cron", format!("never runs: {e}")))?;
    let end = next;
    let start = end.checked_sub_signed(window).ok_or_else(|| {
        ServiceError::invalid(
            "window_minutes",
            "the window would start before the first date supported",
        )
    })?;
    let step = spec.step_seconds.unwrap_or(template.step_seconds);
    let field = if step > MAX_STEP_SECONDS {
        "step_seconds"
    } else {
        "window_minutes"
    };
    Window::new(start, end, step).map_err(|e| ServiceError::invalid(field, e.to_string()))?;
    let row = ScheduleRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: spec.name,
        created_at: now,
        cron: spec.cron_text,
        template: template.name,
        args: serde_json::to_value(&args).unwrap_or_default(),
        baseline: spec.baseline,
        canary: spec.canary,
        window_minutes: spec.window_minutes,
        step_seconds: stored_step(spec.step_seconds)?,
        callback_url: spec.callback_url,
        callback_secret: spec.callback_secret,
        next_run_at: next,
        last_run_at: None,
        last_judgment_id: None,
        last_verdict: None,
        last_error: None,
        runs: 0,
    };
    if !store.insert_schedule(&row).await? {
        return Err(ServiceError::Conflict(format!(
            "a schedule named '{}' exists",
            row.name
        )));
    }
    wake.notify_waiters();
    Ok(row)
}
