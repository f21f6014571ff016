//! Live metric sources against REAL servers (Prometheus, InfluxDB 1.x, Graphite; see
//! `support`), plus local stand-ins for faults and for Datadog, whose API cannot run here: the
//! Datadog tests serve responses shaped exactly as Datadog's API reference documents for
//! `GET /api/v1/query` ("Query timeseries points").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use canaryd::config::SourceSettings;
use canaryd::source::{
    build_source, fetch_all, parse_time, MetricQuery, MetricSource, SourceError, Window,
};
use serde_json::json;

use crate::support::{self, fake, T0};

fn settings(kind: &str, url: &str, options: serde_json::Value) -> SourceSettings {
    let options: BTreeMap<String, serde_json::Value> = match options {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    SourceSettings {
        kind: kind.into(),
        url: url.into(),
        timeout_seconds: Some(5.0),
        max_concurrent_queries: None,
        judgment_timeout_seconds: None,
        options,
    }
}

fn window(from: i64, to: i64, step: u64) -> Window {
    Window::new(
        parse_time(&from.to_string()).unwrap(),
        parse_time(&to.to_string()).unwrap(),
        step,
    )
    .unwrap()
}

/// The fixture's values of `latency_seconds{version=V}` as the grid of `window` expects them.
fn expected(version: &str, w: &Window) -> Vec<Option<f64>> {
    let samples = support::fixture_series("latency_seconds", "version", version);
    (0..w.len())
        .map(|i| {
            let t = w.start_unix() + (i as u64 * w.step_seconds) as i64;
            samples
                .iter()
                .find(|(st, _)| *st == t)
                .map(|(_, v)| *v)
                .filter(|v| v.is_finite())
        })
        .collect()
}

fn render(source: &dyn MetricSource, template: &str, scope: &str) -> String {
    template.replace("${scope}", &source.escape(scope).unwrap())
}

fn metric(source: &dyn MetricSource, name: &str, template: &str) -> MetricQuery {
    MetricQuery {
        name: name.into(),
        baseline_query: render(source, template, "baseline"),
        canary_query: render(source, template, "canary"),
    }
}

const PROM_LATENCY: &str = r#"latency_seconds{version="${scope}"}"#;

/// Every metric of `template` rendered for the two scopes (escaped where each placeholder
/// sits) and fetched from `source`.
async fn fetch_template(
    template: &canaryd::template::Template,
    source: &dyn MetricSource,
    baseline: &str,
    canary: &str,
    w: &Window,
) -> BTreeMap<String, canaryd::source::Observation> {
    let queries = canaryd::service::live::render_queries(
        template,
        source,
        baseline,
        canary,
        &BTreeMap::new(),
    )
    .unwrap();
    fetch_all(source, &queries, w, 4).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Prometheus (real server, data backfilled from fixtures/live/series.om)

fn prometheus_source() -> std::sync::Arc<dyn MetricSource> {
    build_source(
        "prometheus",
        &settings("prometheus", &support::prometheus().url, json!({})),
    )
    .unwrap()
}

#[tokio::test]
async fn prometheus_returns_the_written_points_on_the_step_grid() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let s = source
        .fetch_range("latency", r#"latency_seconds{version="baseline"}"#, &w)
        .await
        .unwrap();
    assert_eq!(s.values, expected("baseline", &w));
    assert_eq!(s.points_returned, 61);
    assert!(s.notes.is_empty(), "{:?}", s.notes);

    let w20 = window(T0, T0 + 600, 20);
    let s = source
        .fetch_range("latency", r#"latency_seconds{version="baseline"}"#, &w20)
        .await
        .unwrap();
    assert_eq!(s.values, expected("baseline", &w20));
    assert_eq!(s.values.len(), 31);
}

#[tokio::test]
async fn prometheus_fetch_all_fills_both_scopes_and_provenance() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let queries = vec![metric(&*source, "latency", PROM_LATENCY)];
    let obs = fetch_all(&*source, &queries, &w, 4).await.unwrap();
    let o = &obs["latency"];
    assert_eq!(o.error, None);
    assert_eq!(o.baseline, expected("baseline", &w));
    assert_eq!(o.canary, expected("canary", &w));
    let p = o.provenance.as_ref().unwrap();
    assert_eq!(p.baseline_query, r#"latency_seconds{version="baseline"}"#);
    assert_eq!(p.canary_query, r#"latency_seconds{version="canary"}"#);
    assert_eq!((p.baseline_points, p.canary_points), (61, 61));
}

#[tokio::test]
async fn prometheus_nan_and_inf_become_missing_values() {
    let source = prometheus_source();
    let w = window(T0, T0 + 90, 10);
    let s = source
        .fetch_range("m", r#"latency_seconds{version="nan"}"#, &w)
        .await
        .unwrap();
    assert_eq!(s.values, expected("nan", &w));
    assert_eq!(s.values[3], None);
    assert_eq!(s.values[5], None);
    assert_eq!(s.values[4], Some(5.0));
}

#[tokio::test]
async fn prometheus_series_that_stops_early_is_noted() {
    let source = prometheus_source();
    let w = window(T0, T0 + 900, 10);
    let queries = vec![MetricQuery {
        name: "short".into(),
        baseline_query: r#"latency_seconds{version="baseline"}"#.into(),
        canary_query: r#"latency_seconds{version="short"}"#.into(),
    }];
    let obs = fetch_all(&*source, &queries, &w, 2).await.unwrap();
    let notes = &obs["short"].notes;
    // Backfilled data has no staleness markers: Prometheus repeats the last sample for its
    // 5-minute lookback, so "short" (last sample at T0+200) shows until T0+500.
    assert_eq!(
        notes,
        &vec![
            "canary series stops at 2023-11-14T22:28:20Z, 6 minutes 40 seconds before the end of \
             the window"
                .to_string()
        ]
    );
    assert_eq!(obs["short"].canary[50], Some(0.32));
    assert_eq!(obs["short"].canary[51], None);
}

#[tokio::test]
async fn prometheus_empty_result_is_an_empty_series() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let s = source
        .fetch_range("m", r#"latency_seconds{version="absent"}"#, &w)
        .await
        .unwrap();
    assert_eq!(s.points_returned, 0);
    assert_eq!(s.values, vec![None; 61]);
}

#[tokio::test]
async fn prometheus_several_series_is_an_error_naming_them() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let err = source
        .fetch_range("m", "requests", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"{__name__="requests", instance="a"}"#),
        "{err}"
    );
    assert!(
        err.contains(r#"{__name__="requests", instance="b"}"#),
        "{err}"
    );
    assert!(err.contains("sum(...)"), "{err}");
    // The suggested aggregation works.
    let s = source.fetch_range("m", "sum(requests)", &w).await.unwrap();
    assert_eq!(s.values[0], Some(100.0 + 1100.0));
}

/// One metric per way of quoting `${scope}` in a PromQL matcher on `latency_seconds{version}`.
const PROM_CONTEXTS: &str = r#"name: contexts
metrics:
  - { name: eq_double, query: 'latency_seconds{version="${scope}"}' }
  - { name: eq_single, query: "latency_seconds{version='${scope}'}" }
  - { name: eq_raw, query: 'latency_seconds{version=`${scope}`}' }
  - { name: re_double, query: 'latency_seconds{version=~"${scope}"}' }
  - { name: re_single, query: "latency_seconds{version=~'${scope}'}" }
  - { name: re_raw, query: 'latency_seconds{version=~`${scope}`}' }
"#;

#[tokio::test]
async fn prometheus_scopes_match_only_the_literal_series_in_every_quoting() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let template = canaryd::template::parse_template(PROM_CONTEXTS, "contexts.yaml").unwrap();
    let fetch = |canary: &'static str| fetch_template(&template, &*source, "baseline", canary, &w);
    // The literal scopes find their series in every context.
    let obs = fetch("canary").await;
    for (name, o) in &obs {
        assert_eq!(o.error, None, "{name}");
        assert_eq!(o.baseline, expected("baseline", &w), "{name}");
        assert_eq!(o.canary, expected("canary", &w), "{name}");
    }
    // `.*` in a regex matcher is the label value `.*`: no series, not every series (which
    // Prometheus would answer as several series, or as data); the injection is a label value.
    for hostile in [
        ".*",
        "canary|baseline",
        "x'} or vector(1) #",
        r#"x"} or vector(1) #"#,
    ] {
        let obs = fetch(hostile).await;
        assert_eq!(obs.len(), 6);
        for (name, o) in &obs {
            assert_eq!(o.error, None, "{name} with {hostile:?}");
            assert_eq!(o.canary, vec![None; 61], "{name} with {hostile:?}");
            assert_eq!(o.provenance.as_ref().unwrap().canary_points, 0, "{name}");
            assert_eq!(o.baseline, expected("baseline", &w), "{name}");
        }
    }
    // What the single escaping for "…" used to send for '…': the injection answers data.
    let naive = r#"latency_seconds{version='${scope}'}"#
        .replace("${scope}", &source.escape("x'} or vector(1) #").unwrap());
    let s = source.fetch_range("m", &naive, &w).await.unwrap();
    assert_eq!(s.values, vec![Some(1.0); 61], "{naive}");
    // A raw string cannot hold a backtick: refused, naming the scope and the metric.
    let err = canaryd::service::live::render_queries(
        &template,
        &*source,
        "baseline",
        "x` or vector(1) #",
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("canary scope in metric 'eq_raw': "),
        "{err}"
    );
}

#[tokio::test]
async fn prometheus_declared_regex_scopes_stay_patterns() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let template = canaryd::template::parse_template(
        "name: patterns\nscope: { regex: true }\nmetrics:\n  - name: m\n    query: \
         latency_seconds{version=~\"${scope}\"}\n",
        "patterns.yaml",
    )
    .unwrap();
    let obs = fetch_template(&template, &*source, "base.*", "can.ry", &w).await;
    assert_eq!(obs["m"].error, None);
    assert_eq!(obs["m"].baseline, expected("baseline", &w));
    assert_eq!(obs["m"].canary, expected("canary", &w));
}

#[tokio::test]
async fn prometheus_scope_injection_is_escaped() {
    let source = prometheus_source();
    let w = window(T0, T0 + 600, 10);
    let evil = r#"baseline"} or vector(1) or up{x=""#;
    let query = render(&*source, PROM_LATENCY, evil);
    assert_eq!(
        query,
        r#"latency_seconds{version="baseline\"} or vector(1) or up{x=\""}"#
    );
    let s = source.fetch_range("m", &query, &w).await.unwrap();
    assert_eq!(s.points_returned, 0, "the value must stay a label value");
}

#[tokio::test]
async fn prometheus_bad_query_gives_its_400_message_and_is_not_retried() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let proxy = fake::flaky_proxy(upstream, 0).await;
    let source = build_source("p", &settings("prometheus", &proxy.url, json!({}))).unwrap();
    let w = window(T0, T0 + 600, 10);
    let queries = vec![
        metric(&*source, "good", PROM_LATENCY),
        MetricQuery {
            name: "bad".into(),
            baseline_query: "sum(rate(x[1m]".into(),
            canary_query: "sum(rate(x[1m]".into(),
        },
    ];
    let obs = fetch_all(&*source, &queries, &w, 4).await.unwrap();
    assert_eq!(obs["good"].error, None);
    assert_eq!(obs["good"].baseline, expected("baseline", &w));
    let err = obs["bad"].error.clone().unwrap();
    assert!(err.contains("prometheus answered 400: bad_data"), "{err}");
    assert!(err.contains("parse error"), "{err}");
    assert!(
        err.contains("(query: sum(rate(x[1m])"),
        "the rendered query: {err}"
    );
    assert!(obs["bad"].provenance.is_some());
    // 2 good + 2 bad queries, each sent once.
    assert_eq!(proxy.hits.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[tokio::test]
async fn prometheus_500_then_200_is_retried() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let proxy = fake::flaky_proxy(upstream, 2).await;
    let source = build_source(
        "p",
        &settings("prometheus", &proxy.url, json!({"retry_backoff_ms": 20})),
    )
    .unwrap();
    let w = window(T0, T0 + 600, 10);
    let s = source
        .fetch_range("m", r#"latency_seconds{version="canary"}"#, &w)
        .await
        .unwrap();
    assert_eq!(s.values, expected("canary", &w));
    assert_eq!(proxy.hits.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Always 500: gives up after retry_attempts with the backend's message.
    let always = fake::fixed(
        500,
        r#"{"status":"error","errorType":"internal","error":"boom"}"#,
    )
    .await;
    let source = build_source(
        "p",
        &settings("prometheus", &always.url, json!({"retry_backoff_ms": 10})),
    )
    .unwrap();
    let err = source
        .fetch_range("m", "up", &w)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "prometheus answered 500: internal: boom");
    assert_eq!(always.hits.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn source_down_is_unreachable_naming_the_url() {
    let port = support::free_port(); // nothing listens there
    let url = format!("http://admin:hunter2@127.0.0.1:{port}");
    let source = build_source("p", &settings("prometheus", &url, json!({}))).unwrap();
    let w = window(T0, T0 + 600, 10);
    let queries = vec![
        metric(&*source, "a", PROM_LATENCY),
        metric(&*source, "b", PROM_LATENCY),
    ];
    let started = Instant::now();
    let err = fetch_all(&*source, &queries, &w, 4).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "down must fail fast"
    );
    assert!(matches!(err, SourceError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("source unreachable at http://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("admin"),
        "{text}"
    );
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[tokio::test]
async fn slow_source_times_out_within_the_configured_timeout() {
    let hung = fake::silent().await;
    let mut s = settings(
        "prometheus",
        &hung.url,
        json!({"retry_attempts": 2, "retry_backoff_ms": 10}),
    );
    s.timeout_seconds = Some(0.4);
    let source = build_source("p", &s).unwrap();
    let w = window(T0, T0 + 600, 10);
    let started = Instant::now();
    // The only metric could not be read: no judgment, an error that says why.
    let err = fetch_all(&*source, &[metric(&*source, "m", PROM_LATENCY)], &w, 2)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    // Two attempts of 0.4 s plus a 10 ms backoff, for both scopes at once.
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(800), "took {elapsed:?}");
    assert!(err.is_timeout() && err.is_source_failure(), "{err:?}");
    let err = err.to_string();
    assert!(
        err.starts_with("no metric could be read from the source, so no judgment was made: m: "),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "no answer from {}/api/v1/query_range within 0.4 s (tried 2 times)",
            hung.url
        )),
        "{err}"
    );
    assert!(
        err.contains(r#"(query: latency_seconds{version="canary"})"#),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_answers_are_reported() {
    let w = window(T0, T0 + 600, 10);
    for (body, needle) in [
        (
            "<html>proxy login</html>",
            "malformed prometheus response: not the query API's JSON",
        ),
        (
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            "resultType \"vector\"",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["x","1"]]}]}}"#,
            "matrix result not as documented",
        ),
    ] {
        let server = fake::fixed(200, body).await;
        let source = build_source("p", &settings("prometheus", &server.url, json!({}))).unwrap();
        let err = source
            .fetch_range("m", "up", &w)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{body}: {err}");
    }
}

#[tokio::test]
async fn credentials_are_sent_but_never_shown() {
    let server = fake::fixed(
        403,
        r#"{"status":"error","errorType":"forbidden","error":"denied"}"#,
    )
    .await;
    let source = build_source(
        "p",
        &settings(
            "prometheus",
            &server.url,
            json!({"bearer_token": "tok-s3cr3t", "headers": {"X-Scope-OrgID": "tenant-42"}}),
        ),
    )
    .unwrap();
    let w = window(T0, T0 + 600, 10);
    let err = fetch_all(&*source, &[metric(&*source, "m", PROM_LATENCY)], &w, 2)
        .await
        .unwrap_err();
    // A 4xx is the query's (or the credentials') fault, not an outage.
    assert!(!err.is_source_failure(), "{err:?}");
    let err = err.to_string();
    assert!(
        err.contains("prometheus answered 403: forbidden: denied"),
        "{err}"
    );
    assert!(!err.contains("tok-s3cr3t"), "{err}");
    assert!(!format!("{source:?}").contains("s3cr3t"));
    let heads = server
        .requests
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    assert!(
        heads.contains("authorization: bearer tok-s3cr3t"),
        "{heads}"
    );
    assert!(heads.contains("x-scope-orgid: tenant-42"), "{heads}");
    // 403 is not retried.
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Basic auth from options.
    let server = fake::fixed(
        200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
    )
    .await;
    let source = build_source(
        "p",
        &settings(
            "prometheus",
            &server.url,
            json!({"username": "u", "password": "p@ss"}),
        ),
    )
    .unwrap();
    source.fetch_range("m", "up", &w).await.unwrap();
    let heads = server
        .requests
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    assert!(heads.contains("authorization: basic dtpwqhnz"), "{heads}");
}

#[test]
fn unknown_kind_and_bad_settings_are_config_errors() {
    let err = build_source("x", &settings("opentsdb", "http://h", json!({})))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown kind \"opentsdb\""), "{err}");
    let err = build_source("x", &settings("influxdb", "http://h", json!({})))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("database is required"), "{err}");
    let err = build_source("x", &settings("prometheus", "not a url", json!({})))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a valid URL"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// InfluxDB 1.x (real server; the fixture's finite samples written over /write?precision=s)

