//! `test: auto`: `counts` for sparse whole-number data (at least half zeros) or with a `total`;
//! otherwise location (Hodges-Lehmann interval of the Mann-Whitney test), `quantile` and
//! `scale` together, each at the Bonferroni-adjusted level 1 − (1 − confidence) / k, `high`
//! when any is `high`. The tail is the lower one (1 − `quantile`) when only a decrease is bad,
//! and only a wider spread counts (a narrower one is never a regression); the tail and spread
//! tests use [`Rule::Interval`]. For the question "is any of them significant" Holm's step-down
//! procedure rejects exactly when Bonferroni does (its first step is Bonferroni's), so the
//! false-alarm rate of the whole is at most 1 − confidence either way.
//!
//! Serial dependence: every judge but `mann-whitney` and `threshold`, and `auto`'s location
//! test, uses the effective sample sizes of `stats::autocorrelation::effective_sizes` (from the
//! canary − baseline differences' lag-1 autocorrelation for aligned series, else the
//! baseline's, when material); the spread tests their `spread_effective` sizes (a spread is
//! estimated more precisely than a mean). Aligned series that share a pattern are compared
//! point for point (see [`super::location`]). The plain `mann-whitney` judge stays R's
//! `wilcox.test` exactly (CONTRACT §4).

use crate::stats::paired::differences_dependence;
use crate::stats::percentile::sorted;
use crate::stats::quantile_compare::min_points;
use crate::template::{AutoSpec, Direction, JudgeSpec};

use crate::judge::decide::{Criteria, Outcome, Rule};
use crate::judge::dependence::Dependence;
use crate::judge::format::num;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

use super::{counts, location, quantile, scale, Judge};

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
    let k = 1
        + usize::from(quantile_fits)
        + usize::from(scale_fits) * (1 + usize::from(paired.is_some()));
    let level = 1.0 - (1.0 - spec.confidence) / k as f64;
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
            location::paired(s, spec, level, p.mean_ratio, rho, effective)
        }
        _ => location::unpaired(p, spec, dep, level, p.mean_ratio, p.baseline_summary.median),
    };
    let mut parts: Vec<(&str, Outcome)> = vec![("location", location)];
    if quantile_fits {
        parts.push((
            "tail",
            quantile::compare(p, spec, tail_quantile, dep, level, Rule::Interval),
        ));
    }
    if scale_fits {
        parts.push((
            "spread",
            scale::compare(p, &spread_spec, dep, level, Rule::Interval),
        ));
        // The canary's own spread beyond the shared pattern, which the unpaired spread test
        // cannot see behind the pattern; the unpaired one stays for what the rank-based
        // paired test dilutes (a few far outliers).
        if let Some(s) = &paired {
            parts.push(("paired spread", scale::paired(s, &spread_spec, level)));
        }
    }
    let tests: Vec<TestReport> = parts.iter().filter_map(|(_, o)| o.test.clone()).collect();
    let pick = |c: Classification| parts.iter().position(|(_, o)| o.class == c);
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
    let test = parts[decider].1.test.clone();
    let summary: Vec<String> = parts
        .iter()
        .map(|(name, o)| {
            let label = match *name {
                "tail" => format!("tail ({q_name})"),
                "location" if paired.is_some() => "paired location".to_string(),
                other => other.to_string(),
            };
            format!("{label} {}", o.class.as_str())
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
        " [auto: {}; each at {}% confidence so that together they keep {}% (Bonferroni){skipped}]",
        summary.join(", "),
        num(level * 100.0),
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
        .map(|(_, o)| o)
        .filter(|o| matches!(o.class, Classification::High | Classification::Low))
        .collect();
    let class = parts[decider].1.class;
    let reason = match class {
        Classification::High | Classification::Low => flagged
            .iter()
            .map(|o| o.reason.as_str())
            .collect::<Vec<_>>()
            .join("; and "),
        _ => parts[decider].1.reason.clone(),
    };
    Outcome {
        class,
        reason: format!("{reason}{footer}"),
        test,
        tests,
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
