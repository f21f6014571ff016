//! The scoring rules of CONTRACT §5, one by one, on templates built in code. Threshold judges
//! make each metric's classification certain, so that only the scoring is under test.

use std::collections::BTreeMap;

use canaryd::judge::{judge, Classification, Report, Verdict};
use canaryd::source::Observation;
use canaryd::template::{
    GroupWeight, JudgeKind, JudgeSpec, MetricSpec, Scoring, Template, ThresholdSpec,
};

/// A metric judged by `max: 1.0`: canary values 0 pass, 5 are high.
fn metric(name: &str, group: Option<&str>) -> MetricSpec {
    MetricSpec {
        name: name.into(),
        group: group.map(String::from),
        query: format!("{name}{{version=\"${{scope}}\"}}"),
        judge: JudgeSpec::new(JudgeKind::Threshold(ThresholdSpec {
            max: Some(1.0),
            ..ThresholdSpec::default()
        })),
    }
}

fn template(metrics: Vec<MetricSpec>, groups: &[(&str, f64)]) -> Template {
    Template {
        name: "t".into(),
        description: String::new(),
        source: "prometheus".into(),
        args: BTreeMap::new(),
        scope: Default::default(),
        step_seconds: 60,
        scoring: Scoring::default(),
        groups: groups
            .iter()
            .map(|(n, w)| GroupWeight {
                name: n.to_string(),
                weight: *w,
            })
            .collect(),
        metrics,
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Pass,
    Fail,
    NoData,
    Error,
}

fn run(t: &Template, outcomes: &[(&str, Outcome)]) -> Report {
    let obs: BTreeMap<String, Observation> = outcomes
        .iter()
        .map(|(name, o)| {
            let v = |x: f64| vec![Some(x); 10];
            let ob = match o {
                Outcome::Pass => Observation::from_values(v(0.0), v(0.0)),
                Outcome::Fail => Observation::from_values(v(0.0), v(5.0)),
                Outcome::NoData => Observation::from_values(v(0.0), vec![None; 10]),
                Outcome::Error => Observation {
                    error: Some("connection reset".into()),
                    ..Observation::default()
                },
            };
            (name.to_string(), ob)
        })
        .collect();
    judge(t, &obs)
}

fn class(r: &Report, name: &str) -> Classification {
    r.metrics
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.classification)
        .unwrap()
}

#[test]
fn group_weights_are_applied() {
    let t = template(
        vec![
            metric("lat", Some("latency")),
            metric("err", Some("errors")),
        ],
        &[("latency", 60.0), ("errors", 40.0)],
    );
    let r = run(&t, &[("lat", Outcome::Fail), ("err", Outcome::Pass)]);
    assert_eq!(r.score, 40.0);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.groups[0].name, "latency");
    assert_eq!((r.groups[0].weight, r.groups[0].score), (60.0, 0.0));
    assert_eq!((r.groups[1].weight, r.groups[1].score), (40.0, 100.0));
    let r = run(&t, &[("lat", Outcome::Pass), ("err", Outcome::Fail)]);
    assert_eq!(r.score, 60.0);
}

#[test]
fn unlisted_groups_share_what_is_left() {
    // a: 50 listed; b and c (a metric without a group is its own group) share 50.
    let t = template(
        vec![
            metric("m1", Some("a")),
            metric("m2", Some("b")),
            metric("m3", None),
        ],
        &[("a", 50.0)],
    );
    let r = run(
        &t,
        &[
            ("m1", Outcome::Pass),
            ("m2", Outcome::Fail),
            ("m3", Outcome::Pass),
        ],
    );
    let w: Vec<(String, f64)> = r
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.weight))
        .collect();
    assert_eq!(
        w,
        vec![("a".into(), 50.0), ("b".into(), 25.0), ("m3".into(), 25.0)]
    );
    assert_eq!(r.score, 75.0);
    assert_eq!(r.verdict, Verdict::Marginal);
}

