//! The judges, one file each, all with one signature:
//! `fn judge(&Prepared, &JudgeSpec, &Dependence) -> Outcome`. The match below is the one place
//! that knows every kind.
//!
//! - [`mann_whitney`]: R's `wilcox.test` and the Hodges-Lehmann interval (CONTRACT §4, §5);
//! - [`threshold`]: bounds on the canary's mean;
//! - [`quantile`]: an upper quantile of the two sides;
//! - [`scale`]: the spread (and `auto`'s paired spread test);
//! - [`counts`]: Poisson rates of sparse events, per step or per unit of a `total` metric;
//! - [`auto`]: counts, or location ([`location`], plain and paired), tail and spread together.

pub(crate) mod auto;
pub(crate) mod counts;
pub(crate) mod location;
pub(crate) mod mann_whitney;
pub(crate) mod quantile;
pub(crate) mod scale;
pub(crate) mod threshold;

use crate::template::{JudgeSpec, TestKind};

use super::decide::Outcome;
use super::dependence::Dependence;
use super::prepare::Prepared;

/// Runs the metric's judge on samples that both have values (a threshold judge with an
/// absolute bound: a canary that has values).
pub(crate) fn judge(p: &Prepared<'_>, spec: &JudgeSpec, dep: &Dependence) -> Outcome {
    match spec.test {
        TestKind::MannWhitney => mann_whitney::judge(p, spec, dep),
        TestKind::Threshold => threshold::judge(p, spec, dep),
        TestKind::Quantile => quantile::judge(p, spec, dep),
        TestKind::Scale => scale::judge(p, spec, dep),
        TestKind::Counts => counts::judge(p, spec, dep),
        TestKind::Auto => auto::judge(p, spec, dep),
    }
}

/// Whether the judge needs baseline values to run.
pub(crate) fn needs_baseline(spec: &JudgeSpec) -> bool {
    spec.test != TestKind::Threshold || threshold::needs_baseline(spec)
}
