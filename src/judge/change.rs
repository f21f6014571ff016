//! *When* the canary changed level inside the window: "the canary stepped up at 14:05 (point 61
//! of 120): +38% after, +1% before".
//!
//! The change is the least-squares break of `stats::change_point` (Bai 1994), taken where
//! Andrews' sup-Wald test finds it significant at 1% under the series' own dependence, with
//! Bai's 95% interval for where it is. It is looked for in what only the canary did: for
//! series aligned point for point, in the canary − baseline differences (a step both sides
//! take cancels); otherwise in the canary, and only when the baseline shows no break of its
//! own. It is reported when the level moved by more than the tolerance of the judge (at least
//! 2%), so that a significant but tolerated wobble says nothing.

use crate::stats::autocorrelation::{baseline_rho, differences_floor};
use crate::stats::change_point::{change_point, change_point_with, ChangePoint, SUP_WALD_CRITICAL};
use crate::template::JudgeSpec;

use super::dependence::Dependence;
use super::format::num;
use super::prepare::Prepared;
use super::report::ChangePointReport;

/// The smallest move of the canary's level against the baseline's that is reported.
const MIN_MOVE: f64 = 0.02;

/// Where the canary changed level, if it did (see the module documentation).
pub(crate) fn canary_change(
    p: &Prepared<'_>,
    spec: &JudgeSpec,
    dep: &Dependence,
) -> Option<ChangePointReport> {
    let mean = |v: &[f64]| crate::stats::describe::mean(v);
    let (cp, before, after) = if dep.aligned {
        let d: Vec<f64> = p
            .canary
            .iter()
            .zip(&p.baseline)
            .map(|(c, b)| c - b)
            .collect();
        let cp = significant(change_point_with(&d, differences_floor(&d, &p.baseline))?)?;
        let k = cp.index;
        let rel = |c: &[f64], b: &[f64]| relative(mean(c)?, mean(b)?);
        (
            cp.clone(),
            rel(&p.canary[..k], &p.baseline[..k]),
            rel(&p.canary[k..], &p.baseline[k..]),
        )
    } else {
        if change_point(&p.baseline).is_some_and(|b| b.significant) {
            return None;
        }
        let cp = significant(change_point_with(&p.canary, baseline_rho(&p.baseline))?)?;
        let base = mean(&p.baseline)?;
        (
            cp.clone(),
            relative(mean(&p.canary[..cp.index])?, base),
            relative(mean(&p.canary[cp.index..])?, base),
        )
    };
    let (b, a) = (before?, after?);
    let tolerance = spec.tolerance().map_or(0.0, |t| {
        if a > b {
            t.allowed_increase - 1.0
        } else {
            1.0 - t.allowed_decrease
        }
    });
    if (a - b).abs() < tolerance.max(MIN_MOVE) {
        return None;
    }
    // Times are known when the canary's points are still on the grid (nothing removed from it).
    let on_grid = p.dropped.canary_missing + p.dropped.canary_outliers == 0;
    let time = |i: usize| on_grid.then(|| p.observation.time_of(i)).flatten();
    Some(ChangePointReport {
        index: cp.index,
        of: cp.n,
        time: time(cp.index),
        before: b,
        after: a,
        confidence: 0.95,
        interval: [cp.interval.0, cp.interval.1],
        interval_time: time(cp.interval.0).zip(time(cp.interval.1)).map(|(x, y)| [x, y]),
        direction: if a > b { "up" } else { "down" }.into(),
        wald: cp.wald,
        method: format!(
            "least-squares break (Bai 1994) in the {}, sup-Wald {} > {} (Andrews 1993, 1%), 95% interval by Bai (1997)",
            if dep.aligned {
                "canary - baseline differences"
            } else {
                "canary"
            },
            num(cp.wald),
            num(SUP_WALD_CRITICAL)
        ),
    })
}

fn significant(cp: ChangePoint) -> Option<ChangePoint> {
    cp.significant.then_some(cp)
}

/// c / b − 1, when b is a usable, non-zero number.
fn relative(c: f64, b: f64) -> Option<f64> {
    let r = c / b - 1.0;
    (b != 0.0 && r.is_finite()).then_some(r)
}

/// "; the canary stepped up at 14:05 (point 61 of 120): +38% after, +1% before (95%: points 58
/// to 64)".
pub(crate) fn sentence(c: &ChangePointReport) -> String {
    let pct = |x: f64| format!("{}{}%", if x >= 0.0 { "+" } else { "" }, num(x * 100.0));
    let at = match c.time {
        Some(t) => format!(
            "at {} (point {} of {})",
            t.format("%Y-%m-%d %H:%M:%S UTC"),
            c.index + 1,
            c.of
        ),
        None => format!("at point {} of {}", c.index + 1, c.of),
    };
    format!(
        "; the canary stepped {} {at}: {} after, {} before (95% interval of where: points {} to {})",
        c.direction,
        pct(c.after),
        pct(c.before),
        c.interval[0] + 1,
        c.interval[1] + 1
    )
}
