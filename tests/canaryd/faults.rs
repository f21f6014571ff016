//! The fault matrix (issue 12, item 14; the table is in README "Faults survived"): real
//! processes, a real Prometheus behind a proxy that fails on demand, a PostgreSQL of the test's
//! own stopped and started again, SQLite made read-only, deleted and filled up, a `canaryd
//! serve` killed with SIGKILL mid-write, a callback receiver down for longer than the retry
//! window. For each fault: what the API answers, what is stored, and that nothing is lost or
//! answered twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::analyses::{fast, settled, wait_for};
use crate::durability::Node;
use crate::support::app::{read, spawn_app, spawn_with, test_settings, Db, TestApp};
use crate::support::fake::{self, Mode};
use crate::support::pg::PgCluster;
use crate::support::{self, Scratch, T0};

fn prometheus_upstream() -> String {
    support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string()
}

fn live_body() -> Value {
    json!({
        "template": "fixture-latency", "baseline": "baseline", "canary": "canary",
        "start": T0, "end": T0 + 600,
    })
}

/// A judgment of recorded data: needs the store only.
fn data_body(i: usize) -> Value {
    json!({
        "template": support::fixture_template("fixture-latency"),
        "data": {"metrics": {"latency": {
            "baseline": [1.0, 1.1, 1.2, 0.9, 1.0],
            "canary": [1.0, 1.1, 1.2, 0.9, 1.0 + i as f64 * 1e-3],
        }}},
    })
}

/// Every stored judgment's id, through the history API.
async fn stored_ids(app: &TestApp) -> BTreeSet<String> {
    let (status, page) = app.get("/api/v1/judgments?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["judgments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

/// The source down (connection reset), hanging, answering 500, answering garbage, answering
/// 48 MiB: no verdict (API 5xx, Flagger 412) and nothing stored; once it is back, the same
/// call is judged and stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_faults_are_no_verdict_and_the_next_call_is_judged_once() {
    let (proxy, switch) = fake::switchable_proxy(prometheus_upstream()).await;
    let url = proxy.url.clone();
    let app = spawn_app(Db::Sqlite, move |s| {
        let p = s.sources.get_mut("prometheus").expect("source");
        p.url = url;
        p.timeout_seconds = Some(1.0);
        p.judgment_timeout_seconds = Some(3.0);
        p.options.insert("retry_backoff_ms".into(), json!(10));
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let flagger = json!({
        "name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "c1",
        "metadata": {"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                     "start": T0.to_string(), "end": (T0 + 600).to_string()},
    });
    for (mode, statuses) in [
        (Mode::Reset, [502, 502]),
        (Mode::Hang, [504, 504]),
        (Mode::Error, [502, 502]),
        (Mode::Garbage, [502, 502]),
        (Mode::Oversized, [502, 502]),
    ] {
        let before = stored_ids(&app).await;
        switch.set(mode);
        let (status, e) = app.post("/api/v1/judgments", &live_body()).await;
        assert!(statuses.contains(&status), "{mode:?}: {status} {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no judgment was made"),
            "{mode:?}: {e}"
        );
        let (status, e) = app.post("/api/v1/gates/flagger/rollback", &flagger).await;
        assert_eq!(status, 412, "{mode:?}: never a rollback: {e}");
        assert_eq!(stored_ids(&app).await, before, "{mode:?}: nothing stored");

        switch.set(Mode::Forward);
        let (status, made) = app.post("/api/v1/judgments", &live_body()).await;
        assert_eq!(status, 201, "{mode:?}, then back: {made}");
        let id = made["id"].as_str().unwrap().to_string();
        let (status, got) = app.get(&format!("/api/v1/judgments/{id}")).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["verdict"], made["verdict"]);
        let after = stored_ids(&app).await;
        assert_eq!(after.len(), before.len() + 1, "{mode:?}: stored once");
        assert!(after.contains(&id));
    }
    app.stop().await;
}

/// PostgreSQL stopped while an analysis runs, then started again: while it is down, writes
/// and reads answer 503 `store_error` and `/readyz` 503; once it is back, the analysis
/// finishes with every interval recorded exactly once, each with one judgment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_analysis_then_started_loses_and_repeats_nothing() {
    let pg = PgCluster::start();
    // Each interval's queries take 300 ms: the analysis is still running when PostgreSQL stops.
    let slow = fake::slow_proxy(prometheus_upstream(), Duration::from_millis(300)).await;
    let mut settings = test_settings(&pg.url());
    fast(&mut settings);
    settings.sources.get_mut("prometheus").expect("source").url = slow.url.clone();
    settings.scheduler.lease_seconds = 2.0;
    let app = spawn_with(settings, std::sync::Arc::new(Scratch::new("pg-fault"))).await;
    app.put_fixture_template("fixture-latency").await;
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "baseline",
                    "start": T0, "lifetime_minutes": 30, "interval_minutes": 2.5,
                    "stop_on_fail": false}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    wait_for(&app, &id, |a| a["intervals"].as_array().unwrap().len() >= 2).await;

    pg.stop();
    let (status, e) = app.post("/api/v1/judgments", &data_body(0)).await;
    assert_eq!(status, 503, "{e}");
    assert_eq!(e["error"]["code"], "store_error", "{e}");
    let (status, e) = app.get(&format!("/api/v1/analyses/{id}")).await;
    assert_eq!(status, 503, "{e}");
    let r = app.client.get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        503,
        "a store that is down is not ready"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.resume();

    let a = wait_for(&app, &id, settled).await;
    let intervals = a["intervals"].as_array().unwrap();
    let idx: Vec<i64> = intervals
        .iter()
        .map(|i| i["index"].as_i64().unwrap())
        .collect();
    assert_eq!(idx, (0..12).collect::<Vec<_>>(), "{a:#}");
    assert!(
        intervals
            .iter()
            .all(|i| i["judgment_id"].is_string() && i["verdict"] == "pass"),
        "{a:#}"
    );
    let ids = stored_ids(&app).await;
    assert_eq!(ids.len(), 12, "one judgment per interval, none for the 503");
    for i in intervals {
        assert!(ids.contains(i["judgment_id"].as_str().unwrap()));
    }
    let r = app.client.get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.stop().await;
}