const INFLUX_LATENCY: &str = "SELECT mean(\"value\") FROM \"latency_seconds\" WHERE \"version\" = '${scope}' AND $timeFilter GROUP BY time($interval) fill(none)";

fn influx_source() -> std::sync::Arc<dyn MetricSource> {
    build_source(
        "influx",
        &settings(
            "influxdb",
            &support::influxdb().url,
            json!({"database": "canary"}),
        ),
    )
    .unwrap()
}

#[tokio::test]
async fn influxdb_returns_the_written_points_on_the_step_grid() {
    let source = influx_source();
    let w = window(T0, T0 + 600, 10);
    let obs = fetch_all(
        &*source,
        &[metric(&*source, "latency", INFLUX_LATENCY)],
        &w,
        4,
    )
    .await
    .unwrap();
    let o = &obs["latency"];
    assert_eq!(o.error, None);
    assert_eq!(o.baseline, expected("baseline", &w));
    assert_eq!(o.canary, expected("canary", &w));
    let p = o.provenance.as_ref().unwrap();
    assert_eq!((p.baseline_points, p.canary_points), (61, 61));
    assert!(p.baseline_query.contains("'baseline' AND $timeFilter"));

    // Gaps stay gaps.
    let q = render(&*source, INFLUX_LATENCY, "gappy");
    let s = source.fetch_range("g", &q, &w).await.unwrap();
    assert_eq!(s.values, expected("gappy", &w));
    assert_eq!(s.values[11..50], vec![None; 39][..]);
}

