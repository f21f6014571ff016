//! The lag-1 autocorrelation of a series, its small-sample bias correction, and the same
//! estimate within fixed segments: what the dependence estimates ([`super::autocorrelation`],
//! [`super::change_point`], [`super::paired`]) are built from.
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

/// Segment length below which the differences' autocorrelation is estimated over the whole
/// series (the bias correction needs more than 8 points, and wants many more).
pub const MIN_SEGMENT: usize = 30;

/// At most this many segments.
pub const MAX_SEGMENTS: usize = 4;

/// How many segments a series of `n` points is cut into: ⌊n / 30⌋ within 1..=4.
pub fn segments(n: usize) -> usize {
    (n / MIN_SEGMENT).clamp(1, MAX_SEGMENTS)
}

/// The lag-1 autocorrelation of `d` pooled within [`segments`] consecutive segments, each
/// around its own mean: Σ (d_t − m_s)(d_{t+1} − m_s) / Σ (d_t − m_s)² over pairs inside a
/// segment. `None` when it cannot be estimated (fewer than 3 points, no variation).
pub fn segmented_lag1(d: &[f64]) -> Option<f64> {
    let n = d.len();
    if n < 3 || d.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let k = segments(n);
    let (mut num, mut den) = (0.0, 0.0);
    for s in 0..k {
        let part = &d[s * n / k..(s + 1) * n / k];
        let m = part.iter().sum::<f64>() / part.len() as f64;
        for (i, v) in part.iter().enumerate() {
            den += (v - m) * (v - m);
            if i + 1 < part.len() {
                num += (v - m) * (part[i + 1] - m);
            }
        }
    }
    let r = num / den;
    (den > 0.0 && r.is_finite()).then_some(r.clamp(-1.0, 1.0))
}
