//! Scheduled analyses and recurring checks (issue 5), through HTTP, on SQLite and a real
//! PostgreSQL; intervals judged live from the real Prometheus fixture; callbacks received by a
//! local receiver and their signatures checked.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::hooks::Receiver;
use crate::support::{self, T0};

crate::on_both!(
    past_windows_are_judged_at_once_and_called_back,
    stop_on_fail_ends_at_the_first_failing_interval,
    cancel_stops_an_analysis,
    schedules_run_on_their_cron,
);

/// Settings for fast scheduling: no settle delay, short polls, the fixture Prometheus.
pub fn fast(s: &mut canaryd::config::Settings) {
    s.scheduler.settle_seconds = 0.0;
    s.scheduler.poll_interval_ms = 100;
    s.scheduler.retry_delay_seconds = 0.2;
    s.sources.get_mut("prometheus").expect("source").url = support::prometheus().url.clone();
}

/// Polls the analysis until `done` says so (30 s at most).
pub async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, a) = app.get(&format!("/api/v1/analyses/{id}")).await;
        assert_eq!(status, 200, "{a}");
        if done(&a) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "analysis did not get there: {a:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ended, and every callback delivered or given up.
pub fn settled(a: &Value) -> bool {
    matches!(a["state"].as_str(), Some("completed" | "cancelled"))
        && a["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| !d["delivered_at"].is_null() || !d["failed_at"].is_null())
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn analysis_body(canary: &str, hook: &Receiver) -> Value {
    json!({
        "template": "fixture-latency",
        "baseline": "baseline",
        "canary": canary,
        "start": T0,
        "lifetime_minutes": 10,
        "interval_minutes": 2.5,
        "callback_url": hook.url,
        "callback_secret": "s3cret-for-hmac",
        "stop_on_fail": false,
    })
}

async fn past_windows_are_judged_at_once_and_called_back(db: Db) {
    let app = spawn_app(db, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    let (status, made) = app
        .post("/api/v1/analyses", &analysis_body("canary", &hook))
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["interval_count"], 4);
    assert!(
        made.get("callback_secret").is_none(),
        "the secret is never shown"
    );
    let id = made["id"].as_str().unwrap().to_string();
    let a = wait_for(&app, &id, settled).await;
    assert_eq!(a["state"], "completed");
    assert_eq!(a["verdict"], "fail");
    let intervals = a["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 4);
    for (k, i) in intervals.iter().enumerate() {
        assert_eq!(i["index"], k);
        assert_eq!(i["verdict"], "fail", "{i}");
        assert_eq!(
            i["report"]["verdict"], "fail",
            "each interval's report is shown"
        );
        assert_eq!(i["report"]["metrics"][0]["name"], "latency");
        // Growing windows from the start: the end moves by 150 s.
        let start = chrono::DateTime::parse_from_rfc3339(i["start"].as_str().unwrap()).unwrap();
        let end = chrono::DateTime::parse_from_rfc3339(i["end"].as_str().unwrap()).unwrap();
        assert_eq!(start.timestamp(), T0);
        assert_eq!(end.timestamp(), T0 + 150 * (k as i64 + 1));
        let (status, j) = app
            .get(&format!(
                "/api/v1/judgments/{}",
                i["judgment_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(j["input"]["gate"], "analysis");
        assert_eq!(j["input"]["end"], i["end"]);
    }
    // Callbacks: four intervals and the end, each signed and delivered.
    let received = hook.all();
    let events: Vec<String> = received
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "interval").count(),
        4,
        "{events:?}"
    );
    assert_eq!(events.iter().filter(|e| *e == "completed").count(), 1);
    for r in &received {
        let body = r.json();
        assert_eq!(
            r.header("x-canaryd-signature"),
            Some(hmac_hex("s3cret-for-hmac", &r.body).as_str())
        );
        assert_eq!(r.header("x-canaryd-event-id"), body["event_id"].as_str());
        assert_eq!(body["analysis_id"], id);
        assert!(body["analysis_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/analyses/{id}")));
        if body["event"] == "interval" {
            assert!(body["interval"]["report_url"]
                .as_str()
                .unwrap()
                .contains("/api/v1/judgments/"));
        }
    }
    let deliveries = a["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 5);
    assert!(deliveries
        .iter()
        .all(|d| d["attempts"] == 1 && d["last_status"] == 200));

    // The same with the canary as its own baseline: every interval passes.
    let (_, made) = app
        .post("/api/v1/analyses", &analysis_body("baseline", &hook))
        .await;
    let a = wait_for(&app, made["id"].as_str().unwrap(), settled).await;
    assert_eq!(a["verdict"], "pass");
    assert!(a["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["verdict"] == "pass"));
    app.stop().await;
}

/// A judgment whose backend hangs holds one judgment slot, not the interval loop: with two
/// slots, every other analysis is judged to the end while it still waits. (The loop used to
/// claim a batch and wait for every judgment of it before claiming again: one hung query
/// stopped all judging until its timeout.)
#[tokio::test]
async fn a_hung_judgment_holds_one_slot_not_the_interval_loop() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let proxy = crate::support::fake::holding_proxy(upstream, "held").await;
    let app = spawn_app(Db::Sqlite, |s| {
        fast(s);
        s.scheduler.max_concurrent_judgments = 2;
        s.scheduler.batch_size = 4;
        let p = s.sources.get_mut("prometheus").expect("source");
        p.url = proxy.url.clone();
        p.timeout_seconds = Some(600.0);
        p.judgment_timeout_seconds = Some(600.0);
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let body = |canary: &str, start: i64| {
        json!({
            "template": "fixture-latency",
            "baseline": "baseline",
            "canary": canary,
            "start": start,
            "lifetime_minutes": 10,
            "interval_minutes": 2.5,
            "stop_on_fail": false,
        })
    };
    // The hung one falls due first, so that it is in the first claimed batch.
    let (status, held) = app.post("/api/v1/analyses", &body("held", T0 - 10)).await;
    assert_eq!(status, 201, "{held}");
    let mut others = Vec::new();
    for _ in 0..6 {
        let (status, made) = app.post("/api/v1/analyses", &body("canary", T0)).await;
        assert_eq!(status, 201, "{made}");
        others.push(made["id"].as_str().unwrap().to_string());
    }
    for id in &others {
        let a = wait_for(&app, id, |a| a["state"] == "completed").await;
        assert_eq!(a["intervals"].as_array().unwrap().len(), 4, "{a:#}");
    }
    let (_, held) = app
        .get(&format!(
            "/api/v1/analyses/{}",
            held["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        held["intervals"].as_array().unwrap().is_empty(),
        "the hung analysis is still waiting for its backend: {held:#}"
    );
    assert!(
        !proxy.requests.lock().unwrap().is_empty(),
        "its query was sent and held"
    );
    app.stop().await;
}

async fn stop_on_fail_ends_at_the_first_failing_interval(db: Db) {
    let app = spawn_app(db, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                    "start": T0, "lifetime_minutes": 10, "interval_minutes": 2,
                    "lookback_minutes": 2}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let a = wait_for(&app, made["id"].as_str().unwrap(), settled).await;
    assert_eq!(a["state"], "completed");
    assert_eq!(a["verdict"], "fail");
    assert_eq!(a["intervals"].as_array().unwrap().len(), 1);
    assert!(
        a["reason"].as_str().unwrap().contains("stop_on_fail"),
        "{a}"
    );
    // A sliding window of 2 minutes.
    let i = &a["intervals"][0];
    let start = chrono::DateTime::parse_from_rfc3339(i["start"].as_str().unwrap()).unwrap();
    assert_eq!(start.timestamp(), T0);
    app.stop().await;
}

async fn cancel_stops_an_analysis(db: Db) {
    let app = spawn_app(db, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    // Starts now: its first window closes in an hour.
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                    "lifetime_minutes": 240, "interval_minutes": 60,
                    "callback_url": hook.url, "callback_secret": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["state"], "pending");
    assert_eq!(made["next"]["index"], 0);
    let id = made["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, a) = app.get(&format!("/api/v1/analyses/{id}")).await;
    assert_eq!(
        a["intervals"],
        json!([]),
        "nothing is judged before its window closes"
    );

    let r = app
        .client
        .delete(app.at(&format!("/api/v1/analyses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let a = wait_for(&app, id, settled).await;
    assert_eq!(a["state"], "cancelled");
    assert_eq!(a["next"], Value::Null);
    let events: Vec<Value> = hook.all().iter().map(|r| r.json()).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "cancelled");
    let r = app
        .client
        .delete(app.at(&format!("/api/v1/analyses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let (status, e) = app.get("/api/v1/analyses/nope").await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("analysis_not_found"))
    );
    let (_, list) = app.get("/api/v1/analyses?state=cancelled").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(
        list[0]["state"], "cancelled",
        "the same fields as one analysis: {list}"
    );
    assert!(list[0].get("start").is_some() && list[0].get("callback_secret").is_none());
    let (status, _) = app.get("/api/v1/analyses?state=sleeping").await;
    assert_eq!(status, 400);
    app.stop().await;
}

async fn schedules_run_on_their_cron(db: Db) {
    let app = spawn_app(db, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    let (status, s) = app
        .post(
            "/api/v1/schedules",
            &json!({"name": "standing-canary", "cron": "* * * * * *", "template": "fixture-latency",
                    "baseline": "baseline", "canary": "canary", "window_minutes": 5,
                    "callback_url": hook.url, "callback_secret": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{s}");
    let (status, _) = app
        .post(
            "/api/v1/schedules",
            &json!({"name": "standing-canary", "cron": "* * * * *", "template": "fixture-latency",
                    "baseline": "b", "canary": "c", "window_minutes": 5}),
        )
        .await;
    assert_eq!(status, 409);
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        let (_, s) = app.get("/api/v1/schedules/standing-canary").await;
        if s["runs"].as_i64().unwrap() >= 2 && !s["last_judgment_id"].is_null() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the schedule did not run twice: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, j) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            s["last_judgment_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(j["input"]["gate"], "schedule");
    // The window ends at the run time: no data there in the fixture, so a judgment that
    // never passes.
    assert_eq!(j["verdict"], s["last_verdict"]);
    let runs = hook.all();
    assert!(!runs.is_empty());
    assert_eq!(runs[0].json()["event"], "schedule_run");
    let r = app
        .client
        .delete(app.at("/api/v1/schedules/standing-canary"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_analysis_requests_name_the_field() {
    let app = spawn_app(Db::Sqlite, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let base = json!({"template": "fixture-latency", "baseline": "b", "canary": "c",
                      "lifetime_minutes": 10, "interval_minutes": 5});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    for (body, status, path) in [
        (with("interval_minutes", json!(20)), 400, "lifetime_minutes"),
        (with("interval_minutes", json!(0)), 400, "interval_minutes"),
        (with("lookback_minutes", json!(-1)), 400, "lookback_minutes"),
        (with("canary", Value::Null), 400, "canary"),
        (
            with("callback_url", json!("http://10.1.2.3/hook")),
            400,
            "callback_url",
        ),
        (
            with("callback_url", json!("http://127.0.0.1:9/hook")),
            400,
            "callback_secret",
        ),
        (with("callback_secret", json!("k")), 400, "callback_secret"),
        (with("start", json!("tomorrow")), 400, "start"),
        (with("args", json!({"service": "x"})), 400, "args"),
        (with("template", json!("nope")), 404, ""),
    ] {
        let (got, e) = app.post("/api/v1/analyses", &body).await;
        assert_eq!(got, status, "{body} -> {e}");
        if !path.is_empty() {
            assert_eq!(e["error"]["path"], path, "{body} -> {e}");
        }
    }
    let (status, e) = app
        .post(
            "/api/v1/schedules",
            &json!({"name": "x", "cron": "every tuesday", "template": "fixture-latency",
                    "baseline": "b", "canary": "c", "window_minutes": 5}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["path"], "cron");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_retried_until_delivered() {
    let app = spawn_app(Db::Sqlite, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(2).await;
    let (_, made) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "baseline",
                    "start": T0, "lifetime_minutes": 5, "interval_minutes": 5,
                    "callback_url": hook.url, "callback_secret": "k"}),
        )
        .await;
    let a = wait_for(&app, made["id"].as_str().unwrap(), settled).await;
    let deliveries = a["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "interval and completed");
    assert!(deliveries.iter().all(|d| !d["delivered_at"].is_null()));
    let attempts: i64 = deliveries
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .sum();
    assert_eq!(
        attempts, 4,
        "two failures, then each delivered: {deliveries:?}"
    );
    assert_eq!(hook.delivered_ids().len(), 2);
    // A retried callback carries the same event id and the same signed body.
    let all = hook.all();
    let first_failed = &all[0];
    let again = all
        .iter()
        .skip(1)
        .find(|r| r.header("x-canaryd-event-id") == first_failed.header("x-canaryd-event-id"))
        .expect("retried");
    assert_eq!(again.body, first_failed.body);
    app.stop().await;
}

/// Issue 12 (7): huge, negative and fractional numbers in every numeric field of analyses,
/// schedules and both gates are a 400 whose message names the field. They used to panic in
/// chrono's time arithmetic (the connection dropped without an answer), or, for a step of 2^63
/// or more, be stored as a negative number.
#[test]
fn hostile_numbers_get_a_400_naming_the_field() {
    use canaryd::service::plan::MAX_MINUTES;
    use canaryd::source::MAX_STEP_SECONDS;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(async {
        let app = spawn_app(Db::Sqlite, fast).await;
        app.put_fixture_template("fixture-latency").await;
        app
    });
    // Durations in minutes: beyond 100 years, or below zero.
    let minutes = prop_oneof![MAX_MINUTES * 1.000_001..1e300, -1e300..-1e-6f64]
        .prop_map(|v| json!(v))
        .boxed();
    // Whole numbers: beyond the largest step, negative, or fractional.
    let whole = prop_oneof![
        (MAX_STEP_SECONDS + 1..=u64::MAX).prop_map(|v| json!(v)),
        (i64::MIN..0i64).prop_map(|v| json!(v)),
        (0u32..1_000_000).prop_map(|k| json!(f64::from(k) + 0.5)),
    ]
    .boxed();
    let fields = prop_oneof![
        Just(("analysis", "lifetime_minutes")),
        Just(("analysis", "interval_minutes")),
        Just(("analysis", "begin_after_minutes")),
        Just(("analysis", "lookback_minutes")),
        Just(("analysis", "step_seconds")),
        Just(("schedule", "window_minutes")),
        Just(("schedule", "step_seconds")),
        Just(("argo", "window_minutes")),
        Just(("argo", "step_seconds")),
        Just(("flagger", "window_minutes")),
        Just(("flagger", "step_seconds")),
    ];
    let case = fields.prop_flat_map(move |(target, field)| {
        let values = if field.ends_with("_minutes") && matches!(target, "analysis" | "schedule") {
            minutes.clone()
        } else {
            whole.clone()
        };
        (Just(target), Just(field), values)
    });
    let mut runner = TestRunner::new(Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    });
    let seen = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&case, |(target, field, value)| {
            let text = match &value {
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            let (status, e) = rt.block_on(async {
                match target {
                    "analysis" => {
                        let mut b = json!({"template": "fixture-latency", "baseline": "b",
                                           "canary": "c", "lifetime_minutes": 10,
                                           "interval_minutes": 5});
                        b[field] = value.clone();
                        app.post("/api/v1/analyses", &b).await
                    }
                    "schedule" => {
                        let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let mut b = json!({"name": format!("s{n}"), "cron": "@hourly",
                                           "template": "fixture-latency", "baseline": "b",
                                           "canary": "c", "window_minutes": 5});
                        b[field] = value.clone();
                        app.post("/api/v1/schedules", &b).await
                    }
                    "argo" => {
                        app.get(&format!(
                            "/api/v1/gates/argo?template=fixture-latency&baseline=b&canary=c\
                             &{field}={text}"
                        ))
                        .await
                    }
                    _ => {
                        let b = json!({"name": "podinfo", "namespace": "test",
                                       "phase": "Progressing", "metadata": {
                                           "template": "fixture-latency", "baseline": "b",
                                           "canary": "c", field: text}});
                        app.post("/api/v1/gates/flagger", &b).await
                    }
                }
            });
            prop_assert_eq!(status, 400, "{} {}={} -> {}", target, field, text, e);
            let message = e["error"]["message"].as_str().unwrap_or_default();
            prop_assert!(
                message.contains(field),
                "{} {}={} -> {}",
                target,
                field,
                text,
                e
            );
            Ok(())
        })
        .unwrap();
    // The cases the outside probe reported, exactly.
    rt.block_on(async {
        for (path, body) in [
            (
                "/api/v1/analyses",
                json!({"template": "fixture-latency", "baseline": "b", "canary": "c",
                       "lifetime_minutes": 10, "interval_minutes": 5,
                       "begin_after_minutes": 1e13}),
            ),
            (
                "/api/v1/analyses",
                json!({"template": "fixture-latency", "baseline": "b", "canary": "c",
                       "lifetime_minutes": 1e14, "interval_minutes": 1e12}),
            ),
            (
                "/api/v1/analyses",
                json!({"template": "fixture-latency", "baseline": "b", "canary": "c",
                       "lifetime_minutes": 10, "interval_minutes": 5,
                       "step_seconds": 9_223_372_036_854_775_808u64}),
            ),
            (
                "/api/v1/analyses",
                json!({"template": "fixture-latency", "baseline": "b", "canary": "c",
                       "lifetime_minutes": 10, "interval_minutes": 5,
                       "start": 8_210_266_876_700i64}),
            ),
        ] {
            let (status, e) = app.post(path, &body).await;
            assert_eq!(status, 400, "{body} -> {e}");
        }
        let (status, e) = app
            .get("/api/v1/gates/argo?template=fixture-latency&baseline=b&canary=c&window_minutes=200000000000000000")
            .await;
        assert_eq!(status, 400, "{e}");
        assert_eq!(e["error"]["path"], "window_minutes", "{e}");
        let (status, e) = app
            .get("/api/v1/gates/argo?template=fixture-latency&baseline=b&canary=c&template_version=9223372036854775808")
            .await;
        assert_eq!(status, 400, "{e}");
        assert_eq!(e["error"]["path"], "template_version", "{e}");
        // Nothing was stored with a wrapped step.
        let (_, list) = app.get("/api/v1/analyses").await;
        assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    });
    rt.block_on(app.stop());
}

/// The scheduler on a manual clock, in this process, with no sleep anywhere: an interval is
/// not judged a millisecond before its window has closed plus the settle delay, is judged
/// once it has; a lease another instance holds (and never records under) keeps the work from
/// this one until the lease runs out, and not a millisecond longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_fall_due_and_leases_expire_on_the_injected_clock() {
    use std::sync::Arc;

    use canaryd::clock::Clock;
    use canaryd::config::{Settings, SourceSettings};
    use canaryd::scheduler::Scheduler;
    use canaryd::service::analyses::{analysis_detail, create_analysis, AnalysisSpec};
    use canaryd::store::{AnalysisState, Store, Verdict};
    use chrono::Duration as Span;
    use tokio::sync::Notify;

    let scratch = support::Scratch::new("clock");
    let points: Vec<f64> = (0..20).map(|i| 10.0 + f64::from(i % 5)).collect();
    let data = scratch.file(
        "recorded.json",
        &json!({"metrics": {"lat": {"baseline": points, "canary": points}}}).to_string(),
    );
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}", scratch.path.join("canaryd.db").display());
    settings.sources.clear();
    settings.sources.insert(
        "recorded".into(),
        SourceSettings {
            kind: "file".into(),
            url: data.display().to_string(),
            ..SourceSettings::default()
        },
    );
    settings.scheduler.settle_seconds = 30.0;
    settings.scheduler.lease_seconds = 60.0;
    settings.scheduler.instance_id = "a".into();
    let t0 = chrono::DateTime::from_timestamp(T0, 0).unwrap();
    let clock = Clock::manual(t0);
    let store = Arc::new(
        Store::connect(&settings.store.url)
            .await
            .expect("store")
            .with_clock(clock.clone()),
    );
    let template = "name: clocked\nsource: recorded\nstep_seconds: 60\nmetrics:\n  - name: lat\n    query: 'lat{v=\"${scope}\"}'\n";
    store
        .put_template("clocked", template, "test")
        .await
        .expect("template");
    let made = create_analysis(
        &settings,
        &store,
        &Notify::new(),
        "clock-test".into(),
        AnalysisSpec {
            template: "clocked".into(),
            template_version: None,
            args: Default::default(),
            baseline: "baseline".into(),
            canary: "canary".into(),
            start: None,
            lifetime_minutes: 10.0,
            interval_minutes: 5.0,
            begin_after_minutes: 0.0,
            lookback_minutes: 0.0,
            step_seconds: None,
            callback_url: None,
            callback_secret: None,
            stop_on_fail: None,
            sequential: None,
        },
    )
    .await
    .expect("analysis");
    let id = made.analysis.id.clone();
    assert_eq!(
        made.analysis.start_at, t0,
        "the start defaults to the clock's now"
    );
    let a = Arc::new(Scheduler::new(
        settings,
        store.clone(),
        Arc::new(Notify::new()),
    ));
    let judged = || async { analysis_detail(&store, &id).await.expect("read").intervals };

    // Interval 0's window closes at t0 + 5 min; it is due 30 s later.
    clock.set(t0 + Span::minutes(5) + Span::seconds(30) - Span::milliseconds(1));
    assert_eq!(a.run_due().await.expect("pass"), 0, "not due yet");
    assert!(judged().await.is_empty());
    clock.advance(Span::milliseconds(1));
    assert_eq!(a.run_due().await.expect("pass"), 1);
    let intervals = judged().await;
    assert_eq!(intervals.len(), 1);
    assert_eq!(intervals[0].verdict, Verdict::Pass);
    assert_eq!(intervals[0].judged_at, clock.now(), "stamped on the clock");

    // Interval 1 falls due; instance b claims it and never records (it died).
    clock.set(t0 + Span::minutes(10) + Span::seconds(30));
    let taken = store
        .claim_due_analyses("b", clock.now() + Span::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(taken, vec![id.clone()]);
    assert_eq!(a.run_due().await.expect("pass"), 0, "b's lease holds");
    clock.advance(Span::seconds(60));
    assert_eq!(
        a.run_due().await.expect("pass"),
        0,
        "to its last millisecond"
    );
    clock.advance(Span::milliseconds(1));
    assert_eq!(a.run_due().await.expect("pass"), 1, "expired: a takes it");
    let d = analysis_detail(&store, &id).await.expect("read");
    assert_eq!(d.intervals.len(), 2);
    assert_eq!(d.intervals[1].judged_by, "a");
    assert_eq!(d.analysis.state, AnalysisState::Completed);
    store.close().await;
}

/// What the scheduler's timer reads: the open analyses nobody holds a lease on, due up to the
/// horizon, earliest first and at most the limit. A leased, a cancelled and a later analysis
/// are left out, so a due row another instance is judging never makes this one spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_reads_only_free_open_analyses_due_by_its_horizon() {
    use canaryd::clock::Clock;
    use canaryd::config::Settings;
    use canaryd::service::analyses::{cancel_analysis, create_analysis, AnalysisSpec};
    use canaryd::store::Store;
    use chrono::Duration as Span;
    use tokio::sync::Notify;

    let scratch = support::Scratch::new("timer-read");
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}", scratch.path.join("canaryd.db").display());
    settings.scheduler.settle_seconds = 0.0;
    let t0 = chrono::DateTime::from_timestamp(T0, 0).unwrap();
    let clock = Clock::manual(t0);
    let store = Store::connect(&settings.store.url)
        .await
        .expect("store")
        .with_clock(clock.clone());
    let template = "name: timed\nstep_seconds: 60\nmetrics:\n  - name: lat\n    query: 'lat{v=\"${scope}\"}'\n";
    store
        .put_template("timed", template, "test")
        .await
        .expect("template");
    let wake = Notify::new();
    let mut ids = Vec::new();
    // First intervals end (and fall due, settle 0) at t0 + 1, 2, 3, 4 and 10 minutes.
    for begin_after in [0.0, 1.0, 2.0, 3.0, 9.0] {
        let made = create_analysis(
            &settings,
            &store,
            &wake,
            format!("timer-{begin_after}"),
            AnalysisSpec {
                template: "timed".into(),
                template_version: None,
                args: Default::default(),
                baseline: "baseline".into(),
                canary: "canary".into(),
                start: None,
                lifetime_minutes: 2.0,
                interval_minutes: 1.0,
                begin_after_minutes: begin_after,
                lookback_minutes: 0.0,
                step_seconds: None,
                callback_url: None,
                callback_secret: None,
                stop_on_fail: None,
                sequential: None,
            },
        )
        .await
        .expect("analysis");
        ids.push((made.analysis.id.clone(), made.analysis.next_due_at));
    }
    assert!(
        ids.windows(2).all(|w| w[0].1 < w[1].1),
        "due times in order: {ids:?}"
    );
    // At t0 + 1 min the first is due; instance b takes it. The third is cancelled.
    clock.set(ids[0].1);
    let taken = store
        .claim_due_analyses("b", clock.now() + Span::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(taken, vec![ids[0].0.clone()]);
    cancel_analysis(&settings, &store, &wake, &ids[2].0)
        .await
        .expect("cancel");

    let read = store
        .due_analyses(ids[3].1, 100)
        .await
        .expect("read due analyses");
    assert_eq!(
        read,
        vec![ids[1].clone(), ids[3].clone()],
        "leased, cancelled and later analyses are left out"
    );
    let cut = store.due_analyses(ids[4].1, 1).await.expect("read");
    assert_eq!(
        cut,
        vec![ids[1].clone()],
        "the earliest first, at most the limit"
    );
    // Once b's lease has run out, its analysis is free again.
    clock.advance(Span::seconds(61));
    let read = store.due_analyses(ids[4].1, 100).await.expect("read");
    assert_eq!(
        read,
        vec![
            ids[0].clone(),
            ids[1].clone(),
            ids[3].clone(),
            ids[4].clone()
        ]
    );
    store.close().await;
}
