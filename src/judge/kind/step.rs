//! `auto`'s step test: a change of level inside the window that only the canary took (a leak, a
//! cache that fills up, a dependency that degrades after a while). A location test over the
//! whole window sees only part of such a step (a third of the points, when it starts at two
//! thirds); here the break itself is tested.
//!
//! The break is `stats::change_point`'s least-squares break of the canary − baseline
//! differences for aligned series (a step both sides take cancels), else of the canary when
//! the baseline shows no break of its own. Its sup-Wald statistic, under the residuals' own
//! dependence, is referred to James, James and Siegmund's approximation
//! (`stats::change_point::sup_wald_p_value`), which is a little more cautious than
//! strucchange's; significant at the level `auto` gives this test. The step counts against
//! the tolerance as the location test's change does: the level after it, against the
//! baseline's, must reach `allowed_increase` (or `allowed_decrease`), and so must the step
//! itself.

use crate::stats::autocorrelation::{baseline_rho, differences_floor};
use crate::stats::change_point::{change_point, change_point_with, sup_wald_p_value};

use crate::judge::decide::{decide, Criteria, Outcome};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

/// The step test at level `confidence`.
pub(crate) fn compare(
    p: &Prepared<'_>,
    spec: &Criteria<'_>,
    dep: &Dependence,
    confidence: f64,
) -> Outcome {
    let none = |why: &str| Outcome::without_test(Classification::Pass, why.to_string());
    let mean = crate::stats::describe::mean;
    let (cp, before, after) = if dep.aligned {
        let d: Vec<f64> = p
            .canary
            .iter()
            .zip(&p.baseline)
            .map(|(c, b)| c - b)
            .collect();
        // Tested allowing for at least a dependence that is not fitted to the break (see
        // `stats::autocorrelation::differences_floor`).
        let Some(cp) = change_point_with(&d, differences_floor(&d, &p.baseline)) else {
            return none("no step test: too few points, or no variation");
        };
        let k = cp.index;
        let ratio = |c: &[f64], b: &[f64]| match (mean(c), mean(b)) {
            (Some(c), Some(b)) if b != 0.0 => Some(c / b),
            _ => None,
        };
        let (before, after) = (
            ratio(&p.canary[..k], &p.baseline[..k]),
            ratio(&p.canary[k..], &p.baseline[k..]),
        );
        (cp, before, after)
    } else {
        if change_point(&p.baseline).is_some_and(|b| b.significant) {
            return none("no step test: the baseline changed level too");
        }
        let Some(cp) = change_point_with(&p.canary, baseline_rho(&p.baseline)) else {
            return none("no step test: too few points, or no variation");
        };
        let base = mean(&p.baseline).filter(|b| *b != 0.0);
        let side = |c: &[f64]| mean(c).zip(base).map(|(c, b)| c / b);
        let (before, after) = (side(&p.canary[..cp.index]), side(&p.canary[cp.index..]));
        (cp, before, after)
    };
    let wald = cp.wald;
    let p_value = sup_wald_p_value(wald, cp.n);
    let significant = p_value <= 1.0 - confidence;
    // The level after the step against the baseline, and the step itself, beyond the tolerance.
    let (up, down) = match (before, after) {
        (Some(b), Some(a)) => (
            significant && a > b && a >= spec.allowed_increase && a / b >= spec.allowed_increase,
            significant && a < b && a <= spec.allowed_decrease && a / b <= spec.allowed_decrease,
        ),
        _ => (false, false),
    };
    let shown = |r: Option<f64>| r.map_or("unknown".to_string(), |r| format!("{}x", num(r)));
    let evidence = format!(
        "the canary{} from point {} of {}: {} the baseline after, {} before (sup-Wald {}, p = {} against {})",
        if up {
            " stepped up"
        } else if down {
            " stepped down"
        } else {
            "'s largest change of level is"
        },
        cp.index + 1,
        cp.n,
        shown(after),
        shown(before),
        num(wald),
        num(p_value),
        num(1.0 - confidence)
    );
    let report = TestReport::Step {
        method: if dep.aligned {
            "least-squares break of the differences, sup-Wald".into()
        } else {
            "least-squares break of the canary, sup-Wald".into()
        },
        statistic: wald,
        p_value,
        confidence,
        index: cp.index,
        of: cp.n,
        before,
        after,
    };
    let effect = after.zip(before).map(|(a, b)| a / b);
    let (class, reason) = decide(spec, up, down, effect, "level after / before", &evidence);
    Outcome {
        class,
        reason,
        test: Some(report),
        tests: Vec::new(),
    }
}
