//! Live judgments through the real backends equal the offline judgment of the same points
//! (issue 3): the latency-regression scenario is written into Prometheus (backfilled with
//! promtool), InfluxDB 1.x and Graphite, judged live through each, and compared with
//! `canaryd judge --data` on the recorded file. Also the live CLI end to end, and an
//! unreachable source.

use std::collections::BTreeMap;
use std::process::Command;

use canaryd::config::SourceSettings;
use canaryd::judge::{judge, Report};
use canaryd::service::live::{judge_with_source, LiveRequest};
use canaryd::source::{build_source, parse_time, RecordedData, Window, DEFAULT_MAX_CONCURRENT};
use canaryd::template::{load_template, Template};
use serde_json::Value;

use crate::support::{self, T0};

const STEP: i64 = 10;
const SCENARIO: &str = "fixtures/scenarios/latency-regression.json";

fn scenario() -> RecordedData {
    RecordedData::load(&support::repo_root().join(SCENARIO)).expect("scenario")
}

/// The http-golden-signals template with each metric's query replaced by `query(name)`.
fn template_with(query: impl Fn(&str) -> String) -> Template {
    let mut t =
        load_template(&support::repo_root().join("analysis-templates/http-golden-signals.yaml"))
            .expect("shipped template");
    for m in &mut t.metrics {
        m.query = query(&m.name);
    }
    t.args.clear();
    t
}

/// Every point of the scenario as (metric, scope, offset index, value); nulls are skipped.
fn points(data: &RecordedData) -> Vec<(String, &'static str, i64, f64)> {
    let mut out = Vec::new();
    for (name, m) in &data.metrics {
        for (scope, values) in [("baseline", &m.baseline), ("canary", &m.canary)] {
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    out.push((name.clone(), scope, i as i64, *v));
                }
            }
        }
    }
    out
}

fn window(start: i64, n: usize) -> Window {
    Window::new(
        parse_time(&start.to_string()).unwrap(),
        parse_time(&(start + (n as i64 - 1) * STEP).to_string()).unwrap(),
        STEP as u64,
    )
    .unwrap()
}

fn settings(kind: &str, url: &str, options: Value) -> SourceSettings {
    SourceSettings {
        kind: kind.into(),
        url: url.into(),
        timeout_seconds: Some(10.0),
        max_concurrent_queries: None,
        judgment_timeout_seconds: None,
        options: options
            .as_object()
            .map(|o| o.clone().into_iter().collect())
            .unwrap_or_default(),
    }
}

fn judge_live(template: &Template, settings: &SourceSettings, w: Window) -> Report {
    let source = build_source("live", settings).expect("source");
    let request = LiveRequest {
        baseline: "baseline".into(),
        canary: "canary".into(),
        window: w,
        args: BTreeMap::new(),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(judge_with_source(
        template,
        source.as_ref(),
        &request,
        DEFAULT_MAX_CONCURRENT,
    ))
    .expect("live judgment")
}

/// The report as JSON without the live-only `query` field of each metric.
fn comparable(report: &Report) -> Value {
    let mut v = serde_json::to_value(report).unwrap();
    for m in v["metrics"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("query");
    }
    v
}

fn assert_live_equals_offline(backend: &str, template: &Template, live: &Report) {
    let offline = judge(template, &scenario().observations());
    assert_eq!(
        offline.verdict.as_str(),
        "fail",
        "the scenario is a regression"
    );
    assert_eq!(
        comparable(live),
        comparable(&offline),
        "{backend}: live and offline reports differ"
    );
    for m in &live.metrics {
        let q = m
            .query
            .as_ref()
            .unwrap_or_else(|| panic!("{backend}: {} has no query", m.name));
        assert_eq!(
            (q.baseline_points, q.canary_points),
            (120, 120),
            "{backend}: {}",
            m.name
        );
        assert!(
            q.canary.contains("canary") && q.baseline.contains("baseline"),
            "{q:?}"
        );
    }
}

#[test]
fn prometheus_live_verdict_equals_offline() {
    let data = scenario();
    let start = T0 + 1_000_000;
    let mut om = String::new();
    let mut by_metric: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, scope, i, v) in points(&data) {
        by_metric.entry(name.clone()).or_default().push(format!(
            "canaryd_live_{name}{{version=\"{scope}\"}} {v} {}",
            start + i * STEP
        ));
    }
    for (name, lines) in by_metric {
        om.push_str(&format!("# TYPE canaryd_live_{name} gauge\n"));
        for l in lines {
            om.push_str(&l);
            om.push('\n');
        }
    }
    om.push_str("# EOF\n");
    let server = support::start_prometheus(&om);
    let t = template_with(|name| format!("canaryd_live_{name}{{version=\"${{scope}}\"}}"));
    let live = judge_live(
        &t,
        &settings("prometheus", &server.url, Value::Null),
        window(start, 120),
    );
    assert_live_equals_offline("prometheus", &t, &live);
    assert_eq!(
        live.metrics[0].query.as_ref().unwrap().canary,
        "canaryd_live_p99_latency{version=\"canary\"}"
    );
}

