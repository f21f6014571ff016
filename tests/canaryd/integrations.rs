//! The pipeline integrations in `integrations/` (issue 4), parsed and then used the way Flagger,
//! Argo Rollouts and GitHub Actions would use them, against canaryd running in this process on
//! the shared Prometheus fixture:
//!
//! * the Flagger Canary: its webhooks' metadata is posted as Flagger posts it, to the paths of
//!   the webhooks' URLs;
//! * the Argo AnalysisTemplate: its `web` metric's URL and headers, with `{{args.*}}` resolved
//!   (the token from the Secret the template names), are requested, and its success and failure
//!   conditions are evaluated on the answer;
//! * the GitHub Actions workflow: the judge step's script is run with bash, its exit status
//!   checked.
//!
//! Each gets a pass, a marginal and a fail canary. The fixture has no podinfo series, so the
//! tests replace the scopes (and the window, the fixture lying in 2023) with the fixture's and
//! store, under the name the files use, a template on the fixture series that declares the
//! arguments the files pass. Every file is also sent once as written: canaryd must accept every
//! parameter (no 400), and judge "no data" a fail. The README shows each file; a test checks
//! that it shows it exactly.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::{self, Scratch, T0};

const FLAGGER: &str = "integrations/flagger/canary.yaml";
const ARGO: &str = "integrations/argo/analysis-template.yaml";
const GITHUB: &str = "integrations/github/canary-gate.yml";

/// The template name every integration uses.
const TEMPLATE: &str = "http-golden-signals";

fn read(path: &str) -> String {
    std::fs::read_to_string(support::repo_root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The one YAML document of `path`.
fn load(path: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document expected");
    docs.remove(0)
}

fn text<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {y:?}"))
}

fn list<'a>(y: &'a Yaml, what: &str) -> &'a [Yaml] {
    y.as_vec()
        .unwrap_or_else(|| panic!("{what}: expected a list, got {y:?}"))
}

/// A mapping of strings to strings (Flagger metadata, workflow env): every value must be a
/// YAML string, as Kubernetes and GitHub require.
fn string_map(y: &Yaml, what: &str) -> BTreeMap<String, String> {
    y.as_hash()
        .unwrap_or_else(|| panic!("{what}: expected a mapping, got {y:?}"))
        .iter()
        .map(|(k, v)| {
            let k = text(k, what).to_string();
            let v = text(v, &format!("{what}.{k} (quote numbers)")).to_string();
            (k, v)
        })
        .collect()
}

/// "5m", "30s", "1h" in seconds.
fn duration_seconds(s: &str) -> u64 {
    let (n, unit) = s.split_at(s.len() - 1);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {s}"));
    match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => panic!("duration {s}"),
    }
}

/// The args the shipped template declares: name -> has a default.
fn shipped_template_args() -> BTreeMap<String, bool> {
    let t = load(&format!("analysis-templates/{TEMPLATE}.yaml"));
    t["args"]
        .as_hash()
        .expect("args")
        .iter()
        .map(|(k, v)| {
            (
                text(k, "arg").to_string(),
                !v["default"].is_badvalue() && !v["default"].is_null(),
            )
        })
        .collect()
}

/// Checks that `given` names exactly the shipped template's arguments that have no default,
/// plus only arguments it declares.
fn assert_args_fit_the_shipped_template(given: &[String], file: &str) {
    let declared = shipped_template_args();
    for name in given {
        assert!(
            declared.contains_key(name),
            "{file} passes arg {name}, which {TEMPLATE} does not declare"
        );
    }
    for (name, has_default) in &declared {
        assert!(
            *has_default || given.contains(name),
            "{file} does not pass {name}, which {TEMPLATE} requires"
        );
    }
}

/// A template on the fixture series, stored under the integrations' template name. It declares
/// both arguments the integrations pass, without defaults, so a missing one is a 400 and an
/// unknown one too. Two metrics on the same series: one flags any change (`either`, weight
/// 20), one only an increase (weight 80). So, with the fixture's canary 25% slower:
/// baseline vs baseline passes (100), canary vs baseline is marginal (faster: only `either`
/// flags it, 80) and baseline vs canary fails (0).
fn fixture_template() -> Value {
    json!({
        "name": TEMPLATE,
        "description": "the integrations' template, on the fixture series",
        "args": {"service": {}, "namespace": {}},
        "step_seconds": 10,
        "groups": {"any_change": 20, "slower": 80},
        "metrics": [
            {
                "name": "latency_any_change",
                "group": "any_change",
                "query": "latency_seconds{version=\"${scope}\"}",
                "judge": {"test": "mann-whitney", "direction": "either"}
            },
            {
                "name": "latency_slower",
                "group": "slower",
                "query": "latency_seconds{version=\"${scope}\"}",
                "judge": {"test": "mann-whitney", "direction": "increase"}
            }
        ]
    })
}

