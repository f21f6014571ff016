//! Two-sample Wilcoxon rank-sum (Mann-Whitney U) test with the Hodges-Lehmann estimate and
//! confidence interval, as R 4.2 `wilcox.test(x, y, conf.int = TRUE, conf.level = c)`
//! (two-sided, `mu = 0`, `correct = TRUE`, `exact = NULL`).
//!
//! Reference: `stats:::wilcox.test.default` of R 4.2.2, checked case by case against
//! `fixtures/stats/wilcox-reference.json` (written by `scripts/r-reference/generate.R`).
//! Tolerance: W equal; p-value within 1e-9 relative; in the exact case estimate, interval and
//! confidence level equal to R's (same doubles). In the normal case R finds the estimate and the
//! interval ends with `uniroot(tol = 1e-4)`; here they are found exactly, so they lie within
//! about 1e-4 of R's. Where R's function is zero on a whole interval (the estimate when n*m is
//! even) R stops anywhere inside it and this returns the middle of it.
//!
//! How the normal-case roots are found exactly: for a shift `d` strictly between two
//! consecutive distinct pairwise differences `D = x[i] - y[j]`, no `x - d` ties with a `y`, so
//! R's standardised statistic is `(c - nm/2 - corr(c)) / sigma0` with `c = #{D > d}` and
//! `sigma0` from the ties within `x` and within `y` only. It is non-increasing in `d` and only
//! jumps at pairwise differences, so every root is an order statistic of `D`, selected exactly
//! by `select` in O((n + m) * 64) time without materialising the n*m differences.
//! The ends (`mumin`, `mumax`) are evaluated literally, with their real ties, as R does.

use super::normal::Reference;
use super::select::PairwiseDifferences;
use super::wilcox_dist::RankSumDistribution;
use super::StatsError;
use super::{require_confidence, require_samples};

/// Exact (rank-sum distribution) or normal approximation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Both samples under 50 and no ties: the exact Wilcoxon rank-sum distribution.
    Exact,
    /// Normal approximation with tie and continuity correction.
    Normal,
}

/// The result of [`mann_whitney`], field for field R's `htest` object.
#[derive(Debug, Clone, PartialEq)]
pub struct MannWhitney {
    /// Exact or normal.
    pub method: Method,
    /// R's W: the rank sum of `x` minus n(n+1)/2.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Hodges-Lehmann estimate of the shift x - y.
    pub estimate: f64,
    /// Confidence interval of the shift.
    pub ci: (f64, f64),
    /// The confidence level of `ci`: the requested one, or R's adjusted level when the requested
    /// one is not achievable in the exact case.
    pub confidence: f64,
}

/// `wilcox.test(x, y, conf.int = TRUE, conf.level = confidence)`, two-sided, mu = 0,
/// correct = TRUE. `x` is the canary and `y` the baseline in canaryd.
///
/// Deviations from R, both where R gives no answer (CONTRACT §5):
/// - every observation of both samples is one single value: R's p-value is NaN and it cannot
///   compute an interval; this returns method normal, R's W, p-value 1, estimate 0 and
///   interval (0, 0);
/// - each sample is constant but the two constants differ: R computes W and the p-value but
///   refuses the interval; this returns R's W and p-value with estimate and both ends equal to
///   the difference of the constants.
///
/// When the requested level is not achievable in the exact case, `confidence` is R 4.2's
/// `1 - achieved.alpha` (R 4.2's two-sample branch does not round it with `signif`).
///
/// Errors: an empty sample, a value that is NaN or infinite, a confidence level outside (0, 1).
/// Never panics on finite input; pure (no I/O, no randomness).
pub fn mann_whitney(x: &[f64], y: &[f64], confidence: f64) -> Result<MannWhitney, StatsError> {
    require_samples(x, y, 1)?;
    require_confidence(confidence)?;

    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    let sample = Samples::new(&xs, &ys);

    let ranks = sample.ranks_at(0.0);
    let statistic = ranks.rank_sum_x - sample.n * (sample.n + 1.0) / 2.0;
    let exact = sample.n < 50.0 && sample.m < 50.0;
    if exact && ranks.tie_sum == 0.0 {
        if let Some(dist) = RankSumDistribution::new(xs.len(), ys.len()) {
            return Ok(exact_test(x, y, statistic, confidence, &dist));
        }
    }
    Ok(normal_test(
        &sample,
        statistic,
        ranks.tie_sum,
        confidence,
        Reference::Normal,
    ))
}

