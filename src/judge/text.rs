//! The compact terminal rendering of a report (`--format text`).

use super::format::num;
use super::report::{Report, TestReport};

/// Renders `report` as a short table followed by the reasons.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{}  score {:.2}  (template {}; pass >= {}, marginal >= {})\n",
        report.verdict.as_str().to_uppercase(),
        report.score,
        report.template,
        num(report.thresholds.pass),
        num(report.thresholds.marginal)
    ));
    let header = [
        "metric",
        "group",
        "result",
        "baseline med",
        "canary med",
        "shift [interval]",
        "p",
    ];
    let mut rows: Vec<[String; 7]> = vec![header.map(String::from)];
    for m in &report.metrics {
        let (shift, p) = match &m.test {
            Some(TestReport::MannWhitney {
                estimate,
                ci,
                confidence,
                p_value,
                ..
            }) => (
                format!(
                    "{} [{}, {}] {}%",
                    num(*estimate),
                    num(ci[0]),
                    num(ci[1]),
                    num(confidence * 100.0)
                ),
                num(*p_value),
            ),
            Some(TestReport::Threshold {
                canary_mean,
                broken,
                ..
            }) => (
                format!(
                    "mean {}{}",
                    num(*canary_mean),
                    if broken.is_empty() {
                        String::new()
                    } else {
                        format!(" breaks {}", broken.join(","))
                    }
                ),
                "-".into(),
            ),
            Some(TestReport::Counts {
                canary_events,
                baseline_events,
                rate_ratio,
                ci,
                p_value,
                canary_total,
                baseline_total,
                total_metric,
                ..
            }) => {
                let end = |v: Option<f64>| v.map(num).unwrap_or_else(|| "inf".into());
                let per = match (canary_total, baseline_total, total_metric) {
                    (Some(c), Some(b), Some(name)) => {
                        format!(" per {} vs {} {name}", num(*c), num(*b))
                    }
                    _ => String::new(),
                };
                (
                    format!(
                        "events {} vs {}{per}, ratio {} [{}, {}]",
                        num(*canary_events),
                        num(*baseline_events),
                        end(*rate_ratio),
                        end(ci[0]),
                        end(ci[1])
                    ),
                    num(*p_value),
                )
            }
            Some(TestReport::Quantile {
                quantile,
                baseline,
                canary,
                ci,
                confidence,
                p_value,
                ..
            }) => (
                format!(
                    "p{} {} vs {}, diff [{}, {}] {}%",
                    num(quantile * 100.0),
                    num(*canary),
                    num(*baseline),
                    num(ci[0]),
                    num(ci[1]),
                    num(confidence * 100.0)
                ),
                num(*p_value),
            ),
            Some(TestReport::Scale {
                canary_spread,
                baseline_spread,
                ci,
                confidence,
                p_value,
                ..
            }) => (
                format!(
                    "spread {} vs {}, diff [{}, {}] {}%",
                    num(*canary_spread),
                    num(*baseline_spread),
                    num(ci[0]),
                    num(ci[1]),
                    num(confidence * 100.0)
                ),
                num(*p_value),
            ),
            Some(TestReport::SignedRank {
                estimate,
                ci,
                confidence,
                p_value,
                scale,
                ..
            }) => (
                format!(
                    "paired {scale} {} [{}, {}] {}%",
                    num(*estimate),
                    num(ci[0]),
                    num(ci[1]),
                    num(confidence * 100.0)
                ),
                num(*p_value),
            ),
            Some(TestReport::PairedScale {
                canary_own,
                baseline_own,
                p_value,
                ..
            }) => (
                format!("own spread {} vs {}", num(*canary_own), num(*baseline_own)),
                num(*p_value),
            ),
            Some(TestReport::Mean {
                canary_mean,
                baseline_mean,
                ci,
                confidence,
                p_value,
                ..
            }) => (
                format!(
                    "mean {} vs {}, diff [{}, {}] {}%",
                    num(*canary_mean),
                    num(*baseline_mean),
                    num(ci[0]),
                    num(ci[1]),
                    num(confidence * 100.0)
                ),
                num(*p_value),
            ),
            Some(TestReport::Step {
                index,
                of,
                before,
                after,
                p_value,
                ..
            }) => (
                format!(
                    "step at {}/{of}: {} after, {} before",
                    index + 1,
                    after.map_or("-".into(), num),
                    before.map_or("-".into(), num)
                ),
                num(*p_value),
            ),
            None => ("-".into(), "-".into()),
        };
        let med = |v: Option<f64>| v.map(num).unwrap_or_else(|| "-".into());
        let mut class = m.classification.as_str().to_string();
        if m.critical {
            class.push('!');
        }
        rows.push([
            m.name.clone(),
            m.group.clone(),
            class,
            med(m.baseline.median),
            med(m.canary.median),
            shift,
            p,
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let groups: Vec<String> = report
        .groups
        .iter()
        .map(|g| format!("{} {:.2} (weight {})", g.name, g.score, num(g.weight)))
        .collect();
    out.push_str(&format!("groups: {}\n", groups.join(", ")));
    out.push_str(&format!("reason: {}\n", report.reason));
    for m in &report.metrics {
        out.push_str(&format!("  {}: {}\n", m.name, m.reason));
    }
    out
}
