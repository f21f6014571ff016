//! Sequential looks (`judge::sequential`): the decision at each look of a scripted rollout.

use std::collections::BTreeMap;

use canaryd::judge::sequential::{
    decide_look, judge_look, Decision, Horizon, Look, SequentialSpec,
};
use canaryd::judge::{judge, Verdict};
use canaryd::source::Observation;
use canaryd::stats::sequential::Spending;
use canaryd::template::{parse_template, Template};

/// Points per interval: look k judges the first `k × PER_LOOK` points (nested windows).
const PER_LOOK: usize = 25;

fn template(judges: &[&str]) -> Template {
    let mut yaml = String::from("name: seq\nsource: recorded\nmetrics:\n");
    for (i, j) in judges.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: m{i}\n    query: q{{v=\"${{scope}}\"}}\n    judge: {j}\n"
        ));
    }
    parse_template(&yaml, "seq.yaml").expect("the test's template")
}

/// A deterministic noise stream (splitmix64 mapped to uniform(−1, 1), summed in threes for a
/// bell shape) so that the looks are reproducible.
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x2545f4914f6cdd1d);
    let mut next = || {
        s = s.wrapping_add(0x9e3779b97f4a7c15);
        let mut x = s;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
        x ^= x >> 31;
        ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    (0..n).map(|_| next() + next() + next()).collect()
}

fn series(seed: u64, n: usize, level: f64, sd: f64) -> Vec<f64> {
    noise(seed, n).iter().map(|e| level + sd * e).collect()
}

/// The observations of look `k`: the first `k × PER_LOOK` points of every metric.
fn window(
    template: &Template,
    baseline: &[f64],
    canary: &[f64],
    k: usize,
) -> BTreeMap<String, Observation> {
    let n = k * PER_LOOK;
    let some = |v: &[f64]| v[..n].iter().copied().map(Some).collect();
    template
        .metrics
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                Observation::from_values(some(baseline), some(canary)),
            )
        })
        .collect()
}

fn look(number: usize, of: usize) -> Look {
    Look {
        number,
        horizon: Horizon::Looks(of),
        nested: true,
    }
}

fn spec(pass_early: bool) -> SequentialSpec {
    SequentialSpec {
        alpha: 0.05,
        pass_early,
        spending: Spending::Pocock,
    }
}

/// The decisions of looks 1..=of, stopping at the first that is not a continue.
fn run(
    template: &Template,
    baseline: &[f64],
    canary: &[f64],
    of: usize,
    spec: &SequentialSpec,
) -> Vec<(Decision, Option<f64>, f64)> {
    let mut out = Vec::new();
    for k in 1..=of {
        let (report, seq) = judge_look(
            template,
            &window(template, baseline, canary, k),
            spec,
            &look(k, of),
        );
        assert_eq!(seq.look, k);
        assert_eq!(seq.of, Some(of));
        assert_eq!(
            decide_look(
                template,
                &window(template, baseline, canary, k),
                spec,
                &look(k, of)
            ),
            seq.decision,
            "the cheap path decides as judge_look at look {k}"
        );
        if let Some(e) = seq.evidence {
            assert_eq!(
                e >= seq.boundary,
                seq.decision == Decision::Fail,
                "fail ⇔ evidence ≥ boundary at look {k}: {}",
                seq.reason
            );
        }
        assert_eq!(
            report.verdict == Verdict::Fail,
            seq.decision == Decision::Fail
        );
        out.push((seq.decision, seq.evidence, seq.boundary));
        if seq.decision != Decision::Continue {
            break;
        }
    }
    out
}

#[test]
fn a_scripted_step_fails_at_the_look_it_appears() {
    let t = template(&["{ test: mann-whitney, direction: increase }"]);
    let baseline = series(1, 6 * PER_LOOK, 100.0, 5.0);
    // ×1.5 from the first point of look 3.
    let canary: Vec<f64> = series(2, 6 * PER_LOOK, 100.0, 5.0)
        .iter()
        .enumerate()
        .map(|(i, v)| if i >= 2 * PER_LOOK { v * 1.5 } else { *v })
        .collect();
    let looks = run(&t, &baseline, &canary, 6, &spec(false));
    let decisions: Vec<Decision> = looks.iter().map(|l| l.0).collect();
    assert_eq!(
        decisions,
        [Decision::Continue, Decision::Continue, Decision::Fail],
        "{looks:?}"
    );
    // The fail is on evidence, not a level-free fail.
    assert!(looks[2].1.is_some());
}

