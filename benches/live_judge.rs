//! Live judgment benchmark: a 20-metric template judged against a REAL Prometheus over a
//! 1-hour window at 10-second steps (40 range queries: 20 metrics x baseline and canary).
//!
//! It backfills realistic data (per metric and scope, a 6-bucket latency histogram scraped
//! every 10 s) with `promtool`, starts Prometheus on it, then prints the wall time of the whole
//! judgment (render, fetch, judge) next to the machine's limit and their ratio (goal <= 1.15),
//! and canaryd's own CPU per judgment (user + sys of this process, from `/proc/self/stat`).
//!
//! The limit is the larger of the slowest query alone (plus the latency the proxy adds) and
//! the sum of all queries' times, one by one, divided by the cores: Prometheus runs here on
//! the benchmark's own cores, so its queries cost CPU that concurrency cannot make up.
//!
//! Run: `cargo bench --bench live_judge` (needs `scripts/setup-test-deps.sh`).
//! `LIVE_JUDGE_ROUNDS` (default 5) sets the rounds; medians are printed.
//!
//! Here Prometheus runs on the same 2 cores as the benchmark, so each query costs only CPU and
//! 40 of them cannot finish in the time of one. A second run puts a proxy that holds every
//! answer back by `LIVE_JUDGE_LATENCY_MS` (default 20 ms) in front of it, as a backend across a
//! network would be, to show what concurrency buys there.

#[path = "../tests/canaryd/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canaryd::config::SourceSettings;
use canaryd::service::live::{judge_with_source, render_queries, LiveRequest};
use canaryd::source::{
    build_source, parse_time, MetricSource, Series, SourceError, Window, DEFAULT_MAX_CONCURRENT,
};
use canaryd::template::{Direction, JudgeSpec, MetricSpec, Scoring, Template};

const METRICS: usize = 20;
const START: i64 = 1_700_003_600; // on the hour
const HOUR: i64 = 3600;
const STEP: i64 = 10;
const BUCKETS: [&str; 6] = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];

