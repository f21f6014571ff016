//! The judges beyond Mann-Whitney and thresholds (CONTRACT §2 `test:`): each catches a change a
//! rank test of location misses, and each is built on a function of `stats` that cites its
//! reference.
//!
//! - `quantile`: an upper quantile (`quantile`, default 0.9) of the two sides, with an
//!   order-statistic (Woodruff) interval of the difference: a tenth of requests ten times
//!   slower moves p90 or p95 while the median stays put. `high` when the interval lies above 0
//!   and the quantile ratio reaches `allowed_increase`.
//! - `scale`: the spread, by the Brown-Forsythe test (absolute deviations from the median),
//!   with the ratio of the spreads as the effect and an interval of their difference.
//! - `counts`: sparse event counts (errors per step), compared as Poisson rates per point,
//!   R's `poisson.test(c(canary, baseline), c(n_canary, n_baseline))`; with `total` (another
//!   metric holding each step's requests) as rates per unit of that total,
//!   `poisson.test(c(canary, baseline), c(total_canary, total_baseline))`.
//! - `auto`: `counts` for sparse whole-number data (at least half zeros); otherwise location
//!   (Hodges-Lehmann interval of the Mann-Whitney test), `quantile` and `scale` together, each
//!   at the Bonferroni-adjusted level 1 − (1 − confidence) / k, `high` when any is `high`. The
//!   tail is the lower one (1 − `quantile`) when only a decrease is bad, and only a wider spread
//!   counts (a narrower one is never a regression); the tail and spread tests use
//!   [`Rule::Interval`]. For the question "is any of them significant" Holm's step-down
//!   procedure rejects exactly when Bonferroni does (its first step is Bonferroni's), so the
//!   false-alarm rate of the whole is at most 1 − confidence either way.
//!
//! Serial dependence: every judge here, and `auto`'s location test, uses the effective sample
//! sizes of `stats::autocorrelation::effective_sizes` (from the canary − baseline differences'
//! lag-1 autocorrelation for aligned series, else the baseline's, when material); the spread
//! tests their `spread_effective` sizes (a spread is estimated more precisely than a mean);
//! `counts` also discounts bursts the baseline shows (`count_dispersion`), or compares the
//! steps with events when the baseline's sparse events come in bursts. The plain
//! `mann-whitney` judge stays R's `wilcox.test` exactly (CONTRACT §4).

use crate::stats::autocorrelation::{
    count_dispersion, count_dispersion_with_totals, spread_effective, EffectiveSize,
};
use crate::stats::brown_forsythe::brown_forsythe;
use crate::stats::fisher::fisher_exact;
use crate::stats::paired::{differences_dependence, paired_step_spread, pairing, Pairing};
use crate::stats::percentile::{percentile_sorted, sorted};
use crate::stats::poisson::{poisson_rate_test, PoissonTest};
use crate::stats::quantile_compare::{compare_quantiles, min_points};
use crate::stats::{
    mann_whitney, mann_whitney_inflated, signed_rank, signed_rank_inflated, Method,
};
use crate::template::{Direction, JudgeSpec};

use super::classify::{decide, nodata, Prepared};
use super::format::{num, ratio};
use super::report::{Classification, MetricReport, TailReport, TestReport};

/// The effective sizes of both sides (see `stats::autocorrelation`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Dependence {
    /// Baseline.
    pub(super) baseline: EffectiveSize,
    /// Canary.
    pub(super) canary: EffectiveSize,
    /// The series are aligned point for point: the autocorrelation is that of the canary −
    /// baseline differences (see `stats::autocorrelation::effective_sizes`).
    pub(super) aligned: bool,
}

impl Dependence {
    /// True when either side's effective size is below its count.
    fn adjusted(&self) -> bool {
        self.baseline.adjusted() || self.canary.adjusted()
    }

    /// "; the points are autocorrelated (lag-1 autocorrelation of the baseline 0.8 after bias
    /// correction), so they count as fewer independent ones: 13 of 120 canary points, ..." or
    /// "".
    fn note(&self) -> String {
        self.note_of(false)
    }

    /// [`Self::note`]; for a spread test (`spread`) with the square of the autocorrelation,
    /// which governs a spread's precision.
    fn note_of(&self, spread: bool) -> String {
        if !self.adjusted() {
            return String::new();
        }
        let side = |name: &str, e: &EffectiveSize| {
            format!("{} of {} {name} points", num(e.effective.round()), e.count,)
        };
        let rho = self.baseline.used.or(self.canary.used).unwrap_or(0.0);
        format!(
            "; the points are autocorrelated (lag-1 autocorrelation of {} {} after bias correction{}), so they count as fewer independent ones: {}, {}",
            if self.aligned {
                "the canary - baseline differences"
            } else {
                "the baseline"
            },
            num(rho),
            if spread {
                format!("; a spread depends on its square, {}", num(rho * rho))
            } else {
                String::new()
            },
            side("canary", &self.canary),
            side("baseline", &self.baseline)
        )
    }
}

