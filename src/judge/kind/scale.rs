//! `test: scale`: the spread, by the Brown-Forsythe test (absolute deviations from the median),
//! with the ratio of the spreads as the effect and an interval of their difference; and
//! `auto`'s paired spread test of aligned series ([`paired`]).

use crate::stats::brown_forsythe::brown_forsythe;
use crate::stats::paired::paired_step_spread;
use crate::stats::percentile::{percentile_sorted, sorted};
use crate::template::{JudgeSpec, ScaleSpec};

use crate::judge::decide::{
    beyond, decide, finite, movement, relative_change, Criteria, Outcome, Rule,
};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::kind::location::PairedSeries;
use crate::judge::kind::Judge;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

impl Judge for ScaleSpec {
    /// The spread judge at the spec's confidence.
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, dep: &Dependence) -> Outcome {
        let spec = &Criteria::new(judge, &self.tolerance);
        compare(p, spec, dep, spec.confidence, Rule::Estimate)
    }
}

/// The spread judge at level `confidence`: Brown-Forsythe, with the ratio of the mean absolute
/// deviations from the median as the effect.
pub(crate) fn compare(
    p: &Prepared<'_>,
    spec: &Criteria<'_>,
    dep: &Dependence,
    confidence: f64,
    rule: Rule,
) -> Outcome {
    // A spread is estimated from dependent points more precisely than a mean.
    let dep = &dep.for_spread();
    let bf = match brown_forsythe(
        &p.canary,
        &p.baseline,
        confidence,
        dep.canary.effective,
        dep.baseline.effective,
    ) {
        Ok(t) => t,
        Err(e) => {
            return Outcome::without_test(Classification::Error, format!("scale test failed: {e}"))
        }
    };
    let iqr = |v: &[f64]| {
        let s = sorted(v);
        match (percentile_sorted(&s, 0.25), percentile_sorted(&s, 0.75)) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        }
    };
    let effect = (bf.y_spread != 0.0).then(|| bf.x_spread / bf.y_spread);
    let (up, down) = beyond(bf.ci, bf.y_spread, spec, rule);
    let evidence = format!(
        "{} {}, Brown-Forsythe p = {}{}",
        movement(
            "the spread (mean distance from the median)",
            bf.y_spread,
            bf.x_spread,
            up,
            down
        ),
        relative_change(bf.x_spread - bf.y_spread, bf.ci, bf.y_spread, confidence),
        num(bf.p_value),
        dep.note_of(true)
    );
    let report = TestReport::Scale {
        method: "brown-forsythe".into(),
        statistic: bf.statistic,
        p_value: bf.p_value,
        baseline_iqr: iqr(&p.baseline),
        canary_iqr: iqr(&p.canary),
        confidence,
        baseline_spread: bf.y_spread,
        canary_spread: bf.x_spread,
        ratio: effect.and_then(finite),
        ci: [bf.ci.0, bf.ci.1],
        df: bf.df,
    };
    let (class, reason) = decide(spec, up, down, effect, "spread ratio", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
        tests: Vec::new(),
    }
}

/// `auto`'s paired spread test: the spreads of the two sides' point-to-point changes beyond the
/// pattern they share (`stats::paired::paired_step_spread`); significant at `confidence`, and
/// `high` when the ratio of the canary's own spread to the baseline's reaches
/// `allowed_increase`.
pub(crate) fn paired(s: &PairedSeries, spec: &Criteria<'_>, confidence: f64) -> Outcome {
    let Some(ps) = paired_step_spread(&s.canary, &s.baseline) else {
        return Outcome::without_test(
            Classification::Pass,
            "no paired spread comparison: a side is constant".into(),
        );
    };
    let significant = ps.p_value < 1.0 - confidence;
    let (up, down) = (
        significant && ps.correlation > 0.0,
        significant && ps.correlation < 0.0,
    );
    let scale = if s.log { "log-ratio" } else { "difference" };
    let own = |v: f64| {
        if v.is_finite() {
            num(v)
        } else {
            "about 0".into()
        }
    };
    let evidence = format!(
        "{} (standard deviation of its point-to-point changes beyond the pattern both share{}), Spearman correlation of sums and differences of the changes {}, p = {}",
        movement(
            "the spread of its own",
            ps.y_own,
            ps.x_own,
            up,
            down
        )
        .replace(&num(ps.y_own), &own(ps.y_own))
        .replace(&num(ps.x_own), &own(ps.x_own)),
        if s.log { ", of the logarithms" } else { "" },
        num(ps.correlation),
        num(ps.p_value)
    );
    let report = TestReport::PairedScale {
        method: "pitman-morgan-spearman".into(),
        scale: scale.into(),
        correlation: ps.correlation,
        p_value: ps.p_value,
        confidence,
        baseline_own: ps.y_own,
        canary_own: ps.x_own,
        ratio: ps.ratio.and_then(finite),
        effective: ps.effective,
    };
    let (class, reason) = decide(spec, up, down, ps.ratio, "own-spread ratio", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
        tests: Vec::new(),
    }
}
