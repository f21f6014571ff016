//! `test: mann-whitney`: R's `wilcox.test(canary, baseline, conf.int = TRUE)` exactly
//! (CONTRACT §4), classified by its Hodges-Lehmann interval and the mean ratio (CONTRACT §5).

use crate::stats::percentile::sorted;
use crate::stats::{mann_whitney, MannWhitney, Method};
use crate::template::{JudgeSpec, MannWhitneySpec};

use crate::judge::decide::{decide, signed, Criteria, Outcome};
use crate::judge::dependence::Dependence;
use crate::judge::format::{num, percent_of};
use crate::judge::kind::Judge;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

/// Mann-Whitney classification: `high` when an increase is bad, the interval lies above 0 and the
/// mean ratio reaches `allowed_increase`; `low` symmetrically; otherwise `pass`.
impl Judge for MannWhitneySpec {
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, _dep: &Dependence) -> Outcome {
        let spec = &Criteria::new(judge, &self.tolerance);
        let mw = match mann_whitney(&p.canary, &p.baseline, spec.confidence) {
            Ok(mw) => mw,
            Err(e) => {
                return Outcome::without_test(
                    Classification::Error,
                    format!("Mann-Whitney test failed: {e}"),
                )
            }
        };
        let test = Some(TestReport::MannWhitney {
            method: match mw.method {
                Method::Exact => "exact".into(),
                Method::Normal => "normal".into(),
            },
            statistic: mw.statistic,
            p_value: mw.p_value,
            estimate: mw.estimate,
            ci: [mw.ci.0, mw.ci.1],
            confidence: mw.confidence,
            kayenta: None,
        });
        let shift = describe_shift(&mw, p.baseline_summary.median);
        let identical =
            p.baseline.len() == p.canary.len() && sorted(&p.baseline) == sorted(&p.canary);
        if identical {
            return Outcome {
                class: Classification::Pass,
                reason: "canary and baseline samples are identical".into(),
                test,
                tests: Vec::new(),
            };
        }
        let (lo, hi) = mw.ci;
        let (class, reason) = decide(spec, lo > 0.0, hi < 0.0, p.mean_ratio, "mean ratio", &shift);
        Outcome {
            class,
            reason,
            test,
            tests: Vec::new(),
        }
    }
}

/// "canary - baseline = +0.021 (+10.5% of the baseline median), 95% interval [0.012, 0.031],
/// p = 0.0003".
fn describe_shift(mw: &MannWhitney, baseline_median: Option<f64>) -> String {
    let pct = baseline_median
        .and_then(|m| percent_of(mw.estimate, m))
        .map(|p| format!(" ({p} of the baseline median)"))
        .unwrap_or_default();
    format!(
        "canary - baseline = {}{pct}, {}% interval [{}, {}], p = {}",
        signed(mw.estimate),
        num(mw.confidence * 100.0),
        num(mw.ci.0),
        num(mw.ci.1),
        num(mw.p_value)
    )
}
