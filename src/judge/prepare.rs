//! The two samples of a metric made ready for a judge: missing values and outliers handled,
//! each side described, and what "no data" means.

use crate::observation::Observation;
use crate::stats::{self, describe, EffectiveSize, Summary};
use crate::template::{JudgeSpec, NanStrategy};

use super::dependence::Dependence;
use super::report::{Classification, Dropped};

/// The two samples of a metric, ready for a test.
pub(crate) struct Prepared<'o> {
    /// Baseline values after missing-value and outlier handling.
    pub(crate) baseline: Vec<f64>,
    /// Canary values, likewise.
    pub(crate) canary: Vec<f64>,
    /// What was left out.
    pub(crate) dropped: Dropped,
    /// The baseline values described (with their dependence).
    pub(crate) baseline_summary: Summary,
    /// The canary values described, likewise.
    pub(crate) canary_summary: Summary,
    /// Canary mean over baseline mean; `None` when a side is empty or the baseline mean is 0.
    pub(crate) mean_ratio: Option<f64>,
    /// The observation as given (for judges that pair it step by step with another one).
    pub(crate) observation: &'o Observation,
    /// The observation of the metric the judge's `total` names, when there is one and it is
    /// in the data.
    pub(crate) total: Option<&'o Observation>,
}

/// Applies the metric's missing-value strategy and outlier removal to both sides, measures
/// their dependence and describes them.
pub(crate) fn prepare<'o>(
    obs: &'o Observation,
    total: Option<&'o Observation>,
    spec: &JudgeSpec,
) -> (Prepared<'o>, Dependence) {
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
    let dependence = Dependence::measure(&baseline, &canary, &dropped);
    let with_dependence = |mut s: Summary, e: &EffectiveSize| {
        if s.count > 0 {
            s.lag1_autocorrelation = e.lag1;
            s.effective_count = Some(e.effective);
        }
        s
    };
    let baseline_summary = with_dependence(describe(&baseline), &dependence.baseline);
    let canary_summary = with_dependence(describe(&canary), &dependence.canary);
    let prepared = Prepared {
        mean_ratio: mean_ratio(&baseline_summary, &canary_summary),
        baseline,
        canary,
        dropped,
        baseline_summary,
        canary_summary,
        observation: obs,
        total,
    };
    (prepared, dependence)
}

/// Canary mean over baseline mean; `None` when a side is empty or the baseline mean is 0.
fn mean_ratio(baseline: &Summary, canary: &Summary) -> Option<f64> {
    match (baseline.mean, canary.mean) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b),
        _ => None,
    }
}

/// `nodata_fail` when the metric must have data and is not critical, else `nodata`.
pub(crate) fn nodata(spec: &JudgeSpec) -> Classification {
    if spec.must_have_data && !spec.critical {
        Classification::NodataFail
    } else {
        Classification::Nodata
    }
}

/// Which side is empty, in words; `None` when the test can run. `baseline_needed` is false
/// for a judge that can run without a baseline (a threshold judge with an absolute bound).
pub(crate) fn missing_side(p: &Prepared<'_>, baseline_needed: bool) -> Option<String> {
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
