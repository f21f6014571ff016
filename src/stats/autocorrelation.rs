//! Serial dependence of a series, and the effective sample size it leaves.
//!
//! Points scraped every 10 seconds are not independent draws: a slow minute is slow in six
//! consecutive points. A test that counts them as six independent observations is
//! overconfident. The lag-1 autocorrelation ρ measures this, and under a first-order
//! autoregressive model the variance of a mean of n points is that of n (1 - ρ) / (1 + ρ)
//! independent ones (the "effective sample size"; e.g. Wilks, *Statistical Methods in the
//! Atmospheric Sciences*, 3rd ed., eq. 5.12; Bayley and Hammersley, JRSS Suppl. 8, 1946).
//!
//! Reference: ρ is R 4.2's `acf(x, lag.max = 1, plot = FALSE)$acf[2]` (the biased estimator:
//! both sums divided by n, around the mean of the whole series), checked against
//! `fixtures/stats/judges-reference.json` (written by `scripts/r-reference/generate-judges.R`)
//! within 1e-12 absolute.
//!
//! The sample autocorrelation is biased low in short series, by about (1 + 4ρ) / n for a
//! first-order autoregression with an estimated mean (F. H. C. Marriott and J. A. Pope, "Bias
//! in the estimation of autocorrelations", Biometrika 41, 1954, 390–402; confirmed here by
//! simulation: at n = 20 and ρ = 0.8 the mean estimate is 0.56). The effective size uses the
//! corrected ρ̃ = (n ρ̂ + 1) / (n − 4) (for n > 8), so that 20 strongly dependent points are
//! not taken for 20 nearly independent ones.
//!
//! The correction is applied only when it is material: ρ̃ above [`MATERIAL_AUTOCORRELATION`].
//! Below that, sampling noise in ρ (its standard error is about 1/√n) would only cost power.
//! Negative ρ never increases the effective size (no correction is made: conservative).
//!
//! A change of level is taken out first where one is significant ([`change_robust_lag1`]).

pub use super::acf::{bias_corrected, lag1_autocorrelation};
use super::change_point::change_point_with;

/// Fewest points for which a change of level is taken out before the autocorrelation is
/// estimated ([`change_robust_lag1`]).
pub const MIN_CHANGE_POINTS: usize = 30;

/// Lag-1 autocorrelation above which the effective sample size replaces the raw count.
pub const MATERIAL_AUTOCORRELATION: f64 = 0.1;

/// The effective size is never below this (nor above the raw count): a series of 120 points
/// with ρ = 0.99 still carries the information of about one point, and tests on fewer than two
/// points have no variance.
pub const MIN_EFFECTIVE: f64 = 2.0;

/// The lag-1 autocorrelation of `series` within up to four fixed segments
/// ([`super::acf::segmented_lag1`]), bias-corrected for the segment length, when positive: the
/// floor for the dependence a break in the canary − baseline differences is tested under.
pub fn segmented_rho(series: &[f64]) -> Option<f64> {
    let n = series.len();
    super::acf::segmented_lag1(series)
        .map(|r| bias_corrected(r, n / super::acf::segments(n)))
        .filter(|r| *r > 0.0)
}

/// The least dependence a break in the canary − baseline `differences` is tested under
/// ([`change_point_with`]): the smaller of the baseline's own autocorrelation (which a change of
/// the canary cannot touch, but which holds a pattern both sides share) and the differences'
/// within fixed segments (from which a shared pattern cancels, but which a step inflates in
/// its segment); `None` when either is not positive. Neither is fitted to the break, so
/// unchanged series with lag-1 0.8 no longer find "breaks" several times too often (false
/// alarms of `auto` on 120-point pairs 2.9% → 2.0%), and a step in independent dependent
/// series is still tested under about their true dependence.
pub fn differences_floor(differences: &[f64], baseline: &[f64]) -> Option<f64> {
    Some(baseline_rho(baseline)?.min(segmented_rho(differences)?))
}

/// The baseline's own bias-corrected lag-1 autocorrelation, when positive: the floor for the
/// dependence a break in an unaligned canary is tested under.
pub fn baseline_rho(baseline: &[f64]) -> Option<f64> {
    lag1_autocorrelation(baseline)
        .map(|r| bias_corrected(r, baseline.len()))
        .filter(|r| *r > 0.0)
}