/// How a significant change is compared with the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// As `mann-whitney` (CONTRACT §5): the interval excludes no change, and the estimated
    /// ratio reaches `allowed_increase` / `allowed_decrease`.
    Estimate,
    /// Beyond the tolerance with confidence: the whole interval of the ratio lies beyond
    /// `allowed_increase` / `allowed_decrease`. `auto` uses this for its tail and spread tests,
    /// which are there for large changes the location test misses: a small, tolerated change
    /// (2% against a 5% tolerance) then cannot fail a metric through the noisiest estimate.
    Interval,
}

/// Whether the interval `ci` of a difference from `base` shows an increase and a decrease,
/// under `rule`.
fn beyond(ci: (f64, f64), base: f64, spec: &JudgeSpec, rule: Rule) -> (bool, bool) {
    let (up, down) = (ci.0 > 0.0, ci.1 < 0.0);
    if rule == Rule::Estimate || base == 0.0 || !base.is_finite() {
        return (up, down);
    }
    let b = base.abs();
    (
        up && ci.0 >= (spec.allowed_increase - 1.0) * b,
        down && ci.1 <= (spec.allowed_decrease - 1.0) * b,
    )
}

/// What one test concluded.
pub(super) struct Outcome {
    /// The classification.
    pub(super) class: Classification,
    /// Why, in words.
    pub(super) reason: String,
    /// The numbers; `None` when the test could not run.
    pub(super) test: Option<TestReport>,
}

impl Outcome {
    fn without_test(class: Classification, reason: String) -> Self {
        Outcome {
            class,
            reason,
            test: None,
        }
    }
}

/// A finite number, or `None` for an infinity (JSON has no infinity).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// "+62%" for a ratio of 1.62.
fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p > 0.0 {
        format!("+{}%", num(p))
    } else {
        format!("{}%", num(p))
    }
}

/// "(+62%, 95% CI +40%..+85%)": a difference and its interval relative to `base`; absolute
/// when `base` is 0.
fn relative_change(difference: f64, ci: (f64, f64), base: f64, confidence: f64) -> String {
    let level = num(confidence * 100.0);
    if base != 0.0 && base.is_finite() {
        let b = base.abs();
        format!(
            "({}, {level}% CI {}..{})",
            pct(difference / b),
            pct(ci.0 / b),
            pct(ci.1 / b)
        )
    } else {
        let signed = |v: f64| {
            if v > 0.0 {
                format!("+{}", num(v))
            } else {
                num(v)
            }
        };
        format!(
            "({}, {level}% CI {}..{})",
            signed(difference),
            signed(ci.0),
            signed(ci.1)
        )
    }
}

/// "rose from 0.21 to 0.34" / "fell from" / "0.34 against 0.21".
fn movement(name: &str, base: f64, canary: f64, up: bool, down: bool) -> String {
    if up {
        format!("{name} rose from {} to {}", num(base), num(canary))
    } else if down {
        format!("{name} fell from {} to {}", num(base), num(canary))
    } else {
        format!(
            "{name} {} in the canary against {} in the baseline",
            num(canary),
            num(base)
        )
    }
}

/// The test `auto` runs for these samples: `counts` for sparse whole-number data, else `None`
/// (the location + quantile + spread combination).
pub(super) fn auto_picks_counts(p: &Prepared) -> bool {
    let all = p.baseline.iter().chain(&p.canary);
    let whole = all.clone().all(|v| *v >= 0.0 && v.fract() == 0.0);
    let zeros = all.clone().filter(|v| **v == 0.0).count();
    whole && zeros * 2 >= p.baseline.len() + p.canary.len()
}

/// An error outcome when any count is negative (event counts never are).
fn negative_count<'a>(mut values: impl Iterator<Item = &'a f64>) -> Option<Outcome> {
    values.find(|v| **v < 0.0).map(|bad| {
        Outcome::without_test(
            Classification::Error,
            format!(
                "the counts test needs event counts, which are never negative; found {}",
                num(*bad)
            ),
        )
    })
}

/// "2.5x", or "unbounded" for an infinite ratio.
fn ratio_or_unbounded(v: f64) -> String {
    if v.is_finite() {
        ratio(v)
    } else {
        "unbounded".into()
    }
}

