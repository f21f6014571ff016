//! Import of Kayenta canary configs (issue 16 item 2, CONTRACT §8): Kayenta's own sample configs
//! and ours in fixtures/kayenta, translated, read back by canaryd's own loader, through the CLI
//! and through `PUT /api/v1/templates/{name}` on a running app.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use canaryd::template::kayenta::{import_kayenta, ImportOptions, KayentaError, KayentaIssue};
use canaryd::template::{parse_template, Direction, EffectSize, JudgeKind, NanStrategy, Template};
use serde_json::{json, Value};

use crate::support::app::{read as read_response, spawn_app, Db, TestApp};
use crate::support::Scratch;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/kayenta")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// Imports a fixture and reads the YAML back with canaryd's own loader.
fn import(name: &str) -> (Template, Vec<KayentaIssue>, String) {
    let imported = import_kayenta(&read(name), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{name} imports: {e}"));
    let template = parse_template(&imported.yaml, name)
        .unwrap_or_else(|e| panic!("{name}: the import parses: {e}\n{}", imported.yaml));
    (template, imported.warnings, imported.yaml)
}

fn errors(json: &str) -> Vec<KayentaIssue> {
    match import_kayenta(json, &ImportOptions::default()) {
        Ok(i) => panic!("expected an error, got\n{}", i.yaml),
        Err(e) => e.issues(),
    }
}

fn kayenta(t: &Template, metric: &str) -> canaryd::template::KayentaSpec {
    let m = t.metrics.iter().find(|m| m.name == metric).expect("metric");
    match &m.judge.kind {
        JudgeKind::Kayenta(k) => *k,
        other => panic!("{metric}: judged by {other:?}, not kayenta"),
    }
}

fn query<'t>(t: &'t Template, metric: &str) -> &'t str {
    &t.metrics
        .iter()
        .find(|m| m.name == metric)
        .expect("metric")
        .query
}

// ----- Kayenta's own sample configs -----

#[test]
fn kayenta_prometheus_integration_config_round_trips() {
    let (t, warnings, _) = import("prometheus-integration-test-cpu.json");
    assert_eq!(t.name, "integration-test-canary-config");
    assert_eq!(t.source, "prometheus");
    assert_eq!(t.metrics.len(), 1);
    let m = &t.metrics[0];
    assert_eq!(m.name, "CPU_usage_for_service");
    assert_eq!(m.group.as_deref(), Some("pod-group"));
    // PrometheusMetricsService: the filter template's comma-separated filters, then avg(...).
    assert_eq!(
        m.query,
        "avg(integration_test_cpu{namespace='${namespace}', scope='${scope}'})"
    );
    assert!(m.judge.critical);
    assert_eq!(m.judge.direction, Direction::Increase);
    assert_eq!(m.judge.nan, NanStrategy::Remove);
    let k = kayenta(&t, "CPU_usage_for_service");
    assert_eq!(k.effect_size, EffectSize::MeanRatio);
    assert_eq!((k.critical_increase, k.critical_decrease), (1.0, 1.0));
    // The extended scope parameter is a required argument.
    assert_eq!(t.args.keys().collect::<Vec<_>>(), ["namespace"]);
    assert_eq!(t.args["namespace"].default, None);
    assert_eq!((t.scoring.pass, t.scoring.marginal), (75.0, 50.0));
    assert_eq!(t.groups.len(), 1);
    assert_eq!(t.groups[0].weight, 100.0);
    // The one thing that does not map: the metric's name has spaces.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].metric.as_deref(), Some("CPU usage for service"));
    assert_eq!(warnings[0].field, "metrics[0].name");
}

