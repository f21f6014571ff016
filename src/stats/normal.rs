//! Standard normal tail probabilities and quantiles with R's numerics.
//!
//! `pnorm` uses statrs 0.19 (`cdf` and `sf`, the survival function, so small upper tails keep
//! their precision); measured within 1e-10 relative of R's `pnorm` for |z| <= 37 (R underflows
//! to 0 below about -37.5, statrs a little later).
//! `qnorm` is a port of R 4.2's `src/nmath/qnorm.c` (Wichura's AS 241, accurate to about 1 part
//! in 1e16), including its separate lower/upper-tail paths, so that `qnorm(p)` and
//! `qnorm(p, lower.tail = FALSE)` are the very doubles R computes.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The distribution a standardised rank statistic is referred to: the standard normal (R's
/// normal-approximation branches), or Student's t with `df` degrees of freedom.
///
/// The autocorrelated variants of the rank tests divide by a standard deviation built on an
/// *estimated* effective sample size. With the normal reference such tests are liberal in
/// short series (F. W. Zwiers and H. von Storch, "Taking serial correlation into account in
/// tests of the mean", J. Climate 8, 1995, 336–351: the estimated lag-1 autocorrelation is
/// noisy and biased low); referring the statistic to t on the effective degrees of freedom is
/// the usual partial remedy, and it matters exactly when the effective size is small (t on 24
/// degrees of freedom puts 1.7% beyond the normal's 1.25% point).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reference {
    /// The standard normal.
    Normal,
    /// Student's t with these degrees of freedom (at least 1).
    StudentT(f64),
}

impl Reference {
    /// Student's t on `df` degrees of freedom (at least 1), or the normal when `df` is not
    /// finite.
    pub(crate) fn student(df: f64) -> Self {
        if df.is_finite() {
            Reference::StudentT(df.max(1.0))
        } else {
            Reference::Normal
        }
    }

    fn t(df: f64) -> Option<StudentsT> {
        StudentsT::new(0.0, 1.0, df).ok()
    }

    /// P(Z ≤ z).
    pub(crate) fn lower(self, z: f64) -> f64 {
        match self {
            Reference::Normal => pnorm_lower(z),
            Reference::StudentT(df) => Self::t(df).map_or(f64::NAN, |t| t.cdf(z)),
        }
    }

    /// P(Z > z).
    pub(crate) fn upper(self, z: f64) -> f64 {
        match self {
            Reference::Normal => pnorm_upper(z),
            Reference::StudentT(df) => Self::t(df).map_or(f64::NAN, |t| t.sf(z)),
        }
    }

    /// The quantile: R's `qnorm(p, lower.tail)` or `qt(p, df, lower.tail)`.
    pub(crate) fn quantile(self, p: f64, lower_tail: bool) -> f64 {
        match self {
            Reference::Normal => qnorm(p, lower_tail),
            Reference::StudentT(df) => {
                if p.is_nan() || !(0.0..=1.0).contains(&p) {
                    return f64::NAN;
                }
                if p == 0.0 || p == 1.0 {
                    return qnorm(p, lower_tail);
                }
                // The smaller tail, and whether the quantile lies below 0; the other half by
                // symmetry, so that small upper tails keep their precision.
                let (small, negative) = match (lower_tail, p <= 0.5) {
                    (true, true) => (p, true),
                    (true, false) => (1.0 - p, false),
                    (false, true) => (p, false),
                    (false, false) => (1.0 - p, true),
                };
                let q = Self::t(df).map_or(f64::NAN, |t| t.inverse_cdf(small));
                if negative {
                    q
                } else {
                    -q
                }
            }
        }
    }
}

/// R's `pnorm(z)`.
pub(crate) fn pnorm_lower(z: f64) -> f64 {
    Normal::standard().cdf(z)
}

