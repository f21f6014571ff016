//! A judgment's points stored compactly (issue 18 item 3), on the real app and both real stores:
//! every value reads back bit for bit through the API, rows written before migration 0008 are
//! converted and read like new ones, the Grafana views answer the same, and retention by size
//! prunes the oldest first but never what an open analysis needs.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use canaryd::judge::judge;
use canaryd::source::{Observation, ObservationSet};
use canaryd::store::{NewAnalysis, NewJudgment, Store};
use canaryd::template::parse_template;

use crate::on_both;
use crate::support::app::{fresh_db, spawn_app, spawn_with, test_settings, Db};

const TEMPLATE: &str = "name: compact\nmetrics:\n  - name: a\n    query: q{v=\"${scope}\"}\n    judge: {test: \
                        mann-whitney}\n  - name: b\n    query: q{v=\"${scope}\"}\n    judge: {test: threshold, \
                        max: 1000}\n";

/// Values that a lossy encoding would change: signed zero, the extremes, subnormals, 17-digit
/// values, nulls, and ordinary six-digit ones.
fn tricky() -> Vec<Option<f64>> {
    vec![
        Some(123.456),
        None,
        Some(-0.0),
        Some(0.0),
        Some(1e308),
        Some(-1e308),
        Some(f64::MAX),
        Some(5e-324),
        Some(2.225_073_858_507_201e-308),
        Some(0.1 + 0.2),
        Some(-0.000_123_456),
        Some(98_765.4),
        Some(7.0),
        Some(1e22),
        Some(1e23),
    ]
}

fn six_digit(n: usize, seed: u64) -> Vec<Option<f64>> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            Some(format!("{:.5e}", 40.0 + 90.0 * u).parse().expect("a float"))
        })
        .collect()
}

fn observations() -> BTreeMap<String, Observation> {
    let mut a = tricky();
    a.extend(six_digit(200, 7));
    let mut b = six_digit(100, 11);
    b.push(None);
    BTreeMap::from([
        (
            "a".to_string(),
            Observation::from_values(a, six_digit(150, 13)),
        ),
        (
            "b".to_string(),
            Observation::from_values(six_digit(3, 17), b),
        ),
    ])
}

/// `data` as canaryd stores it (the JSON text written into the column before 0008).
fn data_value() -> Value {
    serde_json::to_value(ObservationSet {
        metrics: observations(),
    })
    .expect("data as JSON")
}

/// The recorded data of a POST with the same points (null for a missing value).
fn post_body() -> Value {
    json!({"template": inline_template(), "data": data_value()})
}

/// The template as the JSON object a POST takes inline.
fn inline_template() -> Value {
    json!({"name": "compact", "metrics": [
        {"name": "a", "query": "q{v=\"${scope}\"}", "judge": {"test": "mann-whitney"}},
        {"name": "b", "query": "q{v=\"${scope}\"}", "judge": {"test": "threshold", "max": 1000}},
    ]})
}

/// The text of `v`, where `-0.0` and `0.0` differ (`Value`'s `==` calls them equal).
fn text(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON")
}

/// Every value posted reads back bit for bit in the judgment's stored input, and the points no
/// longer sit in the `data` column as JSON text.
async fn points_read_back_bit_identical(db: Db) {
    let app = spawn_app(db, |_| {}).await;
    let (status, made) = app.post("/api/v1/judgments", &post_body()).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().expect("an id");
    let (status, read) = app.get(&format!("/api/v1/judgments/{id}")).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(text(&read["input"]["data"]), text(&data_value()));
    let (status, replay) = app
        .post(&format!("/api/v1/judgments/{id}/replay"), &json!({}))
        .await;
    assert_eq!(
        (status, &replay["identical"]),
        (200, &json!(true)),
        "{replay}"
    );
    let url = app.db_url.clone();
    let _scratch = app.stop().await;

    let (data, points, bytes) = raw_row(&url, id).await;
    assert!(!data.contains("123.456"), "points left in data: {data}");
    assert!(points.is_some_and(|p| p.len() > 10));
    assert!(bytes > 0);
}

/// `data` text of row `id`, read with SQL (any schema).
async fn raw_data(url: &str, id: &str) -> String {
    let sql = if url.starts_with("sqlite:") {
        "SELECT data FROM judgments WHERE id = $1"
    } else {
        "SELECT data::text FROM judgments WHERE id = $1"
    };
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        let data = sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await;
        pool.close().await;
        data.expect("row")
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        let data = sqlx::query_scalar(sql).bind(id).fetch_one(&pool).await;
        pool.close().await;
        data.expect("row")
    }
}

/// `data` text, `points` and `stored_bytes` of row `id`, read with SQL.
async fn raw_row(url: &str, id: &str) -> (String, Option<Vec<u8>>, i64) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        let row: (String, Option<Vec<u8>>, i64) =
            sqlx::query_as("SELECT data, points, stored_bytes FROM judgments WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("row");
        pool.close().await;
        row
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        let row: (String, Option<Vec<u8>>, i64) =
            sqlx::query_as("SELECT data::text, points, stored_bytes FROM judgments WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("row");
        pool.close().await;
        row
    }
}

