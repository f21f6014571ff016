//! `test: kayenta`: Kayenta's NetflixACAJudge-v1.0 classifier, rule for rule (its
//! `MannWhitneyClassifier`), each rule a deterministic case with the expected classification
//! and critical flag; and its template keys, defaults and errors.

use canaryd::judge::{classify_metric, Classification, KayentaCheck, MetricReport, TestReport};
use canaryd::source::Observation;
use canaryd::template::{
    parse_template, Diagnostic, EffectSize, JudgeKind, KayentaSpec, MetricSpec, TemplateError,
    Tolerance,
};

/// The metric of a one-metric template whose judge is `{test: kayenta, <keys>}`.
fn metric(keys: &str) -> MetricSpec {
    let sep = if keys.is_empty() { "" } else { ", " };
    let text = format!(
        "name: t\nmetrics:\n  - name: m\n    query: 'q{{v=\"${{scope}}\"}}'\n    judge: {{ test: kayenta{sep}{keys} }}\n"
    );
    match parse_template(&text, "t.yaml") {
        Ok(t) => t.metrics.into_iter().next().expect("one metric"),
        Err(e) => panic!("{e}"),
    }
}

fn kayenta_spec(keys: &str) -> KayentaSpec {
    match metric(keys).judge.kind {
        JudgeKind::Kayenta(k) => k,
        other => panic!("not a kayenta judge: {other:?}"),
    }
}

fn classify(m: &MetricSpec, baseline: &[f64], canary: &[f64]) -> MetricReport {
    let some = |v: &[f64]| v.iter().copied().map(Some).collect();
    classify_metric(
        m,
        Some(&Observation::from_values(some(baseline), some(canary))),
    )
}

/// `n` evenly spread values around `center`, half-width `width`, in a scrambled order.
fn spread(center: f64, width: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| center + width * ((((i * 37) % n) as f64) / (n - 1) as f64 * 2.0 - 1.0))
        .collect()
}

/// The interval, estimate and Kayenta's numbers of a report.
fn numbers(m: &MetricReport) -> (f64, [f64; 2], &str, &KayentaCheck) {
    match &m.test {
        Some(TestReport::MannWhitney {
            estimate,
            ci,
            method,
            kayenta: Some(k),
            ..
        }) => (*estimate, *ci, method.as_str(), k),
        other => panic!("no Kayenta numbers: {other:?} ({})", m.reason),
    }
}

fn expect(m: &MetricReport, class: Classification, critical: bool) {
    assert_eq!(m.classification, class, "{}", m.reason);
    assert_eq!(m.critical, critical, "{}", m.reason);
}

#[test]
fn high_when_the_interval_clears_the_band_and_the_mean_ratio_reaches_allowed_increase() {
    let m = classify(
        &metric(""),
        &spread(100.0, 10.0, 60),
        &spread(130.0, 10.0, 60),
    );
    expect(&m, Classification::High, false);
    let (estimate, ci, method, k) = numbers(&m);
    // Kayenta's interval: the asymptotic one at 0.98.
    assert_eq!(method, "normal");
    assert!((estimate - 30.0).abs() < 1.0, "{estimate}");
    assert!(ci[0] > k.band[1], "{ci:?} {:?}", k.band);
    assert_eq!(k.band[1], 0.25 * estimate.abs());
    assert_eq!(k.band[0], -k.band[1]);
    assert_eq!(k.effect_size, "mean-ratio");
    assert!((k.effect.unwrap_or(0.0) - 1.3).abs() < 1e-9);
    assert!(m.reason.contains("tolerance band"), "{}", m.reason);
    assert!(m.reason.contains("98% interval"), "{}", m.reason);
    assert!(m.reason.contains("allowed_increase 1x"), "{}", m.reason);
}

#[test]
fn low_symmetrically() {
    let m = classify(
        &metric(""),
        &spread(100.0, 10.0, 60),
        &spread(70.0, 10.0, 60),
    );
    expect(&m, Classification::Low, false);
    let (_, ci, _, k) = numbers(&m);
    assert!(ci[1] < k.band[0], "{ci:?} {:?}", k.band);
    assert!(
        m.reason.contains("below the tolerance band"),
        "{}",
        m.reason
    );
}

