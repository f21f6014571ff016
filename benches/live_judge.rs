//! Live judgment benchmark: a 20-metric template judged against a REAL Prometheus over a
//! 1-hour window at 10-second steps (40 range queries: 20 metrics x baseline and canary).
//!
//! It backfills realistic data (per metric and scope, a 6-bucket latency histogram scraped
//! every 10 s) with `promtool`, starts Prometheus on it, then prints the wall time of the whole
//! judgment (render, fetch, judge) next to the slowest single query, timed alone and inside
//! the judgment, and their ratios (goal <= 1.5).
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
    runtime.block_on(async {
        let direct = settings.clone();
        measure(
            &direct,
            "direct to Prometheus",
            rounds,
            &window,
            DEFAULT_MAX_CONCURRENT,
        )
        .await;
        let proxy = support::fake::slow_proxy(
            server.url.trim_start_matches("http://").to_string(),
            Duration::from_millis(latency_ms),
        )
        .await;
        let delayed = SourceSettings {
            url: proxy.url.clone(),
            ..settings.clone()
        };
        let label = format!("through a proxy adding {latency_ms} ms per answer");
        measure(&delayed, &label, rounds, &window, DEFAULT_MAX_CONCURRENT).await;
        // The same with every query in flight at once (max_concurrent_queries = 40).
        measure(&delayed, &label, rounds, &window, 2 * METRICS).await;
    });
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
    settings: &SourceSettings,
    label: &str,
    rounds: usize,
    window: &Window,
    max_concurrent: usize,
) {
    let inner = build_source("prometheus", settings).expect("source");
    let source = Timed {
        inner,
        times: Mutex::new(Vec::new()),
    };
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

    let mut slowest_alone = Vec::new();
    let mut sum_alone = Vec::new();
    let mut whole = Vec::new();
    let mut slowest_inside = Vec::new();
    for _ in 0..rounds {
        let mut slowest = Duration::ZERO;
        let mut sum = Duration::ZERO;
        for (name, q) in &all_queries {
            let t = Instant::now();
            source
                .inner
                .fetch_range(name, q, window)
                .await
                .expect("query");
            let d = t.elapsed();
            slowest = slowest.max(d);
            sum += d;
        }
        slowest_alone.push(slowest);
        sum_alone.push(sum);

        source.times.lock().expect("times").clear();
        let t = Instant::now();
        let report = judge_with_source(&template, &source, &request, max_concurrent)
            .await
            .expect("judgment");
        whole.push(t.elapsed());
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
    println!(
        "live_judge, {label}: a {METRICS}-metric template, 2 scopes = {} range queries, 1 h \
         window at {STEP} s steps (361 points each), at most {max_concurrent} queries in \
         flight, median of {rounds} rounds",
        all_queries.len()
    );
    println!(
        "  sum of the queries run one by one        : {:8.2} ms",
        ms(sum)
    );
    println!(
        "  slowest single query, run alone          : {:8.2} ms",
        ms(slowest)
    );
    println!(
        "  slowest single query, inside the judgment: {:8.2} ms",
        ms(inside)
    );
    println!(
        "  whole judgment (render, fetch, judge)    : {:8.2} ms   ratio to the slowest alone {:.2} (goal <= 1.5), to the slowest inside {:.2}",
        ms(whole),
        whole.as_secs_f64() / slowest.as_secs_f64(),
        whole.as_secs_f64() / inside.as_secs_f64()
    );
}
