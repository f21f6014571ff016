//! Outlier removal by interquartile-range fences, as Kayenta's `IQRDetector` with
//! `reduceSensitivity = true`: fences at Q1 - k IQR and Q3 + k IQR, widened so that they never
//! fall inside the 1st and 99th percentiles. Percentiles are R-7 ([`super::percentile`]).

use super::percentile::{percentile_sorted, sorted};

/// The (lower, upper) fences of a sample for IQR factor `factor`; `None` when it is empty.
pub fn iqr_fences(sample: &[f64], factor: f64) -> Option<(f64, f64)> {
    let sorted = sorted(sample);
    let q1 = percentile_sorted(&sorted, 0.25)?;
    let q3 = percentile_sorted(&sorted, 0.75)?;
    let p01 = percentile_sorted(&sorted, 0.01)?;
    let p99 = percentile_sorted(&sorted, 0.99)?;
    let iqr = q3 - q1;
    let lower = (q1 - factor * iqr).min(p01);
    let upper = (q3 + factor * iqr).max(p99);
    Some((lower, upper))
}

/// The values of `sample` inside its fences (inclusive), in their original order.
pub fn remove_outliers(sample: &[f64], factor: f64) -> Vec<f64> {
    match iqr_fences(sample, factor) {
        Some((lo, hi)) => sample
            .iter()
            .copied()
            .filter(|v| *v >= lo && *v <= hi)
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_far_points_only() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        v.push(10_000.0);
        let kept = remove_outliers(&v, 3.0);
        assert_eq!(kept.len(), 100);
        assert!(!kept.contains(&10_000.0));
    }

    #[test]
    fn p1_p99_widening_keeps_the_tails_of_a_constant_core() {
        // IQR is 0, so the plain fences would be [5, 5]; P1/P99 widen them.
        let mut v = vec![5.0; 98];
        v.push(4.0);
        v.push(6.0);
        let (lo, hi) = iqr_fences(&v, 3.0).unwrap();
        assert!(lo < 5.0 && hi > 5.0, "{lo} {hi}");
    }
}