#[test]
fn a_significant_shift_inside_the_tolerance_band_passes() {
    // The interval excludes 0 (so `mann-whitney` would call it high) but its lower end does
    // not clear 0.25 x |estimate|.
    let (b, c) = (spread(100.0, 10.0, 60), spread(103.0, 10.0, 60));
    let m = classify(&metric(""), &b, &c);
    expect(&m, Classification::Pass, false);
    let (_, ci, _, k) = numbers(&m);
    assert!(ci[0] > 0.0 && ci[0] <= k.band[1], "{ci:?} {:?}", k.band);
    assert!(
        m.reason.contains("reaches into the tolerance band"),
        "{}",
        m.reason
    );
    // With no band (tolerance 0) the same interval is high.
    let m = classify(&metric("tolerance: 0"), &b, &c);
    expect(&m, Classification::High, false);
}

#[test]
fn an_effect_size_below_allowed_increase_passes() {
    let m = classify(
        &metric("allowed_increase: 1.5"),
        &spread(100.0, 10.0, 60),
        &spread(130.0, 10.0, 60),
    );
    expect(&m, Classification::Pass, false);
    assert!(
        m.reason
            .contains("mean ratio 1.3x is below allowed_increase 1.5x"),
        "{}",
        m.reason
    );
    let m = classify(
        &metric("allowed_decrease: 0.5"),
        &spread(100.0, 10.0, 60),
        &spread(70.0, 10.0, 60),
    );
    expect(&m, Classification::Pass, false);
    assert!(
        m.reason.contains("above allowed_decrease 0.5x"),
        "{}",
        m.reason
    );
}

#[test]
fn a_nan_effect_size_does_not_block() {
    // Baseline mean exactly 0: Kayenta's mean ratio is NaN, and the interval alone decides,
    // however large allowed_increase is.
    let baseline: Vec<f64> = (0..60)
        .map(|i| if i % 2 == 0 { -1.0 } else { 1.0 })
        .collect();
    let canary: Vec<f64> = (0..60)
        .map(|i| if i % 2 == 0 { 4.0 } else { 6.0 })
        .collect();
    let m = classify(&metric("allowed_increase: 100"), &baseline, &canary);
    expect(&m, Classification::High, false);
    let (_, _, _, k) = numbers(&m);
    assert_eq!(k.effect, None);
    assert!(m.reason.contains("unknown (a mean is 0)"), "{}", m.reason);
    // A canary mean of 0 makes it NaN too (Kayenta's meanRatio), whatever allowed_decrease.
    let m = classify(&metric("allowed_decrease: 0.01"), &canary, &baseline);
    expect(&m, Classification::Low, false);
    assert_eq!(numbers(&m).3.effect, None);
    // Critical, with the effect size unknown: a critical failure (NaN does not block).
    let m = classify(
        &metric("critical: true, critical_increase: 100"),
        &baseline,
        &canary,
    );
    expect(&m, Classification::High, true);
}

#[test]
fn a_critical_metric_fails_critically_only_past_the_critical_threshold() {
    let keys = "critical: true, allowed_increase: 1.1, critical_increase: 1.5, \
                allowed_decrease: 0.9, critical_decrease: 0.5";
    let base = spread(100.0, 10.0, 60);
    // High, but the mean ratio 1.3 is below critical_increase 1.5: high, not critical.
    let m = classify(&metric(keys), &base, &spread(130.0, 10.0, 60));
    expect(&m, Classification::High, false);
    assert!(
        m.reason
            .contains("not a critical failure: mean ratio 1.3x is below critical_increase 1.5x"),
        "{}",
        m.reason
    );
    // 1.6 reaches it: a critical failure.
    let m = classify(&metric(keys), &base, &spread(160.0, 10.0, 60));
    expect(&m, Classification::High, true);
    assert!(m.reason.ends_with("[critical metric]"), "{}", m.reason);
    // Low: 0.7 is above critical_decrease 0.5, not critical; 0.4 is.
    let m = classify(&metric(keys), &base, &spread(70.0, 10.0, 60));
    expect(&m, Classification::Low, false);
    let m = classify(&metric(keys), &base, &spread(40.0, 10.0, 60));
    expect(&m, Classification::Low, true);
    // The defaults (1.0): every high of a critical metric is critical.
    let m = classify(&metric("critical: true"), &base, &spread(130.0, 10.0, 60));
    expect(&m, Classification::High, true);
}