/// The normal-approximation branch of [`mann_whitney`] (R's `wilcox.test(x, y, conf.int =
/// TRUE, exact = FALSE)`) for serially dependent samples: the variance of the rank sum is
/// inflated by the design effects `x_inflation` = n/n_eff of `x` and `y_inflation` of `y`.
///
/// Under no shift W − nm/2 ≈ m Σᵢ (F(xᵢ) − ½) − n Σⱼ (F(yⱼ) − ½) (Hoeffding's projection),
/// whose variance is nm (m + n) / 12 for independent points. With serially dependent points
/// each sum's variance grows by its side's design effect d = n / n_eff, giving
/// nm (m d_x + n d_y) / 12; so R's σ² is multiplied by (m d_x + n d_y + 1) / (n + m + 1), with
/// n = |x|, m = |y|. With both inflations 1 this is R's
/// normal branch exactly (tested against R with `exact = FALSE`); the interval and estimate
/// are found exactly as in [`mann_whitney`]. When either inflation is above 1 the standardised
/// statistic is referred to Student's t on n/d_x + m/d_y − 2 degrees of freedom (the effective
/// sizes' two-sample degrees of freedom) instead of the normal, for the p-value and the
/// interval: see `normal::Reference`. `method` is always [`Method::Normal`].
///
/// Errors: as [`mann_whitney`], and an inflation below 1 or not finite.
pub fn mann_whitney_inflated(
    x: &[f64],
    y: &[f64],
    confidence: f64,
    x_inflation: f64,
    y_inflation: f64,
) -> Result<MannWhitney, StatsError> {
    require_samples(x, y, 1)?;
    require_confidence(confidence)?;
    if !(x_inflation >= 1.0
        && x_inflation.is_finite()
        && y_inflation >= 1.0
        && y_inflation.is_finite())
    {
        return Err(StatsError::InvalidArgument(
            "variance inflations must be finite and at least 1",
        ));
    }
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    let mut sample = Samples::new(&xs, &ys);
    let (n, m) = (sample.n, sample.m);
    sample.inflation = (m * x_inflation + n * y_inflation + 1.0) / (n + m + 1.0);
    let ranks = sample.ranks_at(0.0);
    let statistic = ranks.rank_sum_x - n * (n + 1.0) / 2.0;
    let reference = if x_inflation > 1.0 || y_inflation > 1.0 {
        Reference::student(n / x_inflation + m / y_inflation - 2.0)
    } else {
        Reference::Normal
    };
    Ok(normal_test(
        &sample,
        statistic,
        ranks.tie_sum,
        confidence,
        reference,
    ))
}

