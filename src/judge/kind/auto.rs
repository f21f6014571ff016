//! `test: auto`: `counts` for sparse whole-number data (at least half zeros) or with a `total`;
//! otherwise five tests together, `high` when any is `high`:
//! - location: the Hodges-Lehmann interval of the Mann-Whitney test ([`super::location`];
//!   paired for aligned series that share a pattern);
//! - mean: the canary mean against the baseline's variance ([`super::mean`]), for a few large
//!   excursions the ranks dilute;
//! - step: a change of level inside the window that only the canary took ([`super::step`]);
//! - tail: an upper quantile (the lower one, 1 − `quantile`, when only a decrease is bad);
//! - spread: Brown-Forsythe, and for paired series the canary's own spread beyond the shared
//!   pattern; only a wider spread counts (a narrower one is never a regression).
//!
//! Each runs at its share of the error rate (weighted Bonferroni, see [`W_LOCATION`]): the
//! chance that any fires on an unchanged canary is at most 1 − confidence. For the question "is
//! any of them significant" Holm's step-down procedure rejects exactly when Bonferroni does
//! (its first step is Bonferroni's). The mean, step, tail and spread tests are there for large
//! changes the location test misses: they use [`Rule::Interval`] (or, for the step, the level
//! after it beyond the tolerance), so a small, tolerated change cannot fail a metric through
//! them.
//!
//! Serial dependence: every test here uses the effective sample sizes of
//! `stats::autocorrelation::effective_sizes` (from the canary − baseline differences' lag-1
//! autocorrelation for aligned series, else the baseline's, when material, and estimated around
//! a change of level when there is a significant one); the spread tests their
//! `spread_effective` sizes. The plain `mann-whitney` judge stays R's `wilcox.test` exactly
//! (CONTRACT §4).

use crate::stats::paired::differences_dependence;
use crate::stats::percentile::sorted;
use crate::stats::quantile_compare::min_points;
use crate::template::{AutoSpec, Direction, JudgeSpec};

use crate::judge::decide::{Criteria, Outcome, Rule};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

use super::{counts, location, mean, quantile, scale, step, Judge};

/// `auto`: counts with a `total` or for sparse whole-number counts, else the continuous
/// combination.
impl Judge for AutoSpec {
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, dep: &Dependence) -> Outcome {
        let spec = &Criteria::new(judge, &self.tolerance);
        let (prefix, outcome) = if let Some(total_name) = self.total.as_deref() {
            (total_reason(), counts::with_total(p, total_name, spec, dep))
        } else if picks_counts(p) {
            (counts_reason(), counts::per_step(p, spec, dep))
        } else {
            return continuous(p, spec, self.quantile, dep);
        };
        Outcome {
            reason: format!("{prefix}{}", outcome.reason),
            ..outcome
        }
    }
}

/// The test `auto` runs for these samples: `counts` for sparse whole-number data, else `None`
/// (the location + quantile + spread combination).
fn picks_counts(p: &Prepared<'_>) -> bool {
    let all = p.baseline.iter().chain(&p.canary);
    let whole = all.clone().all(|v| *v >= 0.0 && v.fract() == 0.0);
    let zeros = all.clone().filter(|v| **v == 0.0).count();
    whole && zeros * 2 >= p.baseline.len() + p.canary.len()
}

