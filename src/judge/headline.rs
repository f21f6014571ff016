//! The report's headline (CONTRACT §8): one line of at most 200 characters that a pipeline can
//! show where it has room for one (Flagger's Kubernetes events, Argo's measurements, a CI
//! log): the verdict, the score, and each failing metric with its change and interval, e.g.
//! `FAIL 50: p99_latency +28.6% [+25.7%, +31.5%], p50_latency +16.4% [+14.7%, +18.0%]`.
//! Changes are relative to the baseline where the test's numbers allow it: a shift over the
//! baseline's median, a rate or spread ratio as a percentage.

use super::report::{Classification, MetricReport, Report, TestReport};

/// Longest headline, in characters.
pub const MAX_CHARS: usize = 200;

/// The headline of `report`.
pub fn headline(report: &Report) -> String {
    let head = format!(
        "{} {}",
        report.verdict.as_str().to_uppercase(),
        score_text(report.score)
    );
    // Critical failures first, then the rest of what pulled the score down (a muted metric
    // pulls nothing).
    let mut failing: Vec<&MetricReport> = report
        .metrics
        .iter()
        .filter(|m| !m.muted)
        .filter(|m| {
            matches!(
                m.classification,
                Classification::High | Classification::Low | Classification::NodataFail
            ) || m.critical
        })
        .collect();
    failing.sort_by_key(|m| !m.critical);
    let unread = report
        .metrics
        .iter()
        .filter(|m| {
            !m.critical
                && !m.muted
                && matches!(
                    m.classification,
                    Classification::Nodata | Classification::Error
                )
        })
        .count();
    let mut parts: Vec<String> = failing.iter().map(|m| metric_text(m)).collect();
    if unread > 0 {
        parts.push(format!("{unread} without data"));
    }
    if parts.is_empty() {
        return head;
    }
    fit(&head, &parts)
}

/// `head: a, b, c`, dropping the last parts (and saying how many) when it would exceed
/// [`MAX_CHARS`].
fn fit(head: &str, parts: &[String]) -> String {
    for shown in (0..=parts.len()).rev() {
        let mut line = format!("{head}: {}", parts[..shown].join(", "));
        let left = parts.len() - shown;
        if left > 0 {
            if shown > 0 {
                line.push_str(", ");
            }
            line.push_str(&format!("+{left} more"));
        }
        if line.chars().count() <= MAX_CHARS {
            return line;
        }
    }
    // Even the head alone with "+N more" is too long only when a name is absurd: cut.
    let line = format!("{head}: +{} more", parts.len());
    line.chars().take(MAX_CHARS).collect()
}