/// "; errors come in bursts (MEASURE), so they count as N canary and M baseline independent
/// events" when the dispersion `phi` discounted them (`effective`: [baseline, canary]), else "".
fn bursts_note(phi: f64, effective: [f64; 2], measure: &str) -> String {
    if phi > 1.0 {
        format!(
            "; errors come in bursts ({measure}), so they count as {} canary and {} baseline independent events",
            num(effective[1]),
            num(effective[0])
        )
    } else {
        String::new()
    }
}

/// "95% CI 0.72x..1.36x, p = 1": the rate ratio's interval and the p-value.
fn rate_interval(confidence: f64, test: &PoissonTest) -> String {
    format!(
        "{}% CI {}..{}, p = {}",
        num(confidence * 100.0),
        ratio_or_unbounded(test.ci.0),
        ratio_or_unbounded(test.ci.1),
        num(test.p_value)
    )
}

/// What both counts judges compute once they know what they count.
struct RateComparison {
    /// R's `poisson.test` on the (discounted) events and exposures.
    test: PoissonTest,
    /// (canary events / exposure) / (baseline events / exposure); infinite when only the
    /// canary has events, `None` when neither has.
    rate_ratio: Option<f64>,
    /// The events were discounted (autocorrelation or dispersion).
    discounted: bool,
    /// The events each side counts for after the discount, [baseline, canary].
    effective: [f64; 2],
}

/// The Poisson comparison of `events` in `exposure` on each side ([baseline, canary]; the
/// exposure is the number of points, or the sum of a total series). Autocorrelated counts
/// (bursts that last several steps, or overlapping increase() windows) carry less information
/// than their total says: each side's events and exposure are scaled by its effective fraction
/// (a quasi-Poisson design effect), so the rate is unchanged and the interval wider. Bursts of
/// errors (several at once, then none) are overdispersed: the baseline's dispersion `phi`
/// discounts both sides the same way. The reason of an `error` when the test cannot run.
fn compare_rates(
    events: [f64; 2],
    exposure: [f64; 2],
    phi: f64,
    spec: &JudgeSpec,
    dep: &Dependence,
) -> Result<RateComparison, String> {
    let [kb, kc] = events;
    if kb + kc >= 4.0e9 || (kb + kc).is_nan() {
        return Err(format!(
            "counts test failed: {} events are too many to count exactly",
            num(kb + kc)
        ));
    }
    let discounted = dep.adjusted() || phi > 1.0;
    let scaled = |k: f64, x: f64, e: &EffectiveSize| {
        let f = e.effective / e.count.max(1) as f64 / phi;
        ((k * f).round(), x * f)
    };
    let ((tb, eb), (tc, ec)) = if discounted {
        (
            scaled(kb, exposure[0], &dep.baseline),
            scaled(kc, exposure[1], &dep.canary),
        )
    } else {
        ((kb, exposure[0]), (kc, exposure[1]))
    };
    let test = poisson_rate_test(tc as u64, ec, tb as u64, eb, spec.confidence)
        .map_err(|e| format!("counts test failed: {e}"))?;
    let rate_ratio = if kb > 0.0 {
        Some((kc / exposure[1]) / (kb / exposure[0]))
    } else if kc > 0.0 {
        Some(f64::INFINITY)
    } else {
        None
    };
    Ok(RateComparison {
        test,
        rate_ratio,
        discounted,
        effective: [tb, tc],
    })
}

