//! Server-rendered SVG charts: plain strings, no script, nothing fetched from anywhere.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::escape;
use crate::judge::format::num;

/// Baseline's colour.
pub const BASELINE: &str = "#3b6fb6";
/// Canary's colour.
pub const CANARY: &str = "#e07b1a";

const W: f64 = 600.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// Tick positions covering `[lo, hi]`: about four "nice" steps (1, 2, 5 × 10^k).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 12 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// `[lo, hi]` of the finite values, widened when flat; `None` with no value.
fn extent<'a>(values: impl Iterator<Item = &'a f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if lo > hi {
        return None;
    }
    if hi == lo {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return Some((lo - pad, hi + pad));
    }
    let pad = (hi - lo) * 0.05;
    Some((lo - pad, hi + pad))
}

/// Closes a chart that has nothing to draw.
fn no_data(mut out: String) -> String {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">no data</text></svg>"#,
        W / 2.0,
        H / 2.0
    );
    out
}

fn open(out: &mut String, label: &str, class: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart {class}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}">"#,
        escape(label)
    );
    let _ = write!(
        out,
        r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>"##
    );
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    let mut x = LEFT;
    for (label, colour) in items {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            H - 12.0,
            x + 14.0,
            H - 3.0,
            escape(label)
        );
        x += 14.0 + 7.0 * label.len() as f64 + 18.0;
    }
}

fn y_axis(out: &mut String, lo: f64, hi: f64, y: &dyn Fn(f64) -> f64) {
    for t in ticks(lo, hi) {
        let py = y(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e3e3e3"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py + 3.0,
            escape(&num(t))
        );
    }
}

/// Baseline and canary over time: one polyline each, gaps where values are missing. `times`
/// labels the x axis when the window is known, else the x axis is the point index. `change`
/// marks the point where the canary changed level (a dashed vertical line, labelled).
pub fn time_series(
    title: &str,
    baseline: &[Option<f64>],
    canary: &[Option<f64>],
    times: Option<(DateTime<Utc>, i64)>,
    change: Option<(usize, &str)>,
) -> String {
    let mut out = String::new();
    open(
        &mut out,
        &format!("{title}: baseline and canary over time"),
        "series",
    );
    let all = baseline.iter().chain(canary).flatten();
    let Some((lo, hi)) = extent(all) else {
        return no_data(out);
    };
    let n = baseline.len().max(canary.len()).max(2);
    let x = |i: usize| LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    y_axis(&mut out, lo, hi, &y);
    // x ticks: five labels.
    for k in 0..5 {
        let i = (n - 1) * k / 4;
        // Checked: stored data may hold more points than its window (recorded data posted
        // with a window), and a time past the calendar's end is no label.
        let time = times.and_then(|(start, step)| {
            let offset = step.checked_mul(i64::try_from(i).ok()?)?;
            start.checked_add_signed(chrono::Duration::try_seconds(offset)?)
        });
        let label = match time {
            Some(t) => t.format("%H:%M").to_string(),
            None => i.to_string(),
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{label}</text>"#,
            x(i),
            H - BOTTOM + 14.0
        );
    }
    for (values, colour) in [(baseline, BASELINE), (canary, CANARY)] {
        let mut segment = String::new();
        let flush = |segment: &mut String, out: &mut String| {
            if !segment.is_empty() {
                let _ = write!(
                    out,
                    r#"<polyline class="line" fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                    segment.trim_end()
                );
                segment.clear();
            }
        };
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => {
                    let _ = write!(segment, "{:.1},{:.1} ", x(i), y(*v));
                }
                _ => flush(&mut segment, &mut out),
            }
        }
        flush(&mut segment, &mut out);
    }
    if let Some((i, label)) = change.filter(|(i, _)| *i < n) {
        let label = label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        let _ = write!(
            out,
            r#"<g class="change-point"><title>{label}</title><line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="{CANARY}" stroke-width="1" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" font-size="10" fill="{CANARY}">{label}</text></g>"#,
            x = x(i),
            top = TOP,
            bottom = H - BOTTOM,
            tx = x(i) + 3.0,
            ty = TOP + 10.0
        );
    }
    legend(&mut out, &[("baseline", BASELINE), ("canary", CANARY)]);
    out.push_str("</svg>");
    out
}

