//! Paired comparison of two series aligned point for point that share a pattern (the same
//! traffic drives the baseline and the canary): when the pattern is shared, what is not shared
//! is compared.
//!
//! - [`pairing`]: is there a shared pattern? Pearson's correlation r of the two series, tested
//!   one-sided with Fisher's z on the n points (r > about 0.21 for 120 points). This choice
//!   decides power, not validity: under no change the canary and baseline values of one
//!   moment are exchangeable, so the differences are symmetric around 0 whether or not the
//!   series are correlated, and the paired tests keep their level either way (their
//!   autocorrelation is handled below). Two independent slow series correlate by chance more
//!   often than the nominal 1% (Bartlett's effective size, below, says how much); they are
//!   then compared paired, at little cost: for independent sides the variance of a mean
//!   difference is the same paired or not.
//! - [`differences_dependence`]: the lag-1 autocorrelation of the differences, estimated
//!   within [`segments`] consecutive segments (each around its own mean) and bias-corrected
//!   for the segment length (Marriott and Pope, see [`super::autocorrelation`]). A level
//!   change in the canary (a step half-way, a drift) makes the differences look
//!   autocorrelated over the whole series, and would hide itself behind a small effective
//!   size; within segments only the segment that holds the change is affected. Under no
//!   change the estimate is that of the whole series, with a little more variance.
//! - [`paired_spread`]: equality of the two sides' variances from paired data, the
//!   Pitman-Morgan idea (E. J. G. Pitman, Biometrika 31, 1939, 9–12; W. A. Morgan, Biometrika
//!   31, 1939, 13–19): var(x) − var(y) = cov(x + y, x − y), so the sides' variances are equal
//!   exactly when sums and differences are uncorrelated, and a pattern the two share cancels
//!   from this identity. The correlation is Spearman's, which keeps the level for non-normal
//!   data where Pearson's does not (R. McCulloch, "Tests for equality of variances with paired
//!   data", Commun. Statist. Theory Meth. 16, 1987, 1377–1391), with the normal approximation
//!   z = r_s √(n_eff − 1) on Bartlett's effective size for two autocorrelated series,
//!   n (1 − ρ_x ρ_y) / (1 + ρ_x ρ_y) (M. S. Bartlett, "Some aspects of the time-correlation
//!   problem in regard to tests of significance", JRSS 98, 1935, 536–543; C. S. Bretherton et
//!   al., J. Climate 12, 1999, 1990–2009, eq. 31). The effect reported is the ratio of
//!   the sides' own spreads beyond the shared part, √((var x − cov) / (var y − cov)): with
//!   x = p + u, y = p + w and p, u, w uncorrelated, cov(x, y) = var p.
//!
//! Reference for the numbers: `scripts/r-reference/generate-signed-rank.R` computes each of
//! these in base R (`cor`, `cor(method = "spearman")`, `acf`, `atanh`, `pnorm`) from the
//! definitions above; `tests/canaryd/stats_paired.rs` checks them within 1e-9 relative.
//!
//! Pure functions of the data: no resampling, no random numbers.

pub use super::acf::{segmented_lag1, segments, MAX_SEGMENTS, MIN_SEGMENT};
use super::autocorrelation::{bias_corrected, lag1_autocorrelation, MATERIAL_AUTOCORRELATION};
use super::normal::pnorm_upper;

/// Significance (one-sided) that the two series' correlation must reach for a paired analysis.
pub const PAIRING_ALPHA: f64 = 0.01;

/// Pearson's correlation (R's `cor(x, y)`); `None` below 3 points or for a constant series.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then_some(r.clamp(-1.0, 1.0))
}

/// Average ranks (R's `rank`).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_unstable_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = rank;
        }
        i = j + 1;
    }
    r
}

/// Spearman's correlation (R's `cor(x, y, method = "spearman")`).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&ranks(x), &ranks(y))
}

/// Bias-corrected lag-1 autocorrelation, 0 when it is not material or cannot be estimated.
fn material(series: &[f64]) -> f64 {
    match lag1_autocorrelation(series) {
        Some(r) => {
            let r = bias_corrected(r, series.len());
            if r > MATERIAL_AUTOCORRELATION {
                r
            } else {
                0.0
            }
        }
        None => 0.0,
    }
}

/// Bartlett's effective size of a correlation between two series with lag-1
/// autocorrelations `rho_x`, `rho_y` (negative products are not used: they would add points).
pub fn bartlett_effective(n: usize, rho_x: f64, rho_y: f64) -> f64 {
    let p = (rho_x * rho_y).clamp(0.0, 0.999);
    n as f64 * (1.0 - p) / (1.0 + p)
}