/// Poisson rate comparison of the two sides' event totals.
pub(super) fn judge_counts(p: &Prepared, spec: &JudgeSpec, dep: &Dependence) -> Outcome {
    if let Some(error) = negative_count(p.baseline.iter().chain(&p.canary)) {
        return error;
    }
    // Counts from increase(...) are extrapolated and not whole: the totals are rounded.
    let total = |v: &[f64]| crate::stats::describe::sum(v).round();
    let (events_b, events_c) = (total(&p.baseline), total(&p.canary));
    let (nb, nc) = (p.baseline.len() as f64, p.canary.len() as f64);
    // Sparse counts whose baseline comes in bursts (one failure retried five times) would let
    // one burst decide: the steps with at least one event are compared instead, as rates per
    // step (for independent steps a count of steps is binomial, and the Poisson test on it is
    // conservative). On 120 steps at 0.05 errors per step with bursts of 5 on 2% of the steps
    // of both sides, the event totals falsely alarm 13% of the time, or with the dispersion
    // discount never find a tripled rate; the steps alarm at 1.3% and find it half the time
    // (simulated in R, 4,000 runs). Only the baseline is asked: bursts that appear only in the
    // canary are the change (a rank test, and Kayenta, pass them).
    let zeros = p
        .baseline
        .iter()
        .chain(&p.canary)
        .filter(|v| **v == 0.0)
        .count();
    let baseline_phi = count_dispersion(&p.baseline);
    let steps = zeros * 2 >= p.baseline.len() + p.canary.len() && baseline_phi > 1.0;
    let (kb, kc) = if steps {
        let with_events = |v: &[f64]| v.iter().filter(|x| x.round() > 0.0).count() as f64;
        (with_events(&p.baseline), with_events(&p.canary))
    } else {
        (events_b, events_c)
    };
    // Bursts in the baseline discount both sides by its dispersion (unless the steps with
    // events are compared, which bursts do not inflate); see `compare_rates`.
    let phi = if steps { 1.0 } else { baseline_phi };
    let rates = match compare_rates([kb, kc], [nb, nc], phi, spec, dep) {
        Ok(r) => r,
        Err(reason) => return Outcome::without_test(Classification::Error, reason),
    };
    let (test, rate_ratio, discounted) = (&rates.test, rates.rate_ratio, rates.discounted);
    let [tb, tc] = rates.effective;
    let report = TestReport::Counts {
        method: if steps { "poisson-steps" } else { "poisson" }.into(),
        baseline_events: events_b,
        canary_events: events_c,
        steps_with_events: steps.then_some([kb, kc]),
        rate_ratio: rate_ratio.and_then(finite),
        ci: [finite(test.ci.0), finite(test.ci.1)],
        p_value: test.p_value,
        confidence: spec.confidence,
        effective_events: discounted.then_some([tb, tc]),
        baseline_total: None,
        canary_total: None,
        total_metric: None,
    };
    if kb + kc == 0.0 {
        return Outcome {
            class: Classification::Pass,
            reason: format!("no events on either side ({nb} baseline and {nc} canary points)"),
            test: Some(report),
        };
    }
    let per = |k: f64, n: f64| num(k / n);
    let interval = ratio_or_unbounded;
    let counted = if steps {
        format!(
            "the events come in bursts ({} canary and {} baseline events in all), so the steps with at least one are compared: {} of {nc} canary steps against {} of {nb} baseline steps ({} against {} of the steps; ratio {}",
            num(events_c),
            num(events_b),
            num(kc),
            num(kb),
            per(kc, nc),
            per(kb, nb),
            rate_ratio.map(interval).unwrap_or_else(|| "unknown".into()),
        )
    } else {
        format!(
            "{} events in {nc} canary points against {} in {nb} baseline points ({} against {} per point; rate ratio {}",
            num(kc),
            num(kb),
            per(kc, nc),
            per(kb, nb),
            rate_ratio.map(interval).unwrap_or_else(|| "unknown".into()),
        )
    };
    let evidence = format!(
        "{counted}, {}){}",
        rate_interval(spec.confidence, test),
        bursts_note(
            phi,
            [tb, tc],
            &format!("the baseline's variance is {} times its mean", num(phi))
        ) + &dep.note()
    );
    let (class, reason) = decide(
        spec,
        test.ci.0 > 1.0,
        test.ci.1 < 1.0,
        rate_ratio,
        if steps {
            "ratio of steps with events"
        } else {
            "rate ratio"
        },
        &evidence,
    );
    Outcome {
        class,
        reason,
        test: Some(report),
    }
}

/// Values above the pooled `q` quantile on each side, with a one-sided Fisher exact test.
fn upper_tail(p: &Prepared, q: f64) -> Option<TailReport> {
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

/// The quantile judge at level `confidence` (the spec's, or `auto`'s adjusted one).
pub(super) fn judge_quantile(
    p: &Prepared,
    spec: &JudgeSpec,
    dep: &Dependence,
    confidence: f64,
    rule: Rule,
) -> Outcome {
    let q = spec.quantile;
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
            nodata(spec),
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
    }
}

/// The dependence that a spread test allows for: each side's [`spread_effective`] size.
fn spread_dependence(dep: &Dependence) -> Dependence {
    Dependence {
        canary: spread_effective(&dep.canary),
        baseline: spread_effective(&dep.baseline),
        aligned: dep.aligned,
    }
}

/// The spread judge at level `confidence`: Brown-Forsythe, with the ratio of the mean absolute
/// deviations from the median as the effect.
pub(super) fn judge_scale(
    p: &Prepared,
    spec: &JudgeSpec,
    dep: &Dependence,
    confidence: f64,
    rule: Rule,
) -> Outcome {
    // A spread is estimated from dependent points more precisely than a mean.
    let dep = &spread_dependence(dep);
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
    }
}