#[tokio::test]
async fn influxdb_scope_injection_is_escaped() {
    let source = influx_source();
    let w = window(T0, T0 + 600, 10);
    let q = render(&*source, INFLUX_LATENCY, r"baseline' OR 'a' = 'a");
    assert!(q.contains(r"'baseline\' OR \'a\' = \'a'"), "{q}");
    let s = source.fetch_range("m", &q, &w).await.unwrap();
    assert_eq!(s.points_returned, 0);
}

#[tokio::test]
async fn influxdb_regex_literals_and_identifiers_match_literally() {
    let source = influx_source();
    let w = window(T0, T0 + 600, 10);
    let template = canaryd::template::parse_template(
        "name: influx-contexts\nsource: influxdb\nargs: { field: { default: value } }\nmetrics:\n  \
         - name: re\n    query: SELECT mean(\"${field}\") FROM \"latency_seconds\" WHERE \
         \"version\" =~ /${scope}/ AND $timeFilter GROUP BY time($interval) fill(none)\n",
        "influx.yaml",
    )
    .unwrap();
    let fetch = |canary: &'static str| fetch_template(&template, &*source, "baseline", canary, &w);
    // The regex literal is unanchored in InfluxQL: `canary` matches only the canary series.
    let obs = fetch("canary").await;
    assert_eq!(obs["re"].error, None);
    assert_eq!(obs["re"].canary, expected("canary", &w));
    assert_eq!(obs["re"].baseline, expected("baseline", &w));
    // `.*`, `/` and an alternation are literal text: nothing has that version.
    for hostile in [".*", "canary|baseline", r"x/ OR true OR /x", "ca.ary"] {
        let obs = fetch(hostile).await;
        assert_eq!(obs["re"].error, None, "{hostile}");
        assert_eq!(obs["re"].canary, vec![None; 61], "{hostile}");
    }
}

