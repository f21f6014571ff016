//! Binomial and hypergeometric densities and tails, and the Beta quantile at integer shapes,
//! with R's numerics: the building blocks of [`super::binomial`], [`super::poisson`] and
//! [`super::fisher`].
//!
//! Reference: R 4.2 `src/nmath/`: `dbinom_raw` (Catherine Loader's saddle-point algorithm,
//! with `stirlerr` and `bd0`) and `dhyper`, `phyper`/`pdhyper`, ported line for line, so that the
//! densities are the doubles R computes (to an ulp or so of `exp`/`log`). Tolerance: densities
//! within a few ulps of R's.
//!
//! Binomial tails (R's `pbinom`, which R computes through `pbeta`/TOMS 708 `bratio`) are summed
//! here instead: from Loader's density at the tail's edge, term by term with the ratio of
//! consecutive densities, always on the side of the mode where the terms fall, until they no
//! longer change the sum; the tail that holds the mode is one minus the other tail. Relative
//! error about (number of terms) * 1e-16, far inside the 1e-9 bar.
//!
//! `qbeta(alpha, a, b)` for integer `a, b >= 1` (all that the Clopper-Pearson interval needs) is
//! the root in p of a binomial tail, `I_p(a, b) = P(Bin(a + b - 1, p) >= a)`, found by a
//! safeguarded Newton iteration on the log of the small tail, to a few ulps of the root. R's
//! `qbeta` is accurate to about 1e-15, so the two agree within 1e-12 relative or so (tested to
//! the 1e-10 bar against R in `tests/canaryd/stats_more.rs`).
//!
//! statrs 0.19's `Beta::inverse_cdf` is not used: measured against R it is within 3e-15 of
//! `qbeta(0.025, 3, 8)` but 3.1e-10 relative off `qbeta(0.005, 1, 1e5)` (a lower end for
//! x = 1 of n = 100,000 at 99%), outside the 1e-10 bar.

/// ln(2 pi), R's `M_LN_2PI`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// R's `stirlerr(n)` = ln(n!) - ln(sqrt(2 pi n) (n/e)^n), for integer `n >= 0` (the table for
/// n <= 15 is R's `sferr_halves` at whole n).
// The table and series coefficients are R's stirlerr.c, digit for digit.
#[allow(clippy::excessive_precision)]
fn stirlerr(n: f64) -> f64 {
    const S0: f64 = 0.083333333333333333333; // 1/12
    const S1: f64 = 0.00277777777777777777778; // 1/360
    const S2: f64 = 0.00079365079365079365079365; // 1/1260
    const S3: f64 = 0.000595238095238095238095238; // 1/1680
    const S4: f64 = 0.0008417508417508417508417508; // 1/1188
    const SFERR_WHOLE: [f64; 16] = [
        0.0, // n = 0: a place holder, as in R
        0.0810614667953272582196702,
        0.0413406959554092940938221,
        0.02767792568499833914878929,
        0.02079067210376509311152277,
        0.01664469118982119216319487,
        0.01387612882307074799874573,
        0.01189670994589177009505572,
        0.010411265261972096497478567,
        0.009255462182712732917728637,
        0.008330563433362871256469318,
        0.007573675487951840794972024,
        0.006942840107209529865664152,
        0.006408994188004207068439631,
        0.005951370112758847735624416,
        0.005554733551962801371038690,
    ];
    if n <= 15.0 {
        // Callers pass whole numbers only.
        return SFERR_WHOLE[n.max(0.0) as usize];
    }
    let nn = n * n;
    if n > 500.0 {
        return (S0 - S1 / nn) / n;
    }
    if n > 80.0 {
        return (S0 - (S1 - S2 / nn) / nn) / n;
    }
    if n > 35.0 {
        return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
    }
    (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
}

/// R's `bd0(x, np)` = x ln(x / np) + np - x, computed stably when x is close to np.
fn bd0(x: f64, np: f64) -> f64 {
    if !x.is_finite() || !np.is_finite() || np == 0.0 {
        return f64::NAN;
    }
    if (x - np).abs() < 0.1 * (x + np) {
        let mut v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        if s.abs() < f64::MIN_POSITIVE {
            return s;
        }
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            ej *= v;
            let s1 = s + ej / f64::from(2 * j + 1);
            if s1 == s {
                return s1;
            }
            s = s1;
        }
    }
    x * (x / np).ln() + np - x
}

