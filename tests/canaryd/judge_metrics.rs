//! Classification of single metrics by the Mann-Whitney and threshold judges (CONTRACT §5),
//! and the reasons they give.

use std::collections::BTreeMap;

use canaryd::judge::{classify_metric, judge, Classification, MetricReport, TestReport, Verdict};
use canaryd::source::Observation;
use canaryd::template::{
    Direction, JudgeKind, JudgeSpec, MetricSpec, NanStrategy, OutlierSpec, Scoring, Template,
    TestKind, ThresholdSpec,
};
use proptest::prelude::*;

fn mw(direction: Direction) -> MetricSpec {
    MetricSpec {
        name: "latency".into(),
        group: None,
        query: "q{v=\"${scope}\"}".into(),
        judge: JudgeSpec {
            direction,
            ..JudgeSpec::of(TestKind::MannWhitney)
        },
    }
}

fn some(v: &[f64]) -> Vec<Option<f64>> {
    v.iter().copied().map(Some).collect()
}

/// A deterministic, spread-out sample around `center`: center + k * 0.01 for k in -n/2..n/2,
/// in a scrambled order.
fn sample(center: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| center + (((i * 37) % n) as f64 - n as f64 / 2.0) * 0.01)
        .collect()
}

fn classify(spec: &MetricSpec, baseline: &[f64], canary: &[f64]) -> MetricReport {
    classify_metric(
        spec,
        Some(&Observation::from_values(some(baseline), some(canary))),
    )
}

fn interval(m: &MetricReport) -> (f64, f64, f64) {
    match &m.test {
        Some(TestReport::MannWhitney { estimate, ci, .. }) => (*estimate, ci[0], ci[1]),
        other => panic!("expected a Mann-Whitney test, got {other:?}"),
    }
}

#[test]
fn a_clear_increase_is_high_and_the_reason_says_how_much() {
    let base = sample(1.0, 60);
    let can = sample(1.2, 60);
    let m = classify(&mw(Direction::Increase), &base, &can);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    let (est, lo, hi) = interval(&m);
    assert!((est - 0.2).abs() < 1e-9, "estimate {est}");
    assert!(lo > 0.0 && hi >= est);
    assert!(m.reason.contains("significant increase"), "{}", m.reason);
    assert!(m.reason.contains("+0.2"), "{}", m.reason);
    assert!(
        m.reason.contains("+20.1% of the baseline median"),
        "{}",
        m.reason
    );
    assert!(m.reason.contains("95% interval"), "{}", m.reason);
    assert!(m.mean_ratio.unwrap() > 1.19);
}

#[test]
fn direction_decides_which_change_is_bad() {
    let base = sample(1.0, 60);
    let up = sample(1.2, 60);
    let down = sample(0.8, 60);
    assert_eq!(
        classify(&mw(Direction::Decrease), &base, &up).classification,
        Classification::Pass
    );
    let m = classify(&mw(Direction::Decrease), &base, &down);
    assert_eq!(m.classification, Classification::Low, "{}", m.reason);
    let m = classify(&mw(Direction::Increase), &base, &down);
    assert_eq!(m.classification, Classification::Pass);
    assert!(m.reason.contains("only an increase is bad"), "{}", m.reason);
    assert_eq!(
        classify(&mw(Direction::Either), &base, &down).classification,
        Classification::Low
    );
    assert_eq!(
        classify(&mw(Direction::Either), &base, &up).classification,
        Classification::High
    );
}

#[test]
fn allowed_increase_tolerates_a_small_significant_rise() {
    let base = sample(10.0, 60);
    let can = sample(10.3, 60); // +3%, significant
    let mut spec = mw(Direction::Increase);
    assert_eq!(
        classify(&spec, &base, &can).classification,
        Classification::High
    );
    spec.judge.tolerance_mut().unwrap().allowed_increase = 1.05;
    let m = classify(&spec, &base, &can);
    assert_eq!(m.classification, Classification::Pass);
    assert!(
        m.reason.contains("within allowed_increase 1.05x"),
        "{}",
        m.reason
    );
    let mut spec = mw(Direction::Decrease);
    let down = sample(9.7, 60);
    assert_eq!(
        classify(&spec, &base, &down).classification,
        Classification::Low
    );
    spec.judge.tolerance_mut().unwrap().allowed_decrease = 0.95;
    assert_eq!(
        classify(&spec, &base, &down).classification,
        Classification::Pass
    );
}