fn quartiles(sorted: &[f64]) -> (f64, f64, f64) {
    let q = |p: f64| crate::stats::percentile::percentile_sorted(sorted, p).unwrap_or(f64::NAN);
    (q(0.25), q(0.5), q(0.75))
}

/// The two distributions as box plots with every point, on one value axis; `interval`, the
/// confidence interval of the canary − baseline shift, is marked around the baseline median
/// (where the canary's median would be if the shift were at that bound).
pub fn distributions(
    title: &str,
    baseline: &[f64],
    canary: &[f64],
    interval: Option<(f64, f64)>,
    confidence: f64,
) -> String {
    let mut out = String::new();
    open(
        &mut out,
        &format!("{title}: distributions and the interval of the shift"),
        "distribution",
    );
    let mut b: Vec<f64> = baseline.iter().copied().filter(|v| v.is_finite()).collect();
    let mut c: Vec<f64> = canary.iter().copied().filter(|v| v.is_finite()).collect();
    b.sort_by(f64::total_cmp);
    c.sort_by(f64::total_cmp);
    if b.is_empty() && c.is_empty() {
        return no_data(out);
    }
    let base_median = (!b.is_empty()).then(|| quartiles(&b).1);
    let marks: Vec<f64> = match (interval, base_median) {
        (Some((l, h)), Some(m)) if l.is_finite() && h.is_finite() => vec![m + l, m + h],
        _ => Vec::new(),
    };
    let Some((lo, hi)) = extent(b.iter().chain(&c).chain(&marks)) else {
        out.push_str("</svg>");
        return out;
    };
    let x = |v: f64| LEFT + (W - LEFT - RIGHT) * (v - lo) / (hi - lo);
    for t in ticks(lo, hi) {
        let px = x(t);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="#e3e3e3"/><text x="{px:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 14.0,
            escape(&num(t))
        );
    }
    if let [l, h] = marks[..] {
        let _ = write!(
            out,
            r##"<rect class="ci" x="{:.1}" y="{TOP}" width="{:.1}" height="{}" fill="{CANARY}" fill-opacity="0.15" stroke="{CANARY}" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" font-size="10" fill="#7a4300">{}% interval of the shift, from the baseline median</text>"##,
            x(l),
            (x(h) - x(l)).max(1.5),
            H - BOTTOM - TOP,
            x(l).min(W - 280.0),
            TOP + 10.0,
            num(confidence * 100.0)
        );
    }
    let rows = [
        ("baseline", BASELINE, &b, 0.38),
        ("canary", CANARY, &c, 0.72),
    ];
    for (label, colour, values, at) in rows {
        if values.is_empty() {
            continue;
        }
        let cy = TOP + (H - TOP - BOTTOM) * at;
        let (q1, med, q3) = quartiles(values);
        let (min, max) = (values[0], values[values.len() - 1]);
        let _ = write!(
            out,
            r#"<g class="box {label}"><line x1="{:.1}" x2="{:.1}" y1="{cy:.1}" y2="{cy:.1}" stroke="{colour}"/><rect x="{:.1}" y="{:.1}" width="{:.1}" height="22" fill="{colour}" fill-opacity="0.25" stroke="{colour}"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2.5"/>"#,
            x(min),
            x(max),
            x(q1),
            cy - 11.0,
            (x(q3) - x(q1)).max(1.0),
            x(med),
            x(med),
            cy - 13.0,
            cy + 13.0
        );
        // Every point, spread vertically by a fixed pattern (no randomness).
        let stride = (values.len() / 400).max(1);
        for (i, v) in values.iter().enumerate().step_by(stride) {
            let dy = ((i * 7) % 11) as f64 - 5.0;
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{colour}" fill-opacity="0.55"/>"#,
                x(*v),
                cy + 18.0 + dy
            );
        }
        let _ = write!(
            out,
            r#"<text x="4" y="{:.1}" font-size="11">{label}</text></g>"#,
            cy + 4.0
        );
    }
    legend(&mut out, &[("baseline", BASELINE), ("canary", CANARY)]);
    out.push_str("</svg>");
    out
}