/// `auto`'s location test: the Hodges-Lehmann interval of the Mann-Whitney test (R's
/// `wilcox.test` exactly for independent points; with the rank-sum variance inflated by the
/// design effects when either side is autocorrelated), classified as the `mann-whitney` judge
/// is (interval and mean ratio).
fn judge_location(
    p: &Prepared,
    spec: &JudgeSpec,
    dep: &Dependence,
    confidence: f64,
    mean_ratio: Option<f64>,
    baseline_median: Option<f64>,
) -> Outcome {
    let result = if dep.adjusted() {
        mann_whitney_inflated(
            &p.canary,
            &p.baseline,
            confidence,
            dep.canary.inflation(),
            dep.baseline.inflation(),
        )
    } else {
        mann_whitney(&p.canary, &p.baseline, confidence)
    };
    let mw = match result {
        Ok(mw) => mw,
        Err(e) => {
            return Outcome::without_test(
                Classification::Error,
                format!("Mann-Whitney test failed: {e}"),
            )
        }
    };
    let method = match (mw.method, dep.adjusted()) {
        (_, true) => "normal-autocorrelated",
        (Method::Exact, false) => "exact",
        (Method::Normal, false) => "normal",
    };
    let report = TestReport::MannWhitney {
        method: method.into(),
        statistic: mw.statistic,
        p_value: mw.p_value,
        estimate: mw.estimate,
        ci: [mw.ci.0, mw.ci.1],
        confidence: mw.confidence,
    };
    let (up, down) = (mw.ci.0 > 0.0, mw.ci.1 < 0.0);
    let what = match baseline_median {
        Some(m) if m != 0.0 => format!(
            "{} {} (Hodges-Lehmann shift)",
            movement("the typical value", m, m + mw.estimate, up, down),
            relative_change(mw.estimate, mw.ci, m, mw.confidence)
        ),
        _ => format!(
            "the typical value moved by {} (Hodges-Lehmann shift)",
            relative_change(mw.estimate, mw.ci, 0.0, mw.confidence)
        ),
    };
    let evidence = format!("{what}, p = {}{}", num(mw.p_value), dep.note());
    let (class, reason) = decide(spec, up, down, mean_ratio, "mean ratio", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
    }
}

/// The two series of a paired analysis, on the scale it uses.
struct PairedSeries {
    /// Canary, as judged (logarithms for positive data).
    canary: Vec<f64>,
    /// Baseline, likewise.
    baseline: Vec<f64>,
    /// Logarithms were taken.
    log: bool,
    /// The shared-pattern test that chose the paired analysis.
    pairing: Pairing,
}

/// The paired view of aligned series that share a pattern, or `None` (unpaired analysis).
///
/// Aligned means what `classify_metric` says: same length, nothing removed from either side
/// (live sources return both on one step grid; recorded data of equal lengths is taken as
/// aligned). Positive data is compared on the log scale, so that a change by a factor (a
/// latency 10% slower at every traffic level) is a constant shift of the differences and
/// scales no shared pattern; other data on its own scale.
fn paired_series(p: &Prepared, dep: &Dependence) -> Option<PairedSeries> {
    if !dep.aligned || p.canary.len() != p.baseline.len() {
        return None;
    }
    let log = p.canary.iter().chain(&p.baseline).all(|v| *v > 0.0);
    let t = |v: &[f64]| -> Vec<f64> {
        if log {
            v.iter().map(|x| x.ln()).collect()
        } else {
            v.to_vec()
        }
    };
    let (canary, baseline) = (t(&p.canary), t(&p.baseline));
    let pairing = pairing(&canary, &baseline)?;
    pairing.shared.then_some(PairedSeries {
        canary,
        baseline,
        log,
        pairing,
    })
}

