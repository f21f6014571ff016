//! Descriptive statistics of one sample: count, mean, median, min, max and the sample standard
//! deviation (denominator n - 1, as R's `sd`). Means use compensated (Neumaier) summation.

use serde::{Deserialize, Serialize};

use super::percentile::{percentile_sorted, sorted};

/// Count, mean, median, min, max and sample standard deviation of a sample.
///
/// All but `count` are `None` for an empty sample; `std` is `None` below two values
/// (R's `sd` gives NA there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Median (R-7 50th percentile).
    pub median: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Sample standard deviation (n - 1 denominator).
    pub std: Option<f64>,
    /// Lag-1 autocorrelation of this side's series in time order (R's `acf`), set by the
    /// judge; absent below 3 values or for a constant series.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lag1_autocorrelation: Option<f64>,
    /// How many independent points the series is worth in the comparison: `count` unless the
    /// lag-1 autocorrelation ρ of the baseline (or, for aligned series, the smaller one of the
    /// canary - baseline differences) is above 0.1, then `count (1 - ρ) / (1 + ρ)` (see
    /// `stats::autocorrelation::effective_sizes`). Set by the judge.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub effective_count: Option<f64>,
}

/// Neumaier's compensated sum: exact enough that the mean of equal values is that value.
pub(crate) fn sum(values: &[f64]) -> f64 {
    let mut s = 0.0_f64;
    let mut c = 0.0_f64;
    for &v in values {
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

/// Mean of a sample, `None` when empty. Finite for finite values however large: where the sum
/// overflows (values near ±1e308), the mean is the sum of each value over n, which cannot.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let m = sum(values) / n;
    if m.is_finite() {
        return Some(m);
    }
    let scaled: Vec<f64> = values.iter().map(|v| v / n).collect();
    Some(sum(&scaled))
}

/// Describes a sample of finite values.
pub fn describe(values: &[f64]) -> Summary {
    let count = values.len();
    if count == 0 {
        return Summary {
            count,
            mean: None,
            median: None,
            min: None,
            max: None,
            std: None,
            lag1_autocorrelation: None,
            effective_count: None,
        };
    }
    let sorted = sorted(values);
    let m = mean(values).unwrap_or(f64::NAN);
    let std = if count >= 2 {
        let squares: Vec<f64> = values.iter().map(|v| (v - m) * (v - m)).collect();
        Some((sum(&squares) / (count - 1) as f64).sqrt())
    } else {
        None
    };
    Summary {
        count,
        mean: Some(m),
        median: percentile_sorted(&sorted, 0.5),
        min: sorted.first().copied(),
        max: sorted.last().copied(),
        std,
        lag1_autocorrelation: None,
        effective_count: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_huge_values_does_not_overflow() {
        assert_eq!(mean(&[-1e308, -1e308]), Some(-1e308));
        assert_eq!(
            mean(&[f64::MAX, f64::MAX, 0.0]).map(f64::is_finite),
            Some(true)
        );
        assert_eq!(describe(&[1e308, 1e308]).mean, Some(1e308));
    }

    #[test]
    fn matches_r() {
        // R: x <- c(2, 4, 4, 4, 5, 5, 7, 9); mean 5, median 4.5, sd 2.13808993529939
        let s = describe(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.count, 8);
        assert_eq!(s.mean, Some(5.0));
        assert_eq!(s.median, Some(4.5));
        assert_eq!(s.min, Some(2.0));
        assert_eq!(s.max, Some(9.0));
        let sd = s.std.unwrap();
        assert!((sd - 2.138_089_935_299_39).abs() < 1e-12);
    }

    #[test]
    fn mean_of_equal_values_is_exact() {
        let v = vec![0.1; 1000];
        assert_eq!(mean(&v), Some(0.1));
    }

    #[test]
    fn empty_and_single() {
        let e = describe(&[]);
        assert_eq!(e.count, 0);
        assert_eq!(e.mean, None);
        let one = describe(&[3.0]);
        assert_eq!(one.std, None);
        assert_eq!(one.median, Some(3.0));
    }
}