#[test]
fn a_zero_baseline_mean_leaves_the_interval_to_decide() {
    let base = vec![0.0; 30];
    let can: Vec<f64> = (0..30)
        .map(|i| if i % 2 == 0 { 0.5 } else { 0.0 })
        .collect();
    let m = classify(&mw(Direction::Increase), &base, &can);
    assert_eq!(m.mean_ratio, None);
    assert!(m.reason.contains("mean ratio unknown"), "{}", m.reason);
    let (_, lo, _) = interval(&m);
    assert_eq!(
        m.classification,
        if lo > 0.0 {
            Classification::High
        } else {
            Classification::Pass
        }
    );
}

#[test]
fn identical_and_single_valued_samples_pass() {
    let s = sample(3.0, 40);
    let m = classify(&mw(Direction::Either), &s, &s);
    assert_eq!(m.classification, Classification::Pass);
    let m = classify(&mw(Direction::Either), &[7.0; 20], &[7.0; 25]);
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    let (est, lo, hi) = interval(&m);
    assert_eq!((est, lo, hi), (0.0, 0.0, 0.0));
}

#[test]
fn two_different_constants_give_the_exact_shift() {
    let m = classify(&mw(Direction::Either), &[2.0; 20], &[2.5; 20]);
    let (est, lo, hi) = interval(&m);
    assert_eq!((est, lo, hi), (0.5, 0.5, 0.5));
    assert_eq!(m.classification, Classification::High);
}

#[test]
fn missing_values_are_removed_or_replaced() {
    let spec = mw(Direction::Either);
    let mut base = some(&sample(1.0, 30));
    base.push(None);
    let obs = Observation::from_values(base.clone(), some(&sample(1.0, 30)));
    let m = classify_metric(&spec, Some(&obs));
    assert_eq!(m.baseline.count, 30);
    assert_eq!(m.dropped.baseline_missing, 1);
    let mut spec2 = spec.clone();
    spec2.judge.nan = NanStrategy::Replace;
    let m = classify_metric(&spec2, Some(&obs));
    assert_eq!(m.baseline.count, 31);
    assert_eq!(m.baseline.min, Some(0.0));
    assert_eq!(m.dropped.replaced, 1);
}

#[test]
fn an_empty_side_is_nodata_or_nodata_fail() {
    let mut spec = mw(Direction::Either);
    let obs = Observation::from_values(some(&[1.0, 2.0]), vec![None, None]);
    let m = classify_metric(&spec, Some(&obs));
    assert_eq!(m.classification, Classification::Nodata);
    assert!(
        m.reason.contains("the canary has no values (2 missing)"),
        "{}",
        m.reason
    );
    spec.judge.must_have_data = true;
    assert_eq!(
        classify_metric(&spec, Some(&obs)).classification,
        Classification::NodataFail
    );
    spec.judge.critical = true;
    let m = classify_metric(&spec, Some(&obs));
    assert_eq!(m.classification, Classification::Nodata);
    assert!(m.critical);
}

#[test]
fn outliers_are_removed_when_asked() {
    let mut base = sample(1.0, 50);
    base.push(1_000.0);
    let can = sample(1.0, 50);
    let mut spec = mw(Direction::Either);
    spec.judge.outliers = OutlierSpec {
        remove: true,
        factor: 3.0,
    };
    let m = classify(&spec, &base, &can);
    assert_eq!(m.dropped.baseline_outliers, 1);
    assert_eq!(m.baseline.max, Some(1.24));
}

