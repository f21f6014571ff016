//! Gates for pipelines (CONTRACT §7).
//!
//! * Flagger webhooks: `POST /api/v1/gates/flagger` (a `pre-rollout`, `rollout` or
//!   `confirm-promotion` hook: 200 on pass, 412 on marginal or fail; Flagger counts a 412 to a
//!   rollout hook as a failed check, and to confirm-promotion it waits and asks again) and
//!   `POST /api/v1/gates/flagger/rollback` (a `rollback` hook: 200 means "roll back now",
//!   answered only when regressions make the verdict fail). Flagger posts
//!   `{name, namespace, phase, checksum, metadata}`; the metadata (all strings) names the
//!   template, scopes and window. Calls of the same hook for the same canary, checksum, phase,
//!   template, arguments, window and step reuse the judgment already stored while it is
//!   younger than the window, so Flagger's retries do not re-query the metric source. Flagger cannot send headers, so with
//!   `[auth]` tokens configured its token goes in the metadata as `token` (checked, then
//!   dropped: never stored or logged).
//! * Argo Rollouts `web` provider: `GET` (query parameters) or `POST` (JSON body)
//!   `/api/v1/gates/argo`: always 200 with the report, so that `successCondition:
//!   result.verdict == "pass"` and `failureCondition: result.verdict == "fail"` work and a
//!   marginal verdict is Inconclusive. A malformed request is a 4xx, a failed source a 5xx:
//!   Argo counts either as an error measurement.

use std::collections::BTreeMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::judgments::{time_field, JudgmentResponse};
use super::observe::RequestId;
use super::{auth, body, AppState};
use crate::judge::sequential::{Decision, SequentialSpec};
use crate::service::plan::MAX_MINUTES;
use crate::service::{self, JudgmentInput, Points, TemplateRef};
use crate::stats::sequential::Spending;
use crate::telemetry::metrics;

/// What a gate call asks for, from Flagger metadata or Argo parameters.
#[derive(Debug, Clone)]
struct GateParams {
    template: String,
    template_version: Option<i64>,
    baseline: String,
    canary: String,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
    step_seconds: Option<u64>,
    args: BTreeMap<String, String>,
    /// The window as asked: `START..END` (Unix seconds) when given, `last:Nm` for a window of
    /// N minutes ending now. Two calls asking about other windows are other questions.
    window: String,
    /// A sequential gate: `sequence`, `alpha`, `pass_early`, `looks`, `spending` (issue 17).
    sequential: Option<SequenceParams>,
}

/// The sequential parameters of a gate call.
#[derive(Debug, Clone)]
struct SequenceParams {
    /// The caller's sequence key (`sequence`); Flagger's default is its canary revision.
    key: Option<String>,
    /// alpha, pass_early, spending.
    spec: SequentialSpec,
    /// The calls the caller plans (`looks`), when it says.
    looks: Option<usize>,
}

/// Most looks a gate sequence may plan.
const MAX_LOOKS: u64 = 10_000;

/// The sequential parameters among `pairs`, when `sequence` or `alpha` is given.
fn sequence_params(
    pairs: &BTreeMap<String, String>,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<SequenceParams>, ApiError> {
    let key = pairs.get("sequence").map(|v| v.trim().to_string());
    if key.as_deref() == Some("") {
        return Err(ApiError::bad(field("sequence"), "must not be empty"));
    }
    if key.is_none() && !pairs.contains_key("alpha") {
        for k in ["pass_early", "looks", "spending"] {
            if pairs.contains_key(k) {
                return Err(ApiError::bad(
                    field(k),
                    "applies to a sequential gate: give sequence (or alpha) too",
                ));
            }
        }
        return Ok(None);
    }
    let alpha = match pairs.get("alpha") {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map_err(|_| ApiError::bad(field("alpha"), format!("expected a number, got '{v}'")))?,
        None => crate::api::analyses::DEFAULT_ALPHA,
    };
    let pass_early = match pairs.get("pass_early").map(|v| v.trim()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::bad(
                field("pass_early"),
                format!("expected true or false, got '{v}'"),
            ))
        }
    };
    let spending = match pairs.get("spending").map(|v| v.trim()) {
        None | Some("pocock") => Spending::Pocock,
        Some("o-brien-fleming") => Spending::OBrienFleming,
        Some(v) => {
            return Err(ApiError::bad(
                field("spending"),
                format!("expected pocock or o-brien-fleming, got '{v}'"),
            ))
        }
    };
    let looks = match pairs.get("looks") {
        Some(v) => {
            let n = v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_LOOKS).contains(n));
            Some(n.ok_or_else(|| {
                ApiError::bad(
                    field("looks"),
                    format!("expected a whole number from 1 to {MAX_LOOKS}, got '{v}'"),
                )
            })? as usize)
        }
        None => None,
    };
    let spec = SequentialSpec {
        alpha,
        pass_early,
        spending,
    };
    spec.check()
        .map_err(|why| ApiError::bad(field("alpha"), why))?;
    Ok(Some(SequenceParams { key, spec, looks }))
}

