//! The Grafana dashboards of `grafana/` (issue 6), tested as JSON against real components (no
//! Grafana server can run here): a real PostgreSQL store filled through canaryd's API, every SQL
//! panel's query expanded the way Grafana's PostgreSQL data source does and run on it; every
//! PromQL expression checked by `promtool` and run on a real Prometheus scraping the running
//! canaryd's `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
// Dashboard queries are this repository's own SQL, expanded with the fixture's values: the
// dynamic SQL is what is under test.
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::analyses::{fast, settled, wait_for};
use crate::support::app::{spawn_app, Db, TestApp};
use crate::support::hooks::Receiver;
use crate::support::{self, Process, Scratch, T0};

fn dashboard(name: &str) -> Value {
    let path = support::repo_root().join("grafana/dashboards").join(name);
    let text = std::fs::read_to_string(&path).expect("read dashboard");
    serde_json::from_str(&text).expect("dashboard is JSON")
}

fn scenario(name: &str) -> Value {
    let path = support::repo_root().join(format!("fixtures/scenarios/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("scenario")).expect("json")
}

/// A source that nothing answers, for the error panels.
fn with_sources(s: &mut canaryd::config::Settings) {
    fast(s);
    let mut down = s.sources["prometheus"].clone();
    down.url = format!("http://127.0.0.1:{}", support::free_port());
    down.timeout_seconds = Some(2.0);
    s.sources.insert("down".into(), down);
}

/// Fills the store through the API with what every panel shows: recorded-data judgments of
/// each verdict for two services (and one without a service), a live judgment, one that fails
/// on an unreachable source, a gate call, a completed analysis whose callbacks are delivered and
/// one still running with judged intervals.
async fn fill(app: &TestApp) {
    let r = app
        .client
        .put(app.at("/api/v1/templates/checkout-service"))
        .header("content-type", "application/yaml")
        .body(
            std::fs::read_to_string(
                support::repo_root().join("fixtures/templates/checkout-service.yaml"),
            )
            .expect("template"),
        )
        .send()
        .await
        .expect("put template");
    assert!(r.status().is_success(), "{}", r.status());
    let judgments = [
        ("http-golden-signals", "clean-canary", Some("checkout")),
        (
            "http-golden-signals",
            "latency-regression",
            Some("checkout"),
        ),
        ("http-golden-signals", "error-spike", Some("payments")),
        ("http-golden-signals", "clean-canary", Some("payments")),
        ("http-golden-signals", "no-traffic", None),
        (
            "checkout-service",
            "marginal-memory-growth",
            Some("checkout"),
        ),
    ];
    for (template, data, service) in judgments {
        let mut body = json!({"template": template, "data": scenario(data)});
        if let Some(service) = service {
            body["args"] = json!({ "service": service });
        }
        let (status, made) = app.post("/api/v1/judgments", &body).await;
        assert_eq!(status, 201, "{data}: {made}");
    }

    app.put_fixture_template("fixture-latency").await;
    let live = json!({
        "template": "fixture-latency", "baseline": "baseline", "canary": "canary",
        "start": T0, "end": T0 + 600,
    });
    let (status, made) = app.post("/api/v1/judgments", &live).await;
    assert_eq!(status, 201, "{made}");
    let broken = json!({
        "template": {"name": "unreachable", "source": "down", "metrics": [
            {"name": "latency", "query": "latency_seconds{version=\"${scope}\"}"}]},
        "baseline": "baseline", "canary": "canary", "start": T0, "end": T0 + 600,
    });
    let (status, made) = app.post("/api/v1/judgments", &broken).await;
    assert_eq!(status, 502, "{made}");
    let (status, made) = app
        .get(&format!(
            "/api/v1/gates/argo?template=fixture-latency&baseline=baseline&canary=canary&start={T0}&end={}",
            T0 + 600
        ))
        .await;
    assert_eq!(status, 200, "{made}");

    // The fixture series have no service label; the arg only names what is being judged.
    let r = app
        .client
        .put(app.at("/api/v1/templates/checkout-latency"))
        .header("content-type", "application/json")
        .body(
            json!({
                "name": "checkout-latency",
                "args": {"service": {}},
                "step_seconds": 10,
                "metrics": [{
                    "name": "latency",
                    "query": "latency_seconds{version=\"${scope}\"}",
                    "judge": {"test": "mann-whitney", "direction": "increase"}
                }]
            })
            .to_string(),
        )
        .send()
        .await
        .expect("put template");
    assert!(r.status().is_success(), "{}", r.status());
    let hook = Receiver::start(0).await;
    let analysis = |start: i64, lifetime: f64| {
        json!({
            "template": "checkout-latency", "args": {"service": "checkout"},
            "baseline": "baseline", "canary": "canary", "start": start,
            "lifetime_minutes": lifetime, "interval_minutes": 2.5,
            "callback_url": hook.url, "callback_secret": "grafana", "stop_on_fail": false,
        })
    };
    let (status, done) = app.post("/api/v1/analyses", &analysis(T0, 10.0)).await;
    assert_eq!(status, 201, "{done}");
    // Started five minutes ago for an hour: two intervals are due now, the rest later.
    let now = chrono::Utc::now().timestamp();
    let (status, running) = app
        .post("/api/v1/analyses", &analysis(now - 300, 60.0))
        .await;
    assert_eq!(status, 201, "{running}");
    wait_for(app, done["id"].as_str().expect("id"), settled).await;
    let running = wait_for(app, running["id"].as_str().expect("id"), |a| {
        a["intervals"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    assert_eq!(running["state"], "running", "{running}");
    assert!(!hook.all().is_empty(), "callbacks delivered");
}

// ------------------------------------------------------------------ Grafana's interpolation

/// The value of a dashboard variable: every value it can take (the "All" selection).
type Variables = BTreeMap<String, Vec<String>>;

fn sql_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// Template variables as Grafana's SQL data sources interpolate them: a multi-value or
/// include-all variable becomes its values quoted as SQL literals and joined by commas (for
/// `$v`, `${v}`, `[[v]]` and `${v:sqlstring}`); `${v:csv}` and `${v:raw}` join them unquoted.
fn interpolate_sql_variables(sql: &str, vars: &Variables) -> String {
    interpolate(sql, vars, |values, format| match format {
        None | Some("sqlstring") | Some("singlequote") => values
            .iter()
            .map(|v| sql_quote(v))
            .collect::<Vec<_>>()
            .join(","),
        Some("csv") | Some("raw") => values.join(","),
        Some(other) => panic!("variable format {other} is not handled by this test"),
    })
}

/// Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` of the variables in `vars`
/// (built-ins such as `$__interval` are left for later) with `render(values, format)`.
fn interpolate(
    text: &str,
    vars: &Variables,
    render: impl Fn(&[String], Option<&str>) -> String,
) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['$', '[']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (name, format, len) = if let Some(inner) = tail.strip_prefix("${") {
            let end = inner.find('}').expect("closing brace of ${...}");
            let (name, format) = match inner[..end].split_once(':') {
                Some((n, f)) => (n, Some(f)),
                None => (&inner[..end], None),
            };
            (name, format, end + 3)
        } else if let Some(inner) = tail.strip_prefix("[[") {
            match inner.find("]]") {
                Some(end) => (&inner[..end], None, end + 4),
                None => ("", None, 1),
            }
        } else if let Some(inner) = tail.strip_prefix('$') {
            let end = inner.find(|c: char| !ident(c)).unwrap_or(inner.len());
            (&inner[..end], None, end + 1)
        } else {
            ("", None, 1)
        };
        match vars.get(name) {
            Some(values) => out.push_str(&render(values, format)),
            None => out.push_str(&tail[..len]),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// The dashboard's time range and interval, as Grafana hands them to the data source.
struct Range {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    interval_seconds: u64,
}

fn parse_interval(text: &str) -> f64 {
    let text = text.trim().trim_matches('\'');
    let split = text.find(|c: char| c.is_ascii_alphabetic()).expect("unit");
    let n: f64 = text[..split].parse().expect("interval number");
    n * match &text[split..] {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 604800.0,
        unit => panic!("interval unit {unit}"),
    }
}

/// The backend half of Grafana's PostgreSQL data source: `$__interval_ms`, `$__interval`,
/// `$__unixEpochFrom()` and `$__unixEpochTo()` (sqleng), then the macros of the PostgreSQL
/// macro engine (`pkg/tsdb/grafana-postgresql-datasource/macros.go`, without TimescaleDB).
fn expand_macros(sql: &str, range: &Range) -> String {
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let (from, to) = (rfc(range.from), rfc(range.to));
    let sql = sql
        .replace(
            "$__interval_ms",
            &(range.interval_seconds * 1000).to_string(),
        )
        .replace("$__interval", &format!("{}s", range.interval_seconds))
        .replace("$__unixEpochFrom()", &range.from.timestamp().to_string())
        .replace("$__unixEpochTo()", &range.to.timestamp().to_string());
    let mut out = String::new();
    let mut rest = sql.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let name_end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..name_end];
        if !tail[name_end..].starts_with('(') || name.is_empty() {
            out.push('$');
            rest = tail;
            continue;
        }
        let close = tail[name_end..].find(')').expect("closing parenthesis") + name_end;
        let args: Vec<&str> = tail[name_end + 1..close]
            .split(',')
            .map(str::trim)
            .collect();
        let group = |args: &[&str]| {
            let seconds = parse_interval(args.get(1).expect("interval argument"));
            format!("floor(extract(epoch from {})/{seconds})*{seconds}", args[0])
        };
        let expanded = match name {
            "__time" => format!("{} AS \"time\"", args[0]),
            "__timeEpoch" => format!("extract(epoch from {}) as \"time\"", args[0]),
            "__timeFilter" => format!("{} BETWEEN '{from}' AND '{to}'", args[0]),
            "__timeFrom" => format!("'{from}'"),
            "__timeTo" => format!("'{to}'"),
            // Grafana reads `$__timeGroup(...),` (a comma right after) as the aliased form.
            "__timeGroup" if tail[close + 1..].starts_with(',') => {
                format!("{} AS \"time\"", group(&args))
            }
            "__timeGroup" => group(&args),
            "__timeGroupAlias" => format!("{} AS \"time\"", group(&args)),
            "__unixEpochFilter" => format!(
                "{0} >= {1} AND {0} <= {2}",
                args[0],
                range.from.timestamp(),
                range.to.timestamp()
            ),
            other => panic!("macro ${other} is not handled by this test"),
        };
        out.push_str(&expanded);
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------ SQL panels

fn is_numeric(type_name: &str) -> bool {
    matches!(
        type_name,
        "INT2" | "INT4" | "INT8" | "FLOAT4" | "FLOAT8" | "NUMERIC"
    )
}

/// Every target of every panel (rows' nested panels too).
fn targets(dash: &Value) -> Vec<(&Value, &Value)> {
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = dash["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = panels.pop() {
        if let Some(inner) = p["panels"].as_array() {
            panels.extend(inner);
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((p, t));
        }
    }
    out
}

/// What a table panel says about its columns: the keys of its `organize` transformation
/// (query columns), its renames, and the `byName` matchers of its field overrides (which match
/// the names after the renames, as overrides apply after transformations).
struct TableFields {
    columns: BTreeSet<String>,
    renames: BTreeMap<String, String>,
    overridden: BTreeSet<String>,
}

fn table_fields(panel: &Value) -> TableFields {
    let mut columns = BTreeSet::new();
    let mut renames = BTreeMap::new();
    for t in panel["transformations"].as_array().into_iter().flatten() {
        if t["id"] == "organize" {
            for key in ["indexByName", "renameByName", "excludeByName"] {
                for (k, v) in t["options"][key].as_object().into_iter().flatten() {
                    columns.insert(k.clone());
                    if key == "renameByName" {
                        renames.insert(k.clone(), v.as_str().expect("rename").to_string());
                    }
                }
            }
        }
    }
    let overridden = panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["matcher"]["id"] == "byName")
        .map(|o| o["matcher"]["options"].as_str().expect("name").to_string())
        .collect();
    TableFields {
        columns,
        renames,
        overridden,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_verdicts_sql_panels_run_on_a_real_store() {
    let app = spawn_app(Db::Postgres, with_sources).await;
    fill(&app).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&app.db_url)
        .await
        .expect("connect to the store");
    let dash = dashboard("canary-verdicts.json");
    let range = Range {
        from: chrono::Utc::now() - chrono::Duration::hours(6),
        to: chrono::Utc::now(),
        interval_seconds: 60,
    };

    // Variables first, in order, each seeing the ones before (All selected).
    let mut vars = Variables::new();
    for var in dash["templating"]["list"].as_array().expect("variables") {
        assert_eq!(var["datasource"]["uid"], "canaryd-postgres", "{var}");
        let sql = var["query"].as_str().expect("variable query");
        let sql = expand_macros(&interpolate_sql_variables(sql, &vars), &range);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("variable {}: {e}\n{sql}", var["name"]));
        let values: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        vars.insert(var["name"].as_str().expect("name").to_string(), values);
    }
    assert_eq!(
        vars["template"],
        [
            "checkout-latency",
            "checkout-service",
            "fixture-latency",
            "http-golden-signals"
        ],
        "templates of judgments and analyses (the failed judgment is not stored)"
    );
    assert_eq!(vars["service"], ["checkout", "none", "payments"]);

    let mut checked = 0;
    for (panel, target) in targets(&dash) {
        let title = panel["title"].as_str().expect("title");
        assert_eq!(target["datasource"]["uid"], "canaryd-postgres", "{title}");
        assert_eq!(panel["datasource"]["uid"], "canaryd-postgres", "{title}");
        let raw = target["rawSql"].as_str().expect("rawSql");
        let sql = expand_macros(&interpolate_sql_variables(raw, &vars), &range);
        assert!(
            !sql.contains('$'),
            "{title}: something left unexpanded:\n{sql}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{title}: {e}\n{sql}"));
        assert!(!rows.is_empty(), "{title}: no rows from the fixture\n{sql}");
        let columns: BTreeMap<String, String> = rows[0]
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
            .collect();
        match target["format"].as_str().expect("format") {
            "time_series" => {
                let time = columns.get("time").unwrap_or_else(|| {
                    panic!("{title}: a time series needs a `time` column: {columns:?}")
                });
                assert!(
                    time == "TIMESTAMPTZ" || is_numeric(time),
                    "{title}: time is {time}"
                );
                if let Some(metric) = columns.get("metric") {
                    assert_eq!(metric, "TEXT", "{title}: metric names are text");
                }
                let values: Vec<_> = columns
                    .iter()
                    .filter(|(n, _)| *n != "time" && *n != "metric")
                    .collect();
                assert!(!values.is_empty(), "{title}: no value column");
                for (name, ty) in values {
                    assert!(is_numeric(ty), "{title}: value column {name} is {ty}");
                }
            }
            "table" => {
                let fields = table_fields(panel);
                for name in &fields.columns {
                    assert!(
                        columns.contains_key(name),
                        "{title}: the panel names column {name}, the query has {columns:?}"
                    );
                }
                let display: BTreeSet<String> = columns
                    .keys()
                    .map(|c| fields.renames.get(c).cloned().unwrap_or_else(|| c.clone()))
                    .collect();
                for name in &fields.overridden {
                    assert!(
                        display.contains(name),
                        "{title}: an override matches field {name}; fields are {display:?}"
                    );
                }
                if panel["type"] == "stat" {
                    for (name, ty) in &columns {
                        assert!(is_numeric(ty), "{title}: stat column {name} is {ty}");
                        let idx = rows[0].column(name.as_str()).ordinal();
                        let value = rows[0].try_get_raw(idx).expect("value");
                        assert!(!value.is_null(), "{title}: {name} is NULL");
                    }
                } else {
                    assert!(
                        !fields.columns.is_empty(),
                        "{title}: a table names its columns"
                    );
                }
            }
            other => panic!("{title}: format {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 14, "every SQL panel checked");

    // What the views say about the fixture, spot-checked.
    let failing: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT metric, classification, critical FROM judgment_metrics \
         WHERE service = 'payments' AND verdict = 'fail' ORDER BY metric",
    )
    .fetch_all(&pool)
    .await
    .expect("judgment_metrics");
    assert!(
        failing.contains(&("error_ratio".into(), "high".into(), true)),
        "{failing:?}"
    );
    let progress: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT state, intervals_done, interval_count FROM analysis_progress ORDER BY state",
    )
    .fetch_all(&pool)
    .await
    .expect("analysis_progress");
    assert_eq!(progress[0], ("completed".into(), 4, 4), "{progress:?}");
    assert_eq!(progress[1].0, "running");
    pool.close().await;
    app.stop().await;
}

/// The same views, the same columns, on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_the_same_views() {
    let pg = spawn_app(Db::Postgres, |_| {}).await;
    let lite = spawn_app(Db::Sqlite, |_| {}).await;
    for app in [&pg, &lite] {
        let body = json!({"template": "http-golden-signals", "data": scenario("error-spike"),
                          "args": {"service": "checkout"}});
        let (status, made) = app.post("/api/v1/judgments", &body).await;
        assert_eq!(status, 201, "{made}");
    }
    let views = [
        "canary_judgments",
        "judgment_metrics",
        "analysis_progress",
        "analysis_interval_results",
    ];
    let pg_pool = sqlx::PgPool::connect(&pg.db_url).await.expect("pg");
    let lite_pool = sqlx::SqlitePool::connect(&lite.db_url)
        .await
        .expect("sqlite");
    for view in views {
        let pg_cols: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = $1 ORDER BY ordinal_position",
        )
        .bind(view)
        .fetch_all(&pg_pool)
        .await
        .expect("pg columns");
        let lite_cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(view)
            .fetch_all(&lite_pool)
            .await
            .expect("sqlite columns");
        assert!(!pg_cols.is_empty(), "{view} exists");
        assert_eq!(pg_cols, lite_cols, "{view}");
    }
    let q = "SELECT metric, classification, service FROM judgment_metrics \
             WHERE critical = true ORDER BY metric";
    let on_pg: Vec<(String, String, String)> =
        sqlx::query_as(q).fetch_all(&pg_pool).await.expect("pg");
    let on_lite: Vec<(String, String, String)> = sqlx::query_as(q)
        .fetch_all(&lite_pool)
        .await
        .expect("sqlite");
    assert_eq!(
        on_pg,
        [("error_ratio".into(), "high".into(), "checkout".into())]
    );
    assert_eq!(on_pg, on_lite);
    pg_pool.close().await;
    lite_pool.close().await;
    pg.stop().await;
    lite.stop().await;
}

// ------------------------------------------------------------------ PromQL panels

/// Starts a Prometheus that scrapes `target` (host:port) every second.
fn start_scraping_prometheus(target: &str) -> (Process, u16, Scratch) {
    let prometheus = support::require_binary("prometheus");
    let scratch = Scratch::new("grafana-prometheus");
    let config = scratch.file(
        "prometheus.yml",
        &format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: canaryd\n    metrics_path: /metrics\n    \
             static_configs: [{{targets: ['{target}']}}]\n"
        ),
    );
    let port = support::free_port();
    let process = Process::spawn(
        "prometheus",
        &scratch.path,
        &prometheus,
        &[
            format!("--config.file={}", config.display()),
            format!(
                "--storage.tsdb.path={}",
                scratch.path.join("data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && support::http_request(port, "GET", "/-/ready", "").0 == 200;
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready: {}",
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (process, port, scratch)
}

async fn instant_query(client: &reqwest::Client, url: &str, expr: &str) -> Vec<Value> {
    let r: Value = client
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .expect("query prometheus")
        .json()
        .await
        .expect("json");
    assert_eq!(r["status"], "success", "{expr}: {r}");
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// `$__rate_interval` as Grafana computes it for a 1 s scrape interval and a 5 s `$__interval`:
/// max(interval + scrape interval, 4 × scrape interval) = 6 s; 10 s leaves room for jitter.
const RATE_INTERVAL: &str = "10s";

fn expand_promql(expr: &str, vars: &Variables) -> String {
    // Multi-value variables with allValue `.*` render as `.*` when All is selected.
    interpolate(expr, vars, |values, _| values.join("|"))
        .replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__range", "1h")
        .replace("$__interval", "5s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaryd_service_promql_panels_return_data_from_a_prometheus_scraping_canaryd() {
    let app = spawn_app(Db::Postgres, with_sources).await;
    fill(&app).await;
    let target = app.url.trim_start_matches("http://").to_string();
    let (_prometheus, port, scratch) = start_scraping_prometheus(&target);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Enough scrapes that a rate over RATE_INTERVAL has two samples of every series.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = instant_query(
            &client,
            &url,
            "count_over_time(up{job=\"canaryd\"}[10s]) >= 4 and up == 1",
        )
        .await;
        if !up.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape canaryd"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let dash = dashboard("canaryd-service.json");
    let mut vars = Variables::new();
    for var in dash["templating"]["list"].as_array().expect("variables") {
        assert_eq!(var["datasource"]["uid"], "canaryd-prometheus");
        assert_eq!(var["allValue"], ".*", "{var}");
        // label_values(METRIC, LABEL): the label's values on that metric.
        let query = var["query"]["query"].as_str().expect("query");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .expect("label_values(metric, label)");
        let (metric, label) = inner.split_once(',').expect("metric, label");
        let values: Vec<String> = instant_query(&client, &url, metric.trim())
            .await
            .iter()
            .filter_map(|s| s["metric"][label.trim()].as_str().map(String::from))
            .collect();
        assert!(!values.is_empty(), "variable {query} has values");
        vars.insert(
            var["name"].as_str().expect("name").to_string(),
            vec![".*".into()],
        );
    }

    let promtool = support::require_binary("promtool");
    let mut rules = String::from("groups:\n  - name: grafana\n    rules:\n");
    let mut checked = 0;
    for (panel, t) in targets(&dash) {
        let title = panel["title"].as_str().expect("title");
        assert_eq!(t["datasource"]["uid"], "canaryd-prometheus", "{title}");
        let expr = expand_promql(t["expr"].as_str().expect("expr"), &vars);
        assert!(!expr.contains('$'), "{title}: left unexpanded: {expr}");
        let out = std::process::Command::new(&promtool)
            .args(["query", "instant", "-o", "json", &url, &expr])
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "{title}: promtool query {expr}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{title}: promtool output: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        assert!(
            result.as_array().is_some_and(|r| !r.is_empty()),
            "{title}: no data for {expr}"
        );
        rules.push_str(&format!(
            "      - record: grafana:panel_{}_{}\n        expr: {}\n",
            panel["id"],
            t["refId"].as_str().expect("refId"),
            serde_json::to_string(&expr).expect("quote")
        ));
        checked += 1;
    }
    assert_eq!(checked, 18, "every PromQL target checked");
    // promtool's own parser, offline, agrees that every expression is valid PromQL.
    let file = scratch.file("rules.yml", &rules);
    let out = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool check rules");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}

// ------------------------------------------------------------------ provisioning

/// The provisioned data sources carry the uids the dashboards use, and the provider loads
/// files.
#[test]
fn provisioning_names_what_the_dashboards_use() {
    let root = support::repo_root().join("grafana");
    let text = std::fs::read_to_string(root.join("provisioning/datasources/canaryd.yaml"))
        .expect("datasources");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("YAML");
    let sources = docs[0]["datasources"].as_vec().expect("datasources list");
    let provisioned: BTreeMap<String, String> = sources
        .iter()
        .map(|s| {
            (
                s["uid"].as_str().expect("uid").to_string(),
                s["type"].as_str().expect("type").to_string(),
            )
        })
        .collect();
    for name in ["canary-verdicts.json", "canaryd-service.json"] {
        let dash = dashboard(name);
        assert!(dash["schemaVersion"].as_i64().expect("schemaVersion") >= 39);
        assert!(dash["uid"].is_string(), "{name}");
        let mut ids = BTreeSet::new();
        for (panel, t) in targets(&dash) {
            ids.insert(panel["id"].as_i64().expect("panel id"));
            for ds in [&panel["datasource"], &t["datasource"]] {
                let uid = ds["uid"].as_str().expect("datasource uid");
                assert_eq!(
                    provisioned.get(uid).map(String::as_str),
                    ds["type"].as_str(),
                    "{name}: {uid}"
                );
            }
        }
    }
    let text = std::fs::read_to_string(root.join("provisioning/dashboards/canaryd.yaml"))
        .expect("provider");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("YAML");
    assert_eq!(docs[0]["providers"][0]["type"].as_str(), Some("file"));
    let text = std::fs::read_to_string(root.join("prometheus.yml")).expect("prometheus.yml");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("YAML");
    assert_eq!(
        docs[0]["scrape_configs"][0]["metrics_path"].as_str(),
        Some("/metrics")
    );
}