const SQLITE_OLD: &[(i64, &str)] = &[
    (1, "init"),
    (2, "analyses"),
    (3, "views"),
    (4, "instants_ms"),
    (5, "readiness"),
    (6, "kayenta_api"),
];
const POSTGRES_OLD: &[(i64, &str)] = &[
    (1, "init"),
    (2, "analyses"),
    (3, "views"),
    (5, "readiness"),
    (6, "kayenta_api"),
];

/// A report the judge really makes of these points, as stored.
fn report_value() -> Value {
    let template = parse_template(TEMPLATE, "compact.yaml").expect("a valid template");
    serde_json::to_value(judge(&template, &observations())).expect("report JSON")
}

/// The views' rows about judgment `old`, each row as JSON text, in a stable order.
async fn view_rows(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        for (view, key, order) in [
            ("canary_judgments", "id", "id"),
            ("judgment_metrics", "judgment_id", "metric"),
        ] {
            let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{view}')"
            )))
            .fetch_all(&pool)
            .await
            .expect("columns");
            let sql = format!(
                "SELECT json_array({}) FROM {view} WHERE {key} = 'old' ORDER BY {order}",
                columns.join(", ")
            );
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("view rows");
            out.extend(rows);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        for (view, key, order) in [
            ("canary_judgments", "id", "id"),
            ("judgment_metrics", "judgment_id", "metric"),
        ] {
            let sql = format!(
                "SELECT row_to_json(v)::text FROM {view} v WHERE {key} = 'old' ORDER BY {order}"
            );
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("view rows");
            out.extend(rows);
        }
        pool.close().await;
    }
    out
}

/// A store as migration 0006 left it, with one judgment `old` written the way canaryd wrote
/// them then: every point JSON text in `data`.
async fn write_0006_store(url: &str) {
    let (dir, old): (&str, &[(i64, &str)]) = if url.starts_with("sqlite:") {
        ("sqlite", SQLITE_OLD)
    } else {
        ("postgres", POSTGRES_OLD)
    };
    let ledger = "CREATE TABLE canaryd_migrations (version BIGINT PRIMARY KEY, name TEXT NOT \
                  NULL, applied_at TEXT NOT NULL)";
    let mut script = vec![ledger.to_string()];
    for (n, name) in old {
        let file = crate::support::repo_root().join(format!("migrations/{dir}/000{n}_{name}.sql"));
        script.push(std::fs::read_to_string(file).expect("a migration"));
        script.push(format!(
            "INSERT INTO canaryd_migrations VALUES ({n}, '{name}', 'then')"
        ));
    }
    let insert = "INSERT INTO judgments (id, created_at, request_id, template, template_source, \
                  mode, args, data, verdict, score, report) VALUES ('old', $1, 'r', 'compact', \
                  $2, 'data', $3, $4, $5, $6, $7)";
    let report = report_value();
    let verdict = report["verdict"].as_str().expect("a verdict").to_string();
    let score = report["score"].as_f64().expect("a score");
    let args = json!({"service": "checkout"});
    macro_rules! run {
        ($pool:expr, $created:expr) => {{
            let pool = $pool;
            for sql in &script {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&pool)
                    .await
                    .expect("old schema");
            }
            sqlx::query(insert)
                .bind($created)
                .bind(TEMPLATE)
                .bind(sqlx::types::Json(&args))
                .bind(sqlx::types::Json(data_value()))
                .bind(&verdict)
                .bind(score)
                .bind(sqlx::types::Json(&report))
                .execute(&pool)
                .await
                .expect("old row");
            pool.close().await;
        }};
    }
    if url.starts_with("sqlite:") {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        // 0004 made times Unix milliseconds.
        run!(
            sqlx::SqlitePool::connect_with(options)
                .await
                .expect("sqlite"),
            1_767_225_600_000i64
        );
    } else {
        run!(
            sqlx::PgPool::connect(url).await.expect("postgres"),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
    }
}