/// The effective sample size of a series: its raw count, its lag-1 autocorrelation, and how
/// many independent points it is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveSize {
    /// Number of values.
    pub count: usize,
    /// Lag-1 autocorrelation (`None` below 3 values or for a constant series).
    pub lag1: Option<f64>,
    /// `count` when the bias-corrected ρ̃ ≤ [`MATERIAL_AUTOCORRELATION`], else
    /// `count (1 − ρ̃) / (1 + ρ̃)`, kept within [min(count, 2), count].
    pub effective: f64,
    /// ρ̃, the bias-corrected lag-1 autocorrelation `effective` was made from, when it is
    /// material (for two aligned series, that of their differences; see [`effective_sizes`]).
    pub used: Option<f64>,
    /// When ρ̃ was estimated around a change of level (see [`change_robust_lag1`]): the index
    /// the second segment starts at.
    pub change_at: Option<usize>,
}

impl EffectiveSize {
    /// True when the autocorrelation was material and the effective size is below the count.
    pub fn adjusted(&self) -> bool {
        self.effective < self.count as f64
    }

    /// count / effective: how much the variance of a mean is inflated (1 when not adjusted).
    pub fn inflation(&self) -> f64 {
        if self.effective > 0.0 {
            self.count as f64 / self.effective
        } else {
            1.0
        }
    }
}

/// `n` points worth n (1 − ρ̃) / (1 + ρ̃) independent ones, with ρ̃ the bias-corrected `lag1`
/// of a series of `length` points, when ρ̃ > [`MATERIAL_AUTOCORRELATION`]; else `n`.
/// Also returns ρ̃ when it is material.
fn effective_points(n: usize, lag1: Option<f64>, length: usize) -> (f64, Option<f64>) {
    effective_from_corrected(n, lag1.map(|r| bias_corrected(r, length)))
}

/// [`effective_points`] from an already bias-corrected ρ̃.
fn effective_from_corrected(n: usize, rho: Option<f64>) -> (f64, Option<f64>) {
    let n = n as f64;
    match rho {
        Some(r) if r > MATERIAL_AUTOCORRELATION => (
            (n * (1.0 - r) / (1.0 + r)).clamp(MIN_EFFECTIVE.min(n), n),
            Some(r),
        ),
        _ => (n, None),
    }
}

/// The bias-corrected lag-1 autocorrelation of `series` that a change of level cannot inflate,
/// and where that change is when one was taken out.
///
/// A step is the slowest movement a series can make: +40% half-way in independent noise of
/// 10% gives a lag-1 autocorrelation of about 0.8, and the evidence of the step would be
/// discounted exactly when it is largest. So when [`change_point`] finds a significant break
/// (Andrews' sup-Wald beyond its 1% value, under the residuals' own dependence), the
/// autocorrelation is that of the residuals around the two segment means, corrected for two
/// estimated means; otherwise it is the plain estimate, corrected for one. Without a break the
/// estimate is unchanged, so unchanged series keep their false-alarm rate; a spurious break
/// (1% of unchanged independent series, more under strong dependence) lowers ρ̃ only by what
/// one fitted step takes out.
pub fn change_robust_lag1(series: &[f64]) -> (Option<f64>, Option<usize>) {
    change_robust_lag1_with(series, None)
}

/// [`change_robust_lag1`], with the break's test allowing for at least the autocorrelation
/// `rho_floor` (see [`change_point_with`]).
pub fn change_robust_lag1_with(
    series: &[f64],
    rho_floor: Option<f64>,
) -> (Option<f64>, Option<usize>) {
    // Below 30 points the break's test, under an autocorrelation estimated from the same few
    // points, finds breaks in unchanged dependent series too often (20 points with lag-1 0.8:
    // false alarms of `auto` 2.3% → 6%); the plain estimate stays.
    if series.len() < MIN_CHANGE_POINTS {
        return (
            lag1_autocorrelation(series).map(|r| bias_corrected(r, series.len())),
            None,
        );
    }
    if let Some(cp) = change_point_with(series, rho_floor) {
        if cp.significant {
            if let Some(r) = cp.residual_rho {
                return (Some(r), Some(cp.index));
            }
        }
    }
    (
        lag1_autocorrelation(series).map(|r| bias_corrected(r, series.len())),
        None,
    )
}

