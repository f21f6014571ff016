//! Live fetch benchmark: a 20-metric set fetched from a REAL Prometheus over a 1-hour window
//! at 10-second steps (40 range queries: 20 metrics x baseline and canary).
//!
//! It backfills realistic data (per metric and scope, a 6-bucket latency histogram scraped
//! every 10 s) with `promtool`, starts Prometheus on it, then prints the wall time of the whole
//! `fetch_all` next to the slowest single query timed alone, and their ratio (goal <= 1.5).
//!
//! Run: `cargo bench --bench live_fetch` (needs `scripts/setup-test-deps.sh`).
//! `LIVE_FETCH_ROUNDS` (default 5) sets the rounds; medians are printed.
//!
//! Here Prometheus runs on the same 2 cores as the benchmark, so each query costs only CPU and
//! 40 of them cannot finish in the time of one. A second run puts a proxy that holds every
//! answer back by `LIVE_FETCH_LATENCY_MS` (default 20 ms) in front of it, as a backend across a
//! network would be, to show what concurrency buys there.

#[path = "../tests/canaryd/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use canaryd::config::SourceSettings;
use canaryd::source::{build_source, fetch_all, parse_time, MetricQuery, Window};

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

fn queries(escape: impl Fn(&str) -> String) -> Vec<MetricQuery> {
    (0..METRICS)
        .map(|m| {
            let template = if m % 2 == 0 {
                format!(
                    "histogram_quantile(0.99, sum by (le) (rate(bench_request_duration_seconds_bucket{{metric=\"m{m:02}\",version=\"${{scope}}\"}}[1m])))"
                )
            } else {
                format!(
                    "sum(rate(bench_request_duration_seconds_bucket{{metric=\"m{m:02}\",version=\"${{scope}}\",le=\"+Inf\"}}[1m]))"
                )
            };
            MetricQuery {
                name: format!("m{m:02}"),
                baseline_query: template.replace("${scope}", &escape("baseline")),
                canary_query: template.replace("${scope}", &escape("canary")),
            }
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rounds: usize = std::env::var("LIVE_FETCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
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
        options: Default::default(),
    };
    let window = Window::new(
        parse_time(&START.to_string()).expect("start"),
        parse_time(&(START + HOUR).to_string()).expect("end"),
        STEP as u64,
    )
    .expect("window");

    let latency_ms: u64 = std::env::var("LIVE_FETCH_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    runtime.block_on(async {
        let direct = settings.clone();
        measure(&direct, "direct to Prometheus", rounds, &window).await;
        let proxy = support::fake::slow_proxy(
            server.url.trim_start_matches("http://").to_string(),
            Duration::from_millis(latency_ms),
        )
        .await;
        let delayed = SourceSettings {
            url: proxy.url.clone(),
            ..settings.clone()
        };
        measure(
            &delayed,
            &format!("through a proxy adding {latency_ms} ms per answer"),
            rounds,
            &window,
        )
        .await;
    });
}

async fn measure(settings: &SourceSettings, label: &str, rounds: usize, window: &Window) {
    let source = build_source("prometheus", settings).expect("source");
    let window = *window;
    let queries = queries(|v| source.escape(v).expect("escape"));
    let all_queries: Vec<(String, String)> = queries
        .iter()
        .flat_map(|q| {
            [
                (q.name.clone(), q.baseline_query.clone()),
                (q.name.clone(), q.canary_query.clone()),
            ]
        })
        .collect();
    {
        // Warm up: connections, Prometheus' caches.
        let warm = fetch_all(&*source, &queries, &window, 40)
            .await
            .expect("fetch");
        for (name, o) in &warm {
            assert!(o.error.is_none(), "{name}: {:?}", o.error);
            assert_eq!(o.baseline.len(), 361);
            assert!(o.baseline.iter().all(Option::is_some), "{name} has gaps");
        }

        let mut slowest_alone = Vec::new();
        let mut sum_alone = Vec::new();
        let mut whole = Vec::new();
        let mut whole16 = Vec::new();
        for _ in 0..rounds {
            let mut slowest = Duration::ZERO;
            let mut sum = Duration::ZERO;
            for (name, q) in &all_queries {
                let t = Instant::now();
                source.fetch_range(name, q, &window).await.expect("query");
                let d = t.elapsed();
                slowest = slowest.max(d);
                sum += d;
            }
            slowest_alone.push(slowest);
            sum_alone.push(sum);

            let t = Instant::now();
            let obs = fetch_all(&*source, &queries, &window, 40)
                .await
                .expect("fetch");
            whole.push(t.elapsed());
            assert_eq!(obs.len(), METRICS);

            let t = Instant::now();
            fetch_all(&*source, &queries, &window, 16)
                .await
                .expect("fetch");
            whole16.push(t.elapsed());
        }
        let (slowest, sum, whole, whole16) = (
            median(slowest_alone),
            median(sum_alone),
            median(whole),
            median(whole16),
        );
        println!(
            "live_fetch, {label}: {METRICS} metrics x 2 scopes = {} range queries, 1 h window \
             at {STEP} s steps (361 points each), median of {rounds} rounds",
            all_queries.len()
        );
        println!("  sum of the queries run one by one : {:8.2} ms", ms(sum));
        println!(
            "  slowest single query alone        : {:8.2} ms",
            ms(slowest)
        );
        println!(
            "  fetch_all, max_concurrent = 40    : {:8.2} ms   ratio to slowest {:.2} (goal <= 1.5)",
            ms(whole),
            whole.as_secs_f64() / slowest.as_secs_f64()
        );
        println!(
            "  fetch_all, max_concurrent = 16    : {:8.2} ms   ratio to slowest {:.2}",
            ms(whole16),
            whole16.as_secs_f64() / slowest.as_secs_f64()
        );
    }
}
