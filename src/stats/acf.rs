//! The lag-1 autocorrelation of a series and its small-sample bias correction: the two
//! numbers the dependence estimates ([`super::autocorrelation`], [`super::change_point`],
//! [`super::paired`]) are built from.
//!
//! Reference: R 4.2's `acf(x, lag.max = 1, plot = FALSE)$acf[2]`, within 1e-12 absolute (see
//! [`super::autocorrelation`] for the fixture and the correction's source).

/// R's `acf(x, lag.max = 1, plot = FALSE)$acf[2]`: Σ (x_t − x̄)(x_{t+1} − x̄) / Σ (x_t − x̄)².
///
/// `None` when there are fewer than 3 values or the series is constant (R: NaN). Values must be
/// finite (callers remove missing values first).
pub fn lag1_autocorrelation(series: &[f64]) -> Option<f64> {
    if series.len() < 3 || series.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = super::describe::mean(series)?;
    let dev: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let denominator: f64 = super::describe::sum(&dev.iter().map(|d| d * d).collect::<Vec<_>>());
    if denominator == 0.0 || !denominator.is_finite() {
        return None;
    }
    let products: Vec<f64> = dev.windows(2).map(|w| w[0] * w[1]).collect();
    let r = super::describe::sum(&products) / denominator;
    r.is_finite().then_some(r.clamp(-1.0, 1.0))
}

/// Marriott and Pope's bias correction of a lag-1 autocorrelation estimated from `n` points:
/// (n ρ̂ + 1) / (n − 4), within [−1, 1]; ρ̂ itself for n ≤ 8.
pub fn bias_corrected(lag1: f64, n: usize) -> f64 {
    if n <= 8 {
        return lag1;
    }
    let n = n as f64;
    ((n * lag1 + 1.0) / (n - 4.0)).clamp(-1.0, 1.0)
}