/// R's `pnorm(z, lower.tail = FALSE)`.
pub(crate) fn pnorm_upper(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// R's `qnorm(p, 0, 1, lower.tail)` (not log), AS 241.
// The coefficients are AS 241's as printed in R's qnorm.c, digit for digit.
#[allow(clippy::excessive_precision)]
pub(crate) fn qnorm(p: f64, lower_tail: bool) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return if lower_tail {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if p == 1.0 {
        return if lower_tail {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    // R_DT_qIv(p): the lower-tail probability.
    let p_ = if lower_tail { p } else { 0.5 - p + 0.5 };
    let q = p_ - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852854561 + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.);
    }
    // r = min(p, 1 - p), through R_DT_CIv when q > 0.
    let r = if q > 0.0 {
        if lower_tail {
            0.5 - p + 0.5
        } else {
            p
        }
    } else {
        p_
    };
    let mut r = (-r.ln()).sqrt();
    let val = if r <= 5. {
        r += -1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.)
    } else {
        r += -5.;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.)
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
}

#[cfg(test)]
// Expected values are R's sprintf("%.17g") output, verbatim.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::{pnorm_lower, pnorm_upper, qnorm, Reference};

    #[test]
    fn student_reference_matches_r_qt_and_pt() {
        // R 4.2.2: qt(0.0125, 24); qt(0.0125, 24, lower.tail = FALSE); qt(1e-10, 3.5);
        // pt(2.5, 7.25); pt(2.5, 7.25, lower.tail = FALSE); qt(0.9, 1).
        let close = |a: f64, b: f64, rel: f64| (a - b).abs() <= rel * b.abs();
        let t24 = Reference::student(24.0);
        assert!(close(
            t24.quantile(0.0125, true),
            -2.390949315129467845,
            1e-9
        ));
        assert!(close(
            t24.quantile(0.0125, false),
            2.390949315129467845,
            1e-9
        ));
        assert!(close(
            Reference::student(3.5).quantile(1e-10, true),
            -848.543345633476860712,
            1e-6
        ));
        let t = Reference::student(7.25);
        assert!(close(t.lower(2.5), 0.980067239620542763, 1e-9));
        assert!(close(t.upper(2.5), 0.019932760379457265, 1e-9));
        assert!(close(
            Reference::student(1.0).quantile(0.9, true),
            3.077683537175254447,
            1e-9
        ));
        // Degrees of freedom below 1 are taken as 1; an infinite number is the normal.
        assert_eq!(Reference::student(0.2), Reference::StudentT(1.0));
        assert_eq!(Reference::student(f64::INFINITY), Reference::Normal);
        assert_eq!(t24.quantile(0.0, true), f64::NEG_INFINITY);
        assert_eq!(
            Reference::Normal.quantile(0.025, false),
            qnorm(0.025, false)
        );
    }

    #[test]
    fn qnorm_is_r_bit_for_bit() {
        // R 4.2.2, sprintf("%.17g", qnorm(...)).
        assert_eq!(qnorm(0.025, true), -1.9599639845400538);
        assert_eq!(qnorm(0.025, false), 1.9599639845400538);
        assert_eq!(qnorm(0.05, true), -1.6448536269514726);
        assert_eq!(qnorm(0.01, true), -2.3263478740408408);
        assert_eq!(qnorm(0.2, true), -0.84162123357291418);
        assert_eq!(qnorm(0.2, false), 0.84162123357291441);
        assert_eq!(qnorm(1e-12, true), -7.0344838253011321);
        assert_eq!(qnorm(1e-300, true), -37.047096299361201);
    }

    #[test]
    fn pnorm_matches_r() {
        // statrs' erfc is good to about 5e-11 relative; the p-value bar is 1e-9.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * b.abs();
        assert!(close(pnorm_lower(-30.0), 4.9067139271481872e-198));
        assert!(close(pnorm_lower(-5.5), 1.8989562465887721e-08));
        assert!(close(pnorm_lower(1.3), 0.9031995154143897));
        assert!(close(pnorm_upper(1.3), 0.096800484585610344));
    }
}
