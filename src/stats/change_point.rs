//! One change of level inside a series: where it is, how sure that is, and whether it is there
//! at all, under serial dependence.
//!
//! - **Where.** The least-squares estimate of a single break in the mean (D. V. Hinkley,
//!   "Inference about the change-point in a sequence of random variables", Biometrika 57,
//!   1970, 1–17; J. Bai, "Least squares estimation of a shift in linear processes", Journal of
//!   Time Series Analysis 15, 1994, 453–472): the split into a first segment of `index` points
//!   and a second of `n − index` that leaves the smallest residual sum of squares, each segment
//!   at least [`min_segment`] points (15% of the series, as `strucchange`'s default `h = 0.15`).
//!   It is R's `strucchange::breakpoints(y ~ 1, h = min_segment(n), breaks = 1)$breakpoints`,
//!   checked on every case of `fixtures/stats/change-point-reference.json` (written by
//!   `scripts/r-reference/generate-change-point.R`), index for index.
//! - **Whether.** The Wald statistic of the break at that split, W = δ̂² / (σ̂²_lr (1/k +
//!   1/(n − k))), with δ̂ the difference of the segment means and σ̂²_lr the long-run variance
//!   of the residuals under a first-order autoregression, s² (1 + ρ̃) / (1 − ρ̃) (ρ̃ the
//!   residuals' lag-1 autocorrelation, bias-corrected for two estimated means, never below
//!   0). Taken at the least-squares split it is the sup-Wald statistic of D. W. K. Andrews,
//!   "Tests for parameter instability and structural change with unknown change point",
//!   Econometrica 61, 1993, 821–856; the break is [`ChangePoint::significant`] beyond its 1%
//!   critical value for 15% trimming, [`SUP_WALD_CRITICAL`] (12.07, from B. E. Hansen's
//!   approximation of its distribution, "Approximate asymptotic p values for structural-change
//!   tests", Journal of Business & Economic Statistics 15, 1997, 60–67, as
//!   `strucchange:::pvalue.Fstats` computes it; Andrews' table gives 12.16).
//! - **How sure of where.** J. Bai's interval for the break date ("Estimation of a change
//!   point in multiple regression models", Review of Economics and Statistics 79, 1997,
//!   551–563): k̂ ± ⌈11 σ̂²_lr / δ̂²⌉ points at 95%, 11 being (about) the 97.5% quantile of the
//!   location of the maximum of a two-sided Brownian motion with drift −|v|/2. It widens with
//!   the noise and the dependence and narrows with the size of the step.
//!
//! The residual autocorrelation is also what [`crate::stats::autocorrelation`] uses for a series
//! with a significant break: a change of level makes a series look autocorrelated (the step is
//! the slowest possible movement), and an estimate around the segment means does not.

use super::acf::lag1_autocorrelation;

/// The 1% critical value of Andrews' sup-Wald statistic for one break in the mean with 15%
/// trimming (Hansen's approximation; R: `strucchange:::pvalue.Fstats(12.07, "supF", k = 1,
/// lambda = (0.85 / 0.15)^2)` is 0.0100).
pub const SUP_WALD_CRITICAL: f64 = 12.07;

/// The p-value of a sup-Wald statistic `wald` of one break in the mean of `n` points, trimmed
/// at [`min_segment`]: the approximation of D. James, B. James and D. Siegmund ("Tests for a
/// change-point", Biometrika 74, 1987, 71–83) to the tail of the supremum of a standardised
/// squared Brownian bridge over [π₀, 1 − π₀]: with b = √wald and φ the normal density,
/// b φ(b) (ln λ (1 − 1/b²) + 4/b²), λ = ((1 − π₀)/π₀)². Against strucchange's
/// `pvalue.Fstats` (Hansen's approximation) at 15% trimming it is a little larger (more
/// cautious) below 0.06: 0.0117 at its 1% value 12.07, 0.0558 at its 5% value 8.61 (checked in
/// `tests/canaryd/stats_change_point.rs` on the fixture's values). 1 for `wald` ≤ 2, where
/// the approximation does not hold.
pub fn sup_wald_p_value(wald: f64, n: usize) -> f64 {
    if wald.is_nan() {
        return 1.0;
    }
    if wald == f64::INFINITY {
        return 0.0;
    }
    if wald <= 2.0 || n < 6 {
        return 1.0;
    }
    let pi0 = min_segment(n) as f64 / n as f64;
    let lambda = ((1.0 - pi0) / pi0).powi(2);
    let b2 = wald;
    let b = b2.sqrt();
    let phi = (-b2 / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (b * phi * (lambda.ln() * (1.0 - 1.0 / b2) + 4.0 / b2)).clamp(0.0, 1.0)
}

/// Bai's factor for a 95% interval of the break date.
const BAI_95: f64 = 11.0;

/// The fewest points either segment may have: 15% of `n`, at least 3 (R's strucchange:
/// `h = floor(0.15 n)`).
pub fn min_segment(n: usize) -> usize {
    (n * 15 / 100).max(3)
}

/// A series' one change of level (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    /// Points before the change: the second segment starts at this (0-based) index.
    pub index: usize,
    /// Points in the series.
    pub n: usize,
    /// Mean of the first segment.
    pub mean_before: f64,
    /// Mean of the second segment.
    pub mean_after: f64,
    /// Lag-1 autocorrelation of the residuals around the segment means (R's `acf` of them).
    pub residual_lag1: Option<f64>,
    /// That autocorrelation bias-corrected for two estimated means, (n r + 2) / (n − 8) for
    /// n > 16 (Marriott and Pope's correction, one term per mean), within [−1, 1].
    pub residual_rho: Option<f64>,
    /// The Wald statistic of the break.
    pub wald: f64,
    /// `wald` exceeds [`SUP_WALD_CRITICAL`].
    pub significant: bool,
    /// Bai's 95% interval of `index`, within [1, n − 1].
    pub interval: (usize, usize),
}

