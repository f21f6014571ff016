//! The judgment service, shared by the REST API, the gates and the scheduler: resolve the
//! template (stored by name, or inline), take the given points or fetch them live, judge, store
//! the whole record, count it in the metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::judge::sequential::{judge_look, Decision, Horizon, Look, SequentialSpec};
use crate::judge::{judge, Report};
use crate::service::error::ServiceError;
use crate::service::live::{fetch_live, LiveError, LiveRequest};
use crate::source::{Observation, ObservationSet, RecordedData, Window};
use crate::store::{NewJudgment, SequenceLook, Store, StoreError};
use crate::telemetry::metrics;
use crate::template::{parse_template, resolve_args, Template};

/// Which template a judgment uses.
#[derive(Debug, Clone)]
pub enum TemplateRef {
    /// A stored template by name; the latest version unless one is given.
    Named {
        /// Name.
        name: String,
        /// Version.
        version: Option<i64>,
    },
    /// A template given in the request, as text (YAML or JSON).
    Inline(String),
}

/// What the judgment is made of.
#[derive(Debug, Clone)]
pub enum Points {
    /// Recorded points given by the caller (CONTRACT §3).
    Data(RecordedData),
    /// Fetch both scopes from the template's source.
    Live {
        /// Baseline scope.
        baseline: String,
        /// Canary scope.
        canary: String,
        /// Window start.
        start: DateTime<Utc>,
        /// Window end.
        end: DateTime<Utc>,
        /// Step; the template's `step_seconds` when `None`.
        step_seconds: Option<u64>,
    },
}

/// A judgment to make.
#[derive(Debug, Clone)]
pub struct JudgmentInput {
    /// The template.
    pub template: TemplateRef,
    /// Template arguments.
    pub args: BTreeMap<String, String>,
    /// The points, or where to fetch them.
    pub points: Points,
    /// The request that asks (stored, and in the logs).
    pub request_id: String,
    /// `(gate, key)` when a gate asks; the key identifies calls that may reuse a judgment.
    pub gate: Option<(String, Option<String>)>,
    /// A look of a sequential analysis or gate sequence: judged at the look's level, with
    /// its evidence, boundary and decision in the report.
    pub sequential: Option<(SequentialSpec, Look)>,
}

/// A judgment made and stored.
#[derive(Debug, Clone, Serialize)]
pub struct Judgment {
    /// Its id.
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The request that made it.
    pub request_id: String,
    /// True when a gate call reused a recent judgment instead of making a new one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    /// The report (CONTRACT §4).
    #[serde(flatten)]
    pub report: Report,
}

/// What every gate answer carries (CONTRACT §8), small enough for the places pipelines keep
/// it: Argo stores its `jsonPath` result in every measurement of the AnalysisRun, and Flagger
/// copies a non-2xx body into a Kubernetes event. The whole report is one link away.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GateSummary {
    /// pass | marginal | fail.
    pub verdict: String,
    /// 0..100.
    pub score: f64,
    /// The report's headline (at most 200 characters).
    pub headline: String,
    /// The judgment's id.
    pub id: String,
    /// The judgment's report page.
    pub url: String,
    /// True when a gate call reused a recent judgment instead of making a new one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    /// A sequential gate's decision at this look: continue | fail | pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub decision: Option<Decision>,
}

impl Judgment {
    /// The gate summary of this judgment, with links under `public_base`.
    pub fn summary(&self, public_base: &str) -> GateSummary {
        let headline = if self.report.headline.is_empty() {
            // Stored before reports had one.
            crate::judge::headline::headline(&self.report)
        } else {
            self.report.headline.clone()
        };
        GateSummary {
            verdict: self.report.verdict.as_str().to_string(),
            score: if self.report.score.is_finite() {
                self.report.score
            } else {
                0.0
            },
            headline,
            id: self.id.clone(),
            url: format!("{public_base}/judgments/{}", self.id),
            reused: self.reused,
            decision: self.report.sequential.as_ref().map(|s| s.decision),
        }
    }
}

