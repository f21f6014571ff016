//! The report pages (issue 6): served by canaryd as self-contained HTML with SVG charts, loaded
//! in a real headless Chromium (Debian `chromium`, installed by scripts/setup-test-deps.sh):
//! no console message, the charts are in the DOM, and a screenshot is kept in
//! `target/test-artifacts/`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::analyses::{fast, settled, wait_for};
use crate::support::app::{spawn_app, Db};
use crate::support::{self, Scratch, T0};

fn artifacts() -> PathBuf {
    let dir = support::repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=FILE`); returns
/// (stdout, stderr).
fn chromium(url: &str, mode: &str) -> (String, String) {
    let binary = support::require_binary("chromium");
    let profile = Scratch::new("chromium");
    let out = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1320,2400",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path.display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every message the page wrote to the console (errors, CSP refusals, failed loads).
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_pages_render_in_a_real_browser() {
    let app = spawn_app(Db::Sqlite, fast).await;
    app.put_fixture_template("fixture-latency").await;
    let (status, made) = app
        .post(
            "/api/v1/judgments",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                    "start": T0, "end": T0 + 600}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap();

    // Served as HTML that may fetch nothing.
    let r = app
        .client
        .get(app.at(&format!("/judgments/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script"), "no script");
    assert!(!page.contains("src=\"http"), "nothing from another host");
    assert!(page.contains("id=\"verdict\">FAIL<"));

    let url = app.at(&format!("/judgments/{id}"));
    let (dom, stderr) = chromium(&url, "--dump-dom");
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    assert!(dom.contains("Canary judgment: fixture-latency"));
    assert_eq!(
        dom.matches("<svg class=\"chart series\"").count(),
        1,
        "time series"
    );
    assert_eq!(
        dom.matches("<svg class=\"chart distribution\"").count(),
        1,
        "distribution"
    );
    assert!(dom.contains("class=\"ci\""), "the interval is marked");
    assert_eq!(
        dom.matches("<polyline").count(),
        2,
        "baseline and canary lines"
    );
    let shot = artifacts().join("judgment-page.png");
    let (_, stderr) = chromium(&url, &format!("--screenshot={}", shot.display()));
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));

    // The analysis page, with links to each interval's judgment page.
    let (_, a) = app
        .post(
            "/api/v1/analyses",
            &json!({"template": "fixture-latency", "baseline": "baseline", "canary": "canary",
                    "start": T0, "lifetime_minutes": 10, "interval_minutes": 2.5,
                    "stop_on_fail": false}),
        )
        .await;
    let aid = a["id"].as_str().unwrap();
    let a = wait_for(&app, aid, settled).await;
    let url = app.at(&format!("/analyses/{aid}"));
    let (dom, stderr) = chromium(&url, "--dump-dom");
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    assert_eq!(
        dom.matches("<rect class=\"bar fail\"").count(),
        4,
        "one bar per interval"
    );
    for i in a["intervals"].as_array().unwrap() {
        assert!(dom.contains(&format!(
            "href=\"/judgments/{}\"",
            i["judgment_id"].as_str().unwrap()
        )));
    }
    let shot = artifacts().join("analysis-page.png");
    chromium(&url, &format!("--screenshot={}", shot.display()));
    assert!(shot.exists());
    let (status, _) = app.get("/judgments/no-such-id").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[test]
fn judge_format_html_writes_the_same_page_offline() {
    let scratch = Scratch::new("html");
    let out = Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .args(["judge", "--template"])
        .arg(support::repo_root().join("analysis-templates/http-golden-signals.yaml"))
        .arg("--data")
        .arg(support::repo_root().join("fixtures/scenarios/latency-regression.json"))
        .args(["--format", "html"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the verdict is still the exit status"
    );
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg class=\"chart series\"").count(), 4);
    assert_eq!(html.matches("<svg class=\"chart distribution\"").count(), 4);
    let file = scratch.file("report.html", &html);
    let (dom, stderr) = chromium(&format!("file://{}", file.display()), "--dump-dom");
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    assert!(dom.contains("id=\"verdict\">FAIL<"));
}

/// A canary that stepped up half-way: the page's series chart marks where, and the page still
/// loads without a console message.
#[test]
fn the_series_chart_marks_where_the_canary_stepped() {
    let scratch = Scratch::new("html-step");
    let wobble = |i: usize, k: f64| 200.0 + 12.0 * ((i as f64) * k).sin();
    let baseline: Vec<f64> = (0..120).map(|i| wobble(i, 1.7)).collect();
    let canary: Vec<f64> = (0..120)
        .map(|i| wobble(i, 2.3) * if i >= 61 { 1.4 } else { 1.0 })
        .collect();
    let data = scratch.file(
        "step.json",
        &json!({"metrics": {"latency": {"baseline": baseline, "canary": canary}}}).to_string(),
    );
    let template = scratch.file(
        "step.yaml",
        "name: step\nsource: recorded\nmetrics:\n  - name: latency\n    query: q{v=\"${scope}\"}\n    judge: { test: auto, direction: increase, allowed_increase: 1.05 }\n",
    );
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_canaryd"))
            .args(["judge", "--template"])
            .arg(&template)
            .arg("--data")
            .arg(&data)
            .args(["--format", format])
            .output()
            .unwrap()
    };
    let json_out = run("json");
    let report: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let c = &report["metrics"][0]["change_point"];
    assert_eq!(c["index"], 61, "{report}");
    assert_eq!(c["direction"], "up");
    let html = String::from_utf8(run("html").stdout).unwrap();
    assert_eq!(html.matches("class=\"change-point\"").count(), 1);
    assert!(
        html.contains("canary stepped up at point 62"),
        "the marker's label"
    );
    let file = scratch.file("report.html", &html);
    let (dom, stderr) = chromium(&format!("file://{}", file.display()), "--dump-dom");
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    assert!(dom.contains("change-point"));
}
