//! Data that must never be lost or unreadable (issue 12), on the real app and the real stores:
//! reports with non-finite numbers read back; readiness proves a write commits and notices a
//! SQLite file deleted under the server; instants compare as time whatever the year.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use canaryd::store::{DueKind, NewAnalysis, Store};

use crate::on_both;
use crate::support::app::{fresh_db, spawn_app, Db};

/// One metric per judge kind (counts twice: per step and per total).
fn every_judge() -> Value {
    let metric = |name: &str, judge: Value| json!({"name": name, "query": "m{v=\"${scope}\"}", "judge": judge});
    json!({
        "name": "every-judge",
        "metrics": [
            metric("mann_whitney", json!({"test": "mann-whitney"})),
            metric("threshold", json!({"test": "threshold", "max": 1.0, "max_increase_ratio": 1.5})),
            metric("quantile", json!({"test": "quantile"})),
            metric("scale", json!({"test": "scale"})),
            metric("counts", json!({"test": "counts"})),
            metric("counts_total", json!({"test": "counts", "total": "requests"})),
            metric("requests", json!({"test": "mann-whitney", "direction": "decrease"})),
            metric("auto", json!({"test": "auto"})),
        ]
    })
}

const METRICS: [&str; 8] = [
    "mann_whitney",
    "threshold",
    "quantile",
    "scale",
    "counts",
    "counts_total",
    "requests",
    "auto",
];

/// Values near the ends of f64: sums overflow, differences overflow, ratios of zeros.
fn extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1e308),
        Just(-1e308),
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(5e-324),
        Just(-2.5e-320),
        Just(f64::MIN_POSITIVE),
        Just(-0.0),
        Just(0.0),
    ]
}

fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        6 => (-1e3f64..1e3).prop_map(Some),
        3 => extreme().prop_map(Some),
        1 => Just(None),
    ]
}

type Pair = (Vec<Option<f64>>, Vec<Option<f64>>);

/// Baseline and canary: random, extreme, constant, linear, repeated exactly, two parallel
/// straight lines.
fn pair() -> impl Strategy<Value = Pair> {
    let side = || proptest::collection::vec(value(), 0..24);
    let line = |a: f64, b: f64, n: usize| (0..n).map(|i| Some(a + b * i as f64)).collect();
    prop_oneof![
        (side(), side()),
        side().prop_map(|s| (s.clone(), s)),
        (
            proptest::collection::vec(extreme().prop_map(Some), 1..24),
            proptest::collection::vec(extreme().prop_map(Some), 1..24)
        ),
        (prop_oneof![extreme(), -1e3f64..1e3], 1usize..24)
            .prop_map(|(c, n)| (vec![Some(c); n], vec![Some(c); n])),
        (extreme(), extreme(), 1usize..24)
            .prop_map(|(a, b, n)| (vec![Some(a); n], vec![Some(b); n])),
        (-1e3f64..1e3, -1e3f64..1e3, -1e3f64..1e3, 2usize..24)
            .prop_map(move |(a, b, c, n)| (line(a, b, n), line(a + c, b, n))),
        (prop_oneof![extreme(), Just(1e300)], 2usize..24)
            .prop_map(move |(b, n)| (line(0.0, b, n), line(1.0, b, n))),
    ]
}

fn cases(n: usize) -> Vec<BTreeMap<&'static str, Pair>> {
    let strategy = proptest::collection::vec(pair(), METRICS.len());
    let mut runner = TestRunner::new(Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    (0..n)
        .map(|_| {
            let pairs = strategy.new_tree(&mut runner).expect("a case").current();
            METRICS.iter().copied().zip(pairs).collect()
        })
        .collect()
}

/// Every report the judges write, whatever the data, reads back equal through the store: the
/// history, the report page and the replay answer, none of them `corrupt judgment report`.
async fn every_report_reads_back_equal(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let template = every_judge();
    for (n, case) in cases(48).into_iter().enumerate() {
        let metrics: BTreeMap<_, _> = case
            .iter()
            .map(|(name, (b, c))| (*name, json!({"baseline": b, "canary": c})))
            .collect();
        let body = json!({"template": template, "data": {"metrics": metrics}});
        let (status, made) = app.post("/api/v1/judgments", &body).await;
        assert_eq!(status, 201, "case {n}: {made}\n{body}");
        let id = made["id"].as_str().expect("an id");
        let (status, read) = app.get(&format!("/api/v1/judgments/{id}")).await;
        assert_eq!(status, 200, "case {n}: {read}\n{body}");
        // The history also shows the input; the rest is the judgment as the POST answered.
        let mut read = read;
        read.as_object_mut().expect("an object").remove("input");
        if let Some(at) = first_difference(&made, &read, String::new()) {
            panic!("case {n}: read back differs at {at}\n{body}");
        }
        let page = app
            .client
            .get(app.at(&format!("/judgments/{id}")))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status().as_u16(), 200, "case {n}: report page");
        let (status, replay) = app
            .post(&format!("/api/v1/judgments/{id}/replay"), &json!({}))
            .await;
        assert_eq!(status, 200, "case {n}: {replay}");
        assert_eq!(replay["identical"], true, "case {n}: {replay}\n{body}");
    }
    app.stop().await;
}