#[test]
fn a_muted_kayenta_metric_is_muted_in_its_own_group() {
    let (t, warnings, _) = import("prometheus-muted-metric.json");
    let muted = t
        .metrics
        .iter()
        .find(|m| m.name == "Failing_metric")
        .unwrap();
    // Kayenta keeps a muted metric's groups and flags and leaves its result out of the score
    // (ScoringHelper filters `isMuted` before WeightedSumScorer): `judge.muted` does the same.
    assert!(muted.judge.muted);
    assert_eq!(muted.group.as_deref(), Some("pod-group"));
    assert!(muted.judge.critical);
    let other = t
        .metrics
        .iter()
        .find(|m| m.name == "Successful_metric")
        .unwrap();
    assert!(other.judge.critical && !other.judge.muted);
    assert_eq!(t.groups.len(), 1);
    assert_eq!(
        (t.groups[0].name.as_str(), t.groups[0].weight),
        ("pod-group", 100.0)
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.field.ends_with("analysisConfigurations.canary.muted")),
        "muted maps exactly: {warnings:?}"
    );
}

#[test]
fn kayenta_graphite_integration_config_round_trips() {
    let (t, warnings, _) = import("graphite-integration-test-cpu.json");
    assert_eq!(t.source, "graphite");
    // GraphiteMetricsService: `$scope` replaced in the target.
    assert_eq!(
        query(&t, "test"),
        "integrationTestCpu.namespace.*.scope.${scope}"
    );
    assert_eq!(
        t.metrics[0].group.as_deref(),
        Some("Integration Test Group")
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn kayenta_samples_that_cannot_work_say_which_metric_and_field() {
    // Atlas: no canaryd source.
    let issues = errors(&read("scratch-atlas_canary_config.json"));
    assert!(
        issues.iter().all(|i| i.field.ends_with(".query.type")),
        "{issues:?}"
    );
    assert!(issues
        .iter()
        .any(|i| i.metric.as_deref() == Some("cpu") && i.message.contains("'atlas'")));
    // Prometheus without a resource type or a custom filter: Kayenta cannot build the query.
    let issues = errors(&read("scratch-prometheus_canary_config.json"));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].metric.as_deref(), Some("cpu"));
    assert_eq!(issues[0].field, "metrics[0].query.resourceType");
    // Graphite's sample: no name, and a target without $scope.
    let issues = errors(&read("graphite-sample-config.json"));
    assert!(issues
        .iter()
        .any(|i| i.field == "name" && i.metric.is_none()));
    assert!(issues.iter().any(|i| i.metric.as_deref() == Some("CPU")
        && i.field == "metrics[0].query.metricName"
        && i.message.contains("$scope")));
}

#[test]
fn a_name_given_for_the_graphite_sample_leaves_only_the_scope_error() {
    let options = ImportOptions {
        name: Some("graphite-sample".into()),
        source: None,
    };
    let issues = import_kayenta(&read("graphite-sample-config.json"), &options)
        .unwrap_err()
        .issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
}

// ----- our own configs, every backend -----

