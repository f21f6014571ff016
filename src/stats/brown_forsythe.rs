//! The Brown-Forsythe test of equal spread (Levene's test around the median), two samples, with
//! a confidence interval for the difference of the spreads.
//!
//! Each value becomes its absolute deviation from its own sample's median, z = |x − median(x)|;
//! the two samples of deviations are compared with the pooled-variance two-sample t-test. With
//! two groups that is exactly Brown and Forsythe's F test (F = t²; M. B. Brown and
//! A. B. Forsythe, "Robust tests for the equality of variances", JASA 69, 1974, 364–367), the
//! `center = median` default of `car::leveneTest`. The spread of a side is the mean of its
//! deviations (mean absolute deviation from the median); the effect reported to users is the
//! ratio canary / baseline of those spreads, and the interval is that of their difference.
//!
//! Reference: R 4.2 `t.test(abs(x - median(x)), abs(y - median(y)), var.equal = TRUE,
//! conf.level = confidence)` (`statistic`, `p.value`, `conf.int`) and `oneway.test(z ~ g,
//! var.equal = TRUE)$statistic` for F, on the cases of `fixtures/stats/judges-reference.json`
//! (`scripts/r-reference/generate-judges.R`). Tolerance: t and F within 1e-10 relative;
//! p-value and interval ends within 1e-8 relative (statrs' incomplete beta and its inverse).
//!
//! Serial dependence: given effective sizes m_x ≤ n_x and m_y ≤ n_y (see
//! [`super::autocorrelation`]), the pooled variance is still estimated from every point, but
//! the standard error of the difference is s_p √(1/m_x + 1/m_y) and the degrees of freedom
//! m_x + m_y − 2. With m = n this is R's test exactly. A spread is estimated more precisely
//! than a mean from the same dependent points: callers pass the sizes of
//! [`super::autocorrelation::spread_effective`] (Bartlett's (1 + ρ²) / (1 − ρ²) for a
//! variance, about 26 of 120 points at ρ = 0.8 where a mean gets 13).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::percentile::percentile_selected;
use super::StatsError;
use super::{require_confidence, require_samples};

/// The result of [`brown_forsythe`].
#[derive(Debug, Clone, PartialEq)]
pub struct BrownForsythe {
    /// The t statistic of the deviations (positive: the first sample spreads more).
    pub t: f64,
    /// Brown-Forsythe F = t².
    pub statistic: f64,
    /// Degrees of freedom of t (m_x + m_y − 2).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Mean absolute deviation from the median of the first sample.
    pub x_spread: f64,
    /// The same for the second sample.
    pub y_spread: f64,
    /// Confidence interval of x_spread − y_spread.
    pub ci: (f64, f64),
    /// Confidence level of `ci`.
    pub confidence: f64,
}

fn deviations(v: &[f64]) -> Option<Vec<f64>> {
    // The median by selection: the same value as from a sorted copy, in O(n).
    let median = percentile_selected(v, 0.5)?;
    Some(v.iter().map(|x| (x - median).abs()).collect())
}

fn mean_and_ss(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = super::describe::sum(v) / n;
    let squares: Vec<f64> = v.iter().map(|x| (x - mean) * (x - mean)).collect();
    (mean, super::describe::sum(&squares))
}

/// Brown-Forsythe test of `x` (canary) against `y` (baseline) at `confidence`, with effective
/// sizes `x_effective` and `y_effective` (the counts for independent points).
///
/// When both samples' deviations have no variance at all, t is 0 (equal spreads) or ±∞, the
/// p-value 1 or 0, and the interval the difference itself (R: NaN / "data are essentially
/// constant").
///
/// Errors: a sample with fewer than 2 values, a non-finite value, `confidence` outside (0, 1),
/// effective sizes not in (1, n] with m_x + m_y > 2.
pub fn brown_forsythe(
    x: &[f64],
    y: &[f64],
    confidence: f64,
    x_effective: f64,
    y_effective: f64,
) -> Result<BrownForsythe, StatsError> {
    require_samples(x, y, 2)?;
    require_confidence(confidence)?;
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    if !(x_effective > 0.0 && x_effective <= nx && y_effective > 0.0 && y_effective <= ny)
        || x_effective + y_effective <= 2.0
    {
        return Err(StatsError::InvalidArgument(
            "effective sizes must be positive, at most the counts, and sum to more than 2",
        ));
    }
    let too_large = StatsError::InvalidArgument("the values are too large to compare");
    let zx = deviations(x).ok_or(too_large.clone())?;
    let zy = deviations(y).ok_or(too_large.clone())?;
    let (mx, ssx) = mean_and_ss(&zx);
    let (my, ssy) = mean_and_ss(&zy);
    let pooled = (ssx + ssy) / (nx + ny - 2.0);
    let se = (pooled * (1.0 / x_effective + 1.0 / y_effective)).sqrt();
    let difference = mx - my;
    if !(difference.is_finite() && se.is_finite()) {
        return Err(too_large);
    }
    let df = x_effective + y_effective - 2.0;
    if se == 0.0 {
        let t = if difference == 0.0 {
            0.0
        } else {
            difference.signum() * f64::INFINITY
        };
        return Ok(BrownForsythe {
            t,
            statistic: t * t,
            df,
            p_value: if difference == 0.0 { 1.0 } else { 0.0 },
            x_spread: mx,
            y_spread: my,
            ci: (difference, difference),
            confidence,
        });
    }
    let t = difference / se;
    let dist = StudentsT::new(0.0, 1.0, df)
        .map_err(|_| StatsError::InvalidArgument("degrees of freedom must be positive"))?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let q = dist.inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    Ok(BrownForsythe {
        t,
        statistic: t * t,
        df,
        p_value,
        x_spread: mx,
        y_spread: my,
        ci: (difference - q * se, difference + q * se),
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_t_test_of_deviations() {
        // R: x <- c(3,1,4,1,5,9,2,6); y <- c(2,7,1,8,2,8,1,8,2,8)
        // t.test(abs(x-median(x)), abs(y-median(y)), var.equal=TRUE)
        let x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let y = [2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0, 2.0, 8.0];
        let r = brown_forsythe(&x, &y, 0.95, 8.0, 10.0).unwrap();
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs();
        assert!(close(r.t, -1.825_966_966_773_621, 1e-10), "{}", r.t);
        assert!(
            close(r.p_value, 0.086_575_583_540_713_57, 1e-8),
            "{}",
            r.p_value
        );
        assert!(close(r.ci.0, -2.106_952_387_064_718, 1e-8), "{:?}", r.ci);
        assert!(close(r.ci.1, 0.156_952_387_064_717_7, 1e-8), "{:?}", r.ci);
    }

    #[test]
    fn constant_deviations_and_bad_input() {
        let r = brown_forsythe(&[1.0, 1.0, 1.0], &[2.0, 2.0], 0.95, 3.0, 2.0).unwrap();
        assert_eq!((r.t, r.p_value, r.ci), (0.0, 1.0, (0.0, 0.0)));
        assert!(brown_forsythe(&[1.0], &[2.0, 3.0], 0.95, 1.0, 2.0).is_err());
        assert!(brown_forsythe(&[1.0, 2.0], &[2.0, 3.0], 0.95, 3.0, 2.0).is_err());
        assert!(brown_forsythe(&[1.0, 2.0], &[2.0, f64::NAN], 0.95, 2.0, 2.0).is_err());
    }
}
