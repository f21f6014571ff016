//! How dependent the points of each side are: their effective sample sizes (see
//! `stats::autocorrelation`), and the words that say so in a reason.

use crate::stats::autocorrelation::{effective_sizes, spread_effective, EffectiveSize};

use super::format::num;
use super::report::Dropped;

/// The effective sizes of both sides (see `stats::autocorrelation`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dependence {
    /// Baseline.
    pub(crate) baseline: EffectiveSize,
    /// Canary.
    pub(crate) canary: EffectiveSize,
    /// The series are aligned point for point: the autocorrelation is that of the canary −
    /// baseline differences (see `stats::autocorrelation::effective_sizes`).
    pub(crate) aligned: bool,
}

impl Dependence {
    /// The dependence of the prepared samples (`dropped`: what preparing them left out).
    /// Aligned point for point: both series complete (nothing removed) and of one length, as
    /// live sources return them on the step grid.
    pub(crate) fn measure(baseline: &[f64], canary: &[f64], dropped: &Dropped) -> Self {
        let d = dropped;
        let aligned =
            d.baseline_missing + d.canary_missing + d.baseline_outliers + d.canary_outliers == 0
                && baseline.len() == canary.len();
        let (canary_size, baseline_size) = effective_sizes(canary, baseline, aligned);
        Dependence {
            baseline: baseline_size,
            canary: canary_size,
            aligned,
        }
    }

    /// The dependence that a spread test allows for: each side's [`spread_effective`] size.
    pub(crate) fn for_spread(&self) -> Dependence {
        Dependence {
            canary: spread_effective(&self.canary),
            baseline: spread_effective(&self.baseline),
            aligned: self.aligned,
        }
    }

    /// True when either side's effective size is below its count.
    pub(crate) fn adjusted(&self) -> bool {
        self.baseline.adjusted() || self.canary.adjusted()
    }

    /// "; the points are autocorrelated (lag-1 autocorrelation of the baseline 0.8 after bias
    /// correction), so they count as fewer independent ones: 13 of 120 canary points, ..." or
    /// "".
    pub(crate) fn note(&self) -> String {
        self.note_of(false)
    }

    /// [`Self::note`]; for a spread test (`spread`) with the square of the autocorrelation,
    /// which governs a spread's precision.
    pub(crate) fn note_of(&self, spread: bool) -> String {
        if !self.adjusted() {
            return String::new();
        }
        let side = |name: &str, e: &EffectiveSize| {
            format!("{} of {} {name} points", num(e.effective.round()), e.count,)
        };
        let rho = self.baseline.used.or(self.canary.used).unwrap_or(0.0);
        let around = match self.baseline.change_at.or(self.canary.change_at) {
            Some(k) => format!(", around the change of level at point {}", k + 1),
            None => String::new(),
        };
        format!(
            "; the points are autocorrelated (lag-1 autocorrelation of {} {} after bias correction{around}{}), so they count as fewer independent ones: {}, {}",
            if self.aligned {
                "the canary - baseline differences"
            } else {
                "the baseline"
            },
            num(rho),
            if spread {
                format!("; a spread depends on its square, {}", num(rho * rho))
            } else {
                String::new()
            },
            side("canary", &self.canary),
            side("baseline", &self.baseline)
        )
    }
}