#[test]
fn prometheus_queries_are_built_as_kayenta_builds_them() {
    let (t, warnings, _) = import("own-prometheus-full.json");
    assert_eq!(t.name, "checkout_canary");
    // `PromQL:` inline template: the expression as it is.
    assert_eq!(
        query(&t, "p99_latency"),
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace=\"${namespace}\",version=\"${scope}\"}[2m])))"
    );
    // Filter template first, then labelBindings, in avg(...).
    assert_eq!(
        query(&t, "errors"),
        "avg(http_errors_total{namespace=\"${namespace}\",version=\"${scope}\",code=~\"5..\"})"
    );
    // aws_ec2_instance: asg_groupName and the zone regex from the location.
    assert_eq!(
        query(&t, "cpu"),
        "avg(node_cpu_seconds_total{asg_groupName=\"${scope}\",zone=~\"${location}.{1}\",mode=\"user\"})"
    );
    assert!(
        t.args["location"].regex,
        "Kayenta puts the location into the regex as it is"
    );
    assert_eq!(t.args["namespace"].default.as_deref(), Some("shop"));

    let p99 = t.metrics.iter().find(|m| m.name == "p99_latency").unwrap();
    assert!(p99.judge.critical);
    assert!(p99.judge.outliers.remove);
    assert_eq!(p99.judge.outliers.factor, 2.5);
    let k = kayenta(&t, "p99_latency");
    assert_eq!(k.tolerance.allowed_increase, 1.1);
    assert_eq!(k.critical_increase, 1.5);
    assert_eq!(k.tolerance.confidence, 0.98);
    assert_eq!(k.band, 0.25);

    let errors = t.metrics.iter().find(|m| m.name == "errors").unwrap();
    assert_eq!(errors.judge.nan, NanStrategy::Replace);
    assert!(errors.judge.must_have_data);
    let k = kayenta(&t, "errors");
    assert_eq!(k.effect_size, EffectSize::Cles);
    assert_eq!(k.tolerance.allowed_increase, 0.6);
    assert_eq!(
        k.tolerance.allowed_decrease, 0.5,
        "cles: Kayenta's default 0.5"
    );

    assert_eq!((t.scoring.pass, t.scoring.marginal), (90.0, 70.0));
    let weights: Vec<(&str, f64)> = t
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.weight))
        .collect();
    assert!(weights.contains(&("latency", 50.0)) && weights.contains(&("system", 20.0)));

    // A metric in two groups: the first, and one warning naming the metric and field.
    let w: Vec<&KayentaIssue> = warnings
        .iter()
        .filter(|w| w.field == "metrics[0].groups")
        .collect();
    assert_eq!(w.len(), 1, "{warnings:?}");
    assert_eq!(w[0].metric.as_deref(), Some("p99_latency"));
    assert!(w[0].message.contains("`slo`"));
    assert_eq!(p99.group.as_deref(), Some("latency"));
}

#[test]
fn influxdb_queries_are_built_as_kayenta_builds_them() {
    let (t, warnings, _) = import("own-influxdb.json");
    assert_eq!(t.source, "influxdb");
    assert_eq!(
        query(&t, "latency"),
        "SELECT latency FROM requests WHERE $timeFilter AND ${scope_tag} = '${scope}'"
    );
    assert_eq!(
        query(&t, "errors"),
        "SELECT sum(errors) FROM requests WHERE ${scope_tag} = '${scope}' AND $timeFilter GROUP BY time($interval)"
    );
    assert!(t.args.contains_key("scope_tag"));
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.field.ends_with("].query"))
            .count(),
        2
    );
}

#[test]
fn datadog_queries_are_built_as_kayenta_builds_them() {
    let (t, _, _) = import("own-datadog.json");
    assert_eq!(query(&t, "cpu"), "avg:system.cpu.user{${scope}}");
    assert_eq!(
        query(&t, "requests"),
        "sum:trace.http.request.hits{${scope},env:${env}}.as_count()"
    );
    assert!(t.args.contains_key("env"));
}

#[test]
fn a_gce_instance_query_keeps_kayentas_regexes() {
    let config = json!({
        "name": "gce",
        "metrics": [{"name": "cpu", "groups": ["system"],
            "query": {"type": "prometheus", "resourceType": "gce_instance", "metricName": "cpu"}}],
        "classifier": {"groupWeights": {"system": 100}, "scoreThresholds": {"pass": 95, "marginal": 75}}
    });
    let imported = import_kayenta(&config.to_string(), &ImportOptions::default()).unwrap();
    let t = parse_template(&imported.yaml, "gce").unwrap();
    assert_eq!(
        t.metrics[0].query,
        "avg(cpu{${scope_label}=~\"${scope}-.{4}\",zone=~\".+/zones/${location}-.{1}\"})"
    );
    assert!(
        t.scope.regex,
        "Kayenta puts the scope into the regex as it is"
    );
    assert_eq!(t.args["scope_label"].default.as_deref(), Some("instance"));
    assert!(imported
        .warnings
        .iter()
        .any(|w| w.field == "metrics[0].query.resourceType" && w.message.contains("project")));
}