/// The exact branch of R: p from `pwilcox`, interval and estimate from the sorted differences.
fn exact_test(
    x: &[f64],
    y: &[f64],
    statistic: f64,
    confidence: f64,
    dist: &RankSumDistribution,
) -> MannWhitney {
    let nm = (x.len() * y.len()) as f64;
    let p = if statistic > nm / 2.0 {
        dist.cdf(statistic - 1.0, false)
    } else {
        dist.cdf(statistic, true)
    };
    let p_value = (2.0 * p).min(1.0);

    let mut diffs: Vec<f64> = x
        .iter()
        .flat_map(|xi| y.iter().map(move |yj| xi - yj))
        .collect();
    diffs.sort_unstable_by(f64::total_cmp);
    let alpha = 1.0 - confidence;
    let mut qu = dist.quantile(alpha / 2.0);
    if qu == 0.0 {
        qu = 1.0;
    }
    let ql = nm - qu;
    let achieved_alpha = 2.0 * dist.cdf(qu.trunc() - 1.0, true);
    // R indexes diffs[qu] and diffs[ql + 1], 1-based; 1 <= qu <= nm/2 + 1 here.
    let at = |k1: f64| diffs[(k1 as usize).clamp(1, diffs.len()) - 1] + 0.0;
    let ci = (at(qu), at(ql + 1.0));
    // R 4.2's two-sample branch reports 1 - achieved.alpha (unrounded).
    let confidence = if achieved_alpha - alpha > alpha / 2.0 {
        1.0 - achieved_alpha
    } else {
        confidence
    };
    MannWhitney {
        method: Method::Exact,
        statistic,
        p_value,
        estimate: sorted_median(&diffs),
        ci,
        confidence,
    }
}

/// The normal branch of R, with the interval and estimate found exactly (see module docs).
fn normal_test(
    sample: &Samples,
    statistic: f64,
    tie_sum: f64,
    confidence: f64,
    reference: Reference,
) -> MannWhitney {
    let (n, m) = (sample.n, sample.m);
    let z = statistic - n * m / 2.0;
    let sigma = sample.sigma(tie_sum);
    let correction = r_sign(z) * 0.5;
    let zs = (z - correction) / sigma;
    let p_value = 2.0 * reference.lower(zs).min(reference.upper(zs));

    let (x_lo, x_hi, y_lo, y_hi) = sample.extremes();
    if x_lo == x_hi && y_lo == y_hi {
        // Each side constant: R refuses the interval; the shift is known exactly. When both
        // constants agree R's p-value is NaN (0/0): report 1, no evidence of a shift.
        let shift = x_lo - y_lo + 0.0;
        return MannWhitney {
            method: Method::Normal,
            statistic,
            p_value: if p_value.is_nan() { 1.0 } else { p_value },
            estimate: shift,
            ci: (shift, shift),
            confidence,
        };
    }

    let alpha = 1.0 - confidence;
    let diffs = PairwiseDifferences::new(sample.xs, sample.ys);
    let (mumin, mumax) = (diffs.min(), diffs.max());
    let sigma0 = sample.sigma(sample.tie_sum_within());
    let roots = RootFinder {
        sample,
        diffs: &diffs,
        sigma0,
    };

    let w_min = sample.standardised_at(mumin, true);
    let w_max = sample.standardised_at(mumax, true);
    let root = |zq: f64| {
        if w_min - zq <= 0.0 {
            mumin
        } else if w_max - zq >= 0.0 {
            mumax
        } else {
            roots.interior_root(zq, true)
        }
    };
    let lower = root(reference.quantile(alpha / 2.0, false));
    let upper = root(reference.quantile(alpha / 2.0, true));

    // R: correct <- FALSE; uniroot(W, mumin, mumax): an end where W is exactly 0 is the root.
    let estimate = if sample.standardised_at(mumin, false) == 0.0 {
        mumin
    } else if sample.standardised_at(mumax, false) == 0.0 {
        mumax
    } else {
        roots.interior_root(0.0, false)
    };

    MannWhitney {
        method: Method::Normal,
        statistic,
        p_value,
        estimate: estimate + 0.0,
        ci: (lower + 0.0, upper + 0.0),
        confidence,
    }
}

/// R's `sign`: -1, 0 or 1.
pub(crate) fn r_sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// R's `median` of an already sorted, non-empty vector.
fn sorted_median(sorted: &[f64]) -> f64 {
    let len = sorted.len();
    if len == 0 {
        return f64::NAN;
    }
    let half = len.div_ceil(2);
    if len % 2 == 1 {
        sorted[half - 1] + 0.0
    } else {
        midpoint(sorted[half - 1], sorted[half])
    }
}