/// The effective size for a spread from `mean`, the effective size for a mean.
///
/// A first-order autoregression with lag-1 ρ inflates the variance of a sample variance by
/// (1 + ρ²) / (1 − ρ²) against independent points, where that of a mean is inflated by
/// (1 + ρ) / (1 − ρ) (M. S. Bartlett, "On the theoretical specification and sampling
/// properties of autocorrelated time-series", JRSS Suppl. 8, 1946, 27–41): 120 points at
/// ρ = 0.8 are worth 13 for a mean and 26 for a spread. ρ here is the bias-corrected one the
/// mean's size was made from (`used`; else recovered from its fraction f = n_eff / n as
/// (1 − f) / (1 + f)).
/// The mean absolute deviation (the Brown-Forsythe spread) is inflated about alike: for a
/// Gaussian series its lag-1 autocorrelation is 0.60 at ρ = 0.8, against ρ² = 0.64.
/// Unadjusted sizes are returned as they are.
pub fn spread_effective(mean: &EffectiveSize) -> EffectiveSize {
    if !mean.adjusted() || mean.count == 0 {
        return *mean;
    }
    let n = mean.count as f64;
    let rho = mean.used.unwrap_or_else(|| {
        let f = mean.effective / n;
        (1.0 - f) / (1.0 + f)
    });
    let r2 = rho * rho;
    EffectiveSize {
        effective: (n * (1.0 - r2) / (1.0 + r2)).clamp(MIN_EFFECTIVE.min(n), n),
        ..*mean
    }
}

/// The effective sample size of `series` (in time order).
pub fn effective_size(series: &[f64]) -> EffectiveSize {
    let count = series.len();
    let lag1 = lag1_autocorrelation(series);
    let (effective, used) = effective_points(count, lag1, count);
    EffectiveSize {
        count,
        lag1,
        effective,
        used,
        change_at: None,
    }
}

/// The effective sizes of two series compared with each other, `(canary, baseline)`.
///
/// Which autocorrelation: the question is how much the points vary together *when nothing
/// changed*. For series that are not aligned it is estimated from the baseline, the series the
/// change did not touch (under "no change" both sides behave alike): a change in the canary (a
/// step half-way, a drift) would make the canary look autocorrelated.
///
/// When the two series are aligned point for point (`aligned`: same length, same timestamps,
/// nothing dropped from either), the difference of the means *is* the mean of the canary −
/// baseline differences, and the dependence that matters is that of the differences: it holds
/// both sides' own dependence, and a traffic pattern both sides share (which makes each side
/// strongly autocorrelated) cancels from it. A step in the canary does show in it, as extra
/// autocorrelation: the comparison is then conservative (a step of +40% half-way in series
/// with lag-1 0.8 is found about half the time; the paired analysis of `auto`, for series that
/// share a pattern, estimates within segments instead, see `paired::differences_dependence`).
///
/// One estimate, never the smaller of two: each is noisy (its standard error is about 1/√n),
/// and the smaller of two noisy estimates is biased low. canaryd once took the smaller of the
/// baseline's and the differences'. Measured with `cargo bench --bench quality` on 3,000
/// unchanged pairs of AR(1) series with lag-1 0.8 (`QUALITY_FILE`, see the script), `auto`'s
/// unpaired location test alarmed on 1.37% of 120-point pairs and 3.8% of 20-point pairs
/// against a nominal 1.25%; with this estimate (and Student's t, see `mann_whitney_inflated`)
/// 0.53% and 1.5%.
///
/// Both sides get the effective fraction n_eff / n of that autocorrelation; each side's own
/// lag-1 autocorrelation is reported in `lag1`.
pub fn effective_sizes(
    canary: &[f64],
    baseline: &[f64],
    aligned: bool,
) -> (EffectiveSize, EffectiveSize) {
    let own_c = lag1_autocorrelation(canary);
    let own_b = lag1_autocorrelation(baseline);
    let n = baseline.len();
    let (rho, change_at) = if aligned && canary.len() == n {
        let differences: Vec<f64> = canary.iter().zip(baseline).map(|(c, b)| c - b).collect();
        change_robust_lag1_with(&differences, differences_floor(&differences, baseline))
    } else {
        change_robust_lag1(baseline)
    };
    let side = |count: usize, lag1: Option<f64>| {
        let (effective, used) = effective_from_corrected(count, rho);
        EffectiveSize {
            count,
            lag1,
            effective,
            used,
            change_at: used.and(change_at),
        }
    };
    (side(canary.len(), own_c), side(baseline.len(), own_b))
}

