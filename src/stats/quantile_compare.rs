//! Comparison of one quantile (p90, p99, ...) of two samples, with a distribution-free
//! confidence interval for the difference.
//!
//! Method: each side's quantile is R's `quantile(x, q, type = 7)`. Its standard error comes
//! from Woodruff's (1952) order-statistic interval: the number of values below the true
//! q-quantile is Binomial(n, q), so the interval of the *probability* q ± z₀ √(q (1 − q) / n),
//! mapped through the sample's quantile function, is an interval of the quantile, and its width
//! divided by 2 z₀ estimates the standard error (R. S. Woodruff, "Confidence intervals for
//! medians and other position measures", JASA 47, 1952, 635–646; R. R. Sitter and C. Wu,
//! "A note on Woodruff confidence intervals for quantiles", Statistics & Probability Letters 52,
//! 2001, 353–358, who show it holds up in the tails). z₀ = qnorm(0.975), fixed, so the standard
//! error does not depend on the level asked for. The two sides are independent, so the interval
//! of the difference is (Q_c − Q_b) ± z √(se_c² + se_b²) with z = qnorm((1 + confidence) / 2),
//! the construction of Price and Bonett ("Distribution-free confidence intervals for difference
//! and ratio of medians", J. Statist. Comput. Simul. 72, 2002, 119–124) for any quantile.
//!
//! No density estimate, no bootstrap, no random numbers: the answer is a function of the data.
//!
//! Serial dependence: with an effective sample size m < n (see [`super::autocorrelation`]) the
//! binomial variance of the count below the quantile is that of m draws, so the probability
//! interval is q ± z₀ √(q (1 − q) / m) (Woodruff's interval with a design effect, as survey
//! statistics use it). The point estimate is unchanged.
//!
//! Reference: `scripts/r-reference/generate-judges.R` computes the same quantities in base R
//! (`quantile(type = 7)`, `qnorm`) on 60 cases; `tests/canaryd/stats_judges.rs` checks every
//! number within 1e-12 relative.
//!
//! Enough data: the interval needs about five expected points beyond the quantile on each
//! side, m · min(q, 1 − q) ≥ [`MIN_EXPECTED_BEYOND`] (p90: 50 points; p99: 500 points).
//! Below that the comparison is refused (`None` from [`min_points`] tells how many are needed).

use super::normal::qnorm;
use super::percentile::percentile_sorted;
use super::require_confidence;
use super::StatsError;

/// Expected number of points beyond the quantile, on each side, below which the
/// order-statistic interval is not trusted.
pub const MIN_EXPECTED_BEYOND: f64 = 5.0;

/// The smallest (effective) number of points that can estimate the `q` quantile.
pub fn min_points(q: f64) -> f64 {
    // 1 - 0.99 is 0.010000000000000009 in binary: without the slack p99 would need 501.
    (MIN_EXPECTED_BEYOND / q.min(1.0 - q) - 1e-9).ceil()
}

/// The result of [`compare_quantiles`].
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileComparison {
    /// The quantile compared, in (0, 1).
    pub quantile: f64,
    /// The canary's quantile (R type 7).
    pub canary: f64,
    /// The baseline's quantile.
    pub baseline: f64,
    /// Standard error of the canary's quantile (Woodruff).
    pub canary_se: f64,
    /// Standard error of the baseline's quantile.
    pub baseline_se: f64,
    /// canary − baseline.
    pub difference: f64,
    /// Confidence interval of the difference.
    pub ci: (f64, f64),
    /// Two-sided p-value of "no difference" (normal approximation; 1 when both standard
    /// errors are 0 and the quantiles agree, 0 when they are 0 and differ).
    pub p_value: f64,
    /// The confidence level of `ci`.
    pub confidence: f64,
}

/// Woodruff standard error of the `q` quantile of an ascending sample worth `effective`
/// independent points.
pub fn woodruff_se(sorted: &[f64], q: f64, effective: f64) -> Option<f64> {
    if sorted.is_empty() || !(q > 0.0 && q < 1.0) || effective.is_nan() || effective <= 0.0 {
        return None;
    }
    let z0 = qnorm(0.025, false);
    let h = z0 * (q * (1.0 - q) / effective).sqrt();
    let lo = percentile_sorted(sorted, (q - h).max(0.0))?;
    let hi = percentile_sorted(sorted, (q + h).min(1.0))?;
    Some((hi - lo) / (2.0 * z0))
}