#[test]
fn threshold_judge_bounds_and_ratios() {
    let spec = |j: ThresholdSpec| MetricSpec {
        name: "err".into(),
        group: None,
        query: "q".into(),
        judge: JudgeSpec::new(JudgeKind::Threshold(j)),
    };
    let base = [0.01; 10];
    let m = classify(
        &spec(ThresholdSpec {
            max: Some(0.05),
            ..ThresholdSpec::default()
        }),
        &base,
        &[0.06; 10],
    );
    assert_eq!(m.classification, Classification::High);
    assert!(
        m.reason.contains("canary mean 0.06 is above max 0.05"),
        "{}",
        m.reason
    );
    let m = classify(
        &spec(ThresholdSpec {
            min: Some(0.5),
            ..ThresholdSpec::default()
        }),
        &base,
        &[0.4; 10],
    );
    assert_eq!(m.classification, Classification::Low);
    let r = ThresholdSpec {
        max_increase_ratio: Some(1.5),
        ..ThresholdSpec::default()
    };
    let m = classify(&spec(r), &base, &[0.02; 10]);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    assert!(
        m.reason.contains("2x the baseline mean 0.01"),
        "{}",
        m.reason
    );
    assert_eq!(
        classify(&spec(r), &base, &[0.014; 10]).classification,
        Classification::Pass
    );
    // A zero baseline with errors in the canary is an unbounded increase.
    let m = classify(&spec(r), &[0.0; 10], &[0.01; 10]);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
    // Both zero: no change.
    assert_eq!(
        classify(&spec(r), &[0.0; 10], &[0.0; 10]).classification,
        Classification::Pass
    );
    let d = ThresholdSpec {
        max_decrease_ratio: Some(0.8),
        ..ThresholdSpec::default()
    };
    assert_eq!(
        classify(&spec(d), &[100.0; 10], &[70.0; 10]).classification,
        Classification::Low
    );
    // Absolute bounds need no baseline.
    let obs = Observation::from_values(vec![], some(&[0.001; 5]));
    let m = classify_metric(
        &spec(ThresholdSpec {
            max: Some(0.01),
            ..ThresholdSpec::default()
        }),
        Some(&obs),
    );
    assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
    // Ratio bounds alone need the baseline: without it the metric has no data.
    let ratio_only = ThresholdSpec {
        max_increase_ratio: Some(1.5),
        ..ThresholdSpec::default()
    };
    let m = classify_metric(&spec(ratio_only), Some(&obs));
    assert_eq!(m.classification, Classification::Nodata, "{}", m.reason);
    assert!(
        m.reason.contains("the baseline has no values"),
        "{}",
        m.reason
    );
}

#[test]
fn fetch_errors_and_notes_reach_the_reason() {
    let spec = mw(Direction::Either);
    let obs = Observation {
        error: Some("HTTP 503 from backend".into()),
        ..Observation::default()
    };
    let m = classify_metric(&spec, Some(&obs));
    assert_eq!(m.classification, Classification::Error);
    assert!(m.reason.contains("HTTP 503"), "{}", m.reason);
    let mut obs = Observation::from_values(some(&sample(1.0, 20)), some(&sample(1.0, 20)));
    obs.notes.push("canary series stops 5 minutes early".into());
    let m = classify_metric(&spec, Some(&obs));
    assert!(
        m.reason.ends_with("canary series stops 5 minutes early"),
        "{}",
        m.reason
    );
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 0,
        Verdict::Marginal => 1,
        Verdict::Fail => 2,
    }
}

fn one_metric_template(spec: MetricSpec, scoring: Scoring) -> Template {
    Template {
        name: "prop".into(),
        description: String::new(),
        source: "file".into(),
        args: BTreeMap::new(),
        scope: Default::default(),
        step_seconds: 60,
        scoring,
        groups: vec![],
        metrics: vec![spec],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Identical samples always pass, whatever the values.
    #[test]
    fn identical_samples_always_pass(values in prop::collection::vec(-1e6f64..1e6, 1..80)) {
        for d in [Direction::Increase, Direction::Decrease, Direction::Either] {
            let m = classify(&mw(d), &values, &values);
            prop_assert_eq!(m.classification, Classification::Pass);
        }
    }

    /// Scores stay in 0..100 and the verdict is monotone in the thresholds.
    #[test]
    fn scores_in_range_and_monotone(
        base in prop::collection::vec(0f64..10.0, 3..40),
        can in prop::collection::vec(0f64..10.0, 3..40),
        pass in 50f64..100.0,
    ) {
        let t = one_metric_template(mw(Direction::Either), Scoring { pass, marginal: pass / 2.0, ..Scoring::default() });
        let mut obs = BTreeMap::new();
        obs.insert("latency".to_string(), Observation::from_values(some(&base), some(&can)));
        let r = judge(&t, &obs);
        prop_assert!((0.0..=100.0).contains(&r.score));
        let stricter = one_metric_template(mw(Direction::Either), Scoring { pass: 100.0, marginal: 100.0, ..Scoring::default() });
        let r2 = judge(&stricter, &obs);
        prop_assert_eq!(r.score, r2.score);
        prop_assert!(severity(r2.verdict) >= severity(r.verdict));
        let looser = one_metric_template(mw(Direction::Either), Scoring { pass: 0.0, marginal: 0.0, ..Scoring::default() });
        prop_assert_eq!(judge(&looser, &obs).verdict, Verdict::Pass);
    }
}
