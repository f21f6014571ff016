//! Every callback body, built in one place: the events of an analysis (each judged interval,
//! its end, its cancellation) and of a recurring check's run. A body is built once, stored with
//! its delivery and signed as stored, so every retry sends the same bytes.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::Settings;
use crate::service::plan;
use crate::store::{
    AnalysisRow, AnalysisState, IntervalRow, NewDelivery, NewJudgment, ScheduleRow, Verdict,
};

/// What happened to an analysis (the `event` of its callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisEvent {
    /// An interval was judged (or recorded as `error`).
    Interval,
    /// The analysis ended: its last interval, or a fail with `stop_on_fail`.
    Completed,
    /// The analysis was cancelled by request.
    Cancelled,
}

impl AnalysisEvent {
    /// The event's name in callbacks.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisEvent::Interval => "interval",
            AnalysisEvent::Completed => "completed",
            AnalysisEvent::Cancelled => "cancelled",
        }
    }
}

/// The `event` of a recurring check's callback.
pub const SCHEDULE_RUN: &str = "schedule_run";

/// A new delivery to `url` with `body`, expiring after `callbacks.expire_after_minutes`.
fn delivery(
    settings: &Settings,
    id: String,
    event: &str,
    url: String,
    body: String,
    created_at: DateTime<Utc>,
) -> NewDelivery {
    NewDelivery {
        id,
        analysis_id: None,
        schedule_id: None,
        event: event.to_string(),
        interval_index: None,
        url,
        body,
        created_at,
        expires_at: created_at + plan::minutes(settings.callbacks.expire_after_minutes.max(0.0)),
    }
}

/// A callback of analysis `a` (none when it has no `callback_url`): its row, with the body
/// built once.
#[allow(clippy::too_many_arguments)]
pub fn analysis_event(
    settings: &Settings,
    a: &AnalysisRow,
    event: AnalysisEvent,
    interval: Option<&IntervalRow>,
    state: AnalysisState,
    analysis_verdict: Option<Verdict>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Option<NewDelivery> {
    let url = a.callback_url.clone()?;
    let base = settings.server.public_base();
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = now;
    let mut body = json!({
        "event_id": id,
        "event": event.as_str(),
        "analysis_id": a.id,
        "state": state,
        "verdict": analysis_verdict,
        "reason": reason,
        "template": a.template,
        "baseline": a.baseline,
        "canary": a.canary,
        "analysis_url": format!("{base}/api/v1/analyses/{}", a.id),
        "created_at": created_at,
    });
    if let Some(i) = interval {
        body["interval"] = json!({
            "index": i.index,
            "start": i.start,
            "end": i.end,
            "verdict": i.verdict,
            "score": i.score,
            "error": i.error,
            "judgment_id": i.judgment_id,
            "report_url": i.judgment_id.as_ref().map(|j| format!("{base}/api/v1/judgments/{j}")),
        });
        // A look of a sequential analysis: its decision and the look it came at, so that a
        // pipeline can act on `decision` (continue | fail | pass) without reading the report.
        if let Some(look) = &i.sequential {
            body["interval"]["sequential"] = json!(look);
            body["decision"] = json!(look.decision);
            body["look"] = json!(look.look);
        }
    }
    Some(NewDelivery {
        analysis_id: Some(a.id.clone()),
        interval_index: interval.map(|i| i.index),
        ..delivery(
            settings,
            id,
            event.as_str(),
            url,
            body.to_string(),
            created_at,
        )
    })
}

/// The callback of one run of schedule `s` at `run_at` (none when it has no `callback_url`):
/// the judgment made, or the error that kept it from being made.
pub fn schedule_run_event(
    settings: &Settings,
    s: &ScheduleRow,
    run_at: DateTime<Utc>,
    record: Option<&NewJudgment>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Option<NewDelivery> {
    let url = s.callback_url.clone()?;
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = now;
    let base = settings.server.public_base();
    let body = json!({
        "event_id": id,
        "event": SCHEDULE_RUN,
        "schedule_id": s.id,
        "schedule": s.name,
        "run_at": run_at,
        "verdict": record.map(|r| r.verdict.clone()),
        "score": record.map(|r| r.score),
        "error": error,
        "judgment_id": record.map(|r| r.id.clone()),
        "report_url": record.map(|r| format!("{base}/api/v1/judgments/{}", r.id)),
        "created_at": created_at,
    });
    Some(NewDelivery {
        schedule_id: Some(s.id.clone()),
        ..delivery(
            settings,
            id,
            SCHEDULE_RUN,
            url,
            body.to_string(),
            created_at,
        )
    })
}
