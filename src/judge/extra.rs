//! The judges beyond Mann-Whitney and thresholds (CONTRACT §2 `test:`), each built on an R
//! function reproduced in `stats`:
//!
//! - `counts`: sparse event counts (errors per step), where a rank test drowns in ties and
//!   Kayenta passes a canary whose errors went from 1 to 9. The totals of each side are compared
//!   as Poisson rates per point, R's `poisson.test(c(canary, baseline), c(n_canary, n_baseline))`.
//! - `quantile`: the tail. Values beyond the pooled `quantile` (default 0.95) are counted on
//!   each side and compared with a one-sided Fisher exact test: a minority of huge spikes, which
//!   moves no median, moves this.
//! - `scale`: the spread, by the Fligner-Killeen test (R's `fligner.test`), with the IQR ratio
//!   as the effect.
//! - `auto`: `counts` for sparse whole-number data (at least half zeros), else `mann-whitney`.

use crate::stats::fisher::fisher_exact;
use crate::stats::fligner::fligner_killeen;
use crate::stats::percentile::{percentile_sorted, sorted};
use crate::stats::poisson::poisson_rate_test;
use crate::template::{JudgeSpec, TestKind};

use super::classify::{decide, Prepared};
use super::format::num;
use super::report::{Classification, MetricReport, TailReport, TestReport};

/// A finite number, or `None` for an infinity (JSON has no infinity).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The test `auto` picks for these samples, and why.
pub(super) fn auto_test(p: &Prepared) -> (TestKind, &'static str) {
    let all: Vec<f64> = p.baseline.iter().chain(&p.canary).copied().collect();
    let whole = all.iter().all(|v| *v >= 0.0 && v.fract() == 0.0);
    let zeros = all.iter().filter(|v| **v == 0.0).count();
    if whole && zeros * 2 >= all.len() {
        (
            TestKind::Counts,
            "sparse whole-number counts: at least half the values are 0",
        )
    } else {
        (TestKind::MannWhitney, "continuous or dense values")
    }
}

/// Poisson rate comparison of the two sides' event totals.
pub(super) fn judge_counts(
    p: &Prepared,
    spec: &JudgeSpec,
    report: &mut MetricReport,
) -> (Classification, String) {
    if let Some(bad) = p.baseline.iter().chain(&p.canary).find(|v| **v < 0.0) {
        return (
            Classification::Error,
            format!(
                "the counts test needs event counts, which are never negative; found {}",
                num(*bad)
            ),
        );
    }
    // Counts from increase(...) are extrapolated and not whole: the totals are rounded.
    let total = |v: &[f64]| crate::stats::describe::sum(v).round();
    let (kb, kc) = (total(&p.baseline), total(&p.canary));
    let (nb, nc) = (p.baseline.len() as f64, p.canary.len() as f64);
    let test = match poisson_rate_test(kc as u64, nc, kb as u64, nb, spec.confidence) {
        Ok(t) => t,
        Err(e) => return (Classification::Error, format!("counts test failed: {e}")),
    };
    report.test = Some(TestReport::Counts {
        method: "poisson".into(),
        baseline_events: kb,
        canary_events: kc,
        rate_ratio: test.estimate.and_then(finite),
        ci: [finite(test.ci.0), finite(test.ci.1)],
        p_value: test.p_value,
        confidence: spec.confidence,
    });
    if kb + kc == 0.0 {
        return (
            Classification::Pass,
            format!("no events on either side ({nb} baseline and {nc} canary points)"),
        );
    }
    let evidence = format!(
        "{} events in {nc} canary points against {} in {nb} baseline points, {}% interval of the rate ratio [{}, {}], p = {}",
        num(kc),
        num(kb),
        num(spec.confidence * 100.0),
        num(test.ci.0),
        num(test.ci.1),
        num(test.p_value)
    );
    decide(
        spec,
        test.ci.0 > 1.0,
        test.ci.1 < 1.0,
        test.estimate,
        "rate ratio",
        &evidence,
    )
}

/// One tail of the quantile judge: values beyond the pooled quantile on each side.
fn tail(p: &Prepared, sorted_pooled: &[f64], q: f64, upper: bool) -> Option<TailReport> {
    let threshold = percentile_sorted(sorted_pooled, q)?;
    let beyond = |v: &[f64]| {
        v.iter()
            .filter(|x| {
                if upper {
                    **x > threshold
                } else {
                    **x < threshold
                }
            })
            .count() as u64
    };
    let (a, c) = (beyond(&p.canary), beyond(&p.baseline));
    let (nc, nb) = (p.canary.len() as u64, p.baseline.len() as u64);
    // The canary has more values beyond the threshold than the baseline: one-sided "greater".
    let fisher = fisher_exact(a, nc - a, c, nb - c).ok()?;
    Some(TailReport {
        threshold,
        canary_beyond: a,
        baseline_beyond: c,
        p_value: fisher.p_greater,
    })
}