/// Whether two aligned series share a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pairing {
    /// Pearson's r of the two series.
    pub correlation: f64,
    /// Bartlett's effective size for it.
    pub effective: f64,
    /// One-sided p-value of r > 0 (Fisher's z on the effective size).
    pub p_value: f64,
    /// r > 0 at [`PAIRING_ALPHA`].
    pub shared: bool,
}

/// Tests whether `x` and `y` (same length, time order) are positively correlated point for
/// point beyond what their own autocorrelation explains. `None` below 10 points, or when a
/// series is constant.
pub fn pairing(x: &[f64], y: &[f64]) -> Option<Pairing> {
    if x.len() != y.len() || x.len() < 10 {
        return None;
    }
    let r = pearson(x, y)?;
    let effective = x.len() as f64;
    let p_value = if effective > 3.0 {
        let z = r.clamp(-0.999_999, 0.999_999).atanh() * (effective - 3.0).sqrt();
        pnorm_upper(z)
    } else {
        1.0
    };
    Some(Pairing {
        correlation: r,
        effective,
        p_value,
        shared: p_value < PAIRING_ALPHA,
    })
}

/// The dependence of the differences: `(lag1, effective)` with `lag1` from
/// [`segmented_lag1`] bias-corrected for the segment length, and `effective` = n (1 − ρ̃) /
/// (1 + ρ̃) when ρ̃ > [`MATERIAL_AUTOCORRELATION`] (within [min(n, 2), n]), else n.
pub fn differences_dependence(d: &[f64]) -> (Option<f64>, f64) {
    let n = d.len();
    let Some(raw) = segmented_lag1(d) else {
        return (None, n as f64);
    };
    let rho = bias_corrected(raw, n / segments(n));
    let effective = if rho > MATERIAL_AUTOCORRELATION {
        (n as f64 * (1.0 - rho) / (1.0 + rho)).clamp(2.0f64.min(n as f64), n as f64)
    } else {
        n as f64
    };
    (Some(rho), effective)
}

/// The result of [`paired_spread`].
#[derive(Debug, Clone, PartialEq)]
pub struct PairedSpread {
    /// Spearman's correlation of x + y and x − y (> 0: x varies more).
    pub correlation: f64,
    /// Bartlett's effective size used for its p-value.
    pub effective: f64,
    /// Two-sided p-value, normal approximation z = r √(n_eff − 1).
    pub p_value: f64,
    /// Standard deviation of x beyond the part shared with y: √(var x − cov(x, y)); NaN when
    /// that is negative (sampling noise around a spread of 0).
    pub x_own: f64,
    /// Likewise for y.
    pub y_own: f64,
    /// x_own / y_own, when both are positive numbers.
    pub ratio: Option<f64>,
}

/// Compares the spread of `x` and `y` (paired, same length, time order) beyond the pattern
/// they share. `rho_differences` is the lag-1 autocorrelation to use for x − y (from
/// [`differences_dependence`]); that of x + y is estimated here. `None` below 4 points or when
/// either series is constant.
pub fn paired_spread(x: &[f64], y: &[f64], rho_differences: f64) -> Option<PairedSpread> {
    let n = x.len();
    if n != y.len() || n < 4 {
        return None;
    }
    let s: Vec<f64> = x.iter().zip(y).map(|(a, b)| a + b).collect();
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let r = spearman(&s, &d)?;
    let effective = bartlett_effective(n, material(&s), rho_differences.max(0.0));
    let p_value = if effective > 1.0 {
        (2.0 * pnorm_upper(r.abs() * (effective - 1.0).sqrt())).min(1.0)
    } else {
        1.0
    };
    let nf = n as f64;
    let (mx, my) = (x.iter().sum::<f64>() / nf, y.iter().sum::<f64>() / nf);
    let (mut vx, mut vy, mut c) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        vx += (a - mx) * (a - mx);
        vy += (b - my) * (b - my);
        c += (a - mx) * (b - my);
    }
    let (vx, vy, c) = (vx / (nf - 1.0), vy / (nf - 1.0), c / (nf - 1.0));
    let own = |v: f64| {
        if v - c >= 0.0 {
            (v - c).sqrt()
        } else {
            f64::NAN
        }
    };
    let (x_own, y_own) = (own(vx), own(vy));
    let ratio = (y_own > 0.0 && x_own.is_finite()).then(|| x_own / y_own);
    Some(PairedSpread {
        correlation: r,
        effective,
        p_value,
        x_own,
        y_own,
        ratio,
    })
}

