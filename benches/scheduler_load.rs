//! Scheduler load benchmark (issue 5, "Performance"; issue 18, ten times the analyses): 1,000
//! concurrent analyses at 1-minute intervals (`SCHEDULER_LOAD_ANALYSES=10000` for issue 18),
//! on one instance over SQLite and on three instances over one PostgreSQL database. It prints,
//! per scenario, the lag between an interval's due time (window end + settle) and its judgment
//! at p50/p99/max, read back from `analysis_intervals`, each instance's peak memory (`VmHWM`)
//! and CPU time, its idle CPU (from the last analysis created to just before the first falls
//! due: every analysis waiting, none due), and whether each goal is met. Goal: p99 lag under
//! 2 s, under 200 MB per instance.
//!
//! Everything is real: a Prometheus (Debian `prometheus`) on a free loopback port scrapes
//! itself as two jobs, `baseline` and `canary`, every 5 s, so a 3-metric template has data at
//! the current time for both scopes; canaryd runs as release processes (`canaryd serve
//! --config FILE`, log level warn); PostgreSQL is a throwaway cluster started by the bench.
//!
//! Run (needs `scripts/setup-test-deps.sh`):
//!
//! ```sh
//! cargo build --release --bin canaryd
//! cargo bench --bench scheduler_load
//! ```
//!
//! Knobs (environment): `SCHEDULER_LOAD_ANALYSES` (1000), `SCHEDULER_LOAD_LIFETIME_MINUTES`
//! (3: three intervals each), `SCHEDULER_LOAD_STORES` (`sqlite,postgres`),
//! `SCHEDULER_LOAD_STARTS` (`aligned,spread`: every analysis starting at the same instant, the
//! hardest case, or starts spread evenly over the first minute), `SCHEDULER_LOAD_SETTINGS`
//! (extra TOML lines for `[scheduler]`, e.g. `max_concurrent_judgments = 64`).
//!
//! `cargo test --benches` runs a smoke version instead: one in-process canaryd on SQLite, five
//! analyses whose windows are already in the past (judged at once) against the fixture
//! Prometheus; it checks that every interval is recorded, and times nothing.

#[path = "../tests/canaryd/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canaryd::store::Store;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde_json::{json, Value};

use support::app::{spawn_app, Db};
use support::{free_port, http_status, require_binary, Scratch, T0};

/// Settle delay of the full run: short, so that the run is short; the lag is measured from the
/// due time, so it does not change the figures.
const SETTLE_SECONDS: f64 = 5.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then the smoke version.
    let benching = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if benching {
        runtime.block_on(full());
    } else {
        runtime.block_on(smoke());
    }
}

// ---------------------------------------------------------------------------------------------
// What is measured

/// The figures of one scenario, read back from the store.
#[derive(Debug, Default)]
struct Figures {
    analyses: usize,
    completed: usize,
    expected_intervals: i64,
    intervals: usize,
    errors: Vec<String>,
    verdicts: std::collections::BTreeMap<String, usize>,
    /// Seconds from due time (window end + settle) to judgment, sorted.
    lags: Vec<f64>,
    by_instance: std::collections::BTreeMap<String, usize>,
}

impl Figures {
    fn quantile(&self, q: f64) -> f64 {
        if self.lags.is_empty() {
            return f64::NAN;
        }
        // Nearest rank.
        let rank = ((q * self.lags.len() as f64).ceil() as usize).clamp(1, self.lags.len());
        self.lags[rank - 1]
    }
}