/// `auto`'s paired location test: Wilcoxon signed-rank of the differences (R's
/// `wilcox.test(canary, baseline, paired = TRUE, conf.int = TRUE)`, on logarithms for
/// positive data), with the variance inflated by the differences' design effect when they are
/// autocorrelated (estimated within segments, see `stats::paired`). Classified as the
/// `mann-whitney` judge is (interval and mean ratio).
fn judge_paired_location(
    s: &PairedSeries,
    spec: &JudgeSpec,
    confidence: f64,
    mean_ratio: Option<f64>,
    rho: Option<f64>,
    effective: f64,
) -> Outcome {
    let n = s.canary.len();
    let adjusted = effective < n as f64;
    let result = if adjusted {
        signed_rank_inflated(&s.canary, &s.baseline, confidence, n as f64 / effective)
    } else {
        signed_rank(&s.canary, &s.baseline, confidence)
    };
    let sr = match result {
        Ok(sr) => sr,
        Err(e) => {
            return Outcome::without_test(
                Classification::Error,
                format!("signed-rank test failed: {e}"),
            )
        }
    };
    let method = match (sr.method, adjusted) {
        (_, true) => "normal-autocorrelated",
        (Method::Exact, false) => "exact",
        (Method::Normal, false) => "normal",
    };
    let (up, down) = (sr.ci.0 > 0.0, sr.ci.1 < 0.0);
    let level = num(sr.confidence * 100.0);
    let change = if s.log {
        format!(
            "the canary is typically {} times the baseline at the same moment ({level}% CI {}..{})",
            num(sr.estimate.exp()),
            num(sr.ci.0.exp()),
            num(sr.ci.1.exp())
        )
    } else {
        format!(
            "canary - baseline at the same moment is typically {} ({level}% CI {}..{})",
            num(sr.estimate),
            num(sr.ci.0),
            num(sr.ci.1)
        )
    };
    let dependence = if adjusted {
        format!(
            "; the differences are autocorrelated (lag-1 {}), so the {n} pairs count as {}",
            num(rho.unwrap_or(0.0)),
            num(effective.round())
        )
    } else {
        String::new()
    };
    let evidence = format!(
        "compared point for point, as both follow one pattern (correlation {}): {change}, Wilcoxon signed-rank p = {}{dependence}",
        num(s.pairing.correlation),
        num(sr.p_value)
    );
    let report = TestReport::SignedRank {
        method: method.into(),
        scale: if s.log { "log-ratio" } else { "difference" }.into(),
        statistic: sr.statistic,
        p_value: sr.p_value,
        estimate: sr.estimate,
        ci: [sr.ci.0, sr.ci.1],
        confidence: sr.confidence,
        ratio: s.log.then(|| sr.estimate.exp()).and_then(finite),
        correlation: s.pairing.correlation,
    };
    let (class, reason) = decide(spec, up, down, mean_ratio, "mean ratio", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
    }
}

/// `auto`'s paired spread test: the spreads of the two sides' point-to-point changes beyond the
/// pattern they share (`stats::paired::paired_step_spread`); significant at `confidence`, and
/// `high` when the ratio of the canary's own spread to the baseline's reaches
/// `allowed_increase`.
fn judge_paired_spread(s: &PairedSeries, spec: &JudgeSpec, confidence: f64) -> Outcome {
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
    }
}

