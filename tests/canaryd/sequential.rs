//! Sequential analyses and gates (issue 17), through HTTP, on SQLite and a real PostgreSQL,
//! judged live from a real Prometheus holding a scripted rollout: baseline and canary from the
//! same deterministic noise, the canary stepping up ×1.5 ten minutes in.

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::hooks::Receiver;
use crate::support::{self, Server, T0};

crate::on_both!(
    a_scripted_regression_fails_at_its_look,
    a_clean_canary_passes_early,
    a_flagger_sequence_rolls_back_once_and_remembers,
    an_argo_sequence_counts_its_looks,
);

/// Seconds between points.
const STEP: i64 = 15;
/// When the canary steps up, after T0.
const STEP_AT: i64 = 600;
/// How long the scripted rollout lasts.
const SPAN: i64 = 3600;

/// A deterministic uniform in [-1, 1) (a 64-bit LCG, Knuth's MMIX constants).
fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// The scripted rollout as OpenMetrics: `rollout_latency{version=...}` for `baseline`,
/// `regressed` (×1.5 from STEP_AT) and `clean` (the baseline's process, other noise).
fn rollout() -> String {
    let mut text = String::from("# TYPE rollout_latency gauge\n");
    let mut seed = 42u64;
    for version in ["baseline", "regressed", "clean"] {
        let mut t = 0;
        while t <= SPAN {
            let base = 100.0 + 5.0 * noise(&mut seed);
            let v = if version == "regressed" && t >= STEP_AT {
                base * 1.5
            } else {
                base
            };
            text.push_str(&format!(
                "rollout_latency{{version=\"{version}\"}} {v:.3} {}\n",
                T0 + t
            ));
            t += STEP;
        }
    }
    text.push_str("# EOF\n");
    text
}

/// The Prometheus holding [`rollout`], started once for the tests of the process.
fn rollout_prometheus() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| support::start_prometheus(&rollout()))
}

async fn app(db: Db) -> TestApp {
    let url = rollout_prometheus().url.clone();
    let app = spawn_app(db, move |s| {
        crate::analyses::fast(s);
        s.sources.get_mut("prometheus").expect("source").url = url;
    })
    .await;
    let template = json!({
        "name": "rollout",
        "step_seconds": STEP,
        "metrics": [{
            "name": "latency",
            "query": "rollout_latency{version=\"${scope}\"}",
            "judge": {"test": "mann-whitney", "direction": "increase", "allowed_increase": 1.2}
        }]
    });
    let (status, body) = put(&app, "/api/v1/templates/rollout", &template).await;
    assert_eq!(status, 201, "{body}");
    app
}

async fn put(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .put(app.at(path))
        .json(body)
        .send()
        .await
        .expect("request");
    crate::support::app::read(r).await
}

/// A 6-interval analysis of 5 minutes each, windows growing from T0.
fn analysis(canary: &str, sequential: Value) -> Value {
    json!({
        "template": "rollout",
        "baseline": "baseline",
        "canary": canary,
        "start": T0,
        "lifetime_minutes": 30,
        "interval_minutes": 5,
        "sequential": sequential,
    })
}