#[test]
fn influxdb_live_verdict_equals_offline() {
    let server = support::influxdb();
    let start = T0 + 2_000_000;
    let mut lines = String::new();
    for (name, scope, i, v) in points(&scenario()) {
        lines.push_str(&format!(
            "live_{name},version={scope} value={v} {}\n",
            start + i * STEP
        ));
    }
    let (status, body) =
        support::http_request(server.port, "POST", "/write?db=canary&precision=s", &lines);
    assert_eq!(status, 204, "{body}");
    let t = template_with(|name| {
        format!("SELECT mean(\"value\") FROM \"live_{name}\" WHERE \"version\" = '${{scope}}' AND $timeFilter GROUP BY time($interval) fill(none)")
    });
    let s = settings(
        "influxdb",
        &server.url,
        serde_json::json!({ "database": "canary" }),
    );
    let live = judge_live(&t, &s, window(start, 120));
    assert_live_equals_offline("influxdb", &t, &live);
}

#[test]
fn graphite_live_verdict_equals_offline() {
    let graphite = support::graphite();
    // Graphite keeps recent data only: the scenario goes 20 minutes before the fixture's base.
    let start = graphite.base - 1200;
    let pts: Vec<(String, f64, i64)> = points(&scenario())
        .into_iter()
        .map(|(name, scope, i, v)| (format!("canaryd_live.{name}.{scope}"), v, start + i * STEP))
        .collect();
    graphite.write(&pts);
    let t = template_with(|name| format!("canaryd_live.{name}.${{scope}}"));
    let live = judge_live(
        &t,
        &settings("graphite", &graphite.server.url, Value::Null),
        window(start, 120),
    );
    assert_live_equals_offline("graphite", &t, &live);
}

fn canaryd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .args(args)
        .current_dir(support::repo_root())
        .env_remove("RUST_LOG")
        .output()
        .expect("run canaryd")
}

#[test]
fn the_cli_judges_live_and_exits_with_the_verdict() {
    // The shared Prometheus holds `latency_seconds` for versions baseline and canary
    // (fixtures/live/series.om): a small template over it, judged through the binary.
    let server = support::prometheus();
    let scratch = support::Scratch::new("live-cli");
    let config = scratch.file(
        "c.toml",
        &format!("[sources.prometheus]\nurl = \"{}\"\n", server.url),
    );
    let template = scratch.file(
        "t.yaml",
        "name: live-cli\nargs: { metric: { default: latency_seconds } }\nstep_seconds: 10\nmetrics:\n  - name: latency\n    query: ${metric}{version=\"${scope}\"}\n    judge: { direction: increase }\n",
    );
    let out = canaryd(&[
        "judge",
        "--config",
        config.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
        "--baseline",
        "baseline",
        "--canary",
        "canary",
        "--start",
        &T0.to_string(),
        "--end",
        &(T0 + 600).to_string(),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let code = match report["verdict"].as_str().unwrap() {
        "pass" => 0,
        "marginal" => 2,
        _ => 3,
    };
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    let m = &report["metrics"][0];
    assert_eq!(m["query"]["canary"], "latency_seconds{version=\"canary\"}");
    assert_eq!(m["query"]["baseline_points"], 61);
    assert!(
        m["classification"] != "error" && m["classification"] != "nodata",
        "{m}"
    );
    // --arg overrides a default; a scope value cannot break out of the label matcher.
    let out = canaryd(&[
        "judge",
        "--config",
        config.to_str().unwrap(),
        "--template",
        template.to_str().unwrap(),
        "--baseline",
        "baseline\"} or vector(1) #",
        "--canary",
        "canary",
        "--start",
        &T0.to_string(),
        "--end",
        &(T0 + 600).to_string(),
        "--arg",
        "metric=requests",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &report["metrics"][0];
    assert_eq!(
        m["query"]["baseline"],
        "requests{version=\"baseline\\\"} or vector(1) #\"}"
    );
    assert_eq!(m["classification"], "nodata", "{m}");
}

#[test]
fn an_unreachable_source_is_exit_1_naming_the_url() {
    let port = support::free_port();
    let scratch = support::Scratch::new("live-cli");
    let config = scratch.file(
        "down.toml",
        &format!("[sources.prometheus]\nurl = \"http://127.0.0.1:{port}\"\n"),
    );
    let out = canaryd(&[
        "judge",
        "--config",
        config.to_str().unwrap(),
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--arg",
        "service=checkout",
        "--baseline",
        "v1",
        "--canary",
        "v2",
        "--start",
        "2026-11-21T10:00:00Z",
        "--end",
        "2026-11-21T10:30:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn live_argument_errors_are_exit_1() {
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--baseline",
        "v1",
        "--canary",
        "v2",
        "--start",
        "2026-11-21T10:00:00Z",
        "--end",
        "2026-11-21T10:30:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing: service"));
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--arg",
        "service=x",
        "--baseline",
        "v1",
        "--canary",
        "v2",
        "--start",
        "yesterday",
        "--end",
        "2026-11-21T10:30:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("yesterday"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        "fixtures/scenarios/clean-canary.json",
        "--baseline",
        "v1",
    ]);
    assert_eq!(out.status.code(), Some(1));
}
