//! The counts, quantile, scale and auto judges: each catches a change the others miss.

use canaryd::judge::{classify_metric, Classification, MetricReport, TestReport};
use canaryd::source::Observation;
use canaryd::template::{Direction, JudgeSpec, MetricSpec, TestKind};

fn spec(test: TestKind, direction: Direction) -> MetricSpec {
    MetricSpec {
        name: "m".into(),
        group: None,
        query: "q{v=\"${scope}\"}".into(),
        judge: JudgeSpec {
            test,
            direction,
            ..JudgeSpec::default()
        },
    }
}

fn classify(spec: &MetricSpec, baseline: &[f64], canary: &[f64]) -> MetricReport {
    let some = |v: &[f64]| v.iter().copied().map(Some).collect();
    classify_metric(
        spec,
        Some(&Observation::from_values(some(baseline), some(canary))),
    )
}

/// `n` error counts per step with `events` ones spread evenly, the rest zeros.
fn sparse(n: usize, events: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if events > 0 && i % (n / events) == 0 && i / (n / events) < events {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// A spread-out deterministic sample around `center` with half-width `width`.
fn spread(center: f64, width: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| center + width * ((((i * 37) % n) as f64) / (n - 1) as f64 * 2.0 - 1.0))
        .collect()
}

#[test]
fn counts_catches_a_sparse_error_increase() {
    let base = sparse(120, 2);
    let can = sparse(120, 15);
    assert_eq!(can.iter().sum::<f64>(), 15.0);
    let m = classify(&spec(TestKind::Counts, Direction::Increase), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    match &m.test {
        Some(TestReport::Counts {
            canary_events,
            baseline_events,
            rate_ratio,
            ci,
            p_value,
            ..
        }) => {
            assert_eq!((*canary_events, *baseline_events), (15.0, 2.0));
            assert_eq!(*rate_ratio, Some(7.5));
            assert!(ci[0].unwrap() > 1.0 && *p_value < 0.01, "{ci:?} {p_value}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        m.reason
            .contains("15 events in 120 canary points against 2 in 120"),
        "{}",
        m.reason
    );
}

#[test]
fn counts_catches_bursts_of_errors_that_a_rank_test_passes() {
    // 2 errors in the baseline; 15 in the canary, in three bursts of 5. Only 3 canary points
    // are non-zero, so ranks barely move (Kayenta passes this); the event rate is 7.5 times.
    let base = sparse(120, 2);
    let mut can = vec![0.0; 120];
    for i in [17, 59, 101] {
        can[i] = 5.0;
    }
    let mw = classify(
        &spec(TestKind::MannWhitney, Direction::Increase),
        &base,
        &can,
    );
    assert_eq!(mw.classification, Classification::Pass, "{}", mw.reason);
    let m = classify(&spec(TestKind::Counts, Direction::Increase), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
}

#[test]
fn counts_pass_no_events_and_reject_negatives() {
    let s = spec(TestKind::Counts, Direction::Increase);
    let m = classify(&s, &sparse(60, 5), &sparse(60, 6));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    let m = classify(&s, &[0.0; 30], &[0.0; 30]);
    assert_eq!(m.classification, Classification::Pass);
    assert!(
        m.reason.contains("no events on either side"),
        "{}",
        m.reason
    );
    let m = classify(&s, &[0.0; 30], &[1.0, -2.0, 0.0]);
    assert_eq!(m.classification, Classification::Error);
    assert!(m.reason.contains("never negative"), "{}", m.reason);
    // Errors from nothing: the rate ratio is unbounded, and still high.
    let m = classify(&s, &[0.0; 120], &sparse(120, 12));
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
}

#[test]
fn quantile_catches_a_heavier_tail_that_moves_no_median() {
    let base = spread(0.25, 0.02, 120);
    let mut can = spread(0.25, 0.02, 120);
    for i in (0..120).step_by(10) {
        can[i] *= 10.0;
    }
    let mw = classify(
        &spec(TestKind::MannWhitney, Direction::Increase),
        &base,
        &can,
    );
    assert_eq!(mw.classification, Classification::Pass, "{}", mw.reason);
    let m = classify(&spec(TestKind::Quantile, Direction::Increase), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    match &m.test {
        Some(TestReport::Quantile {
            quantile,
            upper: Some(u),
            lower: None,
            ..
        }) => {
            assert_eq!(*quantile, 0.95);
            assert_eq!(u.canary_beyond, 12);
            assert_eq!(u.baseline_beyond, 0);
            assert!(u.p_value < 0.001);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        m.reason
            .contains("12 of 120 canary points above the pooled p95"),
        "{}",
        m.reason
    );
    // A lighter lower tail is a decrease.
    let mut low = spread(0.25, 0.02, 120);
    for i in (0..120).step_by(10) {
        low[i] = 0.001;
    }
    let m = classify(&spec(TestKind::Quantile, Direction::Either), &base, &low);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    let m = classify(&spec(TestKind::Quantile, Direction::Increase), &base, &low);
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    // The same distribution passes.
    let m = classify(
        &spec(TestKind::Quantile, Direction::Either),
        &base,
        &spread(0.25, 0.02, 100),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
}

#[test]
fn scale_catches_a_wider_spread_around_the_same_center() {
    let base = spread(100.0, 5.0, 80);
    let can = spread(100.0, 20.0, 80);
    let mw = classify(&spec(TestKind::MannWhitney, Direction::Either), &base, &can);
    assert_eq!(mw.classification, Classification::Pass, "{}", mw.reason);
    let m = classify(&spec(TestKind::Scale, Direction::Either), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(m.reason.contains("IQR ratio 4x"), "{}", m.reason);
    let m = classify(&spec(TestKind::Scale, Direction::Either), &can, &base);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    let m = classify(
        &spec(TestKind::Scale, Direction::Either),
        &base,
        &spread(100.0, 5.0, 60),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
}

#[test]
fn auto_picks_counts_for_sparse_counts_and_mann_whitney_otherwise() {
    let s = spec(TestKind::Auto, Direction::Increase);
    let m = classify(&s, &sparse(120, 2), &sparse(120, 15));
    assert!(
        matches!(m.test, Some(TestReport::Counts { .. })),
        "{:?}",
        m.test
    );
    assert!(m.reason.starts_with("auto chose counts"), "{}", m.reason);
    let m = classify(&s, &spread(1.0, 0.5, 50), &spread(1.5, 0.5, 50));
    assert!(
        matches!(m.test, Some(TestReport::MannWhitney { .. })),
        "{:?}",
        m.test
    );
    assert!(
        m.reason.starts_with("auto chose mann-whitney"),
        "{}",
        m.reason
    );
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            4 => (-1e3f64..1e3).prop_map(Some),
            2 => (0u32..5).prop_map(|v| Some(f64::from(v))),
            1 => Just(None),
            1 => Just(Some(f64::NAN)),
            1 => Just(Some(f64::INFINITY)),
            1 => prop_oneof![Just(Some(1e308)), Just(Some(-1e308)), Just(Some(5e-324))],
        ]
    }

    fn kind() -> impl Strategy<Value = TestKind> {
        prop_oneof![
            Just(TestKind::MannWhitney),
            Just(TestKind::Threshold),
            Just(TestKind::Quantile),
            Just(TestKind::Scale),
            Just(TestKind::Counts),
            Just(TestKind::Auto),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the values (missing, NaN, infinite, huge, tiny, tied), every judge returns
        /// a classification with a reason and never panics.
        #[test]
        fn any_values_any_judge(
            baseline in prop::collection::vec(value(), 0..60),
            canary in prop::collection::vec(value(), 0..60),
            test in kind(),
            remove_outliers in any::<bool>(),
            replace in any::<bool>(),
        ) {
            let mut s = spec(test, Direction::Either);
            if test == TestKind::Threshold {
                s.judge.max = Some(10.0);
                s.judge.max_increase_ratio = Some(1.5);
            }
            s.judge.outliers.remove = remove_outliers;
            if replace {
                s.judge.nan = canaryd::template::NanStrategy::Replace;
            }
            let m = classify_metric(&s, Some(&Observation::from_values(baseline, canary)));
            prop_assert!(!m.reason.is_empty());
            // The report always serializes (non-finite numbers become null).
            prop_assert!(serde_json::to_string(&m).is_ok());
        }
    }
}
