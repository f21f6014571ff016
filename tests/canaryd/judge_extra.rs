//! The counts, quantile, scale and auto judges: each catches a change the others miss.

use std::collections::BTreeMap;

use canaryd::judge::{
    classify_metric, classify_metric_with_total, judge, Classification, MetricReport, TestReport,
};
use canaryd::source::Observation;
use canaryd::template::{Direction, JudgeSpec, MetricSpec, TestKind};

fn spec(test: TestKind, direction: Direction) -> MetricSpec {
    MetricSpec {
        name: "m".into(),
        group: None,
        query: "q{v=\"${scope}\"}".into(),
        judge: JudgeSpec {
            direction,
            ..JudgeSpec::of(test)
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
    *s.judge.quantile_mut().unwrap() = 0.1;
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
    s.judge.tolerance_mut().unwrap().allowed_increase = 1.2;
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
    *s.judge.quantile_mut().unwrap() = 0.99;
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
    s.judge.tolerance_mut().unwrap().allowed_increase = 5.0;
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
    // Location, mean, step, tail, spread and paired spread, at the levels of the weighted
    // Bonferroni split of 5%: 0.55 to location, 0.1 each to mean, step and tail, 0.15 to the
    // two spread tests together.
    assert_eq!(m.tests.len(), 6, "{:?}", m.tests);
    assert!(
        m.reason.contains("[auto: paired location high at 97.25%"),
        "{}",
        m.reason
    );
    assert!(
        m.reason.contains("together keep 95% (weighted Bonferroni)"),
        "{}",
        m.reason
    );
    let mut sum_of_alphas = 0.0;
    for t in &m.tests {
        let (level, want) = match t {
            TestReport::SignedRank { confidence, .. } => (*confidence, 1.0 - 0.05 * 0.55),
            TestReport::Mean { confidence, .. }
            | TestReport::Step { confidence, .. }
            | TestReport::Quantile { confidence, .. } => (*confidence, 1.0 - 0.05 * 0.1),
            TestReport::Scale { confidence, .. } | TestReport::PairedScale { confidence, .. } => {
                (*confidence, 1.0 - 0.05 * 0.075)
            }
            other => panic!("{other:?}"),
        };
        assert!((level - want).abs() < 1e-12, "{t:?}");
        sum_of_alphas += 1.0 - level;
    }
    assert!((sum_of_alphas - 0.05).abs() < 1e-12, "{sum_of_alphas}");
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
                let bounds = s.judge.threshold_mut().unwrap();
                bounds.max = Some(10.0);
                bounds.max_increase_ratio = Some(1.5);
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

        /// Likewise for counts against a total, whatever the totals (missing, 0, negative,
        /// huge, of another length).
        #[test]
        fn any_values_any_totals(
            baseline in prop::collection::vec(value(), 0..60),
            canary in prop::collection::vec(value(), 0..60),
            total_b in prop::collection::vec(value(), 0..60),
            total_c in prop::collection::vec(value(), 0..60),
            auto in any::<bool>(),
            replace in any::<bool>(),
        ) {
            let mut s = spec(if auto { TestKind::Auto } else { TestKind::Counts }, Direction::Either);
            *s.judge.total_mut().unwrap() = Some("requests".into());
            if replace {
                s.judge.nan = canaryd::template::NanStrategy::Replace;
            }
            let m = classify_metric_with_total(
                &s,
                Some(&Observation::from_values(baseline, canary)),
                Some(&Observation::from_values(total_b, total_c)),
            );
            prop_assert!(!m.reason.is_empty());
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

// ----- counts against a request total (`total`) -----

/// A deterministic stream of uniforms (a 64-bit LCG), and Poisson draws from it (Knuth).
struct Draws(u64);

impl Draws {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> f64 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0.0, self.uniform());
        while p > limit {
            k += 1.0;
            p *= self.uniform();
        }
        k
    }
}

/// Requests per step: `level` with a deterministic jitter of +-10%.
fn requests(level: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut d = Draws(seed);
    (0..n)
        .map(|_| (level * (0.9 + 0.2 * d.uniform())).round())
        .collect()
}

/// Errors per step: Poisson with mean `rate` x the step's requests.
fn errors(totals: &[f64], rate: f64, seed: u64) -> Vec<f64> {
    let mut d = Draws(seed);
    totals.iter().map(|t| d.poisson(rate * t)).collect()
}

fn observation(baseline: &[f64], canary: &[f64]) -> Observation {
    let some = |v: &[f64]| v.iter().copied().map(Some).collect();
    Observation::from_values(some(baseline), some(canary))
}

fn counts_with_total(test: TestKind) -> MetricSpec {
    let mut s = spec(test, Direction::Increase);
    *s.judge.total_mut().unwrap() = Some("requests".into());
    s
}

/// The primary takes 90% of the traffic (900 requests per step), the canary 10% (100); 120
/// steps, 0.2% of requests fail in the baseline and `canary_rate` in the canary.
fn traffic_split(canary_rate: f64) -> (Observation, Observation) {
    let (total_b, total_c) = (requests(900.0, 120, 1), requests(100.0, 120, 2));
    let (errors_b, errors_c) = (errors(&total_b, 0.002, 3), errors(&total_c, canary_rate, 4));
    (
        observation(&errors_b, &errors_c),
        observation(&total_b, &total_c),
    )
}

#[test]
fn ramping_traffic_is_not_taken_for_autocorrelated_errors() {
    // The traffic ramps (the morning, or a canary weight going up): the primary from 900 to
    // 9,000 requests per step, the canary at a tenth of it. The error counts follow the
    // traffic and their differences look strongly autocorrelated, but what the traffic does
    // not explain is independent Poisson noise: with a total nothing is discounted.
    let primary: Vec<f64> = (0..120).map(|i| 900.0 + 68.0 * f64::from(i)).collect();
    let canary: Vec<f64> = primary.iter().map(|t| t / 10.0).collect();
    let (errors_b, errors_c) = (
        errors(&primary, 0.0002, 0x9e37_79b9),
        errors(&canary, 0.0002, 0x7f4a_7c15_f39c),
    );
    let m = classify_metric_with_total(
        &counts_with_total(TestKind::Counts),
        Some(&observation(&errors_b, &errors_c)),
        Some(&observation(&primary, &canary)),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    assert!(!m.reason.contains("autocorrelated"), "{}", m.reason);
    match &m.test {
        Some(TestReport::Counts {
            effective_events, ..
        }) => assert_eq!(*effective_events, None, "{}", m.reason),
        other => panic!("{other:?}"),
    }
    // The count series themselves are not stationary: judged per step, the ramp of their
    // differences is a change of level (the canary serves a tenth of the traffic), and the
    // dependence is estimated around it instead of being taken for autocorrelation.
    let per_step = classify(
        &spec(TestKind::Counts, Direction::Decrease),
        &errors_b,
        &errors_c,
    );
    eprintln!("{}", per_step.reason);
    assert_eq!(per_step.classification, Classification::Low);
}

#[test]
fn counts_with_a_total_pass_a_small_canary_with_the_same_error_rate() {
    let (errs, totals) = traffic_split(0.002);
    for test in [TestKind::Counts, TestKind::Auto] {
        let m = classify_metric_with_total(&counts_with_total(test), Some(&errs), Some(&totals));
        assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
        assert!(
            m.reason.contains("events per unit of `requests`"),
            "{}",
            m.reason
        );
        match &m.test {
            Some(TestReport::Counts {
                method,
                rate_ratio,
                baseline_total,
                canary_total,
                total_metric,
                steps_with_events,
                effective_events,
                ..
            }) => {
                assert_eq!(method, "poisson");
                let r = rate_ratio.unwrap();
                assert!((0.6..1.6).contains(&r), "{r}");
                assert!(baseline_total.unwrap() > 8.0 * canary_total.unwrap());
                assert_eq!(total_metric.as_deref(), Some("requests"));
                assert_eq!(*steps_with_events, None);
                // Poisson errors out of the requests: no burst discount (an autocorrelation
                // discount may apply, as without a total).
                assert!(!m.reason.contains("bursts"), "{}", m.reason);
                if effective_events.is_some() {
                    assert!(m.reason.contains("autocorrelated"), "{}", m.reason);
                }
            }
            other => panic!("{other:?}"),
        }
    }
    let auto = classify_metric_with_total(
        &counts_with_total(TestKind::Auto),
        Some(&errs),
        Some(&totals),
    );
    assert!(
        auto.reason
            .starts_with("auto chose counts (a `total` is given)"),
        "{}",
        auto.reason
    );
}

#[test]
fn a_small_canary_with_three_times_the_error_rate_is_high_only_against_its_requests() {
    let (errs, totals) = traffic_split(0.006);
    let with_total = classify_metric_with_total(
        &counts_with_total(TestKind::Counts),
        Some(&errs),
        Some(&totals),
    );
    assert_eq!(
        with_total.classification,
        Classification::High,
        "{}",
        with_total.reason
    );
    assert!(
        with_total
            .reason
            .contains("rate ratio per unit of `requests`"),
        "{}",
        with_total.reason
    );
    match &with_total.test {
        Some(TestReport::Counts { rate_ratio, ci, .. }) => {
            assert!((2.0..4.5).contains(&rate_ratio.unwrap()), "{rate_ratio:?}");
            assert!(ci[0].unwrap() > 1.0, "{ci:?}");
        }
        other => panic!("{other:?}"),
    }
    // Per step the canary has fewer errors than the primary (a third of its rate on a ninth of
    // its traffic): without the total the same data passes.
    let per_step = classify_metric(&spec(TestKind::Counts, Direction::Increase), Some(&errs));
    assert_eq!(
        per_step.classification,
        Classification::Pass,
        "{}",
        per_step.reason
    );
    assert!(
        per_step.reason.contains("lower in the canary"),
        "{}",
        per_step.reason
    );
}

#[test]
fn counts_with_a_total_leave_out_steps_without_a_total() {
    let (errs, mut totals) = traffic_split(0.002);
    totals.baseline[3] = None;
    totals.canary[7] = Some(0.0);
    totals.canary.truncate(110);
    let m = classify_metric_with_total(
        &counts_with_total(TestKind::Counts),
        Some(&errs),
        Some(&totals),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    assert!(
        m.reason.contains(
            "steps left out (a count or `requests` missing, or `requests` 0): 1 baseline, 11 canary"
        ),
        "{}",
        m.reason
    );
}

#[test]
fn counts_without_their_totals_have_no_data_naming_the_total_metric() {
    let (errs, totals) = traffic_split(0.002);
    let s = counts_with_total(TestKind::Counts);
    let m = classify_metric_with_total(&s, Some(&errs), None);
    assert_eq!(m.classification, Classification::Nodata, "{}", m.reason);
    assert!(
        m.reason
            .contains("the total metric `requests` is absent from the data"),
        "{}",
        m.reason
    );
    // classify_metric has no total to give: the same.
    assert_eq!(
        classify_metric(&s, Some(&errs)).classification,
        Classification::Nodata
    );
    // Totals only on the baseline side (the canary's are all missing or 0).
    let mut canary_gone = totals.clone();
    canary_gone.canary = vec![None; 60];
    canary_gone.canary.extend(vec![Some(0.0); 60]);
    let m = classify_metric_with_total(&s, Some(&errs), Some(&canary_gone));
    assert_eq!(m.classification, Classification::Nodata, "{}", m.reason);
    assert!(
        m.reason.contains(
            "no canary step has both a count and a value of the total metric `requests` above 0"
        ),
        "{}",
        m.reason
    );
    assert!(!m.reason.contains("baseline step"), "{}", m.reason);
    // must_have_data: nodata_fail.
    let mut strict = s.clone();
    strict.judge.must_have_data = true;
    let m = classify_metric_with_total(&strict, Some(&errs), Some(&canary_gone));
    assert_eq!(m.classification, Classification::NodataFail, "{}", m.reason);
    // A total that could not be fetched: error, naming it.
    let mut failed = totals.clone();
    failed.error = Some("timeout".into());
    let m = classify_metric_with_total(&s, Some(&errs), Some(&failed));
    assert_eq!(m.classification, Classification::Error, "{}", m.reason);
    assert!(
        m.reason
            .contains("could not fetch the total metric `requests`: timeout"),
        "{}",
        m.reason
    );
}

#[test]
fn counts_with_a_total_discount_bursts_beyond_what_the_traffic_explains() {
    let (total_b, total_c) = (requests(900.0, 120, 1), requests(100.0, 120, 2));
    let mut errors_b = errors(&total_b, 0.002, 3);
    for i in [10, 40, 70, 100] {
        errors_b[i] += 40.0;
    }
    let errors_c = errors(&total_c, 0.002, 4);
    let m = classify_metric_with_total(
        &counts_with_total(TestKind::Counts),
        Some(&observation(&errors_b, &errors_c)),
        Some(&observation(&total_b, &total_c)),
    );
    assert!(m.reason.contains("errors come in bursts"), "{}", m.reason);
    assert!(
        matches!(&m.test, Some(TestReport::Counts { effective_events: Some(_), method, .. }) if method == "poisson"),
        "{:?}",
        m.test
    );
}

/// A template with the errors judged against `requests`, which scores in a group of weight 0.
const TRAFFIC_SPLIT: &str = r#"name: traffic-split
groups: { errors: 100, traffic: 0 }
metrics:
  - name: errors
    group: errors
    query: sum(increase(http_requests_total{code=~"5..",version="${scope}"}[30s]))
    judge: { test: counts, direction: increase, total: requests }
  - name: requests
    group: traffic
    query: sum(increase(http_requests_total{version="${scope}"}[30s]))
    judge: { test: mann-whitney }
"#;

#[test]
fn the_report_carries_the_totals_and_a_weight_0_total_does_not_score() {
    let template = canaryd::template::parse_template(TRAFFIC_SPLIT, "t.yaml").expect("valid");
    let (errs, totals) = traffic_split(0.006);
    let observations: BTreeMap<String, Observation> = [
        ("errors".to_string(), errs),
        ("requests".to_string(), totals),
    ]
    .into();
    let report = judge(&template, &observations);
    let json = serde_json::to_value(&report).unwrap();
    let errors = &json["metrics"][0];
    assert_eq!(errors["classification"], "high", "{}", errors["reason"]);
    let test = &errors["test"];
    assert_eq!(test["kind"], "counts", "{test}");
    assert_eq!(test["total_metric"], "requests");
    let (tb, tc) = (
        test["baseline_total"].as_f64().unwrap(),
        test["canary_total"].as_f64().unwrap(),
    );
    let sum = |v: &[Option<f64>]| v.iter().flatten().sum::<f64>();
    assert_eq!(tb, sum(&observations["requests"].baseline));
    assert_eq!(tc, sum(&observations["requests"].canary));
    // The requests themselves differ (the canary takes a tenth): `low`, in a group of weight
    // 0, so the score is the errors group's alone.
    let requests = &json["metrics"][1];
    assert_eq!(requests["classification"], "low", "{}", requests["reason"]);
    assert_eq!(json["groups"][1]["weight"], 0.0);
    assert_eq!(json["score"], 0.0);
    // Same error rate: the errors pass and the score is 100 although `requests` is low.
    let (errs, totals) = traffic_split(0.002);
    let observations: BTreeMap<String, Observation> = [
        ("errors".to_string(), errs),
        ("requests".to_string(), totals),
    ]
    .into();
    let report = judge(&template, &observations);
    assert_eq!(report.score, 100.0, "{}", report.reason);
    assert_eq!(report.metrics[1].classification, Classification::Low);
    // A metric without a total reports none of the new fields.
    let plain = serde_json::to_value(classify(
        &spec(TestKind::Counts, Direction::Increase),
        &sparse(60, 3),
        &sparse(60, 4),
    ))
    .unwrap();
    for field in ["baseline_total", "canary_total", "total_metric"] {
        assert!(plain["test"].get(field).is_none(), "{field}: {plain}");
    }
}

#[test]
fn counts_with_a_total_and_no_events_pass_and_missing_counts_follow_nan() {
    let (_, totals) = traffic_split(0.002);
    let zeros = observation(&[0.0; 120], &[0.0; 120]);
    let s = counts_with_total(TestKind::Counts);
    let m = classify_metric_with_total(&s, Some(&zeros), Some(&totals));
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    assert!(
        m.reason.starts_with("no events on either side ("),
        "{}",
        m.reason
    );
    assert!(
        m.reason.contains("`requests` in 120 baseline steps"),
        "{}",
        m.reason
    );
    // A missing count: its step is left out (nan: remove), or counts 0 (nan: replace).
    let mut gaps = zeros.clone();
    gaps.canary[5] = None;
    let m = classify_metric_with_total(&s, Some(&gaps), Some(&totals));
    assert!(m.reason.contains("0 baseline, 1 canary"), "{}", m.reason);
    let mut replace = s.clone();
    replace.judge.nan = canaryd::template::NanStrategy::Replace;
    let m = classify_metric_with_total(&replace, Some(&gaps), Some(&totals));
    assert!(!m.reason.contains("steps left out"), "{}", m.reason);
    assert!(m.reason.contains("counted as 0"), "{}", m.reason);
}