#[tokio::test]
async fn influxdb_errors_several_series_and_empty() {
    let source = influx_source();
    let w = window(T0, T0 + 600, 10);
    let err = source
        .fetch_range("m", "SELECT mean(value) FROM requests WHERE $timeFilter GROUP BY time($interval), \"instance\"", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("requests{instance=a}, requests{instance=b}"),
        "{err}"
    );
    let err = source
        .fetch_range("m", "SELEC value FROM requests WHERE $timeFilter", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("influxdb answered 400: error parsing query"),
        "{err}"
    );
    let err = source
        .fetch_range("m", "SELECT value FROM requests", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("$timeFilter"), "{err}");
    let s = source
        .fetch_range(
            "m",
            "SELECT mean(value) FROM nothing_here WHERE $timeFilter GROUP BY time($interval)",
            &w,
        )
        .await
        .unwrap();
    assert_eq!(s.values, vec![None; 61]);
}

// ---------------------------------------------------------------------------------------------
// Datadog: no Datadog server can run here. These answers are shaped exactly as the Datadog API
// reference documents for GET /api/v1/query (status, res_type, series[].pointlist of
// [milliseconds, value|null], query_index, scope, tag_set...; errors as {"errors": [...]}).

fn datadog_answer(series: serde_json::Value) -> String {
    json!({
        "status": "ok",
        "res_type": "time_series",
        "resp_version": 1,
        "query": "avg:trace.http.request.duration{version:canary}",
        "message": "",
        "error": null,
        "from_date": T0 * 1000,
        "to_date": (T0 + 60) * 1000,
        "group_by": [],
        "series": series,
    })
    .to_string()
}

