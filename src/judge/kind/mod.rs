//! The judges, one file each, all with one signature: [`Judge`], implemented by the options of
//! each test (`template::JudgeKind`). The match in [`judge_of`] is the one place that knows
//! every kind.
//!
//! - [`mann_whitney`]: R's `wilcox.test` and the Hodges-Lehmann interval (CONTRACT §4, §5);
//! - [`threshold`]: bounds on the canary's mean;
//! - [`quantile`]: an upper quantile of the two sides;
//! - [`scale`]: the spread (and `auto`'s paired spread test);
//! - [`counts`]: Poisson rates of sparse events, per step or per unit of a `total` metric;
//! - [`auto`]: counts, or location ([`location`], plain and paired), tail and spread together.

pub(crate) mod auto;
pub(crate) mod counts;
pub(crate) mod kayenta;
pub(crate) mod location;
pub(crate) mod mann_whitney;
pub(crate) mod mean;
pub(crate) mod quantile;
pub(crate) mod scale;
pub(crate) mod step;
pub(crate) mod threshold;

use crate::template::{JudgeKind, JudgeSpec};

use super::decide::Outcome;
use super::dependence::Dependence;
use super::prepare::Prepared;

/// A judge: the options of one test (`template::JudgeKind`), run on a metric's prepared
/// samples.
pub(crate) trait Judge {
    /// Whether the judge needs baseline values to run (else a canary with values is enough).
    fn needs_baseline(&self) -> bool {
        true
    }

    /// Classifies the metric from samples that both have values (see [`Self::needs_baseline`])
    /// and enough canary points; `judge` is the metric's whole judge (direction, what no data
    /// is), `dep` the dependence of the samples' points.
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, dep: &Dependence) -> Outcome;
}

/// The judge of a metric's test.
pub(crate) fn judge_of(kind: &JudgeKind) -> &dyn Judge {
    match kind {
        JudgeKind::MannWhitney(k) => k,
        JudgeKind::Threshold(k) => k,
        JudgeKind::Quantile(k) => k,
        JudgeKind::Scale(k) => k,
        JudgeKind::Counts(k) => k,
        JudgeKind::Auto(k) => k,
        JudgeKind::Kayenta(k) => k,
    }
}
