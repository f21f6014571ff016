//! Load benchmark of `POST /api/v1/judgments` (issue 4): requests per second and p50/p99
//! latency measured by `wrk`, printed next to the in-process time of the same judgment, so that
//! the service's overhead is a ratio (goal: p50 < 2x the in-process judge time, no error).
//!
//! The request is what a pipeline sends when it has the points already: an inline template of
//! 10 Mann-Whitney metrics (mixed directions) and inline data, 500 points per side per metric
//! (about 200 KB of JSON), generated from a fixed-seed PRNG. Two canaries are shifted the bad
//! way and one the harmless way, so the verdict is not a trivial pass. The template is sent
//! inline rather than stored and named: it is 2 KB next to 200 KB of data, so the choice barely
//! moves the figures, and the request stays self-contained.
//!
//! The server is the real `canaryd serve` binary as its own process (cargo builds it for the
//! bench: `CARGO_BIN_EXE_canaryd`, the release binary under `cargo bench`), on a fresh SQLite
//! file, log level `warn`, one worker per CPU. wrk and the server are separate processes, as a
//! client and a service would be, but they share the machine's cores.
//!
//! Run: `cargo bench --bench api_load` (needs `wrk`: `scripts/setup-test-deps.sh`).
//! `API_LOAD_SECONDS` (default 60) is the length of each wrk run; `API_LOAD_CONNECTIONS`
//! (default `1,2,4`) the connection counts, one run each: one connection gives the cleanest p50
//! to compare with the in-process time, two match the server's workers (one per core), four
//! queue behind them (throughput).
//! `API_LOAD_ITERATIONS` (default 50) sets the in-process repetitions (medians are printed);
//! `API_LOAD_STORED` (default 200; 3 in the smoke run) the judgments stored per kind of points
//! for the store's bytes per judgment (the same in a debug build: it is bytes, not time).
//!
//! The store's cost is printed too: bytes per judgment, measured in process on fresh SQLite
//! files through the service's own path (`make_judgment`), for the bench's body (full-precision
//! points, ~17 digits each) and for the same shape with six-significant-digit log-normal points
//! (what monitoring systems return; the figure of issue 18's goal), and the write rate each wrk
//! run implies (requests per second × bytes per judgment).
//!
//! Under `cargo test --benches` (no `--bench` argument) it is a smoke test: the same request
//! against the debug binary, a few POSTs checked for 201 and the in-process verdict, and a 1 s
//! wrk run checked for errors. Nothing there is timed against a limit.

#[path = "../tests/canaryd/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use canaryd::api::body;
use canaryd::api::judgments::{input_of, JudgmentRequest};
use canaryd::config::Settings;
use canaryd::judge::judge;
use canaryd::service::{make_judgment, Points, TemplateRef};
use canaryd::source::ObservationSet;
use canaryd::store::{now_ms, NewJudgment, Store};
use canaryd::template::parse_template;
use serde_json::{json, Value};

const METRICS: usize = 10;
const POINTS: usize = 500;

/// xorshift64* (Vigna 2016): tiny, deterministic, good enough for synthetic metrics.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1): never 0, so that `ln` below is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal by Box-Muller (one of the pair; simplicity over speed).
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Direction and canary shift (ratio of the means) of metric `m`: m03 is 8% slower where an
/// increase is bad, m06 8% lower where a decrease is bad, m08 5% lower where only an increase
/// is bad (harmless); the rest are unchanged.
fn metric_shape(m: usize) -> (&'static str, f64) {
    let direction = ["increase", "decrease", "either"][m % 3];
    let shift = match m {
        3 => 1.08,
        6 => 0.92,
        8 => 0.95,
        _ => 1.0,
    };
    (direction, shift)
}

/// The inline template: 10 Mann-Whitney metrics, each its own group.
fn template_json() -> Value {
    let metrics: Vec<Value> = (0..METRICS)
        .map(|m| {
            let (direction, _) = metric_shape(m);
            json!({
                "name": format!("m{m:02}"),
                "query": format!("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{route=\"r{m}\",version=\"${{scope}}\"}}[2m])))"),
                "judge": {"test": "mann-whitney", "direction": direction},
            })
        })
        .collect();
    json!({
        "name": "load-bench-10",
        "description": "10 Mann-Whitney metrics, for benches/api_load.rs",
        "step_seconds": 10,
        "metrics": metrics,
    })
}