fn datadog_series(scope: &str, tags: &[&str], points: serde_json::Value) -> serde_json::Value {
    json!({
        "aggr": "avg",
        "display_name": "trace.http.request.duration",
        "end": (T0 + 60) * 1000,
        "expression": format!("avg:trace.http.request.duration{{{scope}}}"),
        "interval": 10,
        "length": points.as_array().map(|a| a.len()).unwrap_or(0),
        "metric": "trace.http.request.duration",
        "pointlist": points,
        "query_index": 0,
        "scope": scope,
        "start": T0 * 1000,
        "tag_set": tags,
        "unit": [{"family": "time", "name": "second", "plural": "seconds", "scale_factor": 1.0, "short_name": "s"}, null]
    })
}

#[tokio::test]
async fn datadog_documented_answers() {
    let server = fake::responder(|head| {
        let ms = |s: i64| (s * 1000) as f64;
        if head.contains("version%3Acanary") {
            (
                200,
                datadog_answer(json!([datadog_series(
                    "version:canary",
                    &[],
                    json!([[ms(T0), 0.5], [ms(T0 + 10), null], [ms(T0 + 20), 0.7]])
                )])),
            )
        } else if head.contains("%7Bhost%7D") {
            (
                200,
                datadog_answer(json!([
                    datadog_series("host:a,version:baseline", &["host:a"], json!([])),
                    datadog_series("host:b,version:baseline", &["host:b"], json!([]))
                ])),
            )
        } else if head.contains("nothing") {
            (200, datadog_answer(json!([])))
        } else {
            (403, r#"{"errors": ["Forbidden"]}"#.to_string())
        }
    })
    .await;
    let source = build_source(
        "dd",
        &settings(
            "datadog",
            &server.url,
            json!({"api_key": "dd-api-SECRET", "application_key": "dd-app-SECRET"}),
        ),
    )
    .unwrap();
    let w = window(T0, T0 + 60, 10);
    let q = format!(
        "avg:trace.http.request.duration{{version:{}}}",
        source.escape("canary").unwrap()
    );
    let s = source.fetch_range("m", &q, &w).await.unwrap();
    assert_eq!(
        s.values,
        vec![Some(0.5), None, Some(0.7), None, None, None, None]
    );
    assert_eq!(s.points_returned, 3);
    let heads = server
        .requests
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    assert!(
        heads.contains("get /api/v1/query?from=1700000400&to=1700000460&query="),
        "{heads}"
    );
    assert!(heads.contains("dd-api-key: dd-api-secret"), "{heads}");
    assert!(
        heads.contains("dd-application-key: dd-app-secret"),
        "{heads}"
    );

    let err = source
        .fetch_range("m", "avg:x{version:baseline} by {host}", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("{host:a}, {host:b}"), "{err}");
    let s = source.fetch_range("m", "avg:nothing{*}", &w).await.unwrap();
    assert_eq!(s.points_returned, 0);
    let err = source
        .fetch_range("m", "avg:other{*}", &w)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "datadog answered 403: Forbidden");
    assert!(!err.contains("SECRET") && !format!("{source:?}").contains("SECRET"));

    assert!(source.escape("canary,version:baseline").is_err());
    assert!(source.escape("x} or avg:y{*").is_err());
}

