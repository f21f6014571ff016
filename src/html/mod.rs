//! Report pages: a judgment or an analysis as one self-contained HTML document — the verdict
//! and score up front, the reason, a table of metrics, and for each metric its baseline and
//! canary over time and their distributions with the confidence interval of the shift marked.
//! Charts are server-rendered SVG ([`svg`]); there is no script and nothing is fetched from any
//! host (the API serves the pages with a Content-Security-Policy that forbids it).

pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::judge::format::num;
use crate::judge::{Classification, MetricReport, Report, TestReport};
use crate::observation::Observation;
use crate::store::{AnalysisRow, AnalysisState, DeliveryRow, DeliveryState, IntervalRow, Verdict};

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a page says about where a judgment came from, beyond the report.
#[derive(Debug, Clone, Default)]
pub struct JudgmentMeta {
    /// Stored id.
    pub id: Option<String>,
    /// When it was made.
    pub created_at: Option<DateTime<Utc>>,
    /// Baseline scope.
    pub baseline: Option<String>,
    /// Canary scope.
    pub canary: Option<String>,
    /// Window start (x axis of the time series).
    pub start: Option<DateTime<Utc>>,
    /// Window end.
    pub end: Option<DateTime<Utc>>,
    /// Step.
    pub step_seconds: Option<i64>,
    /// The request that made it.
    pub request_id: Option<String>,
    /// The analysis it belongs to.
    pub analysis_id: Option<String>,
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d1d1f; background: #f6f7f9; }
main { max-width: 1320px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 0 0 6px; }
.verdict { display: inline-block; padding: 4px 14px; border-radius: 6px; color: #fff; font-weight: 700; letter-spacing: .04em; }
.pass { background: #2e8b57; } .marginal { background: #d4a017; } .fail { background: #c0392b; }
.pending, .running { background: #5b6b7f; } .completed { background: #2f4f6f; } .cancelled { background: #777; }
.score { font-size: 28px; font-weight: 700; margin-left: 14px; vertical-align: middle; }
.reason { background: #fff; border-left: 4px solid #999; padding: 10px 14px; margin: 12px 0; }
.meta { color: #555; font-size: 13px; } .meta span { margin-right: 18px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e6e6e6; vertical-align: top; }
th { background: #eef0f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.c-pass { color: #2e8b57; font-weight: 600; } .c-high, .c-low, .c-nodata_fail, .c-error { color: #c0392b; font-weight: 600; } .c-nodata { color: #777; font-weight: 600; }
.metric { background: #fff; margin: 16px 0; padding: 14px; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .charts svg { max-width: 100%; height: auto; border: 1px solid #eee; }
a { color: #2456a4; }
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

fn test_summary(t: &Option<TestReport>) -> String {
    match t {
        Some(TestReport::MannWhitney {
            estimate,
            ci,
            confidence,
            ..
        }) => format!(
            "shift {} [{}, {}] ({}%)",
            num(*estimate),
            num(ci[0]),
            num(ci[1]),
            num(confidence * 100.0)
        ),
        Some(other) => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// The Mann-Whitney interval among a metric's tests, for the distribution chart.
fn shift_interval(m: &MetricReport) -> Option<((f64, f64), f64)> {
    m.test.iter().chain(&m.tests).find_map(|t| match t {
        TestReport::MannWhitney { ci, confidence, .. } => Some(((ci[0], ci[1]), *confidence)),
        _ => None,
    })
}

fn metric_row(m: &MetricReport) -> String {
    let class = m.classification.as_str();
    format!(
        "<tr><td><a href=\"#m-{id}\">{name}</a></td><td>{group}</td><td class=\"c-{class}\">{class}{crit}</td><td class=\"num\">{bn}</td><td class=\"num\">{bm}</td><td class=\"num\">{cm}</td><td class=\"num\">{ratio}</td><td>{test}</td><td>{reason}</td></tr>",
        id = escape(&m.name),
        name = escape(&m.name),
        group = escape(&m.group),
        crit = if m.critical { " (critical)" } else { "" },
        bn = m.baseline.count,
        bm = m.baseline.median.map(num).unwrap_or_default(),
        cm = m.canary.median.map(num).unwrap_or_default(),
        ratio = m.mean_ratio.map(|r| format!("{}×", num(r))).unwrap_or_default(),
        test = escape(&test_summary(&m.test)),
        reason = escape(&m.reason),
    )
}

/// The judgment page. `data` (the points judged) gives the charts; without it the page has the
/// tables only.
pub fn judgment_page(
    report: &Report,
    data: Option<&BTreeMap<String, Observation>>,
    meta: &JudgmentMeta,
) -> String {
    let verdict = report.verdict.as_str();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Canary judgment: {}</h1><div><span class=\"verdict {verdict}\" id=\"verdict\">{}</span><span class=\"score\" id=\"score\">{}</span> <span class=\"meta\">pass ≥ {}, marginal ≥ {}</span></div>",
        escape(&report.template),
        verdict.to_uppercase(),
        num(report.score),
        num(report.thresholds.pass),
        num(report.thresholds.marginal)
    );
    let _ = write!(
        b,
        "<p class=\"reason\" id=\"reason\">{}</p>",
        escape(&report.reason)
    );
    let mut m = String::new();
    let mut item = |label: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = write!(m, "<span>{label}: {}</span>", escape(&v));
        }
    };
    item("id", meta.id.clone());
    item("made", meta.created_at.map(|t| t.to_rfc3339()));
    item("baseline", meta.baseline.clone());
    item("canary", meta.canary.clone());
    item(
        "window",
        meta.start
            .zip(meta.end)
            .map(|(s, e)| format!("{} → {}", s.to_rfc3339(), e.to_rfc3339())),
    );
    item("step", meta.step_seconds.map(|s| format!("{s} s")));
    item("request", meta.request_id.clone());
    let _ = write!(b, "<p class=\"meta\">{m}");
    if let Some(a) = &meta.analysis_id {
        let _ = write!(
            b,
            "<span>analysis: <a href=\"/analyses/{0}\">{0}</a></span>",
            escape(a)
        );
    }
    b.push_str("</p>");
    b.push_str("<h2>Groups</h2><table><tr><th>group</th><th>weight</th><th>score</th></tr>");
    for g in &report.groups {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&g.name),
            num(g.weight),
            num(g.score)
        );
    }
    b.push_str("</table><h2>Metrics</h2><table id=\"metrics\"><tr><th>metric</th><th>group</th><th>result</th><th>points</th><th>baseline median</th><th>canary median</th><th>mean ratio</th><th>test</th><th>reason</th></tr>");
    for metric in &report.metrics {
        b.push_str(&metric_row(metric));
    }
    b.push_str("</table>");
    for metric in &report.metrics {
        let _ = write!(
            b,
            "<section class=\"metric\" id=\"m-{}\"><h3>{} <span class=\"c-{}\">{}</span></h3><p>{}</p>",
            escape(&metric.name),
            escape(&metric.name),
            metric.classification.as_str(),
            metric.classification.as_str(),
            escape(&metric.reason)
        );
        match data.and_then(|d| d.get(&metric.name)) {
            Some(o) => {
                let times = meta.start.zip(meta.step_seconds);
                let b_values: Vec<f64> = o.baseline.iter().flatten().copied().collect();
                let c_values: Vec<f64> = o.canary.iter().flatten().copied().collect();
                let interval = shift_interval(metric);
                b.push_str("<div class=\"charts\">");
                // The change point's index counts the canary's points as judged: on the chart's
                // grid when none was removed.
                let on_grid = metric.dropped.canary_missing + metric.dropped.canary_outliers == 0;
                let change = metric.change_point.as_ref().filter(|_| on_grid).map(|c| {
                    let time = times.and_then(|(start, step)| {
                        let offset = step.checked_mul(i64::try_from(c.index).ok()?)?;
                        start.checked_add_signed(chrono::Duration::try_seconds(offset)?)
                    });
                    let at = match time {
                        Some(t) => t.format("%H:%M").to_string(),
                        None => format!("point {}", c.index + 1),
                    };
                    (c.index, format!("canary stepped {} at {at}", c.direction))
                });
                b.push_str(&svg::time_series(
                    &metric.name,
                    &o.baseline,
                    &o.canary,
                    times,
                    change.as_ref().map(|(i, l)| (*i, l.as_str())),
                ));
                b.push_str(&svg::distributions(
                    &metric.name,
                    &b_values,
                    &c_values,
                    interval.map(|i| i.0),
                    interval.map_or(0.95, |i| i.1),
                ));
                b.push_str("</div>");
            }
            None if metric.classification == Classification::Nodata => {}
            None => b.push_str("<p class=\"meta\">no points recorded for this metric</p>"),
        }
        b.push_str("</section>");
    }
    page(
        &format!("{} — {} {}", report.template, verdict, num(report.score)),
        &b,
    )
}

/// The looks of a sequential analysis: its error rate, the evidence path against its
/// boundaries, and each look's numbers and decision.
fn sequential_section(
    b: &mut String,
    spec: &crate::judge::sequential::SequentialSpec,
    planned: i64,
    intervals: &[IntervalRow],
) {
    let looks: Vec<svg::LookPoint<'_>> = intervals
        .iter()
        .filter_map(|i| i.sequential.as_ref())
        .map(|s| svg::LookPoint {
            look: s.look,
            evidence: s.evidence,
            boundary: s.boundary,
            pass_boundary: s.pass_boundary,
            decision: s.decision.as_str(),
        })
        .collect();
    let _ = write!(
        b,
        "<h2>Sequential decisions</h2><p class=\"meta\"><span>alpha {} for the whole analysis</span><span>spending {}</span><span>pass early: {}</span></p><div class=\"charts\">{}</div>",
        num(spec.alpha),
        match spec.spending {
            crate::stats::sequential::Spending::Pocock => "Pocock-type",
            crate::stats::sequential::Spending::OBrienFleming => "O'Brien-Fleming-type",
        },
        spec.pass_early,
        svg::evidence_path(&looks, usize::try_from(planned).ok())
    );
    b.push_str("<table id=\"looks\"><tr><th>look</th><th>evidence (z)</th><th>boundary</th><th>decision</th><th>why</th></tr>");
    for s in intervals.iter().filter_map(|i| i.sequential.as_ref()) {
        let _ = write!(
            b,
            "<tr><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"c-{}\">{}</td><td>{}</td></tr>",
            s.look,
            s.of.map(|k| format!(" of {k}")).unwrap_or_default(),
            s.evidence.map(num).unwrap_or_else(|| "—".into()),
            if s.boundary.is_finite() { num(s.boundary) } else { "—".into() },
            if s.decision == crate::judge::sequential::Decision::Fail { "high" } else { "pass" },
            s.decision.as_str(),
            escape(&s.reason)
        );
    }
    b.push_str("</table>");
}

/// The analysis page: state, verdict, reason, interval scores, intervals and callbacks.
pub fn analysis_page(
    a: &AnalysisRow,
    intervals: &[IntervalRow],
    deliveries: &[DeliveryRow],
) -> String {
    let mut b = String::new();
    let verdict = a
        .verdict
        .map_or(AnalysisState::Pending.as_str(), Verdict::as_str);
    let _ = write!(
        b,
        "<h1>Canary analysis: {}</h1><div><span class=\"verdict {state}\" id=\"state\">{state_up}</span> <span class=\"verdict {verdict_class}\" id=\"verdict\">{}</span> <span class=\"meta\">{} of {} intervals judged</span></div>",
        escape(&a.template),
        escape(&verdict.to_uppercase()),
        intervals.len(),
        a.interval_count,
        state = escape(a.state.as_str()),
        state_up = escape(&a.state.as_str().to_uppercase()),
        verdict_class = escape(verdict),
    );
    if let Some(r) = &a.reason {
        let _ = write!(b, "<p class=\"reason\" id=\"reason\">{}</p>", escape(r));
    }
    let _ = write!(
        b,
        "<p class=\"meta\"><span>id: {}</span><span>baseline: {}</span><span>canary: {}</span><span>start: {}</span><span>every {} min for {} min (after {} min, lookback {} min)</span><span>stop on fail: {}</span></p>",
        escape(&a.id),
        escape(&a.baseline),
        escape(&a.canary),
        a.start_at.to_rfc3339(),
        num(a.interval_minutes),
        num(a.lifetime_minutes),
        num(a.begin_after_minutes),
        num(a.lookback_minutes),
        a.stop_on_fail
    );
    let scores: Vec<(i64, f64, &str)> = intervals
        .iter()
        .map(|i| (i.index, i.score, i.verdict.as_str()))
        .collect();
    b.push_str("<h2>Intervals</h2><div class=\"charts\">");
    b.push_str(&svg::interval_scores(&scores));
    b.push_str("</div><table id=\"intervals\"><tr><th>#</th><th>window</th><th>verdict</th><th>score</th><th>judgment</th><th>judged</th><th>error</th></tr>");
    for i in intervals {
        let link = i
            .judgment_id
            .as_ref()
            .map(|j| format!("<a href=\"/judgments/{0}\">{0}</a>", escape(j)))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{} → {}</td><td class=\"c-{}\">{}</td><td class=\"num\">{}</td><td>{link}</td><td>{} by {}</td><td>{}</td></tr>",
            i.index,
            i.start.to_rfc3339(),
            i.end.to_rfc3339(),
            if i.verdict == Verdict::Pass { "pass" } else { "high" },
            escape(i.verdict.as_str()),
            num(i.score),
            i.judged_at.to_rfc3339(),
            escape(&i.judged_by),
            escape(i.error.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>");
    if let Some(spec) = &a.sequential {
        sequential_section(&mut b, spec, a.interval_count, intervals);
    }
    if !deliveries.is_empty() {
        b.push_str("<h2>Callbacks</h2><table id=\"deliveries\"><tr><th>event</th><th>interval</th><th>attempts</th><th>status</th><th>delivered</th><th>error</th></tr>");
        for d in deliveries {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&d.event),
                d.interval_index.map(|i| i.to_string()).unwrap_or_default(),
                d.attempts,
                d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                match (d.state(), d.delivered_at, d.failed_at) {
                    (DeliveryState::Delivered, Some(t), _) => t.to_rfc3339(),
                    (DeliveryState::Failed, _, Some(t)) => format!("given up {}", t.to_rfc3339()),
                    (state, ..) => state.as_str().to_string(),
                },
                escape(d.last_error.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</table>");
    }
    page(&format!("analysis {} — {}", a.template, a.state), &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
