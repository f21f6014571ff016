//! The exact binomial test with the Clopper-Pearson interval, as R 4.2
//! `binom.test(x, n, p, alternative = "two.sided", conf.level)`.
//!
//! Reference: `stats:::binom.test` of R 4.2.2, checked case by case against
//! `fixtures/stats/more-reference.json` (written by `scripts/r-reference/generate-more.R`).
//! Tolerance: p-value within 1e-9 relative (both below 1e-300 count as equal); estimate and
//! interval ends within 1e-10 relative.
//!
//! The two-sided p-value follows R's rule literally: the outcomes on the far side of the mean
//! whose density (Loader's algorithm, as R's `dbinom`) is at most `d(x) * (1 + 1e-7)` are
//! counted, and the p-value is `pbinom` of the observed tail plus `pbinom` of that far tail.
//! The far-side densities are monotone, so the count is found by bisection (O(log n) densities,
//! not R's O(n)). Tails and the interval come from `binom_dist`.

use super::binom_dist::{
    dbinom_raw, ln_binom_lower, ln_binom_upper, qbeta_lower_end, qbeta_upper_end,
};
use super::require_confidence;
use super::StatsError;

/// The largest number of trials accepted: beyond 2^32 the exact tail sums (which take about
/// 10 sqrt(n p (1 - p)) steps) would no longer be quick.
pub(crate) const MAX_TRIALS: u64 = 1 << 32;

/// The result of [`binom_test`], field for field R's `htest` object (two-sided).
#[derive(Debug, Clone, PartialEq)]
pub struct BinomTest {
    /// Two-sided p-value (R's rule: outcomes at most as likely as the observed one, with a
    /// relative fuzz of 1e-7).
    pub p_value: f64,
    /// The observed proportion x / n.
    pub estimate: f64,
    /// The Clopper-Pearson interval of the probability of success.
    pub ci: (f64, f64),
}

/// `binom.test(x, n, p, alternative = "two.sided", conf.level = confidence)`.
///
/// Errors (where R stops): `n == 0` or `x > n`, `p` outside [0, 1] or NaN, `confidence`
/// outside (0, 1). Deviation: `n` above 2^32 is refused (R would compute, slowly).
/// Never panics; pure.
pub fn binom_test(x: u64, n: u64, p: f64, confidence: f64) -> Result<BinomTest, StatsError> {
    if n == 0 {
        return Err(StatsError::InvalidArgument(
            "the number of trials n must be at least 1",
        ));
    }
    if x > n {
        return Err(StatsError::InvalidArgument(
            "the number of successes x must not exceed the number of trials n",
        ));
    }
    binom_core(x, n, p, confidence)
}

/// R's `binom.test` body, also for `n == 0` (reached from `poisson.test` when both counts are
/// zero, where R gives p-value 1 and the interval (0, 1)).
pub(crate) fn binom_core(x: u64, n: u64, p: f64, confidence: f64) -> Result<BinomTest, StatsError> {
    if x > n {
        return Err(StatsError::InvalidArgument(
            "the number of successes x must not exceed the number of trials n",
        ));
    }
    if n > MAX_TRIALS {
        return Err(StatsError::InvalidArgument(
            "the number of trials must not exceed 2^32",
        ));
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::BadProbability(p));
    }
    require_confidence(confidence)?;
    let p_value = two_sided_p(x, n, p).clamp(0.0, 1.0);
    // R: alpha <- (1 - conf.level) / 2; p.U uses qbeta(1 - alpha, ...), i.e. the lower tail
    // 1 - (1 - alpha) as a double.
    let alpha = (1.0 - confidence) / 2.0;
    let lower = if x == 0 {
        0.0
    } else {
        qbeta_lower_end(alpha, x, n)
    };
    let upper = if x == n {
        1.0
    } else {
        qbeta_upper_end(1.0 - (1.0 - alpha), x, n)
    };
    Ok(BinomTest {
        p_value,
        estimate: x as f64 / n as f64,
        ci: (lower, upper),
    })
}

/// R's two-sided p-value of `binom.test`.
fn two_sided_p(x: u64, n: u64, p: f64) -> f64 {
    if p == 0.0 {
        return if x == 0 { 1.0 } else { 0.0 };
    }
    if p == 1.0 {
        return if x == n { 1.0 } else { 0.0 };
    }
    let q = 1.0 - p;
    let nf = n as f64;
    let xf = x as f64;
    let dens = |i: u64| dbinom_raw(i as f64, nf, p, q, false);
    let threshold = dens(x) * (1.0 + 1e-7);
    let m = nf * p;
    if xf == m {
        return 1.0;
    }
    let pbinom_lower = |k: u64| ln_binom_lower(k, n, p, q).exp();
    let pbinom_upper_from = |k: u64| ln_binom_upper(k, n, p, q).exp();
    if xf < m {
        // i in ceiling(m)..=n, where the density falls: the ones at most the threshold are
        // j..=n; find the first such j.
        let start = (m.ceil() as u64).min(n);
        let mut lo = start;
        let mut hi = n + 1; // "none"
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if dens(mid) <= threshold {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let far = if lo > n { 0.0 } else { pbinom_upper_from(lo) };
        pbinom_lower(x) + far
    } else {
        // i in 0..=floor(m), where the density rises: the ones at most the threshold are
        // 0..=j; find the last such j (y = j + 1 of them).
        let end = (m.floor() as u64).min(n);
        let mut lo = 0u64; // first index whose density exceeds the threshold
        let mut hi = end + 1;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if dens(mid) <= threshold {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let far = if lo == 0 { 0.0 } else { pbinom_lower(lo - 1) };
        far + pbinom_upper_from(x)
    }
}

#[cfg(test)]
// Expected values are R 4.2's sprintf("%.17g") output, verbatim.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    #[test]
    fn small_case_is_r() {
        // binom.test(7, 20, 0.5, conf.level = 0.95)
        let r = binom_test(7, 20, 0.5, 0.95).expect("valid");
        let rel = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert!(rel(r.p_value, 0.26317596435546875), "{r:?}");
        assert!(rel(r.ci.0, 0.15390920478454115), "{r:?}");
        assert!(rel(r.ci.1, 0.59218853453282816), "{r:?}");
        assert_eq!(r.estimate, 0.35);
    }

    #[test]
    fn refuses_what_r_refuses() {
        assert!(binom_test(3, 0, 0.5, 0.95).is_err());
        assert!(binom_test(4, 3, 0.5, 0.95).is_err());
        assert!(binom_test(1, 3, 1.5, 0.95).is_err());
        assert!(binom_test(1, 3, f64::NAN, 0.95).is_err());
        assert!(binom_test(1, 3, 0.5, 1.0).is_err());
        assert!(binom_test(1, 3, 0.5, f64::NAN).is_err());
    }
}