fn decisions(a: &Value) -> Vec<String> {
    a["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .map(|i| {
            i["sequential"]["decision"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect()
}

/// The step at minute 10 is the whole window of look 3 (10..15 min, a 5-minute lookback) and
/// in none of looks 1 and 2: the analysis goes on twice, fails at look 3 and stops there
/// (stop_on_fail), with its callback carrying the decision and the look.
async fn a_scripted_regression_fails_at_its_look(db: Db) {
    let app = app(db).await;
    let hook = Receiver::start(0).await;
    let mut body = analysis("regressed", json!({"alpha": 0.05}));
    body["lookback_minutes"] = json!(5);
    body["callback_url"] = json!(hook.url);
    body["callback_secret"] = json!("s3cret");
    let (status, made) = app.post("/api/v1/analyses", &body).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["sequential"]["alpha"], 0.05);
    let id = made["id"].as_str().unwrap().to_string();
    let a = crate::analyses::wait_for(&app, &id, crate::analyses::settled).await;
    assert_eq!(decisions(&a), ["continue", "continue", "fail"], "{a:#}");
    assert_eq!(a["state"], "completed");
    assert_eq!(a["verdict"], "fail");
    assert!(
        a["reason"].as_str().unwrap().contains("look 3 of 6"),
        "{}",
        a["reason"]
    );
    for (k, i) in a["intervals"].as_array().unwrap().iter().enumerate() {
        let s = &i["sequential"];
        assert_eq!(s["look"], k + 1);
        assert_eq!(s["of"], 6);
        assert!(s["boundary"].as_f64().unwrap().is_finite(), "{s}");
        // The report of the interval's judgment carries the same look, and a replay of the
        // stored judgment judges that same look again.
        assert_eq!(i["report"]["sequential"], *s);
        let (status, replayed) = app
            .post(
                &format!(
                    "/api/v1/judgments/{}/replay",
                    i["judgment_id"].as_str().unwrap()
                ),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{replayed}");
        assert_eq!(replayed["identical"], true, "{replayed:#}");
        assert_eq!(replayed["report"]["sequential"]["decision"], s["decision"]);
    }
    let last = hook
        .all()
        .into_iter()
        .map(|r| r.json())
        .rfind(|b| b["event"] == "interval")
        .expect("interval callbacks");
    assert_eq!(last["decision"], "fail");
    assert_eq!(last["look"], 3);
    assert_eq!(last["interval"]["sequential"]["decision"], "fail");
    // The report page draws the evidence path against its boundaries, one dot per look.
    let page = reqwest::get(app.at(&format!("/analyses/{id}")))
        .await
        .expect("page")
        .text()
        .await
        .expect("page text");
    assert!(page.contains(r#"class="chart sequential""#), "{page}");
    assert_eq!(page.matches(r#"<circle class="look "#).count(), 3, "{page}");
    assert_eq!(page.matches(r#"class="look fail""#).count(), 1);
    assert!(page.contains(r#"id="looks""#));
    app.stop().await;
}

/// A canary from the baseline's own process, with `pass_early` and the template's
/// `allowed_increase` 1.2: the evidence bounds the change within +20% before the last look.
async fn a_clean_canary_passes_early(db: Db) {
    let app = app(db).await;
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &analysis("clean", json!({"alpha": 0.05, "pass_early": true})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    let a = crate::analyses::wait_for(&app, &id, crate::analyses::settled).await;
    let d = decisions(&a);
    assert_eq!(d.last().map(String::as_str), Some("pass"), "{a:#}");
    assert!(d.len() < 6, "passed before the last look: {d:?}");
    assert!(d[..d.len() - 1].iter().all(|x| x == "continue"), "{d:?}");
    assert_eq!(a["verdict"], "pass");
    assert!(
        a["reason"].as_str().unwrap().contains("early"),
        "{}",
        a["reason"]
    );

    // Without pass_early the same canary goes to the last look and passes there.
    let (_, made) = app
        .post("/api/v1/analyses", &analysis("clean", json!({})))
        .await;
    let a = crate::analyses::wait_for(&app, made["id"].as_str().unwrap(), crate::analyses::settled)
        .await;
    assert_eq!(
        decisions(&a),
        ["continue", "continue", "continue", "continue", "continue", "pass"]
    );
    assert_eq!(a["verdict"], "pass");
    assert_eq!(a["sequential"]["alpha"], 0.05, "alpha defaults to 0.05");
    app.stop().await;
}

/// Flagger metadata for the 5 minutes before `end` seconds after T0.
fn flagger(checksum: &str, end: i64) -> Value {
    json!({
        "name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": checksum,
        "metadata": {
            "template": "rollout", "baseline": "baseline", "canary": "regressed",
            "start": (T0 + end - 300).to_string(), "end": (T0 + end).to_string(),
            "alpha": "0.05", "looks": "6",
        }
    })
}

/// Flagger's rollback hook, sequential: one canary revision's calls are looks 1, 2, 3...; the
/// look that decides fail answers "roll back" (200), and later calls for that revision get
/// the same deciding judgment without a new look. Another revision is a new sequence.
async fn a_flagger_sequence_rolls_back_once_and_remembers(db: Db) {
    let app = app(db).await;
    let mut looks = Vec::new();
    for (n, end) in [300, 600, 900].into_iter().enumerate() {
        let r = reqwest::Client::new()
            .post(app.at("/api/v1/gates/flagger/rollback"))
            .json(&flagger("rev-1", end))
            .send()
            .await
            .expect("request");
        let (status, summary) = crate::support::app::read(r).await;
        let id = summary["id"].as_str().expect("summary id").to_string();
        let (_, j) = app.get(&format!("/api/v1/judgments/{id}")).await;
        assert_eq!(j["sequential"]["look"], n + 1, "{j:#}");
        assert_eq!(j["sequential"]["of"], 6);
        looks.push((
            status,
            summary["decision"].as_str().unwrap_or("").to_string(),
        ));
    }
    assert_eq!(
        looks,
        [
            (412, "continue".to_string()),
            (412, "continue".to_string()),
            (200, "fail".to_string())
        ],
        "keep, keep, roll back"
    );
    // Decided: the same revision asking again (a later window) gets the deciding judgment.
    let r = reqwest::Client::new()
        .post(app.at("/api/v1/gates/flagger/rollback"))
        .json(&flagger("rev-1", 1200))
        .send()
        .await
        .expect("request");
    let (status, summary) = crate::support::app::read(r).await;
    assert_eq!(status, 200);
    assert_eq!(summary["reused"], true);
    assert_eq!(summary["decision"], "fail");
    // A new revision starts its own sequence at look 1.
    let r = reqwest::Client::new()
        .post(app.at("/api/v1/gates/flagger/rollback"))
        .json(&flagger("rev-2", 300))
        .send()
        .await
        .expect("request");
    let (status, summary) = crate::support::app::read(r).await;
    assert_eq!(status, 412);
    let (_, j) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            summary["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(j["sequential"]["look"], 1);
    app.stop().await;
}

/// Argo's calls name their sequence; without one, alpha is refused naming `sequence`.
async fn an_argo_sequence_counts_its_looks(db: Db) {
    let app = app(db).await;
    let q = |seq: &str, end: i64| {
        format!(
            "/api/v1/gates/argo?template=rollout&baseline=baseline&canary=clean&start={T0}\
             &end={}&{seq}",
            T0 + end
        )
    };
    let (status, body) = app.get(&q("alpha=0.05", 300)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("sequence")
            || body.to_string().contains("sequence"),
        "{body}"
    );
    for (n, end) in [300, 600].into_iter().enumerate() {
        let (status, body) = app.get(&q("sequence=rollout-abc&looks=6", end)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["sequential"]["look"], n + 1, "{body:#}");
        assert_eq!(body["summary"]["decision"], "continue");
    }
    // Another sequence key is another sequence.
    let (_, body) = app.get(&q("sequence=rollout-def", 300)).await;
    assert_eq!(body["sequential"]["look"], 1);
    assert!(
        body["sequential"]["of"].is_null(),
        "open-ended without looks"
    );
    app.stop().await;
}

/// What a bad `sequential` is told, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sequential_requests_name_the_field() {
    let app = app(Db::Sqlite).await;
    for (sequential, field) in [
        (json!({"alpha": 0}), "sequential"),
        (json!({"alpha": 0.9}), "sequential"),
        (json!({"alpha": -1e308}), "sequential"),
        (json!({"alpha": 0.05, "spending": "linear"}), "spending"),
        (json!({"alpha": 0.05, "pass_erly": true}), "pass_erly"),
        (json!("yes"), "sequential"),
    ] {
        let (status, body) = app
            .post("/api/v1/analyses", &analysis("clean", sequential.clone()))
            .await;
        assert_eq!(status, 400, "{sequential}: {body}");
        assert!(body.to_string().contains(field), "{sequential}: {body}");
    }
    let (_, list) = app.get("/api/v1/analyses").await;
    assert_eq!(
        list.as_array().map(Vec::len).unwrap_or(0),
        0,
        "nothing stored: {list}"
    );
    for (query, field) in [
        ("sequence=a&alpha=nope", "alpha"),
        ("sequence=a&looks=0", "looks"),
        ("sequence=a&pass_early=maybe", "pass_early"),
        ("looks=3", "looks"),
        ("sequence=", "sequence"),
    ] {
        let (status, body) = app
            .get(&format!(
                "/api/v1/gates/argo?template=rollout&baseline=baseline&canary=clean&{query}"
            ))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.to_string().contains(field), "{query}: {body}");
    }
    app.stop().await;
}

/// A sequential analysis and a gate sequence survive a SIGKILL between looks: after the
/// restart, the analysis goes on at the next look (each look judged once, numbered by its
/// interval, held to its own boundary) and the gate's next call is its next look.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_state_survives_a_sigkill_between_looks() {
    use crate::durability::Node;
    use std::time::{Duration, Instant};

    let upstream = rollout_prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let slow = support::fake::slow_proxy(upstream, Duration::from_millis(150)).await;
    let dir = support::Scratch::new("sequential-crash");
    std::fs::create_dir_all(dir.path.join("no-templates")).unwrap();
    let store = format!("sqlite://{}", dir.path.join("canaryd.db").display());
    let client = reqwest::Client::new();
    let mut node = Node::start(&dir.path, "seq-node", &store, &slow.url);
    let template = json!({
        "name": "rollout",
        "step_seconds": STEP,
        "metrics": [{
            "name": "latency",
            "query": "rollout_latency{version=\"${scope}\"}",
            "judge": {"test": "mann-whitney", "direction": "increase"}
        }]
    });
    let r = client
        .put(format!("{}/api/v1/templates/rollout", node.url))
        .json(&template)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = client
        .post(format!("{}/api/v1/analyses", node.url))
        .json(
            &json!({"template": "rollout", "baseline": "baseline", "canary": "clean",
                      "start": T0, "lifetime_minutes": 30, "interval_minutes": 2.5,
                      "sequential": {"alpha": 0.05}}),
        )
        .send()
        .await
        .unwrap();
    let (status, made) = crate::support::app::read(r).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    let gate = |end: i64| {
        let mut f = flagger("rev-k", end);
        f["metadata"]["canary"] = json!("clean");
        f
    };
    for end in [300, 600] {
        let r = client
            .post(format!("{}/api/v1/gates/flagger/rollback", node.url))
            .json(&gate(end))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 412, "clean: keep");
    }
    let analysis = |node: &Node| format!("{}/api/v1/analyses/{id}", node.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, a) =
            crate::support::app::read(client.get(analysis(&node)).send().await.unwrap()).await;
        if a["intervals"].as_array().map_or(0, Vec::len) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {a:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill();

    let node = Node::start(&dir.path, "seq-node", &store, &slow.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    let a = loop {
        let (_, a) =
            crate::support::app::read(client.get(analysis(&node)).send().await.unwrap()).await;
        if a["state"] == "completed" {
            break a;
        }
        assert!(Instant::now() < deadline, "did not complete: {a:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let intervals = a["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 12, "{a:#}");
    for (k, i) in intervals.iter().enumerate() {
        assert_eq!(i["index"], k);
        assert_eq!(i["sequential"]["look"], k + 1, "{i:#}");
        assert_eq!(i["sequential"]["of"], 12);
    }
    assert_eq!(decisions(&a).last().map(String::as_str), Some("pass"));
    assert_eq!(a["verdict"], "pass");
    let r = client
        .post(format!("{}/api/v1/gates/flagger/rollback", node.url))
        .json(&gate(900))
        .send()
        .await
        .unwrap();
    let (_, summary) = crate::support::app::read(r).await;
    let (_, j) = crate::support::app::read(
        client
            .get(format!(
                "{}/api/v1/judgments/{}",
                node.url,
                summary["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        j["sequential"]["look"], 3,
        "the gate's third call is its third look"
    );
}