// ---------------------------------------------------------------------------------------------
// Recorded data as a source

#[tokio::test]
async fn file_source_replays_recorded_data() {
    let dir = support::temp_dir("file-source");
    let path = dir.join("data.json");
    std::fs::write(
        &path,
        r#"{"metrics": {"p99": {"baseline": [0.2, null], "canary": [0.3, 0.31, 0.32]}}}"#,
    )
    .unwrap();
    let source = build_source(
        "rec",
        &settings("file", &path.display().to_string(), json!({})),
    )
    .unwrap();
    let w = window(T0, T0 + 60, 10);
    let queries = vec![
        MetricQuery {
            name: "p99".into(),
            baseline_query: "ignored".into(),
            canary_query: "ignored".into(),
        },
        MetricQuery {
            name: "absent".into(),
            baseline_query: String::new(),
            canary_query: String::new(),
        },
    ];
    let obs = fetch_all(&*source, &queries, &w, 2).await.unwrap();
    assert_eq!(obs["p99"].baseline, vec![Some(0.2), None]);
    assert_eq!(obs["p99"].canary, vec![Some(0.3), Some(0.31), Some(0.32)]);
    assert!(obs["absent"].baseline.is_empty() && obs["absent"].error.is_none());
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Graphite (real carbon-cache + graphite-web; the fixture shifted to 30 minutes ago)

#[tokio::test]
async fn graphite_returns_the_written_points_on_the_step_grid() {
    let g = support::graphite();
    let source = build_source("g", &settings("graphite", &g.server.url, json!({}))).unwrap();
    let w = window(g.base, g.base + 600, 10);
    let fixture_w = window(T0, T0 + 600, 10);
    let obs = fetch_all(
        &*source,
        &[metric(&*source, "latency", "latency_seconds.${scope}")],
        &w,
        4,
    )
    .await
    .unwrap();
    let o = &obs["latency"];
    assert_eq!(o.error, None);
    assert_eq!(o.baseline, expected("baseline", &fixture_w));
    assert_eq!(o.canary, expected("canary", &fixture_w));
    let q = render(&*source, "latency_seconds.${scope}", "gappy");
    let s = source.fetch_range("g", &q, &w).await.unwrap();
    assert_eq!(s.values, expected("gappy", &fixture_w));

    let err = source
        .fetch_range("r", "requests.*", &w)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("requests.a, requests.b") && err.contains("sumSeries"),
        "{err}"
    );
    let s = source
        .fetch_range("r", "sumSeries(requests.*)", &w)
        .await
        .unwrap();
    assert_eq!(s.values[0], Some(1200.0));
    let s = source.fetch_range("n", "nothing.here", &w).await.unwrap();
    assert_eq!(s.values, vec![None; 61]);

    let err = source
        .escape("baseline,requests.*")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no quoting"), "{err}");
    assert!(source.escape("canary.*").is_err());
}

