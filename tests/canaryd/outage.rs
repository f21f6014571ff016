//! A source outage is not a failed canary (issue 12, items 11 and 12): when no metric could be
//! read because the source failed, no verdict is made anywhere a pipeline looks (API 502/504,
//! both Flagger hooks 412, Argo a 5xx, the CLI exit 1, a scheduled interval `error`), and the
//! answer comes within the judgment's deadline, retries and queued queries included. When some
//! metrics could be read, the others are `error` with the reason and scoring decides.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::analyses::{fast, settled, wait_for};
use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::{self, fake, T0};

/// The faults of a source that answers badly or not at all, each with the status the REST API
/// gives (the hang hits the judgment's deadline: 504).
async fn faults() -> Vec<(&'static str, fake::Fake, u16)> {
    vec![
        ("hanging", fake::silent().await, 504),
        (
            "answering 500",
            fake::fixed(
                500,
                r#"{"status":"error","errorType":"internal","error":"boom"}"#,
            )
            .await,
            502,
        ),
        (
            "answering garbage",
            fake::fixed(200, "<html>proxy login</html>").await,
            502,
        ),
    ]
}

async fn app_on(url: &str, deadline_seconds: f64) -> TestApp {
    let url = url.to_string();
    let app = spawn_app(Db::Sqlite, move |s| {
        let p = s.sources.get_mut("prometheus").expect("source");
        p.url = url;
        p.timeout_seconds = Some(0.5);
        p.judgment_timeout_seconds = Some(deadline_seconds);
        p.options.insert("retry_backoff_ms".into(), json!(10));
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    app
}

fn flagger_hook() -> Value {
    json!({
        "name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "c1",
        "metadata": {
            "template": "fixture-latency", "baseline": "baseline", "canary": "canary",
            "start": T0.to_string(), "end": (T0 + 600).to_string(),
        }
    })
}

fn assert_no_judgment(what: &str, e: &Value) {
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no judgment was made"),
        "{what}: the reason says no judgment was made: {e}"
    );
    assert_eq!(e["error"]["code"], "source_unavailable", "{what}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_gives_no_verdict_to_any_caller() {
    for (fault, server, status) in faults().await {
        let app = app_on(&server.url, 2.0).await;
        let live = json!({
            "template": "fixture-latency", "baseline": "baseline", "canary": "canary",
            "start": T0, "end": T0 + 600,
        });
        let (got, e) = app.post("/api/v1/judgments", &live).await;
        assert_eq!(got, status, "{fault}: {e}");
        assert_no_judgment(fault, &e);

        for hook in ["/api/v1/gates/flagger", "/api/v1/gates/flagger/rollback"] {
            let (got, e) = app.post(hook, &flagger_hook()).await;
            assert_eq!(
                got, 412,
                "{fault}: {hook} is a failed check, never 'roll back': {e}"
            );
            assert_no_judgment(fault, &e);
        }
        let (got, e) = app
            .get(&format!(
                "/api/v1/gates/argo?template=fixture-latency&baseline=baseline&canary=canary\
                 &start={T0}&end={}",
                T0 + 600
            ))
            .await;
        assert_eq!(
            got, status,
            "{fault}: Argo gets a non-2xx, an Error measurement: {e}"
        );
        assert_no_judgment(fault, &e);

        let (_, page) = app.get("/api/v1/judgments").await;
        assert_eq!(page["judgments"], json!([]), "{fault}: nothing is stored");
        assert!(server.hits.load(std::sync::atomic::Ordering::SeqCst) > 0);
        app.stop().await;
    }
}

/// 40 queries to a hung source with 20 in flight (the default) would take two waves of three
/// 0.5 s tries each; the deadline bounds the whole judgment instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judgment_deadline_covers_retries_and_waves() {
    let hung = fake::silent().await;
    let app = app_on(&hung.url, 1.0).await;
    let metrics: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("m{i}"), "query": "latency_seconds{version=\"${scope}\"}"}))
        .collect();
    let body = json!({
        "template": {"name": "many", "step_seconds": 10, "metrics": metrics},
        "baseline": "baseline", "canary": "canary", "start": T0, "end": T0 + 600,
    });
    let started = Instant::now();
    let (status, e) = app.post("/api/v1/judgments", &body).await;
    let took = started.elapsed();
    assert_eq!(status, 504, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("within the judgment's deadline of 1 s"),
        "{e}"
    );
    // Without the deadline: 2 waves of 3 tries of 0.5 s each, and their backoff, = 3.6 s. A
    // generous bound, below that, so that only a missing deadline fails it.
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_that_could_not_be_read_are_errors_and_scoring_decides() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    // Requests for the metric whose query mentions `outage` fail; the others reach the real
    // Prometheus.
    let proxy = fake::failing_proxy(upstream, "outage").await;
    let app = app_on(&proxy.url, 5.0).await;
    let metric = |name: &str, query: &str| json!({"name": name, "query": query});
    let body = json!({
        "template": {"name": "partial", "step_seconds": 10, "metrics": [
            metric("a", "latency_seconds{version=\"${scope}\"}"),
            metric("b", "latency_seconds{version=\"${scope}\"} * 1"),
            metric("broken", "latency_seconds{version=\"${scope}\",dc!=\"outage\"}"),
        ]},
        "baseline": "baseline", "canary": "baseline", "start": T0, "end": T0 + 600,
    });
    let (status, made) = app.post("/api/v1/judgments", &body).await;
    assert_eq!(status, 201, "{made}");
    let metrics = made["metrics"].as_array().unwrap();
    let by_name = |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap().clone();
    assert_eq!(by_name("a")["classification"], "pass", "{made}");
    assert_eq!(by_name("b")["classification"], "pass", "{made}");
    let broken = by_name("broken");
    assert_eq!(broken["classification"], "error", "{broken}");
    assert!(
        broken["reason"].as_str().unwrap().contains("answered 500"),
        "{broken}"
    );
    // One error in three is left out of the score: the two readable metrics decide.
    assert_eq!(made["verdict"], "pass", "{made}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exits_1_within_the_deadline_when_the_source_fails() {
    for (fault, server, _) in faults().await {
        let dir = support::Scratch::new("outage-cli");
        let config = dir.file(
            "canaryd.toml",
            &format!(
                "[sources.prometheus]\nkind = \"prometheus\"\nurl = \"{}\"\n\
                 timeout_seconds = 0.5\njudgment_timeout_seconds = 1.5\n",
                server.url
            ),
        );
        let template = dir.file(
            "t.yaml",
            "name: t\nstep_seconds: 10\nmetrics:\n  - name: latency\n    \
             query: latency_seconds{version=\"${scope}\"}\n",
        );
        let args: Vec<String> = [
            "judge",
            "--template",
            &template.display().to_string(),
            "--config",
            &config.display().to_string(),
            "--baseline",
            "baseline",
            "--canary",
            "canary",
            "--start",
            &T0.to_string(),
            "--end",
            &(T0 + 600).to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // The fake answers on this runtime: run the binary off it.
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_canaryd"))
                .args(&args)
                .env_remove("RUST_LOG")
                .output()
                .expect("the canaryd binary runs")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{fault}: {stderr}");
        assert!(out.stdout.is_empty(), "{fault}: no report is printed");
        assert!(stderr.contains("no judgment was made"), "{fault}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_whose_source_is_down_is_retried_then_recorded_as_error() {
    let down = fake::fixed(
        503,
        r#"{"status":"error","errorType":"unavailable","error":"down for maintenance"}"#,
    )
    .await;
    let url = down.url.clone();
    let app = spawn_app(Db::Sqlite, move |s| {
        fast(s);
        s.scheduler.interval_attempts = 2;
        let p = s.sources.get_mut("prometheus").expect("source");
        p.url = url;
        p.options.insert("retry_attempts".into(), json!(1));
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &json!({
                "template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                "start": T0, "lifetime_minutes": 5, "interval_minutes": 2.5,
                "stop_on_fail": true,
            }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    let a = wait_for(&app, id, settled).await;
    let intervals = a["intervals"].as_array().unwrap();
    // stop_on_fail stops on a fail; an interval that could not be judged is not one, so the
    // analysis went on to its last interval.
    assert_eq!(intervals.len(), 2, "{a:#}");
    for i in intervals {
        assert_eq!(i["verdict"], "error", "{i}");
        assert!(i["judgment_id"].is_null(), "{i}");
        assert!(
            i["error"]
                .as_str()
                .unwrap()
                .contains("no judgment was made"),
            "{i}"
        );
    }
    assert_eq!(a["state"], "completed");
    assert_eq!(a["verdict"], "error", "never a pass, never a fail: {a:#}");
    // Each interval was tried twice (interval_attempts), once per scope each time.
    assert_eq!(down.hits.load(std::sync::atomic::Ordering::SeqCst), 8);
    app.stop().await;
}