/// `auto` on continuous data: location, quantile and spread at the Bonferroni-adjusted level;
/// `high` when any is `high` (else `low` when any is `low`). Fills `report.test` with the
/// deciding test and `report.tests` with all of them.
pub(super) fn judge_auto_continuous(
    p: &Prepared,
    spec: &JudgeSpec,
    dep: &Dependence,
    report: &mut MetricReport,
) -> (Classification, String) {
    let identical = p.baseline.len() == p.canary.len() && sorted(&p.baseline) == sorted(&p.canary);
    // The tail that can hurt: the upper one, or the lower one (p10 for the default 0.9) when
    // only a decrease is bad (a throughput that sometimes collapses).
    let tail_spec = JudgeSpec {
        quantile: if spec.direction == Direction::Decrease {
            1.0 - spec.quantile
        } else {
            spec.quantile
        },
        ..spec.clone()
    };
    // A wider spread is bad whichever way the metric's level should not move; a narrower one
    // never is.
    let spread_spec = JudgeSpec {
        direction: Direction::Increase,
        ..spec.clone()
    };
    let q_name = format!("p{}", num(tail_spec.quantile * 100.0));
    let need = min_points(tail_spec.quantile);
    let quantile_fits = dep.canary.effective >= need && dep.baseline.effective >= need;
    let scale_fits = p.canary.len() >= 2 && p.baseline.len() >= 2;

    // Aligned series that share a pattern are compared point for point: location and spread
    // of what is not shared. The tail stays unpaired (a tenth of the requests slower shows in
    // the quantile either way).
    let paired = paired_series(p, dep);
    let k = 1
        + usize::from(quantile_fits)
        + usize::from(scale_fits) * (1 + usize::from(paired.is_some()));
    let level = 1.0 - (1.0 - spec.confidence) / k as f64;
    let dependence = paired.as_ref().map(|s| {
        let d: Vec<f64> = s
            .canary
            .iter()
            .zip(&s.baseline)
            .map(|(c, b)| c - b)
            .collect();
        differences_dependence(&d)
    });
    let location = match (&paired, dependence) {
        (Some(s), Some((rho, effective))) => {
            judge_paired_location(s, spec, level, report.mean_ratio, rho, effective)
        }
        _ => judge_location(
            p,
            spec,
            dep,
            level,
            report.mean_ratio,
            report.baseline.median,
        ),
    };
    let mut parts: Vec<(&str, Outcome)> = vec![("location", location)];
    if quantile_fits {
        parts.push((
            "tail",
            judge_quantile(p, &tail_spec, dep, level, Rule::Interval),
        ));
    }
    if scale_fits {
        parts.push((
            "spread",
            judge_scale(p, &spread_spec, dep, level, Rule::Interval),
        ));
        // The canary's own spread beyond the shared pattern, which the unpaired spread test
        // cannot see behind the pattern; the unpaired one stays for what the rank-based
        // paired test dilutes (a few far outliers).
        if let Some(s) = &paired {
            parts.push(("paired spread", judge_paired_spread(s, &spread_spec, level)));
        }
    }
    report.tests = parts.iter().filter_map(|(_, o)| o.test.clone()).collect();
    let pick = |c: Classification| parts.iter().position(|(_, o)| o.class == c);
    // A throughput whose lower tail collapses and whose spread widens is `low` (the direction
    // the user said is bad); otherwise `high` comes first.
    let (first, second) = if spec.direction == Direction::Decrease {
        (Classification::Low, Classification::High)
    } else {
        (Classification::High, Classification::Low)
    };
    let decider = pick(first)
        .or_else(|| pick(second))
        .or_else(|| pick(Classification::Error))
        .unwrap_or(0);
    report.test = parts[decider].1.test.clone();
    let summary: Vec<String> = parts
        .iter()
        .map(|(name, o)| {
            let label = match *name {
                "tail" => format!("tail ({q_name})"),
                "location" if paired.is_some() => "paired location".to_string(),
                other => other.to_string(),
            };
            format!("{label} {}", o.class.as_str())
        })
        .collect();
    let skipped = if quantile_fits {
        String::new()
    } else {
        format!(
            "; {q_name} not compared: fewer than {} independent points on a side",
            num(need)
        )
    };
    let footer = format!(
        " [auto: {}; each at {}% confidence so that together they keep {}% (Bonferroni){skipped}]",
        summary.join(", "),
        num(level * 100.0),
        num(spec.confidence * 100.0)
    );
    if identical {
        return (
            Classification::Pass,
            format!("canary and baseline samples are identical{footer}"),
        );
    }
    let flagged: Vec<&Outcome> = parts
        .iter()
        .map(|(_, o)| o)
        .filter(|o| matches!(o.class, Classification::High | Classification::Low))
        .collect();
    let class = parts[decider].1.class;
    let reason = match class {
        Classification::High | Classification::Low => flagged
            .iter()
            .map(|o| o.reason.as_str())
            .collect::<Vec<_>>()
            .join("; and "),
        _ => parts[decider].1.reason.clone(),
    };
    (class, format!("{reason}{footer}"))
}

/// `auto` on sparse counts, with the reason saying so.
pub(super) fn auto_counts_reason() -> &'static str {
    "auto chose counts (sparse whole-number counts: at least half the values are 0): "
}

/// `auto` with a `total`, with the reason saying so.
pub(super) fn auto_total_reason() -> &'static str {
    "auto chose counts (a `total` is given): "
}

/// One side's steps that have both a count and a total above 0, step for step.
#[derive(Debug, Clone, Default)]
pub(super) struct TotalSide {
    /// The counts of those steps.
    pub(super) counts: Vec<f64>,
    /// Their totals.
    pub(super) totals: Vec<f64>,
    /// Steps left out: the count or the total missing, or the total 0 or below.
    pub(super) left_out: usize,
}

impl TotalSide {
    /// Pairs `counts` with `totals` step by step (index for index, as live sources return
    /// them on one step grid). A missing count is 0 with `replace` (else the step is left
    /// out); a step whose total is missing, not finite or not above 0 is left out.
    pub(super) fn pair(counts: &[Option<f64>], totals: &[Option<f64>], replace: bool) -> Self {
        let mut side = TotalSide::default();
        for i in 0..counts.len().max(totals.len()) {
            let count = match counts.get(i) {
                Some(Some(x)) if x.is_finite() => Some(*x),
                Some(_) if replace => Some(0.0),
                _ => None,
            };
            let total = match totals.get(i) {
                Some(Some(t)) if t.is_finite() && *t > 0.0 => Some(*t),
                _ => None,
            };
            match (count, total) {
                (Some(c), Some(t)) => {
                    side.counts.push(c);
                    side.totals.push(t);
                }
                _ => side.left_out += 1,
            }
        }
        side
    }
}

