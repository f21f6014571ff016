//! Pure statistics: no I/O, no randomness, no clocks.
//!
//! Every function here states the reference it reproduces and the tolerance it is tested to.

pub mod describe;
pub mod mann_whitney;
mod binom_dist;
mod normal;
pub mod outliers;
pub mod percentile;
mod select;
mod wilcox_dist;

pub use describe::{describe, Summary};
pub use mann_whitney::{mann_whitney, MannWhitney, Method};

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
}