/// R's `dbinom_raw(x, n, p, q, log)`: the Bin(n, p) density at `x` (q = 1 - p given
/// separately, as R does, to keep its precision), or its log.
pub(crate) fn dbinom_raw(x: f64, n: f64, p: f64, q: f64, log: bool) -> f64 {
    let exp_or_log = |v: f64| if log { v } else { v.exp() };
    let zero = if log { f64::NEG_INFINITY } else { 0.0 };
    let one = if log { 0.0 } else { 1.0 };
    if p == 0.0 {
        return if x == 0.0 { one } else { zero };
    }
    if q == 0.0 {
        return if x == n { one } else { zero };
    }
    if x == 0.0 {
        if n == 0.0 {
            return one;
        }
        let lc = if p < 0.1 {
            -bd0(n, n * q) - n * p
        } else {
            n * q.ln()
        };
        return exp_or_log(lc);
    }
    if x == n {
        let lc = if q < 0.1 {
            -bd0(n, n * p) - n * q
        } else {
            n * p.ln()
        };
        return exp_or_log(lc);
    }
    if x < 0.0 || x > n {
        return zero;
    }
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    let lf = LN_2PI + x.ln() + (-x / n).ln_1p();
    exp_or_log(lc - 0.5 * lf)
}

/// The mode of Bin(n, p): floor((n + 1) p), at most n.
fn binom_mode(n: u64, p: f64) -> u64 {
    let m = ((n as f64 + 1.0) * p).floor();
    if m <= 0.0 {
        0
    } else if m >= n as f64 {
        n
    } else {
        m as u64
    }
}

/// ln of the sum of the Bin(n, p) density from `start` on, one step at a time in the direction
/// where the terms fall (`up`: start, start + 1, ..., n; else start, start - 1, ..., 0).
fn ln_tail_sum(start: u64, n: u64, p: f64, q: f64, up: bool) -> f64 {
    let ln_first = dbinom_raw(start as f64, n as f64, p, q, true);
    if ln_first == f64::NEG_INFINITY || ln_first.is_nan() {
        return ln_first;
    }
    let nf = n as f64;
    let pq = p / q;
    let qp = q / p;
    let mut sum = 1.0f64;
    let mut comp = 0.0f64; // Neumaier compensation
    let mut term = 1.0f64;
    let mut i = start;
    loop {
        let ratio = if up {
            if i >= n {
                break;
            }
            let fi = i as f64;
            (nf - fi) / (fi + 1.0) * pq
        } else {
            if i == 0 {
                break;
            }
            let fi = i as f64;
            fi / (nf - fi + 1.0) * qp
        };
        term *= ratio;
        let t = sum + term;
        if sum.abs() >= term.abs() {
            comp += (sum - t) + term;
        } else {
            comp += (term - t) + sum;
        }
        sum = t;
        if term < 1e-18 * sum {
            break;
        }
        i = if up { i + 1 } else { i - 1 };
    }
    ln_first + (sum + comp).ln()
}