/// The least-squares change point of `series` (in time order). `None` below 2 × 3 points,
/// for a non-finite value, or when the series does not vary.
pub fn change_point(series: &[f64]) -> Option<ChangePoint> {
    change_point_with(series, None)
}

/// [`change_point`], with the autocorrelation its Wald statistic allows for never below
/// `rho_floor` (bias-corrected): an estimate made where the change cannot be, such as the
/// baseline's own. The residuals' autocorrelation is estimated after the break was fitted to
/// them, which takes slow wander out along with any step and biases it low: between unchanged
/// series with lag-1 0.8, breaks at 1% are then found several times as often as 1%.
pub fn change_point_with(series: &[f64], rho_floor: Option<f64>) -> Option<ChangePoint> {
    let n = series.len();
    let h = min_segment(n);
    if n < 2 * h || series.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // Around the overall mean (computed without overflow), so that prefix sums of large values
    // do not cancel.
    let centre = super::describe::mean(series)?;
    let dev: Vec<f64> = series.iter().map(|v| v - centre).collect();
    if dev.iter().any(|d| !d.is_finite()) || dev.iter().all(|d| *d == 0.0) {
        return None;
    }
    let total: f64 = dev.iter().sum();
    let mut best: Option<(usize, f64)> = None;
    let mut prefix = 0.0;
    for (k, d) in dev.iter().enumerate().take(n - h) {
        prefix += d;
        let k = k + 1;
        if k < h {
            continue;
        }
        // The between-segment sum of squares of the split: k (n − k) / n (m1 − m2)².
        let (m1, m2) = (prefix / k as f64, (total - prefix) / (n - k) as f64);
        let between = (k * (n - k)) as f64 / n as f64 * (m1 - m2) * (m1 - m2);
        // Ties go to the earliest split, as `which.min` of the residual sums of squares.
        if between.is_finite() && best.is_none_or(|(_, b)| between > b * (1.0 + 1e-12)) {
            best = Some((k, between));
        }
    }
    let (index, _) = best?;
    let (first, second) = dev.split_at(index);
    let m1 = first.iter().sum::<f64>() / index as f64;
    let m2 = second.iter().sum::<f64>() / (n - index) as f64;
    let residuals: Vec<f64> = first
        .iter()
        .map(|d| d - m1)
        .chain(second.iter().map(|d| d - m2))
        .collect();
    let ssr: f64 = residuals.iter().map(|r| r * r).sum();
    if !(ssr.is_finite()) {
        return None;
    }
    let residual_lag1 = lag1_autocorrelation(&residuals);
    let residual_rho = residual_lag1.map(|r| two_means_corrected(r, n));
    let rho = residual_rho
        .unwrap_or(0.0)
        .max(rho_floor.unwrap_or(0.0))
        .clamp(0.0, 0.99);
    let s2 = ssr / (n - 2) as f64;
    let long_run = s2 * (1.0 + rho) / (1.0 - rho);
    let delta = m2 - m1;
    let wald = if long_run > 0.0 {
        delta * delta / (long_run * (1.0 / index as f64 + 1.0 / (n - index) as f64))
    } else if delta != 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let half = if delta != 0.0 && long_run > 0.0 {
        (BAI_95 * long_run / (delta * delta)).ceil()
    } else {
        0.0
    };
    let half = if half.is_finite() {
        half.min(n as f64) as usize
    } else {
        n
    };
    let interval = (index.saturating_sub(half).max(1), (index + half).min(n - 1));
    Some(ChangePoint {
        index,
        n,
        mean_before: m1 + centre,
        mean_after: m2 + centre,
        residual_lag1,
        residual_rho,
        wald,
        significant: wald > SUP_WALD_CRITICAL,
        interval,
    })
}

/// Marriott and Pope's bias correction of a lag-1 autocorrelation of residuals around two
/// estimated means: r̃ = r + 2 (1 + 4 r̃) / n, i.e. (n r + 2) / (n − 8), for n > 16.
fn two_means_corrected(r: f64, n: usize) -> f64 {
    if n <= 16 {
        return r;
    }
    let n = n as f64;
    ((n * r + 2.0) / (n - 8.0)).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_step_is_found_where_it_is() {
        let mut x: Vec<f64> = (0..60)
            .map(|i| 100.0 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        for v in &mut x[36..] {
            *v += 40.0;
        }
        let cp = change_point(&x).unwrap();
        assert_eq!(cp.index, 36);
        assert!(cp.significant);
        assert!((cp.mean_after - cp.mean_before - 40.0).abs() < 0.2);
        assert!(cp.interval.0 <= 36 && cp.interval.1 >= 36);
        assert!(cp.interval.1 - cp.interval.0 <= 4, "{:?}", cp.interval);
    }

    #[test]
    fn short_constant_or_non_finite_series_have_none() {
        assert_eq!(change_point(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        assert_eq!(change_point(&[5.0; 30]), None);
        let mut x = vec![1.0; 30];
        x[3] = f64::NAN;
        assert_eq!(change_point(&x), None);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let mut x = vec![-1e308; 20];
        x.extend(vec![1e308; 20]);
        let cp = change_point(&x);
        // The deviations from the mean are finite; the split is found or refused, never NaN.
        if let Some(cp) = cp {
            assert_eq!(cp.index, 20);
            assert!(!cp.wald.is_nan());
        }
    }
}