#[test]
fn every_field_that_does_not_map_is_one_warning_naming_metric_and_field() {
    let config = json!({
        "name": "w",
        "judge": {"name": "dredd-v1.0", "judgeConfigurations": {"x": 1}},
        "services": {},
        "metrics": [{
            "name": "m", "groups": ["g"], "scopeName": "other",
            "query": {"type": "prometheus", "metricName": "up", "aggregationPeriod": "60s",
                      "customInlineTemplate": "job=\"${scope}\"", "groupByFields": ["pod"]},
            "analysisConfigurations": {"canary": {"direction": "up", "nanStrategy": "none",
                "outliers": {"strategy": "drop"}, "effectSize": {"measure": "median"}},
                "other": {}}
        }],
        "classifier": {"groupWeights": {"g": 60, "unused": 40}}
    });
    let imported = import_kayenta(&config.to_string(), &ImportOptions::default()).unwrap();
    parse_template(&imported.yaml, "w").expect("parses");
    let fields: Vec<&str> = imported.warnings.iter().map(|w| w.field.as_str()).collect();
    for expected in [
        "judge.name",
        "judge.judgeConfigurations",
        "services",
        "metrics[0].scopeName",
        "metrics[0].query.aggregationPeriod",
        "metrics[0].query.groupByFields",
        "metrics[0].analysisConfigurations.other",
        "metrics[0].analysisConfigurations.canary.direction",
        "metrics[0].analysisConfigurations.canary.nanStrategy",
        "metrics[0].analysisConfigurations.canary.outliers.strategy",
        "metrics[0].analysisConfigurations.canary.effectSize.measure",
        "classifier.groupWeights.unused",
        "classifier.groupWeights",
        "classifier.scoreThresholds",
    ] {
        assert_eq!(
            fields.iter().filter(|f| **f == expected).count(),
            1,
            "one warning at {expected}: {fields:?}"
        );
    }
    assert_eq!(fields.len(), 14, "{fields:?}");
    for w in imported
        .warnings
        .iter()
        .filter(|w| w.field.starts_with("metrics[0]"))
    {
        assert_eq!(w.metric.as_deref(), Some("m"), "{w}");
    }
    // The weight of the group in use is scaled to 100 now that `unused` is gone.
    let t = parse_template(&imported.yaml, "w").unwrap();
    assert_eq!(t.groups.len(), 1);
    assert_eq!(t.groups[0].weight, 100.0);
    assert_eq!(t.metrics[0].query, "avg(up{job=\"${scope}\"}) by (pod)");
}

#[test]
fn what_cannot_be_translated_is_an_error_naming_metric_and_field() {
    let issues = errors(&read("own-malformed.json"));
    let found: Vec<(Option<&str>, &str)> = issues
        .iter()
        .map(|i| (i.metric.as_deref(), i.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Some("m1"), "metrics[0].query.type"),
            (Some("m2"), "metrics[1].query.customFilterTemplate"),
            (
                Some("m3"),
                "metrics[2].analysisConfigurations.canary.critical"
            ),
        ]
    );
    // Not JSON, and not an object.
    let e = import_kayenta("{\"name\": ", &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, KayentaError::Json { line: 1, .. }), "{e}");
    assert_eq!(errors("[1, 2]")[0].field, "(document)");
    // Mixed backends cannot share one template.
    let mixed = json!({"name": "x", "metrics": [
        {"name": "a", "query": {"type": "graphite", "metricName": "a.$scope"}},
        {"name": "b", "query": {"type": "datadog", "metricName": "b"}}]});
    let issues = errors(&mixed.to_string());
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].metric.as_deref(), Some("b"));
    assert!(issues[0].message.contains("metric 'a'"));
    // A placeholder canaryd cannot name, and what Kayenta's InfluxDB builder does not take.
    for (kind, template) in [
        ("prometheus", "v=\"${scope}\",ns=\"${my.ns}\""),
        (
            "influxdb",
            "SELECT v FROM m WHERE ${scope} AND ${timeFilter} AND x = '${region}'",
        ),
        (
            "influxdb",
            "SELECT v FROM m WHERE ${scope} AND ${timeFilter}; DROP DATABASE d",
        ),
        ("influxdb", "SELECT v FROM m WHERE ${scope}"),
    ] {
        let bad = json!({"name": "x", "metrics": [{"name": "a",
            "query": {"type": kind, "metricName": "m", "customInlineTemplate": template}}]});
        let issues = errors(&bad.to_string());
        assert_eq!(issues.len(), 1, "{template}: {issues:?}");
        assert_eq!(issues[0].metric.as_deref(), Some("a"));
        assert_eq!(
            issues[0].field, "metrics[0].query.customInlineTemplate",
            "{template}"
        );
    }
}

