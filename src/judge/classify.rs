//! Per-metric classification (CONTRACT §5): missing values, outliers, the test, and a reason a
//! user can act on without reading the numbers.

use crate::observation::Observation;
use crate::stats::percentile::sorted;
use crate::stats::{self, describe, effective_sizes, mann_whitney, MannWhitney, Method, Summary};
use crate::template::{JudgeSpec, MetricSpec, NanStrategy, TestKind};

use super::extra;
use super::format::{num, percent_of, ratio};
use super::report::{Classification, Dropped, MetricReport, QueryReport, TestReport};

/// The two samples of a metric, ready for a test.
pub(super) struct Prepared {
    /// Baseline values after missing-value and outlier handling.
    pub(super) baseline: Vec<f64>,
    /// Canary values, likewise.
    pub(super) canary: Vec<f64>,
    /// What was left out.
    pub(super) dropped: Dropped,
}

/// Applies the metric's missing-value strategy and outlier removal to both sides.
fn prepare(obs: &Observation, spec: &JudgeSpec) -> Prepared {
    let mut dropped = Dropped::default();
    let mut side = |values: &[Option<f64>], missing: &mut usize| -> Vec<f64> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            match v {
                Some(x) if x.is_finite() => out.push(*x),
                _ => match spec.nan {
                    NanStrategy::Remove => *missing += 1,
                    NanStrategy::Replace => {
                        dropped.replaced += 1;
                        out.push(0.0)
                    }
                },
            }
        }
        out
    };
    let mut baseline_missing = 0;
    let mut canary_missing = 0;
    let mut baseline = side(&obs.baseline, &mut baseline_missing);
    let mut canary = side(&obs.canary, &mut canary_missing);
    dropped.baseline_missing = baseline_missing;
    dropped.canary_missing = canary_missing;
    if spec.outliers.remove {
        let before = (baseline.len(), canary.len());
        baseline = stats::outliers::remove_outliers(&baseline, spec.outliers.factor);
        canary = stats::outliers::remove_outliers(&canary, spec.outliers.factor);
        dropped.baseline_outliers = before.0 - baseline.len();
        dropped.canary_outliers = before.1 - canary.len();
    }
    Prepared {
        baseline,
        canary,
        dropped,
    }
}

/// Canary mean over baseline mean; `None` when a side is empty or the baseline mean is 0.
fn mean_ratio(baseline: &Summary, canary: &Summary) -> Option<f64> {
    match (baseline.mean, canary.mean) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b),
        _ => None,
    }
}

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
    let total_name = match spec.test {
        TestKind::Counts | TestKind::Auto => spec.total.as_deref(),
        _ => None,
    };
    let empty = Observation::default();
    let obs_ref = obs.unwrap_or(&empty);
    let prepared = prepare(obs_ref, spec);
    // Aligned point for point: both series complete (nothing removed) and of one length, as
    // live sources return them on the step grid.
    let d = prepared.dropped;
    let aligned = d.baseline_missing + d.canary_missing + d.baseline_outliers + d.canary_outliers
        == 0
        && prepared.baseline.len() == prepared.canary.len();
    let (canary_size, baseline_size) =
        effective_sizes(&prepared.canary, &prepared.baseline, aligned);
    let dependence = extra::Dependence {
        baseline: baseline_size,
        canary: canary_size,
        aligned,
    };
    let with_dependence = |mut s: Summary, e: &stats::EffectiveSize| {
        if s.count > 0 {
            s.lag1_autocorrelation = e.lag1;
            s.effective_count = Some(e.effective);
        }
        s
    };
    let baseline = with_dependence(describe(&prepared.baseline), &dependence.baseline);
    let canary = with_dependence(describe(&prepared.canary), &dependence.canary);
    let mut report = MetricReport {
        name: metric.name.clone(),
        group: metric.group_name().to_string(),
        classification: Classification::Pass,
        critical: false,
        reason: String::new(),
        mean_ratio: mean_ratio(&baseline, &canary),
        baseline,
        canary,
        test: None,
        tests: Vec::new(),
        dropped: prepared.dropped,
        query: obs_ref.provenance.as_ref().map(|p| QueryReport {
            baseline: p.baseline_query.clone(),
            canary: p.canary_query.clone(),
            baseline_points: p.baseline_points,
            canary_points: p.canary_points,
        }),
    };

    let (classification, reason) = if let Some(message) = &obs_ref.error {
        (
            Classification::Error,
            format!("could not fetch the data: {message}"),
        )
    } else if obs.is_none() {
        (
            nodata(spec),
            "no data: the metric is absent from the data".to_string(),
        )
    } else if let Some(why) = missing_side(&prepared, spec) {
        (nodata(spec), format!("no data: {why}"))
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
    } else if let Some(total_name) = total_name {
        let (class, reason, test) =
            judge_with_total(obs_ref, total_obs, total_name, spec, &dependence);
        report.test = test;
        if spec.test == TestKind::Auto {
            (class, format!("{}{reason}", extra::auto_total_reason()))
        } else {
            (class, reason)
        }
    } else {
        let outcome = |o: extra::Outcome, report: &mut MetricReport| {
            report.test = o.test;
            (o.class, o.reason)
        };
        let d = &dependence;
        match spec.test {
            TestKind::MannWhitney => judge_mann_whitney(&prepared, spec, &mut report),
            TestKind::Threshold => judge_threshold(spec, &mut report),
            TestKind::Counts => outcome(extra::judge_counts(&prepared, spec, d), &mut report),
            TestKind::Quantile => outcome(
                extra::judge_quantile(&prepared, spec, d, spec.confidence, extra::Rule::Estimate),
                &mut report,
            ),
            TestKind::Scale => outcome(
                extra::judge_scale(&prepared, spec, d, spec.confidence, extra::Rule::Estimate),
                &mut report,
            ),
            TestKind::Auto if extra::auto_picks_counts(&prepared) => {
                let (class, reason) = outcome(extra::judge_counts(&prepared, spec, d), &mut report);
                (class, format!("{}{reason}", extra::auto_counts_reason()))
            }
            TestKind::Auto => extra::judge_auto_continuous(&prepared, spec, d, &mut report),
        }
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
    report.critical = spec.critical && classification != Classification::Pass;
    if report.critical {
        reason.push_str(" [critical metric]");
    }
    report.classification = classification;
    report.reason = reason;
    report
}