/// `auto` on continuous data: location, quantile and spread at the Bonferroni-adjusted level;
/// `high` when any is `high` (else `low` when any is `low`). The outcome's `test` is the
/// deciding test, its `tests` all of them.
fn continuous(p: &Prepared<'_>, spec: &Criteria<'_>, quantile: f64, dep: &Dependence) -> Outcome {
    let identical = p.baseline.len() == p.canary.len() && sorted(&p.baseline) == sorted(&p.canary);
    // The tail that can hurt: the upper one, or the lower one (p10 for the default 0.9) when
    // only a decrease is bad (a throughput that sometimes collapses).
    let tail_quantile = if spec.direction == Direction::Decrease {
        1.0 - quantile
    } else {
        quantile
    };
    // A wider spread is bad whichever way the metric's level should not move; a narrower one
    // never is.
    let spread_spec = Criteria {
        direction: Direction::Increase,
        ..*spec
    };
    let q_name = format!("p{}", num(tail_quantile * 100.0));
    let need = min_points(tail_quantile);
    let quantile_fits = dep.canary.effective >= need && dep.baseline.effective >= need;
    let scale_fits = p.canary.len() >= 2 && p.baseline.len() >= 2;

    // Aligned series that share a pattern are compared point for point: location and spread
    // of what is not shared. The tail stays unpaired (a tenth of the requests slower shows in
    // the quantile either way).
    let paired = location::paired_series(p, dep);
    let mean_fits = p.canary.len() >= 2 && p.baseline.len() >= 2;
    // A break needs a few points on each side of it, and an asymptotic p-value some more.
    let step_fits =
        p.canary.len() >= MIN_STEP_POINTS && (!dep.aligned || p.baseline.len() == p.canary.len());
    let levels = Levels::new(
        spec.confidence,
        Fits {
            tail: quantile_fits,
            mean: mean_fits,
            step: step_fits,
            spread: scale_fits,
            paired: paired.is_some(),
        },
    );
    let dependence = paired.as_ref().map(|s| {
        let d: Vec<f64> = s
            .canary
            .iter()
            .zip(&s.baseline)
            .map(|(c, b)| c - b)
            .collect();
        differences_dependence(&d)
    });
    let location = match (&paired, dependence) {
        (Some(s), Some((rho, effective))) => {
            location::paired(s, spec, levels.location, p.mean_ratio, rho, effective)
        }
        _ => location::unpaired(
            p,
            spec,
            dep,
            levels.location,
            p.mean_ratio,
            p.baseline_summary.median,
        ),
    };
    let mut parts: Vec<(&str, f64, Outcome)> = vec![("location", levels.location, location)];
    if mean_fits {
        parts.push((
            "mean",
            levels.mean,
            mean::compare(p, spec, dep, levels.mean),
        ));
    }
    if step_fits {
        parts.push((
            "step",
            levels.step,
            step::compare(p, spec, dep, levels.step),
        ));
    }
    if quantile_fits {
        parts.push((
            "tail",
            levels.tail,
            quantile::compare(p, spec, tail_quantile, dep, levels.tail, Rule::Interval),
        ));
    }
    if scale_fits {
        parts.push((
            "spread",
            levels.spread,
            scale::compare(p, &spread_spec, dep, levels.spread, Rule::Interval),
        ));
        // The canary's own spread beyond the shared pattern, which the unpaired spread test
        // cannot see behind the pattern; the unpaired one stays for what the rank-based
        // paired test dilutes (a few far outliers).
        if let Some(s) = &paired {
            parts.push((
                "paired spread",
                levels.spread,
                scale::paired(s, &spread_spec, levels.spread),
            ));
        }
    }
    let tests: Vec<TestReport> = parts.iter().filter_map(|(.., o)| o.test.clone()).collect();
    let pick = |c: Classification| parts.iter().position(|(.., o)| o.class == c);
    // A throughput whose lower tail collapses and whose spread widens is `low` (the direction
    // the user said is bad); otherwise `high` comes first.
    let (first, second) = if spec.direction == Direction::Decrease {
        (Classification::Low, Classification::High)
    } else {
        (Classification::High, Classification::Low)
    };
    let decider = pick(first)
        .or_else(|| pick(second))
        .or_else(|| pick(Classification::Error))
        .unwrap_or(0);
    let test = parts[decider].2.test.clone();
    let summary: Vec<String> = parts
        .iter()
        .map(|(name, level, o)| {
            let label = match *name {
                "tail" => format!("tail ({q_name})"),
                "location" if paired.is_some() => "paired location".to_string(),
                other => other.to_string(),
            };
            format!("{label} {} at {}%", o.class.as_str(), num(level * 100.0))
        })
        .collect();
    let skipped = if quantile_fits {
        String::new()
    } else {
        format!(
            "; {q_name} not compared: fewer than {} independent points on a side",
            num(need)
        )
    };
    let footer = format!(
        " [auto: {}; confidence levels that together keep {}% (weighted Bonferroni){skipped}]",
        summary.join(", "),
        num(spec.confidence * 100.0)
    );
    if identical {
        return Outcome {
            class: Classification::Pass,
            reason: format!("canary and baseline samples are identical{footer}"),
            test,
            tests,
        };
    }
    let flagged: Vec<&Outcome> = parts
        .iter()
        .map(|(.., o)| o)
        .filter(|o| matches!(o.class, Classification::High | Classification::Low))
        .collect();
    let class = parts[decider].2.class;
    let reason = match class {
        Classification::High | Classification::Low => flagged
            .iter()
            .map(|o| o.reason.as_str())
            .collect::<Vec<_>>()
            .join("; and "),
        _ => parts[decider].2.reason.clone(),
    };
    Outcome {
        class,
        reason: format!("{reason}{footer}"),
        test,
        tests,
    }
}