/// `v` rounded to six significant digits (as a monitoring system would print it).
fn six_digits(v: f64) -> f64 {
    format!("{v:.5e}")
        .parse()
        .expect("a float prints and parses")
}

/// The same template with six-significant-digit log-normal points (median 50 + 10 m, shape
/// 0.1), for the store's size: the data kind of issue 18's goal.
fn six_digit_body() -> Value {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut metrics = serde_json::Map::new();
    for m in 0..METRICS {
        let (_, shift) = metric_shape(m);
        let median = 50.0 + 10.0 * m as f64;
        let mut side = |median: f64| -> Vec<f64> {
            (0..POINTS)
                .map(|_| six_digits(median * (0.1 * rng.normal()).exp()))
                .collect()
        };
        let baseline = side(median);
        let canary = side(median * shift);
        metrics.insert(
            format!("m{m:02}"),
            json!({"baseline": baseline, "canary": canary}),
        );
    }
    json!({"template": template_json(), "data": {"metrics": metrics}})
}

/// The whole request body: the template and 500 points per side per metric.
fn request_body() -> Value {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut metrics = serde_json::Map::new();
    for m in 0..METRICS {
        let (_, shift) = metric_shape(m);
        let mean = 50.0 + 10.0 * m as f64;
        let sd = 0.1 * mean;
        let mut side =
            |mean: f64| -> Vec<f64> { (0..POINTS).map(|_| mean + sd * rng.normal()).collect() };
        let baseline = side(mean);
        let canary = side(mean * shift);
        metrics.insert(
            format!("m{m:02}"),
            json!({"baseline": baseline, "canary": canary}),
        );
    }
    json!({"template": template_json(), "data": {"metrics": metrics}})
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Medians of each step of the service's path, run in this process on the same body.
struct InProcess {
    iterations: usize,
    parse_body: Duration,
    template: Duration,
    judge: Duration,
    record_json: Duration,
    insert: Duration,
    /// The slowest insert: one now and then also checkpoints SQLite's WAL into the database.
    insert_max: Duration,
    response_json: Duration,
    make_judgment: Duration,
    verdict: String,
    score: f64,
}

impl InProcess {
    fn sum(&self) -> Duration {
        self.parse_body
            + self.template
            + self.judge
            + self.record_json
            + self.insert
            + self.response_json
    }
}

/// Times every step of `POST /api/v1/judgments` without HTTP: body parse, template, judge,
/// the stored record's JSON, the SQLite insert, the response's JSON; and the service call
/// (`make_judgment`: template, judge, record, insert) whole, as a cross-check of the sum.
fn measure_in_process(bytes: &[u8], iterations: usize, scratch: &Path) -> InProcess {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}", scratch.join("in-process.db").display());
    let store = runtime
        .block_on(Store::connect(&settings.store.url))
        .expect("in-process store");

    let (mut parse_body, mut template_t, mut judge_t) = (vec![], vec![], vec![]);
    let (mut record_t, mut insert_t, mut response_t, mut whole) = (vec![], vec![], vec![], vec![]);
    let mut last = None;
    for i in 0..iterations {
        let t = Instant::now();
        let req: JudgmentRequest = body::json(bytes).expect("the body parses");
        parse_body.push(t.elapsed());
        let input = input_of(req, format!("bench-{i}")).expect("a data judgment");

        let t = Instant::now();
        let TemplateRef::Inline(text) = &input.template else {
            panic!("the template is inline")
        };
        let template = parse_template(text, "inline template").expect("the template is valid");
        template_t.push(t.elapsed());
        let Points::Data(data) = &input.points else {
            panic!("the points are inline data")
        };
        let observations = data.observations();

        let t = Instant::now();
        let report = judge(&template, &observations);
        judge_t.push(t.elapsed());

        let t = Instant::now();
        let data_json = serde_json::to_value(ObservationSet {
            metrics: observations,
        })
        .expect("data as JSON");
        let report_json = serde_json::to_value(&report).expect("report as JSON");
        record_t.push(t.elapsed());

        let record = NewJudgment {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: now_ms(),
            request_id: input.request_id.clone(),
            template: template.name.clone(),
            template_version: None,
            template_source: text.clone(),
            mode: "data".into(),
            baseline: None,
            canary: None,
            window_start: None,
            window_end: None,
            step_seconds: None,
            args: json!({}),
            data: data_json,
            verdict: report.verdict.as_str().into(),
            score: report.score,
            report: report_json,
            gate: None,
            gate_key: None,
            analysis_id: None,
            interval_index: None,
        };
        let t = Instant::now();
        runtime
            .block_on(store.insert_judgment(&record))
            .expect("insert");
        insert_t.push(t.elapsed());

        let t = Instant::now();
        let judgment = runtime
            .block_on(make_judgment(&settings, &store, input))
            .expect("judgment");
        whole.push(t.elapsed());

        let t = Instant::now();
        let response = serde_json::to_vec(&judgment).expect("response JSON");
        response_t.push(t.elapsed());
        std::hint::black_box(response);
        last = Some(report);
    }
    runtime.block_on(store.close());
    let report = last.expect("at least one iteration");
    InProcess {
        iterations,
        parse_body: median(parse_body),
        template: median(template_t),
        judge: median(judge_t),
        record_json: median(record_t),
        insert_max: insert_t.iter().copied().max().unwrap_or_default(),
        insert: median(insert_t),
        response_json: median(response_t),
        make_judgment: median(whole),
        verdict: report.verdict.as_str().to_string(),
        score: report.score,
    }
}

