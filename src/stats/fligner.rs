//! The Fligner-Killeen (median-centred) test of equal spread in two samples, as R 4.2
//! `fligner.test(list(x, y))`.
//!
//! Reference: `stats:::fligner.test.default` of R 4.2.2, checked case by case against
//! `fixtures/stats/more-reference.json` (written by `scripts/r-reference/generate-more.R`).
//! Tolerance: statistic and p-value within 1e-9 relative (a statistic below 1e-12, which only
//! cancellation produces, within 1e-12 absolute; p-values both below 1e-300 count as equal).
//!
//! As R: each sample is centred on its own median; the absolute deviations of both samples are
//! ranked together (ties averaged) and scored `qnorm((1 + rank / (n + 1)) / 2)` (R's own
//! AS 241 `qnorm`, ported in `normal`); the statistic is the between-group sum of
//! squares of the centred scores over their variance, chi-squared with 1 degree of freedom.
//! R sums in long double; compensated sums and R's two-pass mean stand in for that.

use super::normal::qnorm;
use super::require_samples;
use super::StatsError;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The result of [`fligner_killeen`], field for field R's `htest` object.
#[derive(Debug, Clone, PartialEq)]
pub struct FlignerTest {
    /// R's "Fligner-Killeen:med chi-squared".
    pub statistic: f64,
    /// Degrees of freedom: the number of groups minus one, so 1.
    pub df: u32,
    /// Upper tail of the chi-squared distribution at `statistic`.
    pub p_value: f64,
}

/// `fligner.test(list(x, y))`: do `x` and `y` have the same spread (around their medians)?
///
/// Deviation from R, where R gives no answer: when every absolute deviation from the group
/// medians is one single value (for example both samples constant, or each of size one) the
/// scores have no variance and R's statistic and p-value are NaN; this returns statistic 0 and
/// p-value 1.
///
/// Errors: an empty sample (R: "all groups must contain data"), a value that is NaN or
/// infinite. Never panics; pure; O(n log n).
pub fn fligner_killeen(x: &[f64], y: &[f64]) -> Result<FlignerTest, StatsError> {
    require_samples(x, y, 1)?;
    let n = x.len() + y.len();
    let (mx, my) = (median(x), median(y));
    let dev: Vec<f64> = x
        .iter()
        .map(|v| (v - mx).abs())
        .chain(y.iter().map(|v| (v - my).abs()))
        .collect();
    let ranks = average_ranks(&dev);
    let n1 = n as f64 + 1.0;
    let scores: Vec<f64> = ranks
        .iter()
        .map(|r| qnorm((1.0 + r / n1) / 2.0, true))
        .collect();
    let centre = mean(&scores);
    let a: Vec<f64> = scores.iter().map(|s| s - centre).collect();
    let v = sum(a.iter().map(|s| s * s)) / (n as f64 - 1.0);
    let (ax, ay) = a.split_at(x.len());
    let (gx, gy) = (mean(ax), mean(ay));
    let statistic = sum([ax.len() as f64 * gx * gx, ay.len() as f64 * gy * gy].into_iter()) / v;
    if !statistic.is_finite() {
        return Ok(FlignerTest {
            statistic: 0.0,
            df: 1,
            p_value: 1.0,
        });
    }
    Ok(FlignerTest {
        statistic,
        df: 1,
        p_value: chisq1_upper(statistic),
    })
}

/// R's `pchisq(s, 1, lower.tail = FALSE)`.
fn chisq1_upper(s: f64) -> f64 {
    match ChiSquared::new(1.0) {
        Ok(dist) => dist.sf(s),
        Err(_) => f64::NAN,
    }
}

/// R's `median`: the middle value, or the mean of the two middle values.
fn median(s: &[f64]) -> f64 {
    // The middle order statistics by selection (O(n), the same values as from a sorted copy).
    let mut v = s.to_vec();
    let half = v.len() / 2;
    if v.is_empty() {
        return f64::NAN;
    }
    let (below, &mut mid, _) = v.select_nth_unstable_by(half, f64::total_cmp);
    if s.len() % 2 == 1 {
        mid
    } else {
        let lo = below.iter().copied().max_by(f64::total_cmp).unwrap_or(mid);
        let hi = mid;
        let m = (lo + hi) / 2.0;
        if m.is_finite() {
            m
        } else {
            lo / 2.0 + hi / 2.0
        }
    }
}

/// R's `rank(v)` with `ties.method = "average"`: ranks from 1, ties sharing their mean rank.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut ranks = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start + 1 ..= end.
        let r = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = r;
        }
        start = end;
    }
    ranks
}

/// Compensated sum (Neumaier), standing in for R's long double accumulation.
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = s + v;
        if s.abs() >= v.abs() {
            c += (s - t) + v;
        } else {
            c += (v - t) + s;
        }
        s = t;
    }
    s + c
}

/// R's `mean`: the sum over n, then corrected by the mean of the residuals.
fn mean(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let m = sum(v.iter().copied()) / n;
    if !m.is_finite() {
        return m;
    }
    m + sum(v.iter().map(|x| x - m)) / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn no_spread_at_all_is_statistic_zero() {
        let r = fligner_killeen(&[1.0, 1.0, 1.0], &[5.0, 5.0]).expect("valid");
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
    }

    #[test]
    fn refuses_empty_and_non_finite() {
        assert!(fligner_killeen(&[], &[1.0]).is_err());
        assert!(fligner_killeen(&[1.0], &[]).is_err());
        assert!(fligner_killeen(&[1.0, f64::NAN], &[1.0]).is_err());
        assert!(fligner_killeen(&[1.0], &[f64::INFINITY]).is_err());
    }
}
