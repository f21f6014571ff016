//! The comparison of two Poisson rates, as R 4.2
//! `poisson.test(c(x, y), c(t, u), alternative = "two.sided", conf.level)`.
//!
//! Reference: `stats:::poisson.test` of R 4.2.2, checked case by case against
//! `fixtures/stats/more-reference.json` (written by `scripts/r-reference/generate-more.R`).
//! Tolerance: p-value within 1e-9 relative (both below 1e-300 count as equal); rate ratio and
//! interval ends within 1e-10 relative (infinities equal).
//!
//! R conditions on the total: given x + y events, x is Bin(x + y, t / (t + u)) under equal
//! rates, so it runs `binom.test(x, x + y, t / (t + u))` and maps the probability interval
//! (pL, pU) to the rate ratio (x / t) / (y / u) through p / (1 - p) * u / t; so does this.

use super::binomial::binom_core;
use super::StatsError;

/// The result of [`poisson_rate_test`], field for field R's `htest` object (two-sided).
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonTest {
    /// Two-sided p-value of equal rates.
    pub p_value: f64,
    /// The rate ratio (x / t) / (y / u): `Some(f64::INFINITY)` when y == 0 < x, `None` when
    /// x == y == 0 (R: NaN).
    pub estimate: Option<f64>,
    /// Confidence interval of the rate ratio; the upper end is `f64::INFINITY` when y == 0.
    pub ci: (f64, f64),
}

/// `poisson.test(c(x, y), c(t, u), alternative = "two.sided", conf.level = confidence)`: do
/// `x` events in exposure `t` and `y` events in exposure `u` come from the same rate?
///
/// When x == y == 0 R answers p-value 1, ratio NaN, interval (0, Inf); this returns p-value 1,
/// `estimate: None`, `ci: (0.0, f64::INFINITY)`.
///
/// Errors: an exposure that is not a finite positive number (R accepts a zero exposure and
/// then divides by it), t + u overflowing, x + y above 2^32, `confidence` outside (0, 1).
/// Never panics; pure.
pub fn poisson_rate_test(
    x: u64,
    t: f64,
    y: u64,
    u: f64,
    confidence: f64,
) -> Result<PoissonTest, StatsError> {
    if !(t.is_finite() && t > 0.0 && u.is_finite() && u > 0.0 && (t + u).is_finite()) {
        return Err(StatsError::InvalidArgument(
            "the exposures t and u must be finite and positive",
        ));
    }
    let n = x.checked_add(y).ok_or(StatsError::InvalidArgument(
        "the total count x + y must not exceed 2^32",
    ))?;
    // R: binom.test(x, sum(x), r * T[1] / (r * T[1] + T[2])) with r = 1.
    let binom = binom_core(x, n, t / (t + u), confidence)?;
    let ratio = (x as f64 / t) / (y as f64 / u);
    // R: pp / (1 - pp) * T[2] / T[1], left to right.
    let map = |pp: f64| pp / (1.0 - pp) * u / t;
    Ok(PoissonTest {
        p_value: binom.p_value,
        estimate: (!ratio.is_nan()).then_some(ratio),
        ci: (map(binom.ci.0), map(binom.ci.1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_events_at_all_is_rs_answer() {
        let r = poisson_rate_test(0, 1.0, 0, 2.0, 0.95).expect("valid");
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.estimate, None);
        assert_eq!(r.ci, (0.0, f64::INFINITY));
    }

    #[test]
    fn no_events_in_the_second_is_an_infinite_ratio() {
        // poisson.test(c(3, 0), c(1, 2)): p = 0.03703704, ci (0.8264627, Inf), ratio Inf.
        let r = poisson_rate_test(3, 1.0, 0, 2.0, 0.95).expect("valid");
        assert!((r.p_value - 1.0 / 27.0).abs() < 1e-15);
        assert_eq!(r.estimate, Some(f64::INFINITY));
        assert!((r.ci.0 - 0.8264627).abs() < 1e-7);
        assert_eq!(r.ci.1, f64::INFINITY);
    }

    #[test]
    fn refuses_bad_exposures_and_levels() {
        assert!(poisson_rate_test(1, 0.0, 1, 1.0, 0.95).is_err());
        assert!(poisson_rate_test(1, 1.0, 1, -1.0, 0.95).is_err());
        assert!(poisson_rate_test(1, f64::INFINITY, 1, 1.0, 0.95).is_err());
        assert!(poisson_rate_test(1, f64::NAN, 1, 1.0, 0.95).is_err());
        assert!(poisson_rate_test(1, 1.0, 1, 1.0, 0.0).is_err());
        assert!(poisson_rate_test(u64::MAX, 1.0, 1, 1.0, 0.95).is_err());
    }
}