/// Point-to-point changes v_t − v_{t−1} (n − 1 of them).
pub fn successive_differences(v: &[f64]) -> Vec<f64> {
    v.windows(2).map(|w| w[1] - w[0]).collect()
}

/// [`paired_spread`] of the point-to-point changes of `x` and `y`: the sides' own spreads seen
/// where a slow shared pattern nearly vanishes.
///
/// A traffic wave shared by both sides dominates the sums x + y, so the rank correlation of
/// sums and differences is diluted and [`paired_spread`] on the levels loses most of its power
/// (a canary three times as noisy beyond a ±30% wave is found about a third of the time). The
/// changes from one point to the next keep each side's own noise (twice its variance for
/// independent noise, the mean square successive difference of J. von Neumann et al., Ann.
/// Math. Statist. 12, 1941, 153–162) while a pattern that moves slowly against the scrape step
/// contributes little, and what it does contribute is shared and cancels in the same identity.
/// The lag-1 autocorrelation of the changes' differences is estimated as for the levels
/// ([`differences_dependence`]; differencing makes it negative for independent noise, which is
/// not used).
pub fn paired_step_spread(x: &[f64], y: &[f64]) -> Option<PairedSpread> {
    if x.len() != y.len() {
        return None;
    }
    let (dx, dy) = (successive_differences(x), successive_differences(y));
    let d: Vec<f64> = dx.iter().zip(&dy).map(|(a, b)| a - b).collect();
    let (rho, _) = differences_dependence(&d);
    paired_spread(&dx, &dy, rho.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize) -> Vec<f64> {
        (0..n).map(|i| (i as f64 / 9.0).sin()).collect()
    }

    /// A deterministic series without serial dependence in [-0.1, 0.1].
    fn jitter(n: usize, stride: usize, k: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 0.1 * ((((i * stride + k) % n) as f64) / (n as f64 / 2.0) - 1.0))
            .collect()
    }

    #[test]
    fn a_shared_pattern_is_found_and_independent_series_are_not_paired() {
        let w = wave(120);
        let x: Vec<f64> = w
            .iter()
            .zip(jitter(120, 77, 1))
            .map(|(a, b)| a + b)
            .collect();
        let y: Vec<f64> = w
            .iter()
            .zip(jitter(120, 53, 5))
            .map(|(a, b)| a + b)
            .collect();
        assert!(pairing(&x, &y).unwrap().shared);
        let z: Vec<f64> = jitter(120, 53, 5);
        assert!(!pairing(&jitter(120, 77, 1), &z).unwrap().shared);
        assert_eq!(pairing(&x[..5], &y[..5]), None);
    }

    #[test]
    fn a_step_half_way_does_not_pass_for_autocorrelation() {
        let d: Vec<f64> = jitter(120, 77, 1)
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i >= 60 { 1.0 } else { 0.0 })
            .collect();
        assert!(lag1_autocorrelation(&d).unwrap() > 0.8);
        let (_, effective) = differences_dependence(&d);
        assert_eq!(effective, 120.0);
    }

    #[test]
    fn a_wider_canary_beyond_the_shared_pattern() {
        let w = wave(120);
        let y: Vec<f64> = w
            .iter()
            .zip(jitter(120, 53, 5))
            .map(|(a, b)| a + b)
            .collect();
        let x: Vec<f64> = w
            .iter()
            .zip(jitter(120, 77, 1))
            .map(|(a, b)| a + 3.0 * b)
            .collect();
        let s = paired_spread(&x, &y, 0.0).unwrap();
        // The own spread is estimated well; the rank correlation is weak when the shared
        // pattern dominates the sums (the test's known loss of power, see the README).
        assert!(s.correlation > 0.0, "{s:?}");
        assert!((s.ratio.unwrap() - 3.0).abs() < 0.5, "{s:?}");
        let same = paired_spread(&y, &y, 0.0);
        assert!(same.is_none() || same.unwrap().p_value == 1.0);
        // In the point-to-point changes the slow wave nearly vanishes: the same canary is
        // found with room to spare, and its own spread is still about 3 times the baseline's.
        let steps = paired_step_spread(&x, &y).unwrap();
        assert!(steps.correlation > 0.5, "{steps:?}");
        assert!(steps.p_value < 1e-6, "{steps:?}");
        assert!((steps.ratio.unwrap() - 3.0).abs() < 0.5, "{steps:?}");
        assert_eq!(successive_differences(&[1.0, 4.0, 2.0]), vec![3.0, -2.0]);
        assert_eq!(paired_step_spread(&x, &y[1..]), None);
    }
}
