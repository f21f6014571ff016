//! Every crasher the fuzz targets found, as a named test with its minimal input, and the
//! edges the generators reach only rarely, pinned.

use std::collections::BTreeMap;

use canaryd::judge::judge;
use canaryd::source::Observation;
use canaryd::template::parse_template;

use actix_web::test::TestRequest;

use super::app::{check_answer, with_app};
use super::targets::{check_template, report_reads_back};

fn threshold_template() -> canaryd::template::Template {
    parse_template(
        "name: t\nmetrics:\n  - name: m\n    query: 'q{v=\"${scope}\"}'\n    judge: {test: threshold, max: 0.01}\n",
        "t.yaml",
    )
    .expect("a valid template")
}

/// Found by `judge_numbers`: two values of -1e308 overflow the canary's mean. The report's
/// `test.canary_mean` (an `f64`) is then NaN and is written as `null`, so the stored report
/// does not read back; and the reason says "canary mean NaN within bounds (<= max 0.01)", a
/// pass. Minimal input: a threshold judge, no baseline, canary `[-1e308, -1e308]`.
#[test]
fn threshold_mean_that_overflows_reads_back() {
    let observations = BTreeMap::from([(
        "m".to_string(),
        Observation::from_values(vec![], vec![Some(-1e308), Some(-1e308)]),
    )]);
    let report = judge(&threshold_template(), &observations);
    report_reads_back(&report).unwrap();
    let reason = &report.metrics[0].reason;
    assert!(!reason.contains("NaN"), "the mean is a number: {reason}");
    assert_eq!(report.metrics[0].canary.mean, Some(-1e308));
    // Above the bound, however large: high, never "NaN within bounds".
    let observations = BTreeMap::from([(
        "m".to_string(),
        Observation::from_values(vec![], vec![Some(1e308), Some(1e308)]),
    )]);
    let report = judge(&threshold_template(), &observations);
    assert_eq!(
        report.metrics[0].classification,
        canaryd::judge::Classification::High,
        "{}",
        report.metrics[0].reason
    );
    report_reads_back(&report).unwrap();
}

/// Nesting far deeper than the generators go (400) is refused, not a stack overflow.
#[test]
fn deeply_nested_yaml_is_refused() {
    for depth in [1_000, 10_000, 100_000] {
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let text = format!(
                "name: t\ndeep: {}1{}\nmetrics:\n  - name: m\n    query: 'q{{v=\"${{scope}}\"}}'\n",
                open.repeat(depth),
                close.repeat(depth)
            );
            check_template(&text).unwrap();
        }
    }
}

/// Found by `api_bodies`: `begin_after_minutes` of 1e12 (about two million years) passes the
/// finite-and-not-negative check and panics in chrono at src/scheduler/plan.rs:99
/// (`DateTime + TimeDelta` overflowed) instead of answering 400; on the real server the
/// connection drops.
#[test]
fn analysis_starting_two_million_years_late_is_refused() {
    let body = serde_json::json!({
        "template": "checkout-service", "baseline": "baseline", "canary": "canary",
        "lifetime_minutes": 30, "interval_minutes": 10, "begin_after_minutes": 1e12
    });
    with_app(|call| {
        let answer = call(
            TestRequest::post()
                .uri("/api/v1/analyses")
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        );
        assert_eq!(answer.0, 400, "{}", String::from_utf8_lossy(&answer.1));
        check_answer(&answer).unwrap();
    });
}

/// Found by `gate_params`: `window_minutes=9223372036854775807` on the Argo gate parses as a
/// u64, then `Duration::minutes` panics in chrono ("TimeDelta::minutes out of bounds", chrono
/// src/lib.rs:717, called from src/api/gates.rs `gate_params`) instead of answering 400.
#[test]
fn gate_window_of_i64_max_minutes_is_refused() {
    with_app(|call| {
        let answer = call(TestRequest::get().uri(
            "/api/v1/gates/argo?template=checkout-service&baseline=baseline&canary=canary\
             &window_minutes=9223372036854775807",
        ));
        assert_eq!(answer.0, 400, "{}", String::from_utf8_lossy(&answer.1));
        check_answer(&answer).unwrap();
    });
}
