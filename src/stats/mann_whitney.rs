//! Two-sample Wilcoxon rank-sum (Mann-Whitney U) test with the Hodges-Lehmann estimate and
//! confidence interval, as R 4.x `wilcox.test(x, y, conf.int = TRUE, conf.level = c)`.
//! (Placeholder: being written.)

use super::StatsError;

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
pub fn mann_whitney(x: &[f64], y: &[f64], confidence: f64) -> Result<MannWhitney, StatsError> {
    let _ = (x, y, confidence);
    Err(StatsError::NotEnoughObservations("x"))
}
