//! `auto`'s location tests: the Hodges-Lehmann interval of the Mann-Whitney test for
//! independent samples ([`unpaired`]), and Wilcoxon's signed-rank test of the point-for-point
//! differences of aligned series that share a pattern ([`paired`]).

use crate::judge::decide::{decide, finite, movement, relative_change, Criteria, Outcome};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};
use crate::stats::paired::{pairing, Pairing};
use crate::stats::{
    mann_whitney, mann_whitney_inflated, signed_rank, signed_rank_inflated, Method,
};

/// `auto`'s location test: the Hodges-Lehmann interval of the Mann-Whitney test (R's
/// `wilcox.test` exactly for independent points; with the rank-sum variance inflated by the
/// design effects when either side is autocorrelated), classified as the `mann-whitney` judge
/// is (interval and mean ratio).
pub(crate) fn unpaired(
    p: &Prepared<'_>,
    spec: &Criteria<'_>,
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
        kayenta: None,
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
        tests: Vec::new(),
    }
}

/// The two series of a paired analysis, on the scale it uses.
pub(crate) struct PairedSeries {
    /// Canary, as judged (logarithms for positive data).
    pub(crate) canary: Vec<f64>,
    /// Baseline, likewise.
    pub(crate) baseline: Vec<f64>,
    /// Logarithms were taken.
    pub(crate) log: bool,
    /// The shared-pattern test that chose the paired analysis.
    pub(crate) pairing: Pairing,
}

/// The paired view of aligned series that share a pattern, or `None` (unpaired analysis).
///
/// Aligned means what `classify_metric` says: same length, nothing removed from either side
/// (live sources return both on one step grid; recorded data of equal lengths is taken as
/// aligned). Positive data is compared on the log scale, so that a change by a factor (a
/// latency 10% slower at every traffic level) is a constant shift of the differences and
/// scales no shared pattern; other data on its own scale.
pub(crate) fn paired_series(p: &Prepared<'_>, dep: &Dependence) -> Option<PairedSeries> {
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
pub(crate) fn paired(
    s: &PairedSeries,
    spec: &Criteria<'_>,
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
        tests: Vec::new(),
    }
}