/// (a + b) / 2 without overflow, as R's `mean` of two values.
fn midpoint(a: f64, b: f64) -> f64 {
    let mid = (a + b) / 2.0;
    if mid.is_finite() {
        mid + 0.0
    } else {
        a / 2.0 + b / 2.0 + 0.0
    }
}

/// Mid-rank statistics of `c(x - d, y)`.
#[derive(Debug, Clone, Copy)]
struct Ranks {
    /// Sum of the ranks of the `x - d`.
    rank_sum_x: f64,
    /// `sum(NTIES^3 - NTIES)` over the tie groups.
    tie_sum: f64,
}

/// Both samples sorted ascending, with their sizes as R's doubles.
struct Samples<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    n: f64,
    m: f64,
    /// Variance inflation of the rank sum for serially dependent samples (1: R's test).
    inflation: f64,
}

impl<'a> Samples<'a> {
    fn new(xs: &'a [f64], ys: &'a [f64]) -> Self {
        Self {
            xs,
            ys,
            n: xs.len() as f64,
            m: ys.len() as f64,
            inflation: 1.0,
        }
    }

    /// (min x, max x, min y, max y).
    fn extremes(&self) -> (f64, f64, f64, f64) {
        let first_last = |s: &[f64]| match (s.first(), s.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (f64::NAN, f64::NAN),
        };
        let (x_lo, x_hi) = first_last(self.xs);
        let (y_lo, y_hi) = first_last(self.ys);
        (x_lo, x_hi, y_lo, y_hi)
    }

    /// `rank(c(x - d, y))` summarised, by merging the two sorted samples (x - d stays sorted).
    fn ranks_at(&self, d: f64) -> Ranks {
        let (xs, ys) = (self.xs, self.ys);
        let (mut i, mut j) = (0usize, 0usize);
        let mut before = 0.0f64;
        let mut rank_sum_x = 0.0f64;
        let mut tie_sum = 0.0f64;
        while i < xs.len() || j < ys.len() {
            let next_x = xs.get(i).map(|&v| v - d);
            let next_y = ys.get(j).copied();
            let v = match (next_x, next_y) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            let mut tx = 0usize;
            while i < xs.len() && xs[i] - d == v {
                i += 1;
                tx += 1;
            }
            let mut ty = 0usize;
            while j < ys.len() && ys[j] == v {
                j += 1;
                ty += 1;
            }
            let t = (tx + ty) as f64;
            if tx + ty == 0 {
                // Unreachable for NaN-free input; guards against an endless loop.
                break;
            }
            rank_sum_x += tx as f64 * (before + (t + 1.0) / 2.0);
            tie_sum += t * t * t - t;
            before += t;
        }
        Ranks {
            rank_sum_x,
            tie_sum,
        }
    }

    /// `sum(NTIES^3 - NTIES)` for ties within x and within y only (no cross ties).
    fn tie_sum_within(&self) -> f64 {
        fn within(s: &[f64]) -> f64 {
            let mut sum = 0.0;
            let mut start = 0usize;
            for k in 1..=s.len() {
                if k == s.len() || s[k] != s[start] {
                    let t = (k - start) as f64;
                    sum += t * t * t - t;
                    start = k;
                }
            }
            sum
        }
        within(self.xs) + within(self.ys)
    }

    /// R's SIGMA for a given `sum(NTIES^3 - NTIES)`.
    fn sigma(&self, tie_sum: f64) -> f64 {
        let (n, m) = (self.n, self.m);
        ((n * m / 12.0) * ((n + m + 1.0) - tie_sum / ((n + m) * (n + m - 1.0)))).sqrt()
            * self.inflation.sqrt()
    }

    /// R's inner `W(d)`: `(dz - CORRECTION.CI) / SIGMA.CI`, evaluated literally.
    fn standardised_at(&self, d: f64, correct: bool) -> f64 {
        let (n, m) = (self.n, self.m);
        let ranks = self.ranks_at(d);
        let dz = ranks.rank_sum_x - n * (n + 1.0) / 2.0 - n * m / 2.0;
        let correction = if correct { r_sign(dz) * 0.5 } else { 0.0 };
        (dz - correction) / self.sigma(ranks.tie_sum)
    }
}

