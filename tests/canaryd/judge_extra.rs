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
fn counts_compare_steps_with_errors_when_the_baseline_comes_in_bursts() {
    // Both sides have the same retry storms (bursts of 6 at three moments); the canary has
    // one extra burst of 6. The event totals (22 against 28) move by a whole burst at a time;
    // what is compared is the steps with errors (7 against 8).
    let bursty = |at: &[usize], singles: usize| {
        let mut v = sparse(120, singles);
        for i in at {
            v[*i] = 6.0;
        }
        v
    };
    let s = spec(TestKind::Counts, Direction::Increase);
    let base = bursty(&[10, 50, 95], 4);
    let m = classify(&s, &base, &bursty(&[11, 51, 97, 101], 4));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    assert!(
        m.reason
            .contains("the steps with at least one are compared"),
        "{}",
        m.reason
    );
    match m.test.as_ref() {
        Some(TestReport::Counts {
            method,
            steps_with_events,
            baseline_events,
            ..
        }) => {
            assert_eq!(method, "poisson-steps");
            assert_eq!(*steps_with_events, Some([7.0, 8.0]));
            assert_eq!(*baseline_events, 22.0);
        }
        other => panic!("{other:?}"),
    }
    // The same bursts, and errors in 24 more canary steps: high, on the steps.
    let m = classify(&s, &base, &bursty(&[11, 51, 97], 28));
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(m.reason.contains("steps with events"), "{}", m.reason);
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
    // One point in eight ten times slower: p90 lands among them, the median does not move.
    for i in (0..120).step_by(8) {
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
            baseline,
            canary,
            ci,
            ratio,
            method,
            upper: Some(u),
            ..
        }) => {
            assert_eq!(*quantile, 0.9, "the default");
            assert_eq!(method, "woodruff");
            assert!(*canary > 5.0 * *baseline, "{canary} {baseline}");
            assert!(ci[0] > 0.0 && ci[0] < canary - baseline && ci[1] > canary - baseline);
            assert!(ratio.unwrap() > 5.0);
            assert_eq!((u.canary_beyond, u.baseline_beyond), (19, 4));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        m.reason
            .starts_with("significant increase: p90 rose from 0.266 to "),
        "{}",
        m.reason
    );
    assert!(m.reason.contains("95% CI +"), "{}", m.reason);
    // A lighter lower tail, seen by a low quantile, is a decrease.
    let mut low = spread(0.25, 0.02, 120);
    for i in (0..120).step_by(8) {
        low[i] = 0.001;
    }
    let mut s = spec(TestKind::Quantile, Direction::Either);
    s.judge.quantile = 0.1;
    let m = classify(&s, &base, &low);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    assert!(m.reason.contains("p10 fell from"), "{}", m.reason);
    s.judge.direction = Direction::Increase;
    let m = classify(&s, &base, &low);
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    // The same distribution passes; so does a rise within allowed_increase.
    let m = classify(
        &spec(TestKind::Quantile, Direction::Either),
        &base,
        &spread(0.25, 0.02, 100),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    let mut s = spec(TestKind::Quantile, Direction::Increase);
    s.judge.allowed_increase = 1.2;
    let m = classify(&s, &base, &spread(0.27, 0.02, 120));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    assert!(
        m.reason.contains("within allowed_increase 1.2x"),
        "{}",
        m.reason
    );
}

#[test]
fn quantile_needs_enough_points_for_its_level() {
    let mut s = spec(TestKind::Quantile, Direction::Increase);
    s.judge.quantile = 0.99;
    let m = classify(&s, &spread(1.0, 0.1, 120), &spread(2.0, 0.1, 120));
    assert_eq!(m.classification, Classification::Nodata, "{}", m.reason);
    assert!(
        m.reason
            .contains("500 independent points per side are needed"),
        "{}",
        m.reason
    );
    s.judge.must_have_data = true;
    let m = classify(&s, &spread(1.0, 0.1, 120), &spread(2.0, 0.1, 120));
    assert_eq!(m.classification, Classification::NodataFail, "{}", m.reason);
    // 600 points in an order without serial dependence (stride 7919 through the range).
    let scattered = |center: f64| -> Vec<f64> {
        (0..600)
            .map(|i| center + 0.1 * (((i * 7919) % 600) as f64 / 599.0 * 2.0 - 1.0))
            .collect()
    };
    let m = classify(&s, &scattered(1.0), &scattered(2.0));
    assert_eq!(m.canary.effective_count, Some(600.0));
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
}