/// `canaryd serve` on SQLite killed with SIGKILL in the middle of a burst of writes: after a
/// restart every judgment that was answered 201 is there, as answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_write_loses_no_answered_judgment() {
    let dir = Scratch::new("kill-write");
    let store = format!("sqlite://{}", dir.path.join("canaryd.db").display());
    let source = support::prometheus().url.clone();
    let mut node = Node::start(&dir.path, "a", &store, &source);
    let client = reqwest::Client::new();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Value)>::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, url, answered) = (client.clone(), node.url.clone(), answered.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..1000 {
                let sent = client
                    .post(format!("{url}/api/v1/judgments"))
                    .json(&data_body(w * 1000 + i))
                    .send()
                    .await;
                let Ok(r) = sent else { return };
                let (status, v) = read(r).await;
                if status != 201 {
                    return;
                }
                let id = v["id"].as_str().unwrap().to_string();
                answered.lock().unwrap().push((id, v["verdict"].clone()));
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "the writes did not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.kill();
    for w in writers {
        let _ = w.await;
    }
    let answered = answered.lock().unwrap().clone();
    let node = Node::start(&dir.path, "b", &store, &source);
    for (id, verdict) in &answered {
        let (status, got) = read(
            client
                .get(format!("{}/api/v1/judgments/{id}", node.url))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "answered 201, then lost: {id} {got}");
        assert_eq!(&got["verdict"], verdict);
    }
    let unique: BTreeSet<&String> = answered.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), answered.len(), "no id answered twice");
}