/// The tail judge: is the canary's tail (beyond the pooled quantile) heavier?
pub(super) fn judge_quantile(
    p: &Prepared,
    spec: &JudgeSpec,
    report: &mut MetricReport,
) -> (Classification, String) {
    let q = spec.quantile;
    let pooled: Vec<f64> = p.baseline.iter().chain(&p.canary).copied().collect();
    let pooled = sorted(&pooled);
    let (bs, cs) = (sorted(&p.baseline), sorted(&p.canary));
    let quantiles = |level: f64| (percentile_sorted(&bs, level), percentile_sorted(&cs, level));
    let upper = if spec.direction.allows_increase() {
        tail(p, &pooled, q, true)
    } else {
        None
    };
    let lower = if spec.direction.allows_decrease() {
        tail(p, &pooled, 1.0 - q, false)
    } else {
        None
    };
    // Both tails tested: each at half the error rate (Bonferroni).
    let tails = usize::from(upper.is_some()) + usize::from(lower.is_some());
    let alpha = (1.0 - spec.confidence) / tails.max(1) as f64;
    let up = upper.as_ref().is_some_and(|t| t.p_value < alpha);
    let down = lower.as_ref().is_some_and(|t| t.p_value < alpha);
    let (bq, cq) = quantiles(q);
    let (blq, clq) = quantiles(1.0 - q);
    let effect = |b: Option<f64>, c: Option<f64>| match (b, c) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b),
        _ => None,
    };
    let pct = |level: f64| format!("p{}", num(level * 100.0));
    let describe_tail = |t: &TailReport, level: f64, word: &str| {
        format!(
            "{} of {} canary points {word} the pooled {} {} against {} of {} baseline points (one-sided Fisher p = {})",
            t.canary_beyond,
            p.canary.len(),
            pct(level),
            num(t.threshold),
            t.baseline_beyond,
            p.baseline.len(),
            num(t.p_value)
        )
    };
    let (evidence, effect_ratio, name) = if down && !up {
        let t = lower
            .as_ref()
            .map(|t| describe_tail(t, 1.0 - q, "below"))
            .unwrap_or_default();
        (t, effect(blq, clq), format!("{} ratio", pct(1.0 - q)))
    } else {
        let text = match (&upper, &lower) {
            (Some(u), _) => describe_tail(u, q, "above"),
            (None, Some(l)) => describe_tail(l, 1.0 - q, "below"),
            (None, None) => String::new(),
        };
        (text, effect(bq, cq), format!("{} ratio", pct(q)))
    };
    report.test = Some(TestReport::Quantile {
        quantile: q,
        baseline: bq.unwrap_or(f64::NAN),
        canary: cq.unwrap_or(f64::NAN),
        upper,
        lower,
        confidence: spec.confidence,
    });
    decide(spec, up, down, effect_ratio, &name, &evidence)
}

/// The spread judge: Fligner-Killeen, with the IQR ratio as the effect.
pub(super) fn judge_scale(
    p: &Prepared,
    spec: &JudgeSpec,
    report: &mut MetricReport,
) -> (Classification, String) {
    let test = match fligner_killeen(&p.canary, &p.baseline) {
        Ok(t) => t,
        Err(e) => return (Classification::Error, format!("scale test failed: {e}")),
    };
    let iqr = |v: &[f64]| {
        let s = sorted(v);
        match (percentile_sorted(&s, 0.25), percentile_sorted(&s, 0.75)) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        }
    };
    let (bi, ci) = (iqr(&p.baseline), iqr(&p.canary));
    report.test = Some(TestReport::Scale {
        method: "fligner-killeen".into(),
        statistic: test.statistic,
        p_value: test.p_value,
        baseline_iqr: bi,
        canary_iqr: ci,
        confidence: spec.confidence,
    });
    let significant = test.p_value < 1.0 - spec.confidence;
    let effect = (bi != 0.0 && bi.is_finite()).then(|| ci / bi);
    let evidence = format!(
        "IQR {} in the canary against {} in the baseline, Fligner-Killeen p = {}",
        num(ci),
        num(bi),
        num(test.p_value)
    );
    decide(
        spec,
        significant && ci > bi,
        significant && ci < bi,
        effect,
        "IQR ratio",
        &evidence,
    )
}