/// Cumulative histogram counters, deterministic: the canary of every third metric is slower.
fn openmetrics() -> String {
    let mut out = String::from("# TYPE bench_request_duration_seconds_bucket unknown\n");
    for m in 0..METRICS {
        for (v, version) in ["baseline", "canary"].iter().enumerate() {
            for (b, le) in BUCKETS.iter().enumerate() {
                let mut count = 0u64;
                // Two minutes before the window so that rate(...[1m]) has data at its start.
                let mut t = START - 120;
                let mut i = 0u64;
                while t <= START + HOUR {
                    let slow = v == 1 && m % 3 == 0;
                    let share = if slow {
                        (b as u64 + 1) * 12
                    } else {
                        (b as u64 + 2) * 15
                    };
                    count += (share.min(100) + (i * 7 + m as u64 + b as u64) % 5) * 3;
                    let _ = writeln!(
                        out,
                        "bench_request_duration_seconds_bucket{{metric=\"m{m:02}\",version=\"{version}\",le=\"{le}\"}} {count} {t}"
                    );
                    t += STEP;
                    i += 1;
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then one quick round as a
    // smoke test, so that the benchmark cannot rot unseen.
    let benching = std::env::args().any(|a| a == "--bench");
    let rounds: usize = std::env::var("LIVE_JUDGE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 5 } else { 1 })
        .max(1);
    let setup = Instant::now();
    let server = support::start_prometheus(&openmetrics());
    eprintln!(
        "backfilled {} series x {} points and started Prometheus in {:.1} s",
        METRICS * 2 * BUCKETS.len(),
        (HOUR + 120) / STEP + 1,
        setup.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let settings = SourceSettings {
        kind: "prometheus".into(),
        url: server.url.clone(),
        timeout_seconds: Some(10.0),
        max_concurrent_queries: None,
        judgment_timeout_seconds: None,
        options: Default::default(),
    };
    let window = Window::new(
        parse_time(&START.to_string()).expect("start"),
        parse_time(&(START + HOUR).to_string()).expect("end"),
        STEP as u64,
    )
    .expect("window");

    let latency_ms: u64 = std::env::var("LIVE_JUDGE_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let latency = Duration::from_millis(latency_ms);
    // The proxy runs on a thread of its own, so that its CPU can be told from canaryd's.
    let proxy = Proxy::start(
        server.url.trim_start_matches("http://").to_string(),
        latency,
    );
    runtime.block_on(async {
        let direct = Run {
            settings: settings.clone(),
            label: "direct to Prometheus".into(),
            added_latency: Duration::ZERO,
            proxy_thread: None,
        };
        measure(&direct, &settings, rounds, &window, DEFAULT_MAX_CONCURRENT).await;
        let delayed = Run {
            settings: SourceSettings {
                url: proxy.url.clone(),
                ..settings.clone()
            },
            label: format!("through a proxy adding {latency_ms} ms per answer"),
            added_latency: latency,
            proxy_thread: Some(proxy.thread_id),
        };
        measure(&delayed, &settings, rounds, &window, DEFAULT_MAX_CONCURRENT).await;
        // The same with every query in flight at once (max_concurrent_queries = 40).
        measure(&delayed, &settings, rounds, &window, 2 * METRICS).await;
    });
}

/// The latency proxy, on its own thread and runtime.
struct Proxy {
    url: String,
    /// The thread's id (Linux tid), to read its CPU time from `/proc/self/task/TID/stat`.
    thread_id: String,
}

impl Proxy {
    fn start(upstream: String, delay: Duration) -> Proxy {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let fake = support::fake::slow_proxy(upstream, delay).await;
                // "/proc/thread-self" links to "PID/task/TID".
                let tid = std::fs::read_link("/proc/thread-self")
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                let _ = tx.send((fake.url.clone(), tid));
                std::future::pending::<()>().await;
            });
        });
        let (url, thread_id) = rx.recv().expect("proxy started");
        Proxy { url, thread_id }
    }
}

/// User + system CPU time of this process (`None`) or of one of its threads, from
/// `/proc/self/stat` (clock ticks of 10 ms: summed over the rounds, the error stays one tick).
fn cpu_time(thread: Option<&str>) -> Duration {
    let path = match thread {
        Some(tid) => format!("/proc/self/task/{tid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15. USER_HZ is 100 on Linux.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// One configuration measured: where the queries go and what the limit adds.
struct Run {
    settings: SourceSettings,
    label: String,
    /// What the proxy adds to every answer (zero direct).
    added_latency: Duration,
    /// The proxy's thread, whose CPU is not canaryd's.
    proxy_thread: Option<String>,
}

/// A source that times every query it forwards.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn MetricSource>,
    times: Mutex<Vec<Duration>>,
}

#[async_trait]
impl MetricSource for Timed {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn url(&self) -> &str {
        self.inner.url()
    }
    fn escape(&self, value: &str) -> Result<String, SourceError> {
        self.inner.escape(value)
    }
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let t = Instant::now();
        let result = self.inner.fetch_range(metric, query, window).await;
        if let Ok(mut times) = self.times.lock() {
            times.push(t.elapsed());
        }
        result
    }
}

/// The 20-metric template: Mann-Whitney on every metric, latency up is bad, rate down is bad.
fn template() -> Template {
    let metrics = (0..METRICS)
        .map(|m| {
            let (query, direction) = if m % 2 == 0 {
                (
                    format!("histogram_quantile(0.99, sum by (le) (rate(bench_request_duration_seconds_bucket{{metric=\"m{m:02}\",version=\"${{scope}}\"}}[1m])))"),
                    Direction::Increase,
                )
            } else {
                (
                    format!("sum(rate(bench_request_duration_seconds_bucket{{metric=\"m{m:02}\",version=\"${{scope}}\",le=\"+Inf\"}}[1m]))"),
                    Direction::Decrease,
                )
            };
            MetricSpec {
                name: format!("m{m:02}"),
                group: None,
                query,
                judge: JudgeSpec { direction, ..JudgeSpec::default() },
            }
        })
        .collect();
    Template {
        name: "bench-20".into(),
        description: String::new(),
        source: "prometheus".into(),
        args: BTreeMap::new(),
        scope: Default::default(),
        step_seconds: STEP as u64,
        scoring: Scoring::default(),
        groups: vec![],
        metrics,
    }
}

async fn measure(
    run: &Run,
    direct: &SourceSettings,
    rounds: usize,
    window: &Window,
    max_concurrent: usize,
) {
    let inner = build_source("prometheus", &run.settings).expect("source");
    let source = Timed {
        inner,
        times: Mutex::new(Vec::new()),
    };
    // The queries one by one go straight to Prometheus: its time per query is what the cores
    // must spend, whatever the network adds.
    let straight = build_source("prometheus", direct).expect("source");
    let template = template();
    let request = LiveRequest {
        baseline: "baseline".into(),
        canary: "canary".into(),
        window: *window,
        args: BTreeMap::new(),
    };
    let queries =
        render_queries(&template, &source, "baseline", "canary", &BTreeMap::new()).expect("render");
    let all_queries: Vec<(String, String)> = queries
        .iter()
        .flat_map(|q| {
            [
                (q.name.clone(), q.baseline_query.clone()),
                (q.name.clone(), q.canary_query.clone()),
            ]
        })
        .collect();
    // Warm up: connections, Prometheus' caches; and check the data is all there.
    let warm = judge_with_source(&template, &source, &request, max_concurrent)
        .await
        .expect("judgment");
    for m in &warm.metrics {
        assert_eq!(m.baseline.count, 361, "{}: {}", m.name, m.reason);
        assert_eq!(m.canary.count, 361, "{}: {}", m.name, m.reason);
    }
    for (name, q) in &all_queries {
        straight.fetch_range(name, q, window).await.expect("query");
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut slowest_alone = Vec::new();
    let mut sum_alone = Vec::new();
    let mut whole = Vec::new();
    let mut slowest_inside = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu = Duration::ZERO;
    for _ in 0..rounds {
        let mut slowest = Duration::ZERO;
        let mut sum = Duration::ZERO;
        for (name, q) in &all_queries {
            let t = Instant::now();
            straight.fetch_range(name, q, window).await.expect("query");
            let d = t.elapsed();
            slowest = slowest.max(d);
            sum += d;
        }
        slowest_alone.push(slowest);
        sum_alone.push(sum);
        let limit = (slowest + run.added_latency).max(sum / cores as u32);

        source.times.lock().expect("times").clear();
        let (cpu_before, proxy_before) = (
            cpu_time(None),
            run.proxy_thread.as_deref().map(|t| cpu_time(Some(t))),
        );
        let t = Instant::now();
        let report = judge_with_source(&template, &source, &request, max_concurrent)
            .await
            .expect("judgment");
        let took = t.elapsed();
        let proxy_cpu = match (proxy_before, run.proxy_thread.as_deref()) {
            (Some(before), Some(t)) => cpu_time(Some(t)).saturating_sub(before),
            _ => Duration::ZERO,
        };
        cpu += cpu_time(None)
            .saturating_sub(cpu_before)
            .saturating_sub(proxy_cpu);
        whole.push(took);
        ratios.push(took.as_secs_f64() / limit.as_secs_f64());
        assert_eq!(report.metrics.len(), METRICS);
        let inside = source.times.lock().expect("times").iter().copied().max();
        slowest_inside.push(inside.unwrap_or_default());
    }
    let (slowest, sum, whole, inside) = (
        median(slowest_alone),
        median(sum_alone),
        median(whole),
        median(slowest_inside),
    );
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let limit = (slowest + run.added_latency).max(sum / cores as u32);
    println!(
        "live_judge, {}: a {METRICS}-metric template, 2 scopes = {} range queries, 1 h \
         window at {STEP} s steps (361 points each), at most {max_concurrent} queries in \
         flight, median of {rounds} rounds, {cores} cores",
        run.label,
        all_queries.len()
    );
    println!(
        "  sum of the queries run one by one        : {:8.2} ms (direct)",
        ms(sum)
    );
    println!(
        "  slowest single query, run alone          : {:8.2} ms (direct)",
        ms(slowest)
    );
    println!(
        "  slowest single query, inside the judgment: {:8.2} ms",
        ms(inside)
    );
    println!(
        "  limit: max(slowest + {:.0} ms, sum / {cores}) : {:8.2} ms",
        ms(run.added_latency),
        ms(limit)
    );
    println!(
        "  whole judgment (render, fetch, judge)    : {:8.2} ms   ratio to the limit {:.2} (goal <= 1.15; median of the rounds' own ratios)",
        ms(whole),
        ratio
    );
    println!(
        "  canaryd's own CPU per judgment           : {:8.2} ms (user + sys of this process{}, mean)",
        ms(cpu / rounds as u32),
        if run.proxy_thread.is_some() {
            ", less the proxy's thread"
        } else {
            ""
        }
    );
}
