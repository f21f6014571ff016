//! Wilcoxon signed-rank test of paired samples with the Hodges-Lehmann estimate (the median of
//! the Walsh averages of the differences) and its confidence interval, as R 4.2
//! `wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = c)` (two-sided, `mu = 0`,
//! `correct = TRUE`, `exact = NULL`).
//!
//! References: F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin 1,
//! 1945, 80–83; J. L. Hodges and E. L. Lehmann, "Estimates of location based on rank tests",
//! Ann. Math. Statist. 34, 1963, 598–611; the code is `stats:::wilcox.test.default` and
//! `psignrank`/`qsignrank` (`src/nmath/signrank.c`) of R 4.2.2, checked case by case against
//! `fixtures/stats/signed-rank-reference.json` (written by
//! `scripts/r-reference/generate-signed-rank.R`) in `tests/canaryd/stats_paired.rs`.
//!
//! Tolerance: V equal; p-value within 1e-9 relative; in the exact case (fewer than 50 non-zero
//! differences, no ties among their absolute values, no zero) estimate, interval and
//! confidence level equal to R's. In the normal case R finds the interval ends and the estimate
//! with `uniroot(tol = 1e-4)`; here they are found exactly, so the ends lie within about 1e-4
//! of R's, and where R's function is zero on a whole interval (the estimate) R stops anywhere
//! inside it while this returns its middle.
//!
//! How the normal-case roots are found exactly: for a shift `d` strictly between two
//! consecutive distinct Walsh averages (xᵢ + xⱼ) / 2, i ≤ j, of the non-zero differences, no
//! `x - d` is zero and two absolute values tie only where two differences are equal, so
//! V(d) = #{Walsh averages > d} (Tukey) and R's σ is that of the ties within the differences.
//! R's standardised statistic is non-increasing in `d` and jumps only at Walsh averages: every
//! root is one of them. The ends (`min(x)`, `max(x)`) are evaluated literally, with their ties.
//!
//! [`signed_rank_inflated`] is the normal branch with the variance of V multiplied by a design
//! effect, for serially dependent differences (see [`super::autocorrelation`]).

use super::mann_whitney::Method;
use super::mann_whitney::{r_sign, tie_sum_sorted};
use super::normal::Reference;
use super::radix;
use super::select::{first_count, PairwiseDifferences};
use super::StatsError;
use super::{require_confidence, require_finite};

/// The result of [`signed_rank`], field for field R's `htest` object.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRank {
    /// Exact or normal.
    pub method: Method,
    /// R's V: the sum of the ranks of |x − y| over the positive differences.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Hodges-Lehmann estimate: R's (pseudo)median of x − y.
    pub estimate: f64,
    /// Confidence interval of the (pseudo)median.
    pub ci: (f64, f64),
    /// Confidence level of `ci`: the requested one, or R's adjusted one.
    pub confidence: f64,
    /// Differences that are not zero (R's n).
    pub n: usize,
}

/// `wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = confidence)`.
///
/// Deviation from R where R gives no answer: when every difference is zero (or all non-zero
/// differences are one value, so R cannot compute an interval), this returns p-value 1 (resp.
/// R's), and estimate and both ends equal to that one value.
///
/// Errors: samples of different lengths or empty, a value that is not finite, a confidence
/// level outside (0, 1).
pub fn signed_rank(x: &[f64], y: &[f64], confidence: f64) -> Result<SignedRank, StatsError> {
    let d = differences(x, y, confidence)?;
    let n = d.len();
    let r = abs_ranks(&d, 0.0);
    let statistic = r.positive_sum;
    let zeroes = d.len() < x.len();
    if n < 50 && !r.ties && !zeroes && n > 0 {
        return Ok(exact(&d, statistic, confidence));
    }
    Ok(normal(
        &d,
        statistic,
        r.tie_sum,
        confidence,
        1.0,
        Reference::Normal,
    ))
}