/// The path of the first place where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, format!("{at}.{k}")),
                (u, v) => Some(format!("{at}.{k}: {u:?} against {v:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} against {b}")),
    }
}

/// Runs `chattr` (tests run as root, where permissions do not stop writes; the immutable
/// flag does, also through descriptors already open).
fn chattr(flag: &str, files: &[PathBuf]) {
    let status = Command::new("chattr")
        .arg(flag)
        .args(files)
        .status()
        .expect("chattr runs");
    assert!(status.success(), "chattr {flag} {files:?}");
}

/// Clears the immutable flag again, also when the test fails (else the scratch stays).
struct Immutable(Vec<PathBuf>);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

fn db_files(db_url: &str) -> (PathBuf, Vec<PathBuf>) {
    let path = PathBuf::from(db_url.trim_start_matches("sqlite://"));
    let files = ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", path.display())))
        .filter(|p| p.exists())
        .collect();
    (path, files)
}

fn data_body() -> Value {
    json!({"template": every_judge(), "data": {"metrics": {
        "mann_whitney": {"baseline": [1.0, 2.0, 3.0], "canary": [1.0, 2.0, 3.0]}
    }}})
}

/// A store whose files cannot be written is not ready, and says why; it is again once they
/// can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_commit_is_not_ready() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, _) = app.post("/api/v1/judgments", &data_body()).await;
    assert_eq!(status, 201);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");

    // The database and its write-ahead log; not the shared-memory index, which SQLite maps
    // into memory (a mapping it cannot grow ends the process with SIGBUS, not an error).
    let (_, mut files) = db_files(&app.db_url);
    files.retain(|f| !f.display().to_string().ends_with("-shm"));
    let guard = Immutable(files.clone());
    chattr("+i", &files);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503, "an immutable store answered ready: {ready}");
    assert_eq!(ready["status"], "unavailable");
    assert!(
        ready["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{ready}"
    );
    let (status, failed) = app.post("/api/v1/judgments", &data_body()).await;
    assert_eq!(status, 503, "{failed}");

    chattr("-i", &files);
    drop(guard);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "writable again: {ready}");
    app.stop().await;
}

/// A SQLite file deleted under the running server: not ready, with the reason, and every
/// write refused with 503 instead of going into the unlinked file (gone at the next start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_file_is_noticed_and_nothing_is_written_into_it() {
    let app = spawn_app(Db::Sqlite, |_| {}).await;
    let (status, _) = app.post("/api/v1/judgments", &data_body()).await;
    assert_eq!(status, 201);
    let (path, files) = db_files(&app.db_url);
    for f in &files {
        std::fs::remove_file(f).expect("delete");
    }
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503, "a deleted store answered ready: {ready}");
    let reason = ready["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("deleted") && reason.contains(&path.display().to_string()),
        "{ready}"
    );
    let (status, failed) = app.post("/api/v1/judgments", &data_body()).await;
    assert_eq!(status, 503, "{failed}");
    assert_eq!(failed["error"]["code"], "store_error", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deleted")),
        "{failed}"
    );
    // Stays unready: a file created again at the path is not the one the pool writes.
    std::fs::write(&path, b"").expect("recreate");
    let (status, _) = app.get("/readyz").await;
    assert_eq!(status, 503);
    app.stop().await;
}

/// An analysis starting past the year 9999 is refused, naming the field (it used to be due at
/// once: `"+10019-…"` sorted before `"2026-…"`).
async fn a_start_past_9999_is_refused(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    app.put_fixture_template("fixture-latency").await;
    for start in [
        json!(316_000_000_000_i64),
        json!(253_402_300_800_i64),
        json!(-1),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/analyses",
                &json!({"template": "fixture-latency", "baseline": "baseline",
                        "canary": "canary", "start": start, "lifetime_minutes": 10,
                        "interval_minutes": 5}),
            )
            .await;
        assert_eq!(status, 400, "start {start}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("start") && message.contains("1970 to 9999"),
            "start {start}: {body}"
        );
    }
    app.stop().await;
}

fn analysis(id: &str, due: DateTime<Utc>) -> NewAnalysis {
    NewAnalysis {
        id: id.into(),
        request_id: format!("req-{id}"),
        template: "t".into(),
        template_version: 1,
        args: json!({}),
        baseline: "b".into(),
        canary: "c".into(),
        start_at: due,
        lifetime_minutes: 10.0,
        interval_minutes: 5.0,
        begin_after_minutes: 0.0,
        lookback_minutes: 0.0,
        step_seconds: None,
        settle_seconds: 0.0,
        callback_url: None,
        callback_secret: None,
        stop_on_fail: false,
        interval_count: 2,
        first_due_at: due,
        sequential: None,
    }
}

