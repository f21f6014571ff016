//! Pure statistics: no I/O, no randomness, no clocks.
//!
//! Every function here states the reference it reproduces and the tolerance it is tested to.

mod acf;
pub mod autocorrelation;
mod binom_dist;
pub mod binomial;
pub mod brown_forsythe;
pub mod change_point;
pub mod describe;
pub mod fisher;
pub mod fligner;
pub mod mann_whitney;
pub mod mean_shift;
mod normal;
pub mod outliers;
pub mod paired;
pub mod percentile;
pub mod poisson;
pub mod quantile_compare;
mod radix;
mod select;
pub mod sequential;
pub mod signed_rank;
mod wilcox_dist;

pub use autocorrelation::{
    count_dispersion, effective_size, effective_sizes, lag1_autocorrelation, EffectiveSize,
};
pub use binomial::{binom_test, BinomTest};
pub use brown_forsythe::{brown_forsythe, BrownForsythe};
pub use describe::{describe, Summary};
pub use fisher::{fisher_exact, FisherTest};
pub use fligner::{fligner_killeen, FlignerTest};
pub use mann_whitney::{mann_whitney, mann_whitney_inflated, MannWhitney, Method};
pub use poisson::{poisson_rate_test, PoissonTest};
pub use quantile_compare::{compare_quantiles, QuantileComparison};
pub use sequential::{bonferroni_levels, boundaries, open_level, spent, Spending};
pub use signed_rank::{signed_rank, signed_rank_inflated, SignedRank};

/// What can go wrong in a statistical computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A sample is empty (R: "not enough (non-missing) 'x' observations").
    #[error("not enough observations in the {0} sample")]
    NotEnoughObservations(&'static str),
    /// A sample holds NaN or an infinity; callers remove or replace those first.
    #[error("the {0} sample holds a value that is not a finite number")]
    NotFinite(&'static str),
    /// Confidence level outside (0, 1).
    #[error("confidence level {0} is not between 0 and 1")]
    BadConfidence(f64),
    /// A hypothesised probability outside [0, 1] (R: "'p' must be a single number between 0
    /// and 1").
    #[error("probability {0} is not between 0 and 1")]
    BadProbability(f64),
    /// A count, size or exposure that R refuses (or that has no meaningful answer); the text
    /// names the argument and the rule it breaks.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// The checks every two-sample test makes first, in R's order: each sample holds at least
/// `min` values, then every value is finite.
pub(crate) fn require_samples(x: &[f64], y: &[f64], min: usize) -> Result<(), StatsError> {
    if x.len() < min {
        return Err(StatsError::NotEnoughObservations("x"));
    }
    if y.len() < min {
        return Err(StatsError::NotEnoughObservations("y"));
    }
    require_finite(x, y)
}

/// Every value of both samples is finite.
pub(crate) fn require_finite(x: &[f64], y: &[f64]) -> Result<(), StatsError> {
    if x.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("x"));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NotFinite("y"));
    }
    Ok(())
}

/// A confidence level strictly between 0 and 1 (NaN is not).
pub(crate) fn require_confidence(confidence: f64) -> Result<(), StatsError> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(StatsError::BadConfidence(confidence))
    }
}