/// The normal branch of [`signed_rank`] (R's `exact = FALSE`) with the variance of V multiplied
/// by `inflation` = n / n_eff ≥ 1, for autocorrelated differences: V − n(n+1)/4 is a sum of
/// per-point terms (Hoeffding's projection), whose variance under serial dependence grows by
/// the design effect. With `inflation` 1 this is R's normal branch exactly; above 1 the
/// standardised statistic is referred to Student's t on n / inflation − 1 degrees of freedom
/// (see `normal::Reference`). `method` is always [`Method::Normal`].
///
/// Errors: as [`signed_rank`], and an inflation below 1 or not finite.
pub fn signed_rank_inflated(
    x: &[f64],
    y: &[f64],
    confidence: f64,
    inflation: f64,
) -> Result<SignedRank, StatsError> {
    if !(inflation >= 1.0 && inflation.is_finite()) {
        return Err(StatsError::InvalidArgument(
            "the variance inflation must be finite and at least 1",
        ));
    }
    let d = differences(x, y, confidence)?;
    let r = abs_ranks(&d, 0.0);
    let reference = if inflation > 1.0 {
        Reference::student(d.len() as f64 / inflation - 1.0)
    } else {
        Reference::Normal
    };
    Ok(normal(
        &d,
        r.positive_sum,
        r.tie_sum,
        confidence,
        inflation,
        reference,
    ))
}

/// The non-zero differences x − y, after checking the input.
fn differences(x: &[f64], y: &[f64], confidence: f64) -> Result<Vec<f64>, StatsError> {
    if x.is_empty() {
        return Err(StatsError::NotEnoughObservations("x"));
    }
    if x.len() != y.len() {
        return Err(StatsError::InvalidArgument(
            "paired samples must have the same length",
        ));
    }
    require_finite(x, y)?;
    require_confidence(confidence)?;
    Ok(x.iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .filter(|v| *v != 0.0)
        .collect())
}

/// Ranks of |x − d| over the non-zero x − d (R's `rank`, average ties).
struct AbsRanks {
    /// Number of non-zero x − d.
    n: usize,
    /// Sum of the ranks of the positive ones.
    positive_sum: f64,
    /// Σ (t³ − t) over groups of tied absolute values.
    tie_sum: f64,
    /// Any tie.
    ties: bool,
}

fn abs_ranks(x: &[f64], d: f64) -> AbsRanks {
    let mut v: Vec<(f64, bool)> = x
        .iter()
        .map(|xi| xi - d)
        .filter(|e| *e != 0.0)
        .map(|e| (e.abs(), e > 0.0))
        .collect();
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    summarise_abs_ranks(&v)
}

/// [`abs_ranks`] of a sample sorted ascending, without a sort: x - d is non-decreasing along
/// it (rounded subtraction is monotone), so the absolute values of the negative part (read
/// backwards) and of the positive part are two ascending runs, merged in one pass.
fn abs_ranks_of_sorted(sorted: &[f64], d: f64) -> AbsRanks {
    let negative = sorted.partition_point(|xi| xi - d < 0.0);
    let positive = sorted.partition_point(|xi| xi - d <= 0.0);
    let below = sorted[..negative]
        .iter()
        .rev()
        .map(|xi| ((xi - d).abs(), false));
    let above = sorted[positive..].iter().map(|xi| ((xi - d).abs(), true));
    let mut v = Vec::with_capacity(negative + sorted.len() - positive);
    let (mut below, mut above) = (below.peekable(), above.peekable());
    loop {
        let next = match (below.peek(), above.peek()) {
            (Some(b), Some(a)) if b.0 <= a.0 => below.next(),
            (Some(_), Some(_)) => above.next(),
            (Some(_), None) => below.next(),
            (None, Some(_)) => above.next(),
            (None, None) => None,
        };
        match next {
            Some(e) => v.push(e),
            None => break,
        }
    }
    summarise_abs_ranks(&v)
}

/// Mid-ranks of `(|e|, e > 0)` sorted by `|e|`: the positive rank sum and the tie sum.
fn summarise_abs_ranks(v: &[(f64, bool)]) -> AbsRanks {
    let (mut positive_sum, mut tie_sum, mut ties) = (0.0, 0.0, false);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        positive_sum += rank * v[i..=j].iter().filter(|e| e.1).count() as f64;
        if t > 1.0 {
            ties = true;
            tie_sum += t * t * t - t;
        }
        i = j + 1;
    }
    AbsRanks {
        n: v.len(),
        positive_sum,
        tie_sum,
        ties,
    }
}