/// Keys some Flagger versions add to a webhook's metadata themselves: not typos of ours.
const FLAGGER_ADDED: &[&str] = &[
    "timestamp",
    "phase",
    "failedChecks",
    "canaryWeight",
    "iterations",
    "remainingIterations",
    "eventMessage",
    "eventType",
];

/// Reads gate parameters from string pairs; `prefix` is where they came from (`metadata.` for
/// Flagger), to name a bad one.
fn gate_params(
    pairs: &BTreeMap<String, String>,
    prefix: &str,
    default_window_minutes: u64,
    now: DateTime<Utc>,
) -> Result<GateParams, ApiError> {
    let field = |k: &str| format!("{prefix}{k}");
    let mut args = BTreeMap::new();
    for (k, v) in pairs {
        if FLAGGER_ADDED.contains(&k.as_str()) {
            // Some Flagger builds merge their own fields into the metadata.
            continue;
        }
        if let Some(name) = k.strip_prefix("arg.") {
            if name.is_empty() {
                return Err(ApiError::bad(
                    field(k),
                    "an argument needs a name: arg.NAME",
                ));
            }
            args.insert(name.to_string(), v.clone());
        } else if !matches!(
            k.as_str(),
            "template"
                | "template_version"
                | "baseline"
                | "canary"
                | "start"
                | "end"
                | "window_minutes"
                | "step_seconds"
                | "sequence"
                | "alpha"
                | "pass_early"
                | "looks"
                | "spending"
        ) {
            return Err(ApiError::bad(
                field(k),
                "unknown parameter; expected template, template_version, baseline, canary, \
                 start, end, window_minutes, step_seconds, arg.NAME, or for a sequential gate \
                 sequence, alpha, pass_early, looks, spending",
            ));
        }
    }
    let need = |k: &str| {
        pairs
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad(field(k), "required"))
    };
    let number = |k: &str| -> Result<Option<u64>, ApiError> {
        pairs
            .get(k)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad(field(k), format!("expected a whole number, got '{v}'"))
                })
            })
            .transpose()
    };
    let (start, end, window) = match (pairs.get("start"), pairs.get("end")) {
        (Some(s), Some(e)) => {
            if pairs.contains_key("window_minutes") {
                return Err(ApiError::bad(
                    field("window_minutes"),
                    "give either start and end, or window_minutes",
                ));
            }
            let start = time_field(&field("start"), &Value::String(s.clone()))?;
            let end = time_field(&field("end"), &Value::String(e.clone()))?;
            let window = format!("{}..{}", start.timestamp(), end.timestamp());
            (start, end, window)
        }
        (Some(_), None) => return Err(ApiError::bad(field("end"), "required with start")),
        (None, Some(_)) => return Err(ApiError::bad(field("start"), "required with end")),
        (None, None) => {
            let minutes = number("window_minutes")?.unwrap_or(default_window_minutes);
            if minutes == 0 {
                return Err(ApiError::bad(field("window_minutes"), "must be at least 1"));
            }
            let end = now;
            let start = i64::try_from(minutes)
                .ok()
                .and_then(Duration::try_minutes)
                .filter(|_| minutes as f64 <= MAX_MINUTES)
                .and_then(|d| end.checked_sub_signed(d))
                .ok_or_else(|| {
                    ApiError::bad(
                        field("window_minutes"),
                        format!("must be at most {MAX_MINUTES} (100 years), got {minutes}"),
                    )
                })?;
            (start, end, format!("last:{minutes}m"))
        }
    };
    Ok(GateParams {
        template: super::judgments::template_name(&field("template"), &need("template")?)?,
        template_version: number("template_version")?
            .map(|v| {
                i64::try_from(v).map_err(|_| {
                    ApiError::bad(field("template_version"), format!("no version {v}"))
                })
            })
            .transpose()?,
        baseline: need("baseline")?,
        canary: need("canary")?,
        start,
        end,
        step_seconds: number("step_seconds")?,
        args,
        window,
        sequential: sequence_params(pairs, &field)?,
    })
}