/// What one judgment costs the store: bytes of the SQLite file per judgment.
struct StoreCost {
    judgments: usize,
    bytes_per_judgment: f64,
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Stores `count` judgments of `bytes` (a request body) through `make_judgment` into a fresh
/// SQLite file and measures its growth once closed (closing checkpoints the WAL into the file,
/// so the file alone holds everything).
fn measure_store(bytes: &[u8], count: usize, scratch: &Path, name: &str) -> StoreCost {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let file = scratch.join(format!("{name}.db"));
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}", file.display());
    let store = runtime
        .block_on(Store::connect(&settings.store.url))
        .expect("store");
    runtime.block_on(store.close());
    let empty = file_len(&file);
    let store = runtime
        .block_on(Store::connect(&settings.store.url))
        .expect("store");
    for i in 0..count {
        let req: JudgmentRequest = body::json(bytes).expect("the body parses");
        let input = input_of(req, format!("{name}-{i}")).expect("a data judgment");
        runtime
            .block_on(make_judgment(&settings, &store, input))
            .expect("judgment");
    }
    runtime.block_on(store.close());
    let wal = file_len(&file.with_extension("db-wal"));
    let grown = (file_len(&file) + wal).saturating_sub(empty);
    StoreCost {
        judgments: count,
        bytes_per_judgment: grown as f64 / count as f64,
    }
}

/// `canaryd serve` as its own process on a fresh SQLite file (removed when dropped).
struct Service {
    port: u16,
    dir: std::path::PathBuf,
    _process: support::Process,
}

fn start_service() -> Service {
    let dir = support::temp_dir("api-load");
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).expect("templates dir");
    let port = support::free_port();
    let config = dir.join("canaryd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"sqlite://{}\"\n\
             retention_days = 0\n\n[templates]\ndir = \"{}\"\n\n[log]\nlevel = \"warn\"\n",
            dir.join("canaryd.db").display(),
            templates.display()
        ),
    )
    .expect("write the config");
    let binary = Path::new(env!("CARGO_BIN_EXE_canaryd"));
    let process = support::Process::spawn(
        "canaryd",
        &dir,
        binary,
        &[
            "serve".into(),
            "--config".into(),
            config.display().to_string(),
        ],
        // RUST_LOG would win over the config's level.
        &[("RUST_LOG", "warn".to_string())],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::http_status(port, "/readyz") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "canaryd ({}) not ready on port {port} within 30 s; its log:\n{}",
            binary.display(),
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Service {
        port,
        dir,
        _process: process,
    }
}

/// A few POSTs through a real client: each must be a 201 with the in-process verdict.
fn check_answers(port: u16, body: &[u8], expected: &InProcess, count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        for _ in 0..count {
            let r = client
                .post(format!("http://127.0.0.1:{port}/api/v1/judgments"))
                .header("Content-Type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .expect("POST /api/v1/judgments");
            let status = r.status().as_u16();
            let answer: Value = r.json().await.expect("a JSON answer");
            assert_eq!(status, 201, "{answer}");
            assert_eq!(answer["verdict"], expected.verdict.as_str(), "{answer}");
            assert_eq!(answer["score"].as_f64(), Some(expected.score), "{answer}");
            assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty()));
        }
    });
}

