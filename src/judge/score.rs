//! Group scores, the summary score and the verdict (CONTRACT §5: Kayenta's `WeightedSumScorer`
//! rules, its no-data guard extended to metrics that could not be fetched).
//!
//! - Group score = 100 x pass / (pass + high + low + nodata_fail); `nodata` and `error` are left
//!   out; a group with nothing left scores 100.
//! - Group weights: as the template lists them; groups it does not list share what is left of
//!   100 equally.
//! - Summary = sum of group score x weight / 100, rounded to 2 decimals; 0 when a critical metric
//!   is not `pass`, or when half or more of the metrics are `nodata` or `error`.
//! - A muted metric (`judge.muted`) is left out of all of it, as Kayenta's `ScoringHelper`
//!   leaves muted results out before its `WeightedSumScorer`: a group whose metrics are all
//!   muted has no score and adds nothing (its listed weight is not shared out).
//! - Verdict: score >= pass threshold is pass, >= marginal is marginal, else fail (on the rounded
//!   score, so that the number shown and the verdict agree).

use crate::template::{OnNodata, Scoring, Template};

use super::format::num;
use super::report::{Classification, GroupScore, MetricReport, Report, Verdict};

/// Rounds to 2 decimals, half away from zero.
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The weight of every group that has metrics not muted, in order of first appearance. The
/// groups the template does not list share what is left of 100 after the listed weights of
/// every group with metrics, muted or not (as Kayenta sums its `groupWeights` whatever the
/// results).
pub fn group_weights(template: &Template) -> Vec<(String, f64)> {
    let mut order: Vec<String> = Vec::new();
    let mut with_metrics: Vec<&str> = Vec::new();
    for m in &template.metrics {
        let g = m.group_name();
        if !with_metrics.contains(&g) {
            with_metrics.push(g);
        }
        if !m.judge.muted && !order.iter().any(|o| o == g) {
            order.push(g.to_string());
        }
    }
    let listed = |g: &str| {
        template
            .groups
            .iter()
            .find(|w| w.name == g)
            .map(|w| w.weight)
    };
    let listed_sum: f64 = with_metrics.iter().filter_map(|g| listed(g)).sum();
    let unlisted = order.iter().filter(|g| listed(g).is_none()).count();
    let share = if unlisted > 0 {
        ((100.0 - listed_sum) / unlisted as f64).max(0.0)
    } else {
        0.0
    };
    order
        .into_iter()
        .map(|g| {
            let w = listed(&g).unwrap_or(share);
            (g, w)
        })
        .collect()
}

/// Scores each group from its metrics' classifications (unrounded).
pub fn score_groups(
    weights: &[(String, f64)],
    metrics: &[MetricReport],
) -> Vec<(String, f64, f64)> {
    score_groups_by(weights, metrics, |c| match c {
        Classification::Pass => Some(true),
        Classification::High | Classification::Low | Classification::NodataFail => Some(false),
        Classification::Nodata | Classification::Error => None,
    })
}

/// Scores each group, `counts` telling for each classification whether it counts as a pass
/// (`Some(true)`), a failure (`Some(false)`), or is left out (`None`).
fn score_groups_by(
    weights: &[(String, f64)],
    metrics: &[MetricReport],
    counts: impl Fn(Classification) -> Option<bool>,
) -> Vec<(String, f64, f64)> {
    weights
        .iter()
        .map(|(name, weight)| {
            let (mut pass, mut counted) = (0usize, 0usize);
            for m in metrics.iter().filter(|m| &m.group == name && !m.muted) {
                if let Some(passed) = counts(m.classification) {
                    counted += 1;
                    pass += usize::from(passed);
                }
            }
            let score = if counted == 0 {
                100.0
            } else {
                100.0 * pass as f64 / counted as f64
            };
            (name.clone(), *weight, score)
        })
        .collect()
}

/// The summary score, the verdict, the reason and the rounded group scores.
pub fn score_judgment(
    template: &Template,
    metrics: &[MetricReport],
) -> (f64, Verdict, String, Vec<GroupScore>) {
    let weights = group_weights(template);
    let groups = score_groups(&weights, metrics);
    let muted: Vec<&MetricReport> = metrics.iter().filter(|m| m.muted).collect();
    let scored: Vec<MetricReport> = metrics.iter().filter(|m| !m.muted).cloned().collect();
    let metrics = &scored[..];
    let weighted: f64 = groups.iter().map(|(_, w, s)| s * w / 100.0).sum();
    let criticals: Vec<&MetricReport> = metrics.iter().filter(|m| m.critical).collect();
    let unreadable = metrics
        .iter()
        .filter(|m| {
            matches!(
                m.classification,
                Classification::Nodata | Classification::Error
            )
        })
        .count();
    let half_unreadable = !metrics.is_empty() && unreadable * 2 >= metrics.len();
    let score = if !criticals.is_empty() || half_unreadable {
        0.0
    } else {
        round2(weighted)
    };
    let verdict = verdict_for(score, template.scoring);
    let mut reason = explain(
        score,
        verdict,
        template.scoring,
        metrics,
        &criticals,
        unreadable,
    );
    if !muted.is_empty() {
        let names: Vec<String> = muted
            .iter()
            .map(|m| format!("{} ({})", m.name, m.classification.as_str()))
            .collect();
        reason.push_str(&format!(". Muted, not scored: {}", names.join(", ")));
    }
    // `on_nodata: marginal`: a fail for want of data (too little canary traffic yet) is a
    // "wait", never a pass and never a regression's fail. A metric that could not be fetched
    // (`error`) keeps the fail: that is not little traffic.
    let wanting = |m: &MetricReport| {
        matches!(
            m.classification,
            Classification::Nodata | Classification::NodataFail
        )
    };
    let verdict = if verdict == Verdict::Fail
        && template.scoring.on_nodata == OnNodata::Marginal
        && metrics.iter().any(wanting)
        && !metrics
            .iter()
            .any(|m| m.classification == Classification::Error)
        && !regressions_below_marginal(&weights, metrics, template.scoring.marginal)
    {
        reason.push_str(
            ". Marginal, not fail: what is missing is data (on_nodata: marginal), and what \
             could be judged does not fail",
        );
        Verdict::Marginal
    } else {
        verdict
    };
    let groups = groups
        .into_iter()
        .map(|(name, weight, s)| GroupScore {
            name,
            weight: round2(weight),
            score: round2(s),
        })
        .collect();
    (score, verdict, reason, groups)
}