fn input_of(
    p: &GateParams,
    request_id: String,
    gate: Option<(String, Option<String>)>,
) -> JudgmentInput {
    JudgmentInput {
        template: TemplateRef::Named {
            name: p.template.clone(),
            version: p.template_version,
        },
        args: p.args.clone(),
        points: Points::Live {
            baseline: p.baseline.clone(),
            canary: p.canary.clone(),
            start: p.start,
            end: p.end,
            step_seconds: p.step_seconds,
        },
        request_id,
        gate,
        sequential: None,
    }
}

/// What Flagger posts to a webhook.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FlaggerPayload {
    /// The Canary's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its phase (Progressing, Promoting...).
    pub phase: String,
    /// The canary revision's checksum.
    #[serde(default)]
    pub checksum: String,
    /// The webhook's metadata: `template`, `baseline`, `canary`, `start`/`end` or
    /// `window_minutes`, `arg.NAME`..., and `token` when the API needs one.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

async fn flagger_judgment(
    state: &AppState,
    req: &HttpRequest,
    request_id: String,
    payload: web::Payload,
    hook_kind: &str,
) -> Result<service::Judgment, ApiError> {
    // With the token in the body, nothing of the body is judged before the token is checked:
    // a body over the limit, not JSON, or without `metadata.token` is a 401.
    let read = body::read(payload, state.settings.server.max_body_bytes).await;
    let bytes = auth::deferred_body(req, read)?;
    let mut hook: FlaggerPayload = body::json(&bytes)?;
    // The token never goes further than this: not parsed as a parameter, not stored.
    hook.metadata.remove("token");
    let p = gate_params(
        &hook.metadata,
        "metadata.",
        state.settings.server.gate_window_minutes,
        state.store.clock().now(),
    )?;
    // Everything that changes the question is in the key: a call with other arguments,
    // another template version, another window or step, or from the other hook (rollout or
    // rollback: Flagger sends phase Progressing to both, and to confirm-promotion) is a new
    // judgment.
    let args: Vec<String> = p.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let key = format!(
        "flagger-{hook_kind}:{}/{}:{}:{}:{}@{}:{}:{}:{}:window={}:step={}",
        hook.namespace,
        hook.name,
        hook.checksum,
        hook.phase,
        p.template,
        p.template_version
            .map(|v| v.to_string())
            .unwrap_or_default(),
        p.baseline,
        p.canary,
        args.join("&"),
        p.window,
        p.step_seconds.map(|v| v.to_string()).unwrap_or_default(),
    );
    let input = input_of(&p, request_id, Some(("flagger".into(), Some(key))));
    // A sequential hook's looks are its calls for one canary revision (or the caller's own
    // `sequence`), each hook a sequence of its own.
    let sequence = match &p.sequential {
        None => None,
        Some(s) => Some(service::GateSequence {
            key: match &s.key {
                Some(k) => format!("flagger-{hook_kind}:sequence={k}"),
                // Without a checksum, the next revision would be the same sequence (and get
                // its decision): the caller has to name it.
                None if hook.checksum.trim().is_empty() => {
                    return Err(ApiError::bad(
                        "metadata.sequence",
                        "required for a sequential hook when Flagger sends no checksum: name \
                         the canary revision",
                    ))
                }
                None => format!(
                    "flagger-{hook_kind}:{}/{}:{}",
                    hook.namespace, hook.name, hook.checksum
                ),
            },
            spec: s.spec,
            looks: s.looks,
        }),
    };
    Ok(service::gate_judgment(
        &state.settings,
        &state.store,
        input,
        p.end - p.start,
        sequence.as_ref(),
    )
    .await?)
}

/// The decision of a sequential gate's look; `None` for a plain judgment.
fn decision(j: &service::Judgment) -> Option<Decision> {
    j.report.sequential.as_ref().map(|s| s.decision)
}

fn count(gate: &str, outcome: &str) {
    metrics::global().inc(
        "canaryd_gate_calls_total",
        &[("gate", gate), ("outcome", outcome)],
        1.0,
    );
}