/// A callback receiver down for longer than `expire_after_minutes`: every callback is tried,
/// then given up and shown so; the analysis completes; nothing is delivered later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_to_a_receiver_down_past_the_retry_window_are_given_up_once() {
    let port = support::free_port(); // nothing listens there
    let app = spawn_app(Db::Sqlite, |s| {
        fast(s);
        s.callbacks.expire_after_minutes = 0.05; // 3 s
        s.callbacks.max_backoff_seconds = 1.0;
        s.callbacks.timeout_seconds = 1.0;
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let (status, made) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "baseline",
                    "start": T0, "lifetime_minutes": 5, "interval_minutes": 2.5,
                    "callback_url": format!("http://127.0.0.1:{port}/hook"),
                    "callback_secret": "s3cret", "stop_on_fail": false}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    let a = wait_for(&app, id, settled).await;
    assert_eq!(a["state"], "completed");
    let deliveries = a["deliveries"].as_array().unwrap();
    // Two intervals and the end.
    assert_eq!(deliveries.len(), 3, "{a:#}");
    for d in deliveries {
        assert!(d["delivered_at"].is_null(), "{d}");
        assert!(!d["failed_at"].is_null(), "given up: {d}");
        assert!(d["attempts"].as_i64().unwrap() >= 1, "{d}");
    }
    // The receiver comes back: nothing given up is sent again.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the receiver's port is free again");
    let late = tokio::time::timeout(Duration::from_secs(3), listener.accept()).await;
    assert!(late.is_err(), "a callback given up was sent again");
    app.stop().await;
}

/// A tmpfs of `size` mounted at `dir`, unmounted when dropped; `None` where the machine does
/// not allow mounting (the test then says so and checks nothing else).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount the tmpfs at {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// SQLite on a full disk (a 3 MiB tmpfs): writes answer 201 until the disk is full, then 503
/// `store_error`, never a 201 for a judgment that was not stored; reads go on; once there is
/// room again, writes succeed and everything answered 201 is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_refuses_writes_and_loses_nothing() {
    let scratch = std::sync::Arc::new(Scratch::new("full-disk"));
    let mnt = scratch.path.join("mnt");
    let Some(disk) = Tmpfs::mount(&mnt, "3m") else {
        eprintln!("SKIPPED: this machine does not allow mounting a tmpfs");
        return;
    };
    let mut settings = test_settings(&format!("sqlite://{}", mnt.join("canaryd.db").display()));
    settings.scheduler.enabled = false;
    settings.store.min_free_bytes = 256 << 10;
    let app = spawn_with(settings, scratch.clone()).await;
    let big = |i: usize| {
        let side: Vec<f64> = (0..2000)
            .map(|k| 1.0 + ((k * 7 + i) % 97) as f64 / 97.0)
            .collect();
        json!({"template": support::fixture_template("fixture-latency"),
               "data": {"metrics": {"latency": {"baseline": side, "canary": side}}}})
    };
    let mut stored = Vec::new();
    let mut refused = None;
    for i in 0..2000 {
        let (status, made) = app.post("/api/v1/judgments", &big(i)).await;
        match status {
            201 => stored.push(made["id"].as_str().unwrap().to_string()),
            503 => {
                refused = Some(made);
                break;
            }
            other => panic!("a full disk answered {other}: {made}"),
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused["error"]["code"], "store_error", "{refused}");
    assert!(!stored.is_empty());
    // The judgment did not fit, but a small write still may. Fill what is left of the disk:
    // then nothing can be committed, and the store is not ready.
    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    while std::io::Write::write_all(&mut f, &[0u8; 65536]).is_ok() {}
    drop(f);
    let r = app.client.get(app.at("/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(
        status, 503,
        "a store that cannot commit is not ready: {body}"
    );
    for id in &stored {
        let (status, _) = app.get(&format!("/api/v1/judgments/{id}")).await;
        assert_eq!(status, 200, "answered 201, then unreadable: {id}");
    }

    std::fs::remove_file(&filler).unwrap();
    disk.resize("64m");
    let (status, made) = app.post("/api/v1/judgments", &big(0)).await;
    assert_eq!(status, 201, "room again: {made}");
    let r = app.client.get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ids = stored_ids(&app).await;
    assert_eq!(ids.len(), stored.len().min(1000) + 1);
    app.stop().await;
    drop(disk);
}