/// Issue 12 (9): answers over a source's `max_response_bytes` (read in chunks, with or without
/// a Content-Length) or over the points budget are an error naming the query and the limit, not
/// a process holding 16 times the answer's bytes; the real Prometheus still answers under a
/// small limit.
#[tokio::test]
async fn oversized_answers_are_refused_naming_the_query_and_the_limit() {
    let w = window(T0, T0 + 600, 10);
    // With a Content-Length: refused before reading.
    let body = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
        vec![format!("[{T0},\"1\"]"); 2_000].join(",")
    );
    let server = fake::responder(move |_| (200, body.clone())).await;
    let source = build_source(
        "p",
        &settings(
            "prometheus",
            &server.url,
            json!({"max_response_bytes": 10_000}),
        ),
    )
    .unwrap();
    let queries = vec![metric(&*source, "latency", PROM_LATENCY)];
    // The only metric could not be read: no judgment, each side's reason.
    let err = fetch_all(&*source, &queries, &w, 4).await.unwrap_err();
    assert!(matches!(err, SourceError::NothingRead { .. }), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("baseline: answer too large"), "{err}");
    assert!(err.contains("max_response_bytes (10000 bytes)"), "{err}");
    assert!(
        err.contains(r#"(query: latency_seconds{version="baseline"})"#),
        "{err}"
    );
    assert!(err.contains("canary: answer too large"), "{err}");
    // Not retried: a larger answer next time is no more likely.
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Without a Content-Length, 64 MiB streamed: reading stops at the default 16 MiB.
    let server = fake::streaming(64 << 20).await;
    let source = build_source("p", &settings("prometheus", &server.url, json!({}))).unwrap();
    let err = source.fetch_range("latency", "up", &w).await.unwrap_err();
    assert_eq!(err.reason_code(), "too_large");
    assert!(
        err.to_string()
            .contains("max_response_bytes (16777216 bytes)"),
        "{err}"
    );

    // Under the byte limit but far more points than the window has: the points budget.
    let server = fake::streaming(1 << 20).await;
    let source = build_source("p", &settings("prometheus", &server.url, json!({}))).unwrap();
    let err = source.fetch_range("latency", "up", &w).await.unwrap_err();
    assert!(matches!(err, SourceError::TooLarge(_)), "{err}");
    assert!(
        err.to_string()
            .contains("more than 10000 points, the most one query may bring for a window of 61"),
        "{err}"
    );

    // A bad limit is a configuration error.
    let err = build_source(
        "p",
        &settings("prometheus", &server.url, json!({"max_response_bytes": 0})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_response_bytes"), "{err}");

    // The real Prometheus, under a limit far above its answers, works as before.
    let source = build_source(
        "p",
        &settings(
            "prometheus",
            &support::prometheus().url,
            json!({"max_response_bytes": 65_536}),
        ),
    )
    .unwrap();
    let obs = fetch_all(&*source, &queries, &w, 4).await.unwrap();
    assert_eq!(obs["latency"].error, None);
    assert_eq!(obs["latency"].baseline, expected("baseline", &w));
    assert_eq!(obs["latency"].canary, expected("canary", &w));
}
