//! Where callbacks may go (issue 13 item 7): loopback is refused unless `[callbacks]
//! allow_loopback`, both when an analysis is made (400 naming `callback_url`) and when its
//! callbacks are delivered (given up, nothing sent), so that a token of role `judge` cannot
//! make canaryd POST to this host's own services.

use serde_json::{json, Value};

use crate::analyses::{fast, settled, wait_for};
use crate::support::app::{spawn_app, spawn_with, test_settings, Db};
use crate::support::hooks::Receiver;
use crate::support::T0;

fn analysis(url: &str) -> Value {
    json!({"template": "fixture-latency", "baseline": "baseline", "canary": "baseline",
           "start": T0, "lifetime_minutes": 5, "interval_minutes": 5,
           "callback_url": url, "callback_secret": "k"})
}

fn refuse_loopback(s: &mut canaryd::config::Settings) {
    fast(s);
    s.callbacks.allow_loopback = false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_callbacks_are_refused_by_default() {
    assert!(
        !canaryd::config::Settings::default()
            .callbacks
            .allow_loopback
    );
    let app = spawn_app(Db::Sqlite, |s| {
        refuse_loopback(s);
        // Even "any host" does not open loopback.
        s.callbacks.allowed_hosts = vec!["*".into()];
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    let port = hook
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook");
    for url in [
        hook.url.clone(),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        "http://127.0.0.1:9090/api/v1/admin/tsdb/delete_series".to_string(),
    ] {
        let (status, e) = app.post("/api/v1/analyses", &analysis(&url)).await;
        assert_eq!(status, 400, "{url} -> {e}");
        assert_eq!(e["error"]["path"], "callback_url", "{url} -> {e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains("allow_loopback"), "{url} -> {e}");
    }
    let (status, e) = app
        .post(
            "/api/v1/analyses",
            &analysis("http://169.254.169.254/latest/meta-data"),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow_link_local"),
        "{e}"
    );
    // Recurring checks take the same callback settings.
    let (status, e) = app
        .post(
            "/api/v1/schedules",
            &json!({"name": "x", "cron": "*/5 * * * *", "template": "fixture-latency",
                    "baseline": "b", "canary": "c", "window_minutes": 5,
                    "callback_url": hook.url, "callback_secret": "k"}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["path"], "callback_url", "{e}");
    app.stop().await;
    assert!(hook.all().is_empty(), "nothing was sent to loopback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_callbacks_work_with_allow_loopback() {
    let app = spawn_app(Db::Sqlite, |s| {
        fast(s);
        s.callbacks.allow_loopback = true;
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    let port = hook
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook");
    let by_name = format!("http://localhost:{port}/hook");
    let mut ids = Vec::new();
    for url in [hook.url.clone(), by_name] {
        let (status, made) = app.post("/api/v1/analyses", &analysis(&url)).await;
        assert_eq!(status, 201, "{url} -> {made}");
        ids.push(made["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let a = wait_for(&app, id, settled).await;
        let deliveries = a["deliveries"].as_array().unwrap();
        assert!(!deliveries.is_empty(), "{a:#}");
        assert!(
            deliveries.iter().all(|d| !d["delivered_at"].is_null()),
            "{a:#}"
        );
    }
    assert_eq!(
        hook.delivered_ids().len(),
        4,
        "interval and completed, twice"
    );
    app.stop().await;
}

/// Accepted while loopback was allowed, delivered after a restart with it refused: the
/// delivery is checked again, given up at once, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_checks_again() {
    let app = spawn_app(Db::Sqlite, |s| {
        fast(s);
        s.callbacks.allow_loopback = true;
        s.scheduler.enabled = false;
    })
    .await;
    app.put_fixture_template("fixture-latency").await;
    let hook = Receiver::start(0).await;
    let (status, made) = app.post("/api/v1/analyses", &analysis(&hook.url)).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    let db_url = app.db_url.clone();
    let scratch = app.stop().await;

    let mut settings = test_settings(&db_url);
    refuse_loopback(&mut settings);
    let app = spawn_with(settings, scratch).await;
    let a = wait_for(&app, &id, settled).await;
    let deliveries = a["deliveries"].as_array().unwrap();
    assert!(!deliveries.is_empty(), "{a:#}");
    for d in deliveries {
        assert!(
            d["delivered_at"].is_null() && !d["failed_at"].is_null(),
            "{a:#}"
        );
        let error = d["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("allow_loopback"), "{a:#}");
    }
    app.stop().await;
    assert!(hook.all().is_empty(), "nothing was sent to loopback");
}
