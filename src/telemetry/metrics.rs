//! Prometheus metrics of the process, in the text exposition format (`GET /metrics`).
//!
//! One registry per process ([`global`]), like the `prometheus` crate's default registry: the
//! sources record their query latency without knowing which server asked. Every series name is
//! declared once in [`FAMILIES`] with its help text and type, so `/metrics` always shows every
//! family (with no samples until something happens) and a typo cannot make a new one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Any value.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

/// Every family: name, kind, help.
pub const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "canaryd_judgments_total",
        Kind::Counter,
        "Judgments made, by template and verdict.",
    ),
    (
        "canaryd_judgment_score",
        Kind::Gauge,
        "Score of the latest judgment, by template.",
    ),
    (
        "canaryd_metric_classifications_total",
        Kind::Counter,
        "Metric results, by template, metric and classification.",
    ),
    (
        "canaryd_judgment_errors_total",
        Kind::Counter,
        "Judgments that could not be made, by template and error code.",
    ),
    (
        "canaryd_http_requests_total",
        Kind::Counter,
        "HTTP requests answered, by method, route and status.",
    ),
    (
        "canaryd_http_request_duration_seconds",
        Kind::Histogram,
        "HTTP request latency, by method and route.",
    ),
    (
        "canaryd_source_query_duration_seconds",
        Kind::Histogram,
        "Metric source query latency, by source kind.",
    ),
    (
        "canaryd_source_query_errors_total",
        Kind::Counter,
        "Metric source queries that failed, by source kind and reason.",
    ),
    (
        "canaryd_gate_calls_total",
        Kind::Counter,
        "Gate calls, by gate and outcome.",
    ),
    (
        "canaryd_store_pruned_judgments_total",
        Kind::Counter,
        "Judgments deleted by the retention setting.",
    ),
    (
        "canaryd_intervals_total",
        Kind::Counter,
        "Analysis intervals recorded, by template and verdict.",
    ),
    (
        "canaryd_interval_lag_seconds",
        Kind::Histogram,
        "Time from an interval's due time (window end plus settle delay) to its record.",
    ),
    (
        "canaryd_interval_judge_seconds",
        Kind::Histogram,
        "Time to fetch and judge one interval.",
    ),
    (
        "canaryd_callbacks_total",
        Kind::Counter,
        "Callback delivery tries, by outcome (delivered, retry, expired, refused).",
    ),
];

type Labels = Vec<(String, String)>;

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    values: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The process's registry.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn family(name: &str) -> Option<&'static str> {
    FAMILIES.iter().find(|f| f.0 == name).map(|f| f.0)
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `by` to counter `name`.
    pub fn inc(&self, name: &str, pairs: &[(&str, &str)], by: f64) {
        let Some(name) = family(name) else {
            debug_assert!(false, "undeclared metric {name}");
            return;
        };
        *self.lock().values.entry((name, labels(pairs))).or_default() += by;
    }

    /// Sets gauge `name`.
    pub fn set(&self, name: &str, pairs: &[(&str, &str)], value: f64) {
        let Some(name) = family(name) else {
            debug_assert!(false, "undeclared metric {name}");
            return;
        };
        self.lock().values.insert((name, labels(pairs)), value);
    }

    /// Records one observation (seconds) in histogram `name`.
    pub fn observe(&self, name: &str, pairs: &[(&str, &str)], seconds: f64) {
        let Some(name) = family(name) else {
            debug_assert!(false, "undeclared metric {name}");
            return;
        };
        let mut inner = self.lock();
        let h = inner.histograms.entry((name, labels(pairs))).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let type_name = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {type_name}");
            if *kind == Kind::Histogram {
                for ((n, l), h) in inner.histograms.iter().filter(|((n, _), _)| n == name) {
                    for (bound, count) in BUCKETS.iter().zip(h.buckets) {
                        let le = bound.to_string();
                        let _ = writeln!(out, "{n}_bucket{} {count}", fmt_labels(l, Some(&le)));
                    }
                    let _ = writeln!(out, "{n}_bucket{} {}", fmt_labels(l, Some("+Inf")), h.count);
                    let _ = writeln!(out, "{n}_sum{} {}", fmt_labels(l, None), h.sum);
                    let _ = writeln!(out, "{n}_count{} {}", fmt_labels(l, None), h.count);
                }
            } else {
                for ((n, l), v) in inner.values.iter().filter(|((n, _), _)| n == name) {
                    let _ = writeln!(out, "{n}{} {v}", fmt_labels(l, None));
                }
            }
        }
        out
    }
}

/// `{a="x",b="y"}` with values escaped as the format requires; empty with no labels.
fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let m = Metrics::default();
        m.inc(
            "canaryd_judgments_total",
            &[("template", "a\"b"), ("verdict", "pass")],
            1.0,
        );
        m.inc(
            "canaryd_judgments_total",
            &[("template", "a\"b"), ("verdict", "pass")],
            1.0,
        );
        m.set("canaryd_judgment_score", &[("template", "t")], 87.5);
        m.observe(
            "canaryd_http_request_duration_seconds",
            &[("route", "/x")],
            0.02,
        );
        let text = m.render();
        assert!(
            text.contains("canaryd_judgments_total{template=\"a\\\"b\",verdict=\"pass\"} 2"),
            "{text}"
        );
        assert!(text.contains("canaryd_judgment_score{template=\"t\"} 87.5"));
        assert!(text
            .contains("canaryd_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.01\"} 0"));
        assert!(text
            .contains("canaryd_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.025\"} 1"));
        assert!(text.contains("canaryd_http_request_duration_seconds_count{route=\"/x\"} 1"));
        assert!(text.contains("# TYPE canaryd_source_query_errors_total counter"));
    }
}