/// The counts judge against the series of the metric `total_name` (see
/// `extra::judge_counts_total`): `nodata` (or `nodata_fail`) naming that metric when it has
/// no usable step on a side, `error` when it could not be fetched.
fn judge_with_total(
    obs: &Observation,
    total_obs: Option<&Observation>,
    total_name: &str,
    spec: &JudgeSpec,
    dependence: &extra::Dependence,
) -> (Classification, String, Option<TestReport>) {
    let Some(total) = total_obs else {
        return (
            nodata(spec),
            format!("no data: the total metric `{total_name}` is absent from the data"),
            None,
        );
    };
    if let Some(message) = &total.error {
        return (
            Classification::Error,
            format!("could not fetch the total metric `{total_name}`: {message}"),
            None,
        );
    }
    let replace = spec.nan == NanStrategy::Replace;
    let baseline = extra::TotalSide::pair(&obs.baseline, &total.baseline, replace);
    let canary = extra::TotalSide::pair(&obs.canary, &total.canary, replace);
    let usable = |t: &[Option<f64>]| {
        t.iter()
            .flatten()
            .filter(|v| v.is_finite() && **v > 0.0)
            .count()
    };
    let empty: Vec<String> = [
        ("baseline", &baseline, &total.baseline),
        ("canary", &canary, &total.canary),
    ]
    .into_iter()
    .filter(|(_, side, _)| side.counts.is_empty())
    .map(|(name, _, totals)| {
        format!(
            "no {name} step has both a count and a value of the total metric `{total_name}` above 0 (`{total_name}` has {} {name} value(s) above 0)",
            usable(totals)
        )
    })
    .collect();
    if !empty.is_empty() {
        return (nodata(spec), format!("no data: {}", empty.join("; ")), None);
    }
    let dependence = residual_dependence(&baseline, &canary, dependence);
    let o = extra::judge_counts_total(&baseline, &canary, total_name, spec, &dependence);
    (o.class, o.reason, o.test)
}

/// The serial dependence of counts judged against a total, from what the total does not
/// explain: each step's count minus its side's rate × that step's total. Traffic that varies
/// slowly (a canary weight that ramps, a daily cycle) makes the counts themselves look
/// autocorrelated and would discount the evidence for nothing; the residuals hold only the
/// dependence of the errors. Aligned when both sides kept every step and have one length.
fn residual_dependence(
    baseline: &extra::TotalSide,
    canary: &extra::TotalSide,
    counts: &extra::Dependence,
) -> extra::Dependence {
    let residuals = |side: &extra::TotalSide| -> Vec<f64> {
        let (k, t) = (describe::sum(&side.counts), describe::sum(&side.totals));
        let rate = if t > 0.0 { k / t } else { 0.0 };
        side.counts
            .iter()
            .zip(&side.totals)
            .map(|(c, t)| c - rate * t)
            .collect()
    };
    let aligned = counts.aligned
        && baseline.left_out + canary.left_out == 0
        && baseline.counts.len() == canary.counts.len();
    let (canary_size, baseline_size) =
        effective_sizes(&residuals(canary), &residuals(baseline), aligned);
    extra::Dependence {
        baseline: baseline_size,
        canary: canary_size,
        aligned,
    }
}

