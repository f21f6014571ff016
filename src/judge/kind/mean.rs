//! `auto`'s mean test: the canary's mean against the baseline's own variability
//! (`stats::mean_shift`). It is there for a few large excursions (a tenth of the points six
//! times higher) that the rank test dilutes and a tail test cannot see in a short window; it
//! uses [`Rule::Interval`], so a small, tolerated change of the mean never fails a metric
//! through it.

use crate::stats::mean_shift::mean_shift;

use crate::judge::decide::{
    beyond, decide, finite, movement, relative_change, Criteria, Outcome, Rule,
};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

/// The mean test at level `confidence`, with the samples' effective sizes.
pub(crate) fn compare(
    p: &Prepared<'_>,
    spec: &Criteria<'_>,
    dep: &Dependence,
    confidence: f64,
) -> Outcome {
    let effective = Some((dep.canary.effective, dep.baseline.effective));
    let m = match mean_shift(&p.canary, &p.baseline, effective, confidence) {
        Ok(m) => m,
        Err(e) => {
            return Outcome::without_test(Classification::Error, format!("mean test failed: {e}"))
        }
    };
    let (Some(base), Some(canary)) = (p.baseline_summary.mean, p.canary_summary.mean) else {
        return Outcome::without_test(
            Classification::Pass,
            "no mean comparison: a side is empty".into(),
        );
    };
    let (up, down) = beyond(m.ci, base, spec, Rule::Interval);
    let evidence = format!(
        "{} {} against the baseline's spread (standard deviation {}), t = {} on {} degrees of freedom, p = {}{}",
        movement("the mean", base, canary, up, down),
        relative_change(m.difference, m.ci, base, confidence),
        num(m.baseline_sd),
        num(m.statistic),
        num(m.df),
        num(m.p_value),
        dep.note()
    );
    let report = TestReport::Mean {
        method: "baseline-variance-t".into(),
        statistic: m.statistic,
        p_value: m.p_value,
        df: m.df,
        confidence,
        baseline_mean: base,
        canary_mean: canary,
        baseline_sd: m.baseline_sd,
        ratio: p.mean_ratio.and_then(finite),
        ci: [m.ci.0, m.ci.1],
    };
    let (class, reason) = decide(spec, up, down, p.mean_ratio, "mean ratio", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
        tests: Vec::new(),
    }
}