/// Poisson rate comparison of events per unit of a total (errors per request): the counts of
/// the steps where both the count and the total are known and the total is above 0, summed
/// per side (k, rounded as [`judge_counts`] does) against the sum of their totals (T), by the
/// conditional binomial test of two Poisson rates, R's
/// `poisson.test(c(k_canary, k_baseline), c(T_canary, T_baseline))`. For rare events out of
/// many requests (each request failing independently with a small probability) the counts are
/// Poisson with mean rate × requests, and this is the standard test of equal rates (see
/// `stats::poisson`); it compares a canary serving 10% of the traffic fairly with a primary
/// serving 90%, which events per step cannot.
///
/// The discounts are [`judge_counts`]'s: overdispersion from the baseline's Pearson dispersion
/// around its expected counts rate × total of each step
/// ([`count_dispersion_with_totals`]), and the autocorrelation's effective fraction of each
/// side, both scaling events and exposure alike (the rate is unchanged, the interval wider).
/// The steps with events are never compared instead (method `poisson-steps`): with totals
/// that vary from step to step a step with events is no longer comparable across sides.
pub(super) fn judge_counts_total(
    baseline: &TotalSide,
    canary: &TotalSide,
    total_name: &str,
    spec: &JudgeSpec,
    dep: &Dependence,
) -> Outcome {
    if let Some(error) = negative_count(baseline.counts.iter().chain(&canary.counts)) {
        return error;
    }
    let sum = crate::stats::describe::sum;
    let (kb, kc) = (sum(&baseline.counts).round(), sum(&canary.counts).round());
    let (total_b, total_c) = (sum(&baseline.totals), sum(&canary.totals));
    let (nb, nc) = (baseline.counts.len(), canary.counts.len());
    let phi = count_dispersion_with_totals(&baseline.counts, &baseline.totals);
    let rates = match compare_rates([kb, kc], [total_b, total_c], phi, spec, dep) {
        Ok(r) => r,
        Err(reason) => return Outcome::without_test(Classification::Error, reason),
    };
    let (test, rate_ratio, discounted) = (&rates.test, rates.rate_ratio, rates.discounted);
    let [tb, tc] = rates.effective;
    let (rate_b, rate_c) = (kb / total_b, kc / total_c);
    let report = TestReport::Counts {
        method: "poisson".into(),
        baseline_events: kb,
        canary_events: kc,
        steps_with_events: None,
        rate_ratio: rate_ratio.and_then(finite),
        ci: [finite(test.ci.0), finite(test.ci.1)],
        p_value: test.p_value,
        confidence: spec.confidence,
        effective_events: discounted.then_some([tb, tc]),
        baseline_total: Some(total_b),
        canary_total: Some(total_c),
        total_metric: Some(total_name.to_string()),
    };
    let left_out = if baseline.left_out + canary.left_out > 0 {
        format!(
            "; steps left out (a count or `{total_name}` missing, or `{total_name}` 0): {} baseline, {} canary",
            baseline.left_out, canary.left_out
        )
    } else {
        String::new()
    };
    if kb + kc == 0.0 {
        return Outcome {
            class: Classification::Pass,
            reason: format!(
                "no events on either side ({} `{total_name}` in {nb} baseline steps, {} in {nc} canary steps){left_out}",
                num(total_b),
                num(total_c)
            ),
            test: Some(report),
        };
    }
    let interval = ratio_or_unbounded;
    let evidence = format!(
        "{} events in {} `{total_name}` in the canary against {} in {} in the baseline, over {nc} and {nb} steps ({} against {} events per unit of `{total_name}`; rate ratio {}, {}){}{}{left_out}",
        num(kc),
        num(total_c),
        num(kb),
        num(total_b),
        num(rate_c),
        num(rate_b),
        rate_ratio.map(interval).unwrap_or_else(|| "unknown".into()),
        rate_interval(spec.confidence, test),
        bursts_note(
            phi,
            [tb, tc],
            &format!(
                "the baseline's counts vary {} times as much as its `{total_name}` explains",
                num(phi)
            )
        ),
        dep.note()
    );
    let (class, reason) = decide(
        spec,
        test.ci.0 > 1.0,
        test.ci.1 < 1.0,
        rate_ratio,
        &format!("rate ratio per unit of `{total_name}`"),
        &evidence,
    );
    Outcome {
        class,
        reason,
        test: Some(report),
    }
}