/// Compares the `q` quantile of `canary` and `baseline` (each in any order, finite), with
/// effective sizes `canary_effective` and `baseline_effective` (pass the counts for
/// independent points).
///
/// Errors: an empty sample, a non-finite value, `q` or `confidence` outside (0, 1), an
/// effective size that is not positive, or fewer effective points than [`min_points`] on a
/// side (`InvalidArgument`).
pub fn compare_quantiles(
    canary: &[f64],
    baseline: &[f64],
    q: f64,
    confidence: f64,
    canary_effective: f64,
    baseline_effective: f64,
) -> Result<QuantileComparison, StatsError> {
    if canary.is_empty() {
        return Err(StatsError::NotEnoughObservations("canary"));
    }
    if baseline.is_empty() {
        return Err(StatsError::NotEnoughObservations("baseline"));
    }
    if canary.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("canary"));
    }
    if baseline.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("baseline"));
    }
    if !(q > 0.0 && q < 1.0) {
        return Err(StatsError::BadProbability(q));
    }
    require_confidence(confidence)?;
    let need = min_points(q);
    if !(canary_effective >= need && baseline_effective >= need) {
        return Err(StatsError::InvalidArgument(
            "too few points to estimate this quantile (see min_points)",
        ));
    }
    let cs = super::percentile::sorted(canary);
    let bs = super::percentile::sorted(baseline);
    let not_enough = StatsError::InvalidArgument("the quantile could not be estimated");
    let cq = percentile_sorted(&cs, q).ok_or(not_enough.clone())?;
    let bq = percentile_sorted(&bs, q).ok_or(not_enough.clone())?;
    let cse = woodruff_se(&cs, q, canary_effective).ok_or(not_enough.clone())?;
    let bse = woodruff_se(&bs, q, baseline_effective).ok_or(not_enough)?;
    let difference = cq - bq;
    let se = (cse * cse + bse * bse).sqrt();
    let z = qnorm((1.0 - confidence) / 2.0, false);
    let ci = (difference - z * se, difference + z * se);
    let p_value = if se > 0.0 {
        let t = (difference / se).abs();
        (2.0 * super::normal::pnorm_upper(t)).min(1.0)
    } else if difference == 0.0 {
        1.0
    } else {
        0.0
    };
    if !(ci.0.is_finite() && ci.1.is_finite()) {
        return Err(StatsError::InvalidArgument(
            "the quantiles are too large to compare",
        ));
    }
    Ok(QuantileComparison {
        quantile: q,
        canary: cq,
        baseline: bq,
        canary_se: cse,
        baseline_se: bse,
        difference,
        ci,
        p_value,
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_too_few_points_and_bad_input() {
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        assert!(compare_quantiles(&x, &x, 0.9, 0.95, 40.0, 40.0).is_err());
        let y: Vec<f64> = (0..50).map(f64::from).collect();
        assert!(compare_quantiles(&y, &y, 0.9, 0.95, 50.0, 50.0).is_ok());
        assert!(compare_quantiles(&y, &y, 0.9, 0.95, 50.0, 20.0).is_err());
        assert!(compare_quantiles(&y, &[], 0.9, 0.95, 50.0, 50.0).is_err());
        assert!(compare_quantiles(&y, &y, 1.0, 0.95, 50.0, 50.0).is_err());
        assert!(compare_quantiles(&[f64::NAN], &y, 0.5, 0.95, 50.0, 50.0).is_err());
        assert_eq!(min_points(0.99), 500.0);
        assert_eq!(min_points(0.9), 50.0);
    }

    #[test]
    fn identical_samples_have_an_interval_around_zero() {
        let y: Vec<f64> = (0..100).map(|i| f64::from(i * 7 % 100)).collect();
        let c = compare_quantiles(&y, &y, 0.9, 0.95, 100.0, 100.0).unwrap();
        assert_eq!(c.difference, 0.0);
        assert!(c.ci.0 < 0.0 && c.ci.1 > 0.0);
        assert_eq!(c.p_value, 1.0);
        // Fewer effective points: a wider interval.
        let d = compare_quantiles(&y, &y, 0.9, 0.95, 60.0, 60.0).unwrap();
        assert!(d.ci.1 > c.ci.1);
    }
}