fn score_text(score: f64) -> String {
    if !score.is_finite() {
        return "?".into();
    }
    let s = format!("{score:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `name change [low, high]`, or `name CLASS` when the test gives no change to show. Metric
/// names are capped so that one long name cannot take the whole line.
fn metric_text(m: &MetricReport) -> String {
    let name: String = if m.name.chars().count() > 48 {
        m.name
            .chars()
            .take(47)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        m.name.clone()
    };
    let change = match m.classification {
        Classification::NodataFail | Classification::Nodata => Some("no data".to_string()),
        Classification::Error => Some("error".to_string()),
        _ => deciding_test(m).and_then(|t| change_text(t, m)),
    };
    match change {
        Some(c) => format!("{name} {c}"),
        None => format!("{name} {}", m.classification.as_str()),
    }
}

/// The test behind the classification: the metric's own, or (for `auto`, which runs several)
/// the first of its tests, its location test.
fn deciding_test(m: &MetricReport) -> Option<&TestReport> {
    m.test.as_ref().or_else(|| m.tests.first())
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

fn ratio(x: f64) -> String {
    format!("×{}", trim(x))
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn shown(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:+.2e}")
    } else {
        format!("{:+}", trim(x).parse::<f64>().unwrap_or(x))
    }
}

/// A shift and its interval, as a percentage of `base` when that is a usable, non-zero number;
/// else in the metric's own units.
fn shift(estimate: f64, ci: [f64; 2], base: Option<f64>) -> Option<String> {
    if !estimate.is_finite() {
        return None;
    }
    let ends = ci.iter().all(|c| c.is_finite());
    match base.filter(|b| b.is_finite() && *b != 0.0).map(f64::abs) {
        Some(b) => Some(if ends {
            format!(
                "{} [{}, {}]",
                pct(estimate / b),
                pct(ci[0] / b),
                pct(ci[1] / b)
            )
        } else {
            pct(estimate / b)
        }),
        None => Some(if ends {
            format!("{} [{}, {}]", shown(estimate), shown(ci[0]), shown(ci[1]))
        } else {
            shown(estimate)
        }),
    }
}

fn change_text(t: &TestReport, m: &MetricReport) -> Option<String> {
    match t {
        TestReport::MannWhitney { estimate, ci, .. } => shift(*estimate, *ci, m.baseline.median),
        TestReport::SignedRank {
            scale,
            estimate,
            ci,
            ..
        } => {
            if scale == "log-ratio" {
                let e = |x: f64| x.exp() - 1.0;
                Some(format!(
                    "{} [{}, {}]",
                    pct(e(*estimate)),
                    pct(e(ci[0])),
                    pct(e(ci[1]))
                ))
            } else {
                shift(*estimate, *ci, m.baseline.median)
            }
        }
        TestReport::Quantile {
            quantile,
            baseline,
            difference,
            ci,
            ..
        } => shift(*difference, *ci, Some(*baseline))
            .map(|s| format!("p{} {s}", trim(quantile * 100.0))),
        TestReport::Scale { ratio: r, .. } | TestReport::PairedScale { ratio: r, .. } => r
            .filter(|r| r.is_finite())
            .map(|r| format!("spread {}", ratio(r))),
        TestReport::Counts { rate_ratio, ci, .. } => {
            let end = |c: Option<f64>| c.filter(|c| c.is_finite()).map_or("∞".into(), ratio);
            rate_ratio
                .filter(|r| r.is_finite())
                .map(|r| format!("rate {} [{}, {}]", ratio(r), end(ci[0]), end(ci[1])))
        }
        TestReport::Mean {
            baseline_mean,
            canary_mean,
            ci,
            ..
        } => shift(canary_mean - baseline_mean, *ci, Some(*baseline_mean))
            .map(|s| format!("mean {s}")),
        TestReport::Step {
            index, of, after, ..
        } => after
            .filter(|a| a.is_finite())
            .map(|a| format!("stepped to {} from point {} of {of}", ratio(a), index + 1)),
        TestReport::Threshold {
            canary_mean,
            broken,
            ..
        } => Some(format!(
            "mean {} breaks {}",
            trim(*canary_mean),
            broken.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_and_counted() {
        let parts: Vec<String> = (0..40).map(|i| format!("metric_{i} +10.0%")).collect();
        let line = fit("FAIL 0", &parts);
        assert!(line.chars().count() <= MAX_CHARS, "{line}");
        assert!(line.starts_with("FAIL 0: metric_0 +10.0%"), "{line}");
        assert!(line.ends_with("more"), "{line}");
        let absurd = vec!["x".repeat(500)];
        assert!(fit("FAIL 0", &absurd).chars().count() <= MAX_CHARS);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(score_text(50.0), "50");
        assert_eq!(score_text(66.67), "66.67");
        assert_eq!(pct(0.2857), "+28.6%");
        assert_eq!(pct(-0.05), "-5.0%");
        assert_eq!(shown(1e-9), "+1.00e-9");
        assert_eq!(
            shift(0.03, [0.02, 0.04], Some(0.1)).unwrap(),
            "+30.0% [+20.0%, +40.0%]"
        );
        assert_eq!(shift(2.0, [1.0, 3.0], Some(0.0)).unwrap(), "+2 [+1, +3]");
    }
}
