//! The targets, and the short run of each in the normal test suite.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use canaryd::judge::{judge, Report};
use canaryd::source::{self, Observation, RecordedData, Series, Window};
use canaryd::template::{parse_template, TemplateError};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use super::app::{check_answer, with_app};
use super::gen::{self, json_doc, odd_json, template_text};
use super::{cases, run};

/// Cases per target in the normal test run: the whole module stays well under a minute in a
/// debug build on two cores.
const SHORT: u32 = 300;
/// The API targets are slower per case (a store write for most).
const SHORT_API: u32 = 150;

// ---------------------------------------------------------------------------------------------
// Templates

/// Template YAML: `parse_template` accepts it or lists diagnostics, each at a line and column
/// of the text.
pub fn target_template_yaml(cases: u32) {
    run("template_yaml", cases, template_text(), |text| {
        check_template(text)
    });
}

/// The invariant for one template text.
pub fn check_template(text: &str) -> Result<(), String> {
    match parse_template(text, "fuzz.yaml") {
        Ok(t) => {
            if t.metrics.is_empty() {
                return Err("accepted a template without metrics".into());
            }
            Ok(())
        }
        Err(TemplateError::Invalid(diagnostics)) => {
            if diagnostics.is_empty() {
                return Err("refused with no diagnostic".into());
            }
            if let Some(d) = diagnostics.iter().find(|d| d.line == 0 || d.column == 0) {
                return Err(format!("diagnostic without a position: {d}"));
            }
            Ok(())
        }
        Err(other) => Err(format!("unexpected error kind: {other}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Recorded data

/// Recorded data JSON: parsed or refused with a message naming the file.
pub fn target_recorded_json(cases: u32) {
    run("recorded_json", cases, gen::recorded_json(), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match RecordedData::parse(&text, "data.json") {
            Ok(data) => {
                let _ = data.observations();
                Ok(())
            }
            Err(e) if e.to_string().contains("data.json") => Ok(()),
            Err(e) => Err(format!("error does not name the file: {e}")),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Backend answers

fn make_window((start, step, points): (i64, u64, u64)) -> Option<Window> {
    let start_at = Utc.timestamp_opt(start, 0).single()?;
    let end_at = Utc
        .timestamp_opt(start.checked_add((step.checked_mul(points)?) as i64)?, 0)
        .single()?;
    Window::new(start_at, end_at, step).ok()
}

type Parser = fn(u16, &[u8], &Window) -> Result<Series, source::SourceError>;

fn check_series(
    parse: Parser,
    (status, body, w): &(u16, Vec<u8>, (i64, u64, u64)),
) -> Result<(), String> {
    let Some(window) = make_window(*w) else {
        return Ok(());
    };
    match parse(*status, body, &window) {
        Ok(series) => {
            if *status >= 400 {
                return Err(format!("status {status} accepted as data"));
            }
            if series.values.len() != window.len() {
                return Err(format!(
                    "{} values on a window of {} points",
                    series.values.len(),
                    window.len()
                ));
            }
            if let Some(v) = series.values.iter().flatten().find(|v| !v.is_finite()) {
                return Err(format!("non-finite value {v} in a series"));
            }
            Ok(())
        }
        Err(e) => {
            if e.to_string().trim().is_empty() {
                return Err("an error without a message".into());
            }
            Ok(())
        }
    }
}

/// Prometheus `query_range` answers.
pub fn target_prometheus_answer(cases: u32) {
    run("prometheus_answer", cases, gen::prometheus_answer(), |a| {
        check_series(source::prometheus::parse_answer, a)
    });
}

/// InfluxDB `/query` answers.
pub fn target_influxdb_answer(cases: u32) {
    run("influxdb_answer", cases, gen::influxdb_answer(), |a| {
        check_series(source::influxdb::parse_answer, a)
    });
}

/// Graphite render answers.
pub fn target_graphite_answer(cases: u32) {
    run("graphite_answer", cases, gen::graphite_answer(), |a| {
        check_series(source::graphite::parse_answer, a)
    });
}

/// Datadog v1 query answers.
pub fn target_datadog_answer(cases: u32) {
    run("datadog_answer", cases, gen::datadog_answer(), |a| {
        check_series(source::datadog::parse_answer, a)
    });
}

// ---------------------------------------------------------------------------------------------
// The judge, on Kayenta-style numbers

/// One metric's data: baseline, canary, and whether its fetch failed.
type MetricData = (Vec<Option<f64>>, Vec<Option<f64>>, bool);

fn judge_case() -> impl Strategy<Value = (String, Vec<MetricData>)> {
    let templates: Vec<String> = gen::real_templates()
        .into_iter()
        .filter(|t| parse_template(t, "t").is_ok())
        .collect();
    let template = prop_oneof![3 => gen::judge_template(), 1 => select(templates)];
    (
        template,
        prop::collection::vec(
            (
                gen::kayenta_series(),
                gen::kayenta_series(),
                proptest::bool::weighted(0.05),
            ),
            0..8,
        ),
    )
}

fn judge_of(text: &str, data: &[MetricData]) -> Option<Report> {
    let template = parse_template(text, "judge.yaml").ok()?;
    let mut observations = BTreeMap::new();
    for (m, (b, c, failed)) in template.metrics.iter().zip(data) {
        let mut o = Observation::from_values(b.clone(), c.clone());
        if *failed {
            o.error = Some("the source failed".into());
        }
        observations.insert(m.name.clone(), o);
    }
    Some(judge(&template, &observations))
}

/// The judge: no panic on any data, and a score in 0..100.
pub fn target_judge(cases: u32) {
    run("judge", cases, judge_case(), |(text, data)| {
        let Some(report) = judge_of(text, data) else {
            return Ok(());
        };
        if !(0.0..=100.0).contains(&report.score) {
            return Err(format!("score {} outside 0..100", report.score));
        }
        Ok(())
    });
}

/// Every number of the judge's report is finite or null: the report reads back from its JSON
/// (a NaN or infinity in a field that is not optional comes back as `null`, which does not).
pub fn target_judge_numbers(cases: u32) {
    run("judge_numbers", cases, judge_case(), |(text, data)| {
        let Some(report) = judge_of(text, data) else {
            return Ok(());
        };
        report_reads_back(&report)
    });
}

/// The report survives a JSON round trip.
pub fn report_reads_back(report: &Report) -> Result<(), String> {
    let v = serde_json::to_value(report).map_err(|e| format!("report not serializable: {e}"))?;
    serde_json::from_value::<Report>(v.clone())
        .map(|_| ())
        .map_err(|e| {
            let mut text = v.to_string();
            text.truncate(2000);
            format!("the report's JSON does not read back ({e}): {text}")
        })
}

// ---------------------------------------------------------------------------------------------
// Gate parameters (through the app: Argo GET query strings, Argo POST and Flagger metadata)

fn gate_key() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => select(vec![
            "template", "baseline", "canary", "start", "end", "window_minutes", "step_seconds",
            "template_version",
        ]).prop_map(String::from),
        1 => select(vec!["arg.service", "arg.", "arg.nope", "token", "timestamp", "phase", "Template", "", "é", "arg.service.x"])
            .prop_map(String::from),
        1 => gen::text(8),
    ]
}

fn gate_value(key: &str) -> BoxedStrategy<String> {
    let odd = select(vec![
        "",
        " ",
        "0",
        "1",
        "5",
        "-1",
        "-0",
        "1.5",
        "1e3",
        "1e308",
        "NaN",
        "inf",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775807",
        "9223372036854775808",
        "99999999999",
        "2023-11-14T22:20:00Z",
        "2023-11-14T22:30:00Z",
        "1700000000",
        "1700000600",
        "-62135596801",
        "253402300800",
        "9999-12-31T23:59:59Z",
        "+275760-09-13T00:00:00Z",
        "2023-13-45T99:99:99Z",
        "\u{202e}é🦀",
        "checkout",
        "checkout-service",
        "http-golden-signals",
        "nope",
        "baseline",
        "canary",
        "a\"b",
        "a'b",
        "${scope}",
        "a\u{0}b",
    ])
    .prop_map(String::from);
    let good: BoxedStrategy<String> = match key {
        "template" => select(vec![
            "checkout-service",
            "latency-spikes",
            "http-golden-signals",
        ])
        .prop_map(String::from)
        .boxed(),
        "baseline" => Just("baseline".to_string()).boxed(),
        "canary" => Just("canary".to_string()).boxed(),
        // Mostly a window of minutes to hours that the step fits.
        "start" => (1_699_990_000i64..1_700_000_000)
            .prop_map(|t| t.to_string())
            .boxed(),
        "end" => (1_700_000_300i64..1_700_010_000)
            .prop_map(|t| t.to_string())
            .boxed(),
        "window_minutes" => (1u64..2_000).prop_map(|n| n.to_string()).boxed(),
        "step_seconds" => (1u64..600).prop_map(|n| n.to_string()).boxed(),
        "template_version" => (0u64..4).prop_map(|n| n.to_string()).boxed(),
        _ => gen::chars("abcxyz", 0, 6).boxed(),
    };
    prop_oneof![4 => good, 1 => odd, 1 => gen::text(12)].boxed()
}

fn gate_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let pair = gate_key().prop_flat_map(|k| (Just(k.clone()), gate_value(&k)));
    let base = Just(vec![
        ("template".to_string(), "checkout-service".to_string()),
        ("baseline".to_string(), "baseline".to_string()),
        ("canary".to_string(), "canary".to_string()),
    ]);
    let keep = proptest::bool::weighted(0.9);
    (base, prop::collection::vec(pair, 0..4), keep).prop_map(|(mut b, extra, keep)| {
        if !keep {
            b.clear();
        }
        b.extend(extra);
        b
    })
}

/// How a gate call is made.
#[derive(Clone)]
pub enum GateCall {
    /// `GET /api/v1/gates/argo?...`, the pairs URL-encoded (or the raw query string).
    ArgoGet(String),
    /// `POST /api/v1/gates/argo` with the pairs as a JSON object.
    ArgoPost(Vec<u8>),
    /// `POST /api/v1/gates/flagger[/rollback]` with the pairs as metadata.
    Flagger(bool, Vec<u8>),
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn gate_call() -> impl Strategy<Value = GateCall> {
    let query = prop_oneof![
        6 => gate_pairs().prop_map(|p| p.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")),
        1 => gen::chars("abz=&%09.+", 0, 40),
    ];
    let object = || {
        gate_pairs().prop_map(|p| {
            let m: serde_json::Map<String, Value> =
                p.into_iter().map(|(k, v)| (k, json!(v))).collect();
            Value::Object(m)
        })
    };
    let argo_body = object().prop_map(|mut o| {
        // Argo's JSON form takes template arguments as an object.
        if let Some(m) = o.as_object_mut() {
            let args: serde_json::Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("arg.").map(|n| (n.to_string(), v.clone())))
                .collect();
            m.retain(|k, _| !k.starts_with("arg."));
            if !args.is_empty() {
                m.insert("args".into(), Value::Object(args));
            }
        }
        o
    });
    let flagger = object().prop_map(|m| {
        json!({"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "abc", "metadata": m})
    });
    prop_oneof![
        3 => query.prop_map(GateCall::ArgoGet),
        2 => json_doc(argo_body, 2).prop_map(GateCall::ArgoPost),
        2 => (any::<bool>(), json_doc(flagger, 2)).prop_map(|(r, b)| GateCall::Flagger(r, b)),
    ]
}

fn gate_request(call: &GateCall) -> TestRequest {
    match call {
        GateCall::ArgoGet(q) => TestRequest::get().uri(&format!("/api/v1/gates/argo?{q}")),
        GateCall::ArgoPost(b) => TestRequest::post()
            .uri("/api/v1/gates/argo")
            .insert_header(("content-type", "application/json"))
            .set_payload(b.clone()),
        GateCall::Flagger(rollback, b) => TestRequest::post()
            .uri(if *rollback {
                "/api/v1/gates/flagger/rollback"
            } else {
                "/api/v1/gates/flagger"
            })
            .insert_header(("content-type", "application/json"))
            .set_payload(b.clone()),
    }
}

/// Gate parameters: a judgment, or a 4xx naming the parameter.
pub fn target_gate_params(cases: u32) {
    with_app(|call| {
        run("gate_params", cases, gate_call(), |c| {
            let answer = call(gate_request(c));
            // Flagger's hooks answer 412 with the judgment when the canary must not advance
            // (or, for rollback, when it need not roll back): a verdict, not an error.
            if matches!(c, GateCall::Flagger(..)) && answer.0 == 412 {
                let v: Value = serde_json::from_slice(&answer.1)
                    .map_err(|e| format!("412 whose body is not JSON: {e}"))?;
                return match v["verdict"].as_str() {
                    Some(_) => Ok(()),
                    None => Err(format!("412 without a verdict: {v}")),
                };
            }
            check_answer(&answer)
        });
    });
}

// ---------------------------------------------------------------------------------------------
// API bodies

/// An inline template as JSON (CONTRACT §2 fields).
fn inline_template() -> Value {
    json!({
        "name": "fuzz-inline",
        "step_seconds": 10,
        "scoring": {"pass": 95, "marginal": 75},
        "groups": {"latency": 60, "errors": 40},
        "metrics": [
            {"name": "latency", "group": "latency", "query": "q{v=\"${scope}\"}",
             "judge": {"test": "auto", "direction": "increase", "confidence": 0.95,
                       "outliers": {"remove": true, "factor": 3.0}}},
            {"name": "m0", "group": "errors", "query": "e{v=\"${scope}\"}",
             "judge": {"test": "threshold", "max": 0.01, "max_increase_ratio": 1.5, "critical": true}},
            {"name": "m1", "query": "c{v=\"${scope}\"}", "judge": {"test": "counts", "total": "requests"}},
            {"name": "requests", "query": "r{v=\"${scope}\"}", "judge": {"test": "counts"}}
        ]
    })
}

fn data_body() -> impl Strategy<Value = Value> {
    prop::collection::vec((gen::kayenta_series(), gen::kayenta_series()), 4).prop_map(|sides| {
        let names = ["latency", "m0", "m1", "requests"];
        let m: serde_json::Map<String, Value> = names
            .iter()
            .zip(sides)
            .map(|(n, (b, c))| {
                let f = |s: Vec<Option<f64>>| -> Vec<Value> {
                    s.into_iter()
                        .map(|v| match v {
                            Some(v) if v.is_finite() => json!(v),
                            Some(v) if v.is_nan() => gen::raw("NaN"),
                            Some(_) => gen::raw("1e999"),
                            None => Value::Null,
                        })
                        .collect()
                };
                (n.to_string(), json!({"baseline": f(b), "canary": f(c)}))
            })
            .collect();
        json!({ "metrics": m })
    })
}

/// A body as text in failure messages (proptest prints the minimal input with `Debug`).
struct Text<'a>(&'a [u8]);

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

impl std::fmt::Debug for GateCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateCall::ArgoGet(q) => f.debug_tuple("ArgoGet").field(q).finish(),
            GateCall::ArgoPost(b) => f.debug_tuple("ArgoPost").field(&Text(b)).finish(),
            GateCall::Flagger(r, b) => f.debug_tuple("Flagger").field(r).field(&Text(b)).finish(),
        }
    }
}

impl std::fmt::Debug for ApiCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCall")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("json", &self.json)
            .field("body", &Text(&self.body))
            .finish()
    }
}

/// One API request: method, path, content type, body.
#[derive(Clone)]
pub struct ApiCall {
    method: Method,
    path: String,
    json: bool,
    body: Vec<u8>,
}

fn post(
    path: &str,
    body: impl Strategy<Value = Value> + 'static,
    edits: usize,
) -> BoxedStrategy<ApiCall> {
    let path = path.to_string();
    json_doc(body, edits)
        .prop_map(move |body| ApiCall {
            method: Method::POST,
            path: path.clone(),
            json: true,
            body,
        })
        .boxed()
}

fn api_call() -> impl Strategy<Value = ApiCall> {
    let time = prop_oneof![
        Just(json!("2023-11-14T22:20:00Z")),
        Just(json!(1_700_000_000)),
        Just(json!("1700000600")),
        odd_json(),
    ];
    let judgments_data =
        data_body().prop_map(|d| json!({"template": inline_template(), "data": d}));
    let judgments_named = data_body().prop_map(
        |d| json!({"template": "checkout-service", "args": {"service": "checkout"}, "data": d}),
    );
    let window = prop_oneof![
        2 => Just((json!("2023-11-14T22:20:00Z"), json!(1_700_001_000))),
        1 => (time.clone(), time.clone()),
    ];
    let judgments_live = window.prop_map(|(s, e)| {
        json!({"template": "checkout-service", "baseline": "baseline", "canary": "canary",
               "start": s, "end": e, "step_seconds": 30})
    });
    let analyses = time.clone().prop_map(|s| {
        json!({"template": "checkout-service", "baseline": "baseline", "canary": "canary",
               "start": s, "lifetime_minutes": 30, "interval_minutes": 10,
               "begin_after_minutes": 0, "lookback_minutes": 0, "step_seconds": 30,
               "stop_on_fail": true})
    });
    let schedules = (
        gen::chars("az09_-", 1, 12),
        select(vec![
            "*/5 * * * *",
            "@hourly",
            "0 0 * * *",
            "61 * * * *",
            "* * * * * * *",
            "",
            "0 0 30 2 *",
        ]),
    )
        .prop_map(|(name, cron)| {
            json!({"name": name, "cron": cron, "template": "checkout-service",
                   "baseline": "baseline", "canary": "canary", "window_minutes": 10})
        });
    let template_yaml = (
        template_text(),
        select(vec!["checkout-service", "fuzz-inline", "é", "a%20b", "x"]),
    )
        .prop_map(|(text, name)| {
            // Most bodies carry the name of the path, so they get past the name check.
            let text = text.replacen("name: checkout-service", &format!("name: {name}"), 1);
            ApiCall {
                method: Method::PUT,
                path: format!("/api/v1/templates/{name}"),
                json: false,
                body: text.into_bytes(),
            }
        });
    let template_json = json_doc(Just(inline_template()), 3).prop_map(|body| ApiCall {
        method: Method::PUT,
        path: "/api/v1/templates/fuzz-inline".into(),
        json: true,
        body,
    });
    let gets = (
        select(vec![
            "/api/v1/judgments?",
            "/api/v1/analyses?",
            "/api/v1/templates/checkout-service?",
            "/api/v1/schedules?",
            "/api/v1/judgments/",
            "/api/v1/analyses/",
            "/judgments/",
            "/analyses/",
            "/api/v1/schedules/",
        ]),
        prop_oneof![
            Just("limit=18446744073709551616".to_string()),
            Just("limit=-1".to_string()),
            Just("limit=0&template=%00&verdict=pass".to_string()),
            Just("version=-9223372036854775808".to_string()),
            Just("version=0".to_string()),
            Just("state=running&limit=1e308".to_string()),
            gen::chars("az09=&%.-", 0, 30),
        ],
    )
        .prop_map(|(p, q)| ApiCall {
            method: Method::GET,
            path: format!("{p}{q}"),
            json: false,
            body: vec![],
        });
    prop_oneof![
        3 => post("/api/v1/judgments", judgments_data, 4),
        1 => post("/api/v1/judgments", judgments_named, 4),
        2 => post("/api/v1/judgments", judgments_live, 3),
        2 => post("/api/v1/analyses", analyses, 3),
        1 => post("/api/v1/schedules", schedules, 3),
        2 => template_yaml.boxed(),
        1 => template_json.boxed(),
        1 => gets.boxed(),
    ]
}

/// API bodies: a 2xx, or a 4xx with the error shape.
pub fn target_api_bodies(cases: u32) {
    with_app(|call| {
        run("api_bodies", cases, api_call(), |c| {
            let mut req = TestRequest::default().method(c.method.clone());
            // A path that is not a valid URI is refused before it reaches the app.
            if c.path.parse::<actix_web::http::Uri>().is_err() {
                return Ok(());
            }
            req = req.uri(&c.path).set_payload(c.body.clone());
            if c.json {
                req = req.insert_header(("content-type", "application/json"));
            }
            check_answer(&call(req))
        });
    });
}

// ---------------------------------------------------------------------------------------------
// The short runs

#[test]
fn template_yaml() {
    target_template_yaml(cases(SHORT));
}

#[test]
fn recorded_json() {
    target_recorded_json(cases(SHORT));
}

#[test]
fn prometheus_answer() {
    target_prometheus_answer(cases(SHORT));
}

#[test]
fn influxdb_answer() {
    target_influxdb_answer(cases(SHORT));
}

#[test]
fn graphite_answer() {
    target_graphite_answer(cases(SHORT));
}

#[test]
fn datadog_answer() {
    target_datadog_answer(cases(SHORT));
}

#[test]
fn judge_never_panics() {
    target_judge(cases(SHORT));
}

#[test]
fn judge_report_numbers_are_finite_or_null() {
    target_judge_numbers(cases(SHORT));
}

#[test]
fn gate_params() {
    target_gate_params(cases(SHORT_API));
}

#[test]
fn api_bodies() {
    target_api_bodies(cases(SHORT_API));
}

#[test]
fn generators_make_what_they_say() {
    // The raw-number splice writes numbers JSON cannot hold as values.
    let doc = json!({"a": gen::raw("1e999"), "b": [gen::raw("NaN")]});
    assert_eq!(gen::render_json(&doc), r#"{"a":1e999,"b":[NaN]}"#);
    // Mutated templates still parse most of the time, or the fuzzer only tests the parser's
    // first line.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = template_text();
    let ok = (0..200)
        .filter(|_| {
            let t = strategy.new_tree(&mut runner).expect("a case");
            let t = proptest::strategy::ValueTree::current(&t);
            parse_template(&t, "t").is_ok()
        })
        .count();
    assert!(ok > 20, "only {ok} of 200 mutated templates parse");
    let strategy = gen::judge_template();
    let ok = (0..200)
        .filter(|_| {
            let t = strategy.new_tree(&mut runner).expect("a case");
            parse_template(&proptest::strategy::ValueTree::current(&t), "t").is_ok()
        })
        .count();
    let mut why = String::new();
    for _ in 0..50 {
        let t = strategy.new_tree(&mut runner).expect("a case");
        if let Err(e) = parse_template(&proptest::strategy::ValueTree::current(&t), "t") {
            why = e.to_string();
        }
    }
    assert!(
        ok > 150,
        "only {ok} of 200 generated judge templates parse: {why}"
    );
}
