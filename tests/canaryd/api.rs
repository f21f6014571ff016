//! The service (issue 4) through HTTP, on SQLite and on a real PostgreSQL: judgments (inline
//! data and live from a real Prometheus), history, replay, templates with versions, restart
//! persistence, auth, bad input, the Flagger and Argo gates, /metrics, /openapi.json, request
//! ids, retention. Each test has its own database.

use serde_json::{json, Value};

use crate::support::app::{fresh_db, spawn_app, spawn_with, test_settings, Db};
use crate::support::{self, T0};

crate::on_both!(
    inline_data_judgment_is_stored_whole_and_replays,
    live_judgment_stores_the_fetched_points,
    history_filters_and_pages,
    judgments_and_templates_survive_a_restart,
    templates_have_versions,
    gates_flagger,
    gates_argo,
    retention_prunes_old_judgments,
);

fn scenario(name: &str) -> Value {
    let text = std::fs::read_to_string(
        support::repo_root().join(format!("fixtures/scenarios/{name}.json")),
    )
    .expect("scenario");
    serde_json::from_str(&text).expect("scenario json")
}

fn expected_verdict(name: &str) -> String {
    let text =
        std::fs::read_to_string(support::repo_root().join("fixtures/scenarios/expected.json"))
            .expect("expected.json");
    let v: Value = serde_json::from_str(&text).expect("json");
    v[name]["verdict"].as_str().expect("verdict").to_string()
}

/// The fixture-latency template (see `support::fixture_template`).
fn live_template(name: &str) -> Value {
    support::fixture_template(name)
}

fn with_prometheus(s: &mut canaryd::config::Settings) {
    let source = s.sources.get_mut("prometheus").expect("default source");
    source.url = support::prometheus().url.clone();
}

fn live_body(template: Value, canary: &str) -> Value {
    json!({
        "template": template,
        "baseline": "baseline",
        "canary": canary,
        "start": T0,
        "end": (T0 + 600).to_string(),
    })
}

