//! `test: quantile`: an upper quantile (`quantile`, default 0.9) of the two sides, with an
//! order-statistic (Woodruff) interval of the difference: a tenth of requests ten times slower
//! moves p90 or p95 while the median stays put. `high` when the interval lies above 0 and the
//! quantile ratio reaches `allowed_increase`.

use crate::stats::autocorrelation::EffectiveSize;
use crate::stats::fisher::fisher_exact;
use crate::stats::percentile::{percentile_sorted, sorted};
use crate::stats::quantile_compare::{compare_quantiles, min_points};
use crate::template::{JudgeSpec, QuantileSpec};

use super::Judge;
use crate::judge::decide::{
    beyond, decide, finite, movement, relative_change, Criteria, Outcome, Rule,
};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::{nodata, Prepared};
use crate::judge::report::{Classification, TailReport, TestReport};

impl Judge for QuantileSpec {
    /// The quantile judge at the spec's confidence.
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, dep: &Dependence) -> Outcome {
        let spec = &Criteria::new(judge, &self.tolerance);
        compare(p, spec, self.quantile, dep, spec.confidence, Rule::Estimate)
    }
}

/// Values above the pooled `q` quantile on each side, with a one-sided Fisher exact test.
fn upper_tail(p: &Prepared<'_>, q: f64) -> Option<TailReport> {
    let pooled: Vec<f64> = p.baseline.iter().chain(&p.canary).copied().collect();
    let threshold = percentile_sorted(&sorted(&pooled), q)?;
    let beyond = |v: &[f64]| v.iter().filter(|x| **x > threshold).count() as u64;
    let (a, c) = (beyond(&p.canary), beyond(&p.baseline));
    let (nc, nb) = (p.canary.len() as u64, p.baseline.len() as u64);
    let fisher = fisher_exact(a, nc - a, c, nb - c).ok()?;
    Some(TailReport {
        threshold,
        canary_beyond: a,
        baseline_beyond: c,
        p_value: fisher.p_greater,
    })
}

/// The judge of quantile `q` at level `confidence` (the spec's, or `auto`'s adjusted one).
pub(crate) fn compare(
    p: &Prepared<'_>,
    spec: &Criteria<'_>,
    q: f64,
    dep: &Dependence,
    confidence: f64,
    rule: Rule,
) -> Outcome {
    let name = format!("p{}", num(q * 100.0));
    let need = min_points(q);
    let (ec, eb) = (dep.canary.effective, dep.baseline.effective);
    if ec < need || eb < need {
        let side = |n: &str, e: &EffectiveSize| {
            if e.adjusted() {
                format!(
                    "{} {n} points (worth {} independent ones)",
                    e.count,
                    num(e.effective.round())
                )
            } else {
                format!("{} {n} points", e.count)
            }
        };
        return Outcome::without_test(
            nodata(spec.judge),
            format!(
                "too few points to compare {name}: {} and {}, where {} independent points per side are needed",
                side("canary", &dep.canary),
                side("baseline", &dep.baseline),
                num(need)
            ),
        );
    }
    let cmp = match compare_quantiles(&p.canary, &p.baseline, q, confidence, ec, eb) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::without_test(
                Classification::Error,
                format!("quantile test failed: {e}"),
            )
        }
    };
    let effect = (cmp.baseline != 0.0).then(|| cmp.canary / cmp.baseline);
    let (lo, hi) = cmp.ci;
    let (up, down) = beyond(cmp.ci, cmp.baseline, spec, rule);
    let tail = upper_tail(p, q);
    let tail_text = tail
        .as_ref()
        .map(|t| {
            format!(
                "; {} of {} canary points are above the pooled {name} {} against {} of {} baseline points",
                t.canary_beyond,
                p.canary.len(),
                num(t.threshold),
                t.baseline_beyond,
                p.baseline.len()
            )
        })
        .unwrap_or_default();
    let evidence = format!(
        "{} {}{tail_text}{}",
        movement(&name, cmp.baseline, cmp.canary, up, down),
        relative_change(cmp.difference, cmp.ci, cmp.baseline, confidence),
        dep.note()
    );
    let report = TestReport::Quantile {
        quantile: q,
        baseline: cmp.baseline,
        canary: cmp.canary,
        upper: tail,
        lower: None,
        confidence,
        method: "woodruff".into(),
        difference: cmp.difference,
        ci: [lo, hi],
        ratio: effect.and_then(finite),
        p_value: cmp.p_value,
    };
    let (class, reason) = decide(spec, up, down, effect, &format!("{name} ratio"), &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
        tests: Vec::new(),
    }
}