/// The template `r` names, parsed, with its stored version and text.
pub async fn resolve_template(
    store: &Store,
    r: &TemplateRef,
) -> Result<(Template, Option<i64>, String), ServiceError> {
    match r {
        TemplateRef::Named { name, version } => {
            let Some(stored) = store.get_template(name, *version).await? else {
                return Err(ServiceError::TemplateNotFound {
                    name: name.clone(),
                    version: *version,
                });
            };
            let template = parse_template(
                &stored.source,
                &format!("template {name} v{}", stored.version),
            )?;
            Ok((template, Some(stored.version), stored.source))
        }
        TemplateRef::Inline(text) => {
            let template = parse_template(text, "inline template")?;
            Ok((template, None, text.clone()))
        }
    }
}

/// Metrics of `data` that `template` does not define: an error, as in `canaryd judge --data`.
fn check_data_metrics(template: &Template, data: &RecordedData) -> Result<(), ServiceError> {
    unknown_data_metrics(template, data)
        .map_err(|why| ServiceError::BadInput(format!("data: {why}")))
}

/// Metrics of `data` that `template` does not define, in words (`metric(s) 'x' not in template
/// 't' (its metrics: ...)`): the one check behind the API's `data` and `canaryd judge --data`.
pub fn unknown_data_metrics(template: &Template, data: &RecordedData) -> Result<(), String> {
    let unknown: Vec<String> = data
        .metrics
        .keys()
        .filter(|k| !template.metrics.iter().any(|m| &m.name == *k))
        .map(|k| format!("'{k}'"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = template.metrics.iter().map(|m| m.name.as_str()).collect();
    Err(format!(
        "metric(s) {} not in template '{}' (its metrics: {})",
        unknown.join(", "),
        template.name,
        known.join(", ")
    ))
}

/// A judgment made but not yet stored: the record to store and what to answer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The whole record.
    pub record: NewJudgment,
    /// The answer.
    pub judgment: Judgment,
}

/// Makes the judgment, stores it whole and counts it.
#[tracing::instrument(skip_all, fields(request_id = %input.request_id), err(level = "info"))]
pub async fn make_judgment(
    settings: &Settings,
    store: &Store,
    input: JudgmentInput,
) -> Result<Judgment, ServiceError> {
    let prepared = prepare_judgment(settings, store, input).await?;
    store.insert_judgment(&prepared.record).await?;
    Ok(stored(prepared))
}

/// A judgment just stored: counted in the metrics and logged.
fn stored(prepared: Prepared) -> Judgment {
    count_judgment(
        &prepared.judgment.report,
        prepared.record.template_version.is_some(),
    );
    tracing::info!(
        judgment_id = %prepared.record.id,
        template = %prepared.record.template,
        verdict = %prepared.record.verdict,
        score = prepared.record.score,
        "judgment made"
    );
    prepared.judgment
}

/// [`make_judgment`] for Kayenta's `POST /canary`: the judgment and its Kayenta execution
/// request (`config_id`, `request` JSON) are stored in one transaction, both or neither.
pub async fn make_kayenta_judgment(
    settings: &Settings,
    store: &Store,
    input: JudgmentInput,
    config_id: &str,
    request: &str,
) -> Result<Judgment, ServiceError> {
    let prepared = prepare_judgment(settings, store, input).await?;
    store
        .insert_kayenta_judgment(&prepared.record, config_id, request)
        .await?;
    Ok(stored(prepared))
}

/// A gate's judgment: the one made for the same gate key within the last `window` (the same
/// question asked again, as Flagger does at every tick), or a new one made and stored: a new
/// look of `sequence` when the gate is sequential.
pub async fn gate_judgment(
    settings: &Settings,
    store: &Store,
    input: JudgmentInput,
    window: chrono::Duration,
    sequence: Option<&GateSequence>,
) -> Result<Judgment, ServiceError> {
    if let Some((gate, Some(key))) = &input.gate {
        if let Some(found) = store
            .find_gate_judgment(key, store.clock().now() - window)
            .await?
        {
            tracing::info!(judgment_id = %found.id, "{gate} gate: reusing a judgment of this window");
            return judgment_of(&found, true);
        }
    }
    match sequence {
        Some(sequence) => sequence_judgment(settings, store, input, sequence).await,
        None => make_judgment(settings, store, input).await,
    }
}

/// The calls of a sequential gate that form one test (Flagger's for one canary revision,
/// Argo's with one `sequence` key): each new judgment is its next look.
#[derive(Debug, Clone)]
pub struct GateSequence {
    /// The sequence's key in the store (`gate_sequences`).
    pub key: String,
    /// The whole-rollout error rate and the rest of `sequential`.
    pub spec: SequentialSpec,
    /// How many calls the caller plans, when it says; otherwise the sequence is open-ended.
    pub looks: Option<usize>,
}

/// The next look of `sequence`, judged and stored; once a look has decided (`fail` or
/// `pass`), that deciding judgment again (`reused`), without fetching anything.
///
/// The windows of gate calls are the caller's and need not nest, so a look is held to its
/// Bonferroni share of alpha ([`crate::judge::sequential`]), valid however they overlap.
pub async fn sequence_judgment(
    settings: &Settings,
    store: &Store,
    mut input: JudgmentInput,
    sequence: &GateSequence,
) -> Result<Judgment, ServiceError> {
    let gate = input
        .gate
        .as_ref()
        .map(|(g, _)| g.clone())
        .unwrap_or_default();
    let number = match store.next_gate_look(&sequence.key, &gate).await? {
        SequenceLook::Next(n) => n,
        SequenceLook::Decided {
            decision,
            look,
            judgment_id,
        } => {
            if let Some(found) = match judgment_id {
                Some(id) => store.get_judgment(&id).await?,
                None => None,
            } {
                tracing::info!(judgment_id = %found.id, look, %decision, "{gate} gate: the sequence is decided; answering its deciding judgment");
                return judgment_of(&found, true);
            }
            // The deciding judgment is gone (pruned): nothing to answer but a new judgment of
            // the question, outside the sequence.
            return make_judgment(settings, store, input).await;
        }
    };
    input.sequential = Some((
        sequence.spec,
        Look {
            number: usize::try_from(number.max(1)).unwrap_or(usize::MAX),
            horizon: sequence.looks.map_or(Horizon::Open, Horizon::Looks),
            nested: false,
        },
    ));
    let judgment = make_judgment(settings, store, input).await?;
    let decision = judgment
        .report
        .sequential
        .as_ref()
        .map(|s| s.decision)
        .filter(|d| *d != Decision::Continue)
        .map(Decision::as_str);
    store
        .record_gate_look(&sequence.key, number, decision, &judgment.id)
        .await?;
    Ok(judgment)
}

/// Makes the judgment without storing it (the scheduler stores it in the same transaction as
/// the interval it belongs to).
pub async fn prepare_judgment(
    settings: &Settings,
    store: &Store,
    input: JudgmentInput,
) -> Result<Prepared, ServiceError> {
    let (template, template_version, template_source) =
        resolve_template(store, &input.template).await?;
    let result = judge_points(settings, &template, &input).await;
    let (observations, live) = match result {
        Ok(found) => found,
        Err(e) => {
            metrics::global().inc(
                "canaryd_judgment_errors_total",
                &[
                    (
                        "template",
                        metric_template(&template.name, template_version),
                    ),
                    ("code", e.code().name()),
                ],
                1.0,
            );
            return Err(e);
        }
    };
    let report = match &input.sequential {
        Some((spec, look)) => {
            let (mut report, look) = judge_look(&template, &observations, spec, look);
            report.sequential = Some(look);
            report
        }
        None => judge(&template, &observations),
    };
    let args = match &input.points {
        // Recorded data ignores arguments; keep what was given.
        Points::Data(_) => input.args.clone(),
        Points::Live { .. } => resolve_args(&template, &input.args)?,
    };
    let created_at = store.clock().now();
    let (gate, gate_key) = match &input.gate {
        Some((g, k)) => (Some(g.clone()), k.clone()),
        None => (None, None),
    };
    let record = NewJudgment {
        id: uuid::Uuid::now_v7().to_string(),
        created_at,
        request_id: input.request_id.clone(),
        template: template.name.clone(),
        template_version,
        template_source,
        mode: if live.is_some() { "live" } else { "data" }.into(),
        baseline: live.as_ref().map(|l| l.baseline.clone()),
        canary: live.as_ref().map(|l| l.canary.clone()),
        window_start: live.as_ref().map(|l| l.window.start),
        window_end: live.as_ref().map(|l| l.window.end),
        step_seconds: live.as_ref().map(|l| l.window.step_seconds as i64),
        args: serde_json::to_value(&args).unwrap_or_default(),
        data: serde_json::to_value(ObservationSet {
            metrics: observations,
        })
        .unwrap_or_default(),
        verdict: report.verdict.as_str().into(),
        score: report.score,
        report: serde_json::to_value(&report).unwrap_or_default(),
        gate,
        gate_key,
        analysis_id: None,
        interval_index: None,
    };
    let judgment = Judgment {
        id: record.id.clone(),
        created_at,
        request_id: record.request_id.clone(),
        reused: false,
        report,
    };
    Ok(Prepared { record, judgment })
}

/// The observations to judge, and the live request when fetched.
async fn judge_points(
    settings: &Settings,
    template: &Template,
    input: &JudgmentInput,
) -> Result<(BTreeMap<String, Observation>, Option<LiveRequest>), ServiceError> {
    match &input.points {
        Points::Data(data) => {
            check_data_metrics(template, data)?;
            Ok((data.observations(), None))
        }
        Points::Live {
            baseline,
            canary,
            start,
            end,
            step_seconds,
        } => {
            let window = Window::new(*start, *end, step_seconds.unwrap_or(template.step_seconds))
                .map_err(LiveError::from)?;
            let request = LiveRequest {
                baseline: baseline.clone(),
                canary: canary.clone(),
                window,
                args: input.args.clone(),
            };
            let observations = fetch_live(settings, template, &request).await?;
            Ok((observations, Some(request)))
        }
    }
}

/// The `template` label of a judgment's metrics: a stored template's name (there are as
/// many as an admin stored), or `inline` for every inline one, whose names and metric names a
/// caller picks freely and would otherwise make a new series per request.
fn metric_template(name: &str, stored_version: Option<i64>) -> &str {
    if stored_version.is_some() {
        name
    } else {
        INLINE_LABEL
    }
}

/// The `template` (and `metric`) label of judgments of inline templates.
pub const INLINE_LABEL: &str = "inline";

/// Counts a judgment of a stored template in the process's metrics (the scheduler's: an
/// analysis always names a stored template).
pub fn count(report: &Report) {
    count_judgment(report, true);
}

/// Counts a judgment in the process's metrics; an inline template's (`stored` false) under
/// `template="inline"`, its metrics under `metric="inline"`.
pub fn count_judgment(report: &Report, stored: bool) {
    let m = metrics::global();
    let template = if stored {
        report.template.as_str()
    } else {
        INLINE_LABEL
    };
    m.inc(
        "canaryd_judgments_total",
        &[("template", template), ("verdict", report.verdict.as_str())],
        1.0,
    );
    m.set(
        "canaryd_judgment_score",
        &[("template", template)],
        report.score,
    );
    for metric in &report.metrics {
        m.inc(
            "canaryd_metric_classifications_total",
            &[
                ("template", template),
                ("metric", if stored { &metric.name } else { INLINE_LABEL }),
                ("classification", metric.classification.as_str()),
            ],
            1.0,
        );
    }
}

/// Replays a stored judgment: the stored template text judged again on the stored points.
pub fn replay(record: &NewJudgment) -> Result<Report, ServiceError> {
    let template = parse_template(&record.template_source, "stored template")?;
    let data: ObservationSet =
        serde_json::from_value(record.data.clone()).map_err(|source| StoreError::Corrupt {
            what: "judgment data",
            source,
        })?;
    let stored = stored_report(record)?;
    Ok(match stored.sequential {
        // A look of a sequence is judged again as that look, at its level.
        Some(look) => {
            let (mut report, again) =
                judge_look(&template, &data.metrics, &look.spec(), &look.look_of());
            report.sequential = Some(again);
            report
        }
        None => judge(&template, &data.metrics),
    })
}

/// The stored report of a record, typed.
pub fn stored_report(record: &NewJudgment) -> Result<Report, ServiceError> {
    Ok(
        serde_json::from_value(record.report.clone()).map_err(|source| StoreError::Corrupt {
            what: "judgment report",
            source,
        })?,
    )
}

/// A stored record as the API shows it (the report plus id).
pub fn judgment_of(record: &NewJudgment, reused: bool) -> Result<Judgment, ServiceError> {
    Ok(Judgment {
        id: record.id.clone(),
        created_at: record.created_at,
        request_id: record.request_id.clone(),
        reused,
        report: stored_report(record)?,
    })
}