/// σ of V for `n` non-zero values with tie sum `tie_sum`, times √inflation.
fn sigma(n: f64, tie_sum: f64, inflation: f64) -> f64 {
    ((n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - tie_sum / 48.0) * inflation).sqrt()
}

/// Sorted Walsh averages (xᵢ + xⱼ) / 2, i ≤ j, as R: `sort(outer(x, x, "+")[upper]) / 2`.
fn walsh_averages(x: &[f64]) -> Vec<f64> {
    let mut w = Vec::with_capacity(x.len() * (x.len() + 1) / 2);
    for i in 0..x.len() {
        for j in i..x.len() {
            w.push(x[i] + x[j]);
        }
    }
    w.sort_unstable_by(f64::total_cmp);
    w.iter().map(|v| v / 2.0).collect()
}

/// R's `median` of a sorted vector.
fn sorted_median(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The exact null distribution of V for `n` values (R's `csignrank` counts).
struct SignRankDistribution {
    n: usize,
    counts: Vec<f64>,
}

impl SignRankDistribution {
    fn new(n: usize) -> Self {
        let total = n * (n + 1) / 2;
        // Counts of subsets of {1..n} with each sum; below 2^50 for n < 50, exact in u64/f64.
        let mut c = vec![0u64; total + 1];
        c[0] = 1;
        for i in 1..=n {
            for k in (i..=total).rev() {
                c[k] += c[k - i];
            }
        }
        SignRankDistribution {
            n,
            counts: c.iter().map(|v| *v as f64).collect(),
        }
    }

    /// R's `psignrank(q, n, lower.tail)`.
    fn cdf(&self, q: f64, lower_tail: bool) -> f64 {
        let n = self.n as f64;
        let x = (q + 1e-7).round_ties_even();
        if x < 0.0 {
            return if lower_tail { 0.0 } else { 1.0 };
        }
        if x >= n * (n + 1.0) / 2.0 {
            return if lower_tail { 1.0 } else { 0.0 };
        }
        let f = (-n * std::f64::consts::LN_2).exp();
        let mut p = 0.0;
        let mut lower = lower_tail;
        if x <= n * (n + 1.0) / 4.0 {
            for i in 0..=(x as usize) {
                p += self.counts[i] * f;
            }
        } else {
            let x = n * (n + 1.0) / 2.0 - x;
            for i in 0..(x as usize) {
                p += self.counts[i] * f;
            }
            lower = !lower;
        }
        if lower {
            p
        } else {
            0.5 - p + 0.5
        }
    }

    /// R's `qsignrank(p, n)` (lower tail).
    fn quantile(&self, x: f64) -> f64 {
        let n = self.n as f64;
        if x == 0.0 {
            return 0.0;
        }
        if x == 1.0 {
            return n * (n + 1.0) / 2.0;
        }
        let f = (-n * std::f64::consts::LN_2).exp();
        let mut p = 0.0;
        let mut q = 0usize;
        if x <= 0.5 {
            let x = x - 10.0 * f64::EPSILON;
            loop {
                p += self.counts[q] * f;
                if p >= x {
                    break;
                }
                q += 1;
            }
            q as f64
        } else {
            let x = 1.0 - x + 10.0 * f64::EPSILON;
            loop {
                p += self.counts[q] * f;
                if p > x {
                    return n * (n + 1.0) / 2.0 - q as f64;
                }
                q += 1;
            }
        }
    }
}

/// R's exact branch: p from `psignrank`, interval and estimate from the Walsh averages.
fn exact(x: &[f64], statistic: f64, confidence: f64) -> SignedRank {
    let n = x.len();
    let nf = n as f64;
    let dist = SignRankDistribution::new(n);
    let p = if statistic > nf * (nf + 1.0) / 4.0 {
        dist.cdf(statistic - 1.0, false)
    } else {
        dist.cdf(statistic, true)
    };
    let p_value = (2.0 * p).min(1.0);
    let w = walsh_averages(x);
    let alpha = 1.0 - confidence;
    let mut qu = dist.quantile(alpha / 2.0);
    if qu == 0.0 {
        qu = 1.0;
    }
    let ql = nf * (nf + 1.0) / 2.0 - qu;
    let achieved_alpha = 2.0 * dist.cdf(qu.trunc() - 1.0, true);
    let at = |k1: f64| w[(k1 as usize).clamp(1, w.len()) - 1] + 0.0;
    let ci = (at(qu), at(ql + 1.0));
    // R's one-sample branch rounds the achieved level: 1 - signif(achieved.alpha, 2).
    let confidence = if achieved_alpha - alpha > alpha / 2.0 {
        1.0 - signif2(achieved_alpha)
    } else {
        confidence
    };
    SignedRank {
        method: Method::Exact,
        statistic,
        p_value,
        estimate: sorted_median(&w),
        ci,
        confidence,
        n,
    }
}

/// R's `signif(v, 2)` for v in (0, 1].
fn signif2(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let e = v.abs().log10().floor() - 1.0;
    let scale = 10f64.powf(-e);
    (v * scale).round() / scale
}

/// R's standardised W(d), evaluated literally at `d` (the test oracle's).
#[cfg(test)]
fn standardised_at(x: &[f64], d: f64, correct: bool, inflation: f64) -> f64 {
    standardised(&abs_ranks(x, d), correct, inflation)
}

/// R's standardised W(d) of the interval search from the ranks at d.
fn standardised(r: &AbsRanks, correct: bool, inflation: f64) -> f64 {
    let nx = r.n as f64;
    let zd = r.positive_sum - nx * (nx + 1.0) / 4.0;
    let s = sigma(nx, r.tie_sum, inflation);
    let c = if correct { r_sign(zd) * 0.5 } else { 0.0 };
    (zd - c) / s
}

/// R's normal branch (with `inflation` 1), roots found exactly (see the module docs).
fn normal(
    x: &[f64],
    statistic: f64,
    tie_sum: f64,
    confidence: f64,
    inflation: f64,
    reference: Reference,
) -> SignedRank {
    let n = x.len();
    let nf = n as f64;
    if n == 0 {
        return SignedRank {
            method: Method::Normal,
            statistic,
            p_value: 1.0,
            estimate: 0.0,
            ci: (0.0, 0.0),
            confidence,
            n,
        };
    }
    let z = statistic - nf * (nf + 1.0) / 4.0;
    let s = sigma(nf, tie_sum, inflation);
    let zs = (z - r_sign(z) * 0.5) / s;
    let p_value = 2.0 * reference.lower(zs).min(reference.upper(zs));
    let p_value = if p_value.is_nan() { 1.0 } else { p_value };
    let (mumin, mumax) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if mumin == mumax {
        // One value: R cannot compute an interval; the pseudo-median is that value.
        return SignedRank {
            method: Method::Normal,
            statistic,
            p_value,
            estimate: mumin + 0.0,
            ci: (mumin + 0.0, mumin + 0.0),
            confidence,
            n,
        };
    }
    // The Walsh averages as order statistics of the implicit sums x[i] + x[j], i <= j (one
    // sort of x, no n (n + 1) / 2 vector): the k-th average is the k-th sum halved, as R's
    // sort(outer(x, x, "+")[upper]) / 2.
    let sorted = radix::sorted(x);
    let negated: Vec<f64> = sorted.iter().rev().map(|v| -v).collect();
    let sums = PairwiseDifferences::walsh(&sorted, &negated);
    let total = sums.len();
    // σ between Walsh averages: ties only among equal differences.
    let tie_within = tie_sum_sorted(&sorted);
    let sigma0 = sigma(nf, tie_within, inflation);
    let half = nf * (nf + 1.0) / 4.0;
    let between = |c: u64, correct: bool| {
        let zd = c as f64 - half;
        let cc = if correct { r_sign(zd) * 0.5 } else { 0.0 };
        (zd - cc) / sigma0
    };
    // The root of W(d) - zq on (mumin, mumax), W non-increasing: the Walsh average where it
    // turns non-positive, or the middle of the stretch where it is exactly 0; mumax when that
    // is the largest average. With c = #{w > d} for d between averages, f(c) = W - zq is
    // non-decreasing in c, so the root's averages are order statistics whose ranks follow
    // from the counts alone: a = total + 1 - (least c with f > 0) is where f turns
    // non-positive, b = total + 1 - (least c with f >= 0) where it turns negative.
    let largest = sums.max() / 2.0;
    let interior_ranks = |zq: f64, correct: bool| -> (u64, u64) {
        let f = |c: u64| between(c, correct) - zq;
        let a = (total + 1).saturating_sub(first_count(total, |c| f(c) > 0.0));
        let b = (total + 1).saturating_sub(first_count(total, |c| f(c) >= 0.0));
        (a, b)
    };
    let interior_value = |a: u64, selected: &[f64]| -> f64 {
        let u_a = selected[0] / 2.0;
        if a > total || u_a == largest {
            return mumax;
        }
        let u_b = selected.get(1).map_or(u_a, |v| v / 2.0);
        if u_b == u_a {
            u_a
        } else {
            (u_a + u_b) / 2.0
        }
    };
    // The order statistics an interior root needs (1-based): D[a], and D[b] when f is 0
    // between them.
    let needed = |(a, b): (u64, u64)| -> Vec<u64> {
        if b > a {
            vec![a, b.min(total)]
        } else {
            vec![a]
        }
    };
    // W at the ends, literally (with their real ties and zeros), from the sorted sample.
    let (at_min, at_max) = (
        abs_ranks_of_sorted(&sorted, mumin),
        abs_ranks_of_sorted(&sorted, mumax),
    );
    let w_min = standardised(&at_min, true, inflation);
    let w_max = standardised(&at_max, true, inflation);
    // Each root is an end (Err) or an interior root's ranks (Ok).
    let root = |zq: f64| {
        if w_min - zq <= 0.0 {
            Err(mumin)
        } else if w_max - zq >= 0.0 {
            Err(mumax)
        } else {
            Ok(interior_ranks(zq, true))
        }
    };
    let mut alpha = 1.0 - confidence;
    let mut level = confidence;
    loop {
        let mindiff = w_min - reference.quantile(alpha / 2.0, false);
        let maxdiff = w_max - reference.quantile(alpha / 2.0, true);
        if mindiff < 0.0 || maxdiff > 0.0 {
            alpha *= 2.0;
        } else {
            break;
        }
    }
    if alpha >= 1.0 || 1.0 - confidence < alpha * 0.75 {
        level = 1.0 - alpha.min(1.0);
    }
    let (lower, upper) = if alpha < 1.0 {
        (
            root(reference.quantile(alpha / 2.0, false)),
            root(reference.quantile(alpha / 2.0, true)),
        )
    } else {
        let median = sorted_median(&sorted);
        (Err(median), Err(median))
    };
    // R: correct <- FALSE; uniroot(W, mumin, mumax).
    let estimate = if standardised(&at_min, false, inflation) == 0.0 {
        Err(mumin)
    } else if standardised(&at_max, false, inflation) == 0.0 {
        Err(mumax)
    } else {
        Ok(interior_ranks(0.0, false))
    };
    // The interior roots' order statistics, selected together (shared rounds).
    let roots = [lower, upper, estimate];
    let ks: Vec<u64> = roots
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|&ranks| needed(ranks))
        .collect();
    let selected = sums.select(&ks);
    let mut next = 0usize;
    let mut value = |r: &Result<(u64, u64), f64>| match r {
        Err(end) => *end,
        Ok(ranks) => {
            let used = needed(*ranks).len();
            let v = interior_value(ranks.0, &selected[next..next + used]);
            next += used;
            v
        }
    };
    let ci = (value(&roots[0]), value(&roots[1]));
    let estimate = value(&roots[2]);
    SignedRank {
        method: Method::Normal,
        statistic,
        p_value,
        estimate: estimate + 0.0,
        ci: (ci.0 + 0.0, ci.1 + 0.0),
        confidence: level,
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normal branch as it was before the Walsh averages became implicit order
    /// statistics: every average materialised and sorted (kept as the oracle).
    #[allow(clippy::too_many_lines)]
    fn normal_materialising(
        x: &[f64],
        statistic: f64,
        tie_sum: f64,
        confidence: f64,
        inflation: f64,
        reference: Reference,
    ) -> SignedRank {
        let n = x.len();
        let nf = n as f64;
        if n == 0 {
            return SignedRank {
                method: Method::Normal,
                statistic,
                p_value: 1.0,
                estimate: 0.0,
                ci: (0.0, 0.0),
                confidence,
                n,
            };
        }
        let z = statistic - nf * (nf + 1.0) / 4.0;
        let s = sigma(nf, tie_sum, inflation);
        let zs = (z - r_sign(z) * 0.5) / s;
        let p_value = 2.0 * reference.lower(zs).min(reference.upper(zs));
        let p_value = if p_value.is_nan() { 1.0 } else { p_value };
        let (mumin, mumax) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if mumin == mumax {
            // One value: R cannot compute an interval; the pseudo-median is that value.
            return SignedRank {
                method: Method::Normal,
                statistic,
                p_value,
                estimate: mumin + 0.0,
                ci: (mumin + 0.0, mumin + 0.0),
                confidence,
                n,
            };
        }
        let w = walsh_averages(x);
        // Distinct Walsh averages u_k and, for d just above u_k, c_k = #{w > d}.
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for (i, v) in w.iter().enumerate() {
            match distinct.last_mut() {
                Some(last) if last.0 == *v => last.1 = w.len() - i - 1,
                _ => distinct.push((*v, w.len() - i - 1)),
            }
        }
        // σ between Walsh averages: ties only among equal differences.
        let tie_within = {
            let mut s = x.to_vec();
            s.sort_unstable_by(f64::total_cmp);
            let mut t = 0.0;
            let mut i = 0;
            while i < s.len() {
                let mut j = i;
                while j + 1 < s.len() && s[j + 1] == s[i] {
                    j += 1;
                }
                let k = (j - i + 1) as f64;
                t += k * k * k - k;
                i = j + 1;
            }
            t
        };
        let sigma0 = sigma(nf, tie_within, inflation);
        let half = nf * (nf + 1.0) / 4.0;
        let between = |c: usize, correct: bool| {
            let zd = c as f64 - half;
            let cc = if correct { r_sign(zd) * 0.5 } else { 0.0 };
            (zd - cc) / sigma0
        };
        // The root of W(d) - zq on (mumin, mumax), W non-increasing: the Walsh average where it
        // turns non-positive, or the middle of the stretch where it is exactly 0.
        let interior = |zq: f64, correct: bool| -> f64 {
            // distinct[k].1 is c on (u_k, u_{k+1}); k runs over 0..len-1.
            let m = distinct.len();
            let mut k = 0;
            while k + 1 < m && between(distinct[k].1, correct) - zq > 0.0 {
                k += 1;
            }
            if k + 1 >= m {
                return mumax;
            }
            if between(distinct[k].1, correct) - zq < 0.0 {
                return distinct[k].0;
            }
            let mut k2 = k;
            while k2 + 1 < m - 1 && between(distinct[k2 + 1].1, correct) - zq == 0.0 {
                k2 += 1;
            }
            (distinct[k].0 + distinct[k2 + 1].0) / 2.0
        };
        let w_min = standardised_at(x, mumin, true, inflation);
        let w_max = standardised_at(x, mumax, true, inflation);
        let root = |zq: f64| {
            if w_min - zq <= 0.0 {
                mumin
            } else if w_max - zq >= 0.0 {
                mumax
            } else {
                interior(zq, true)
            }
        };
        let mut alpha = 1.0 - confidence;
        let mut level = confidence;
        loop {
            let mindiff = w_min - reference.quantile(alpha / 2.0, false);
            let maxdiff = w_max - reference.quantile(alpha / 2.0, true);
            if mindiff < 0.0 || maxdiff > 0.0 {
                alpha *= 2.0;
            } else {
                break;
            }
        }
        if alpha >= 1.0 || 1.0 - confidence < alpha * 0.75 {
            level = 1.0 - alpha.min(1.0);
        }
        let ci = if alpha < 1.0 {
            (
                root(reference.quantile(alpha / 2.0, false)),
                root(reference.quantile(alpha / 2.0, true)),
            )
        } else {
            let m = sorted_median(&{
                let mut s = x.to_vec();
                s.sort_unstable_by(f64::total_cmp);
                s
            });
            (m, m)
        };
        // R: correct <- FALSE; uniroot(W, mumin, mumax).
        let estimate = if standardised_at(x, mumin, false, inflation) == 0.0 {
            mumin
        } else if standardised_at(x, mumax, false, inflation) == 0.0 {
            mumax
        } else {
            interior(0.0, false)
        };
        SignedRank {
            method: Method::Normal,
            statistic,
            p_value,
            estimate: estimate + 0.0,
            ci: (ci.0 + 0.0, ci.1 + 0.0),
            confidence: level,
            n,
        }
    }

    mod implicit_walsh {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::RngSeed;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 96,
                rng_seed: RngSeed::Fixed(0x000a_15b0),
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// The merge of the sorted sample's two runs ranks as the sort does, at any shift
            /// (one of the values, between them, beyond them).
            #[test]
            fn abs_ranks_of_sorted_match_sorting(
                x in prop::collection::vec(prop_oneof![
                    (-4i32..5).prop_map(f64::from),
                    -3.0f64..3.0,
                    prop_oneof![Just(1e308), Just(-1e308), Just(0.0), Just(-0.0)],
                ], 1..80),
                pick in 0usize..80,
                shift in -5.0f64..5.0,
            ) {
                let sorted = radix::sorted(&x);
                for d in [x[pick % x.len()], shift, 0.0, 1e308] {
                    let (a, b) = (abs_ranks_of_sorted(&sorted, d), abs_ranks(&x, d));
                    prop_assert_eq!(
                        (a.n, a.positive_sum.to_bits(), a.tie_sum.to_bits(), a.ties),
                        (b.n, b.positive_sum.to_bits(), b.tie_sum.to_bits(), b.ties),
                        "d = {}", d
                    );
                }
            }

            /// Bit for bit the materialising branch: ties, zeros dropped, both signs,
            /// inflation 1 and above (Student reference), several levels.
            #[test]
            fn normal_branch_matches_materialising(
                d in prop::collection::vec(prop_oneof![
                    (-4i32..5).prop_map(f64::from),
                    -3.0f64..3.0,
                    (0u32..3).prop_map(|k| f64::from(k) * 0.1),
                    prop_oneof![Just(1e308), Just(-1e308), Just(f64::MAX)],
                ], 1..160),
                confidence in prop_oneof![Just(0.95), Just(0.9), Just(0.5), Just(0.999)],
                inflation in prop_oneof![Just(1.0), 1.0f64..4.0],
            ) {
                let d: Vec<f64> = d.into_iter().filter(|v| *v != 0.0).collect();
                prop_assume!(!d.is_empty());
                let r = abs_ranks(&d, 0.0);
                let reference = if inflation > 1.0 {
                    Reference::student(d.len() as f64 / inflation - 1.0)
                } else {
                    Reference::Normal
                };
                let new = normal(&d, r.positive_sum, r.tie_sum, confidence, inflation, reference);
                let old = normal_materialising(
                    &d, r.positive_sum, r.tie_sum, confidence, inflation, reference,
                );
                prop_assert_eq!(new, old);
            }
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is a data value of R's example, not pi
    fn small_exact_case_matches_r() {
        // R: wilcox.test(c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30),
        //   c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29), paired = TRUE,
        //   conf.int = TRUE): V = 40, p-value = 0.0390625, (pseudo)median 0.46, CI 0.01..0.786
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
        let r = signed_rank(&x, &y, 0.95).unwrap();
        assert_eq!(r.method, Method::Exact);
        assert_eq!(r.statistic, 40.0);
        assert!((r.p_value - 0.0390625).abs() < 1e-12, "{}", r.p_value);
        assert!((r.estimate - 0.46).abs() < 1e-9, "{}", r.estimate);
        assert!((r.ci.0 - 0.01).abs() < 1e-12 && (r.ci.1 - 0.786).abs() < 1e-12);
    }

    #[test]
    fn refuses_bad_input_and_handles_all_zero() {
        assert!(signed_rank(&[1.0], &[1.0, 2.0], 0.95).is_err());
        assert!(signed_rank(&[], &[], 0.95).is_err());
        assert!(signed_rank(&[f64::NAN], &[1.0], 0.95).is_err());
        assert!(signed_rank_inflated(&[1.0], &[2.0], 0.95, 0.5).is_err());
        let r = signed_rank(&[1.0, 2.0], &[1.0, 2.0], 0.95).unwrap();
        assert_eq!((r.p_value, r.estimate, r.ci), (1.0, 0.0, (0.0, 0.0)));
    }
}