/// Flagger webhook (`pre-rollout`, `rollout`, `confirm-promotion`): 200 on pass, 412 on
/// marginal or fail; the body is the report.
#[utoipa::path(
    operation_id = "flagger_gate",
    tag = "gates",
    request_body = FlaggerPayload,
    responses(
        (status = 200, description = "Pass: go on", body = service::GateSummary),
        (status = 412, description = "Marginal or fail: do not advance; or no judgment could be made because the metric source failed (then the body is an error naming why)", body = service::GateSummary),
        (status = 400, description = "Bad payload or metadata, naming the field", body = ErrorBody),
        (status = 404, description = "Unknown template", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/gates/flagger", guard = "crate::api::auth::flagger_judge")]
pub async fn flagger(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let j = match flagger_judgment(&state, &req, request_id.0, payload, "rollout").await {
        Ok(j) => j,
        Err(e) => return flagger_unjudged(e, "flagger"),
    };
    // A sequential hook holds back only on a conclusive fail: a look that is not conclusive
    // yet (continue) lets the rollout go on, as its error rate is the whole rollout's.
    let pass = match decision(&j) {
        Some(d) => d != Decision::Fail,
        None => j.report.verdict == crate::judge::Verdict::Pass,
    };
    Ok(flagger_answer(&state, j, pass, "flagger", ["pass", "halt"]))
}

/// A Flagger call whose judgment could not be made because the metric source failed (down,
/// too slow, 5xx, garbage: a 502 or 504 elsewhere): 412 with the reason to both hooks. For the
/// rollout hooks that is a failed check Flagger retries; for the rollback hook it is "keep",
/// never "roll back". Any other error is answered as it is.
fn flagger_unjudged(e: ApiError, gate: &str) -> Result<HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    use actix_web::ResponseError;
    if !matches!(
        e.status_code(),
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    ) {
        return Err(e);
    }
    count(gate, "no_judgment");
    let mut response = e.error_response();
    *response.status_mut() = StatusCode::PRECONDITION_FAILED;
    Ok(response)
}

/// 200 when `yes`, else 412, with the judgment as body; counted under `gate`.
///
/// The body is the judgment's summary alone (CONTRACT §8): Flagger copies a non-2xx body into
/// a Kubernetes event (fluxcd/flagger `pkg/controller/webhook.go`), where `kubectl describe
/// canary` shows it; the whole report is at its `url`.
fn flagger_answer(
    state: &AppState,
    j: service::Judgment,
    yes: bool,
    gate: &str,
    outcomes: [&str; 2],
) -> HttpResponse {
    count(gate, outcomes[usize::from(!yes)]);
    let mut response = if yes {
        HttpResponse::Ok()
    } else {
        HttpResponse::PreconditionFailed()
    };
    response.json(j.summary(&state.settings.server.public_base()))
}

/// An Argo answer: the report with its `summary` (which the shipped AnalysisTemplate takes as
/// `result` with `jsonPath: "{$.summary}"`: Argo stores it in every measurement).
#[derive(Serialize)]
struct ArgoAnswer {
    summary: service::GateSummary,
    #[serde(flatten)]
    judgment: service::Judgment,
}

/// Flagger `rollback` webhook: 200 means "roll back now", answered only to a fail that
/// regressions cause ([`crate::judge::score::fails_from_regressions`]); 412 ("keep") otherwise,
/// including a fail from missing or unreadable data. Flagger calls it on every tick while the
/// canary is Progressing, Waiting or WaitingPromotion (fluxcd/flagger
/// `pkg/controller/scheduler.go`, `runRollbackHooks`), from the first, before any traffic.
#[utoipa::path(
    operation_id = "flagger_rollback_gate",
    tag = "gates",
    request_body = FlaggerPayload,
    responses(
        (status = 200, description = "Fail caused by regressions (high/low metrics): roll back now", body = service::GateSummary),
        (status = 412, description = "Pass, marginal, or a fail from missing data: no rollback; or no judgment could be made because the metric source failed (then the body is an error naming why): keep", body = service::GateSummary),
        (status = 400, description = "Bad payload or metadata, naming the field", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/gates/flagger/rollback", guard = "crate::api::auth::flagger_judge")]
pub async fn flagger_rollback(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let j = match flagger_judgment(&state, &req, request_id.0, payload, "rollback").await {
        Ok(j) => j,
        Err(e) => return flagger_unjudged(e, "flagger_rollback"),
    };
    // Only a regression rolls back: a fail from missing or unreadable data (the first ticks
    // of a rollout, before the canary has traffic) is "keep".
    let fail = crate::judge::score::fails_from_regressions(&j.report)
        && decision(&j).is_none_or(|d| d == Decision::Fail);
    Ok(flagger_answer(
        &state,
        j,
        fail,
        "flagger_rollback",
        ["rollback", "keep"],
    ))
}

async fn argo_judgment(
    state: &AppState,
    request_id: String,
    pairs: BTreeMap<String, String>,
    prefix: &str,
) -> Result<HttpResponse, ApiError> {
    let p = gate_params(
        &pairs,
        prefix,
        state.settings.server.gate_window_minutes,
        state.store.clock().now(),
    )?;
    let j = match &p.sequential {
        None => {
            let input = input_of(&p, request_id, Some(("argo".into(), None)));
            service::make_judgment(&state.settings, &state.store, input).await?
        }
        Some(s) => {
            // Argo's calls carry nothing that ties them to one rollout: the caller names the
            // sequence (e.g. `sequence={{args.rollout-hash}}`).
            let Some(key) = &s.key else {
                return Err(ApiError::bad(
                    format!("{prefix}sequence"),
                    "required with alpha: Argo's calls name their sequence, e.g. \
                     sequence={{args.rollout-hash}}",
                ));
            };
            let sequence = service::GateSequence {
                key: format!("argo:{key}"),
                spec: s.spec,
                looks: s.looks,
            };
            let input = input_of(&p, request_id, Some(("argo".into(), None)));
            service::sequence_judgment(&state.settings, &state.store, input, &sequence).await?
        }
    };
    count("argo", j.report.verdict.as_str());
    Ok(HttpResponse::Ok().json(ArgoAnswer {
        summary: j.summary(&state.settings.server.public_base()),
        judgment: j,
    }))
}

/// Argo Rollouts `web` provider, parameters in the query string: always 200 with the report.
#[utoipa::path(
    operation_id = "argo_gate_get",
    tag = "gates",
    params(
        ("template" = String, Query, description = "Stored template name"),
        ("baseline" = String, Query, description = "Baseline scope"),
        ("canary" = String, Query, description = "Canary scope"),
        ("start" = Option<String>, Query, description = "Window start (with end)"),
        ("end" = Option<String>, Query, description = "Window end (with start)"),
        ("window_minutes" = Option<u64>, Query, description = "A window ending now (default 5)"),
        ("template_version" = Option<i64>, Query, description = "A stored version (default: the latest)"),
        ("step_seconds" = Option<u64>, Query, description = "Step between points (default: the template's)"),
        ("arg.NAME" = Option<String>, Query, description = "Template argument NAME (repeat for each; URL-encode values)"),
        ("sequence" = Option<String>, Query, description = "A sequential gate: the key of the calls that form one test (e.g. the rollout's hash); each new judgment is its next look"),
        ("alpha" = Option<f64>, Query, description = "With sequence: the chance of failing a healthy canary over the whole sequence (default 0.05)"),
        ("pass_early" = Option<bool>, Query, description = "With sequence: pass once the evidence bounds the change within allowed_increase"),
        ("looks" = Option<u64>, Query, description = "With sequence: the calls planned (default: open-ended)"),
        ("spending" = Option<String>, Query, description = "With sequence: pocock (default) or o-brien-fleming"),
    ),
    responses(
        (status = 200, description = "The report with its `summary`; `verdict` says pass, marginal or fail", body = JudgmentResponse),
        (status = 400, description = "Malformed request (an Argo error measurement)", body = ErrorBody),
        (status = 502, description = "The metric source failed (an Argo error measurement)", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[get("/gates/argo", guard = "crate::api::auth::judge")]
pub async fn argo_get(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(req.query_string())?;
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(ApiError::bad(k, "given twice"));
        }
    }
    argo_judgment(&state, request_id.0, map, "").await
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| ApiError::BadRequest {
            code: crate::error::Code::InvalidQuery,
            message: format!("query string: {e}"),
            path: None,
        })
}

/// Argo Rollouts `web` provider, parameters as a JSON object (`args` may be an object of
/// template arguments): always 200 with the report.
#[utoipa::path(
    operation_id = "argo_gate_post",
    tag = "gates",
    request_body(content = Object, description = "template, baseline, canary, start/end or window_minutes, args"),
    responses(
        (status = 200, description = "The report with its `summary`; `verdict` says pass, marginal or fail", body = JudgmentResponse),
        (status = 400, description = "Malformed request (an Argo error measurement)", body = ErrorBody),
        (status = 502, description = "The metric source failed (an Argo error measurement)", body = ErrorBody),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/gates/argo", guard = "crate::api::auth::judge")]
pub async fn argo_post(
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let v: BTreeMap<String, Value> = body::json(&bytes)?;
    let scalar = |path: &str, v: &Value| -> Result<String, ApiError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(ApiError::bad(path, "expected a string or a number")),
        }
    };
    let mut map = BTreeMap::new();
    for (k, value) in &v {
        if k == "args" {
            let Value::Object(args) = value else {
                return Err(ApiError::bad(
                    "args",
                    "expected an object of template arguments",
                ));
            };
            for (name, a) in args {
                map.insert(format!("arg.{name}"), scalar(&format!("args.{name}"), a)?);
            }
        } else {
            map.insert(k.clone(), scalar(k, value)?);
        }
    }
    argo_judgment(&state, request_id.0, map, "").await
}
