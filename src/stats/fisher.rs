//! Fisher's exact test of a 2 x 2 table, as R 4.2 `fisher.test(matrix(c(a, c, b, d), 2))`
//! (the table with rows `[a b]` and `[c d]`): the two-sided p-value and both one-sided ones
//! (R's `alternative = "less"` and `"greater"`); no odds-ratio estimate or interval.
//!
//! Reference: `stats:::fisher.test` of R 4.2.2 (its 2 x 2 branch), checked case by case against
//! `fixtures/stats/more-reference.json` (written by `scripts/r-reference/generate-more.R`).
//! Tolerance: every p-value within 1e-9 relative (both below 1e-300 count as equal).
//!
//! Given the margins, `a` is hypergeometric: `m = a + c` white balls, `n = b + d` black ones,
//! `k = a + b` drawn. One-sided p-values are R's `phyper` (ported with Loader's densities in
//! `binom_dist`). R's two-sided rule sums the densities of the outcomes at most
//! `d(a) * (1 + 1e-7)`; R evaluates every density of the support with `dhyper(log = TRUE)`,
//! this walks out from the mode with the ratio of consecutive densities in log space (O(1) per
//! outcome, no overflow for margins in the billions) and stops where the rest cannot change the
//! sum, and it keeps the p-value in log space to the end, so that tiny p-values keep their
//! digits (R underflows to 0 below about 1e-308; both count as equal below 1e-300); when
//! d(a) / d(mode) is below e^-800 the two-sided p-value is returned as 0.

use super::binom_dist::{dhyper, phyper};
use super::StatsError;

/// R's integer limit: larger margins make R's `sum` of an integer table NA.
const MAX_MARGIN: u64 = i32::MAX as u64;

/// The result of [`fisher_exact`]: p-values of R's `fisher.test` for the three alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct FisherTest {
    /// Two-sided p-value (R's default `alternative = "two.sided"`).
    pub p_value: f64,
    /// R's `alternative = "less"` (odds ratio below 1: `a` small): P(A <= a).
    pub p_less: f64,
    /// R's `alternative = "greater"` (odds ratio above 1: `a` large): P(A >= a).
    pub p_greater: f64,
}

/// `fisher.test(matrix(c(a, c, b, d), 2))` for the table `[a b; c d]`: the two-sided p-value and
/// the one-sided ones.
///
/// Errors: a row or column total above 2^31 - 1 (R's integer limit; R then fails).
/// Never panics; pure. Time O(the outcomes within about 60 nats of the mode's density).
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> Result<FisherTest, StatsError> {
    let sums = [
        a.checked_add(c),
        b.checked_add(d),
        a.checked_add(b),
        c.checked_add(d),
    ];
    if sums.iter().any(|s| s.is_none_or(|s| s > MAX_MARGIN)) {
        return Err(StatsError::InvalidArgument(
            "every row and column total must be at most 2^31 - 1",
        ));
    }
    let (m, n, k) = (a + c, b + d, a + b);
    let (mf, nf, kf, xf) = (m as f64, n as f64, k as f64, a as f64);
    let p_less = phyper(xf, mf, nf, kf, true);
    let p_greater = phyper(xf - 1.0, mf, nf, kf, false);
    Ok(FisherTest {
        p_value: two_sided(a, m, n, k),
        p_less,
        p_greater,
    })
}

/// R's two-sided rule: sum of d(i) / sum(d) over the support where d(i) <= d(x) (1 + 1e-7).
fn two_sided(x: u64, m: u64, n: u64, k: u64) -> f64 {
    let lo = k.saturating_sub(n);
    let hi = k.min(m);
    if lo >= hi {
        return 1.0;
    }
    // The mode floor((k + 1)(m + 1) / (m + n + 2)), exactly.
    let mode =
        ((u128::from(k) + 1) * (u128::from(m) + 1) / (u128::from(m) + u128::from(n) + 2)) as u64;
    let mode = mode.clamp(lo, hi);
    let (mf, nf, kf) = (m as f64, n as f64, k as f64);
    // ln d(x) - ln d(mode), from R's own densities.
    let ln_dx = dhyper(x as f64, mf, nf, kf, true) - dhyper(mode as f64, mf, nf, kf, true);
    if !ln_dx.is_finite() {
        return if ln_dx == 0.0 { 1.0 } else { 0.0 };
    }
    if ln_dx < -800.0 {
        // d(x) / d(mode) < 1e-347: the p-value is below 1e-300 (at most the support size,
        // under 2^32, times that), where R's exp(logdc - max) has underflowed too. Stopping here
        // keeps the walk within about 40 standard deviations of the mode.
        return 0.0;
    }
    let rel_err = 1.0 + 1e-7;
    // Sums relative to d(mode) (total >= 1) and to d(x) (the qualifying ones, each <= rel_err).
    let mut total = Neumaier::default();
    let mut qualifying = Neumaier::default();
    let mut visit = |lw: f64| {
        total.add(lw.exp());
        let e = (lw - ln_dx).exp();
        if e <= rel_err {
            qualifying.add(e);
        }
    };
    let negligible = ln_dx.min(0.0) - 60.0;
    visit(0.0);
    // Upwards: d(i + 1) / d(i) = (m - i)(k - i) / ((i + 1)(n - k + i + 1)).
    let mut lw = 0.0f64;
    let mut i = mode;
    while i < hi {
        let fi = i as f64;
        lw += ((mf - fi) / (fi + 1.0)).ln() + ((kf - fi) / (nf - kf + fi + 1.0)).ln();
        i += 1;
        visit(lw);
        if lw < negligible {
            break;
        }
    }
    // Downwards: d(i - 1) / d(i) = i (n - k + i) / ((m - i + 1)(k - i + 1)).
    lw = 0.0;
    i = mode;
    while i > lo {
        let fi = i as f64;
        lw += (fi / (mf - fi + 1.0)).ln() + ((nf - kf + fi) / (kf - fi + 1.0)).ln();
        i -= 1;
        visit(lw);
        if lw < negligible {
            break;
        }
    }
    let p = (ln_dx + qualifying.sum().ln() - total.sum().ln()).exp();
    p.min(1.0)
}

/// Compensated (Neumaier) summation: R sums in long double; this is as good for these sums.
#[derive(Default)]
struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.comp += (self.sum - t) + v;
        } else {
            self.comp += (v - t) + self.sum;
        }
        self.sum = t;
    }

    fn sum(&self) -> f64 {
        self.sum + self.comp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_table_is_r() {
        // fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value = 0.48571428571428...
        let r = fisher_exact(3, 1, 1, 3).expect("valid");
        assert!((r.p_value - 17.0 / 35.0).abs() < 1e-15, "{r:?}");
        // less: P(A <= 3) = 1 - 1/70; greater: P(A >= 3) = 17/70.
        assert!((r.p_less - 69.0 / 70.0).abs() < 1e-15, "{r:?}");
        assert!((r.p_greater - 17.0 / 70.0).abs() < 1e-15, "{r:?}");
    }

    #[test]
    fn empty_table_is_one() {
        let r = fisher_exact(0, 0, 0, 0).expect("valid");
        assert_eq!((r.p_value, r.p_less, r.p_greater), (1.0, 1.0, 1.0));
    }

    #[test]
    fn refuses_margins_beyond_r_integers() {
        assert!(fisher_exact(u64::MAX, 1, 1, 1).is_err());
        assert!(fisher_exact(1 << 31, 0, 0, 0).is_err());
    }
}
