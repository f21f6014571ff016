//! `test: counts`: sparse event counts (errors per step), compared as Poisson rates per point,
//! R's `poisson.test(c(canary, baseline), c(n_canary, n_baseline))`; with `total` (another
//! metric holding each step's requests) as rates per unit of that total,
//! `poisson.test(c(canary, baseline), c(total_canary, total_baseline))`. Both discount bursts
//! the baseline shows (`count_dispersion`) and autocorrelated steps, or compare the steps with
//! events when the baseline's sparse events come in bursts.

use crate::stats::autocorrelation::{
    count_dispersion, count_dispersion_with_totals, effective_sizes, EffectiveSize,
};
use crate::stats::describe;
use crate::stats::poisson::{poisson_rate_test, PoissonTest};
use crate::template::{CountsSpec, JudgeSpec, NanStrategy};

use crate::judge::decide::{decide, finite, ratio_or_unbounded, Criteria, Outcome};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::kind::Judge;
use crate::judge::prepare::{nodata, Prepared};
use crate::judge::report::{Classification, TestReport};

impl Judge for CountsSpec {
    /// The counts judge: per unit of the `total` metric when there is one, else per step.
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, dep: &Dependence) -> Outcome {
        let spec = &Criteria::new(judge, &self.tolerance);
        match self.total.as_deref() {
            Some(total_name) => with_total(p, total_name, spec, dep),
            None => per_step(p, spec, dep),
        }
    }
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
    spec: &Criteria<'_>,
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
pub(crate) fn per_step(p: &Prepared<'_>, spec: &Criteria<'_>, dep: &Dependence) -> Outcome {
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
            tests: Vec::new(),
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
        tests: Vec::new(),
    }
}

/// The counts judge against the series of the metric `total_name` (see
/// [`per_total`]): `nodata` (or `nodata_fail`) naming that metric when it has
/// no usable step on a side, `error` when it could not be fetched.
pub(crate) fn with_total(
    p: &Prepared<'_>,
    total_name: &str,
    spec: &Criteria<'_>,
    dependence: &Dependence,
) -> Outcome {
    let obs = p.observation;
    let Some(total) = p.total else {
        return Outcome::without_test(
            nodata(spec.judge),
            format!("no data: the total metric `{total_name}` is absent from the data"),
        );
    };
    if let Some(message) = &total.error {
        return Outcome::without_test(
            Classification::Error,
            format!("could not fetch the total metric `{total_name}`: {message}"),
        );
    }
    let replace = spec.judge.nan == NanStrategy::Replace;
    let baseline = TotalSide::pair(&obs.baseline, &total.baseline, replace);
    let canary = TotalSide::pair(&obs.canary, &total.canary, replace);
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
        return Outcome::without_test(nodata(spec.judge), format!("no data: {}", empty.join("; ")));
    }
    let dependence = residual_dependence(&baseline, &canary, dependence);
    per_total(&baseline, &canary, total_name, spec, &dependence)
}

/// The serial dependence of counts judged against a total, from what the total does not
/// explain: each step's count minus its side's rate × that step's total. Traffic that varies
/// slowly (a canary weight that ramps, a daily cycle) makes the counts themselves look
/// autocorrelated and would discount the evidence for nothing; the residuals hold only the
/// dependence of the errors. Aligned when both sides kept every step and have one length.
fn residual_dependence(
    baseline: &TotalSide,
    canary: &TotalSide,
    counts: &Dependence,
) -> Dependence {
    let residuals = |side: &TotalSide| -> Vec<f64> {
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
    Dependence {
        baseline: baseline_size,
        canary: canary_size,
        aligned,
    }
}

/// One side's steps that have both a count and a total above 0, step for step.
#[derive(Debug, Clone, Default)]
pub(crate) struct TotalSide {
    /// The counts of those steps.
    pub(crate) counts: Vec<f64>,
    /// Their totals.
    pub(crate) totals: Vec<f64>,
    /// Steps left out: the count or the total missing, or the total 0 or below.
    pub(crate) left_out: usize,
}

impl TotalSide {
    /// Pairs `counts` with `totals` step by step (index for index, as live sources return
    /// them on one step grid). A missing count is 0 with `replace` (else the step is left
    /// out); a step whose total is missing, not finite or not above 0 is left out.
    pub(crate) fn pair(counts: &[Option<f64>], totals: &[Option<f64>], replace: bool) -> Self {
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
/// per side (k, rounded as [`per_step`] does) against the sum of their totals (T), by the
/// conditional binomial test of two Poisson rates, R's
/// `poisson.test(c(k_canary, k_baseline), c(T_canary, T_baseline))`. For rare events out of
/// many requests (each request failing independently with a small probability) the counts are
/// Poisson with mean rate × requests, and this is the standard test of equal rates (see
/// `stats::poisson`); it compares a canary serving 10% of the traffic fairly with a primary
/// serving 90%, which events per step cannot.
///
/// The discounts are [`per_step`]'s: overdispersion from the baseline's Pearson dispersion
/// around its expected counts rate × total of each step
/// ([`count_dispersion_with_totals`]), and the autocorrelation's effective fraction of each
/// side, both scaling events and exposure alike (the rate is unchanged, the interval wider).
/// The steps with events are never compared instead (method `poisson-steps`): with totals
/// that vary from step to step a step with events is no longer comparable across sides.
fn per_total(
    baseline: &TotalSide,
    canary: &TotalSide,
    total_name: &str,
    spec: &Criteria<'_>,
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
            tests: Vec::new(),
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
        tests: Vec::new(),
    }
}