/// Finds the sign change of R's `W(d) - zq` between the ends as an order statistic.
struct RootFinder<'a, 'b> {
    sample: &'a Samples<'b>,
    diffs: &'a PairwiseDifferences<'b>,
    sigma0: f64,
}

impl RootFinder<'_, '_> {
    /// `W(d) - zq` for a `d` between pairwise differences with `c = #{D > d}`.
    fn f(&self, c: u64, zq: f64, correct: bool) -> f64 {
        let dz = c as f64 - self.sample.n * self.sample.m / 2.0;
        let correction = if correct { r_sign(dz) * 0.5 } else { 0.0 };
        (dz - correction) / self.sigma0 - zq
    }

    /// The smallest c in 0..=nm with `pred(c)` (pred monotone false..true), or nm + 1.
    fn first_count(&self, pred: impl Fn(u64) -> bool) -> u64 {
        let (mut lo, mut hi) = (0u64, self.diffs.len() + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The root strictly inside (mumin, mumax): f > 0 for d below it, f < 0 above it. Where f
    /// is exactly 0 on a whole interval between two differences, its midpoint.
    fn interior_root(&self, zq: f64, correct: bool) -> f64 {
        let nm = self.diffs.len();
        // f is non-decreasing in c. c_pos: least c with f > 0; c_neg: greatest c with f < 0.
        let c_pos = self.first_count(|c| self.f(c, zq, correct) > 0.0);
        let c_neg_plus_1 = self.first_count(|c| self.f(c, zq, correct) >= 0.0);
        // f > 0 for d < D[a] and f < 0 for d >= D[b] (1-based order statistics); between them
        // f == 0. a == b when no count gives exactly 0.
        let a = (nm + 1).saturating_sub(c_pos);
        let b = nm.saturating_sub(c_neg_plus_1) + 1;
        let d_a = self.diffs.kth_smallest(a);
        if b <= a {
            return d_a;
        }
        let d_b = if b > a + 1 {
            self.diffs.kth_smallest(b)
        } else if self.diffs.count_le(d_a) >= b.min(nm) {
            // D[a] is repeated: D[a + 1] is the same value.
            d_a
        } else {
            self.diffs.next_above(d_a).unwrap_or(d_a)
        };
        midpoint(d_a, d_b)
    }
}

#[cfg(test)]
mod tests {
    use super::{mann_whitney, Method};
    use crate::stats::StatsError;

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            mann_whitney(&[], &[1.0], 0.95),
            Err(StatsError::NotEnoughObservations("x"))
        );
        assert_eq!(
            mann_whitney(&[1.0], &[], 0.95),
            Err(StatsError::NotEnoughObservations("y"))
        );
        assert_eq!(
            mann_whitney(&[f64::NAN], &[1.0], 0.95),
            Err(StatsError::NotFinite("x"))
        );
        assert_eq!(
            mann_whitney(&[1.0], &[f64::INFINITY], 0.95),
            Err(StatsError::NotFinite("y"))
        );
        for c in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(matches!(
                mann_whitney(&[1.0], &[2.0], c),
                Err(StatsError::BadConfidence(_))
            ));
        }
    }

    #[test]
    fn small_exact_case_matches_r() {
        // R: wilcox.test(c(1,2,3), c(4,5,6), conf.int = TRUE): W = 0, p = 0.1,
        // estimate -3, interval (-5, -1) at the achieved level 0.9.
        let r = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.95).unwrap();
        assert_eq!(r.method, Method::Exact);
        assert_eq!(r.statistic, 0.0);
        assert!((r.p_value - 0.1).abs() < 1e-15);
        assert_eq!(r.estimate, -3.0);
        assert_eq!(r.ci, (-5.0, -1.0));
        assert!((r.confidence - 0.9).abs() < 1e-15);
    }
}