/// Every analysis and every recorded interval of the store at `url`.
async fn read_figures(url: &str) -> Figures {
    let store = Store::connect(url).await.expect("open the store to read");
    let analyses = store
        .list_analyses(None, 1_000_000)
        .await
        .expect("list analyses");
    let mut f = Figures {
        analyses: analyses.len(),
        ..Figures::default()
    };
    for a in &analyses {
        f.expected_intervals += a.interval_count;
        if a.state == canaryd::store::AnalysisState::Completed {
            f.completed += 1;
        }
        let settle = chrono::Duration::milliseconds((a.settle_seconds * 1000.0).round() as i64);
        for i in store.list_intervals(&a.id).await.expect("list intervals") {
            f.intervals += 1;
            if let Some(e) = &i.error {
                f.errors.push(format!("{} #{}: {e}", a.id, i.index));
            }
            *f.verdicts.entry(i.verdict.to_string()).or_default() += 1;
            *f.by_instance.entry(i.judged_by.clone()).or_default() += 1;
            let lag = (i.judged_at - (i.end + settle)).num_milliseconds() as f64 / 1000.0;
            f.lags.push(lag);
        }
    }
    f.lags.sort_by(f64::total_cmp);
    store.close().await;
    f
}

/// (analyses completed, analyses) of the store at `store`.
async fn progress(store: &Store) -> (usize, usize) {
    match store.list_analyses(None, 1_000_000).await {
        Ok(all) => (
            all.iter()
                .filter(|a| a.state == canaryd::store::AnalysisState::Completed)
                .count(),
            all.len(),
        ),
        Err(_) => (0, 0),
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A process of the benchmark's own, stopped (SIGTERM, then SIGKILL) when dropped.
struct Owned {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Owned {
    fn spawn(name: &str, dir: &Path, program: &Path, args: &[String]) -> Owned {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Owned {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// (VmHWM, VmRSS) in MB, from `/proc/PID/status`.
    fn memory_mb(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
    }

    /// User + system CPU seconds so far, from `/proc/PID/stat` (clock ticks of 1/100 s).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        match (tick(11), tick(12)) {
            (Some(u), Some(s)) => (u + s) / 100.0,
            _ => f64::NAN,
        }
    }

    fn wait_ready(&mut self, port: u16, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if http_status(port, path) == Some(200) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}); its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not become ready on port {port}; its log:\n{}",
            self.name,
            self.log_text()
        );
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus that scrapes itself as job `baseline` and as job `canary` every 5 s.
fn start_live_prometheus(dir: &Path) -> (Owned, String) {
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 5s, evaluation_interval: 1m}}\nscrape_configs:\n\
             - job_name: baseline\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n\
             - job_name: canary\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        ),
    )
    .expect("write prometheus.yml");
    let mut p = Owned::spawn(
        "prometheus",
        dir,
        &require_binary("prometheus"),
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".into(),
        ],
    );
    p.wait_ready(port, "/-/ready");
    (p, format!("http://127.0.0.1:{port}"))
}

/// The 3-metric template of the full run: Prometheus' own request rate, memory and scrape
/// time, per job.
fn live_template() -> Value {
    json!({
        "name": "bench-live",
        "step_seconds": 5,
        "metrics": [
            {"name": "request_rate",
             "query": "sum(rate(prometheus_http_requests_total{job=\"${scope}\"}[30s]))",
             "judge": {"test": "mann-whitney", "direction": "decrease"}},
            {"name": "resident_memory",
             "query": "process_resident_memory_bytes{job=\"${scope}\"}",
             "judge": {"test": "mann-whitney", "direction": "increase"}},
            {"name": "scrape_duration",
             "query": "scrape_duration_seconds{job=\"${scope}\"}",
             "judge": {"test": "mann-whitney", "direction": "increase"}}
        ]
    })
}

async fn put_template(client: &reqwest::Client, base: &str, template: &Value) {
    let name = template["name"].as_str().expect("template name");
    let r = client
        .put(format!("{base}/api/v1/templates/{name}"))
        .header("content-type", "application/json")
        .body(template.to_string())
        .send()
        .await
        .expect("PUT template");
    let status = r.status();
    assert!(
        status.is_success(),
        "PUT template: {status} {}",
        r.text().await.unwrap_or_default()
    );
}