/// Dispersion of event counts per step in the baseline: its index of dispersion (variance over
/// mean), φ = Σ_t (x_t − x̄)² / x̄ / (n − 1), the Pearson estimate of a quasi-Poisson model's
/// dispersion (McCullagh and Nelder, *Generalized Linear Models*, 2nd ed., §6.2). Poisson
/// counts have φ ≈ 1; errors that come in bursts make it larger. As for the autocorrelation,
/// only the baseline is asked how the counts behave when nothing changed: bursts that appear
/// only in the canary are the change, not noise to discount.
///
/// Returns 1 unless φ exceeds 1 + 2 √(2 / (n − 1)) (about two standard errors of φ under the
/// Poisson model), so that sampling noise alone does not discount the evidence; 1 as well for
/// fewer than 3 values or no events.
pub fn count_dispersion(baseline: &[f64]) -> f64 {
    let df = baseline.len() as f64 - 1.0;
    if df < 2.0 {
        return 1.0;
    }
    let Some(m) = super::describe::mean(baseline) else {
        return 1.0;
    };
    if m <= 0.0 || !m.is_finite() {
        return 1.0;
    }
    let phi = baseline.iter().map(|x| (x - m) * (x - m) / m).sum::<f64>() / df;
    if phi.is_finite() && phi > 1.0 + 2.0 * (2.0 / df).sqrt() {
        phi
    } else {
        1.0
    }
}