#[test]
fn the_critical_flag_decides_the_score() {
    use canaryd::judge::judge;
    let text = "name: t\nmetrics:\n  - name: a\n    query: 'q{v=\"${scope}\"}'\n    judge: { test: kayenta, critical: true, critical_increase: 1.5 }\n  - name: b\n    query: 'r{v=\"${scope}\"}'\n    judge: { test: kayenta }\n";
    let template = parse_template(text, "t.yaml").expect("template");
    let obs = |c: f64| {
        let some = |v: Vec<f64>| v.into_iter().map(Some).collect();
        Observation::from_values(some(spread(100.0, 10.0, 60)), some(spread(c, 10.0, 60)))
    };
    let set = |c: f64| {
        [("a".to_string(), obs(c)), ("b".to_string(), obs(100.0))]
            .into_iter()
            .collect()
    };
    // a is high below its critical threshold: its group scores 0, the whole 50.
    let r = judge(&template, &set(130.0));
    assert_eq!(r.score, 50.0, "{}", r.reason);
    // past it: a critical failure, score 0.
    let r = judge(&template, &set(160.0));
    assert_eq!(r.score, 0.0, "{}", r.reason);
}

#[test]
fn cles_effect_size() {
    let base = spread(100.0, 10.0, 60);
    let can = spread(130.0, 10.0, 60);
    let m = classify(&metric("effect_size: cles"), &base, &can);
    expect(&m, Classification::High, false);
    let (_, _, _, k) = numbers(&m);
    assert_eq!(k.effect_size, "cles");
    // Every canary value above every baseline value but the overlap of [90,110] and [120,140]:
    // none, so cles is 1.
    assert_eq!(k.effect, Some(1.0));
    assert_eq!(k.allowed, [0.5, 0.5]);
    assert_eq!(k.critical, [0.5, 0.5]);
    // cles of an overlapping shift: Vargha-Delaney's A, ties counting half.
    let base: Vec<f64> = (0..60).map(f64::from).collect();
    let can: Vec<f64> = (0..60).map(|i| f64::from(i) + 20.0).collect();
    let pairs_higher: f64 = can
        .iter()
        .map(|c| {
            base.iter()
                .map(|b| {
                    if c > b {
                        1.0
                    } else if c == b {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    let a = pairs_higher / 3600.0;
    let m = classify(&metric("effect_size: cles"), &base, &can);
    let (_, _, _, k) = numbers(&m);
    assert!(
        (k.effect.unwrap_or(0.0) - a).abs() < 1e-12,
        "{:?} {a}",
        k.effect
    );
    expect(&m, Classification::High, false);
    // The same shift with allowed_increase above its cles passes.
    let m = classify(
        &metric("effect_size: cles, allowed_increase: 0.9"),
        &base,
        &can,
    );
    expect(&m, Classification::Pass, false);
    assert!(m.reason.contains("cles"), "{}", m.reason);
}

#[test]
fn both_sides_constant_are_judged_by_the_difference_without_noise() {
    // Kayenta adds Gaussian noise here; the shift is known exactly instead.
    let m = classify(&metric(""), &[5.0; 20], &[7.0; 20]);
    expect(&m, Classification::High, false);
    let (estimate, ci, _, _) = numbers(&m);
    assert_eq!((estimate, ci), (2.0, [2.0, 2.0]));
    let m = classify(&metric(""), &[7.0; 20], &[5.0; 20]);
    expect(&m, Classification::Low, false);
    let m = classify(&metric("direction: increase"), &[7.0; 20], &[5.0; 20]);
    expect(&m, Classification::Pass, false);
    // A baseline of zeros: the mean ratio is NaN and does not block.
    let m = classify(&metric("critical: true"), &[0.0; 20], &[3.0; 20]);
    expect(&m, Classification::High, true);
    // With cles the canary is above in every pair.
    let m = classify(&metric("effect_size: cles"), &[5.0; 20], &[7.0; 20]);
    assert_eq!(numbers(&m).3.effect, Some(1.0));
    expect(&m, Classification::High, false);
    // Identical, and one value over both sides: pass.
    let m = classify(&metric("critical: true"), &[5.0; 20], &[5.0; 10]);
    expect(&m, Classification::Pass, false);
    let m = classify(&metric(""), &[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]);
    expect(&m, Classification::Pass, false);
    assert!(m.reason.contains("identical"), "{}", m.reason);
}

#[test]
fn an_empty_side_passes_with_nan_replace_and_has_no_data_with_remove() {
    let obs = Observation::from_values(vec![None, None], vec![Some(1.0), Some(2.0)]);
    // remove (the default): no data; a critical metric's no data is a critical failure.
    let m = classify_metric(&metric(""), Some(&obs));
    expect(&m, Classification::Nodata, false);
    let m = classify_metric(&metric("critical: true"), Some(&obs));
    expect(&m, Classification::Nodata, true);
    let m = classify_metric(&metric("must_have_data: true"), Some(&obs));
    expect(&m, Classification::NodataFail, false);
    // replace: the NaNs count as 0, so only a side with no points at all is empty, and that
    // passes, critical or not (Kayenta).
    let empty = Observation::from_values(vec![], vec![Some(1.0), Some(2.0)]);
    let m = classify_metric(&metric("nan: replace, critical: true"), Some(&empty));
    expect(&m, Classification::Pass, false);
    assert!(m.reason.contains("nan: replace"), "{}", m.reason);
    let m = classify_metric(&metric("nan: replace, must_have_data: true"), None);
    expect(&m, Classification::Pass, false);
    // The NaNs replaced by 0 are judged: a baseline of 0s against 1, 2 is high.
    let m = classify_metric(&metric("nan: replace"), Some(&obs));
    expect(&m, Classification::High, false);
}

#[test]
fn direction_decides_which_change_is_bad() {
    let base = spread(100.0, 10.0, 60);
    let (up, down) = (spread(130.0, 10.0, 60), spread(70.0, 10.0, 60));
    for (direction, up_class, down_class) in [
        ("either", Classification::High, Classification::Low),
        ("increase", Classification::High, Classification::Pass),
        ("decrease", Classification::Pass, Classification::Low),
    ] {
        let m = metric(&format!("direction: {direction}, critical: true"));
        let u = classify(&m, &base, &up);
        expect(&u, up_class, up_class != Classification::Pass);
        let d = classify(&m, &base, &down);
        expect(&d, down_class, down_class != Classification::Pass);
    }
    let m = classify(&metric("direction: increase"), &base, &down);
    assert!(m.reason.contains("only an increase is bad"), "{}", m.reason);
}

#[test]
fn small_samples_without_ties_report_r_exact_numbers_when_they_agree() {
    let m = classify(
        &metric(""),
        &spread(100.0, 10.0, 12),
        &spread(140.0, 10.0, 12),
    );
    expect(&m, Classification::High, false);
    assert_eq!(numbers(&m).2, "exact");
    let m = classify(
        &metric(""),
        &spread(100.0, 10.0, 12),
        &spread(101.0, 10.0, 12),
    );
    expect(&m, Classification::Pass, false);
}

#[test]
fn outliers_are_removed_by_kayentas_iqr_fences() {
    // One wild canary point among 60: with outliers removed (factor 3) the canary is the
    // baseline's twin.
    let base = spread(100.0, 10.0, 60);
    let mut can = spread(100.0, 10.0, 60);
    can[7] = 1e6;
    let m = classify(
        &metric("outliers: { remove: true, factor: 3 }"),
        &base,
        &can,
    );
    expect(&m, Classification::Pass, false);
    assert_eq!(m.dropped.canary_outliers, 1);
}

// ----- keys -----

#[test]
fn the_keys_have_kayentas_defaults() {
    let k = kayenta_spec("");
    assert_eq!(
        k,
        KayentaSpec {
            tolerance: Tolerance {
                confidence: 0.98,
                allowed_increase: 1.0,
                allowed_decrease: 1.0,
            },
            band: 0.25,
            critical_increase: 1.0,
            critical_decrease: 1.0,
            effect_size: EffectSize::MeanRatio,
        }
    );
    assert_eq!(k, KayentaSpec::default());
    // With cles every effect-size threshold defaults to 0.5, as in Kayenta's judge.
    let k = kayenta_spec("effect_size: cles");
    assert_eq!(k.tolerance.allowed_increase, 0.5);
    assert_eq!(k.tolerance.allowed_decrease, 0.5);
    assert_eq!((k.critical_increase, k.critical_decrease), (0.5, 0.5));
    assert_eq!(k.tolerance.confidence, 0.98);
    // Written values win.
    let k = kayenta_spec(
        "tolerance: 0.1, confidence: 0.9, allowed_increase: 1.2, allowed_decrease: 0.8, \
         critical_increase: 2, critical_decrease: 0.5, effect_size: mean-ratio",
    );
    assert_eq!(k.band, 0.1);
    assert_eq!(k.tolerance.confidence, 0.9);
    assert_eq!(
        (k.tolerance.allowed_increase, k.tolerance.allowed_decrease),
        (1.2, 0.8)
    );
    assert_eq!((k.critical_increase, k.critical_decrease), (2.0, 0.5));
    // Other tests keep their own default confidence.
    let text = "name: t\nmetrics:\n  - name: m\n    query: 'q{v=\"${scope}\"}'\n";
    let t = parse_template(text, "t.yaml").expect("template");
    assert_eq!(
        t.metrics[0].judge.tolerance().map(|t| t.confidence),
        Some(0.95)
    );
    // The report's flat judge form carries the kayenta keys.
    let json = serde_json::to_value(&metric("effect_size: cles").judge).expect("json");
    assert_eq!(json["test"], "kayenta");
    assert_eq!(json["tolerance"], 0.25);
    assert_eq!(json["effect_size"], "cles");
    assert_eq!(json["critical_increase"], 0.5);
}

fn problems(judge: &str) -> Vec<Diagnostic> {
    let text = format!(
        "name: t\nmetrics:\n  - name: m\n    query: 'q{{v=\"${{scope}}\"}}'\n    judge: {judge}\n"
    );
    match parse_template(&text, "t.yaml") {
        Err(TemplateError::Invalid(found)) => found,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn wrong_values_are_errors_with_line_and_column() {
    let found = problems(
        "{ test: kayenta, tolerance: 1.5, effect_size: ratio, critical_increase: 0, confidence: 1 }",
    );
    let lines: Vec<String> = found.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[3].starts_with("t.yaml:5:99: metrics[0].judge.confidence: confidence must be"),
        "{lines:#?}"
    );
    let find = |field: &str| {
        found
            .iter()
            .find(|d| d.field == format!("metrics[0].judge.{field}"))
            .unwrap_or_else(|| panic!("no problem at {field}: {found:#?}"))
    };
    let t = find("tolerance");
    assert_eq!((t.line, t.column), (5, 40));
    assert!(t.message.contains("found 1.5"), "{}", t.message);
    let e = find("effect_size");
    assert_eq!((e.line, e.column), (5, 58));
    assert!(
        e.message.contains("allowed values: mean-ratio, cles"),
        "{}",
        e.message
    );
    let c = find("critical_increase");
    assert_eq!((c.line, c.column), (5, 84));
    assert!(c.message.contains("above 0"), "{}", c.message);

    // With cles a threshold is a probability.
    let found = problems("{ test: kayenta, effect_size: cles, allowed_increase: 1.2 }");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, "metrics[0].judge.allowed_increase");
    assert_eq!((found[0].line, found[0].column), (5, 66));
    assert!(
        found[0].message.contains("at most 1"),
        "{}",
        found[0].message
    );

    // The kayenta keys only apply to a kayenta judge.
    let found = problems("{ test: mann-whitney, tolerance: 0.1, effect_size: cles }");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|d| d.message.contains("only applies to a kayenta judge")),
        "{found:#?}"
    );
    // And the test name is known.
    let found = problems("{ test: kayentaa }");
    assert!(found[0].message.contains("kayenta"), "{found:#?}");
}

/// Kayenta's `ScoringHelper` drops muted results (`filter(!_.isMuted)`) before its
/// `WeightedSumScorer`: a muted metric is judged and reported, but is in no group score, is
/// never a critical failure of the judgment and does not count toward the no-data rule,
/// whatever it is classified.
#[test]
fn a_muted_metric_is_judged_and_left_out_of_the_score() {
    use canaryd::judge::{judge, Verdict};
    let text = "name: t\nmetrics:\n  - name: a\n    group: g\n    query: 'q{v=\"${scope}\"}'\n    judge: { test: kayenta, critical: true, muted: true }\n  - name: b\n    group: g\n    query: 'r{v=\"${scope}\"}'\n    judge: { test: kayenta }\n";
    let template = parse_template(text, "t.yaml").expect("template");
    assert!(template.metrics[0].judge.muted && !template.metrics[1].judge.muted);
    let obs = |c: f64| {
        let some = |v: Vec<f64>| v.into_iter().map(Some).collect();
        Observation::from_values(some(spread(100.0, 10.0, 60)), some(spread(c, 10.0, 60)))
    };
    let b_passes = ("b".to_string(), obs(100.0));
    // No data for the muted metric: 1 of 2 metrics without data would make the score 0 (the
    // no-data rule, with the default `on_nodata: fail`); muted, it is left out: 100.
    let r = judge(&template, &[b_passes.clone()].into_iter().collect());
    assert_eq!(r.metrics[0].classification, Classification::Nodata);
    assert!(r.metrics[0].muted);
    assert_eq!((r.score, r.verdict), (100.0, Verdict::Pass), "{}", r.reason);
    // A critical muted metric far past its critical threshold: high and critical in its own
    // result, as Kayenta reports it, and still no critical failure of the judgment.
    let r = judge(
        &template,
        &[("a".to_string(), obs(200.0)), b_passes.clone()]
            .into_iter()
            .collect(),
    );
    expect(&r.metrics[0], Classification::High, true);
    assert_eq!((r.score, r.verdict), (100.0, Verdict::Pass), "{}", r.reason);
    assert!(
        r.reason.contains("Muted, not scored: a (high)"),
        "{}",
        r.reason
    );
    assert_eq!(r.groups.len(), 1);
    assert_eq!((r.groups[0].name.as_str(), r.groups[0].score), ("g", 100.0));
    assert!(!r.headline.contains(" a "), "{}", r.headline);
    // The same without `muted`: the critical failure forces 0.
    let unmuted = parse_template(&text.replace(", muted: true", ""), "t.yaml").unwrap();
    let r = judge(
        &unmuted,
        &[("a".to_string(), obs(200.0)), b_passes.clone()]
            .into_iter()
            .collect(),
    );
    assert_eq!(r.score, 0.0, "{}", r.reason);
    // must_have_data on a muted metric without data: nodata_fail in its result, not scored.
    let must = parse_template(
        &text.replace(
            "critical: true, muted: true",
            "must_have_data: true, muted: true",
        ),
        "t.yaml",
    )
    .unwrap();
    let r = judge(&must, &[b_passes].into_iter().collect());
    assert_eq!(r.metrics[0].classification, Classification::NodataFail);
    assert_eq!(r.score, 100.0, "{}", r.reason);
}

/// A group whose metrics are all muted has no result in Kayenta (`calculateGroupScores` runs
/// over the results left), so it adds nothing and its weight is not shared out: with weights
/// 50/50 and the only metric of one group muted, the best score is 50.
#[test]
fn a_group_of_muted_metrics_adds_nothing() {
    use canaryd::judge::judge;
    let text = "name: t\ngroups: { g1: 50, g2: 50 }\nmetrics:\n  - name: a\n    group: g1\n    query: 'q{v=\"${scope}\"}'\n    judge: { test: kayenta, muted: true }\n  - name: b\n    group: g2\n    query: 'r{v=\"${scope}\"}'\n    judge: { test: kayenta }\n";
    let template = parse_template(text, "t.yaml").expect("template");
    let same = || {
        let some = |v: Vec<f64>| v.into_iter().map(Some).collect();
        Observation::from_values(some(spread(100.0, 10.0, 30)), some(spread(100.0, 10.0, 30)))
    };
    let r = judge(
        &template,
        &[("a".to_string(), same()), ("b".to_string(), same())]
            .into_iter()
            .collect(),
    );
    assert_eq!(r.score, 50.0, "{}", r.reason);
    let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["g2"]);
}

/// Kayenta's interval, by its own formula (kayenta-mannwhitney's `MannWhitney.scala`,
/// `wilcoxonDiff` and `calculateConfidenceInterval`): the normal approximation of the rank sum
/// with continuity correction, each end the root of `(dz - sign(dz)/2) / sigma - z` over the
/// shift (found here by bisection of that monotone step function, where Kayenta uses Brent).
/// No ties in the samples this is used on, so `sigma` has no tie term.
fn kayenta_asymptotic_interval(canary: &[f64], baseline: &[f64], confidence: f64) -> [f64; 2] {
    let (n, m) = (canary.len() as f64, baseline.len() as f64);
    let diff = |mu: f64, z: f64| {
        // Rank sum of the shifted canary among both samples (no ties: ranks are positions).
        let shifted: Vec<f64> = canary.iter().map(|x| x - mu).collect();
        let rank_sum: f64 = shifted
            .iter()
            .map(|&v| {
                let below = shifted.iter().chain(baseline).filter(|&&w| w < v).count();
                let equal = shifted.iter().chain(baseline).filter(|&&w| w == v).count();
                below as f64 + (equal as f64 + 1.0) / 2.0
            })
            .sum();
        let dz = rank_sum - n * (n + 1.0) / 2.0 - n * m / 2.0;
        let correction = dz.signum() * 0.5 * f64::from(u8::from(dz != 0.0));
        let sigma = (n * m / 12.0 * (n + m + 1.0)).sqrt();
        (dz - correction) / sigma - z
    };
    let lo = canary.iter().cloned().fold(f64::INFINITY, f64::min)
        - baseline.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let hi = canary.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - baseline.iter().cloned().fold(f64::INFINITY, f64::min);
    let root = |z: f64| {
        let (mut a, mut b) = (lo, hi);
        if diff(a, z) <= 0.0 {
            return a;
        }
        if diff(b, z) >= 0.0 {
            return b;
        }
        for _ in 0..200 {
            let mid = (a + b) / 2.0;
            if diff(mid, z) > 0.0 {
                a = mid;
            } else {
                b = mid;
            }
        }
        (a + b) / 2.0
    };
    // qnorm(1 - alpha/2) for the confidence 0.98 of `test: kayenta`.
    assert_eq!(confidence, 0.98);
    let z = 2.326_347_874_040_841;
    [root(z), root(-z)]
}

/// Where R-exact and Kayenta's asymptotic interval classify differently (small samples, no
/// ties). R's default, the exact interval of `wilcox.test(canary, baseline, conf.int = TRUE,
/// conf.level = 0.98)`, is [6, 36] with estimate 23: its lower end 6 clears the tolerance band
/// 0.25 x 23 = 5.75, and the mean ratio is 1.91, so it would say high. Kayenta's asymptotic
/// interval (R's `exact = FALSE, correct = TRUE`: [1.000003, 37.99999], estimate 23) starts at 1,
/// inside the band: Kayenta says pass. `test: kayenta` gives Kayenta's verdict, pass, with the
/// asymptotic numbers (`method: normal`), and its reason names the exact interval that would
/// have said otherwise.
#[test]
fn small_samples_exact_and_kayentas_asymptotic_interval_can_disagree() {
    let canary = [32.0, 35.0, 37.0, 45.0, 47.0, 50.0, 58.0];
    let baseline = [5.0, 14.0, 20.0, 22.0, 23.0, 26.0, 49.0];
    // Kayenta, by its formula: the interval starts at 1, inside 0.25 x 23.
    let k = kayenta_asymptotic_interval(&canary, &baseline, 0.98);
    assert!(
        (k[0] - 1.0).abs() < 1e-6 && (k[1] - 38.0).abs() < 1e-6,
        "{k:?}"
    );
    assert!(k[0] <= 0.25 * 23.0);
    let m = classify(&metric(""), &baseline, &canary);
    let (estimate, ci, method, _) = numbers(&m);
    expect(&m, Classification::Pass, false);
    assert_eq!(method, "normal", "{}", m.reason);
    assert!((estimate - 23.0).abs() < 1e-3, "{estimate}");
    assert!(
        (ci[0] - k[0]).abs() < 1e-3 && (ci[1] - k[1]).abs() < 1e-3,
        "{ci:?}"
    );
    assert!(
        m.reason.contains("Kayenta's asymptotic interval decides") && m.reason.contains("[6, 36]"),
        "{}",
        m.reason
    );
}
