//! Nothing lost, nothing twice (issue 5): real `canaryd serve` processes killed with SIGKILL
//! in the middle of analyses. One process on SQLite, killed and restarted; three processes on
//! one real PostgreSQL sharing 50 analyses, one of them killed mid-way. Every interval must be
//! recorded exactly once, with exactly one judgment, and every callback delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::analyses::settled;
use crate::support::app::{postgres, read};
use crate::support::hooks::Receiver;
use crate::support::{self, Scratch, T0};

/// A `canaryd serve` process.
pub(crate) struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// Its output.
    pub(crate) log: PathBuf,
}

impl Node {
    pub(crate) fn start(dir: &Path, name: &str, store: &str, source: &str) -> Node {
        let port = support::free_port();
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"[server]
listen = "127.0.0.1:{port}"
workers = 1
[store]
url = "{store}"
[templates]
dir = "{dir}/no-templates"
[log]
level = "warn"
[sources.prometheus]
kind = "prometheus"
url = "{source}"
timeout_seconds = 5
[scheduler]
settle_seconds = 0
lease_seconds = 2
poll_interval_ms = 100
max_concurrent_judgments = 2
batch_size = 2
instance_id = "{name}"
[callbacks]
allow_loopback = true
"#,
                dir = dir.display()
            ),
        )
        .unwrap();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_canaryd"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start canaryd serve");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while support::http_status(port, "/readyz") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "{name} did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Node { child, url, log }
    }

    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    let (status, v) = read(client.get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> Value {
    let (status, v) = read(client.post(url).json(body).send().await.unwrap()).await;
    assert!(status == 201 || status == 200, "{status} {v}");
    v
}

async fn put_template(client: &reqwest::Client, node: &Node) {
    let body = support::fixture_template("fixture-latency");
    let r = client
        .put(format!("{}/api/v1/templates/fixture-latency", node.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Every interval of `a` recorded exactly once, each with a judgment.
fn check_intervals(a: &Value) {
    let count = a["interval_count"].as_i64().unwrap();
    let idx: Vec<i64> = a["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_i64().unwrap())
        .collect();
    assert_eq!(idx, (0..count).collect::<Vec<_>>(), "{a:#}");
    assert!(a["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["judgment_id"].is_string() && i["error"].is_null()));
}

/// Judgments stored per analysis interval, counted through the history API.
async fn judgments_per_interval(client: &reqwest::Client, node: &Node) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut path = format!(
        "{}/api/v1/judgments?template=fixture-latency&limit=1000",
        node.url
    );
    loop {
        let page = get(client, path.clone()).await;
        for j in page["judgments"].as_array().unwrap() {
            let full = get(
                client,
                format!(
                    "{}/api/v1/judgments/{}",
                    node.url,
                    j["id"].as_str().unwrap()
                ),
            )
            .await;
            assert_eq!(full["input"]["gate"], "analysis");
            let key = full["request_id"].as_str().unwrap().to_string();
            *counts.entry(key).or_insert(0) += 1;
        }
        match page["next"].as_str() {
            Some(next) => {
                path = format!(
                    "{}/api/v1/judgments?template=fixture-latency&limit=1000&before={next}",
                    node.url
                )
            }
            None => break,
        }
    }
    counts
}

async fn wait_settled(
    client: &reqwest::Client,
    node: &Node,
    ids: &[String],
    limit: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let mut all = Vec::new();
        for id in ids {
            all.push(get(client, format!("{}/api/v1/analyses/{id}", node.url)).await);
        }
        if all.iter().all(settled) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "analyses did not settle; {} of {} done; log:\n{}",
            all.iter().filter(|a| settled(a)).count(),
            ids.len(),
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_analysis_then_restart_loses_and_repeats_nothing() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let slow = support::fake::slow_proxy(upstream, Duration::from_millis(150)).await;
    let dir = Scratch::new("crash");
    std::fs::create_dir_all(dir.path.join("no-templates")).unwrap();
    let store = format!("sqlite://{}", dir.path.join("canaryd.db").display());
    let hook = Receiver::start(0).await;
    let client = reqwest::Client::new();

    let mut node = Node::start(&dir.path, "crash-node", &store, &slow.url);
    put_template(&client, &node).await;
    let made = post(
        &client,
        format!("{}/api/v1/analyses", node.url),
        &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                "start": T0, "lifetime_minutes": 10, "interval_minutes": 0.5,
                "stop_on_fail": false, "callback_url": hook.url, "callback_secret": "k"}),
    )
    .await;
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["interval_count"], 20);
    // Kill it once a few intervals are in, mid-way through the rest.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = get(&client, format!("{}/api/v1/analyses/{id}", node.url)).await;
        if a["intervals"].as_array().unwrap().len() >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {a:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill();
    let before = hook.all().len();

    let node = Node::start(&dir.path, "crash-node", &store, &slow.url);
    let all = wait_settled(
        &client,
        &node,
        std::slice::from_ref(&id),
        Duration::from_secs(60),
    )
    .await;
    let a = &all[0];
    assert_eq!(a["state"], "completed");
    check_intervals(a);
    let per_interval = judgments_per_interval(&client, &node).await;
    assert_eq!(per_interval.len(), 20, "{per_interval:?}");
    assert!(per_interval.values().all(|n| *n == 1), "{per_interval:?}");
    let expected: BTreeSet<String> = a["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 21, "20 intervals and the end");
    assert_eq!(hook.delivered_ids(), expected);
    assert!(
        before < hook.all().len(),
        "callbacks continued after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_share_the_work_and_survive_a_kill() {
    let upstream = support::prometheus()
        .url
        .trim_start_matches("http://")
        .to_string();
    let slow = support::fake::slow_proxy(upstream, Duration::from_millis(40)).await;
    let dir = Scratch::new("scale");
    std::fs::create_dir_all(dir.path.join("no-templates")).unwrap();
    let store = postgres().new_database().await;
    let hook = Receiver::start(0).await;
    let client = reqwest::Client::new();

    let nodes: Vec<Node> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| Node::start(&dir.path, n, &store, &slow.url))
        .collect();
    let mut nodes = nodes;
    put_template(&client, &nodes[0]).await;
    let mut ids = Vec::new();
    for i in 0..50 {
        let node = &nodes[i % 3];
        let canary = if i % 2 == 0 { "canary" } else { "baseline" };
        let made = post(
            &client,
            format!("{}/api/v1/analyses", node.url),
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": canary,
                    "start": T0, "lifetime_minutes": 10, "interval_minutes": 2.5,
                    "stop_on_fail": false, "callback_url": hook.url, "callback_secret": "k"}),
        )
        .await;
        ids.push(made["id"].as_str().unwrap().to_string());
    }
    // Kill node-b once about a third of the 200 intervals are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = hook
            .all()
            .iter()
            .filter(|r| r.json()["event"] == "interval")
            .count();
        if done >= 60 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {done} intervals");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nodes[1].kill();

    let all = wait_settled(&client, &nodes[0], &ids, Duration::from_secs(120)).await;
    let mut judged_by = BTreeSet::new();
    let mut expected = BTreeSet::new();
    for (i, a) in all.iter().enumerate() {
        assert_eq!(a["state"], "completed");
        check_intervals(a);
        assert_eq!(a["verdict"], if i % 2 == 0 { "fail" } else { "pass" });
        for iv in a["intervals"].as_array().unwrap() {
            judged_by.insert(iv["judged_by"].as_str().unwrap().to_string());
        }
        for d in a["deliveries"].as_array().unwrap() {
            expected.insert(d["id"].as_str().unwrap().to_string());
        }
    }
    assert!(judged_by.len() >= 2, "the work was shared: {judged_by:?}");
    assert!(
        judged_by.contains("node-b"),
        "node-b worked before it died: {judged_by:?}"
    );
    let per_interval = judgments_per_interval(&client, &nodes[2]).await;
    assert_eq!(per_interval.len(), 200);
    assert!(per_interval.values().all(|n| *n == 1), "{per_interval:?}");
    assert_eq!(expected.len(), 250, "200 intervals and 50 ends");
    assert_eq!(hook.delivered_ids(), expected);
}
