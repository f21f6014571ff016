//! Kayenta's REST API (issue 16 item 3) through HTTP on a spawned app and the real Prometheus:
//! canary config CRUD at `/canaryConfig`, the exact call sequence of Argo Rollouts' `kayenta`
//! provider (`metricproviders/kayenta/kayenta.go`: the config lookup by name, the POST with its
//! body, the GET polled for `complete` and `result.judgeResult.score.score`), giving the score of
//! `POST /api/v1/judgments` for the same window; auth; unknown ids in Kayenta's error shape.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::{self, T0};

crate::on_both!(
    canary_configs_round_trip,
    argo_call_sequence_gives_our_score,
    standalone_analysis_is_a_scheduled_analysis,
    adhoc_standalone_analysis_is_judged_and_not_stored_as_a_config,
    adhoc_standalone_bad_input_stores_nothing,
    execution_and_judgment_are_stored_together,
    influxdb_scope_tag_value_is_split,
);

/// A Kayenta canary config over the fixture series (`latency_seconds{version=...}`).
fn config(name: &str) -> Value {
    json!({
        "name": name,
        "description": "latency of the fixture series",
        "applications": ["shop"],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [{
            "name": "latency",
            "query": {
                "type": "prometheus",
                "metricName": "latency_seconds",
                "customInlineTemplate": "PromQL:latency_seconds{version=\"${scope}\"}"
            },
            "groups": ["latency"],
            "analysisConfigurations": {"canary": {"direction": "increase"}},
            "scopeName": "default"
        }],
        "classifier": {"groupWeights": {"latency": 100}},
        "templates": {}
    })
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn with_prometheus(s: &mut canaryd::config::Settings) {
    let source = s.sources.get_mut("prometheus").expect("default source");
    source.url = support::prometheus().url.clone();
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut r = app.client.request(method, app.at(path));
    if let Some(b) = body {
        r = r.json(b);
    }
    crate::support::app::read(r.send().await.expect("request")).await
}

async fn canary_configs_round_trip(db: Db) {
    use reqwest::Method;
    let app = spawn_app(db, |_| {}).await;
    let (status, list) = app.get("/canaryConfig").await;
    assert_eq!((status, list), (200, json!([])));

    let (status, made) = app.post("/canaryConfig", &config("checkout")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"]
        .as_str()
        .expect("canaryConfigId")
        .to_string();

    // The config as given, with Kayenta's id and timestamps.
    let (status, got) = app.get(&format!("/canaryConfig/{id}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], json!(id));
    assert_eq!(got["name"], "checkout");
    assert_eq!(got["metrics"], config("checkout")["metrics"]);
    assert!(got["updatedTimestamp"].is_i64(), "{got}");

    // The account query parameters Argo sends are ignored.
    let (status, list) = app
        .get("/canaryConfig?application=shop&configurationAccountName=my-account")
        .await;
    assert_eq!(status, 200);
    let entries = list.as_array().expect("a list");
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["id"], json!(id));
    assert_eq!(entries[0]["name"], "checkout");
    assert_eq!(entries[0]["applications"], json!(["shop"]));
    assert!(entries[0]["updatedTimestamp"].is_i64());
    assert!(entries[0]["updatedTimestampIso"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    // Stored as a canaryd template named by the id, translated.
    let (status, t) = app.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t["template"]["metrics"][0]["judge"]["test"], "kayenta",
        "{t}"
    );

    // PUT replaces it.
    let mut changed = config("checkout-v2");
    changed["description"] = json!("changed");
    let (status, put) = send(
        &app,
        Method::PUT,
        &format!("/canaryConfig/{id}"),
        Some(&changed),
    )
    .await;
    assert_eq!((status, &put["canaryConfigId"]), (200, &json!(id)), "{put}");
    let (_, got) = app.get(&format!("/canaryConfig/{id}")).await;
    assert_eq!(got["name"], "checkout-v2");
    let (_, t) = app.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(t["version"], 2);

    // A config given its own id keeps it; the same id again is refused.
    let mut own = config("own");
    own["id"] = json!("own-id");
    let (status, made) = app.post("/canaryConfig", &own).await;
    assert_eq!(
        (status, made["canaryConfigId"].clone()),
        (200, json!("own-id"))
    );
    let (status, e) = app.post("/canaryConfig", &own).await;
    assert_eq!(status, 400);
    assert_eq!(e["message"], "Canary config 'own-id' already exists.");

    // Bad configs: a clear message, nothing stored.
    let mut nameless = config("x");
    nameless.as_object_mut().unwrap().remove("name");
    let (status, e) = app.post("/canaryConfig", &nameless).await;
    assert_eq!(
        (status, e["message"].clone()),
        (400, json!("Canary config must specify a name."))
    );
    let mut unknown = config("unknown-backend");
    unknown["metrics"][0]["query"] = json!({"type": "stackdriver", "metricType": "x"});
    let (status, e) = app.post("/canaryConfig", &unknown).await;
    assert_eq!(status, 400, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("latency") && message.contains("metrics[0].query"),
        "{message}"
    );
    let (status, e) = send(
        &app,
        Method::PUT,
        &format!("/canaryConfig/{id}"),
        Some(&unknown),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (_, got) = app.get(&format!("/canaryConfig/{id}")).await;
    assert_eq!(got["name"], "checkout-v2", "a refused PUT stores nothing");
    let (_, list) = app.get("/canaryConfig").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // Unknown ids: Kayenta's 404 `{message}`, and its 400 for a PUT.
    let (status, e) = app.get("/canaryConfig/nope").await;
    assert_eq!(status, 404);
    assert_eq!(e["message"], "No canary config with id 'nope' was found.");
    let (status, e) = send(&app, Method::PUT, "/canaryConfig/nope", Some(&config("n"))).await;
    assert_eq!(
        (status, e["message"].clone()),
        (400, json!("Canary config 'nope' does not exist."))
    );
    let (status, _) = send(&app, Method::DELETE, "/canaryConfig/nope", None).await;
    assert_eq!(status, 404);
    let (status, e) = app.get("/canary/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        e["message"],
        "No canary execution with id 'nope' was found."
    );
    let (status, e) = app.post("/canary/nope", &json!({"scopes": {}})).await;
    assert_eq!(status, 404, "{e}");

    // DELETE: gone from the list and the lookup.
    let (status, _) = send(&app, Method::DELETE, &format!("/canaryConfig/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("/canaryConfig/{id}")).await;
    assert_eq!(status, 404);
    let (_, list) = app.get("/canaryConfig").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    app.stop().await;
}

fn rfc3339(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Argo's `AnalysisRequest` body, as `kayenta.go` marshals it.
fn argo_body(canary: &str) -> Value {
    json!({
        "scopes": {"default": {
            "controlScope": {"scope": "baseline", "location": "", "step": 10,
                "start": rfc3339(T0), "end": rfc3339(T0 + 600)},
            "experimentScope": {"scope": canary, "location": "", "step": 10,
                "start": rfc3339(T0), "end": rfc3339(T0 + 600)}
        }},
        "thresholds": {"pass": 90, "marginal": 75}
    })
}

/// What Argo does for one measurement: look the config up by name, POST, GET; the score.
async fn argo_measurement(app: &TestApp, config_name: &str, canary: &str) -> (Value, f64) {
    let (status, list) = app
        .get("/canaryConfig?application=shop&configurationAccountName=storage")
        .await;
    assert_eq!(status, 200, "{list}");
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == config_name)
        .and_then(|c| c["id"].as_str())
        .expect("config found by name")
        .to_string();
    let (status, job) = app
        .post(
            &format!(
                "/canary/{id}?application=shop&metricsAccountName=prom&configurationAccountName=storage&storageAccountName=storage"
            ),
            &argo_body(canary),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let execution = job["canaryExecutionId"]
        .as_str()
        .expect("canaryExecutionId")
        .to_string();
    assert!(!execution.is_empty());
    let (status, result) = app.get(&format!("/canary/{execution}")).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["complete"], true, "{result}");
    let score = result["result"]["judgeResult"]["score"]["score"]
        .as_f64()
        .expect("result.judgeResult.score.score");
    (result, score)
}

async fn argo_call_sequence_gives_our_score(db: Db) {
    let app = spawn_app(db, with_prometheus).await;
    let (status, made) = app.post("/canaryConfig", &config("checkout")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"].as_str().unwrap().to_string();

    let mut scores = Vec::new();
    for (canary, classification) in [("canary", "Fail"), ("baseline", "Pass")] {
        let (result, score) = argo_measurement(&app, "checkout", canary).await;
        assert_eq!(result["status"], "succeeded");
        assert_eq!(result["executionStatus"], "SUCCEEDED");
        assert_eq!(result["canaryConfigId"], json!(id));
        let judge = &result["result"]["judgeResult"];
        assert_eq!(judge["score"]["classification"], classification, "{result}");
        assert!(judge["score"]["classificationReason"].is_string());
        assert_eq!(judge["groupScores"][0]["name"], "latency");
        let metric = &judge["results"][0];
        assert_eq!(metric["name"], "latency");
        let expected = if canary == "canary" { "High" } else { "Pass" };
        assert_eq!(metric["classification"], expected, "{result}");
        assert!(metric["classificationReason"].is_string());
        assert_eq!(metric["controlMetadata"]["stats"]["count"], 61, "{result}");
        assert_eq!(metric["experimentMetadata"]["stats"]["count"], 61);
        assert!(result["canaryExecutionRequest"]["scopes"]["default"].is_object());

        // Our own API, same template, same window and step: the same score.
        let (status, ours) = app
            .post(
                "/api/v1/judgments",
                &json!({"template": id, "baseline": "baseline", "canary": canary,
                    "start": T0, "end": (T0 + 600).to_string(), "step_seconds": 10}),
            )
            .await;
        assert_eq!(status, 201, "{ours}");
        assert_eq!(ours["score"].as_f64(), Some(score), "{ours}");
        scores.push(score);
    }

    // The inline form, `POST /canary` with `{canaryConfig, executionRequest}`: the same score,
    // and the config it judged in the answer; no config is stored.
    let (status, job) = app
        .post(
            "/canary",
            &json!({"canaryConfig": config("inline"), "executionRequest": argo_body("canary")}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let execution = job["canaryExecutionId"].as_str().unwrap();
    let (status, result) = app.get(&format!("/canary/{execution}")).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        result["result"]["judgeResult"]["score"]["score"].as_f64(),
        Some(scores[0])
    );
    assert_eq!(result["config"]["name"], "inline");
    let (_, list) = app.get("/canaryConfig").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // A request canaryd cannot judge as asked says why.
    let mut two = argo_body("canary");
    two["scopes"]["other"] = two["scopes"]["default"].clone();
    let (status, e) = app.post(&format!("/canary/{id}"), &two).await;
    assert_eq!(status, 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("one scope per execution"),
        "{e}"
    );
    let mut windows = argo_body("canary");
    windows["scopes"]["default"]["experimentScope"]["start"] = json!(rfc3339(T0 + 60));
    let (status, e) = app.post(&format!("/canary/{id}"), &windows).await;
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("one window"), "{e}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kayenta_routes_need_tokens_of_the_right_role() {
    use reqwest::Method;
    let app = spawn_app(Db::Sqlite, |s| {
        for (name, token, role) in [
            ("viewer", "read-token-123", canaryd::config::Role::Read),
            ("argo", "judge-token-456", canaryd::config::Role::Judge),
            ("ops", "admin-token-789", canaryd::config::Role::Admin),
        ] {
            s.auth.tokens.push(canaryd::config::TokenSettings {
                name: name.into(),
                token_sha256: sha256_hex(token),
                role,
            });
        }
    })
    .await;
    let call =
        |method: Method, path: &str, token: Option<&str>, basic: bool, body: Option<Value>| {
            let mut r = app.client.request(method, app.at(path));
            match (token, basic) {
                (Some(t), false) => r = r.bearer_auth(t),
                // What Go's client sends for an address `http://argo:TOKEN@canaryd:8080`.
                (Some(t), true) => r = r.basic_auth("argo", Some(t)),
                (None, _) => {}
            }
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move { crate::support::app::read(r.send().await.unwrap()).await }
        };
    for (method, path) in [
        (Method::GET, "/canaryConfig"),
        (Method::POST, "/canaryConfig"),
        (Method::GET, "/canaryConfig/x"),
        (Method::DELETE, "/canaryConfig/x"),
        (Method::POST, "/canary/x"),
        (Method::GET, "/canary/x"),
    ] {
        let (status, e) = call(method.clone(), path, None, false, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path}: {e}");
    }
    // Config writes need admin; reads, read.
    let (status, _) = call(
        Method::POST,
        "/canaryConfig",
        Some("judge-token-456"),
        false,
        Some(config("c")),
    )
    .await;
    assert_eq!(status, 403);
    let (status, made) = call(
        Method::POST,
        "/canaryConfig",
        Some("admin-token-789"),
        false,
        Some(config("c")),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let (status, list) = call(
        Method::GET,
        "/canaryConfig",
        Some("read-token-123"),
        true,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["name"], "c");
    // Judging needs judge.
    let id = made["canaryConfigId"].as_str().unwrap();
    let (status, _) = call(
        Method::POST,
        &format!("/canary/{id}"),
        Some("read-token-123"),
        true,
        Some(argo_body("canary")),
    )
    .await;
    assert_eq!(status, 403);
    app.stop().await;
}

/// Settings for fast scheduling (as the analyses tests): no settle delay, short polls.
fn fast(s: &mut canaryd::config::Settings) {
    with_prometheus(s);
    s.scheduler.settle_seconds = 0.0;
    s.scheduler.poll_interval_ms = 100;
    s.scheduler.retry_delay_seconds = 0.2;
}

async fn standalone_analysis_is_a_scheduled_analysis(db: Db) {
    let app = spawn_app(db, fast).await;
    let (status, made) = app.post("/canaryConfig", &config("checkout")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"].as_str().unwrap().to_string();
    let body = json!({
        "scopes": [{"scopeName": "default", "controlScope": "baseline", "experimentScope": "baseline",
            "startTimeIso": rfc3339(T0), "step": 10, "extendedScopeParams": {}}],
        "thresholds": {"pass": 90, "marginal": 75},
        "lifetimeDurationMins": 10,
        "analysisIntervalMins": 5
    });
    let (status, job) = app
        .post(
            &format!("/standalone_canary_analysis/{id}?user=me&application=shop"),
            &body,
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let execution = job["canaryAnalysisExecutionId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let result = loop {
        let (status, r) = app
            .get(&format!("/standalone_canary_analysis/{execution}"))
            .await;
        assert_eq!(status, 200, "{r}");
        if r["complete"] == true {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "not complete: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(result["executionStatus"], "SUCCEEDED", "{result}");
    assert_eq!(result["canaryConfigId"], json!(id));
    let outcome = &result["canaryAnalysisExecutionResult"];
    assert_eq!(outcome["didPassThresholds"], true, "{result}");
    let scores = outcome["canaryScores"].as_array().unwrap();
    assert_eq!(scores.len(), 2, "{result}");
    let first = &outcome["canaryExecutionResults"][0];
    assert_eq!(
        first["judgementStartTimeIso"],
        rfc3339(T0).replace('Z', ".000Z")
    );
    // The first interval is the judgment of its window.
    let (status, ours) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": id, "baseline": "baseline", "canary": "baseline",
                "start": T0, "end": (T0 + 300).to_string(), "step_seconds": 10}),
        )
        .await;
    assert_eq!(status, 201, "{ours}");
    assert_eq!(ours["score"], scores[0]);
    let (status, e) = app.get("/standalone_canary_analysis/nope").await;
    assert_eq!(status, 404);
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    app.stop().await;
}

/// The number `sql` (a `SELECT COUNT(*)`) counts in the app's store, whichever it is.
pub(crate) async fn count_rows(app: &TestApp, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if app.db_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&app.db_url).await.expect("pg");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n
    } else {
        let pool = sqlx::SqlitePool::connect(&app.db_url)
            .await
            .expect("sqlite");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n
    }
}

/// A `CanaryAnalysisExecutionRequest` of two 5-minute intervals from T0, baseline against
/// `canary`.
fn analysis_request(canary: &str) -> Value {
    json!({
        "scopes": [{"scopeName": "default", "controlScope": "baseline", "experimentScope": canary,
            "startTimeIso": rfc3339(T0), "step": 10, "extendedScopeParams": {}}],
        "thresholds": {"pass": 90, "marginal": 75},
        "lifetimeDurationMins": 10,
        "analysisIntervalMins": 5
    })
}

async fn adhoc_standalone_analysis_is_judged_and_not_stored_as_a_config(db: Db) {
    let app = spawn_app(db, fast).await;
    let (status, templates_before) = app.get("/api/v1/templates").await;
    assert_eq!(status, 200);
    // Kayenta's CanaryAnalysisAdhocExecutionRequest, with the query parameters Spinnaker sends.
    let body = json!({"canaryConfig": config("checkout"), "executionRequest": analysis_request("baseline")});
    let (status, job) = app
        .post(
            "/standalone_canary_analysis?user=me&application=shop&metricsAccountName=prom&storageAccountName=s",
            &body,
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let execution = job["canaryAnalysisExecutionId"]
        .as_str()
        .expect("canaryAnalysisExecutionId")
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let result = loop {
        let (status, r) = app
            .get(&format!("/standalone_canary_analysis/{execution}"))
            .await;
        assert_eq!(status, 200, "{r}");
        if r["complete"] == true {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "not complete: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(result["executionStatus"], "SUCCEEDED", "{result}");
    // As in Kayenta, an ad-hoc analysis has no canary config id.
    assert_eq!(result["canaryConfigId"], Value::Null, "{result}");
    let outcome = &result["canaryAnalysisExecutionResult"];
    assert_eq!(outcome["didPassThresholds"], true, "{result}");
    let scores = outcome["canaryScores"].as_array().expect("canaryScores");
    assert_eq!(scores.len(), 2, "{result}");
    // The first interval is our judgment of its window with the same config, inline.
    let (status, made) = app.post("/canaryConfig", &config("checkout")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"].as_str().unwrap().to_string();
    let (status, ours) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": id, "baseline": "baseline", "canary": "baseline",
                "start": T0, "end": T0 + 300, "step_seconds": 10}),
        )
        .await;
    assert_eq!(status, 201, "{ours}");
    assert_eq!(ours["score"], scores[0]);
    // Not stored as a config, nor listed as a template: only the config posted above is.
    let (_, list) = app.get("/canaryConfig").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], json!(id));
    let (_, templates_after) = app.get("/api/v1/templates").await;
    assert_eq!(
        templates_after.as_array().map(Vec::len),
        templates_before.as_array().map(|t| t.len() + 1),
        "{templates_after}"
    );
    app.stop().await;
}

async fn adhoc_standalone_bad_input_stores_nothing(db: Db) {
    let app = spawn_app(db, fast).await;
    let adhoc = "SELECT COUNT(*) FROM templates WHERE origin = 'kayenta-adhoc'";
    let analyses = "SELECT COUNT(*) FROM analyses";
    let raw = app
        .client
        .post(app.at("/standalone_canary_analysis"))
        .header("Content-Type", "application/json")
        .body("{\"canaryConfig\": ")
        .send()
        .await
        .expect("request");
    let (status, e) = crate::support::app::read(raw).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("not valid"), "{e}");
    assert_eq!(e["code"], "invalid_request", "{e}");

    let mut untranslatable = config("checkout");
    untranslatable["metrics"][0]["query"]["type"] = json!("stackdriver");
    let mut no_lifetime = analysis_request("canary");
    no_lifetime
        .as_object_mut()
        .unwrap()
        .remove("lifetimeDurationMins");
    let mut no_interval_fits = analysis_request("canary");
    no_interval_fits["lifetimeDurationMins"] = json!(10);
    no_interval_fits["analysisIntervalMins"] = json!(20);
    let cases = [
        (
            json!({"executionRequest": analysis_request("canary")}),
            "canaryConfig must be provided",
        ),
        (
            json!({"canaryConfig": config("checkout")}),
            "executionRequest must be provided",
        ),
        (
            json!({"canaryConfig": untranslatable, "executionRequest": analysis_request("canary")}),
            "stackdriver",
        ),
        (
            json!({"canaryConfig": {"name": "x", "metrics": []}, "executionRequest": analysis_request("canary")}),
            "at least one application",
        ),
        (
            json!({"canaryConfig": config("checkout"), "executionRequest": no_lifetime}),
            "lifetimeDurationMins",
        ),
        (
            json!({"canaryConfig": config("checkout"), "executionRequest": {"scopes": []}}),
            "scopes",
        ),
        // Refused by the analysis itself, after the translation was kept: it is removed again.
        (
            json!({"canaryConfig": config("checkout"), "executionRequest": no_interval_fits}),
            "interval",
        ),
    ];
    for (body, words) in cases {
        let (status, e) = app.post("/standalone_canary_analysis", &body).await;
        assert_eq!(status, 400, "{body}: {e}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{words:?} not in {e}");
        assert!(e["code"].is_string(), "{e}");
        assert_eq!(count_rows(&app, adhoc).await, 0, "{body}");
        assert_eq!(count_rows(&app, analyses).await, 0, "{body}");
    }
    // An unknown config id on the stored form: Kayenta's 404 shape, nothing stored.
    let (status, e) = app
        .post(
            "/standalone_canary_analysis/nope",
            &analysis_request("canary"),
        )
        .await;
    assert_eq!(status, 404, "{e}");
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    assert_eq!(e["code"], "not_found");
    assert_eq!(count_rows(&app, analyses).await, 0);
    app.stop().await;
}

async fn execution_and_judgment_are_stored_together(db: Db) {
    let app = spawn_app(db, with_prometheus).await;
    let (status, made) = app.post("/canaryConfig", &config("checkout")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"].as_str().unwrap().to_string();
    let judgments = "SELECT COUNT(*) FROM judgments";
    let executions = "SELECT COUNT(*) FROM kayenta_executions";
    let (status, job) = app
        .post(&format!("/canary/{id}"), &argo_body("canary"))
        .await;
    assert_eq!(status, 200, "{job}");
    // A request refused before judging stores neither.
    let mut two_windows = argo_body("canary");
    two_windows["scopes"]["default"]["experimentScope"]["end"] = json!(rfc3339(T0 + 300));
    let (status, _) = app.post(&format!("/canary/{id}"), &two_windows).await;
    assert_eq!(status, 400);
    assert_eq!(count_rows(&app, judgments).await, 1);
    assert_eq!(count_rows(&app, executions).await, 1);

    // One transaction: when the execution row cannot be written (its id already taken), the
    // judgment is not stored either.
    let store = canaryd::store::Store::connect(&app.db_url)
        .await
        .expect("store");
    let execution = job["canaryExecutionId"].as_str().unwrap();
    let mut record = store
        .get_judgment(execution)
        .await
        .unwrap()
        .expect("the judgment");
    record.id = "taken".into();
    store
        .insert_kayenta_execution("taken", &id, "{}")
        .await
        .unwrap();
    let failed = store.insert_kayenta_judgment(&record, &id, "{}").await;
    assert!(failed.is_err(), "the duplicate execution row is refused");
    assert!(store.get_judgment("taken").await.unwrap().is_none());
    // And when it can, both are there.
    record.id = "free".into();
    store
        .insert_kayenta_judgment(&record, &id, "{}")
        .await
        .expect("stored");
    assert!(store.get_judgment("free").await.unwrap().is_some());
    assert!(store.get_kayenta_execution("free").await.unwrap().is_some());
    store.close().await;
    app.stop().await;
}

/// A Kayenta InfluxDB canary config over the fixture series the suite's InfluxDB holds
/// (`latency_seconds,version=... value=...`).
fn influx_config(name: &str) -> Value {
    json!({
        "name": name,
        "applications": ["shop"],
        "metrics": [{
            "name": "latency",
            "query": {"type": "influxdb", "metricName": "latency_seconds", "fields": ["value"]},
            "groups": ["latency"],
            "analysisConfigurations": {"canary": {"direction": "increase"}},
            "scopeName": "default"
        }],
        "classifier": {"groupWeights": {"latency": 100}},
        "templates": {}
    })
}

fn influx_body(control: &str, experiment: &str) -> Value {
    json!({
        "scopes": {"default": {
            "controlScope": {"scope": control, "step": 10,
                "start": rfc3339(T0), "end": rfc3339(T0 + 600)},
            "experimentScope": {"scope": experiment, "step": 10,
                "start": rfc3339(T0), "end": rfc3339(T0 + 600)}
        }},
        "thresholds": {"pass": 90, "marginal": 75}
    })
}

async fn influxdb_scope_tag_value_is_split(db: Db) {
    let influx = support::influxdb();
    let app = spawn_app(db, |s| {
        s.sources.insert(
            "influxdb".into(),
            canaryd::config::SourceSettings {
                kind: "influxdb".into(),
                url: influx.url.clone(),
                options: [("database".to_string(), json!("canary"))]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        );
    })
    .await;
    let (status, made) = app.post("/canaryConfig", &influx_config("influx")).await;
    assert_eq!(status, 200, "{made}");
    let id = made["canaryConfigId"].as_str().unwrap().to_string();
    // Kayenta's scope `TAG:VALUE` is our scope VALUE with argument scope_tag TAG: the same
    // score as our own API given those, with the data found on both sides.
    let (status, ours) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": id, "baseline": "baseline", "canary": "canary",
                "args": {"scope_tag": "version"},
                "start": T0, "end": T0 + 600, "step_seconds": 10}),
        )
        .await;
    assert_eq!(status, 201, "{ours}");
    assert_eq!(ours["metrics"][0]["classification"], "high", "{ours}");
    let stored = app
        .post(
            &format!("/canary/{id}"),
            &influx_body("version:baseline", "version:canary"),
        )
        .await;
    let inline = app
        .post(
            "/canary",
            &json!({"canaryConfig": influx_config("inline"),
                "executionRequest": influx_body("version:baseline", "version:canary")}),
        )
        .await;
    for (status, job) in [stored, inline] {
        assert_eq!(status, 200, "{job}");
        let execution = job["canaryExecutionId"].as_str().unwrap();
        let (status, result) = app.get(&format!("/canary/{execution}")).await;
        assert_eq!(status, 200, "{result}");
        let judge = &result["result"]["judgeResult"];
        assert_eq!(judge["score"]["score"], ours["score"], "{result}");
        assert_eq!(judge["results"][0]["classification"], "High", "{result}");
        assert!(
            judge["results"][0]["controlMetadata"]["stats"]["count"].as_u64() > Some(0),
            "{result}"
        );
    }
    // Kayenta's own refusal of a scope that is not `name:value`, and tags that differ.
    for (control, experiment, words) in [
        (
            "version:baseline:x",
            "version:canary",
            "Scope expected in the format of 'name:value'",
        ),
        ("version:baseline", "track:canary", "scope tags differ"),
    ] {
        let (status, e) = app
            .post(&format!("/canary/{id}"), &influx_body(control, experiment))
            .await;
        assert_eq!(status, 400, "{e}");
        assert!(e["message"].as_str().unwrap().contains(words), "{e}");
    }
    assert_eq!(
        count_rows(&app, "SELECT COUNT(*) FROM kayenta_executions").await,
        2
    );
    app.stop().await;
}
