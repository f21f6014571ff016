//! Per-metric classification (CONTRACT §5): missing values, outliers, the test, and a reason a
//! user can act on without reading the numbers.

use crate::observation::Observation;
use crate::template::MetricSpec;

use super::change;
use super::kind;
use super::prepare::{missing_side, nodata, prepare};
use super::report::{Classification, MetricReport, QueryReport};

/// Judges one metric of a template against its observation (`None`: absent from the data).
///
/// A metric with a `total` (a counts or auto judge of events per unit of another metric) needs
/// that metric's observation too: use [`classify_metric_with_total`]; here it is taken as
/// absent, and the metric has no data.
pub fn classify_metric(metric: &MetricSpec, obs: Option<&Observation>) -> MetricReport {
    classify_metric_with_total(metric, obs, None)
}

/// [`classify_metric`] with the observation of the metric the judge's `total` names (`None`:
/// absent from the data). With a `total` and a `counts` or `auto` judge the counts are
/// compared as events per unit of that total (`auto` then always picks counts); without one,
/// `total_obs` is not read and this is [`classify_metric`].
pub fn classify_metric_with_total(
    metric: &MetricSpec,
    obs: Option<&Observation>,
    total_obs: Option<&Observation>,
) -> MetricReport {
    let spec = &metric.judge;
    let empty = Observation::default();
    let obs_ref = obs.unwrap_or(&empty);
    let (prepared, dependence) = prepare(obs_ref, total_obs, spec);
    let judge = kind::judge_of(&spec.kind);
    let mut report = MetricReport {
        name: metric.name.clone(),
        group: metric.group_name().to_string(),
        classification: Classification::Pass,
        critical: false,
        muted: spec.muted,
        reason: String::new(),
        mean_ratio: prepared.mean_ratio,
        baseline: prepared.baseline_summary.clone(),
        canary: prepared.canary_summary.clone(),
        test: None,
        tests: Vec::new(),
        dropped: prepared.dropped,
        query: obs_ref.provenance.as_ref().map(|p| QueryReport {
            baseline: p.baseline_query.clone(),
            canary: p.canary_query.clone(),
            baseline_points: p.baseline_points,
            canary_points: p.canary_points,
        }),
        change_point: None,
    };

    let mut critical_exemption = None;
    let (classification, reason) = if let Some(message) = &obs_ref.error {
        (
            Classification::Error,
            format!("could not fetch the data: {message}"),
        )
    } else if obs.is_none() {
        without_data(
            judge.passes_without_data(spec),
            spec,
            "the metric is absent from the data",
        )
    } else if let Some(why) = missing_side(&prepared, judge.needs_baseline()) {
        without_data(judge.passes_without_data(spec), spec, &why)
    } else if prepared.canary.len() < spec.min_points {
        (
            nodata(spec),
            format!(
                "too little canary data: {} point{}, where min_points is {}",
                prepared.canary.len(),
                if prepared.canary.len() == 1 { "" } else { "s" },
                spec.min_points
            ),
        )
    } else {
        let outcome = judge.judge(&prepared, spec, &dependence);
        if spec.critical && outcome.class != Classification::Pass {
            critical_exemption = judge.critical_exemption(&outcome);
        }
        report.test = outcome.test;
        report.tests = outcome.tests;
        report.change_point = change::canary_change(&prepared, spec, &dependence);
        let mut reason = outcome.reason;
        if let Some(c) = &report.change_point {
            reason.push_str(&change::sentence(c));
        }
        (outcome.class, reason)
    };
    let mut reason = reason;
    let d = report.dropped;
    if d.replaced > 0 {
        reason.push_str(&format!(
            "; {} missing value(s) counted as 0 (nan: replace)",
            d.replaced
        ));
    }
    let judged = !matches!(
        classification,
        Classification::Nodata | Classification::NodataFail
    );
    if judged && d.baseline_missing + d.canary_missing > 0 {
        reason.push_str(&format!(
            "; missing values removed: {} baseline, {} canary",
            d.baseline_missing, d.canary_missing
        ));
    }
    if judged && d.baseline_outliers + d.canary_outliers > 0 {
        reason.push_str(&format!(
            "; outliers removed: {} baseline, {} canary",
            d.baseline_outliers, d.canary_outliers
        ));
    }
    for note in &obs_ref.notes {
        reason.push_str("; ");
        reason.push_str(note);
    }
    report.critical =
        spec.critical && classification != Classification::Pass && critical_exemption.is_none();
    if report.critical {
        reason.push_str(" [critical metric]");
    }
    if let Some(note) = &critical_exemption {
        reason.push_str(note);
    }
    report.classification = classification;
    report.reason = reason;
    report
}

/// The classification of a metric without values (`why`): `nodata` / `nodata_fail`, or `pass`
/// for a judge that passes it (`kayenta` with `nan: replace`).
fn without_data(
    passes: bool,
    spec: &crate::template::JudgeSpec,
    why: &str,
) -> (Classification, String) {
    if passes {
        (
            Classification::Pass,
            format!("no data ({why}), which passes with nan: replace, as in Kayenta"),
        )
    } else {
        (nodata(spec), format!("no data: {why}"))
    }
}