async fn inline_data_judgment_is_stored_whole_and_replays(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let data = scenario("latency-regression");
    let r = app
        .client
        .post(app.at("/api/v1/judgments"))
        .header("X-Request-Id", "req-inline-1")
        .json(&json!({"template": "http-golden-signals", "data": data}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()["x-request-id"], "req-inline-1");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (_, made) = crate::support::app::read(r).await;
    assert_eq!(made["verdict"], expected_verdict("latency-regression"));
    let id = made["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/judgments/{id}"));
    assert_eq!(made["request_id"], "req-inline-1");

    // The offline CLI's report for the same data is the API's report, field for field.
    let template = canaryd::template::load_template(
        &support::repo_root().join("analysis-templates/http-golden-signals.yaml"),
    )
    .unwrap();
    let recorded: canaryd::source::RecordedData = serde_json::from_value(data.clone()).unwrap();
    let offline =
        serde_json::to_value(canaryd::judge::judge(&template, &recorded.observations())).unwrap();
    for key in [
        "verdict",
        "score",
        "reason",
        "groups",
        "metrics",
        "template",
        "thresholds",
    ] {
        assert_eq!(made[key], offline[key], "field {key}");
    }

    let (status, stored) = app.get(&location).await;
    assert_eq!(status, 200);
    assert_eq!(stored["id"], made["id"]);
    assert_eq!(stored["metrics"], made["metrics"]);
    assert_eq!(stored["request_id"], "req-inline-1");
    assert_eq!(stored["input"]["mode"], "data");
    assert_eq!(stored["input"]["template_version"], 1);
    assert!(stored["input"]["template_source"]
        .as_str()
        .unwrap()
        .contains("name: http-golden-signals"));
    assert_eq!(
        stored["input"]["data"]["metrics"]["p99_latency"]["baseline"],
        data["metrics"]["p99_latency"]["baseline"]
    );

    let (status, replay) = app.post(&format!("{location}/replay"), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(replay["identical"], true, "{replay}");
    assert_eq!(replay["report"]["verdict"], made["verdict"]);
    app.stop().await;
}

async fn live_judgment_stores_the_fetched_points(db: Db) {
    let app = spawn_app(db, with_prometheus).await;
    let (status, fail) = app
        .post(
            "/api/v1/judgments",
            &live_body(live_template("fixture-latency"), "canary"),
        )
        .await;
    assert_eq!(status, 201, "{fail}");
    assert_eq!(fail["verdict"], "fail", "{fail}");
    assert_eq!(fail["metrics"][0]["classification"], "high");
    assert_eq!(
        fail["metrics"][0]["query"]["canary"],
        "latency_seconds{version=\"canary\"}"
    );

    let (status, pass) = app
        .post(
            "/api/v1/judgments",
            &live_body(live_template("fixture-latency"), "baseline"),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(pass["verdict"], "pass", "{pass}");

    let (_, stored) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            fail["id"].as_str().unwrap()
        ))
        .await;
    let input = &stored["input"];
    assert_eq!(input["mode"], "live");
    assert_eq!(input["baseline"], "baseline");
    assert_eq!(input["canary"], "canary");
    assert_eq!(input["step_seconds"], 10);
    assert_eq!(input["template_version"], Value::Null, "inline template");
    let expected: Vec<Value> = support::fixture_series("latency_seconds", "version", "canary")
        .into_iter()
        .filter(|(t, _)| *t <= T0 + 600)
        .map(|(_, v)| json!(v))
        .collect();
    assert_eq!(
        input["data"]["metrics"]["latency"]["canary"],
        json!(expected)
    );
    assert_eq!(
        input["data"]["metrics"]["latency"]["provenance"]["canary_points"],
        61
    );
    let (_, replay) = app
        .post(
            &format!("/api/v1/judgments/{}/replay", fail["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(replay["identical"], true, "{replay}");

    // The source's query latency is in /metrics.
    let (_, metrics) = app.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("canaryd_source_query_duration_seconds_count{source=\"prometheus\"}"),
        "{metrics}"
    );
    app.stop().await;
}

async fn history_filters_and_pages(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let mut ids = Vec::new();
    for name in [
        "clean-canary",
        "latency-regression",
        "clean-canary",
        "error-spike",
        "clean-canary",
    ] {
        let (status, made) = app
            .post(
                "/api/v1/judgments",
                &json!({"template": "http-golden-signals", "data": scenario(name)}),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        ids.push(made["id"].as_str().unwrap().to_string());
    }
    let (_, all) = app.get("/api/v1/judgments").await;
    let listed: Vec<&str> = all["judgments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all["next"], Value::Null);

    let (_, passes) = app.get("/api/v1/judgments?verdict=pass").await;
    assert_eq!(passes["judgments"].as_array().unwrap().len(), 3);
    let (_, fails) = app
        .get("/api/v1/judgments?verdict=fail&template=http-golden-signals")
        .await;
    assert_eq!(fails["judgments"].as_array().unwrap().len(), 2);
    let (_, none) = app.get("/api/v1/judgments?template=grpc-worker").await;
    assert_eq!(none["judgments"], json!([]));

    // Pages of two, following `next`.
    let mut seen = Vec::new();
    let mut path = "/api/v1/judgments?limit=2".to_string();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for j in page["judgments"].as_array().unwrap() {
            seen.push(j["id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/judgments?limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids.iter().rev().cloned().collect::<Vec<_>>());

    let (_, future) = app
        .get("/api/v1/judgments?since=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(future["judgments"], json!([]));
    let (_, past) = app
        .get("/api/v1/judgments?until=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(past["judgments"].as_array().unwrap().len(), 5);

    let (status, bad) = app.get("/api/v1/judgments?verdict=maybe").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["path"], "verdict");
    let (status, bad) = app.get("/api/v1/judgments?limit=0").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["path"], "limit");
    let (status, bad) = app.get("/api/v1/judgments?since=yesterday").await;
    assert_eq!(status, 400, "{bad}");
    app.stop().await;
}

async fn judgments_and_templates_survive_a_restart(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let (_, made) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "http-golden-signals", "data": scenario("error-spike")}),
        )
        .await;
    let yaml = "name: restart-me\nmetrics:\n  - name: m\n    query: m{v=\"${scope}\"}\n";
    let r = app
        .client
        .put(app.at("/api/v1/templates/restart-me"))
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let settings = app.settings.clone();
    let scratch = app.stop().await;

    let again = spawn_with(settings, scratch).await;
    let (status, stored) = again
        .get(&format!(
            "/api/v1/judgments/{}",
            made["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored["metrics"], made["metrics"]);
    assert_eq!(stored["verdict"], made["verdict"]);
    let (status, t) = again.get("/api/v1/templates/restart-me").await;
    assert_eq!(status, 200);
    assert_eq!(t["source"], yaml);
    // The shipped templates are not stored again when their files did not change.
    let (_, t) = again.get("/api/v1/templates/http-golden-signals").await;
    assert_eq!(t["version"], 1);
    again.stop().await;
}

async fn templates_have_versions(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let (_, list) = app.get("/api/v1/templates").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["grpc-worker", "http-golden-signals", "resource-saturation"]
    );

    let put = |body: String, json_body: bool| {
        let mut r = app.client.put(app.at("/api/v1/templates/svc"));
        if json_body {
            r = r.header("content-type", "application/json");
        }
        async move { crate::support::app::read(r.body(body).send().await.unwrap()).await }
    };
    let v1 = "name: svc\nmetrics:\n  - name: m\n    query: m{v=\"${scope}\"}\n".to_string();
    let (status, r) = put(v1.clone(), false).await;
    assert_eq!(
        (status, r["version"].clone(), r["created"].clone()),
        (201, json!(1), json!(true))
    );
    let (status, r) = put(v1.clone(), false).await;
    assert_eq!(
        (status, r["version"].clone(), r["created"].clone()),
        (200, json!(1), json!(false))
    );
    let v2 = json!({"name": "svc", "metrics": [{"name": "m2", "query": "m2{v=\"${scope}\"}"}]});
    let (status, r) = put(v2.to_string(), true).await;
    assert_eq!((status, r["version"].clone()), (201, json!(2)), "{r}");

    let (_, latest) = app.get("/api/v1/templates/svc").await;
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["template"]["metrics"][0]["name"], "m2");
    assert_eq!(latest["origin"], "api");
    let (_, first) = app.get("/api/v1/templates/svc?version=1").await;
    assert_eq!(first["source"], v1);

    // A judgment names the version it used.
    let data = json!({"metrics": {"m2": {"baseline": [1, 2, 3], "canary": [1, 2, 3]}}});
    let (status, made) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "svc", "data": data}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (_, stored) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            made["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["input"]["template_version"], 2);
    let (status, old) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "svc", "template_version": 1, "data": data}),
        )
        .await;
    assert_eq!(status, 400, "metric m2 is not in v1: {old}");

    // Invalid: every problem with line and column, nothing stored.
    let (status, bad) = put(
        "name: svc\nmetrics:\n  - name: m\n    query: x{v=\"${scope}\"}\n    judge: {test: magic, confidence: 2}\n"
            .into(),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], "invalid_template");
    let problems = bad["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{bad}");
    assert_eq!(problems[0]["line"], 5);
    assert!(problems[0]["field"]
        .as_str()
        .unwrap()
        .starts_with("metrics[0].judge."));
    let (status, bad) = put(
        "name: other\nmetrics:\n  - name: m\n    query: x{v=\"${scope}\"}\n".into(),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["path"], "name");

    let r = app
        .client
        .delete(app.at("/api/v1/templates/svc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (status, gone) = app.get("/api/v1/templates/svc").await;
    assert_eq!(status, 404);
    assert_eq!(gone["error"]["code"], "template_not_found");
    let (status, _) = app.get("/api/v1/templates/svc?version=2").await;
    assert_eq!(status, 200, "old versions stay readable");
    let r = app
        .client
        .delete(app.at("/api/v1/templates/svc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (status, r) = put(v1, false).await;
    assert_eq!((status, r["version"].clone()), (201, json!(3)));
    app.stop().await;
}

fn flagger_payload(canary: &str, phase: &str) -> Value {
    json!({
        "name": "podinfo",
        "namespace": "test",
        "phase": phase,
        "checksum": "85d557f47b",
        "metadata": {
            "template": "fixture-latency",
            "baseline": "baseline",
            "canary": canary,
            "start": T0.to_string(),
            "end": (T0 + 600).to_string(),
        }
    })
}

async fn gates_flagger(db: Db) {
    let app = spawn_app(db, with_prometheus).await;
    app.put_fixture_template("fixture-latency").await;

    let (status, pass) = app
        .post(
            "/api/v1/gates/flagger",
            &flagger_payload("baseline", "Progressing"),
        )
        .await;
    assert_eq!(status, 200, "{pass}");
    assert_eq!(pass["verdict"], "pass");

    let (status, fail) = app
        .post(
            "/api/v1/gates/flagger",
            &flagger_payload("canary", "Progressing"),
        )
        .await;
    assert_eq!(status, 412, "{fail}");
    assert_eq!(fail["verdict"], "fail");
    // The body is the summary alone: what Flagger puts in the Kubernetes event.
    let keys: Vec<&String> = fail.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["headline", "id", "score", "url", "verdict"],
        "{fail}"
    );
    let headline = fail["headline"].as_str().unwrap();
    assert!(headline.starts_with("FAIL 0: latency +"), "{headline}");
    assert!(headline.chars().count() <= 200);
    assert!(fail.to_string().len() < 400, "{fail}");
    assert!(fail["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/judgments/{}", fail["id"].as_str().unwrap())));

    // The same canary, checksum and phase inside the window: the stored judgment, not a new one.
    let (status, again) = app
        .post(
            "/api/v1/gates/flagger",
            &flagger_payload("canary", "Progressing"),
        )
        .await;
    assert_eq!(status, 412);
    assert_eq!(again["id"], fail["id"]);
    assert_eq!(again["reused"], true);
    let (_, other_phase) = app
        .post(
            "/api/v1/gates/flagger",
            &flagger_payload("canary", "Promoting"),
        )
        .await;
    assert_ne!(other_phase["id"], fail["id"]);
    // Another window is another question (a confirm-promotion hook with a longer window sends
    // phase Progressing too): a judgment of its own, never the 10-minute one.
    let mut longer = flagger_payload("canary", "Progressing");
    longer["metadata"]["end"] = json!((T0 + 1200).to_string());
    let (_, other_window) = app.post("/api/v1/gates/flagger", &longer).await;
    assert_ne!(other_window["id"], fail["id"], "{other_window}");
    assert!(other_window["reused"].is_null());
    let (_, again) = app.post("/api/v1/gates/flagger", &longer).await;
    assert_eq!(again["id"], other_window["id"]);

    // The rollback hook: 200 means roll back now.
    let (status, _) = app
        .post(
            "/api/v1/gates/flagger/rollback",
            &flagger_payload("canary", "Progressing"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/api/v1/gates/flagger/rollback",
            &flagger_payload("baseline", "Progressing"),
        )
        .await;
    assert_eq!(status, 412);

    // Stored with the gate's name.
    let (_, stored) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            fail["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["input"]["gate"], "flagger");

    // Bad metadata names the field.
    let mut bad = flagger_payload("canary", "Progressing");
    bad["metadata"].as_object_mut().unwrap().remove("canary");
    let (status, e) = app.post("/api/v1/gates/flagger", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "metadata.canary");
    let mut bad = flagger_payload("canary", "Progressing");
    bad["metadata"]["windw_minutes"] = json!("5");
    let (status, e) = app.post("/api/v1/gates/flagger", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "metadata.windw_minutes");
    let mut bad = flagger_payload("canary", "Progressing");
    bad["metadata"]["template"] = json!("nope");
    let (status, e) = app.post("/api/v1/gates/flagger", &bad).await;
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "template_not_found");
    app.stop().await;
}

async fn gates_argo(db: Db) {
    let app = spawn_app(db, with_prometheus).await;
    app.put_fixture_template("fixture-latency").await;
    let window = format!("start={T0}&end={}", T0 + 600);
    for (canary, verdict) in [("baseline", "pass"), ("canary", "fail")] {
        let (status, r) = app
            .get(&format!(
                "/api/v1/gates/argo?template=fixture-latency&baseline=baseline&canary={canary}&{window}"
            ))
            .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["verdict"], verdict);
    }
    let (status, r) = app
        .post(
            "/api/v1/gates/argo",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                    "start": T0, "end": T0 + 600}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["verdict"], "fail");

    // Arguments by arg.NAME (query) or args (JSON): an undeclared one is refused.
    let (status, e) = app
        .get(&format!(
            "/api/v1/gates/argo?template=fixture-latency&baseline=baseline&canary=canary&{window}&arg.service=x"
        ))
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("service"));
    let (status, e) = app
        .post(
            "/api/v1/gates/argo",
            &json!({"template": "fixture-latency", "baseline": "b", "canary": "c", "args": [1]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "args");

    // Malformed: a 4xx, which Argo counts as an error measurement.
    let (status, e) = app
        .get("/api/v1/gates/argo?template=fixture-latency&baseline=baseline")
        .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "canary");
    let (status, e) = app
        .get(&format!(
            "/api/v1/gates/argo?template=fixture-latency&baseline=a&canary=b&start={T0}"
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "end");
    app.stop().await;
}

async fn retention_prunes_old_judgments(db: Db) {
    let (db_url, scratch) = fresh_db(db).await;
    let store = canaryd::store::Store::connect(&db_url).await.unwrap();
    let mut old = canaryd::store::NewJudgment {
        id: "00000000-0000-7000-8000-000000000001".into(),
        created_at: chrono::Utc::now() - chrono::Duration::days(10),
        request_id: "r".into(),
        template: "t".into(),
        template_version: None,
        template_source: "name: t".into(),
        mode: "data".into(),
        baseline: None,
        canary: None,
        window_start: None,
        window_end: None,
        step_seconds: None,
        args: json!({}),
        data: json!({"metrics": {}}),
        verdict: "pass".into(),
        score: 100.0,
        report: json!({}),
        gate: None,
        gate_key: None,
        analysis_id: None,
        interval_index: None,
    };
    store.insert_judgment(&old).await.unwrap();
    old.id = "00000000-0000-7000-8000-000000000002".into();
    old.created_at = chrono::Utc::now() - chrono::Duration::hours(1);
    store.insert_judgment(&old).await.unwrap();
    store.close().await;

    let mut settings = test_settings(&db_url);
    settings.store.retention_days = 2;
    let app = spawn_with(settings, scratch).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _) = app
            .get("/api/v1/judgments/00000000-0000-7000-8000-000000000001")
            .await;
        if status == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old judgment was not pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, page) = app.get("/api/v1/judgments").await;
    assert_eq!(
        page["judgments"][0]["id"],
        "00000000-0000-7000-8000-000000000002"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_400_naming_the_field() {
    let app = spawn_app(Db::Sqlite, |s| s.server.max_body_bytes = 4096).await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"data": {"metrics": {}}}),
            400,
            "invalid_json",
            "template",
        ),
        (
            json!({"template": 7, "data": {"metrics": {}}}),
            400,
            "invalid_request",
            "template",
        ),
        (
            json!({"template": "http-golden-signals", "data": {"metrics": {"p99_latency": {"baseline": [1, "x"], "canary": []}}}}),
            400,
            "invalid_json",
            "data.metrics.p99_latency.baseline[1]",
        ),
        (
            json!({"template": "http-golden-signals", "data": {"metrics": {}}, "colour": "red"}),
            400,
            "invalid_json",
            "colour",
        ),
        (
            json!({"template": "http-golden-signals", "baseline": "a", "canary": "b", "end": 5}),
            400,
            "invalid_request",
            "start",
        ),
        (
            json!({"template": "http-golden-signals", "baseline": "a", "canary": "b", "start": "soon", "end": 5}),
            400,
            "invalid_request",
            "start",
        ),
        (
            json!({"template": "http-golden-signals", "data": {"metrics": {}}, "canary": "b"}),
            400,
            "invalid_request",
            "canary",
        ),
        (
            json!({"template": "no-such-template", "data": {"metrics": {}}}),
            404,
            "template_not_found",
            "",
        ),
        (
            json!({"template": "http-golden-signals", "data": {"metrics": {"p999": {"baseline": [], "canary": []}}}}),
            400,
            "invalid_request",
            "",
        ),
        (
            json!({"template": {"name": "x", "metrics": [{"name": "m"}]}, "data": {"metrics": {}}}),
            400,
            "invalid_template",
            "",
        ),
        (
            json!({"template": {"name": "x", "metrics": [{"name": "m", "query": "q{v=\"${scope}\"} / ${scope}"}]}, "data": {"metrics": {}}}),
            400,
            "invalid_template",
            "",
        ),
        (
            json!({"template": "http-golden-signals", "baseline": "a", "canary": "b", "start": 100, "end": 50}),
            400,
            "invalid_window",
            "",
        ),
        (
            json!({"template": "http-golden-signals", "baseline": "a", "canary": "b", "start": 0, "end": 60}),
            400,
            "invalid_arguments",
            "",
        ),
    ];
    for (body, status, code, path) in cases {
        let (got, e) = app.post("/api/v1/judgments", &body).await;
        assert_eq!(got, status, "{body} -> {e}");
        assert_eq!(e["error"]["code"], code, "{body} -> {e}");
        if !path.is_empty() {
            assert_eq!(e["error"]["path"], path, "{body} -> {e}");
            assert!(e["error"]["message"].as_str().unwrap().contains(path));
        }
    }
    // A missing argument is named.
    let (_, e) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "http-golden-signals", "baseline": "a", "canary": "b", "start": 0, "end": 60}),
        )
        .await;
    assert!(
        e["error"]["message"].as_str().unwrap().contains("service"),
        "{e}"
    );

    let r = app
        .client
        .post(app.at("/api/v1/judgments"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let big = json!({"template": "http-golden-signals", "data": {"metrics": {"p99_latency": {"baseline": vec![0.5; 2000], "canary": []}}}});
    let (status, e) = app.post("/api/v1/judgments", &big).await;
    assert_eq!(status, 413);
    assert_eq!(e["error"]["code"], "payload_too_large");
    let (status, e) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "not_found");
    let (status, e) = app.get("/api/v1/judgments/unknown-id").await;
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "judgment_not_found");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_is_a_502_naming_it() {
    let port = support::free_port();
    let app = spawn_app(Db::Sqlite, |s| {
        let p = s.sources.get_mut("prometheus").unwrap();
        p.url = format!("http://127.0.0.1:{port}");
        p.timeout_seconds = Some(2.0);
    })
    .await;
    let (status, e) = app
        .post(
            "/api/v1/judgments",
            &live_body(live_template("t"), "canary"),
        )
        .await;
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["error"]["code"], "source_unavailable");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    let (_, page) = app.get("/api/v1/judgments").await;
    assert_eq!(page["judgments"], json!([]), "nothing is stored");
    app.stop().await;
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles() {
    let app = spawn_app(Db::Sqlite, |s| {
        for (name, token, role) in [
            ("viewer", "read-token-123", canaryd::config::Role::Read),
            ("ci", "judge-token-456", canaryd::config::Role::Judge),
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
    let body = json!({"template": "http-golden-signals", "data": scenario("clean-canary")});
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<String>| {
        let mut r = app.client.request(method, app.at(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            let kind = if b.starts_with('{') {
                "application/json"
            } else {
                "application/yaml"
            };
            r = r.header("content-type", kind).body(b);
        }
        async move {
            let r = r.send().await.unwrap();
            let www = r.headers().get("www-authenticate").is_some();
            let (status, body) = crate::support::app::read(r).await;
            (status, body, www)
        }
    };
    use reqwest::Method;
    let (status, e, www) = call(Method::GET, "/api/v1/judgments", None, None).await;
    assert_eq!((status, www), (401, true));
    assert_eq!(e["error"]["code"], "unauthorized");
    let (status, _, _) = call(Method::GET, "/api/v1/judgments", Some("wrong"), None).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 401);
    for open in ["/healthz", "/readyz", "/metrics"] {
        let (status, _, _) = call(Method::GET, open, None, None).await;
        assert_eq!(status, 200, "{open}");
    }
    let (status, _, _) = call(
        Method::GET,
        "/api/v1/judgments",
        Some("read-token-123"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, e, _) = call(
        Method::POST,
        "/api/v1/judgments",
        Some("read-token-123"),
        Some(body.to_string()),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(e["error"]["code"], "forbidden");
    assert!(e["error"]["message"].as_str().unwrap().contains("viewer"));
    let (status, made, _) = call(
        Method::POST,
        "/api/v1/judgments",
        Some("judge-token-456"),
        Some(body.to_string()),
    )
    .await;
    assert_eq!(status, 201);
    let yaml = "name: t\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n".to_string();
    let (status, _, _) = call(
        Method::PUT,
        "/api/v1/templates/t",
        Some("judge-token-456"),
        Some(yaml.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = call(
        Method::PUT,
        "/api/v1/templates/t",
        Some("admin-token-789"),
        Some(yaml),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, _) = call(
        Method::GET,
        "/api/v1/gates/argo?template=t",
        Some("read-token-123"),
        None,
    )
    .await;
    assert_eq!(status, 403, "the Argo GET makes a judgment: judge role");
    // Flagger cannot send headers: its token may come as metadata.token.
    let flagger = |token: Option<&str>| {
        let mut metadata =
            json!({"template": "t", "baseline": "a", "canary": "b", "window_minutes": "5"});
        if let Some(t) = token {
            metadata["token"] = json!(t);
        }
        json!({"name": "p", "namespace": "n", "phase": "Progressing", "checksum": "c", "metadata": metadata})
    };
    let (status, _) = app.post("/api/v1/gates/flagger", &flagger(None)).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post("/api/v1/gates/flagger", &flagger(Some("read-token-123")))
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post("/api/v1/gates/flagger/rollback", &flagger(Some("wrong")))
        .await;
    assert_eq!(status, 401);
    // Past the check, the template's source (nothing listens at its default URL) answers:
    // no judgment, a failed check (412) naming why.
    let (status, e) = app
        .post("/api/v1/gates/flagger", &flagger(Some("judge-token-456")))
        .await;
    assert_eq!(status, 412, "{e}");
    assert_eq!(e["error"]["code"], "source_unavailable", "{e}");
    assert!(!e.to_string().contains("judge-token-456"));

    // The report pages: a browser is challenged with Basic and sends the token as password.
    let page = app.at(&format!("/judgments/{}", made["id"].as_str().unwrap()));
    let r = app.client.get(&page).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let r = app
        .client
        .get(&page)
        .basic_auth("me", Some("read-token-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("<svg"));
    let r = app
        .client
        .get(app.at("/api/v1/judgments"))
        .basic_auth("me", Some("judge-token-456"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "Basic works for the API too");

    // No response ever carries a token.
    let (_, stored, _) = call(
        Method::GET,
        &format!("/api/v1/judgments/{}", made["id"].as_str().unwrap()),
        Some("read-token-123"),
        None,
    )
    .await;
    for t in ["read-token-123", "judge-token-456", "admin-token-789"] {
        assert!(!stored.to_string().contains(t));
        assert!(!e.to_string().contains(t));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_valid_and_lists_every_contract_path() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/judgments", vec!["get", "post"]),
        ("/api/v1/judgments/{id}", vec!["get"]),
        ("/api/v1/judgments/{id}/replay", vec!["post"]),
        ("/api/v1/templates", vec!["get"]),
        ("/api/v1/templates/{name}", vec!["get", "put", "delete"]),
        ("/api/v1/gates/flagger", vec!["post"]),
        ("/api/v1/gates/flagger/rollback", vec!["post"]),
        ("/api/v1/gates/argo", vec!["get", "post"]),
        ("/healthz", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/openapi.json", vec!["get"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(m)).is_some(),
                "{m} {path} missing"
            );
        }
    }
    // Every documented operation answers (not the JSON 404 of an unknown route).
    for (path, item) in paths {
        let concrete = path.replace("{id}", "x").replace("{name}", "x");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .client
                .request(method.clone(), app.at(&concrete))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let (_, body) = crate::support::app::read(r).await;
            assert_ne!(body["error"]["code"], "not_found", "{method} {path}");
        }
    }
    // And the document is valid OpenAPI, by an independent validator.
    let scratch = support::Scratch::new("openapi");
    let file = scratch.file("openapi.json", &doc.to_string());
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "openapi-spec-validator (installed by scripts/setup-test-deps.sh) rejects /openapi.json:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_judgments_classifications_and_requests() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let template = json!({
        "name": "metrics-probe",
        "metrics": [{"name": "lat", "query": "q{v=\"${scope}\"}", "judge": {"direction": "increase"}}]
    });
    let data = json!({"metrics": {"lat": {"baseline": [1, 1.1, 0.9, 1.05, 0.95], "canary": [3, 3.1, 2.9, 3.05, 2.95]}}});
    // A stored template has series of its own (an inline one is counted as `inline`).
    let r = app
        .client
        .put(app.at("/api/v1/templates/metrics-probe"))
        .header("content-type", "application/json")
        .body(template.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (status, made) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "metrics-probe", "data": data}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["verdict"], "fail");
    let r = app.client.get(app.at("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for needle in [
        "canaryd_judgments_total{template=\"metrics-probe\",verdict=\"fail\"} 1",
        "canaryd_judgment_score{template=\"metrics-probe\"} 0",
        "canaryd_metric_classifications_total{template=\"metrics-probe\",metric=\"lat\",classification=\"high\"} 1",
        "canaryd_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/judgments\",le=\"+Inf\"}",
        "canaryd_http_requests_total{method=\"POST\",route=\"/api/v1/judgments\",status=\"201\"}",
        "# TYPE canaryd_source_query_errors_total counter",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    // promtool agrees it is valid exposition format.
    let promtool = support::require_binary("promtool");
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let complaints =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // promtool's lint only advises on names; a parse error fails it.
    assert!(!complaints.contains("error while linting"), "{complaints}");
    app.stop().await;
}

/// The real binary: JSON logs with the request id on every line of a request, no token in any
/// log line, the request id stored with the judgment, and SIGTERM draining an in-flight
/// judgment (answered 201) before the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_drains_in_flight_requests_on_sigterm_and_logs_json() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let slow = support::fake::slow_proxy(upstream, std::time::Duration::from_millis(1500)).await;
    let dir = support::Scratch::new("serve");
    let port = support::free_port();
    let token = "serve-test-token-0123456789";
    let db = dir.path.join("canaryd.db");
    let config = dir.file(
        "canaryd.toml",
        &format!(
            r#"[server]
listen = "127.0.0.1:{port}"
shutdown_timeout_seconds = 20
[store]
url = "sqlite://{db}"
[templates]
dir = "{templates}"
[log]
format = "json"
level = "info"
[sources.prometheus]
kind = "prometheus"
url = "{slow}"
[[auth.tokens]]
name = "ci"
token_sha256 = "{digest}"
role = "judge"
"#,
            db = db.display(),
            templates = support::repo_root().join("analysis-templates").display(),
            slow = slow.url,
            digest = sha256_hex(token),
        ),
    );
    let log_path = dir.path.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start canaryd serve");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "canaryd serve did not become ready:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let request = client
        .post(format!("{base}/api/v1/judgments"))
        .bearer_auth(token)
        .header("X-Request-Id", "drain-me-1")
        .json(&live_body(live_template("drain"), "canary"))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status().as_u16(), 201);
    let made: Value = response.json().await.unwrap();
    assert_eq!(made["verdict"], "fail");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit}");

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains(token), "the token appears in the log");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "drain-me-1")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|l| l["fields"]["message"] == "judgment made"),
        "{text}"
    );
    assert!(of_request
        .iter()
        .any(|l| l["fields"]["message"] == "request" && l["fields"]["status"] == 201));
    assert!(lines.iter().any(|l| l["fields"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("graceful shutdown"))));

    let store = canaryd::store::Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let stored = store
        .get_judgment(made["id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.request_id, "drain-me-1");
    store.close().await;
}