/// (baseline scope, canary scope, verdict) on the fixture.
const CASES: [(&str, &str, &str); 3] = [
    ("baseline", "baseline", "pass"),
    ("canary", "baseline", "marginal"),
    ("baseline", "canary", "fail"),
];

fn with_prometheus(s: &mut canaryd::config::Settings) {
    let source = s.sources.get_mut("prometheus").expect("default source");
    source.url = support::prometheus().url.clone();
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn add_token(
    s: &mut canaryd::config::Settings,
    name: &str,
    token: &str,
    role: canaryd::config::Role,
) {
    s.auth.tokens.push(canaryd::config::TokenSettings {
        name: name.into(),
        token_sha256: sha256_hex(token),
        role,
    });
}

const ADMIN_TOKEN: &str = "integrations-admin-token";

async fn put_fixture_template(app: &TestApp, admin_token: Option<&str>) {
    let mut r = app
        .client
        .put(app.at(&format!("/api/v1/templates/{TEMPLATE}")))
        .header("content-type", "application/json")
        .body(fixture_template().to_string());
    if let Some(t) = admin_token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.expect("PUT template");
    let status = r.status().as_u16();
    assert!(
        status == 201 || status == 200,
        "PUT {TEMPLATE}: {status} {}",
        r.text().await.unwrap_or_default()
    );
}

fn url(s: &str) -> reqwest::Url {
    reqwest::Url::parse(s).unwrap_or_else(|e| panic!("{s} is not a URL: {e}"))
}

/// Checks that a URL in a file points at the in-cluster canaryd Service.
fn assert_canaryd_service(u: &reqwest::Url, file: &str) {
    assert_eq!(
        (u.scheme(), u.host_str(), u.port()),
        ("http", Some("canaryd.canaryd.svc"), Some(8080)),
        "{file}: {u}"
    );
}

// ---------------------------------------------------------------------------------------------
// Flagger

/// The Canary's webhooks by type: (url, metadata).
fn flagger_webhooks() -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let canary = load(FLAGGER);
    let mut hooks = BTreeMap::new();
    for hook in list(&canary["spec"]["analysis"]["webhooks"], "webhooks") {
        let kind = text(&hook["type"], "webhook type").to_string();
        let url = text(&hook["url"], "webhook url").to_string();
        text(&hook["name"], "webhook name");
        let timeout = duration_seconds(text(&hook["timeout"], "webhook timeout"));
        assert!(
            (10..=60).contains(&timeout),
            "{FLAGGER}: a judgment can take more than Flagger's default 10 s"
        );
        let metadata = string_map(&hook["metadata"], "webhook metadata");
        assert!(hooks.insert(kind, (url, metadata)).is_none());
    }
    hooks
}

#[test]
fn flagger_canary_has_the_shape_flagger_expects() {
    let canary = load(FLAGGER);
    assert_eq!(
        text(&canary["apiVersion"], "apiVersion"),
        "flagger.app/v1beta1"
    );
    assert_eq!(text(&canary["kind"], "kind"), "Canary");
    let name = text(&canary["metadata"]["name"], "metadata.name");
    text(&canary["metadata"]["namespace"], "metadata.namespace");
    let target = &canary["spec"]["targetRef"];
    assert_eq!(text(&target["kind"], "targetRef.kind"), "Deployment");
    assert_eq!(text(&target["name"], "targetRef.name"), name);
    let analysis = &canary["spec"]["analysis"];
    let interval = duration_seconds(text(&analysis["interval"], "analysis.interval"));
    for key in ["threshold", "stepWeight", "maxWeight"] {
        assert!(analysis[key].as_i64().is_some(), "analysis.{key}");
    }

    let hooks = flagger_webhooks();
    let kinds: Vec<&str> = hooks.keys().map(String::as_str).collect();
    assert_eq!(kinds, ["rollback", "rollout"]);
    let (rollout_url, rollout_meta) = &hooks["rollout"];
    let (rollback_url, rollback_meta) = &hooks["rollback"];
    let (rollout_url, rollback_url) = (url(rollout_url), url(rollback_url));
    assert_canaryd_service(&rollout_url, FLAGGER);
    assert_canaryd_service(&rollback_url, FLAGGER);
    assert_eq!(rollout_url.path(), "/api/v1/gates/flagger");
    assert_eq!(rollback_url.path(), "/api/v1/gates/flagger/rollback");
    assert_eq!(
        rollout_meta, rollback_meta,
        "the same metadata: both hooks ask the same question"
    );

    let m = rollout_meta;
    assert_eq!(m["template"], TEMPLATE);
    assert_eq!(
        m["baseline"],
        format!("{name}-primary"),
        "Flagger's primary"
    );
    assert_eq!(
        m["canary"], name,
        "the canary's pods keep the target's name"
    );
    let window: u64 = m["window_minutes"].parse().expect("window_minutes");
    assert!(
        window * 60 < interval,
        "window_minutes must stay below the interval: canaryd reuses a judgment for one \
         window, and each iteration should get its own"
    );
    let args: Vec<String> = m
        .keys()
        .filter_map(|k| k.strip_prefix("arg.").map(str::to_string))
        .collect();
    assert_args_fit_the_shipped_template(&args, FLAGGER);
    // No token field: Flagger cannot send one, and canaryd reads none from metadata.
    assert!(m.keys().all(|k| !k.contains("token")));
}

