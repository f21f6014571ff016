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
//! jumps at pairwise differences, so every root is an order statistic of `D`. The ranks of all
//! three roots follow from the counts alone; their order statistics are then selected exactly,
//! together, by sampled narrowing over the implicit matrix of differences (`select`: about three
//! O(n + m) rounds) without materialising the n*m differences. Each sample is sorted once
//! (radix sort for large samples) and that order serves the ranks, the ties, the statistic and
//! the selection.
//! The ends (`mumin`, `mumax`) are evaluated literally, with their real ties, as R does.

use super::normal::Reference;
use super::radix;
use super::select::{first_count, PairwiseDifferences};
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

    let xs = radix::sorted(x);
    let ys = radix::sorted(y);
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
    let xs = radix::sorted(x);
    let ys = radix::sorted(y);
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

    // R's W(d) at the ends, evaluated literally (with real ties) once each.
    let (at_min, at_max) = (sample.ranks_at(mumin), sample.ranks_at(mumax));
    let w_min = sample.standardised(at_min, true);
    let w_max = sample.standardised(at_max, true);
    // Each of the three roots is an end or an interior root; the interior ones' order
    // statistics are selected together.
    let root = |zq: f64, correct: bool, at_end: Option<f64>| match at_end {
        Some(end) => Err(end),
        None => {
            let (a, b) = roots.interior_ranks(zq, correct);
            Ok(InteriorRoot { a, b })
        }
    };
    let bound = |zq: f64| {
        let end = if w_min - zq <= 0.0 {
            Some(mumin)
        } else if w_max - zq >= 0.0 {
            Some(mumax)
        } else {
            None
        };
        root(zq, true, end)
    };
    let lower = bound(reference.quantile(alpha / 2.0, false));
    let upper = bound(reference.quantile(alpha / 2.0, true));
    // R: correct <- FALSE; uniroot(W, mumin, mumax): an end where W is exactly 0 is the root.
    let estimate_end = if sample.standardised(at_min, false) == 0.0 {
        Some(mumin)
    } else if sample.standardised(at_max, false) == 0.0 {
        Some(mumax)
    } else {
        None
    };
    let estimate = root(0.0, false, estimate_end);
    let all = [&lower, &upper, &estimate];
    let ks: Vec<u64> = all
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(InteriorRoot::ranks)
        .collect();
    let selected = diffs.select(&ks);
    let mut next = 0usize;
    let mut value = |r: &Result<InteriorRoot, f64>| match r {
        Err(end) => *end,
        Ok(root) => {
            let used = root.ranks().len();
            let v = root.value(&selected[next..next + used]);
            next += used;
            v
        }
    };
    let (lower, upper, estimate) = (value(&lower), value(&upper), value(&estimate));

    MannWhitney {
        method: Method::Normal,
        statistic,
        p_value,
        estimate: estimate + 0.0,
        ci: (lower + 0.0, upper + 0.0),
        confidence,
    }
}

/// `sum(NTIES^3 - NTIES)` over the runs of equal values of a sorted sample, summed in
/// ascending order.
pub(crate) fn tie_sum_sorted(s: &[f64]) -> f64 {
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
    /// The rank sum is accumulated doubled in integers (exact); `NTIES^3 - NTIES` in doubles
    /// group by group in ascending order, as R sums it.
    fn ranks_at(&self, d: f64) -> Ranks {
        let (xs, ys) = (self.xs, self.ys);
        let (n, m) = (xs.len(), ys.len());
        let (mut i, mut j) = (0usize, 0usize);
        let mut before = 0u64;
        let mut twice_rank_sum_x = 0u128;
        let mut tie_sum = 0.0f64;
        let mut group = |tx: u64, ty: u64, before: &mut u64| {
            let t = tx + ty;
            twice_rank_sum_x += u128::from(tx) * u128::from(2 * *before + t + 1);
            if t > 1 {
                let t = t as f64;
                tie_sum += t * t * t - t;
            }
            *before += t;
        };
        while j < m {
            let yv = ys[j];
            // The groups of x - d below the next y.
            while i < n {
                let xv = xs[i] - d;
                // NaN never occurs here (finite samples, differences at most infinite).
                if xv >= yv {
                    break;
                }
                let i0 = i;
                i += 1;
                while i < n && xs[i] - d == xv {
                    i += 1;
                }
                group((i - i0) as u64, 0, &mut before);
            }
            // The group at yv, with the x - d equal to it.
            let (i0, j0) = (i, j);
            while i < n && xs[i] - d == yv {
                i += 1;
            }
            j += 1;
            while j < m && ys[j] == yv {
                j += 1;
            }
            group((i - i0) as u64, (j - j0) as u64, &mut before);
        }
        while i < n {
            let (xv, i0) = (xs[i] - d, i);
            i += 1;
            while i < n && xs[i] - d == xv {
                i += 1;
            }
            group((i - i0) as u64, 0, &mut before);
        }
        Ranks {
            rank_sum_x: twice_rank_sum_x as f64 / 2.0,
            tie_sum,
        }
    }

    /// `sum(NTIES^3 - NTIES)` for ties within x and within y only (no cross ties).
    fn tie_sum_within(&self) -> f64 {
        tie_sum_sorted(self.xs) + tie_sum_sorted(self.ys)
    }

    /// R's SIGMA for a given `sum(NTIES^3 - NTIES)`.
    fn sigma(&self, tie_sum: f64) -> f64 {
        let (n, m) = (self.n, self.m);
        ((n * m / 12.0) * ((n + m + 1.0) - tie_sum / ((n + m) * (n + m - 1.0)))).sqrt()
            * self.inflation.sqrt()
    }

    /// R's inner `W(d)`: `(dz - CORRECTION.CI) / SIGMA.CI`, evaluated literally from the
    /// ranks at `d`.
    fn standardised(&self, ranks: Ranks, correct: bool) -> f64 {
        let (n, m) = (self.n, self.m);
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

    /// The order statistics that bound the root strictly inside (mumin, mumax): f > 0 for d
    /// below `D[a]` and f < 0 for d at or above `D[b]` (1-based); between them f == 0, and
    /// a == b when no count gives exactly 0.
    fn interior_ranks(&self, zq: f64, correct: bool) -> (u64, u64) {
        let nm = self.diffs.len();
        // f is non-decreasing in c. c_pos: least c with f > 0; c_neg: greatest c with f < 0.
        let c_pos = first_count(nm, |c| self.f(c, zq, correct) > 0.0);
        let c_neg_plus_1 = first_count(nm, |c| self.f(c, zq, correct) >= 0.0);
        let a = (nm + 1).saturating_sub(c_pos);
        let b = nm.saturating_sub(c_neg_plus_1) + 1;
        (a, b)
    }
}

/// An interior root by its bounding order statistics: `D[a]`, or where f is exactly 0 on a
/// whole interval between two differences, its midpoint.
struct InteriorRoot {
    a: u64,
    b: u64,
}

impl InteriorRoot {
    /// The order statistics it needs (1-based).
    fn ranks(&self) -> Vec<u64> {
        if self.b > self.a {
            vec![self.a, self.b]
        } else {
            vec![self.a]
        }
    }

    /// The root from the selected order statistics of [`Self::ranks`], in that order.
    fn value(&self, selected: &[f64]) -> f64 {
        match selected {
            [d_a, d_b] => midpoint(*d_a, *d_b),
            [d_a, ..] => *d_a,
            [] => f64::NAN,
        }
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