fn year(y: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
        .single()
        .expect("a time")
}

/// Due times far apart are selected and ordered as time: the year 100000 is not due, the year
/// 1971 comes before an hour ago.
async fn due_times_compare_as_time_whatever_the_year(db: Db) {
    let (url, _scratch) = fresh_db(db).await;
    let store = Store::connect(&url).await.expect("store");
    let now = Utc::now();
    let hour_ago = now - chrono::Duration::hours(1);
    store
        .insert_analysis(&analysis("far", year(100_000)))
        .await
        .unwrap();
    store
        .insert_analysis(&analysis("recent", hour_ago))
        .await
        .unwrap();
    store
        .insert_analysis(&analysis("old", year(1971)))
        .await
        .unwrap();
    store
        .insert_analysis(&analysis("late", year(9999)))
        .await
        .unwrap();
    let earliest = store.next_due(DueKind::Interval).await.unwrap();
    assert_eq!(earliest, Some(year(1971)));
    let lease = now + chrono::Duration::minutes(1);
    let first = store.claim_due_analyses("w", lease, 1).await.unwrap();
    assert_eq!(first, vec!["old".to_string()], "the earliest first");
    let rest = store.claim_due_analyses("w", lease, 10).await.unwrap();
    assert_eq!(
        rest,
        vec!["recent".to_string()],
        "the far future is not due"
    );
    let far = store.get_analysis("far").await.unwrap().expect("stored");
    assert_eq!(far.next_due_at, year(100_000), "read back exactly");
    store.close().await;
}

/// A SQLite store written by the previous schema (times as RFC 3339 text) keeps its data
/// through the change to integer times, and its times compare as time afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_sqlite_rows_keep_their_times() {
    let (url, _scratch) = fresh_db(Db::Sqlite).await;
    write_old_schema(&url).await;
    let store = Store::connect(&url).await.expect("migrates");
    let j = store.get_judgment("j1").await.unwrap().expect("kept");
    assert_eq!(
        j.created_at,
        "2026-01-02T03:04:05.678Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(j.window_start, Some(year(2026)));
    assert_eq!(j.report, json!({"verdict": "pass"}));
    let lease = Utc::now() + chrono::Duration::minutes(1);
    let due = store.claim_due_analyses("w", lease, 10).await.unwrap();
    assert_eq!(due, vec!["past".to_string()], "year 10019 is not due");
    let future = store.get_analysis("future").await.unwrap().expect("kept");
    assert_eq!(future.next_due_at.timestamp_millis(), 253_402_300_799_999);
    store.ping(0).await.expect("ready after the migration");
    store.close().await;
}

async fn write_old_schema(url: &str) {
    let path = Path::new(url.trim_start_matches("sqlite://"));
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query(
        "CREATE TABLE canaryd_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (n, name) in [(1, "init"), (2, "analyses"), (3, "views")] {
        let file = crate::support::repo_root().join(format!("migrations/sqlite/000{n}_{name}.sql"));
        let sql = std::fs::read_to_string(file).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO canaryd_migrations VALUES ($1, $2, 'then')")
            .bind(n)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO judgments (id, created_at, request_id, template, template_source, mode, \
         window_start, args, data, verdict, score, report) VALUES ('j1', \
         '2026-01-02T03:04:05.678+00:00', 'r', 't', 's', 'live', '2026-01-01T00:00:00+00:00', \
         '{}', '{}', 'pass', 100.0, '{\"verdict\": \"pass\"}'); \
         INSERT INTO analyses (id, created_at, request_id, template, template_version, args, \
         baseline, canary, start_at, lifetime_minutes, interval_minutes, begin_after_minutes, \
         lookback_minutes, settle_seconds, stop_on_fail, state, interval_count, next_index, \
         next_due_at, updated_at) VALUES \
         ('past', '2026-01-01T00:00:00+00:00', 'r', 't', 1, '{}', 'b', 'c', \
          '2026-01-01T00:00:00+00:00', 10, 5, 0, 0, 0, 0, 'pending', 2, 0, \
          '2026-01-01T00:05:00+00:00', '2026-01-01T00:00:00+00:00'), \
         ('future', '2026-01-01T00:00:00+00:00', 'r', 't', 1, '{}', 'b', 'c', \
          '+10019-01-01T00:00:00+00:00', 10, 5, 0, 0, 0, 0, 'pending', 2, 0, \
          '+10019-01-01T00:05:00+00:00', '2026-01-01T00:00:00+00:00');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

on_both!(
    every_report_reads_back_equal,
    a_start_past_9999_is_refused,
    due_times_compare_as_time_whatever_the_year,
);