/// The share of the error rate each of `auto`'s tests gets (weighted Bonferroni: R. Rosenthal
/// and D. B. Rubin, "Ensemble-adjusted p values", Psychological Bulletin 94, 1983, 540–541;
/// S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal
/// of Statistics 6, 1979, 65–70, section 5). Whatever the weights, the chance that any test
/// fires on an unchanged canary is at most the sum of their levels' complements, 1 −
/// confidence. The location test is the one most regressions show in, so it keeps most of the
/// error rate: at 0.55 of 5% (97.25%), it loses about 6 points of detection against the
/// `mann-whitney` judge at 95% where that judge detects 85% (a shift of 3 standard errors),
/// less what the mean and step tests catch of the same shifts;
/// the others are there for large changes it misses (a tenth of the points six times higher,
/// a spread 2.5 times wider), where a stricter level costs little. The two spread tests of
/// paired series share the spread's part.
const W_LOCATION: f64 = 0.55;
/// The mean test's share.
const W_MEAN: f64 = 0.1;
/// The step test's share.
const W_STEP: f64 = 0.1;
/// The tail test's share.
const W_TAIL: f64 = 0.1;
/// The spread test's share (both spread tests together, for paired series).
const W_SPREAD: f64 = 0.15;

/// Fewest points for the step test: 30, so that each side of a break trimmed at 15% has 4.
const MIN_STEP_POINTS: usize = 30;

/// Which of `auto`'s tests run.
struct Fits {
    tail: bool,
    mean: bool,
    step: bool,
    spread: bool,
    paired: bool,
}

/// The confidence level of each of `auto`'s tests for an overall `confidence`.
struct Levels {
    location: f64,
    mean: f64,
    step: f64,
    tail: f64,
    spread: f64,
}

impl Levels {
    /// The levels, with the weights of the tests that run scaled to add up to 1.
    fn new(confidence: f64, fits: Fits) -> Self {
        let used = |on: bool, w: f64| if on { w } else { 0.0 };
        let total = W_LOCATION
            + used(fits.mean, W_MEAN)
            + used(fits.step, W_STEP)
            + used(fits.tail, W_TAIL)
            + used(fits.spread, W_SPREAD);
        let alpha = 1.0 - confidence;
        let level = |w: f64| 1.0 - alpha * w / total;
        Levels {
            location: level(W_LOCATION),
            mean: level(W_MEAN),
            step: level(W_STEP),
            tail: level(W_TAIL),
            spread: level(W_SPREAD / if fits.paired { 2.0 } else { 1.0 }),
        }
    }
}

/// `auto` on sparse counts, with the reason saying so.
fn counts_reason() -> &'static str {
    "auto chose counts (sparse whole-number counts: at least half the values are 0): "
}

/// `auto` with a `total`, with the reason saying so.
fn total_reason() -> &'static str {
    "auto chose counts (a `total` is given): "
}