/// What wrk printed, parsed.
#[derive(Debug, Default, PartialEq)]
struct WrkResult {
    requests: u64,
    rps: f64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    /// "Non-2xx or 3xx responses" (absent: 0).
    non_2xx: u64,
    /// "Socket errors: connect, read, write, timeout" summed (absent: 0).
    socket_errors: u64,
    socket_errors_text: Option<String>,
}

/// `12.34ms`, `873.00us`, `1.02s`, `2.00m` as a duration.
fn wrk_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

fn parse_wrk(out: &str) -> WrkResult {
    let mut r = WrkResult::default();
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50 = wrk_duration(v),
            ["99%", v] => r.p99 = wrk_duration(v),
            ["Requests/sec:", v] => r.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => r.requests = n.parse().unwrap_or(0),
            _ => {}
        }
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = n.trim().parse().unwrap_or(u64::MAX);
        }
        if let Some(rest) = line.strip_prefix("Socket errors:") {
            r.socket_errors = rest
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            r.socket_errors_text = Some(rest.trim().to_string());
        }
    }
    r
}

/// One wrk run of `seconds` over `connections` connections; the `lua` script POSTs the body.
fn run_wrk(port: u16, lua: &Path, connections: usize, seconds: u64) -> (WrkResult, String) {
    let wrk = support::require_binary("wrk");
    let threads = connections.clamp(1, 2);
    let out = Command::new(wrk)
        .args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            // A slow answer is measured, not dropped: wrk's default is 2 s.
            "--timeout".into(),
            "30s".into(),
            "--latency".into(),
            "-s".into(),
            lua.display().to_string(),
            format!("http://127.0.0.1:{port}/api/v1/judgments"),
        ])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (parse_wrk(&text), text)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then a quick smoke run, so
    // that the benchmark cannot rot unseen.
    let benching = std::env::args().any(|a| a == "--bench");
    let seconds: u64 = if benching {
        env_or("API_LOAD_SECONDS", 60u64).max(1)
    } else {
        1
    };
    let connections: Vec<usize> = if benching {
        std::env::var("API_LOAD_CONNECTIONS")
            .unwrap_or_else(|_| "1,2,4".into())
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .filter(|&c| c > 0)
            .collect()
    } else {
        vec![1]
    };
    let iterations: usize = if benching {
        env_or("API_LOAD_ITERATIONS", 50usize).max(1)
    } else {
        2
    };

    check_wrk_parser();
    let body = serde_json::to_vec(&request_body()).expect("body JSON");
    let scratch = support::Scratch::new("api-load-in-process");
    let lua = scratch.file(
        "post.lua",
        &format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             local f = assert(io.open([[{}]], \"rb\"))\nwrk.body = f:read(\"*a\")\nf:close()\n",
            scratch.path.join("body.json").display()
        ),
    );
    std::fs::write(scratch.path.join("body.json"), &body).expect("write the body");

    let inproc = measure_in_process(&body, iterations, &scratch.path);
    let stored: usize = env_or("API_LOAD_STORED", if benching { 200 } else { 3 }).max(1);
    let full_cost = measure_store(&body, stored, &scratch.path, "full-precision");
    let six_body = serde_json::to_vec(&six_digit_body()).expect("body JSON");
    let six_cost = measure_store(&six_body, stored, &scratch.path, "six-digit");
    let service = start_service();
    check_answers(service.port, &body, &inproc, 3);

    let profile = if benching { "release" } else { "debug" };
    println!(
        "api_load: POST /api/v1/judgments, inline template ({METRICS} mann-whitney metrics) and \
         inline data ({POINTS} points per side), {:.0} KB body, verdict {} (score {})",
        body.len() as f64 / 1024.0,
        inproc.verdict,
        inproc.score
    );
    println!(
        "  server: {} serve ({profile}, own process), SQLite, log level warn, one worker per \
         CPU; {} CPUs; load average before: {}",
        env!("CARGO_BIN_EXE_canaryd"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    println!(
        "in process, median of {} (same body, no HTTP):",
        inproc.iterations
    );
    let steps = [
        ("body JSON parse", inproc.parse_body),
        ("template (re-serialize, parse)", inproc.template),
        ("judge", inproc.judge),
        ("record JSON (data, report)", inproc.record_json),
        ("SQLite insert", inproc.insert),
        ("SQLite insert, slowest", inproc.insert_max),
        ("response JSON", inproc.response_json),
        ("sum of the steps", inproc.sum()),
        ("make_judgment (cross-check)", inproc.make_judgment),
    ];
    for (name, d) in steps {
        println!(
            "  {name:<32}{:>9.2} ms  {:>5.2}x judge",
            ms(d),
            d.as_secs_f64() / inproc.judge.as_secs_f64()
        );
    }
    println!(
        "store, in process ({} judgments each through make_judgment, fresh SQLite file, \
         growth once closed):",
        full_cost.judgments
    );
    println!(
        "  full-precision points ({:.0} KB body){:>10.1} KB per judgment",
        body.len() as f64 / 1024.0,
        full_cost.bytes_per_judgment / 1024.0
    );
    println!(
        "  six-digit points ({:.0} KB body)     {:>10.1} KB per judgment  (goal: <= 40)",
        six_body.len() as f64 / 1024.0,
        six_cost.bytes_per_judgment / 1024.0
    );
    println!("over HTTP (wrk, {seconds} s per run):");
    println!(
        "  {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12} {:>7} {:>9}",
        "conns",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "judge ms",
        "p50/judge",
        "p50-sum ms",
        "errors",
        "store MB/s"
    );
    let mut failures = Vec::new();
    let mut judgments = 3;
    for &c in &connections {
        let (r, text) = run_wrk(service.port, &lua, c, seconds);
        judgments += r.requests;
        let errors = r.non_2xx + r.socket_errors;
        let p50 = r.p50.map_or(f64::NAN, ms);
        println!(
            "  {c:>5} {:>9} {:>9.1} {p50:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>12.2} {errors:>7} {:>9.2}",
            r.requests,
            r.rps,
            r.p99.map_or(f64::NAN, ms),
            ms(inproc.judge),
            p50 / ms(inproc.judge),
            p50 - ms(inproc.sum()),
            r.rps * full_cost.bytes_per_judgment / 1e6,
        );
        if errors > 0 {
            failures.push(format!(
                "{c} connection(s): {} non-2xx/3xx, socket errors: {}\n{text}",
                r.non_2xx,
                r.socket_errors_text.as_deref().unwrap_or("none")
            ));
        }
    }
    // Every judgment is stored whole, points included: the store's growth is part of the cost.
    let bytes: u64 = ["canaryd.db", "canaryd.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(service.dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  store: {:.0} MB (database and WAL) after about {judgments} judgments, {:.0} KB each",
        bytes as f64 / 1e6,
        bytes as f64 / 1024.0 / judgments as f64
    );
    println!(
        "  (goal: p50/judge < 2 on one connection; p50-sum is what HTTP, actix and the body's \
         transfer add to the in-process steps; more connections than cores queue, and wrk \
         shares the cores with the server; store MB/s is req/s x the full-precision bytes per \
         judgment above)"
    );
    assert!(
        failures.is_empty(),
        "errors under load:\n{}",
        failures.join("\n")
    );
}

/// The parser against wrk 4.1's real output (one error case), so that a format change fails
/// the smoke run instead of printing zeros.
fn check_wrk_parser() {
    let sample = "Running 2s test @ http://127.0.0.1:8080/api/v1/judgments
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.36ms    1.10ms  30.01ms   80.00%
    Req/Sec    39.40      2.41    40.00     94.00%
  Latency Distribution
     50%   25.10ms
     75%   25.80ms
     90%   26.71ms
     99%    1.02s
  79 requests in 2.00s, 1.10MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:     39.42
Transfer/sec:    561.51KB
";
    let r = parse_wrk(sample);
    let close = |d: Option<Duration>, s: f64| d.is_some_and(|d| (d.as_secs_f64() - s).abs() < 1e-9);
    assert!(close(r.p50, 0.025_10) && close(r.p99, 1.02), "{r:?}");
    assert_eq!((r.requests, r.rps), (79, 39.42), "{r:?}");
    assert_eq!((r.non_2xx, r.socket_errors), (3, 3), "{r:?}");
    assert_eq!(
        r.socket_errors_text.as_deref(),
        Some("connect 0, read 1, write 0, timeout 2")
    );
    assert!(close(wrk_duration("873.00us"), 873e-6));
}