/// `nodata_fail` when the metric must have data and is not critical, else `nodata`.
pub(super) fn nodata(spec: &JudgeSpec) -> Classification {
    if spec.must_have_data && !spec.critical {
        Classification::NodataFail
    } else {
        Classification::Nodata
    }
}

/// Which side is empty, in words; `None` when the test can run. A threshold judge with an
/// absolute bound (`min`, `max`) can run without a baseline.
fn missing_side(p: &Prepared, spec: &JudgeSpec) -> Option<String> {
    let describe_side = |name: &str, missing: usize, outliers: usize| {
        let mut s = format!("the {name} has no values");
        if missing > 0 {
            s.push_str(&format!(" ({missing} missing)"));
        }
        if outliers > 0 {
            s.push_str(&format!(" ({outliers} removed as outliers)"));
        }
        s
    };
    let baseline_needed =
        spec.test != TestKind::Threshold || (spec.min.is_none() && spec.max.is_none());
    let c = p.canary.is_empty();
    let b = p.baseline.is_empty() && baseline_needed;
    match (b, c) {
        (false, false) => None,
        (true, false) => Some(describe_side(
            "baseline",
            p.dropped.baseline_missing,
            p.dropped.baseline_outliers,
        )),
        (false, true) => Some(describe_side(
            "canary",
            p.dropped.canary_missing,
            p.dropped.canary_outliers,
        )),
        (true, true) => Some(format!(
            "{} and {}",
            describe_side(
                "baseline",
                p.dropped.baseline_missing,
                p.dropped.baseline_outliers
            ),
            describe_side(
                "canary",
                p.dropped.canary_missing,
                p.dropped.canary_outliers
            )
        )),
    }
}

/// Mann-Whitney classification: `high` when an increase is bad, the interval lies above 0 and the
/// mean ratio reaches `allowed_increase`; `low` symmetrically; otherwise `pass`.
fn judge_mann_whitney(
    p: &Prepared,
    spec: &JudgeSpec,
    report: &mut MetricReport,
) -> (Classification, String) {
    let mw = match mann_whitney(&p.canary, &p.baseline, spec.confidence) {
        Ok(mw) => mw,
        Err(e) => {
            return (
                Classification::Error,
                format!("Mann-Whitney test failed: {e}"),
            )
        }
    };
    report.test = Some(TestReport::MannWhitney {
        method: match mw.method {
            Method::Exact => "exact".into(),
            Method::Normal => "normal".into(),
        },
        statistic: mw.statistic,
        p_value: mw.p_value,
        estimate: mw.estimate,
        ci: [mw.ci.0, mw.ci.1],
        confidence: mw.confidence,
    });
    let shift = describe_shift(&mw, report.baseline.median);
    let identical = p.baseline.len() == p.canary.len() && sorted(&p.baseline) == sorted(&p.canary);
    if identical {
        return (
            Classification::Pass,
            "canary and baseline samples are identical".into(),
        );
    }
    let (lo, hi) = mw.ci;
    decide(
        spec,
        lo > 0.0,
        hi < 0.0,
        report.mean_ratio,
        "mean ratio",
        &shift,
    )
}

/// The classification rule shared by the statistical judges (CONTRACT §5): a significant
/// change (`up` or `down`) is `high` / `low` when the direction makes it bad and the effect
/// `ratio` (canary over baseline) reaches `allowed_increase` / `allowed_decrease`; an unknown
/// ratio (baseline 0) leaves the decision to the test. `evidence` says what the test found.
pub(super) fn decide(
    spec: &JudgeSpec,
    up: bool,
    down: bool,
    effect: Option<f64>,
    ratio_name: &str,
    evidence: &str,
) -> (Classification, String) {
    let ratio_text = match effect {
        Some(r) => format!("{ratio_name} {}", ratio(r)),
        None => format!("{ratio_name} unknown (the baseline's is 0)"),
    };
    if up {
        if !spec.direction.allows_increase() {
            return (
                Classification::Pass,
                format!("higher in the canary ({evidence}), but only a decrease is bad"),
            );
        }
        match effect {
            Some(r) if r < spec.allowed_increase => (
                Classification::Pass,
                format!(
                    "higher in the canary ({evidence}), but {ratio_text} is within allowed_increase {}",
                    ratio(spec.allowed_increase)
                ),
            ),
            _ => (
                Classification::High,
                format!("significant increase: {evidence}; {ratio_text}"),
            ),
        }
    } else if down {
        if !spec.direction.allows_decrease() {
            return (
                Classification::Pass,
                format!("lower in the canary ({evidence}), but only an increase is bad"),
            );
        }
        match effect {
            Some(r) if r > spec.allowed_decrease => (
                Classification::Pass,
                format!(
                    "lower in the canary ({evidence}), but {ratio_text} is within allowed_decrease {}",
                    ratio(spec.allowed_decrease)
                ),
            ),
            _ => (
                Classification::Low,
                format!("significant decrease: {evidence}; {ratio_text}"),
            ),
        }
    } else {
        (
            Classification::Pass,
            format!("no significant change: {evidence}; {ratio_text}"),
        )
    }
}

