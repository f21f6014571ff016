//! The `canaryd` binary end to end: the recorded scenarios of fixtures/ with their expected
//! verdicts and exit codes (CONTRACT §1), and the errors a user gets for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::Scratch;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn canaryd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_canaryd"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_LOG")
        .output()
        .expect("the canaryd binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `contents` in a file `name` of a fresh directory, removed when the first value is dropped.
fn temp_file(name: &str, contents: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new("cli");
    let path = dir.file(name, contents);
    (dir, path)
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(root().join("fixtures/scenarios/expected.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn every_recorded_scenario_gets_its_expected_verdict() {
    let scenarios = expected();
    assert!(scenarios.len() >= 6);
    for (name, want) in &scenarios {
        let template = want["template"].as_str().unwrap();
        let data = format!("fixtures/scenarios/{name}.json");
        let out = canaryd(&[
            "judge",
            "--template",
            template,
            "--data",
            &data,
            "--format",
            "json",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: stdout is not one JSON document ({e}): {}",
                stderr(&out)
            )
        });
        let verdict = report["verdict"].as_str().unwrap();
        assert_eq!(
            verdict,
            want["verdict"].as_str().unwrap(),
            "{name}: {}",
            report["reason"]
        );
        let code = match verdict {
            "pass" => 0,
            "marginal" => 2,
            "fail" => 3,
            other => panic!("{name}: verdict {other}"),
        };
        assert_eq!(out.status.code(), Some(code), "{name}: exit status");
        if let Some(score) = want.get("score") {
            assert_eq!(report["score"], *score, "{name}: {}", report["reason"]);
        }
        let metrics = report["metrics"].as_array().unwrap();
        let find = |m: &str| {
            metrics
                .iter()
                .find(|r| r["name"] == m)
                .unwrap_or_else(|| panic!("{name}: no {m}"))
        };
        if let Some(classes) = want.get("classifications").and_then(Value::as_object) {
            for (metric, class) in classes {
                let r = find(metric);
                assert_eq!(
                    r["classification"], *class,
                    "{name}/{metric}: {}",
                    r["reason"]
                );
            }
        }
        if let Some(critical) = want.get("critical").and_then(Value::as_array) {
            for metric in critical {
                let r = find(metric.as_str().unwrap());
                assert_eq!(r["critical"], true, "{name}/{metric}");
                assert!(
                    report["reason"].as_str().unwrap().contains("critical"),
                    "{name}"
                );
            }
        }
        // Every metric explains itself, and the report carries the contract's fields.
        for r in metrics {
            assert!(!r["reason"].as_str().unwrap().is_empty());
            for field in [
                "name",
                "group",
                "classification",
                "critical",
                "baseline",
                "canary",
                "mean_ratio",
            ] {
                assert!(r.get(field).is_some(), "{name}: metric lacks {field}");
            }
        }
        assert!(report["groups"].as_array().is_some_and(|g| !g.is_empty()));
    }
}

#[test]
fn the_spiky_canary_kayenta_passes_is_caught() {
    let out = canaryd(&[
        "judge",
        "--template",
        "fixtures/templates/latency-spikes.yaml",
        "--data",
        "fixtures/scenarios/latency-spikes.json",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &report["metrics"][0];
    // The rank test alone (what Kayenta runs) sees no shift of the median...
    assert_eq!(m["classification"], "pass");
    assert_eq!(m["test"]["kind"], "mann-whitney");
    // ...the mean ratio sees the spikes.
    let mean = &report["metrics"][1];
    assert_eq!(mean["classification"], "high", "{}", mean["reason"]);
    assert!(mean["reason"]
        .as_str()
        .unwrap()
        .contains("above max_increase_ratio"));
}

#[test]
fn text_format_is_a_table_with_reasons() {
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        "fixtures/scenarios/latency-regression.json",
        "--format",
        "text",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FAIL  score "), "{text}");
    assert!(
        text.contains("metric") && text.contains("shift [interval]"),
        "{text}"
    );
    assert!(
        text.contains("p99_latency") && text.contains("high"),
        "{text}"
    );
    assert!(text.contains("reason: score"), "{text}");
}

#[test]
fn json_is_the_default_when_stdout_is_not_a_terminal() {
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        "fixtures/scenarios/clean-canary.json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["verdict"], "pass", "{}", report["reason"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_missing_file_is_exit_1_naming_it() {
    let out = canaryd(&[
        "judge",
        "--template",
        "no/such/template.yaml",
        "--data",
        "fixtures/scenarios/clean-canary.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no/such/template.yaml"),
        "{}",
        stderr(&out)
    );
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        "no/such/data.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no/such/data.json"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

/// Judges `data` (written to a file `name`) with the HTTP template; asserts exit 1, no report on
/// stdout, and returns stderr.
fn judge_bad_data(name: &str, data: &str) -> String {
    let (_dir, path) = temp_file(name, data);
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    stderr(&out)
}

#[test]
fn malformed_json_is_exit_1_with_line_and_column() {
    let err = judge_bad_data(
        "bad.json",
        "{\"metrics\": {\n  \"p99_latency\": {\"baseline\": [1, 2,], \"canary\": [1]}\n}}\n",
    );
    assert!(
        err.contains("bad.json") && err.contains("line 2 column"),
        "{err}"
    );
}

#[test]
fn a_value_that_is_not_a_number_is_exit_1() {
    let err = judge_bad_data(
        "str.json",
        r#"{"metrics": {"p99_latency": {"baseline": [1, "fast"], "canary": [1]}}}"#,
    );
    assert!(err.contains("line 1 column"), "{err}");
}

#[test]
fn malformed_yaml_is_exit_1_with_line_and_column() {
    let (_dir, bad) = temp_file(
        "bad.yaml",
        "name: x\nmetrics:\n  - name: a\n    query: [unclosed\n",
    );
    let out = canaryd(&[
        "judge",
        "--template",
        bad.to_str().unwrap(),
        "--data",
        "fixtures/scenarios/clean-canary.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:"), "{err}");
}

#[test]
fn data_for_a_metric_the_template_lacks_is_exit_1() {
    let err = judge_bad_data(
        "extra.json",
        r#"{"metrics": {"p99_latncy": {"baseline": [1], "canary": [1]}}}"#,
    );
    assert!(
        err.contains("'p99_latncy'") && err.contains("p99_latency"),
        "{err}"
    );
}

#[test]
fn a_metric_missing_a_side_is_exit_1() {
    let err = judge_bad_data(
        "side.json",
        r#"{"metrics": {"p99_latency": {"baseline": [1, 2]}}}"#,
    );
    assert!(err.contains("missing field `canary`"), "{err}");
}

#[test]
fn usage_errors_are_exit_1_not_marginal() {
    let out = canaryd(&["judge", "--data", "x.json"]);
    assert_eq!(out.status.code(), Some(1));
    let out = canaryd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn template_check_accepts_the_shipped_templates() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("analysis-templates"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    for entry in std::fs::read_dir(root().join("fixtures/templates")).unwrap() {
        files.push(entry.unwrap().path().display().to_string());
    }
    let mut args = vec!["template", "check"];
    args.extend(files.iter().map(String::as_str));
    let out = canaryd(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn template_check_reports_every_problem_with_position() {
    let (_dir, bad) = temp_file(
        "problems.yaml",
        "name: bad name\nscoring: { pass: 50, marginal: 80 }\nmetrics:\n  - name: a\n    query: up{v=\"${scope}\"}\n    judge: { confidence: 1.5 }\n  - name: a\n    query: up{v=\"${scope}\"}\n",
    );
    let out = canaryd(&["template", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let path = bad.display().to_string();
    for (line, field) in [(1, "name"), (6, "confidence"), (7, "name")] {
        let prefix = format!("{path}:{line}:");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(field)),
            "no problem at line {line} about {field} in:\n{text}"
        );
    }
    assert!(text.contains("pass") && text.contains("marginal"), "{text}");
}

#[test]
fn template_check_refuses_placeholders_no_escaping_makes_safe() {
    let (_dir, bad) = temp_file(
        "unsafe.yaml",
        "name: unsafe\nmetrics:\n  - name: bare\n    query: up{v=\"${scope}\"} or ${scope}\n  - name: \
         quoted\n    query: up{v='${scope}'} + up{v=~`${scope}`}\n",
    );
    let out = canaryd(&["template", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let path = bad.display().to_string();
    // Line 4, column 32: the second `${scope}`, outside any string. The quoted ones are fine.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&path)).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "{path}:4:32: metrics[0].query: unsafe placement of `${{scope}}`"
        )),
        "{text}"
    );
}

#[test]
fn a_canary_on_a_tenth_of_the_traffic_is_judged_per_request() {
    let out = canaryd(&["template", "check", "fixtures/templates/traffic-split.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let judge = |data: &str| {
        let out = canaryd(&[
            "judge",
            "--template",
            "fixtures/templates/traffic-split.yaml",
            "--data",
            data,
            "--format",
            "json",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{data}: {e}: {}", stderr(&out)));
        (out.status.code(), report)
    };
    // Three times the primary's 5xx per request, on a ninth of its traffic: high, and the
    // score is the errors group's alone (the requests score with weight 0).
    let (code, report) = judge("fixtures/scenarios/traffic-split-regression.json");
    assert_eq!(report["verdict"], "fail", "{}", report["reason"]);
    assert_eq!(code, Some(3));
    let errors = &report["metrics"][0];
    assert_eq!(errors["name"], "errors_5xx");
    assert_eq!(errors["classification"], "high", "{}", errors["reason"]);
    let test = &errors["test"];
    assert_eq!(test["total_metric"], "requests");
    assert!(
        test["baseline_total"].as_f64().unwrap() > 100_000.0,
        "{test}"
    );
    assert!(test["canary_total"].as_f64().unwrap() < 13_000.0, "{test}");
    assert!(test["rate_ratio"].as_f64().unwrap() > 2.0, "{test}");
    // The primary's error rate: pass, although the requests themselves are `low`.
    let (code, report) = judge("fixtures/scenarios/traffic-split-clean.json");
    assert_eq!(report["verdict"], "pass", "{}", report["reason"]);
    assert_eq!(code, Some(0));
    assert_eq!(report["score"], 100.0);
    assert_eq!(report["metrics"][0]["classification"], "pass");
    assert_eq!(report["metrics"][1]["classification"], "low");
}

/// Issue 12 (7): out-of-range steps and times on the command line are exit 1 with a message
/// naming the option, never a panic (a step of 2^63 became a negative number and panicked in
/// the HTML page's time arithmetic).
#[test]
fn out_of_range_steps_and_times_exit_1_with_a_message() {
    let template = "analysis-templates/grpc-worker.yaml";
    let window = ["--start", "1700000000", "--end", "1700003600"];
    for step in [
        "9223372036854775808",
        "18446744073709551615",
        "4611686018427387904",
    ] {
        let mut args = vec!["judge", "--template", template, "--baseline", "a"];
        args.extend(["--canary", "b", "--arg", "job=x", "--format", "html"]);
        args.extend(window);
        args.extend(["--step-seconds", step]);
        let out = canaryd(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "--step-seconds {step}: {err}");
        assert!(err.contains("step_seconds"), "--step-seconds {step}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    for (flag, time) in [
        ("--start", "-99999999999999"),
        ("--start", "1e300"),
        ("--end", "99999999999999999999"),
    ] {
        let mut args = vec!["judge", "--template", template, "--baseline", "a"];
        args.extend(["--canary", "b", "--arg", "job=x"]);
        let (start, end) = if flag == "--start" {
            (time, "1700003600")
        } else {
            ("1700000000", time)
        };
        let (start, end) = (format!("--start={start}"), format!("--end={end}"));
        args.extend([start.as_str(), end.as_str()]);
        let out = canaryd(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flag} {time}: {err}");
        assert!(err.contains(flag), "{flag} {time}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Issue 12 (8): one 2 MB anchored scalar repeated by 1,000 aliases took `template check` to
/// 2 GB. It is refused at the alias that breaks the text budget, with its file, line and column.
#[test]
fn template_check_refuses_a_scalar_repeated_by_aliases_at_the_alias() {
    let mut text = format!("name: bomb\nbig: &big \"{}\"\nmany:\n", "x".repeat(2 << 20));
    for _ in 0..1000 {
        text.push_str("  - *big\n");
    }
    let (_dir, path) = temp_file("bomb.yaml", &text);
    let out = canaryd(&["template", "check", path.to_str().unwrap()]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    let at = format!(
        "{}:4:5: many[0]: this alias repeats 2097152 bytes",
        path.display()
    );
    assert!(all.contains(&at), "{all}");
    assert!(
        all.contains("bytes of text once aliases are expanded"),
        "{all}"
    );
}

/// Every report has a headline of at most 200 characters (CONTRACT §8): the verdict, the
/// score and each failing metric with its change and interval.
#[test]
fn every_report_has_a_short_headline_naming_what_failed() {
    for (name, want) in &expected() {
        let template = want["template"].as_str().unwrap();
        let data = format!("fixtures/scenarios/{name}.json");
        let out = canaryd(&["judge", "--template", template, "--data", &data]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let headline = report["headline"].as_str().unwrap();
        assert!(headline.chars().count() <= 200, "{name}: {headline}");
        let verdict = report["verdict"].as_str().unwrap().to_uppercase();
        assert!(
            headline.starts_with(&format!("{verdict} ")),
            "{name}: {headline}"
        );
        for m in report["metrics"].as_array().unwrap() {
            if matches!(m["classification"].as_str(), Some("high" | "low")) {
                let metric = m["name"].as_str().unwrap();
                assert!(
                    headline.contains(metric),
                    "{name}: {headline} lacks {metric}"
                );
            }
        }
    }
    let out = canaryd(&[
        "judge",
        "--template",
        "analysis-templates/http-golden-signals.yaml",
        "--data",
        "fixtures/scenarios/latency-regression.json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["headline"],
        "FAIL 50: p99_latency +28.6% [+25.9%, +31.2%], p50_latency +16.4% [+14.9%, +17.9%]"
    );
}