/// A row as 0006 left it is converted by 0008 and reads back exactly as it was stored, like a
/// row written since; the views answer the same about it before and after.
async fn rows_before_0008_are_converted_and_read_alike(db: Db) {
    let (url, scratch) = fresh_db(db).await;
    write_0006_store(&url).await;
    let views_before = view_rows(&url).await;
    // What the old row holds as 0006 left it (PostgreSQL's jsonb had already turned -0.0 into
    // 0.0: the old format's loss, not the conversion's).
    let stored_before = raw_data(&url, "old").await;
    let stored_before: Value = serde_json::from_str(&stored_before).expect("old data JSON");
    if db == Db::Sqlite {
        assert_eq!(text(&stored_before), text(&data_value()));
    }
    assert_eq!(views_before.len(), 3, "{views_before:?}");

    let mut settings = test_settings(&url);
    settings.store.retention_days = 0; // the row is from January
    let app = spawn_with(settings, scratch).await;
    let (status, old) = app.get("/api/v1/judgments/old").await;
    assert_eq!(status, 200, "{old}");
    assert_eq!(text(&old["input"]["data"]), text(&stored_before));
    assert_eq!(text(&old["verdict"]), text(&report_value()["verdict"]));
    assert_eq!(text(&old["metrics"]), text(&report_value()["metrics"]));
    let (status, made) = app.post("/api/v1/judgments", &post_body()).await;
    assert_eq!(status, 201, "{made}");
    let (status, new) = app
        .get(&format!(
            "/api/v1/judgments/{}",
            made["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{new}");
    assert_eq!(text(&new["input"]["data"]), text(&data_value()));
    assert_eq!(text(&new["metrics"]), text(&old["metrics"]));
    let (status, replay) = app.post("/api/v1/judgments/old/replay", &json!({})).await;
    assert_eq!(
        (status, &replay["identical"]),
        (200, &json!(true)),
        "{replay}"
    );
    let _scratch = app.stop().await;

    let (data, points, bytes) = raw_row(&url, "old").await;
    assert!(!data.contains("123.456"), "not converted: {data}");
    assert!(points.is_some() && bytes > 0);
    assert_eq!(
        view_rows(&url).await,
        views_before,
        "the views answer the same"
    );
}

fn judgment(id: &str, minute: u32, analysis: Option<&str>) -> NewJudgment {
    NewJudgment {
        id: id.into(),
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, minute, 0).unwrap(),
        request_id: format!("req-{id}"),
        template: "compact".into(),
        template_version: None,
        template_source: TEMPLATE.into(),
        mode: "data".into(),
        baseline: None,
        canary: None,
        window_start: None,
        window_end: None,
        step_seconds: None,
        args: json!({}),
        data: data_value(),
        verdict: "pass".into(),
        score: 100.0,
        report: report_value(),
        gate: None,
        gate_key: None,
        analysis_id: analysis.map(str::to_string),
        interval_index: analysis.map(|_| 0),
    }
}

fn open_analysis(id: &str) -> NewAnalysis {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    NewAnalysis {
        id: id.into(),
        request_id: format!("req-{id}"),
        template: "compact".into(),
        template_version: 1,
        args: json!({}),
        baseline: "b".into(),
        canary: "c".into(),
        start_at: at,
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
        first_due_at: at,
        sequential: None,
    }
}

/// Retention by size deletes the oldest judgments until the rest fit, and never the oldest
/// one when an open analysis still needs it.
async fn retention_by_size_prunes_oldest_first_but_not_open_analyses(db: Db) {
    let (url, _scratch) = fresh_db(db).await;
    let store = Store::connect(&url).await.expect("store");
    store.insert_analysis(&open_analysis("open")).await.unwrap();
    store
        .insert_judgment(&judgment("j0", 0, Some("open")))
        .await
        .unwrap();
    for i in 1..6 {
        store
            .insert_judgment(&judgment(&format!("j{i}"), i, None))
            .await
            .unwrap();
    }
    let total = store.judgments_stored_bytes().await.unwrap();
    let each = total / 6;
    assert!(each > 1000 && each * 6 == total, "{total}");
    assert!(each <= 40 * 1024, "{each} bytes per judgment");
    assert_eq!(store.prune_judgments_to_bytes(total).await.unwrap(), 0);
    // Room for three and a half: the three oldest that no open analysis needs go.
    let deleted = store.prune_judgments_to_bytes(each * 7 / 2).await.unwrap();
    assert_eq!(deleted, 3);
    for (id, kept) in [
        ("j0", true),
        ("j1", false),
        ("j2", false),
        ("j3", false),
        ("j4", true),
        ("j5", true),
    ] {
        assert_eq!(
            store.get_judgment(id).await.unwrap().is_some(),
            kept,
            "{id}"
        );
    }
    // A bound nothing fits under: all but the open analysis's judgment go.
    assert_eq!(store.prune_judgments_to_bytes(1).await.unwrap(), 2);
    assert!(store.get_judgment("j0").await.unwrap().is_some());
    assert_eq!(store.judgments_stored_bytes().await.unwrap(), each);
    store.close().await;
}

/// `store.retention_max_bytes` in the settings prunes at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_max_bytes_prunes_at_start() {
    let (url, scratch) = fresh_db(Db::Sqlite).await;
    let store = Store::connect(&url).await.expect("store");
    store
        .insert_judgment(&judgment("j1", 1, None))
        .await
        .unwrap();
    store
        .insert_judgment(&judgment("j2", 2, None))
        .await
        .unwrap();
    let total = store.judgments_stored_bytes().await.unwrap();
    store.close().await;
    let mut settings = test_settings(&url);
    settings.store.retention_days = 0;
    settings.store.retention_max_bytes = total - 1;
    let app = spawn_with(settings, scratch).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.get("/api/v1/judgments/j1").await.0 != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the oldest judgment was not pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.get("/api/v1/judgments/j2").await.0, 200);
    app.stop().await;
}

on_both!(
    points_read_back_bit_identical,
    rows_before_0008_are_converted_and_read_alike,
    retention_by_size_prunes_oldest_first_but_not_open_analyses,
);