#[test]
fn scale_catches_a_wider_spread_around_the_same_center() {
    let base = spread(100.0, 5.0, 80);
    let can = spread(100.0, 20.0, 80);
    let mw = classify(&spec(TestKind::MannWhitney, Direction::Either), &base, &can);
    assert_eq!(mw.classification, Classification::Pass, "{}", mw.reason);
    let m = classify(&spec(TestKind::Scale, Direction::Either), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(m.reason.contains("spread ratio 4x"), "{}", m.reason);
    match &m.test {
        Some(TestReport::Scale {
            method, ratio, ci, ..
        }) => {
            assert_eq!(method, "brown-forsythe");
            assert!((ratio.unwrap() - 4.0).abs() < 1e-9);
            assert!(ci[0] > 0.0);
        }
        other => panic!("{other:?}"),
    }
    let m = classify(&spec(TestKind::Scale, Direction::Either), &can, &base);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    let m = classify(
        &spec(TestKind::Scale, Direction::Either),
        &base,
        &spread(100.0, 5.0, 60),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    let mut s = spec(TestKind::Scale, Direction::Increase);
    s.judge.allowed_increase = 5.0;
    let m = classify(&s, &base, &can);
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
}

#[test]
fn auto_picks_counts_for_sparse_counts_and_combines_three_tests_otherwise() {
    let s = spec(TestKind::Auto, Direction::Increase);
    let m = classify(&s, &sparse(120, 2), &sparse(120, 15));
    assert!(
        matches!(m.test, Some(TestReport::Counts { .. })),
        "{:?}",
        m.test
    );
    assert!(m.tests.is_empty());
    assert!(m.reason.starts_with("auto chose counts"), "{}", m.reason);
    // A location shift: the location test decides. These two series move together point for
    // point, so auto compares them paired (signed-rank of the log ratio, plus the paired spread).
    let m = classify(&s, &spread(1.0, 0.5, 60), &spread(1.5, 0.5, 60));
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(
        matches!(m.test, Some(TestReport::SignedRank { .. })),
        "{:?}",
        m.test
    );
    assert_eq!(m.tests.len(), 4);
    assert!(
        m.reason.contains("[auto: paired location high"),
        "{}",
        m.reason
    );
    assert!(
        m.reason.contains("each at 98.75% confidence"),
        "{}",
        m.reason
    );
    for t in &m.tests {
        let level = match t {
            TestReport::MannWhitney { confidence, .. }
            | TestReport::Quantile { confidence, .. }
            | TestReport::Scale { confidence, .. }
            | TestReport::SignedRank { confidence, .. }
            | TestReport::PairedScale { confidence, .. } => *confidence,
            other => panic!("{other:?}"),
        };
        assert!((level - (1.0 - 0.05 / 4.0)).abs() < 1e-12);
    }
    // A wider spread that moves no median: the location test passes, auto does not.
    let m = classify(&s, &spread(100.0, 5.0, 80), &spread(100.0, 20.0, 80));
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(m.reason.contains("location pass"), "{}", m.reason);
    // The same distribution passes.
    let m = classify(&s, &spread(100.0, 5.0, 80), &spread(100.0, 5.0, 70));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
}

/// A slow wave plus a little jitter: every point much like its neighbour.
fn wave(center: f64, n: usize, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64;
            center
                * (1.0
                    + 0.1 * ((t / 9.0 + phase).sin())
                    + 0.01 * (((i * 37) % 11) as f64 - 5.0) / 5.0)
        })
        .collect()
}

#[test]
fn autocorrelated_series_count_as_fewer_points() {
    // Two slices of the same slow wave, out of phase: no regression, but 120 strongly
    // dependent points each. The rank test treats them as independent and flags the small
    // difference of their means; auto discounts them and passes.
    let base = wave(100.0, 120, 0.0);
    let can = wave(100.0, 120, 2.0);
    let m = classify(&spec(TestKind::Auto, Direction::Either), &base, &can);
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    let e = m.canary.effective_count.unwrap();
    assert!(e < 40.0, "effective {e}");
    assert!(m.canary.lag1_autocorrelation.unwrap() > 0.8);
    assert!(m.reason.contains("autocorrelated"), "{}", m.reason);
    assert!(
        matches!(&m.tests[0], TestReport::MannWhitney { method, .. } if method == "normal-autocorrelated"),
        "{:?}",
        m.tests[0]
    );
    let json = serde_json::to_value(&m).unwrap();
    assert!(json["canary"]["effective_count"].as_f64().unwrap() < 40.0);
    assert_eq!(json["canary"]["count"], 120);
    // Independent points are not adjusted.
    let m = classify(
        &spec(TestKind::Auto, Direction::Either),
        &sparse(60, 3),
        &spread(1.0, 0.5, 60),
    );
    assert_eq!(m.canary.effective_count, Some(60.0));
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

#[test]
fn auto_for_a_throughput_looks_at_the_lower_tail_and_only_a_wider_spread() {
    let s = spec(TestKind::Auto, Direction::Decrease);
    let base = spread(100.0, 5.0, 120);
    // One point in eight collapses to a tenth: p10 falls, the median does not move.
    let mut can = spread(100.0, 5.0, 120);
    for i in (0..120).step_by(8) {
        can[i] = 10.0;
    }
    let m = classify(&s, &base, &can);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    assert!(m.reason.contains("p10 fell from"), "{}", m.reason);
    // A narrower spread is not a regression.
    let m = classify(&s, &base, &spread(100.0, 1.0, 120));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
}