/// Interval scores of an analysis as bars coloured by verdict.
pub fn interval_scores(scores: &[(i64, f64, &str)]) -> String {
    let mut out = String::new();
    open(&mut out, "score of each interval", "intervals");
    let n = scores.len().max(1) as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / 100.0);
    y_axis(&mut out, 0.0, 100.0, &y);
    let width = ((W - LEFT - RIGHT) / n).min(60.0);
    for (i, (index, score, verdict)) in scores.iter().enumerate() {
        let colour = match *verdict {
            "pass" => "#2e8b57",
            "marginal" => "#d4a017",
            _ => "#c0392b",
        };
        let px = LEFT + width * i as f64;
        let _ = write!(
            out,
            r#"<rect class="bar {}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>interval {index}: {} {}</title></rect><text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{index}</text>"#,
            escape(verdict),
            px + 2.0,
            y(*score),
            (width - 4.0).max(1.0),
            (H - BOTTOM - y(*score)).max(1.0),
            escape(verdict),
            num(*score),
            px + width / 2.0,
            H - BOTTOM + 14.0
        );
    }
    out.push_str("</svg>");
    out
}

/// One look of a sequential analysis, as drawn: its number, the evidence (a z; `None` when the
/// decision did not rest on it), the boundary to fail, the boundary to pass early when there is
/// one, and the decision.
pub struct LookPoint<'a> {
    /// From 1.
    pub look: usize,
    /// z.
    pub evidence: Option<f64>,
    /// z the evidence had to reach to fail.
    pub boundary: f64,
    /// z the evidence had to stay under to pass early.
    pub pass_boundary: Option<f64>,
    /// continue | fail | pass.
    pub decision: &'a str,
}