#[test]
fn a_clean_pair_continues_then_passes_at_the_last_look() {
    let t = template(&["{ test: mann-whitney, direction: increase }"]);
    let baseline = series(3, 4 * PER_LOOK, 100.0, 5.0);
    let canary = series(4, 4 * PER_LOOK, 100.0, 5.0);
    let looks = run(&t, &baseline, &canary, 4, &spec(false));
    let decisions: Vec<Decision> = looks.iter().map(|l| l.0).collect();
    assert_eq!(
        decisions,
        [
            Decision::Continue,
            Decision::Continue,
            Decision::Continue,
            Decision::Pass
        ],
        "{looks:?}"
    );
    // Pocock-type boundaries are nearly flat; each lies above the fixed 95% one-sided 1.645.
    for (_, _, b) in &looks {
        assert!(*b > 1.645 && *b < 3.0, "{looks:?}");
    }
}

#[test]
fn pass_early_passes_a_clean_pair_within_the_tolerance_before_the_last_look() {
    let t = template(&["{ test: mann-whitney, direction: increase, allowed_increase: 1.2 }"]);
    let baseline = series(5, 6 * PER_LOOK, 100.0, 5.0);
    let canary = series(6, 6 * PER_LOOK, 100.0, 5.0);
    let looks = run(&t, &baseline, &canary, 6, &spec(true));
    assert_eq!(looks.last().map(|l| l.0), Some(Decision::Pass), "{looks:?}");
    assert!(looks.len() < 6, "passed before the last look: {looks:?}");

    // At the default allowed_increase 1.0 nothing passes early, and the reason says why.
    let strict = template(&["{ test: mann-whitney, direction: increase }"]);
    let (_, seq) = judge_look(
        &strict,
        &window(&strict, &baseline, &canary, 1),
        &spec(true),
        &look(1, 6),
    );
    assert_eq!(seq.decision, Decision::Continue, "{}", seq.reason);
    assert!(
        seq.reason.contains("nothing can pass early"),
        "{}",
        seq.reason
    );
    assert_eq!(seq.pass_boundary, Some(seq.boundary));
}

#[test]
fn a_threshold_failure_fails_with_no_evidence() {
    let t = template(&["{ test: threshold, max: 50 }"]);
    let baseline = series(7, PER_LOOK, 100.0, 5.0);
    let canary = series(8, PER_LOOK, 100.0, 5.0);
    let (report, seq) = judge_look(
        &t,
        &window(&t, &baseline, &canary, 1),
        &spec(false),
        &look(1, 6),
    );
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(seq.decision, Decision::Fail);
    assert_eq!(seq.evidence, None);
    assert!(seq.reason.contains("whatever the level"), "{}", seq.reason);

    // Beside a statistical metric that does not fail, the threshold still decides alone.
    let t = template(&["{ test: threshold, max: 50 }", "{ test: mann-whitney }"]);
    let (_, seq) = judge_look(
        &t,
        &window(&t, &baseline, &canary, 1),
        &spec(false),
        &look(1, 6),
    );
    assert_eq!(seq.decision, Decision::Fail);
    assert_eq!(seq.evidence, None);
}

#[test]
fn one_look_is_the_fixed_judgment_at_the_split_confidence() {
    // Two metrics with two tails each: the per-tail level is α / 4 and the confidence
    // 1 − 2α/4 = 0.975.
    let t = template(&["{ test: mann-whitney }", "{ test: auto }"]);
    let baseline = series(9, 2 * PER_LOOK, 100.0, 5.0);
    let canary: Vec<f64> = series(10, 2 * PER_LOOK, 100.0, 5.0)
        .iter()
        .map(|v| v * 1.04)
        .collect();
    let obs = window(&t, &baseline, &canary, 2);
    let (report, seq) = judge_look(&t, &obs, &spec(false), &look(1, 1));
    assert!((seq.level - 0.0125).abs() < 1e-15, "{}", seq.level);
    let mut fixed = t.clone();
    for m in &mut fixed.metrics {
        m.judge.tolerance_mut().expect("statistical").confidence = 0.975;
    }
    assert_eq!(report, judge(&fixed, &obs));
    let expected = if report.verdict == Verdict::Fail {
        Decision::Fail
    } else {
        Decision::Pass
    };
    assert_eq!(seq.decision, expected);
}