#[test]
fn no_groups_at_all_means_equal_weights() {
    let t = template(
        vec![metric("a", None), metric("b", None), metric("c", None)],
        &[],
    );
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::Fail),
        ],
    );
    assert_eq!(r.score, 66.67, "2 of 3 equal groups, rounded to 2 decimals");
}

#[test]
fn group_score_is_the_pass_share_rounded() {
    let t = template(
        vec![
            metric("a", Some("g")),
            metric("b", Some("g")),
            metric("c", Some("g")),
        ],
        &[],
    );
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::Fail),
        ],
    );
    assert_eq!(r.groups[0].score, 66.67);
    assert_eq!(r.score, 66.67);
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Fail),
            ("c", Outcome::Fail),
        ],
    );
    assert_eq!(r.score, 33.33);
}

#[test]
fn a_critical_failure_forces_zero() {
    let mut crit = metric("err", Some("errors"));
    crit.judge.critical = true;
    let t = template(
        vec![
            metric("lat", Some("latency")),
            metric("lat2", Some("latency")),
            crit,
        ],
        &[("latency", 90.0), ("errors", 10.0)],
    );
    let r = run(
        &t,
        &[
            ("lat", Outcome::Pass),
            ("lat2", Outcome::Pass),
            ("err", Outcome::Fail),
        ],
    );
    assert_eq!(r.score, 0.0);
    assert_eq!(r.verdict, Verdict::Fail);
    let m = r.metrics.iter().find(|m| m.name == "err").unwrap();
    assert!(m.critical);
    assert!(
        r.reason.contains("critical") && r.reason.contains("err"),
        "{}",
        r.reason
    );
    // The same metric passing: no critical flag, full score.
    let r = run(
        &t,
        &[
            ("lat", Outcome::Pass),
            ("lat2", Outcome::Pass),
            ("err", Outcome::Pass),
        ],
    );
    assert_eq!(r.score, 100.0);
    assert!(r.metrics.iter().all(|m| !m.critical));
}

#[test]
fn critical_nodata_is_a_critical_failure() {
    let mut crit = metric("err", None);
    crit.judge.critical = true;
    crit.judge.must_have_data = true; // critical wins: nodata, not nodata_fail
    let t = template(
        vec![
            metric("a", None),
            metric("b", None),
            metric("c", None),
            crit,
        ],
        &[],
    );
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::Pass),
            ("err", Outcome::NoData),
        ],
    );
    assert_eq!(class(&r, "err"), Classification::Nodata);
    assert!(r.metrics[3].critical);
    assert_eq!(r.score, 0.0);
}

#[test]
fn nodata_is_left_out_but_must_have_data_fails() {
    let t = template(
        vec![
            metric("a", Some("g")),
            metric("b", Some("g")),
            metric("c", Some("g")),
            metric("d", Some("g")),
        ],
        &[],
    );
    let outcomes = [
        ("a", Outcome::Pass),
        ("b", Outcome::Pass),
        ("c", Outcome::Pass),
        ("d", Outcome::NoData),
    ];
    let r = run(&t, &outcomes);
    assert_eq!(class(&r, "d"), Classification::Nodata);
    assert_eq!(r.score, 100.0, "nodata is left out of the group score");
    let mut t2 = t.clone();
    t2.metrics[3].judge.must_have_data = true;
    let r = run(&t2, &outcomes);
    assert_eq!(class(&r, "d"), Classification::NodataFail);
    assert_eq!(r.score, 75.0, "nodata_fail counts as a failure");
    assert!(!r.metrics[3].critical);
}

#[test]
fn half_or_more_unreadable_scores_zero() {
    let t = template(
        vec![
            metric("a", Some("g")),
            metric("b", Some("g")),
            metric("c", Some("g")),
            metric("d", Some("g")),
        ],
        &[],
    );
    // One nodata and one error: 2 of 4 is half.
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::NoData),
            ("d", Outcome::Error),
        ],
    );
    assert_eq!(class(&r, "d"), Classification::Error);
    assert!(r.metrics[3].reason.contains("connection reset"));
    assert_eq!(r.score, 0.0);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.reason.contains("2 of 4 metrics"), "{}", r.reason);
    // One of four is not half: the score is that of the readable metrics.
    let r = run(
        &t,
        &[
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::Pass),
            ("d", Outcome::Error),
        ],
    );
    assert_eq!(r.score, 100.0);
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn a_metric_absent_from_the_data_has_no_data() {
    let t = template(
        vec![metric("a", None), metric("b", None), metric("c", None)],
        &[],
    );
    let r = run(&t, &[("a", Outcome::Pass), ("b", Outcome::Pass)]);
    assert_eq!(class(&r, "c"), Classification::Nodata);
    assert!(
        r.metrics[2].reason.contains("absent"),
        "{}",
        r.metrics[2].reason
    );
    assert_eq!(r.score, 100.0);
}