/// The evidence path of a sequential analysis against its boundaries: the evidence of each
/// look (dots, joined), the fail boundary (red, dashed) and the pass-early boundary (green,
/// dashed) over looks 1..`of` (the planned looks, or those judged).
pub fn evidence_path(looks: &[LookPoint<'_>], of: Option<usize>) -> String {
    let mut out = String::new();
    open(
        &mut out,
        "sequential evidence against its boundaries",
        "sequential",
    );
    let finite = |v: f64| v.is_finite().then_some(v);
    let values: Vec<f64> = looks
        .iter()
        .flat_map(|l| [l.evidence, finite(l.boundary), l.pass_boundary])
        .flatten()
        .filter(|v| v.is_finite())
        .chain([0.0])
        .collect();
    let Some((lo, hi)) = extent(values.iter()) else {
        return no_data(out);
    };
    if looks.is_empty() {
        return no_data(out);
    }
    let n = of
        .unwrap_or(0)
        .max(looks.iter().map(|l| l.look).max().unwrap_or(1))
        .max(1) as f64;
    let x = |look: usize| {
        if n <= 1.0 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * (look.saturating_sub(1)) as f64 / (n - 1.0)
        }
    };
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    y_axis(&mut out, lo, hi, &y);
    let line = |out: &mut String, pts: &[(usize, f64)], colour: &str, class: &str, dash: &str| {
        if pts.is_empty() {
            return;
        }
        let coords: Vec<String> = pts
            .iter()
            .map(|(l, v)| format!("{:.1},{:.1}", x(*l), y(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="{class}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
            coords.join(" ")
        );
    };
    let boundary: Vec<(usize, f64)> = looks
        .iter()
        .filter_map(|l| finite(l.boundary).map(|b| (l.look, b)))
        .collect();
    let pass: Vec<(usize, f64)> = looks
        .iter()
        .filter_map(|l| {
            l.pass_boundary
                .filter(|v| v.is_finite())
                .map(|b| (l.look, b))
        })
        .collect();
    let evidence: Vec<(usize, f64)> = looks
        .iter()
        .filter_map(|l| l.evidence.filter(|v| v.is_finite()).map(|e| (l.look, e)))
        .collect();
    line(&mut out, &boundary, "#c0392b", "fail-boundary", "6 4");
    line(&mut out, &pass, "#2e8b57", "pass-boundary", "6 4");
    line(&mut out, &evidence, "#333", "evidence", "");
    for l in looks {
        let Some(e) = l.evidence.filter(|v| v.is_finite()) else {
            continue;
        };
        let colour = match l.decision {
            "fail" => "#c0392b",
            "pass" => "#2e8b57",
            _ => "#333",
        };
        let _ = write!(
            out,
            r#"<circle class="look {}" cx="{:.1}" cy="{:.1}" r="4" fill="{colour}"><title>look {}: evidence {}, boundary {}: {}</title></circle>"#,
            escape(l.decision),
            x(l.look),
            y(e),
            l.look,
            num(e),
            num(l.boundary),
            escape(l.decision)
        );
    }
    let last = n as usize;
    for look in 1..=last {
        if last <= 24 || look == 1 || look == last || look % 5 == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{look}</text>"#,
                x(look),
                H - BOTTOM + 14.0
            );
        }
    }
    legend(
        &mut out,
        &[
            ("evidence (z)", "#333"),
            ("fail boundary", "#c0392b"),
            ("pass boundary", "#2e8b57"),
        ],
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        assert_eq!(ticks(0.0, 100.0), vec![0.0, 50.0, 100.0]);
        let t = ticks(0.18, 0.33);
        assert_eq!(t.len(), 3);
        for (got, want) in t.iter().zip([0.2, 0.25, 0.3]) {
            assert!((got - want).abs() < 1e-12, "{t:?}");
        }
    }

    #[test]
    fn charts_are_svg_with_both_sides() {
        let s = time_series(
            "lat",
            &[Some(1.0), None, Some(2.0), Some(3.0)],
            &[Some(2.0); 4],
            None,
            None,
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(!s.contains("change-point"));
        let marked = time_series(
            "lat",
            &[Some(1.0); 4],
            &[Some(1.0), Some(1.0), Some(2.0), Some(2.0)],
            None,
            Some((2, "canary stepped up at <point 3>")),
        );
        assert_eq!(marked.matches(r#"class="change-point""#).count(), 1);
        assert!(marked.contains("canary stepped up at &lt;point 3&gt;"));
        assert_eq!(
            s.matches("<polyline").count(),
            3,
            "the gap splits the baseline"
        );
        let d = distributions(
            "lat",
            &[1.0, 2.0, 3.0],
            &[2.0, 3.0, 4.0],
            Some((0.5, 1.5)),
            0.95,
        );
        assert!(d.contains(r#"class="ci""#));
        assert_eq!(d.matches("<circle").count(), 6);
        assert!(time_series("x<y", &[], &[], None, None).contains("no data"));
        // A grid that runs past the calendar's end labels points by index, without a panic.
        let end: DateTime<Utc> = "9999-12-31T23:00:00Z".parse().unwrap();
        let far = time_series(
            "lat",
            &[Some(1.0); 5],
            &[Some(2.0); 5],
            Some((end, 4_000_000_000_000_000)),
            Some((4, "x")),
        );
        assert!(far.contains(">4</text>"), "{far}");
        assert!(!time_series("x<y", &[], &[], None, None).contains("x<y"));
    }

    #[test]
    fn evidence_path_draws_each_look_against_its_boundaries() {
        let looks = [
            LookPoint {
                look: 1,
                evidence: Some(0.4),
                boundary: 2.6,
                pass_boundary: None,
                decision: "continue",
            },
            LookPoint {
                look: 2,
                evidence: None,
                boundary: f64::INFINITY,
                pass_boundary: None,
                decision: "continue",
            },
            LookPoint {
                look: 3,
                evidence: Some(4.1),
                boundary: 2.5,
                pass_boundary: None,
                decision: "fail",
            },
        ];
        let s = evidence_path(&looks, Some(6));
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert_eq!(
            s.matches("<circle").count(),
            2,
            "a look without evidence has no dot"
        );
        assert_eq!(s.matches(r#"class="look fail""#).count(), 1);
        assert_eq!(s.matches(r#"class="fail-boundary""#).count(), 1);
        assert!(
            !s.contains("pass-boundary\" "),
            "no pass boundary without pass_early"
        );
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
        assert!(evidence_path(&[], Some(3)).contains("no data"));
    }
}