// ----- the CLI -----

fn canaryd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the canaryd binary runs")
}

#[test]
fn cli_prints_the_template_and_one_warning_per_field() {
    let path = fixture("own-prometheus-full.json");
    let out = canaryd(&[
        "template",
        "import-kayenta",
        path.to_str().unwrap(),
        "--name",
        "checkout",
        "--source",
        "prom-eu",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let t = parse_template(&yaml, "stdout").expect("stdout is a template");
    assert_eq!(t.name, "checkout");
    assert_eq!(t.source, "prom-eu");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    // The name is given, so only the groups and the location warn.
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines.iter().all(|l| l.starts_with("warning: ")));
    assert!(
        stderr.contains("metric 'p99_latency': metrics[0].groups:"),
        "{stderr}"
    );

    // The stored YAML checks with `canaryd template check` too.
    let dir = Scratch::new("kayenta-cli");
    let file = dir.file("checkout.yaml", &yaml);
    let check = canaryd(&["template", "check", file.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn cli_exits_1_with_every_error() {
    let out = canaryd(&[
        "template",
        "import-kayenta",
        fixture("own-malformed.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no template on stdout");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("metric 'm1': metrics[0].query.type: Kayenta backend 'stackdriver'"),
        "{stderr}"
    );
    assert!(stderr.contains("metric 'm3': metrics[2].analysisConfigurations.canary.critical"));
    assert!(stderr.contains("3 problem(s)"));
    let missing = canaryd(&["template", "import-kayenta", "no/such/file.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.json"));
}

// ----- the API -----

async fn put_json(app: &TestApp, name: &str, body: &str) -> (u16, Value) {
    let r = app
        .client
        .put(app.at(&format!("/api/v1/templates/{name}")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    read_response(r).await
}

#[tokio::test]
async fn put_accepts_a_kayenta_config_and_stores_its_translation() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, body) = put_json(&app, "cpu", &read("prometheus-integration-test-cpu.json")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "cpu");
    assert_eq!(body["version"], 1);
    let warnings = body["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["metric"], "CPU usage for service");
    assert_eq!(warnings[0]["field"], "metrics[0].name");

    let (status, stored) = app.get("/api/v1/templates/cpu").await;
    assert_eq!(status, 200);
    let t = &stored["template"];
    assert_eq!(t["name"], "cpu");
    assert_eq!(
        t["metrics"][0]["query"],
        "avg(integration_test_cpu{namespace='${namespace}', scope='${scope}'})"
    );
    assert_eq!(t["metrics"][0]["judge"]["test"], "kayenta");
    assert!(stored["source"].as_str().unwrap().contains("test: kayenta"));

    // The same config again: nothing new.
    let (status, body) = put_json(&app, "cpu", &read("prometheus-integration-test-cpu.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], false);
    app.stop().await;
}

#[tokio::test]
async fn put_of_an_untranslatable_kayenta_config_stores_nothing() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, body) = put_json(&app, "broken", &read("own-malformed.json")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_template");
    assert_eq!(body["error"]["path"], "metrics[0].query.type");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("metric 'm1'") && message.contains("metric 'm3'"),
        "{message}"
    );
    let (status, _) = app.get("/api/v1/templates/broken").await;
    assert_eq!(status, 404, "nothing stored");

    // A canaryd template as JSON is still taken as it is.
    let template =
        json!({"name": "plain", "metrics": [{"name": "m", "query": "up{v=\"${scope}\"}"}]});
    let (status, body) = put_json(&app, "plain", &template.to_string()).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("warnings").is_none());
    app.stop().await;
}