#[test]
fn a_group_with_nothing_left_counts_100() {
    let t = template(
        vec![
            metric("a", Some("x")),
            metric("b", Some("y")),
            metric("c", Some("y")),
        ],
        &[("x", 50.0), ("y", 50.0)],
    );
    let r = run(
        &t,
        &[
            ("a", Outcome::NoData),
            ("b", Outcome::Pass),
            ("c", Outcome::Pass),
        ],
    );
    assert_eq!(r.groups[0].score, 100.0);
    assert_eq!(r.score, 100.0);
}

#[test]
fn thresholds_are_inclusive_on_the_rounded_score() {
    use canaryd::judge::score::verdict_for;
    let s = Scoring {
        pass: 95.0,
        marginal: 75.0,
        ..Scoring::default()
    };
    assert_eq!(verdict_for(95.0, s), Verdict::Pass);
    assert_eq!(verdict_for(94.99, s), Verdict::Marginal);
    assert_eq!(verdict_for(75.0, s), Verdict::Marginal);
    assert_eq!(verdict_for(74.99, s), Verdict::Fail);
    // 19 of 20 pass in one group: exactly 95.
    let metrics: Vec<MetricSpec> = (0..20)
        .map(|i| metric(&format!("m{i}"), Some("g")))
        .collect();
    let names: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let t = template(metrics, &[]);
    let outcomes: Vec<(&str, Outcome)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.as_str(),
                if i == 0 { Outcome::Fail } else { Outcome::Pass },
            )
        })
        .collect();
    let r = run(&t, &outcomes);
    assert_eq!(r.score, 95.0);
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn score_stays_in_range_and_reason_names_failures() {
    let t = template(
        vec![metric("a", Some("g")), metric("b", Some("h"))],
        &[("g", 30.0)],
    );
    let r = run(&t, &[("a", Outcome::Fail), ("b", Outcome::Pass)]);
    assert_eq!(r.score, 70.0);
    assert!(
        r.reason.starts_with("score 70.0 < marginal threshold 75"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("a high"), "{}", r.reason);
    assert!(
        r.reason.contains("canary mean 5 is above max 1"),
        "{}",
        r.reason
    );
}

/// The Flagger rollback hook's rule (issue 13): a fail rolls back only when regressions cause
/// it, never when missing or unreadable data does.
#[test]
fn only_a_fail_that_regressions_cause_rolls_back() {
    use canaryd::judge::score::fails_from_regressions;
    let t = template(
        vec![
            metric("a", Some("g")),
            metric("b", Some("g")),
            metric("c", Some("g")),
            metric("d", Some("g")),
        ],
        &[("g", 100.0)],
    );
    let judged = |o: [Outcome; 4]| run(&t, &[("a", o[0]), ("b", o[1]), ("c", o[2]), ("d", o[3])]);
    use Outcome::*;
    // Regressions alone: 2 of 4 fail, score 50 < 75.
    let r = judged([Fail, Fail, Pass, Pass]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(fails_from_regressions(&r));
    // Nothing readable but one pass: the no-data guard forces 0, yet nothing regressed.
    let r = judged([NoData, Error, NoData, Pass]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(!fails_from_regressions(&r), "{}", r.reason);
    // Half unreadable and one regression: the guard fails it, but the regression alone (1 of 2
    // readable) scores 50, below marginal: that is a regression.
    let r = judged([NoData, Error, Fail, Pass]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(fails_from_regressions(&r));
    // Half unreadable and everything readable passes: no regression.
    let r = judged([NoData, NoData, Pass, Pass]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(!fails_from_regressions(&r));
    // Pass and marginal never roll back.
    assert!(!fails_from_regressions(&judged([Pass, Pass, Pass, Pass])));

    // nodata_fail (must_have_data) counts against the score, but it is missing data.
    let mut must = t.clone();
    for m in &mut must.metrics {
        m.judge.must_have_data = true;
    }
    let r = run(
        &must,
        &[("a", NoData), ("b", NoData), ("c", NoData), ("d", Pass)],
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(!fails_from_regressions(&r));

    // A critical metric that regressed rolls back whatever the rest says.
    let mut critical = t.clone();
    critical.metrics[0].judge.critical = true;
    let r = run(
        &critical,
        &[("a", Fail), ("b", Pass), ("c", Pass), ("d", Pass)],
    );
    assert!(fails_from_regressions(&r));
    // A critical metric without data forces 0 too, but that is missing data.
    let r = run(
        &critical,
        &[("a", NoData), ("b", Pass), ("c", Pass), ("d", Pass)],
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(!fails_from_regressions(&r));
}

/// `scoring.on_nodata: marginal` (issue 13): a fail for want of data is marginal ("wait"),
/// while a regression, or a metric that could not be fetched, still fails.
#[test]
fn on_nodata_marginal_waits_for_data_but_never_hides_a_regression() {
    use canaryd::template::OnNodata;
    use Outcome::*;
    let mut t = template(
        vec![
            metric("a", Some("g")),
            metric("b", Some("g")),
            metric("c", Some("g")),
            metric("d", Some("g")),
        ],
        &[("g", 100.0)],
    );
    let judged = |t: &Template, o: [Outcome; 4]| {
        run(t, &[("a", o[0]), ("b", o[1]), ("c", o[2]), ("d", o[3])])
    };
    // The default: no data fails.
    assert_eq!(
        judged(&t, [NoData, NoData, Pass, Pass]).verdict,
        Verdict::Fail
    );
    t.scoring.on_nodata = OnNodata::Marginal;
    let r = judged(&t, [NoData, NoData, Pass, Pass]);
    assert_eq!(r.verdict, Verdict::Marginal, "{}", r.reason);
    assert!(r.reason.contains("on_nodata: marginal"), "{}", r.reason);
    assert_eq!(r.score, 0.0, "the score still says nothing could be read");
    // Everything missing: still only a wait.
    assert_eq!(
        judged(&t, [NoData, NoData, NoData, NoData]).verdict,
        Verdict::Marginal
    );
    // A regression among what could be read fails.
    assert_eq!(
        judged(&t, [NoData, NoData, Fail, Pass]).verdict,
        Verdict::Fail
    );
    assert_eq!(
        judged(&t, [NoData, Fail, Fail, Pass]).verdict,
        Verdict::Fail
    );
    // A metric that could not be fetched is not little traffic.
    assert_eq!(
        judged(&t, [NoData, Error, Pass, Pass]).verdict,
        Verdict::Fail
    );
    // Data enough and no regression passes as before.
    assert_eq!(judged(&t, [Pass, Pass, Pass, Pass]).verdict, Verdict::Pass);
}

/// `min_points`: fewer usable canary points than that is too little traffic, like no data.
#[test]
fn too_few_canary_points_are_nodata_naming_min_points() {
    let mut m = metric("a", None);
    m.judge.min_points = 20;
    let t = template(vec![m], &[]);
    let r = run(&t, &[("a", Outcome::Pass)]);
    assert_eq!(class(&r, "a"), Classification::Nodata);
    let reason = &r.metrics[0].reason;
    assert!(
        reason.contains("too little canary data: 10 points, where min_points is 20"),
        "{reason}"
    );
    let mut m = metric("a", None);
    m.judge.min_points = 10;
    let t = template(vec![m], &[]);
    assert_eq!(
        class(&run(&t, &[("a", Outcome::Pass)]), "a"),
        Classification::Pass
    );
}