/// ln P(X >= k) for X ~ Bin(n, p), q = 1 - p.
pub(crate) fn ln_binom_upper(k: u64, n: u64, p: f64, q: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if k > n {
        return f64::NEG_INFINITY;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if q == 0.0 {
        return 0.0;
    }
    if k <= binom_mode(n, p) {
        // The tail holds the mode: one minus the lower tail, which falls away from k - 1.
        return (-ln_binom_lower(k - 1, n, p, q).exp()).ln_1p();
    }
    ln_tail_sum(k, n, p, q, true)
}

/// ln P(X <= k) for X ~ Bin(n, p), q = 1 - p.
pub(crate) fn ln_binom_lower(k: u64, n: u64, p: f64, q: f64) -> f64 {
    if k >= n {
        return 0.0;
    }
    if p == 0.0 {
        return 0.0;
    }
    if q == 0.0 {
        return f64::NEG_INFINITY;
    }
    if k >= binom_mode(n, p) {
        return (-ln_binom_upper(k + 1, n, p, q).exp()).ln_1p();
    }
    ln_tail_sum(k, n, p, q, false)
}

/// The Clopper-Pearson lower end, R's `qbeta(alpha, x, n - x + 1)` for `1 <= x <= n`: the p
/// with P(Bin(n, p) >= x) = alpha.
pub(crate) fn qbeta_lower_end(alpha: f64, x: u64, n: u64) -> f64 {
    // The tail rises with p; its derivative is n * dbinom(x - 1, n - 1, p).
    solve(alpha, true, |p| {
        let q = 1.0 - p;
        let ln_tail = ln_binom_upper(x, n, p, q);
        let ln_dens = (n as f64).ln() + dbinom_raw((x - 1) as f64, (n - 1) as f64, p, q, true);
        (ln_tail, ln_dens)
    })
}

/// The Clopper-Pearson upper end, R's `qbeta(1 - alpha, x + 1, n - x)` for `0 <= x < n`: the
/// p with P(Bin(n, p) <= x) = alpha.
pub(crate) fn qbeta_upper_end(alpha: f64, x: u64, n: u64) -> f64 {
    // The tail falls with p; its derivative is -n * dbinom(x, n - 1, p).
    solve(alpha, false, |p| {
        let q = 1.0 - p;
        let ln_tail = ln_binom_lower(x, n, p, q);
        let ln_dens = (n as f64).ln() + dbinom_raw(x as f64, (n - 1) as f64, p, q, true);
        (ln_tail, ln_dens)
    })
}

/// The root in (0, 1) of ln F(p) = ln(alpha), where `f(p)` gives (ln F(p), ln |F'(p)|) and F
/// rises with p when `rising`. Newton steps on ln F, kept inside a shrinking bracket, with
/// bisection (geometric near 0 and near 1, so small roots keep their relative precision) when
/// a step would leave it.
fn solve(alpha: f64, rising: bool, f: impl Fn(f64) -> (f64, f64)) -> f64 {
    let target = alpha.ln();
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut p = 0.5f64;
    let mut best = f64::NAN;
    for _ in 0..400 {
        let (ln_f, ln_df) = f(p);
        let resid = ln_f - target;
        if resid == 0.0 {
            return p;
        }
        // Above the target: the root is below p when F rises, above p when it falls.
        if (resid > 0.0) == rising {
            hi = p;
        } else {
            lo = p;
        }
        best = p;
        // Newton on ln F: d ln F / dp = F' / F.
        let slope = (ln_df - ln_f).exp() * if rising { 1.0 } else { -1.0 };
        let mut next = p - resid / slope;
        if !(next.is_finite() && next > lo && next < hi) {
            next = bisect(lo, hi);
        }
        if next == p || hi - lo <= 2.0 * f64::EPSILON * p.min(1.0 - p).max(f64::MIN_POSITIVE) {
            return p;
        }
        // Converged when the step is within an ulp of the smaller of p and 1 - p: near 1 the
        // interval ends are mapped through p / (1 - p) (Poisson rate ratios), so 1 - p must
        // keep its digits too.
        if (next - p).abs() <= f64::EPSILON * p.min(1.0 - p) {
            return next;
        }
        p = next;
    }
    best
}

/// A midpoint of (lo, hi) that halves the relative width (of p near 0, of 1 - p near 1), so
/// that roots close to 0 or 1 keep their relative precision; never 0 or 1 itself.
fn bisect(lo: f64, hi: f64) -> f64 {
    let mid = 0.5 * (lo + hi);
    if hi <= 0.5 {
        if lo == 0.0 {
            hi / 16.0
        } else if hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else {
            mid
        }
    } else if lo >= 0.5 {
        let (far, near) = (1.0 - lo, 1.0 - hi);
        if near == 0.0 {
            1.0 - far / 16.0
        } else if far / near > 4.0 {
            1.0 - (far * near).sqrt()
        } else {
            mid
        }
    } else {
        mid
    }
}

/// R's `dhyper(x, r, b, n, log)`: the probability of `x` red balls among `n` drawn from `r` red
/// and `b` black.
pub(crate) fn dhyper(x: f64, r: f64, b: f64, n: f64, log: bool) -> f64 {
    let zero = if log { f64::NEG_INFINITY } else { 0.0 };
    let one = if log { 0.0 } else { 1.0 };
    if x < 0.0 || n < x || r < x || n - x > b {
        return zero;
    }
    if n == 0.0 {
        return if x == 0.0 { one } else { zero };
    }
    let p = n / (r + b);
    let q = (r + b - n) / (r + b);
    let p1 = dbinom_raw(x, r, p, q, log);
    let p2 = dbinom_raw(n - x, b, p, q, log);
    let p3 = dbinom_raw(n, r + b, p, q, log);
    if log {
        p1 + p2 - p3
    } else {
        p1 * p2 / p3
    }
}

/// R's `pdhyper`: sum over the lower tail of dhyper(i) / dhyper(x), from x down.
fn pdhyper(mut x: f64, nr: f64, nb: f64, n: f64) -> f64 {
    // R sums in long double; Neumaier compensation gives the same double.
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    let mut term = 1.0f64;
    while x > 0.0 && term >= f64::EPSILON * sum {
        term *= x * (nb - n + x) / (n + 1.0 - x) / (nr + 1.0 - x);
        let t = sum + term;
        if sum.abs() >= term.abs() {
            comp += (sum - t) + term;
        } else {
            comp += (term - t) + sum;
        }
        sum = t;
        x -= 1.0;
    }
    1.0 + (sum + comp)
}

/// R's `phyper(x, NR, NB, n, lower_tail, log.p = FALSE)` for whole-number arguments.
pub(crate) fn phyper(x: f64, nr: f64, nb: f64, n: f64, lower_tail: bool) -> f64 {
    let (mut x, mut nr, mut nb, mut lower_tail) = ((x + 1e-7).floor(), nr, nb, lower_tail);
    if nr < 0.0 || nb < 0.0 || !(nr + nb).is_finite() || n < 0.0 || n > nr + nb {
        return f64::NAN;
    }
    if x * (nr + nb) > n * nr {
        // Swap tails.
        std::mem::swap(&mut nr, &mut nb);
        x = n - x - 1.0;
        lower_tail = !lower_tail;
    }
    let dt0 = if lower_tail { 0.0 } else { 1.0 };
    if x < 0.0 || x < n - nb {
        return dt0;
    }
    if x >= nr || x >= n {
        return 1.0 - dt0;
    }
    let d = dhyper(x, nr, nb, n, false);
    if d == 0.0 {
        return dt0;
    }
    let pd = pdhyper(x, nr, nb, n);
    let v = d * pd;
    if lower_tail {
        v
    } else {
        0.5 - v + 0.5
    }
}

#[cfg(test)]
// Expected values are R 4.2's sprintf("%.17g") output, verbatim.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / b.abs()
        }
    }

    #[test]
    fn dbinom_is_r() {
        // dbinom(3, 10, 0.3), dbinom(0, 1e5, 1e-4), dbinom(50000, 1e5, 0.5)
        assert!(rel(dbinom_raw(3.0, 10.0, 0.3, 0.7, false), 0.26682793199999993) < 1e-15);
        assert!(
            rel(
                dbinom_raw(0.0, 1e5, 1e-4, 1.0 - 1e-4, false),
                4.5377233958961141e-05
            ) < 1e-14
        );
        assert!(rel(dbinom_raw(5e4, 1e5, 0.5, 0.5, false), 0.002523126214196739) < 1e-14);
    }

    #[test]
    fn binomial_tails_are_r() {
        // pbinom(3, 10, 0.3), pbinom(30, 1e5, 1e-3, lower = FALSE), pbinom(120, 1e5, 1e-3)
        let q = |p: f64| 1.0 - p;
        assert!(
            rel(
                ln_binom_lower(3, 10, 0.3, q(0.3)).exp(),
                0.64961071840000018
            ) < 1e-13
        );
        assert!(
            rel(
                ln_binom_upper(31, 100_000, 1e-3, q(1e-3)).exp(),
                0.99999999999999978
            ) < 1e-13
        );
        assert!(
            rel(
                ln_binom_lower(30, 100_000, 1e-3, q(1e-3)).exp(),
                1.9432671040696619e-16
            ) < 1e-12
        );
    }

    #[test]
    fn qbeta_is_r() {
        // qbeta(0.025, 3, 8), qbeta(0.975, 4, 7), qbeta(0.005, 1, 1e5), qbeta(0.995, 1, 1e5)
        assert!(rel(qbeta_lower_end(0.025, 3, 10), 0.066739511177734467) < 1e-13);
        assert!(rel(qbeta_upper_end(0.025, 3, 10), 0.65245285005999731) < 1e-13);
        assert!(rel(qbeta_lower_end(0.005, 1, 100_000), 5.0125416979164053e-08) < 1e-12);
        assert!(rel(qbeta_upper_end(0.005, 0, 100_000), 5.2981770081923386e-05) < 1e-12);
    }
}