/// "canary - baseline = +0.021 (+10.5% of the baseline median), 95% interval [0.012, 0.031],
/// p = 0.0003".
fn describe_shift(mw: &MannWhitney, baseline_median: Option<f64>) -> String {
    let pct = baseline_median
        .and_then(|m| percent_of(mw.estimate, m))
        .map(|p| format!(" ({p} of the baseline median)"))
        .unwrap_or_default();
    format!(
        "canary - baseline = {}{pct}, {}% interval [{}, {}], p = {}",
        signed(mw.estimate),
        num(mw.confidence * 100.0),
        num(mw.ci.0),
        num(mw.ci.1),
        num(mw.p_value)
    )
}

fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// Threshold classification: the canary mean against absolute bounds and against the baseline
/// mean. A broken upper bound is `high`, a broken lower bound `low` (both: `high`).
fn judge_threshold(spec: &JudgeSpec, report: &mut MetricReport) -> (Classification, String) {
    let canary_mean = report.canary.mean.unwrap_or(f64::NAN);
    let baseline_mean = report.baseline.mean;
    let mut broken = Vec::new();
    let mut high = Vec::new();
    let mut low = Vec::new();
    let mut ok = Vec::new();
    if let Some(max) = spec.max {
        if canary_mean > max {
            broken.push("max".to_string());
            high.push(format!(
                "canary mean {} is above max {}",
                num(canary_mean),
                num(max)
            ));
        } else {
            ok.push(format!("<= max {}", num(max)));
        }
    }
    if let Some(min) = spec.min {
        if canary_mean < min {
            broken.push("min".to_string());
            low.push(format!(
                "canary mean {} is below min {}",
                num(canary_mean),
                num(min)
            ));
        } else {
            ok.push(format!(">= min {}", num(min)));
        }
    }
    let wants_ratio = spec.max_increase_ratio.is_some() || spec.max_decrease_ratio.is_some();
    // Ratio of means; a zero baseline mean with a positive canary mean is an infinite increase.
    let r = match baseline_mean {
        Some(b) if b != 0.0 => Some(canary_mean / b),
        Some(_) if canary_mean > 0.0 => Some(f64::INFINITY),
        Some(_) if canary_mean < 0.0 => Some(f64::NEG_INFINITY),
        Some(_) => Some(1.0),
        None => None,
    };
    let mut notes: Vec<String> = Vec::new();
    match (wants_ratio, r, baseline_mean) {
        (true, None, _) => {
            notes.push("the baseline has no values: ratio bounds not checked".into())
        }
        (true, Some(r), Some(b)) => {
            let shown = if r.is_finite() {
                format!("{} the baseline mean {}", ratio(r), num(b))
            } else {
                format!("{} against a baseline mean of 0", num(canary_mean))
            };
            if let Some(limit) = spec.max_increase_ratio {
                if r > limit {
                    broken.push("max_increase_ratio".into());
                    high.push(format!(
                        "canary mean is {shown}, above max_increase_ratio {}",
                        ratio(limit)
                    ));
                } else {
                    ok.push(format!("ratio {} <= {}", ratio(r), ratio(limit)));
                }
            }
            if let Some(limit) = spec.max_decrease_ratio {
                if r < limit {
                    broken.push("max_decrease_ratio".into());
                    low.push(format!(
                        "canary mean is {shown}, below max_decrease_ratio {}",
                        ratio(limit)
                    ));
                } else {
                    ok.push(format!("ratio {} >= {}", ratio(r), ratio(limit)));
                }
            }
        }
        _ => {}
    }
    report.test = Some(TestReport::Threshold {
        canary_mean,
        min: spec.min,
        max: spec.max,
        max_increase_ratio: spec.max_increase_ratio,
        max_decrease_ratio: spec.max_decrease_ratio,
        broken,
    });
    let mut reason;
    let class = if !high.is_empty() {
        reason = high.join("; ");
        if !low.is_empty() {
            reason.push_str("; ");
            reason.push_str(&low.join("; "));
        }
        Classification::High
    } else if !low.is_empty() {
        reason = low.join("; ");
        Classification::Low
    } else {
        reason = format!(
            "canary mean {} within bounds ({})",
            num(canary_mean),
            ok.join(", ")
        );
        Classification::Pass
    };
    for n in notes {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    (class, reason)
}