/// Creates `bodies` round-robin over `bases`, 16 requests in flight; returns how long it took.
async fn create_analyses(client: &reqwest::Client, bases: &[String], bodies: Vec<Value>) -> f64 {
    let t = Instant::now();
    let results: Vec<(u16, String)> = futures::stream::iter(bodies.into_iter().enumerate())
        .map(|(i, body)| {
            let url = format!("{}/api/v1/analyses", bases[i % bases.len()]);
            let client = client.clone();
            async move {
                let r = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST analysis");
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (status, body) in &results {
        assert_eq!(*status, 201, "POST /api/v1/analyses: {body}");
    }
    t.elapsed().as_secs_f64()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------------
// The full run

struct Scenario {
    store: String,
    starts: String,
}

async fn full() {
    let analyses: usize = env_or("SCHEDULER_LOAD_ANALYSES", 1000);
    let lifetime: f64 = env_or("SCHEDULER_LOAD_LIFETIME_MINUTES", 3.0);
    let extra = std::env::var("SCHEDULER_LOAD_SETTINGS").unwrap_or_default();
    let binary = support::repo_root().join("target/release/canaryd");
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build --release --bin canaryd` first",
        binary.display()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "scheduler_load: {analyses} analyses x {} intervals of 1 min (lookback 1 min), settle \
         {SETTLE_SECONDS} s, 3-metric template, live Prometheus; load average at start: {}",
        (lifetime as i64).max(1),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !extra.trim().is_empty() {
        println!(
            "  [scheduler] extra settings: {}",
            extra.replace('\n', "; ")
        );
    }
    let scratch = Scratch::new("scheduler-load");
    let (prometheus, prom_url) = start_live_prometheus(&scratch.path);
    let mut scenarios = Vec::new();
    for store in env_list("SCHEDULER_LOAD_STORES", "sqlite,postgres") {
        for starts in env_list("SCHEDULER_LOAD_STARTS", "aligned,spread") {
            scenarios.push(Scenario {
                store: store.clone(),
                starts,
            });
        }
    }
    for (n, s) in scenarios.iter().enumerate() {
        run_scenario(
            n,
            s,
            analyses,
            lifetime,
            &extra,
            &binary,
            &scratch.path,
            &prom_url,
            &prometheus,
        )
        .await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_scenario(
    n: usize,
    s: &Scenario,
    analyses: usize,
    lifetime: f64,
    extra: &str,
    binary: &Path,
    dir: &Path,
    prom_url: &str,
    prometheus: &Owned,
) {
    let dir = dir.join(format!("scenario-{n}"));
    std::fs::create_dir_all(dir.join("templates")).expect("scenario dir");
    let (db_url, instances) = match s.store.as_str() {
        "sqlite" => (format!("sqlite://{}", dir.join("canaryd.db").display()), 1),
        "postgres" => (support::app::postgres().new_database().await, 3),
        other => panic!("SCHEDULER_LOAD_STORES: unknown store {other:?}"),
    };
    let mut procs = Vec::new();
    let mut bases = Vec::new();
    for i in 0..instances {
        let port = free_port();
        let config = dir.join(format!("canaryd-{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"{db_url}\"\n\
                 retention_days = 0\n\n[templates]\ndir = \"{}\"\n\n[log]\nlevel = \"warn\"\n\n\
                 [sources.prometheus]\nkind = \"prometheus\"\nurl = \"{prom_url}\"\n\
                 timeout_seconds = 10\n\n[scheduler]\nsettle_seconds = {SETTLE_SECONDS}\n\
                 instance_id = \"bench-{i}\"\n{extra}\n",
                dir.join("templates").display()
            ),
        )
        .expect("write canaryd config");
        let mut p = Owned::spawn(
            &format!("canaryd-{i}"),
            &dir,
            binary,
            &[
                "serve".into(),
                "--config".into(),
                config.display().to_string(),
            ],
        );
        p.wait_ready(port, "/readyz");
        procs.push(p);
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    put_template(&client, &bases[0], &live_template()).await;
    let start = Utc::now();
    let spread = s.starts == "spread";
    let bodies = (0..analyses)
        .map(|i| {
            let offset = if spread {
                chrono::Duration::milliseconds((i as i64 * 60_000) / analyses as i64)
            } else {
                chrono::Duration::zero()
            };
            json!({
                "template": "bench-live",
                "baseline": "baseline",
                "canary": "canary",
                "start": rfc3339(start + offset),
                "lifetime_minutes": lifetime,
                "interval_minutes": 1,
                "lookback_minutes": 1,
                "stop_on_fail": false,
            })
        })
        .collect();
    let prom_cpu_before = prometheus.cpu_seconds();
    let created_in = create_analyses(&client, &bases, bodies).await;
    let label = format!(
        "{} instance(s) on {}, starts {}",
        instances,
        s.store,
        if spread {
            "spread over the first minute"
        } else {
            "aligned (all due at once)"
        }
    );
    eprintln!("{label}: {analyses} analyses created in {created_in:.1} s; waiting");

    // Idle CPU: from now to 5 s before the first window ends, nothing is due (every first
    // interval ends a minute after its start), so what the instances spend is the cost of
    // waiting with every analysis pending.
    let idle_from = Instant::now();
    let idle_cpu_before: Vec<f64> = procs.iter().map(Owned::cpu_seconds).collect();
    let idle_until = start + chrono::Duration::seconds(55);
    let idle = match (idle_until - Utc::now()).to_std() {
        Ok(wait) if wait >= Duration::from_secs(5) => {
            tokio::time::sleep(wait).await;
            let seconds = idle_from.elapsed().as_secs_f64();
            let used: Vec<f64> = procs
                .iter()
                .zip(&idle_cpu_before)
                .map(|(p, before)| p.cpu_seconds() - before)
                .collect();
            Some((seconds, used))
        }
        _ => None,
    };

    // From here on the instances judge: their CPU and Prometheus' (with the range queries it
    // answered) are the work that the lag is made of.
    let judging_from = (
        procs.iter().map(Owned::cpu_seconds).sum::<f64>(),
        prometheus.cpu_seconds(),
        range_queries(&client, prom_url).await,
        machine_busy_seconds(),
        Instant::now(),
    );

    // Wait for the last window (start + lifetime [+ 1 min spread]) plus settle, then for the
    // store to say every analysis is completed (at most 5 minutes more).
    let store = Store::connect(&db_url).await.expect("open the store");
    let last_due = start
        + chrono::Duration::milliseconds((lifetime * 60_000.0) as i64)
        + chrono::Duration::milliseconds((SETTLE_SECONDS * 1000.0) as i64)
        + if spread {
            chrono::Duration::minutes(1)
        } else {
            chrono::Duration::zero()
        };
    let give_up = last_due + chrono::Duration::minutes(5);
    loop {
        let now = Utc::now();
        if now >= last_due {
            let (done, all) = progress(&store).await;
            if done == all || now >= give_up {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    store.close().await;

    let mut metric_lag = Vec::new();
    for base in &bases {
        metric_lag.push(lag_from_metrics(&client, base).await);
    }
    let memory: Vec<(f64, f64)> = procs.iter().map(Owned::memory_mb).collect();
    let cpu: Vec<f64> = procs.iter().map(Owned::cpu_seconds).collect();
    let prom_cpu = prometheus.cpu_seconds() - prom_cpu_before;
    let judging = Judging {
        canaryd_cpu: cpu.iter().sum::<f64>() - judging_from.0,
        prometheus_cpu: prometheus.cpu_seconds() - judging_from.1,
        queries: range_queries(&client, prom_url).await - judging_from.2,
        machine_busy: machine_busy_seconds() - judging_from.3,
        seconds: judging_from.4.elapsed().as_secs_f64(),
        aligned: !spread,
    };
    drop(procs);
    let f = read_figures(&db_url).await;
    report(
        &label,
        &f,
        &memory,
        &cpu,
        prom_cpu,
        &metric_lag,
        idle.as_ref(),
        &judging,
    );
}

/// The work of the judging part of a scenario (from just before the first interval falls due
/// to the end).
struct Judging {
    canaryd_cpu: f64,
    prometheus_cpu: f64,
    /// Range queries Prometheus answered meanwhile.
    queries: f64,
    /// CPU seconds the whole machine spent meanwhile (every process), and the wall time.
    machine_busy: f64,
    seconds: f64,
    aligned: bool,
}

/// CPU seconds the machine has spent (all cores, every process, not idle or waiting for I/O),
/// from `/proc/stat` (clock ticks of 1/100 s).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return f64::NAN;
    };
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .take(6)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0
}

/// The range queries a Prometheus has answered so far, from its own `/metrics`.
async fn range_queries(client: &reqwest::Client, prom_url: &str) -> f64 {
    let text = match client.get(format!("{prom_url}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains("handler=\"/api/v1/query_range\"")
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// (count, sum) of `canaryd_interval_lag_seconds` on an instance's `/metrics`.
async fn lag_from_metrics(client: &reqwest::Client, base: &str) -> (f64, f64) {
    let text = match client.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("canaryd_interval_lag_seconds_count"),
        value("canaryd_interval_lag_seconds_sum"),
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    label: &str,
    f: &Figures,
    memory: &[(f64, f64)],
    cpu: &[f64],
    prom_cpu: f64,
    metric_lag: &[(f64, f64)],
    idle: Option<&(f64, Vec<f64>)>,
    judging: &Judging,
) {
    println!("scheduler_load, {label}:");
    println!(
        "  analyses {} (completed {}), intervals judged {} of {}{}",
        f.analyses,
        f.completed,
        f.intervals,
        f.expected_intervals,
        if f.intervals as i64 == f.expected_intervals {
            ""
        } else {
            "  <-- MISSING INTERVALS"
        }
    );
    println!(
        "  lag after due (window end + settle): p50 {:.3} s, p99 {:.3} s, max {:.3} s (goal p99 < 2 s)",
        f.quantile(0.5),
        f.quantile(0.99),
        f.lags.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  verdicts {:?}, per instance {:?}",
        f.verdicts, f.by_instance
    );
    if !f.errors.is_empty() {
        println!("  {} intervals with an error, e.g.:", f.errors.len());
        for e in f.errors.iter().take(5) {
            println!("    {e}");
        }
    }
    for (i, ((hwm, rss), cpu)) in memory.iter().zip(cpu).enumerate() {
        let (count, sum) = metric_lag.get(i).copied().unwrap_or_default();
        println!(
            "  instance {i}: peak memory (VmHWM) {hwm:.1} MB, VmRSS at the end {rss:.1} MB \
             (goal < 200 MB), CPU {cpu:.1} s; /metrics: {count} lags, mean {:.3} s",
            if count > 0.0 { sum / count } else { f64::NAN }
        );
    }
    println!("  Prometheus CPU during the scenario: {prom_cpu:.1} s");
    let total_cpu: f64 = cpu.iter().sum();
    if f.intervals > 0 {
        println!(
            "  canaryd CPU per judged interval: {:.2} ms (all instances)",
            total_cpu * 1000.0 / f.intervals as f64
        );
    }
    match idle {
        Some((seconds, used)) => println!(
            "  idle CPU ({} analyses waiting, none due, {seconds:.0} s): {} ms per second per instance",
            f.analyses,
            used.iter()
                .map(|u| format!("{:.1}", u * 1000.0 / seconds))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => println!("  idle CPU: not measured (the analyses took too long to create)"),
    }
    let p99 = f.quantile(0.99);
    if f.intervals > 0 && judging.queries > 0.0 {
        let n = f.intervals as f64;
        let per_judgment = judging.canaryd_cpu / n;
        let per_query = judging.prometheus_cpu / judging.queries;
        println!(
            "  judging: canaryd CPU {:.1} s ({:.2} ms per interval), Prometheus CPU {:.1} s for \
             {:.0} range queries ({:.2} ms each; {:.2} per interval sent, 6 asked)",
            judging.canaryd_cpu,
            per_judgment * 1000.0,
            judging.prometheus_cpu,
            judging.queries,
            per_query * 1000.0,
            judging.queries / n,
        );
        let others = judging.machine_busy - judging.canaryd_cpu - judging.prometheus_cpu;
        println!(
            "  the machine meanwhile ({:.0} s): {:.1} CPU s busy, of which other processes \
             (PostgreSQL, this bench, other builds) {:.1} s",
            judging.seconds, judging.machine_busy, others
        );
        if judging.aligned {
            // Every analysis falls due at once each interval: one wave is `analyses` judgments,
            // and no schedule can judge the last of them before the CPU they need is spent.
            let cores = std::thread::available_parallelism().map_or(2, |c| c.get()) as f64;
            let wave = f.analyses as f64;
            let every_query = (6.0 * wave * per_query + wave * per_judgment) / cores;
            let sent = ((judging.queries / n) * wave * per_query + wave * per_judgment) / cores;
            println!(
                "  floor of one aligned wave of {wave:.0} judgments on {cores:.0} cores: {every_query:.1} s \
                 with 6 queries each, {sent:.1} s with the queries sent; p99 lag / floor = {:.2}",
                p99 / sent
            );
        }
    }
    let peak = memory.iter().map(|m| m.0).fold(0.0, f64::max);
    let all_judged = f.intervals as i64 == f.expected_intervals;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "  goals: every interval judged {}; p99 lag {p99:.3} s < 2 s {}; peak memory {peak:.1} MB < 200 MB {}",
        met(all_judged),
        met(p99 < 2.0),
        met(peak < 200.0)
    );
}

// ---------------------------------------------------------------------------------------------
// The smoke version (`cargo test --benches`)

async fn smoke() {
    let prometheus = support::prometheus().url.clone();
    let app = spawn_app(Db::Sqlite, |s| {
        s.scheduler.settle_seconds = 0.0;
        s.scheduler.poll_interval_ms = 100;
        s.sources.get_mut("prometheus").expect("source").url = prometheus;
    })
    .await;
    let template = json!({
        "name": "bench-fixture",
        "step_seconds": 10,
        "metrics": [{
            "name": "latency",
            "query": "latency_seconds{version=\"${scope}\"}",
            "judge": {"test": "mann-whitney", "direction": "increase"}
        }]
    });
    put_template(&app.client, &app.url, &template).await;
    // Windows in the fixture's past: judged as soon as they are created.
    let bodies = (0..5)
        .map(|i| {
            json!({
                "template": "bench-fixture",
                "baseline": "baseline",
                "canary": "canary",
                "start": T0 + i * 10,
                "lifetime_minutes": 3,
                "interval_minutes": 1,
                "lookback_minutes": 1,
                "stop_on_fail": false,
            })
        })
        .collect();
    create_analyses(&app.client, std::slice::from_ref(&app.url), bodies).await;
    let store = Store::connect(&app.db_url).await.expect("open the store");
    // A guard against a hang, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, all) = progress(&store).await;
        if done == all && all == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "smoke: only {done} of {all} analyses completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
    let f = read_figures(&app.db_url).await;
    let _scratch = app.stop().await;
    assert_eq!(f.analyses, 5);
    assert_eq!(f.intervals, 15, "{f:?}");
    assert_eq!(f.intervals as i64, f.expected_intervals);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    println!(
        "scheduler_load smoke: {} analyses, {} intervals judged in-process on SQLite (windows in \
         the past, so the lags say nothing); run `cargo bench --bench scheduler_load` for the \
         figures",
        f.analyses, f.intervals
    );
}
