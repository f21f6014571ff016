//! Test helpers that start REAL backends (Prometheus, InfluxDB 1.x, Graphite) on free loopback
//! ports with temporary data directories, plus tiny local HTTP servers for the faults a real
//! backend cannot be made to show on demand (silence, 500-then-200, malformed answers, and
//! Datadog, which cannot run here).
//!
//! One server per kind is shared by every test of the process (a `OnceLock`). Each runs under
//! a small `sh` watchdog that stops it and deletes its data directory when the guard is
//! dropped or, for the shared ones (statics are never dropped), when the test process exits.
//! A missing binary fails the test with a message to run `scripts/setup-test-deps.sh`.

#![allow(dead_code)]

pub mod app;
pub mod fake;
pub mod hooks;
pub mod pg;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Base time of `fixtures/live/series.om` (2023-11-14T22:20:00Z), on a whole minute.
pub const T0: i64 = 1_700_000_400;

/// Fails with the way out when a backend's binary is missing.
pub fn require_binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` is not installed: run `sudo scripts/setup-test-deps.sh` (installs the real \
             Prometheus, InfluxDB and Graphite the source tests run against)"
        ),
    }
}

/// A template named `name` judging `latency_seconds{version=SCOPE}` of the shared Prometheus
/// fixture (`fixtures/live/series.om`) at its 10 s step, as a JSON object for the API.
pub fn fixture_template(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": "latency of the fixture series",
        "step_seconds": 10,
        "metrics": [{
            "name": "latency",
            "query": "latency_seconds{version=\"${scope}\"}",
            "judge": {"test": "mann-whitney", "direction": "increase"}
        }]
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A fresh temporary directory (deleted by the watchdog of the server that uses it).
pub fn temp_dir(kind: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "canaryd-test-{kind}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A temporary directory for a test's files, removed when dropped.
pub struct Scratch {
    /// The directory.
    pub path: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory.
    pub fn new(kind: &str) -> Scratch {
        Scratch {
            path: temp_dir(kind),
        }
    }

    /// Writes `contents` to `name` inside, and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write a scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A server process under a watchdog: dropped, it stops the server and removes `dir`.
pub struct Process {
    child: Child,
    /// The server's output, for failure messages.
    pub log: PathBuf,
}

impl Process {
    /// Starts `program args` with output to `dir/NAME.log`, under the watchdog.
    pub fn spawn(
        name: &str,
        dir: &Path,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
    ) -> Process {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        // The watchdog stops the server when told (TERM) or when this process is gone, then
        // deletes the data directory.
        let script = r#"p=$1; d=$2; shift 2
"$@" & c=$!
cleanup() { kill $c 2>/dev/null; wait $c 2>/dev/null; rm -rf "$d"; exit 0; }
trap cleanup TERM INT
while kill -0 $p 2>/dev/null && kill -0 $c 2>/dev/null; do sleep 0.2; done
cleanup"#;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(dir)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn watchdog sh");
        Process { child, log }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Status of `GET path` on 127.0.0.1:port, if anything answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Sends a raw HTTP/1.0 request and returns (status, body).
pub fn http_request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn wait_ready(what: &str, port: u16, path: &str, process: &Process, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if http_status(port, path).is_some_and(|s| s < 500) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not become ready on port {port} within {limit:?}; its log:\n{}",
        process.log_text()
    );
}

/// A running backend.
pub struct Server {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    /// HTTP port.
    pub port: u16,
    processes: Vec<Process>,
}

/// One sample of an OpenMetrics fixture.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Unix seconds.
    pub t: i64,
    /// Value (NaN / ±Inf as written).
    pub value: f64,
}

/// Reads the samples of an OpenMetrics text (the subset the fixtures use).
pub fn parse_openmetrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, rest) = line
            .split_once("} ")
            .expect("fixture line: name{labels} v t");
        let (name, labels) = series.split_once('{').expect("fixture labels");
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("label k=v");
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        let mut parts = rest.split_whitespace();
        let value: f64 = match parts.next().expect("value") {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().expect("value"),
        };
        let t = parts.next().expect("timestamp").parse().expect("timestamp");
        out.push(Sample {
            name: name.to_string(),
            labels,
            t,
            value,
        });
    }
    out
}

/// The fixture shared by the source tests.
pub fn series_fixture() -> Vec<Sample> {
    let path = repo_root().join("fixtures/live/series.om");
    parse_openmetrics(&std::fs::read_to_string(&path).expect("read fixtures/live/series.om"))
}

/// Samples of `name{label=value}` from the fixture.
pub fn fixture_series(name: &str, label: &str, value: &str) -> Vec<(i64, f64)> {
    series_fixture()
        .into_iter()
        .filter(|s| s.name == name && s.labels.get(label).map(String::as_str) == Some(value))
        .map(|s| (s.t, s.value))
        .collect()
}

/// Starts a Prometheus on the data of an OpenMetrics text (backfilled with promtool first).
pub fn start_prometheus(openmetrics: &str) -> Server {
    let prometheus = require_binary("prometheus");
    let promtool = require_binary("promtool");
    let dir = temp_dir("prometheus");
    let om = dir.join("data.om");
    std::fs::write(&om, openmetrics).expect("write om");
    let data = dir.join("data");
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool backfill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global: {scrape_interval: 15s}\nscrape_configs: []\n",
    )
    .expect("write config");
    let port = free_port();
    let process = Process::spawn(
        "prometheus",
        &dir,
        &prometheus,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            // The fixtures are dated; a short retention would delete them at start.
            "--storage.tsdb.retention.time=100y".into(),
        ],
        &[],
    );
    wait_ready(
        "prometheus",
        port,
        "/-/ready",
        &process,
        Duration::from_secs(30),
    );
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        processes: vec![process],
    }
}

/// The shared Prometheus, loaded with `fixtures/live/series.om`.
pub fn prometheus() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let text = std::fs::read_to_string(repo_root().join("fixtures/live/series.om"))
            .expect("read fixtures/live/series.om");
        start_prometheus(&text)
    })
}

/// The shared InfluxDB 1.x, with database `canary` holding the finite samples of
/// `fixtures/live/series.om` (measurement = metric name, tags = labels, field `value`).
pub fn influxdb() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start_influxdb)
}

fn start_influxdb() -> Server {
    let influxd = require_binary("influxd");
    let dir = temp_dir("influxdb");
    let port = free_port();
    let rpc_port = free_port();
    let stock = Command::new(&influxd)
        .arg("config")
        .output()
        .expect("run influxd config");
    let stock = String::from_utf8_lossy(&stock.stdout);
    let mut section = String::new();
    let mut config = String::new();
    for line in stock.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        let replaced = match (section.as_str(), key) {
            ("", "bind-address") => Some(format!("bind-address = \"127.0.0.1:{rpc_port}\"")),
            ("", "reporting-enabled") => Some("reporting-enabled = false".into()),
            ("[meta]", "dir") => Some(format!("dir = \"{}/meta\"", dir.display())),
            ("[data]", "dir") => Some(format!("dir = \"{}/data\"", dir.display())),
            ("[data]", "wal-dir") => Some(format!("wal-dir = \"{}/wal\"", dir.display())),
            ("[data]", "query-log-enabled") => Some("query-log-enabled = false".into()),
            ("[monitor]", "store-enabled") => Some("store-enabled = false".into()),
            ("[http]", "bind-address") => Some(format!("bind-address = \"127.0.0.1:{port}\"")),
            ("[http]", "log-enabled") => Some("log-enabled = false".into()),
            _ => None,
        };
        config.push_str(&replaced.unwrap_or_else(|| line.to_string()));
        config.push('\n');
    }
    let config_path = dir.join("influxdb.conf");
    std::fs::write(&config_path, config).expect("write influx config");
    let process = Process::spawn(
        "influxd",
        &dir,
        &influxd,
        &["-config".into(), config_path.display().to_string()],
        &[],
    );
    wait_ready("influxd", port, "/ping", &process, Duration::from_secs(30));
    let (status, body) = http_request(port, "POST", "/query?q=CREATE%20DATABASE%20canary", "");
    assert_eq!(status, 200, "create database: {body}");
    let mut lines = String::new();
    for s in series_fixture() {
        if !s.value.is_finite() {
            continue; // line protocol has no NaN / Inf
        }
        let tags: String = s.labels.iter().map(|(k, v)| format!(",{k}={v}")).collect();
        lines.push_str(&format!("{}{tags} value={} {}\n", s.name, s.value, s.t));
    }
    let (status, body) = http_request(port, "POST", "/write?db=canary&precision=s", &lines);
    assert_eq!(status, 204, "write points: {body}");
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        processes: vec![process],
    }
}

/// The shared Graphite (carbon-cache + graphite-web's `runserver`), holding the finite samples
/// of `fixtures/live/series.om` as `NAME.LABELVALUES` (e.g. `latency_seconds.baseline`),
/// shifted in time so that `T0` becomes [`Graphite::base`]: whisper drops points older than
/// its retention, so dated fixtures cannot be written as they are.
pub struct Graphite {
    /// The running web app.
    pub server: Server,
    /// carbon's plaintext line receiver, for tests that write more series.
    pub line_port: u16,
    /// Where `T0` of the fixture was moved to (a whole minute, 30 minutes ago).
    pub base: i64,
}

impl Graphite {
    /// Writes `(path, value, unix time)` points through carbon and waits until graphite-web
    /// serves the last one.
    pub fn write(&self, points: &[(String, f64, i64)]) {
        let mut text = String::new();
        for (path, value, t) in points {
            text.push_str(&format!("{path} {value} {t}\n"));
        }
        let mut line = TcpStream::connect(("127.0.0.1", self.line_port)).expect("connect carbon");
        line.write_all(text.as_bytes()).expect("send to carbon");
        drop(line);
        let Some((path, value, t)) = points.last() else {
            return;
        };
        let probe = format!(
            "/render?target={path}&format=json&from={}&until={}",
            t - 1,
            t
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = http_request(self.server.port, "GET", &probe, "");
            let served = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .is_some_and(|v| {
                    v[0]["datapoints"].as_array().is_some_and(|points| {
                        points
                            .iter()
                            .any(|p| p[0].as_f64() == Some(*value) && p[1].as_i64() == Some(*t))
                    })
                });
            if status == 200 && served {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "graphite did not serve {path} at {t}: {status} {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The shared Graphite.
pub fn graphite() -> &'static Graphite {
    static SERVER: OnceLock<Graphite> = OnceLock::new();
    SERVER.get_or_init(start_graphite)
}

fn start_graphite() -> Graphite {
    let carbon = require_binary("carbon-cache");
    let manage = require_binary("graphite-manage");
    let dir = temp_dir("graphite");
    let (line_port, pickle_port, query_port, web_port) =
        (free_port(), free_port(), free_port(), free_port());
    let d = dir.display();
    for sub in ["whisper", "log/webapp", "lists", "graphite"] {
        std::fs::create_dir_all(dir.join(sub)).expect("graphite dirs");
    }
    std::fs::write(
        dir.join("carbon.conf"),
        format!(
            "[cache]\nSTORAGE_DIR = {d}/\nLOCAL_DATA_DIR = {d}/whisper/\nWHITELISTS_DIR = {d}/lists/\n\
             CONF_DIR = {d}/\nLOG_DIR = {d}/log/\nPID_DIR = {d}/\nUSER =\nMAX_CACHE_SIZE = inf\n\
             MAX_UPDATES_PER_SECOND = inf\nMAX_CREATES_PER_MINUTE = inf\n\
             LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {line_port}\n\
             ENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
             PICKLE_RECEIVER_PORT = {pickle_port}\nCACHE_QUERY_INTERFACE = 127.0.0.1\n\
             CACHE_QUERY_PORT = {query_port}\nLOG_UPDATES = False\nLOG_CREATES = False\n"
        ),
    )
    .expect("carbon.conf");
    std::fs::write(
        dir.join("storage-schemas.conf"),
        "[default]\npattern = .*\nretentions = 10s:1d\n",
    )
    .expect("storage-schemas.conf");
    std::fs::write(
        dir.join("canaryd_graphite_settings.py"),
        format!(
            "SECRET_KEY = 'canaryd-tests'\nALLOWED_HOSTS = ['*']\nSTORAGE_DIR = '{d}/graphite'\n\
             WHISPER_DIR = '{d}/whisper/'\nLOG_DIR = '{d}/log/webapp'\nINDEX_FILE = '{d}/graphite/index'\n\
             CARBONLINK_HOSTS = ['127.0.0.1:{query_port}']\n"
        ),
    )
    .expect("graphite settings");
    let envs = [
        ("PYTHONPATH", d.to_string()),
        (
            "GRAPHITE_SETTINGS_MODULE",
            "canaryd_graphite_settings".to_string(),
        ),
    ];
    let migrate = Command::new(&manage)
        .args(["migrate", "--run-syncdb", "-v", "0"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run graphite-manage migrate");
    assert!(
        migrate.status.success(),
        "graphite-manage migrate failed: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let cache = Process::spawn(
        "carbon-cache",
        &dir,
        &carbon,
        &[
            format!("--config={d}/carbon.conf"),
            "--debug".into(),
            "start".into(),
        ],
        &[],
    );
    let web = Process::spawn(
        "graphite-web",
        &dir,
        &manage,
        &[
            "runserver".into(),
            format!("127.0.0.1:{web_port}"),
            "--noreload".into(),
        ],
        &envs,
    );
    // carbon's line receiver is up when it accepts a connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = loop {
        match TcpStream::connect(("127.0.0.1", line_port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!(
                "carbon-cache did not listen: {e}; log:\n{}",
                cache.log_text()
            ),
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let base = now / 60 * 60 - 1800;
    let mut text = String::new();
    for s in series_fixture() {
        if !s.value.is_finite() {
            continue;
        }
        let path: Vec<&str> = std::iter::once(s.name.as_str())
            .chain(s.labels.values().map(String::as_str))
            .collect();
        text.push_str(&format!(
            "{} {} {}\n",
            path.join("."),
            s.value,
            s.t - T0 + base
        ));
    }
    line.write_all(text.as_bytes()).expect("send to carbon");
    drop(line);
    wait_ready(
        "graphite-web",
        web_port,
        "/render?target=x&format=json",
        &web,
        Duration::from_secs(60),
    );
    // Carbon creates whisper files and caches points asynchronously: wait until the last
    // point of the fixture can be read back.
    let probe = format!(
        "/render?target=requests.b&format=json&from={}&until={}",
        base + 599,
        base + 600
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_request(web_port, "GET", &probe, "");
        if status == 200 && body.contains("1160") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "graphite did not serve the written points: {status} {body}\ncarbon log:\n{}\nweb log:\n{}",
            cache.log_text(),
            web.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Graphite {
        line_port,
        server: Server {
            url: format!("http://127.0.0.1:{web_port}"),
            port: web_port,
            processes: vec![web, cache],
        },
        base,
    }
}
