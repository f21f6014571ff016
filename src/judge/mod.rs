//! Per-metric classification, group scoring, the verdict and its reasons (CONTRACT §4, §5).
//!
//! The judge knows nothing of where the numbers came from: it takes a [`Template`] and one
//! [`Observation`] per metric, and returns a [`Report`].

mod change;
pub mod classify;
mod decide;
mod dependence;
pub mod format;
pub mod headline;
mod kind;
mod prepare;
pub mod report;
pub mod score;
pub mod sequential;
pub mod text;

use std::collections::BTreeMap;

use crate::observation::Observation;
use crate::template::Template;

pub use classify::{classify_metric, classify_metric_with_total};
pub use report::{
    Classification, GroupScore, KayentaCheck, MetricReport, Report, TailReport, TestReport,
    Thresholds, Verdict,
};

/// Judges every metric of `template` and scores the whole. A metric absent from
/// `observations` has no data.
pub fn judge(template: &Template, observations: &BTreeMap<String, Observation>) -> Report {
    let metrics: Vec<MetricReport> = template
        .metrics
        .iter()
        .map(|m| match m.judge.total() {
            Some(total) => {
                classify_metric_with_total(m, observations.get(&m.name), observations.get(total))
            }
            None => classify_metric(m, observations.get(&m.name)),
        })
        .collect();
    let (score, verdict, reason, groups) = score::score_judgment(template, &metrics);
    let mut report = Report {
        verdict,
        score,
        headline: String::new(),
        reason,
        template: template.name.clone(),
        thresholds: Thresholds {
            pass: template.scoring.pass,
            marginal: template.scoring.marginal,
        },
        groups,
        metrics,
    };
    report.headline = headline::headline(&report);
    report
}