#[test]
fn the_spec_is_checked_and_reads_its_wire_names() {
    let ok: SequentialSpec =
        serde_json::from_str(r#"{"alpha": 0.05, "spending": "o-brien-fleming"}"#).expect("valid");
    assert_eq!(ok.spending, Spending::OBrienFleming);
    assert!(!ok.pass_early);
    assert!(ok.check().is_ok());
    let plain: SequentialSpec = serde_json::from_str(r#"{"alpha": 0.1}"#).expect("valid");
    assert_eq!(plain.spending, Spending::Pocock);
    for bad in [0.0, -0.1, 0.6, f64::NAN, f64::INFINITY] {
        let err = SequentialSpec { alpha: bad, ..ok }
            .check()
            .expect_err("out of range");
        assert!(err.contains("sequential.alpha"), "{err}");
    }
    assert_eq!(
        serde_json::to_string(&Decision::Continue).expect("serializes"),
        "\"continue\""
    );
}

#[test]
fn an_open_horizon_projects_and_never_passes_on_its_own() {
    let t = template(&["{ test: mann-whitney, direction: increase }"]);
    let baseline = series(11, PER_LOOK, 100.0, 5.0);
    let canary: Vec<f64> = series(12, PER_LOOK, 100.0, 5.0)
        .iter()
        .map(|v| v * 1.02)
        .collect();
    let open = Look {
        number: 3,
        horizon: Horizon::Open,
        nested: false,
    };
    let (_, seq) = judge_look(&t, &window(&t, &baseline, &canary, 1), &spec(false), &open);
    assert_eq!(seq.of, None);
    assert!((seq.level - 0.05 / 12.0).abs() < 1e-15);
    if seq.decision == Decision::Continue {
        if let Some(e) = seq.evidence.filter(|e| *e > 0.0) {
            // θ√j against the open boundaries: a positive drift always gets there.
            assert!(
                seq.looks_to_decision.is_some(),
                "evidence {e}: {}",
                seq.reason
            );
        }
    } else {
        assert_eq!(seq.decision, Decision::Fail);
    }
}

/// A caller may plan thousands of intervals: beyond MAX_EXACT_LOOKS a nested look is held to
/// its Bonferroni level (no numerical integration that grows as K²), and says so.
#[test]
fn many_planned_looks_fall_back_to_bonferroni() {
    use canaryd::judge::sequential::{judge_look, Horizon, Look, SequentialSpec, MAX_EXACT_LOOKS};
    use canaryd::stats::sequential::bonferroni_levels;
    let template = template(&["{test: mann-whitney, direction: increase}"]);
    let b = series(1, 2 * PER_LOOK, 100.0, 5.0);
    let c = series(2, 2 * PER_LOOK, 100.0, 5.0);
    let obs = window(&template, &b, &c, 2);
    let n = 10_000;
    let spec = SequentialSpec {
        alpha: 0.05,
        pass_early: false,
        spending: Spending::Pocock,
    };
    let look = Look {
        number: 2,
        horizon: Horizon::Looks(n),
        nested: true,
    };
    let (_, s) = judge_look(&template, &obs, &spec, &look);
    assert!(s.method.contains("Bonferroni"), "{}", s.method);
    assert!(
        s.method.contains(&MAX_EXACT_LOOKS.to_string()),
        "{}",
        s.method
    );
    let fractions: Vec<f64> = (1..=n).map(|j| j as f64 / n as f64).collect();
    let want = bonferroni_levels(Spending::Pocock, 0.05, &fractions)[1];
    assert!(
        (s.level - want).abs() <= 1e-9 * want,
        "{} vs {want}",
        s.level
    );
}
