//! The canary's mean against the baseline's own variability: a few large excursions that a rank
//! test dilutes and a tail test cannot see in a short window.
//!
//! Six points of sixty at six times the level move the mean by half, but only ten ranks in a
//! hundred; Welch's t-test then also takes the excursions' own variance as noise, which hides
//! them again. Under "no change" the canary's points vary as the baseline's do, so the
//! baseline's variance alone is the yardstick:
//!
//! t = (x̄_c − x̄_b) / (s_b √(1/n_c + 1/n_b)),
//!
//! which for independent normal points is exactly Student's t on n_b − 1 degrees of freedom
//! (the numerator is normal with variance σ² (1/n_c + 1/n_b) and independent of s_b²,
//! (n_b − 1) s_b² / σ² being χ² on n_b − 1; W. S. Gosset, "The probable error of a mean",
//! Biometrika 6, 1908; the standardisation by the control group's spread is G. V. Glass's,
//! "Primary, secondary, and meta-analysis of research", Educational Researcher 5, 1976). The
//! interval of the difference is x̄_c − x̄_b ± t_{(1+conf)/2} s_b √(1/n_c + 1/n_b).
//!
//! Serial dependence enters as effective sizes (see [`crate::stats::autocorrelation`]): n_c and
//! n_b are replaced by the callers' effective sizes, and the degrees of freedom by n_b,eff − 1,
//! as for the other adjusted tests. Reference: R 4.2, written out from the definition with
//! `mean`, `sd`, `pt` and `qt` (`scripts/r-reference/generate-change-point.R`), within 1e-9
//! relative, on every case of `fixtures/stats/change-point-reference.json`.

use super::normal::Reference;
use super::{require_confidence, require_samples, StatsError};

/// The result of [`mean_shift`].
#[derive(Debug, Clone, PartialEq)]
pub struct MeanShift {
    /// x̄_c − x̄_b.
    pub difference: f64,
    /// Its interval at the confidence asked.
    pub ci: (f64, f64),
    /// The t statistic.
    pub statistic: f64,
    /// Degrees of freedom of its reference distribution.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The baseline's standard deviation, the yardstick.
    pub baseline_sd: f64,
}

/// Compares the mean of `canary` with that of `baseline`, with the baseline's variance (see the
/// module documentation). `effective` is `(canary, baseline)`'s effective sizes, each within
/// [1, count] (`None`: the counts). Needs at least 2 baseline points and 1 canary point, all
/// finite; a baseline that does not vary gives an infinite statistic when the means differ.
pub fn mean_shift(
    canary: &[f64],
    baseline: &[f64],
    effective: Option<(f64, f64)>,
    confidence: f64,
) -> Result<MeanShift, StatsError> {
    require_samples(canary, baseline, 1)?;
    if baseline.len() < 2 {
        return Err(StatsError::NotEnoughObservations("y"));
    }
    require_confidence(confidence)?;
    let (nc, nb) = effective.unwrap_or((canary.len() as f64, baseline.len() as f64));
    let nc = nc.clamp(1.0, canary.len() as f64);
    let nb = nb.clamp(2.0f64.min(baseline.len() as f64), baseline.len() as f64);
    let mc = super::describe::mean(canary).ok_or(StatsError::NotFinite("x"))?;
    let mb = super::describe::mean(baseline).ok_or(StatsError::NotFinite("y"))?;
    let ss: f64 = baseline.iter().map(|v| (v - mb) * (v - mb)).sum();
    let sd = (ss / (baseline.len() - 1) as f64).sqrt();
    let difference = mc - mb;
    let df = (nb - 1.0).max(1.0);
    let reference = Reference::student(df);
    let se = sd * (1.0 / nc + 1.0 / nb).sqrt();
    let statistic = if se > 0.0 {
        difference / se
    } else if difference == 0.0 {
        0.0
    } else {
        difference.signum() * f64::INFINITY
    };
    if statistic.is_nan() || !se.is_finite() {
        // Values so large that their spread overflows: no comparison to make (and Student's
        // t has no tail probability of NaN).
        return Err(StatsError::InvalidArgument(
            "values too large for a mean test: their spread is not a finite number",
        ));
    }
    let p_value = (2.0 * reference.upper(statistic.abs())).min(1.0);
    let q = reference.quantile((1.0 + confidence) / 2.0, true);
    let ci = (difference - q * se, difference + q * se);
    Ok(MeanShift {
        difference,
        ci,
        statistic,
        df,
        p_value,
        baseline_sd: sd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_spikes_in_sixty_points_are_far_beyond_the_baseline_spread() {
        let baseline: Vec<f64> = (0..60)
            .map(|i| 200.0 + (i % 7) as f64 * 4.0 - 12.0)
            .collect();
        let mut canary = baseline.clone();
        for i in (5..60).step_by(10) {
            canary[i] *= 6.0;
        }
        let m = mean_shift(&canary, &baseline, None, 0.99).unwrap();
        assert!(m.ci.0 > 0.3 * 200.0, "{m:?}");
        assert!(m.p_value < 1e-10);
    }

    #[test]
    fn bad_input_is_refused_and_a_constant_baseline_is_no_panic() {
        assert!(mean_shift(&[1.0], &[1.0], None, 0.95).is_err());
        assert!(mean_shift(&[], &[1.0, 2.0], None, 0.95).is_err());
        assert!(mean_shift(&[1.0], &[1.0, f64::NAN], None, 0.95).is_err());
        assert!(mean_shift(&[1.0], &[1.0, 2.0], None, 1.0).is_err());
        let m = mean_shift(&[2.0, 2.0], &[1.0, 1.0, 1.0], None, 0.95).unwrap();
        assert_eq!(m.statistic, f64::INFINITY);
        assert_eq!(m.p_value, 0.0);
        let same = mean_shift(&[1.0], &[1.0, 1.0], None, 0.95).unwrap();
        assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
    }
}