/// What Flagger posts: `{name, namespace, phase, checksum, metadata}`.
fn flagger_payload(checksum: &str, metadata: &BTreeMap<String, String>) -> Value {
    let canary = load(FLAGGER);
    json!({
        "name": text(&canary["metadata"]["name"], "name"),
        "namespace": text(&canary["metadata"]["namespace"], "namespace"),
        "phase": "Progressing",
        "checksum": checksum,
        "metadata": metadata,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flagger_webhooks_gate_a_canary_as_flagger_calls_them() {
    // No token: the Canary's hooks cannot send one (see the file's comment).
    let app = spawn_app(Db::Sqlite, with_prometheus).await;
    put_fixture_template(&app, None).await;
    let hooks = flagger_webhooks();
    let (rollout_url, metadata) = &hooks["rollout"];
    let rollout_path = url(rollout_url).path().to_string();
    let rollback_path = url(&hooks["rollback"].0).path().to_string();

    for (i, (baseline, canary, verdict)) in CASES.iter().enumerate() {
        let mut m = metadata.clone();
        m.insert("baseline".into(), baseline.to_string());
        m.insert("canary".into(), canary.to_string());
        assert!(m.remove("window_minutes").is_some());
        m.insert("start".into(), T0.to_string());
        m.insert("end".into(), (T0 + 600).to_string());
        let payload = flagger_payload(&format!("rev{i}"), &m);

        // The rollback hook first, as Flagger runs it before the rollout hooks.
        let (status, report) = app.post(&rollback_path, &payload).await;
        assert_eq!(
            status,
            if *verdict == "fail" { 200 } else { 412 },
            "{report}"
        );
        assert_eq!(report["verdict"], *verdict, "{report}");

        let (status, rollout) = app.post(&rollout_path, &payload).await;
        assert_eq!(
            status,
            if *verdict == "pass" { 200 } else { 412 },
            "{rollout}"
        );
        assert_eq!(rollout["verdict"], *verdict);
        assert_ne!(
            rollout["id"], report["id"],
            "another hook is another question: a judgment of its own"
        );
        // Flagger's retry of the same hook reuses its judgment.
        let (_, again) = app.post(&rollout_path, &payload).await;
        assert_eq!(again["id"], rollout["id"]);
        assert_eq!(again["reused"], true);

        // The file's arguments reached the judgment.
        let (_, stored) = app
            .get(&format!(
                "/api/v1/judgments/{}",
                report["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(stored["input"]["gate"], "flagger", "{stored}");
        for (k, v) in &m {
            if let Some(arg) = k.strip_prefix("arg.") {
                assert_eq!(stored["input"]["args"][arg], v.as_str(), "{stored}");
            }
        }
    }

    // The metadata exactly as written: every key is accepted (no 400); the fixture has no
    // podinfo series, so the judgment has no data, which never passes, and never rolls back.
    let payload = flagger_payload("as-written", metadata);
    let (status, report) = app.post(&rollout_path, &payload).await;
    assert_eq!(status, 412, "{report}");
    assert_eq!(report["verdict"], "fail", "{report}");
    let (status, report) = app.post(&rollback_path, &payload).await;
    assert_eq!(
        status, 412,
        "no data is a fail, but no regression: keep. {report}"
    );
    app.stop().await;
}

/// The sequence Flagger really follows (fluxcd/flagger `pkg/controller/scheduler.go`): the
/// rollback hook on every tick from weight 0, when the canary has no series yet, then the
/// rollout hook; later the canary's data arrives, and a regression rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flagger_rolls_back_on_a_regression_never_on_missing_canary_data() {
    let app = spawn_app(Db::Sqlite, with_prometheus).await;
    put_fixture_template(&app, None).await;
    let hooks = flagger_webhooks();
    let rollout_path = url(&hooks["rollout"].0).path().to_string();
    let rollback_path = url(&hooks["rollback"].0).path().to_string();
    let tick = |canary: &str, checksum: &str| {
        let mut m = hooks["rollout"].1.clone();
        m.remove("window_minutes");
        m.insert("baseline".into(), "baseline".into());
        m.insert("canary".into(), canary.into());
        m.insert("start".into(), T0.to_string());
        m.insert("end".into(), (T0 + 600).to_string());
        flagger_payload(checksum, &m)
    };
    // Weight 0: no canary series at all.
    let first = tick("no-such-version", "rev1");
    let (status, report) = app.post(&rollback_path, &first).await;
    assert_eq!(
        status, 412,
        "no canary data is not a regression: keep. {report}"
    );
    assert_eq!(report["verdict"], "fail", "{report}");
    let (status, report) = app.post(&rollout_path, &first).await;
    assert_eq!(status, 412, "and no promotion either: {report}");
    // The canary's data arrives, and it regressed.
    let regressed = CASES
        .iter()
        .find(|(_, _, verdict)| *verdict == "fail")
        .expect("a failing case");
    let later = tick(regressed.1, "rev1");
    let (status, summary) = app.post(&rollback_path, &later).await;
    assert_eq!(status, 200, "a regression: roll back now. {summary}");
    let (_, report) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            summary["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        report["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["classification"] == "high"),
        "{report}"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Argo Rollouts

/// Replaces `{{args.NAME}}` and `{{ args.NAME }}` as Argo does.
fn argo_substitute(s: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for (name, value) in args {
        out = out
            .replace(&format!("{{{{args.{name}}}}}"), value)
            .replace(&format!("{{{{ args.{name} }}}}"), value);
    }
    assert!(!out.contains("{{"), "unresolved argument in {out}");
    out
}

/// The measurement's phase for `result`, by the metric's conditions: Argo's rule (success
/// wins; neither is Inconclusive when both conditions are set).
fn argo_phase(success: &str, failure: &str, result: &Value) -> &'static str {
    if eval_condition(success, result) {
        "Successful"
    } else if eval_condition(failure, result) {
        "Failed"
    } else {
        "Inconclusive"
    }
}

/// A tiny evaluator for the conditions the template uses: `result.a.b == "x"` or `!=`.
fn eval_condition(expr: &str, result: &Value) -> bool {
    let (lhs, op, rhs) = if let Some((l, r)) = expr.split_once("==") {
        (l, "==", r)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, "!=", r)
    } else {
        panic!("condition {expr:?}: this test evaluates only `result.PATH == \"TEXT\"`")
    };
    let path = lhs
        .trim()
        .strip_prefix("result")
        .unwrap_or_else(|| panic!("condition {expr:?} must start with result"));
    let mut v = result;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        v = &v[part];
    }
    let literal = rhs.trim();
    let literal = literal
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("condition {expr:?}: compare with a quoted string"));
    let equal = v.as_str() == Some(literal);
    if op == "==" {
        equal
    } else {
        !equal
    }
}

struct ArgoMetric {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    json_path: String,
    success: String,
    failure: String,
}

/// The template's web metric with its args resolved: `given` are what the Rollout passes,
/// `secrets` the Kubernetes Secrets by (name, key).
fn argo_metric(given: &BTreeMap<&str, &str>, secrets: &BTreeMap<(&str, &str), &str>) -> ArgoMetric {
    let t = load(ARGO);
    let mut args = BTreeMap::new();
    for arg in list(&t["spec"]["args"], "spec.args") {
        let name = text(&arg["name"], "arg name");
        let value = if let Some(v) = given.get(name) {
            v.to_string()
        } else if let Some(v) = arg["value"].as_str() {
            v.to_string()
        } else {
            let r = &arg["valueFrom"]["secretKeyRef"];
            let key = (
                text(&r["name"], "secret name"),
                text(&r["key"], "secret key"),
            );
            secrets
                .get(&key)
                .unwrap_or_else(|| panic!("arg {name}: no value, default or secret"))
                .to_string()
        };
        args.insert(name.to_string(), value);
    }
    let metric = &list(&t["spec"]["metrics"], "metrics")[0];
    let web = &metric["provider"]["web"];
    let headers = list(&web["headers"], "headers")
        .iter()
        .map(|h| {
            (
                text(&h["key"], "header key").to_string(),
                argo_substitute(text(&h["value"], "header value"), &args),
            )
        })
        .collect();
    ArgoMetric {
        method: web["method"].as_str().unwrap_or("GET").to_string(),
        url: argo_substitute(text(&web["url"], "url"), &args),
        headers,
        json_path: text(&web["jsonPath"], "jsonPath").to_string(),
        success: text(&metric["successCondition"], "successCondition").to_string(),
        failure: text(&metric["failureCondition"], "failureCondition").to_string(),
    }
}

#[test]
fn argo_analysis_template_has_the_shape_argo_expects() {
    let t = load(ARGO);
    assert_eq!(text(&t["apiVersion"], "apiVersion"), "argoproj.io/v1alpha1");
    assert_eq!(text(&t["kind"], "kind"), "AnalysisTemplate");
    text(&t["metadata"]["name"], "metadata.name");
    let metrics = list(&t["spec"]["metrics"], "metrics");
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    text(&m["name"], "metric name");
    let interval = duration_seconds(text(&m["interval"], "interval"));
    duration_seconds(text(&m["initialDelay"], "initialDelay"));
    for key in ["count", "failureLimit", "inconclusiveLimit"] {
        assert!(m[key].as_i64().is_some(), "metric.{key}");
    }
    assert_eq!(
        text(&m["successCondition"], "s"),
        r#"result.verdict == "pass""#
    );
    assert_eq!(
        text(&m["failureCondition"], "f"),
        r#"result.verdict == "fail""#
    );
    let web = &m["provider"]["web"];
    assert_eq!(
        text(&web["jsonPath"], "jsonPath"),
        "{$.summary}",
        "the summary is `result`: Argo stores it in every measurement (argo-rollouts#2196)"
    );
    let timeout = web["timeoutSeconds"].as_i64().expect("timeoutSeconds");
    assert!(
        timeout > 10,
        "a judgment can take more than Argo's default 10 s"
    );

    // The token comes from a Secret through an arg, the only way Argo puts a secret in a header.
    let token_arg = list(&t["spec"]["args"], "args")
        .iter()
        .find(|a| !a["valueFrom"]["secretKeyRef"].is_badvalue())
        .expect("an arg from a Secret");
    let token_name = text(&token_arg["name"], "arg name");
    let headers = list(&web["headers"], "headers");
    assert!(headers
        .iter()
        .any(|h| h["key"].as_str() == Some("Authorization")
            && h["value"].as_str() == Some(&format!("Bearer {{{{args.{token_name}}}}}"))));

    // Every arg the URL uses is declared; the canaryd parameters are known ones.
    let declared: Vec<&str> = list(&t["spec"]["args"], "args")
        .iter()
        .map(|a| text(&a["name"], "arg name"))
        .collect();
    let raw = text(&web["url"], "url");
    for part in raw.split("{{").skip(1) {
        let name = part.split("}}").next().unwrap().trim();
        let name = name.strip_prefix("args.").expect("only args are used");
        assert!(declared.contains(&name), "{name} is not declared");
    }
    let u = url(&raw.replace("{{", "").replace("}}", ""));
    assert_canaryd_service(&u, ARGO);
    assert_eq!(u.path(), "/api/v1/gates/argo");
    let params: BTreeMap<String, String> = u.query_pairs().into_owned().collect();
    assert_eq!(params["template"], TEMPLATE);
    let window: u64 = params["window_minutes"].parse().expect("window_minutes");
    assert_eq!(
        window * 60,
        interval,
        "each measurement judges the interval before it"
    );
    let args: Vec<String> = params
        .keys()
        .filter_map(|k| k.strip_prefix("arg.").map(str::to_string))
        .collect();
    assert_args_fit_the_shipped_template(&args, ARGO);
}

const ARGO_TOKEN: &str = "argo-judge-token";

/// Performs the measurement: the request Argo makes, then the result's phase.
async fn argo_measure(
    app: &TestApp,
    metric: &ArgoMetric,
    window: Option<(i64, i64)>,
) -> (u16, Value, &'static str) {
    let u = url(&metric.url);
    let mut pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    if let Some((start, end)) = window {
        // The fixture lies in 2023: a fixed window instead of "the last N minutes".
        pairs.retain(|(k, _)| k != "window_minutes");
        pairs.push(("start".into(), start.to_string()));
        pairs.push(("end".into(), end.to_string()));
    }
    let query = serde_urlencoded_pairs(&pairs);
    let target = app.at(&format!("{}?{query}", u.path()));
    assert_eq!(metric.method, "GET");
    let mut r = app.client.get(target);
    for (k, v) in &metric.headers {
        r = r.header(k, v);
    }
    let (status, body) = crate::support::app::read(r.send().await.expect("request")).await;
    // What Argo keeps: the jsonPath result, stored in the AnalysisRun for every measurement.
    assert_eq!(metric.json_path, "{$.summary}");
    let phase = if status == 200 {
        let result = &body["summary"];
        assert!(
            result.to_string().len() < 500,
            "a measurement stays small: {result}"
        );
        for key in ["verdict", "score", "headline", "id", "url"] {
            assert!(!result[key].is_null(), "summary.{key}: {result}");
        }
        assert_eq!(result["verdict"], body["verdict"]);
        argo_phase(&metric.success, &metric.failure, result)
    } else {
        "Error"
    };
    (status, body, phase)
}

fn serde_urlencoded_pairs(pairs: &[(String, String)]) -> String {
    let mut u = reqwest::Url::parse("http://x/").unwrap();
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_web_metric_measures_a_canary_as_argo_does() {
    let app = spawn_app(Db::Sqlite, |s| {
        with_prometheus(s);
        add_token(s, "argo", ARGO_TOKEN, canaryd::config::Role::Judge);
        add_token(s, "admin", ADMIN_TOKEN, canaryd::config::Role::Admin);
    })
    .await;
    put_fixture_template(&app, Some(ADMIN_TOKEN)).await;
    let secrets = BTreeMap::from([(("canaryd", "token"), ARGO_TOKEN)]);

    for (baseline, canary, verdict) in CASES {
        let given = BTreeMap::from([
            ("stable-hash", baseline),
            ("canary-hash", canary),
            ("service", "checkout"),
        ]);
        let metric = argo_metric(&given, &secrets);
        let (status, report, phase) = argo_measure(&app, &metric, Some((T0, T0 + 600))).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["verdict"], verdict, "{report}");
        let expected = match verdict {
            "pass" => "Successful",
            "fail" => "Failed",
            _ => "Inconclusive",
        };
        assert_eq!(phase, expected, "{verdict}");
        let r = app
            .client
            .get(app.at(&format!(
                "/api/v1/judgments/{}",
                report["id"].as_str().unwrap()
            )))
            .bearer_auth(ARGO_TOKEN)
            .send()
            .await
            .expect("get");
        let (_, stored) = crate::support::app::read(r).await;
        assert_eq!(stored["input"]["args"]["service"], "checkout", "{stored}");
        assert_eq!(
            stored["input"]["args"]["namespace"], "default",
            "the file's default"
        );
    }

    // As written (a window ending now): accepted, and no data is a fail.
    let given = BTreeMap::from([
        ("stable-hash", "6b9d8c7f5"),
        ("canary-hash", "7c4f9b8d6"),
        ("service", "checkout"),
    ]);
    let metric = argo_metric(&given, &secrets);
    let (status, report, phase) = argo_measure(&app, &metric, None).await;
    assert_eq!((status, phase), (200, "Failed"), "{report}");

    // Without the Secret's token: a 401, which Argo records as an Error measurement.
    let wrong = BTreeMap::from([(("canaryd", "token"), "not-the-token")]);
    let metric = argo_metric(&given, &wrong);
    let (status, _, phase) = argo_measure(&app, &metric, Some((T0, T0 + 600))).await;
    assert_eq!((status, phase), (401, "Error"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

/// The workflow's step that calls canaryd.
fn github_judge_step() -> Yaml {
    let w = load(GITHUB);
    let jobs = w["jobs"].as_hash().expect("jobs");
    let mut found = Vec::new();
    for (_, job) in jobs {
        for step in job["steps"].as_vec().into_iter().flatten() {
            if step["run"].as_str().is_some_and(|r| r.contains("/api/v1/")) {
                found.push(step.clone());
            }
        }
    }
    assert_eq!(found.len(), 1, "one step calls canaryd");
    found.remove(0)
}

#[test]
fn github_workflow_has_the_shape_actions_expects() {
    let w = load(GITHUB);
    text(&w["name"], "name");
    // YAML 1.2 (and GitHub): `on` is a key, not a boolean.
    let on = &w["on"];
    let call = &on["workflow_call"]["inputs"];
    let dispatch = &on["workflow_dispatch"]["inputs"];
    assert_eq!(call, dispatch, "both triggers take the same inputs");
    assert!(on["workflow_call"]["secrets"]["CANARYD_TOKEN"]["required"]
        .as_bool()
        .unwrap());
    let inputs: Vec<&str> = call
        .as_hash()
        .expect("inputs")
        .keys()
        .map(|k| text(k, "input"))
        .collect();

    let step = github_judge_step();
    assert_eq!(text(&step["shell"], "shell"), "bash");
    let run = text(&step["run"], "run");
    assert!(
        !run.contains("${{"),
        "expressions go through env, not into the script (script injection)"
    );
    assert!(run.contains("/api/v1/judgments"));
    let env = string_map(&step["env"], "env");
    assert_eq!(env["CANARYD_TOKEN"], "${{ secrets.CANARYD_TOKEN }}");
    assert_eq!(env["TEMPLATE"], TEMPLATE);
    for (k, v) in &env {
        if let Some(input) = v
            .strip_prefix("${{ inputs.")
            .and_then(|v| v.strip_suffix(" }}"))
        {
            assert!(
                inputs.contains(&input),
                "env {k} uses undeclared input {input}"
            );
        }
    }
    // Every other job's script takes inputs through env too.
    for (_, job) in w["jobs"].as_hash().unwrap() {
        for step in job["steps"].as_vec().into_iter().flatten() {
            if let Some(run) = step["run"].as_str() {
                assert!(!run.contains("${{"), "{run}");
            }
        }
    }
    // promote needs judge; roll-back only on a fail verdict.
    assert_eq!(text(&w["jobs"]["promote"]["needs"], "needs"), "judge");
    assert!(text(&w["jobs"]["roll-back"]["if"], "if").contains("'fail'"));
    assert_args_fit_the_shipped_template(&["service".into(), "namespace".into()], GITHUB);
}

const GITHUB_TOKEN: &str = "github-judge-token";

/// Runs the judge step's script as the runner does (`bash --noprofile --norc -eo pipefail`),
/// with `inputs` and the secret in its env. Returns (exit status, stdout+stderr, GITHUB_OUTPUT).
async fn run_judge_step(
    canaryd_url: &str,
    scratch: &Scratch,
    inputs: &BTreeMap<&str, String>,
    token: &str,
) -> (i32, String, String) {
    let step = github_judge_step();
    let script = scratch.file("judge.sh", text(&step["run"], "run"));
    let output = scratch.file("output", "");
    let summary = scratch.file("summary", "");
    let mut cmd = tokio::process::Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script);
    for (k, v) in string_map(&step["env"], "env") {
        let value = match v.as_str() {
            "${{ vars.CANARYD_URL }}" => canaryd_url.to_string(),
            "${{ secrets.CANARYD_TOKEN }}" => token.to_string(),
            _ => match v
                .strip_prefix("${{ inputs.")
                .and_then(|v| v.strip_suffix(" }}"))
            {
                Some(input) => inputs.get(input).cloned().unwrap_or_default(),
                None => {
                    assert!(!v.contains("${{"), "{k}: the test does not know {v}");
                    v
                }
            },
        };
        cmd.env(k, value);
    }
    cmd.env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let out = cmd.output().await.expect("run bash");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = out.status.code().expect("exit status");
    let written = std::fs::read_to_string(&output).unwrap_or_default();
    let summary = std::fs::read_to_string(&summary).unwrap_or_default();
    if status != 1 {
        assert!(summary.contains("score"), "summary: {summary}\n{log}");
    }
    (status, log, written)
}

fn require_tools() {
    for tool in ["bash", "curl", "jq"] {
        support::require_binary(tool);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_judge_step_exits_like_canaryd_judge() {
    require_tools();
    let app = spawn_app(Db::Sqlite, |s| {
        with_prometheus(s);
        add_token(s, "github", GITHUB_TOKEN, canaryd::config::Role::Judge);
        add_token(s, "admin", ADMIN_TOKEN, canaryd::config::Role::Admin);
    })
    .await;
    put_fixture_template(&app, Some(ADMIN_TOKEN)).await;
    let scratch = Scratch::new("github-gate");
    let inputs = |baseline: &str, canary: &str, start: String, end: String| {
        BTreeMap::from([
            ("baseline", baseline.to_string()),
            ("canary", canary.to_string()),
            ("service", "checkout".to_string()),
            ("namespace", "default".to_string()),
            ("window_minutes", "30".to_string()),
            ("start", start),
            ("end", end),
        ])
    };

    for (baseline, canary, verdict) in CASES {
        let given = inputs(baseline, canary, T0.to_string(), (T0 + 600).to_string());
        let (status, log, output) = run_judge_step(&app.url, &scratch, &given, GITHUB_TOKEN).await;
        let expected = match verdict {
            "pass" => 0,
            "marginal" => 2,
            _ => 3,
        };
        assert_eq!(status, expected, "{verdict}:\n{log}");
        assert!(output.contains(&format!("verdict={verdict}\n")), "{output}");
        assert!(output.contains("judgment="), "{output}");
        assert!(log.contains(&verdict.to_uppercase()), "{log}");
    }

    // RFC 3339 times work as well as Unix seconds.
    let given = inputs(
        "baseline",
        "baseline",
        "2023-11-14T22:20:00Z".into(),
        "2023-11-14T22:30:00Z".into(),
    );
    let (status, log, _) = run_judge_step(&app.url, &scratch, &given, GITHUB_TOKEN).await;
    assert_eq!(status, 0, "{log}");

    // No start/end: the last window_minutes, ending now; the fixture has nothing there.
    let given = inputs("baseline", "baseline", String::new(), String::new());
    let (status, log, output) = run_judge_step(&app.url, &scratch, &given, GITHUB_TOKEN).await;
    assert_eq!(status, 3, "{log}");
    assert!(output.contains("verdict=fail"));

    // A bad token: no judgment (exit 1), and canaryd's reason in the log, not the token.
    let given = inputs("baseline", "canary", T0.to_string(), (T0 + 600).to_string());
    let (status, log, output) = run_judge_step(&app.url, &scratch, &given, "wrong-token").await;
    assert_eq!(status, 1, "{log}");
    assert!(
        log.contains("::error") && log.contains("unauthorized"),
        "{log}"
    );
    assert!(!output.contains("verdict="));

    // canaryd unreachable: exit 1 too.
    let url = app.url.clone();
    app.stop().await;
    let (status, log, _) = run_judge_step(&url, &scratch, &given, GITHUB_TOKEN).await;
    assert_eq!(status, 1, "{log}");
    assert!(log.contains("::error"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// The API surface the files use, and the README

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_and_parameter_the_files_use_is_in_the_openapi_document() {
    let mut used: Vec<(String, String)> = Vec::new();
    for (_, (u, _)) in flagger_webhooks() {
        used.push(("post".into(), url(&u).path().to_string()));
    }
    let argo = load(ARGO);
    let web = &argo["spec"]["metrics"][0]["provider"]["web"];
    let argo_url = url(&text(&web["url"], "url").replace("{{", "").replace("}}", ""));
    let method = web["method"].as_str().unwrap_or("GET").to_lowercase();
    used.push((method.clone(), argo_url.path().to_string()));
    let run = text(&github_judge_step()["run"], "run").to_string();
    assert!(run.contains("-X POST"));
    used.push(("post".into(), "/api/v1/judgments".into()));

    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    for (method, path) in &used {
        assert!(
            doc["paths"][path.as_str()][method.as_str()].is_object(),
            "{method} {path} is not in /openapi.json"
        );
    }
    // The Argo query parameters: documented ones, or arg.NAME.
    let documented: Vec<&str> = doc["paths"][argo_url.path()][method.as_str()]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for (k, _) in argo_url.query_pairs() {
        assert!(
            k.starts_with("arg.") || documented.contains(&k.as_ref()),
            "query parameter {k} is not documented"
        );
    }
    app.stop().await;
}

/// The fenced block that follows `<!-- PATH -->` in the README.
fn readme_block(readme: &str, path: &str) -> String {
    let marker = format!("<!-- {path} -->");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README lacks the marker {marker}"));
    let mut lines = readme[start + marker.len()..].lines().skip(1);
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "{marker} must be followed by a fenced block"
    );
    let mut block = String::new();
    for line in lines {
        if line == "```" {
            return block;
        }
        block.push_str(line);
        block.push('\n');
    }
    panic!("the block after {marker} is not closed")
}

#[test]
fn readme_shows_each_integration_file_exactly() {
    let readme = read("README.md");
    let section = "## Pipeline gates: Flagger, Argo Rollouts, GitHub Actions";
    let at = readme.find(section).expect("the README section");
    let layout = readme.find("## Layout").expect("## Layout");
    assert!(at < layout, "the section comes before ## Layout");
    for path in [FLAGGER, ARGO, GITHUB] {
        assert!(
            readme_block(&readme[at..layout], path) == read(path),
            "the README's copy of {path} differs from the file: copy the file into the block"
        );
    }
}

/// `scoring: {on_nodata: marginal}` (issue 13 item 2): too little canary traffic is "wait".
/// Argo reads marginal as Inconclusive (the rollout pauses); Flagger's rollout hook gets a
/// 412 (a failed check it retries), and its rollback hook never a 200. With enough data a
/// regression still fails and rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_canary_traffic_waits_where_the_template_says_so() {
    let app = spawn_app(Db::Sqlite, with_prometheus).await;
    let mut template = fixture_template();
    template["scoring"] = json!({"on_nodata": "marginal"});
    for m in template["metrics"].as_array_mut().unwrap() {
        m["judge"]["min_points"] = json!(30);
    }
    let r = app
        .client
        .put(app.at(&format!("/api/v1/templates/{TEMPLATE}")))
        .header("content-type", "application/json")
        .body(template.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let argo = |canary: &str, end: i64| {
        format!(
            "/api/v1/gates/argo?template={TEMPLATE}&baseline=baseline&canary={canary}\
             &start={T0}&end={end}&arg.service=s&arg.namespace=n"
        )
    };
    // No canary series at all, then 13 points of it (2 minutes at a 10 s step, under
    // min_points 30): marginal both times, never fail.
    for (canary, end) in [("no-such-version", T0 + 600), ("canary", T0 + 120)] {
        let (status, body) = app.get(&argo(canary, end)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["summary"]["verdict"], "marginal", "{canary}: {body}");
        assert_eq!(
            argo_phase(
                r#"result.verdict == "pass""#,
                r#"result.verdict == "fail""#,
                &body["summary"]
            ),
            "Inconclusive"
        );
    }
    let mut metadata: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("template", TEMPLATE.to_string()),
        ("baseline", "baseline".to_string()),
        ("canary", "no-such-version".to_string()),
        ("start", T0.to_string()),
        ("end", (T0 + 600).to_string()),
        ("arg.service", "s".to_string()),
        ("arg.namespace", "n".to_string()),
    ] {
        metadata.insert(k.into(), v);
    }
    let payload = flagger_payload("rev1", &metadata);
    let (status, summary) = app.post("/api/v1/gates/flagger", &payload).await;
    assert_eq!(status, 412, "{summary}");
    assert_eq!(summary["verdict"], "marginal");
    let (status, summary) = app.post("/api/v1/gates/flagger/rollback", &payload).await;
    assert_eq!(status, 412, "marginal never rolls back: {summary}");
    // Enough canary data, and it regressed: fail and roll back, as without the option.
    metadata.insert("canary".into(), "canary".into());
    let payload = flagger_payload("rev2", &metadata);
    let (status, summary) = app.post("/api/v1/gates/flagger/rollback", &payload).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["verdict"], "fail");
    app.stop().await;
}