/// [`count_dispersion`] for counts of events out of a known total per step (errors out of the
/// requests of each step): the Pearson estimate of a quasi-Poisson model's dispersion with the
/// totals as exposures, φ = Σ_t (x_t − r T_t)² / (r T_t) / (n − 1), where r = Σ x / Σ T is the
/// baseline's rate per unit of total and r T_t each step's expected count. This is R's
/// `summary(glm(x ~ offset(log(T)), family = quasipoisson))$dispersion` (whose fit is exactly
/// that r). With equal totals it is [`count_dispersion`]; with varying ones a step with ten
/// times the traffic is expected to have ten times the errors, so traffic that varies is not
/// taken for bursts.
///
/// `counts` and `totals` are the baseline's, step for step (pairs with a missing value or a
/// total ≤ 0 left out by the caller); pairs beyond the shorter of the two are ignored. The same
/// gate as [`count_dispersion`]: 1 unless φ exceeds 1 + 2 √(2 / (n − 1)); 1 as well for fewer
/// than 3 steps, no events, or a total that is not finite and positive.
pub fn count_dispersion_with_totals(counts: &[f64], totals: &[f64]) -> f64 {
    let n = counts.len().min(totals.len());
    let (counts, totals) = (&counts[..n], &totals[..n]);
    let df = n as f64 - 1.0;
    if df < 2.0 || totals.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
        return 1.0;
    }
    let events = super::describe::sum(counts);
    let exposure = super::describe::sum(totals);
    let rate = events / exposure;
    if rate <= 0.0 || !rate.is_finite() {
        return 1.0;
    }
    let phi = counts
        .iter()
        .zip(totals)
        .map(|(x, t)| {
            let expected = rate * t;
            (x - expected) * (x - expected) / expected
        })
        .sum::<f64>()
        / df;
    if phi.is_finite() && phi > 1.0 + 2.0 * (2.0 / df).sqrt() {
        phi
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_worth_more_dependent_points_than_a_mean() {
        // lag-1 0.8 (after correction): a mean gets n (1 - 0.8) / 1.8, a spread
        // n (1 - 0.64) / 1.64.
        let mean = EffectiveSize {
            count: 120,
            lag1: Some(0.75),
            effective: 120.0 * 0.2 / 1.8,
            used: Some(0.8),
            change_at: None,
        };
        let spread = spread_effective(&mean);
        assert!(
            (spread.effective - 120.0 * 0.36 / 1.64).abs() < 1e-9,
            "{spread:?}"
        );
        assert_eq!(
            (spread.count, spread.lag1, spread.used),
            (120, Some(0.75), Some(0.8))
        );
        let independent = EffectiveSize {
            count: 50,
            lag1: Some(0.05),
            effective: 50.0,
            used: None,
            change_at: None,
        };
        assert_eq!(spread_effective(&independent), independent);
    }

    #[test]
    fn matches_r_acf() {
        // R: acf(c(1, 3, 2, 5, 4, 6), lag.max = 1, plot = FALSE)$acf[2] = 0.1
        let r = lag1_autocorrelation(&[1.0, 3.0, 2.0, 5.0, 4.0, 6.0]).unwrap();
        assert!((r - 0.1).abs() < 1e-12, "{r}");
        assert_eq!(lag1_autocorrelation(&[1.0, 1.0, 1.0]), None);
        assert_eq!(lag1_autocorrelation(&[1.0, 2.0]), None);
    }

    #[test]
    fn a_shared_pattern_cancels_when_aligned() {
        let wave: Vec<f64> = (0..120).map(|i| (f64::from(i) / 9.0).sin()).collect();
        // Two orders of 0..120 without serial dependence (strides 77 and 53 through it).
        let jitter = |k: usize| -> Vec<f64> {
            let stride = if k == 1 { 77 } else { 53 };
            (0..120)
                .map(|i| 0.1 * ((((i * stride + k) % 120) as f64) / 60.0 - 1.0))
                .collect()
        };
        let c: Vec<f64> = wave.iter().zip(jitter(1)).map(|(w, j)| w + j).collect();
        let b: Vec<f64> = wave.iter().zip(jitter(5)).map(|(w, j)| w + j).collect();
        let (own_c, _) = effective_sizes(&c, &b, false);
        assert!(own_c.effective < 20.0, "{own_c:?}");
        let (pc, pb) = effective_sizes(&c, &b, true);
        assert_eq!((pc.effective, pb.effective), (120.0, 120.0));
        assert!(
            pc.lag1.unwrap() > 0.8,
            "each side's own autocorrelation is reported"
        );
        // A step in the canary does not make the comparison discount itself.
        let stepped: Vec<f64> = jitter(1)
            .iter()
            .enumerate()
            .map(|(i, j)| j + if i >= 60 { 1.0 } else { 0.0 })
            .collect();
        let (sc, sb) = effective_sizes(&stepped, &jitter(5), false);
        assert!(sc.lag1.unwrap() > 0.8);
        assert_eq!((sc.effective, sb.effective), (120.0, 120.0));
    }

    #[test]
    fn dispersion_of_bursts() {
        let poisson_like = [0.0, 1.0, 0.0, 2.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 2.0, 0.0];
        assert_eq!(count_dispersion(&poisson_like), 1.0);
        let bursts = [0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0];
        assert!(count_dispersion(&bursts) > 3.0);
        assert_eq!(count_dispersion(&[0.0; 5]), 1.0);
    }

    #[test]
    fn dispersion_with_totals_is_rs_quasipoisson_dispersion() {
        let totals = [
            100.0, 300.0, 150.0, 400.0, 200.0, 120.0, 500.0, 100.0, 300.0, 90.0, 350.0, 200.0,
        ];
        // R 4.2: x <- c(0, 0, 12, 1, 0, 0, 15, 0, 1, 0, 0, 2); r <- sum(x) / sum(T);
        // sum((x - r * T)^2 / (r * T)) / (length(x) - 1) = 9.0137585532746805, and
        // summary(glm(x ~ offset(log(T)), family = quasipoisson,
        //   control = glm.control(epsilon = 1e-14)))$dispersion = 9.0137585532995921.
        let bursts = [0.0, 0.0, 12.0, 1.0, 0.0, 0.0, 15.0, 0.0, 1.0, 0.0, 0.0, 2.0];
        let phi = count_dispersion_with_totals(&bursts, &totals);
        assert!((phi - 9.013_758_553_274_68).abs() < 1e-12, "{phi}");
        // Counts that follow the traffic: R gives 0.66720408163265299, below the gate
        // 1 + 2 sqrt(2 / 11) = 1.853: no discount.
        let following = [0.0, 3.0, 1.0, 7.0, 2.0, 0.0, 9.0, 1.0, 4.0, 0.0, 6.0, 2.0];
        assert_eq!(count_dispersion_with_totals(&following, &totals), 1.0);
        // Equal totals: the index of dispersion of the counts themselves.
        let burst_steps = [0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0];
        let equal = [50.0; 12];
        let a = count_dispersion_with_totals(&burst_steps, &equal);
        let b = count_dispersion(&burst_steps);
        assert!((a - b).abs() < 1e-12 * b, "{a} {b}");
        // Nothing to estimate from.
        assert_eq!(count_dispersion_with_totals(&[0.0; 5], &[10.0; 5]), 1.0);
        assert_eq!(count_dispersion_with_totals(&[1.0, 9.0], &[1.0, 1.0]), 1.0);
        assert_eq!(
            count_dispersion_with_totals(&[0.0, 9.0, 0.0, 8.0], &[1.0, 0.0, 1.0, 1.0]),
            1.0
        );
    }

    #[test]
    fn effective_size_shrinks_only_when_material() {
        let alternating: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        let e = effective_size(&alternating);
        assert!(e.lag1.unwrap() < 0.0);
        assert_eq!(e.effective, 100.0);
        assert!(!e.adjusted());
        let trend: Vec<f64> = (0..100).map(f64::from).collect();
        let e = effective_size(&trend);
        assert!(e.lag1.unwrap() > 0.9);
        assert!(e.effective < 5.0 && e.effective >= 2.0, "{e:?}");
        assert!(e.inflation() > 20.0);
    }
}