/// True when `report` fails because of regressions (metrics classified `high` or `low`): a
/// critical one, or a score below marginal with the regressions alone counted, every metric
/// without usable data (`nodata`, `nodata_fail`, `error`) left out. A fail that missing or
/// unreadable data causes is not one: the Flagger rollback hook answers "roll back" only to
/// this (it runs from the first tick of a rollout, when the canary may have no traffic yet).
pub fn fails_from_regressions(report: &Report) -> bool {
    if report.verdict != Verdict::Fail {
        return false;
    }
    let weights: Vec<(String, f64)> = report
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.weight))
        .collect();
    regressions_below_marginal(&weights, &report.metrics, report.thresholds.marginal)
}

/// True when a critical metric regressed (`high` or `low`), or when the regressions alone,
/// every metric without usable data left out, score below `marginal`.
fn regressions_below_marginal(
    weights: &[(String, f64)],
    metrics: &[MetricReport],
    marginal: f64,
) -> bool {
    let regression = |m: &MetricReport| {
        !m.muted && matches!(m.classification, Classification::High | Classification::Low)
    };
    if metrics.iter().any(|m| m.critical && regression(m)) {
        return true;
    }
    let groups = score_groups_by(weights, metrics, |c| match c {
        Classification::Pass => Some(true),
        Classification::High | Classification::Low => Some(false),
        Classification::Nodata | Classification::NodataFail | Classification::Error => None,
    });
    let score: f64 = groups.iter().map(|(_, w, s)| s * w / 100.0).sum();
    metrics.iter().any(regression) && round2(score) < marginal
}

/// Pass, marginal or fail for a score.
pub fn verdict_for(score: f64, scoring: Scoring) -> Verdict {
    if score >= scoring.pass {
        Verdict::Pass
    } else if score >= scoring.marginal {
        Verdict::Marginal
    } else {
        Verdict::Fail
    }
}

/// The verdict's reason: the threshold comparison, then what pulled the score down.
fn explain(
    score: f64,
    verdict: Verdict,
    scoring: Scoring,
    metrics: &[MetricReport],
    criticals: &[&MetricReport],
    unreadable: usize,
) -> String {
    let head = match verdict {
        Verdict::Pass => format!(
            "score {} >= pass threshold {}",
            num1(score),
            num(scoring.pass)
        ),
        Verdict::Marginal => format!(
            "score {} >= marginal threshold {} but < pass threshold {}",
            num1(score),
            num(scoring.marginal),
            num(scoring.pass)
        ),
        Verdict::Fail => format!(
            "score {} < marginal threshold {}",
            num1(score),
            num(scoring.marginal)
        ),
    };
    let mut parts = vec![head];
    if !criticals.is_empty() {
        let names: Vec<String> = criticals
            .iter()
            .map(|m| format!("{} is {} ({})", m.name, m.classification.as_str(), m.reason))
            .collect();
        parts.push(format!(
            "critical metric not pass, score forced to 0: {}",
            names.join("; ")
        ));
    }
    if !metrics.is_empty() && unreadable * 2 >= metrics.len() {
        parts.push(format!(
            "{unreadable} of {} metrics have no data or could not be fetched, so the score is 0: a judgment whose numbers could not be read never passes",
            metrics.len()
        ));
    }
    let failing: Vec<String> = metrics
        .iter()
        .filter(|m| !m.critical)
        .filter(|m| {
            matches!(
                m.classification,
                Classification::High | Classification::Low | Classification::NodataFail
            )
        })
        .map(|m| format!("{} {}: {}", m.name, m.classification.as_str(), m.reason))
        .collect();
    if !failing.is_empty() {
        parts.push(format!("failing: {}", failing.join("; ")));
    }
    let left_out: Vec<String> = metrics
        .iter()
        .filter(|m| !m.critical)
        .filter(|m| {
            matches!(
                m.classification,
                Classification::Nodata | Classification::Error
            )
        })
        .map(|m| format!("{} ({})", m.name, m.classification.as_str()))
        .collect();
    if !left_out.is_empty() {
        parts.push(format!("left out of the score: {}", left_out.join(", ")));
    }
    parts.join(". ")
}

/// A score with one decimal at least: "100.0", "66.67".
fn num1(score: f64) -> String {
    let s = format!("{:.2}", score);
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}
