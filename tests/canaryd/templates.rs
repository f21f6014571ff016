//! Analysis templates: the shipped files, the contract example, one test per validation rule
//! (line, column, field and message), odd YAML, substitution and argument resolution.

use std::collections::BTreeMap;
use std::path::PathBuf;

use canaryd::template::{
    check_files, parse_template, render_query, resolve_args, Diagnostic, Direction, NanStrategy,
    Template, TemplateError, TestKind,
};

/// The problems of `text`; fails the test when it parses.
fn problems(text: &str) -> Vec<Diagnostic> {
    match parse_template(text, "t.yaml") {
        Err(TemplateError::Invalid(found)) => found,
        Ok(template) => panic!("expected problems, parsed {template:?}"),
        Err(other) => panic!("expected Invalid, got {other}"),
    }
}

/// The one problem of `text`, checked: line, column, field and a phrase of the message.
fn only_problem(text: &str, line: usize, column: usize, field: &str, phrase: &str) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    assert_problem(&found[0], line, column, field, phrase);
}

fn assert_problem(d: &Diagnostic, line: usize, column: usize, field: &str, phrase: &str) {
    assert_eq!(d.file, "t.yaml");
    assert_eq!(
        (d.line, d.column, d.field.as_str()),
        (line, column, field),
        "{d}"
    );
    assert!(
        d.message.contains(phrase),
        "message {:?} lacks {phrase:?}",
        d.message
    );
}

fn parse_ok(text: &str) -> Template {
    match parse_template(text, "t.yaml") {
        Ok(template) => template,
        Err(error) => panic!("expected a template, got:\n{error}"),
    }
}

/// A valid template to vary: line 3 is the metric's name, line 4 its query.
const BASE: &str = "name: t\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n";

/// `BASE` with `judge` lines added to its metric.
fn with_judge(judge: &str) -> String {
    format!("{BASE}    judge:\n{judge}")
}

fn templates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("analysis-templates")
}

// ----- shipped templates and the contract -----

#[test]
fn every_shipped_template_is_valid() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(templates_dir())
        .expect("analysis-templates/ exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{paths:?}");
    let found = check_files(&paths);
    assert!(
        found.is_empty(),
        "{}",
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for path in &paths {
        let template = canaryd::template::load_template(path).expect("valid");
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        assert_eq!(template.name, stem, "a template is named after its file");
        // Every query renders with the defaults plus the required args.
        let given: BTreeMap<String, String> = template
            .args
            .iter()
            .filter(|(_, spec)| spec.default.is_none())
            .map(|(name, _)| (name.clone(), format!("my-{name}")))
            .collect();
        let args = resolve_args(&template, &given).expect("args resolve");
        for metric in &template.metrics {
            let query = render_query(&metric.query, "v2", &args, &|v: &str| v.to_string())
                .expect("renders");
            assert!(!query.contains("${"), "{query}");
        }
    }
}

#[test]
fn shipped_templates_judge_what_they_say() {
    let http = canaryd::template::load_template(&templates_dir().join("http-golden-signals.yaml"))
        .expect("valid");
    let names: Vec<&str> = http.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["p99_latency", "p50_latency", "error_ratio", "request_rate"]
    );
    let errors = &http.metrics[2].judge;
    assert_eq!(errors.test(), TestKind::Threshold);
    assert!(errors.critical);
    let bounds = errors.threshold().unwrap();
    assert!(bounds.max.is_some() && bounds.max_increase_ratio.is_some());
    assert_eq!(http.metrics[0].judge.direction, Direction::Increase);
    // Latency: auto (location, p90 and spread); error counts: counts.
    assert_eq!(http.metrics[0].judge.test(), TestKind::Auto);
    assert_eq!(http.metrics[1].judge.test(), TestKind::Auto);
    let grpc =
        canaryd::template::load_template(&templates_dir().join("grpc-worker.yaml")).expect("valid");
    let failures = grpc
        .metrics
        .iter()
        .find(|m| m.name == "grpc_server_failures")
        .expect("a failure-count metric");
    assert_eq!(failures.judge.test(), TestKind::Counts);
    assert_eq!(http.metrics[3].judge.direction, Direction::Decrease);
    assert!(http.metrics[0]
        .query
        .contains("http_request_duration_seconds_bucket"));
}

const CONTRACT_EXAMPLE: &str = r#"name: http-golden-signals            # [A-Za-z0-9_-]+
description: Latency and errors of an HTTP service, canary against baseline.
source: prometheus                   # a source named in the config; default "prometheus"
args: { service: {}, namespace: { default: default } }   # ${service} ... in queries
step_seconds: 30
scoring: { pass: 95, marginal: 75 }  # (the default) score >= pass -> pass; >= marginal -> marginal; else fail
groups: { latency: 60, errors: 40 }  # weights; groups not listed share what is left of 100
metrics:
  - name: p99_latency                # unique within the template
    group: latency                   # optional; a metric without one is its own group
    query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="${service}",version="${scope}"}[1m])))
    judge:
      test: mann-whitney             # mann-whitney | threshold | quantile | scale | counts | auto
      direction: increase            # which change is bad: increase | decrease | either (default either)
      confidence: 0.95               # confidence level of the interval (default 0.95)
      allowed_increase: 1.0          # mean ratio canary/baseline tolerated upward (default 1.0)
      allowed_decrease: 1.0          # mean ratio tolerated downward (default 1.0)
      critical: false                # a critical metric that is not pass forces score 0
      must_have_data: false          # missing data counts as a failure instead of "nodata"
      nan: remove                    # remove | replace (NaN/null -> 0)
      outliers: { remove: false, factor: 3.0 }   # IQR fences, R-7 percentiles
  - name: error_ratio
    group: errors
    query: sum(rate(http_requests_total{code=~"5..",version="${scope}"}[1m])) / sum(rate(http_requests_total{version="${scope}"}[1m]))
    judge: { test: threshold, max: 0.01, max_increase_ratio: 1.5, critical: true }
"#;

#[test]
fn the_contract_example_parses_to_its_values() {
    let t = parse_ok(CONTRACT_EXAMPLE);
    assert_eq!(t.name, "http-golden-signals");
    assert_eq!(
        t.description,
        "Latency and errors of an HTTP service, canary against baseline."
    );
    assert_eq!(t.source, "prometheus");
    assert_eq!(t.step_seconds, 30);
    assert_eq!((t.scoring.pass, t.scoring.marginal), (95.0, 75.0));
    assert_eq!(t.args.len(), 2);
    assert_eq!(t.args["service"].default, None);
    assert_eq!(t.args["namespace"].default.as_deref(), Some("default"));
    let groups: Vec<(&str, f64)> = t
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.weight))
        .collect();
    assert_eq!(groups, [("latency", 60.0), ("errors", 40.0)]);
    assert_eq!(t.metrics.len(), 2);

    let p99 = &t.metrics[0];
    assert_eq!(p99.name, "p99_latency");
    assert_eq!(p99.group_name(), "latency");
    assert!(p99.query.starts_with("histogram_quantile(0.99"));
    assert!(p99.query.ends_with("[1m])))"));
    assert_eq!(p99.judge.test(), TestKind::MannWhitney);
    assert_eq!(p99.judge.direction, Direction::Increase);
    let tolerance = p99.judge.tolerance().unwrap();
    assert_eq!(tolerance.confidence, 0.95);
    assert_eq!(tolerance.allowed_increase, 1.0);
    assert_eq!(tolerance.allowed_decrease, 1.0);
    assert!(!p99.judge.critical);
    assert!(!p99.judge.must_have_data);
    assert_eq!(p99.judge.nan, NanStrategy::Remove);
    assert!(!p99.judge.outliers.remove);
    assert_eq!(p99.judge.outliers.factor, 3.0);

    let errors = &t.metrics[1];
    assert_eq!(errors.judge.test(), TestKind::Threshold);
    let bounds = errors.judge.threshold().unwrap();
    assert_eq!(bounds.max, Some(0.01));
    assert_eq!(bounds.max_increase_ratio, Some(1.5));
    assert_eq!(bounds.min, None);
    assert!(errors.judge.critical);
}

#[test]
fn defaults_fill_what_is_left_out() {
    let t = parse_ok(BASE);
    assert_eq!(t.description, "");
    assert_eq!(t.source, "prometheus");
    assert_eq!(t.step_seconds, 60);
    assert_eq!((t.scoring.pass, t.scoring.marginal), (95.0, 75.0));
    assert!(t.args.is_empty() && t.groups.is_empty());
    assert_eq!(t.metrics[0].group, None);
    assert_eq!(t.metrics[0].group_name(), "m");
    assert_eq!(t.metrics[0].judge, canaryd::template::JudgeSpec::default());
}

#[test]
fn args_may_be_empty_null_or_have_scalar_defaults() {
    let t = parse_ok(
        "name: t\nargs:\n  a: {}\n  b:\n  c: { default: 5 }\n  d: { default: \"x y\" }\n\
         metrics:\n  - name: m\n    query: q{v=\"${scope}\",a=\"${a}\",b=\"${b}\"}\n",
    );
    assert_eq!(t.args["a"].default, None);
    assert_eq!(t.args["b"].default, None);
    assert_eq!(t.args["c"].default.as_deref(), Some("5"));
    assert_eq!(t.args["d"].default.as_deref(), Some("x y"));
    let t = parse_ok(&format!("args:\n{BASE}"));
    assert!(t.args.is_empty());
}

#[test]
fn tests_beyond_mann_whitney_and_threshold_are_accepted() {
    for test in ["quantile", "scale", "counts", "auto"] {
        let t = parse_ok(&with_judge(&format!("      test: {test}\n")));
        assert_eq!(t.metrics[0].judge.test().as_str(), test);
    }
}

#[test]
fn anchors_and_aliases_share_a_judge() {
    let t = parse_ok(
        "name: t\nmetrics:\n  - name: a\n    query: q{v=\"${scope}\"}\n    \
         judge: &slow { direction: increase, allowed_increase: 1.2 }\n  \
         - name: b\n    query: r{v=\"${scope}\"}\n    judge: *slow\n",
    );
    assert_eq!(
        t.metrics[1].judge.tolerance().unwrap().allowed_increase,
        1.2
    );
    assert_eq!(t.metrics[1].judge.direction, Direction::Increase);
}

// ----- YAML itself -----

#[test]
fn a_yaml_syntax_error_has_its_line_and_column() {
    let found = problems("name: t\nmetrics:\n  - name: \"m\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 3);
    assert!(
        found[0].message.contains("YAML syntax error"),
        "{}",
        found[0]
    );
    let found = problems("name: t\nmetrics: [a, b\n");
    assert_eq!(found[0].line, 3);
    assert!(found[0].field.starts_with("metrics"), "{}", found[0]);
}

#[test]
fn odd_yaml_gives_diagnostics_not_panics() {
    only_problem("", 1, 1, "(document)", "empty");
    only_problem("# only a comment\n", 1, 1, "(document)", "empty");
    only_problem("- a\n- b\n", 1, 1, "(document)", "found a list");
    only_problem("just text\n", 1, 1, "(document)", "found `just text`");
    only_problem(
        &format!("{BASE}---\nname: u\n"),
        5,
        1,
        "(document)",
        "second",
    );
    only_problem(
        &format!("{BASE}description: !custom x\n"),
        5,
        22,
        "description",
        "tag `!custom`",
    );
    only_problem("name: t\nmetrics: *nowhere\n", 2, 10, "metrics", "anchor");
    only_problem(
        &format!("{BASE}? [a, b]\n: c\n"),
        5,
        3,
        "(document)",
        "plain name",
    );
    // !!str makes a string even of a number-looking scalar, which then is not a number.
    only_problem(
        &format!("{BASE}step_seconds: !!str 30\n"),
        5,
        21,
        "step_seconds",
        "string",
    );
    for text in [
        "~",
        "---\n...\n",
        "{",
        "name: [",
        "\u{feff}name: t",
        "name: t\nmetrics:\n  - [1, 2]\n  - null\n  - 3\n",
        "name: {a: b}\nmetrics: {a: b}\nargs: [x]\ngroups: 5\nscoring: []\n",
        "&a [*a]",
    ] {
        let _ = parse_template(text, "t.yaml");
    }
}

// ----- one test per rule -----

#[test]
fn unknown_keys_are_reported_with_the_nearest_known_key() {
    only_problem(
        &format!("{BASE}descripton: x\n"),
        5,
        1,
        "descripton",
        "did you mean `description`?",
    );
    only_problem(
        &with_judge("      confidance: 0.9\n"),
        6,
        7,
        "metrics[0].judge.confidance",
        "did you mean `confidence`?",
    );
    only_problem(
        &format!("{BASE}    qurey: x\n"),
        5,
        5,
        "metrics[0].qurey",
        "did you mean `query`?",
    );
    only_problem(
        &with_judge("      outliers: { remove: true, fator: 2 }\n"),
        6,
        33,
        "metrics[0].judge.outliers.fator",
        "did you mean `factor`?",
    );
    only_problem(
        &format!("{BASE}scoring: {{ pass: 90, zebra: 1 }}\n"),
        5,
        22,
        "scoring.zebra",
        "unknown key `zebra` (known keys: pass, marginal, on_nodata)",
    );
    only_problem(
        &format!("args: {{ a: {{ defualt: x }} }}\n{BASE}"),
        1,
        14,
        "args.a.defualt",
        "did you mean `default`?",
    );
}

#[test]
fn duplicate_keys_point_at_the_second() {
    only_problem(
        &format!("{BASE}name: u\n"),
        5,
        1,
        "name",
        "duplicate key `name`; it is first given on line 1",
    );
    only_problem(
        &with_judge("      critical: true\n      critical: false\n"),
        7,
        7,
        "metrics[0].judge.critical",
        "first given on line 6",
    );
}

#[test]
fn wrong_types_are_reported() {
    only_problem(
        &with_judge("      confidence: \"0.9\"\n"),
        6,
        19,
        "metrics[0].judge.confidence",
        "expected a number, found the string",
    );
    only_problem(
        &with_judge("      confidence: high\n"),
        6,
        19,
        "metrics[0].judge.confidence",
        "expected a number, found `high`",
    );
    only_problem(
        &with_judge("      critical: yes\n"),
        6,
        17,
        "metrics[0].judge.critical",
        "expected true or false",
    );
    only_problem(
        &format!("{BASE}description: [a]\n"),
        5,
        14,
        "description",
        "expected a string, found a list",
    );
    only_problem(
        &format!("{BASE}    judge: fast\n"),
        5,
        12,
        "metrics[0].judge",
        "expected a mapping",
    );
    only_problem(
        "name: t\nmetrics: {a: 1}\n",
        2,
        10,
        "metrics",
        "expected a list of metrics",
    );
    only_problem(
        "name: t\nmetrics:\n  - just-a-name\n",
        3,
        5,
        "metrics[0]",
        "expected a metric",
    );
    only_problem(
        &format!("{BASE}groups: {{ m: lots }}\n"),
        5,
        14,
        "groups.m",
        "expected a number",
    );
    only_problem(
        &format!("args: {{ a: {{ default: [1] }} }}\n{BASE}"),
        1,
        23,
        "args.a.default",
        "expected a string or a number",
    );
}

#[test]
fn required_fields_are_reported() {
    only_problem(
        "metrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n",
        1,
        1,
        "name",
        "required field `name` is missing",
    );
    only_problem("name: t\n", 1, 1, "metrics", "required field `metrics`");
    only_problem(
        "name: t\nmetrics: []\n",
        2,
        10,
        "metrics",
        "at least one metric",
    );
    only_problem(
        "name: t\nmetrics:\n",
        2,
        1,
        "metrics",
        "at least one metric",
    );
    only_problem(
        "name: t\nmetrics:\n  - name: m\n",
        3,
        5,
        "metrics[0].query",
        "required field `query` is missing",
    );
    only_problem(
        "name: t\nmetrics:\n  - query: q{v=\"${scope}\"}\n",
        3,
        5,
        "metrics[0].name",
        "required field `name` is missing",
    );
    only_problem(
        "name: t\nmetrics:\n  - name: m\n    query: \"  \"\n",
        4,
        12,
        "metrics[0].query",
        "must not be empty",
    );
}

#[test]
fn names_are_restricted() {
    only_problem(
        "name: my template\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n",
        1,
        7,
        "name",
        "[A-Za-z0-9_-]+",
    );
    only_problem(
        "name: t\nmetrics:\n  - name: p99.latency\n    query: q{v=\"${scope}\"}\n",
        3,
        11,
        "metrics[0].name",
        "may only hold letters, digits",
    );
    only_problem(
        &format!("args: {{ my-arg: {{}} }}\n{BASE}"),
        1,
        9,
        "args.my-arg",
        "must be a letter or `_`",
    );
    only_problem(
        &format!("args: {{ scope: {{}} }}\n{BASE}"),
        1,
        9,
        "args.scope",
        "reserved",
    );
}

#[test]
fn enum_values_list_what_is_allowed() {
    only_problem(
        &with_judge("      test: mannwhitney\n"),
        6,
        13,
        "metrics[0].judge.test",
        "did you mean `mann-whitney`? (allowed values: mann-whitney, threshold, quantile, scale, \
         counts, auto, kayenta)",
    );
    only_problem(
        &with_judge("      direction: up\n"),
        6,
        18,
        "metrics[0].judge.direction",
        "allowed values: increase, decrease, either",
    );
    only_problem(
        &with_judge("      nan: zero\n"),
        6,
        12,
        "metrics[0].judge.nan",
        "allowed values: remove, replace",
    );
}

/// Two metrics in groups `a` and `b`; `groups` is added on line 8.
fn with_groups(groups: &str) -> String {
    format!(
        "name: t\nmetrics:\n  - name: m\n    group: a\n    query: q{{v=\"${{scope}}\"}}\n  \
         - name: n\n    query: q{{v=\"${{scope}}\"}}\ngroups: {groups}\n"
    )
}

#[test]
fn group_weights_are_checked() {
    // `n` is its own group, unlisted, so it takes what is left.
    let t = parse_ok(&with_groups("{ a: 70 }"));
    assert_eq!(t.groups[0].weight, 70.0);
    parse_ok(&with_groups("{ a: 70, n: 30 }"));
    parse_ok(&with_groups("{ a: 100, n: 0 }"));

    only_problem(
        &with_groups("{ a: 120 }"),
        8,
        14,
        "groups.a",
        "between 0 and 100, found 120",
    );
    only_problem(
        &with_groups("{ a: -5 }"),
        8,
        14,
        "groups.a",
        "between 0 and 100",
    );
    only_problem(
        &with_groups("{ a: 70, n: 40 }"),
        8,
        9,
        "groups",
        "add up to 110; they may add up to at most 100",
    );
    only_problem(
        &with_groups("{ a: 50, n: 40 }"),
        8,
        9,
        "groups",
        "the score could never reach 100",
    );
    only_problem(
        &with_groups("{ a: 50, b: 10 }"),
        8,
        18,
        "groups.b",
        "group `b` has a weight but no metric is in it",
    );
    only_problem(
        &with_groups("{ latncy: 10, a: 20 }"),
        8,
        11,
        "groups.latncy",
        "no metric is in it",
    );
}

#[test]
fn duplicate_metric_names_point_at_the_second() {
    only_problem(
        &format!("{BASE}  - name: m\n    query: r{{v=\"${{scope}}\"}}\n"),
        5,
        11,
        "metrics[1].name",
        "duplicate metric name `m`; the first is on line 3",
    );
}

#[test]
fn queries_need_scope_and_declared_args() {
    only_problem(
        "name: t\nmetrics:\n  - name: m\n    query: q{v=\"x\"}\n",
        4,
        12,
        "metrics[0].query",
        "no `${scope}`",
    );
    only_problem(
        "name: t\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\",s=\"${service}\"}\n",
        4,
        12,
        "metrics[0].query",
        "missing arg: `${service}`",
    );
    only_problem(
        "name: t\nargs: { service: {} }\nmetrics:\n  - name: m\n    \
         query: q{v=\"${scope}\",s=\"${servce}\"}\n",
        5,
        12,
        "metrics[0].query",
        "did you mean `${service}`?",
    );
    // A broken arg still counts as declared; other missing args are still found.
    let found = problems(
        "name: t\nargs: { svc: { default: [1] } }\nmetrics:\n  - name: m\n    \
         query: q{v=\"${scope}\",s=\"${svc}\",z=\"${zone}\"}\n",
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].field, "args.svc.default");
    assert!(found[1].message.contains("`${zone}`"), "{}", found[1]);
    // What is not `${identifier}` is literal, so it is neither missing nor an error.
    parse_ok("name: t\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"} $1 ${ x }\n");
}

#[test]
fn confidence_must_lie_strictly_between_0_and_1() {
    for bad in ["0", "1", "1.5", "-0.1", ".nan"] {
        let found = problems(&with_judge(&format!("      confidence: {bad}\n")));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].column), (6, 19));
        assert_eq!(found[0].field, "metrics[0].judge.confidence");
    }
    only_problem(
        &with_judge("      confidence: 95\n"),
        6,
        19,
        "metrics[0].judge.confidence",
        "strictly between 0 and 1",
    );
}

#[test]
fn scoring_thresholds_are_checked() {
    only_problem(
        &format!("{BASE}scoring: {{ pass: 101 }}\n"),
        5,
        18,
        "scoring.pass",
        "between 0 and 100",
    );
    only_problem(
        &format!("{BASE}scoring: {{ marginal: -1 }}\n"),
        5,
        22,
        "scoring.marginal",
        "between 0 and 100",
    );
    only_problem(
        &format!("{BASE}scoring:\n  pass: 70\n  marginal: 80\n"),
        6,
        9,
        "scoring.pass",
        "pass (70) is below marginal (80)",
    );
    // Below the default marginal of 75, with marginal left out.
    only_problem(
        &format!("{BASE}scoring: {{ pass: 50 }}\n"),
        5,
        18,
        "scoring.pass",
        "below marginal (75)",
    );
}

#[test]
fn step_seconds_is_a_positive_whole_number() {
    for (bad, phrase) in [
        ("0", "found `0`"),
        ("-30", "found `-30`"),
        ("1.5", "found `1.5`"),
        ("\"30\"", "found the string"),
        ("{}", "found a mapping"),
    ] {
        only_problem(
            &format!("{BASE}step_seconds: {bad}\n"),
            5,
            15,
            "step_seconds",
            phrase,
        );
    }
    assert_eq!(
        parse_ok(&format!("{BASE}step_seconds: 15\n")).step_seconds,
        15
    );
}

#[test]
fn allowed_ratios_must_be_above_0() {
    only_problem(
        &with_judge("      allowed_increase: 0\n"),
        6,
        25,
        "metrics[0].judge.allowed_increase",
        "must be above 0",
    );
    only_problem(
        &with_judge("      allowed_decrease: -1\n"),
        6,
        25,
        "metrics[0].judge.allowed_decrease",
        "must be above 0",
    );
}

#[test]
fn the_outlier_factor_must_be_above_0() {
    only_problem(
        &with_judge("      outliers: { remove: true, factor: 0 }\n"),
        6,
        41,
        "metrics[0].judge.outliers.factor",
        "must be above 0",
    );
    only_problem(
        &with_judge("      outliers: { remove: maybe }\n"),
        6,
        27,
        "metrics[0].judge.outliers.remove",
        "expected true or false",
    );
}

#[test]
fn min_above_max_is_reported() {
    only_problem(
        &with_judge("      test: threshold\n      min: 5\n      max: 1\n"),
        7,
        12,
        "metrics[0].judge.min",
        "min (5) is greater than max (1)",
    );
}

#[test]
fn a_threshold_judge_needs_a_bound() {
    only_problem(
        &format!("{BASE}    judge: {{ test: threshold, critical: true }}\n"),
        5,
        12,
        "metrics[0].judge",
        "needs at least one of min, max, max_increase_ratio, max_decrease_ratio",
    );
    only_problem(
        &with_judge("      test: threshold\n      max_decrease_ratio: 0\n"),
        7,
        27,
        "metrics[0].judge.max_decrease_ratio",
        "must be above 0",
    );
}

#[test]
fn keys_of_another_judge_would_have_no_effect() {
    only_problem(
        &with_judge("      direction: increase\n      max: 0.5\n"),
        7,
        7,
        "metrics[0].judge.max",
        "only applies to a threshold judge; with test mann-whitney it would have no effect",
    );
    only_problem(
        &with_judge("      test: quantile\n      max_increase_ratio: 2\n"),
        7,
        7,
        "metrics[0].judge.max_increase_ratio",
        "with test quantile it would have no effect",
    );
    only_problem(
        &format!("{BASE}    judge: {{ test: threshold, max: 1, confidence: 0.9 }}\n"),
        5,
        39,
        "metrics[0].judge.confidence",
        "does not apply to a threshold judge and would have no effect",
    );
    only_problem(
        &with_judge("      test: threshold\n      max: 1\n      allowed_increase: 1.2\n"),
        8,
        7,
        "metrics[0].judge.allowed_increase",
        "would have no effect",
    );
    // Outliers apply to every judge.
    parse_ok(&with_judge(
        "      test: threshold\n      max: 1\n      outliers: { remove: true }\n",
    ));
}

#[test]
fn quantile_belongs_to_the_quantile_judge_and_lies_in_0_1() {
    let t = parse_ok(&with_judge("      test: quantile\n      quantile: 0.99\n"));
    assert_eq!(t.metrics[0].judge.quantile(), Some(0.99));
    let t = parse_ok(&with_judge("      test: quantile\n"));
    assert_eq!(
        t.metrics[0].judge.quantile(),
        Some(0.9),
        "the default (the issue: p90)"
    );
    let t = parse_ok(&with_judge("      test: auto\n      quantile: 0.95\n"));
    assert_eq!(
        t.metrics[0].judge.quantile(),
        Some(0.95),
        "auto compares a quantile too"
    );
    only_problem(
        &with_judge("      quantile: 0.9\n"),
        6,
        7,
        "metrics[0].judge.quantile",
        "only applies to a quantile or auto judge; with test mann-whitney it would have no effect",
    );
    only_problem(
        &with_judge("      test: quantile\n      quantile: 99\n"),
        7,
        17,
        "metrics[0].judge.quantile",
        "strictly between 0 and 1",
    );
}

/// Two metrics: `errors` (line 3) with `judge` lines from line 6, then `requests` and `more`.
fn with_total(judge: &str, more: &str) -> String {
    format!(
        "name: t\nmetrics:\n  - name: errors\n    query: e{{v=\"${{scope}}\"}}\n    judge:\n\
         {judge}  - name: requests\n    query: r{{v=\"${{scope}}\"}}\n{more}"
    )
}

#[test]
fn total_names_another_metric_of_a_counts_or_auto_judge() {
    let t = parse_ok(&with_total(
        "      test: counts\n      total: requests\n",
        "",
    ));
    assert_eq!(t.metrics[0].judge.total(), Some("requests"));
    assert_eq!(t.metrics[1].judge.total(), None);
    let t = parse_ok(&with_total("      test: auto\n      total: requests\n", ""));
    assert_eq!(t.metrics[0].judge.total(), Some("requests"));
    // The total may come before the metric that uses it.
    let t = parse_ok(
        "name: t\nmetrics:\n  - name: requests\n    query: r{v=\"${scope}\"}\n  - name: errors\n    \
         query: e{v=\"${scope}\"}\n    judge: { test: counts, total: requests }\n",
    );
    assert_eq!(t.metrics[1].judge.total(), Some("requests"));
    // Outliers may be on while not removed.
    parse_ok(&with_total(
        "      test: counts\n      outliers: { remove: false, factor: 2 }\n      total: requests\n",
        "",
    ));

    only_problem(
        &with_total("      total: requests\n", ""),
        6,
        7,
        "metrics[0].judge.total",
        "`total` only applies to a counts or auto judge; with test mann-whitney it would have no \
         effect",
    );
    only_problem(
        &with_total("      test: quantile\n      total: requests\n", ""),
        7,
        7,
        "metrics[0].judge.total",
        "with test quantile it would have no effect (set `test: counts` or remove it)",
    );
    only_problem(
        &with_total("      test: counts\n      total: reqests\n", ""),
        7,
        14,
        "metrics[0].judge.total",
        "`total` names `reqests`, which is not a metric of this template; did you mean \
         `requests`? (metrics: errors, requests)",
    );
    only_problem(
        &with_total("      test: counts\n      total: latency\n", ""),
        7,
        14,
        "metrics[0].judge.total",
        "`total` names `latency`, which is not a metric of this template (metrics: errors, \
         requests)",
    );
    only_problem(
        &with_total("      test: counts\n      total: errors\n", ""),
        7,
        14,
        "metrics[0].judge.total",
        "`total` names this metric itself (`errors`); it must name another metric",
    );
    // No chains: `requests` is itself counted against `more`.
    only_problem(
        &with_total(
            "      test: counts\n      total: requests\n",
            "    judge: { test: counts, total: more }\n  - name: more\n    query: m{v=\"${scope}\"}\n",
        ),
        7,
        14,
        "metrics[0].judge.total",
        "`total` names `requests`, which has a `total` of its own; a total metric holds plain \
         totals (requests per step), so remove `total` from `requests`",
    );
    only_problem(
        &with_total(
            "      test: counts\n      outliers: { remove: true }\n      total: requests\n",
            "",
        ),
        8,
        7,
        "metrics[0].judge.total",
        "`total` cannot be used with `outliers: {remove: true}`: the counts must stay aligned step \
         for step with the totals",
    );
    only_problem(
        &with_total("      test: counts\n      total: \"\"\n", ""),
        7,
        14,
        "metrics[0].judge.total",
        "must not be empty",
    );
    only_problem(
        &with_total("      test: counts\n      total: [requests]\n", ""),
        7,
        14,
        "metrics[0].judge.total",
        "expected a string, found a list",
    );
}

#[test]
fn a_group_of_weight_0_is_accepted() {
    let t = parse_ok(&format!(
        "{}groups: {{ errors: 100, traffic: 0 }}\n",
        with_total(
            "      test: counts\n      total: requests\n",
            "    group: traffic\n"
        )
        .replace(
            "  - name: errors\n",
            "  - name: errors\n    group: errors\n"
        )
    ));
    assert_eq!(t.groups[1].weight, 0.0);
    assert_eq!(
        canaryd::judge::score::group_weights(&t),
        [("errors".to_string(), 100.0), ("traffic".to_string(), 0.0)]
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let text = "\
name: bad name
descripton: x
step_seconds: 0
scoring: { pass: 50, marginal: 80 }
groups: { latency: 80, errors: 30 }
metrics:
  - name: p99
    group: latency
    query: q{v=\"x\",s=\"${service}\"}
    judge: { test: mann_whitney, confidence: 2, max: 1 }
  - name: p99
    group: errors
    query: r{v=\"${scope}\"}
    judge:
      test: threshold
      direction: sideways
";
    let found = problems(text);
    let summary: Vec<(usize, &str)> = found.iter().map(|d| (d.line, d.field.as_str())).collect();
    assert_eq!(
        summary,
        [
            (1, "name"),
            (2, "descripton"),
            (3, "step_seconds"),
            (4, "scoring.pass"),
            (5, "groups"),
            (9, "metrics[0].query"),
            (9, "metrics[0].query"),
            (10, "metrics[0].judge.test"),
            (10, "metrics[0].judge.confidence"),
            (11, "metrics[1].name"),
            (15, "metrics[1].judge"),
            (16, "metrics[1].judge.direction"),
        ],
        "{found:#?}"
    );
    // Each line of `canaryd template check`: file:line:column: field: message.
    assert_eq!(
        found[1].to_string(),
        "t.yaml:2:1: descripton: unknown key `descripton`; did you mean `description`? \
         (known keys: name, description, source, scope, args, step_seconds, scoring, groups, metrics)"
    );
}

// ----- check_files -----

#[test]
fn check_files_reports_unreadable_files_and_every_problem() {
    let dir = std::env::temp_dir().join(format!("canaryd-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "name: t\nmetrics: []\nsource: \"\"\n").expect("write");
    let missing = dir.join("missing.yaml");
    let good = templates_dir().join("grpc-worker.yaml");
    let found = check_files(&[good, missing.clone(), bad.clone()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].file, missing.display().to_string());
    assert_eq!((found[0].line, found[0].column), (1, 1));
    assert!(found[0].message.contains("cannot read"), "{}", found[0]);
    assert_eq!(found[1].file, bad.display().to_string());
    assert_eq!((found[1].line, found[1].field.as_str()), (2, "metrics"));
    assert_eq!((found[2].line, found[2].field.as_str()), (3, "source"));
}

// ----- substitution -----

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn render_query_substitutes_scope_and_args_through_escape() {
    let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let out = render_query(
        "up{svc=\"${service}\",v=\"${scope}\"} + ${service}",
        "can\"ary",
        &args(&[("service", "web")]),
        &escape,
    );
    assert_eq!(
        out.ok().as_deref(),
        Some("up{svc=\"web\",v=\"can\\\"ary\"} + web")
    );
}

#[test]
fn render_query_leaves_non_placeholders_literal() {
    let same = |v: &str| v.to_string();
    for literal in [
        "$scope",
        "${ scope }",
        "${1a}",
        "${",
        "$}",
        "${a-b}",
        "$$",
        "{scope}",
    ] {
        let out = render_query(literal, "x", &BTreeMap::new(), &same);
        assert_eq!(out.ok().as_deref(), Some(literal));
    }
    let out = render_query("$${scope}", "x", &BTreeMap::new(), &same);
    assert_eq!(out.ok().as_deref(), Some("$x"));
}

#[test]
fn render_query_names_an_unknown_placeholder() {
    match render_query("a{b=\"${nope}\"}", "x", &BTreeMap::new(), &|v: &str| {
        v.into()
    }) {
        Err(TemplateError::UnknownPlaceholder { name }) => assert_eq!(name, "nope"),
        other => panic!("expected UnknownPlaceholder, got {other:?}"),
    }
}

fn template_with_args() -> Template {
    parse_ok(
        "name: t\nargs: { service: {}, cluster: {}, namespace: { default: prod } }\nmetrics:\n  \
         - name: m\n    query: q{v=\"${scope}\",a=\"${service}${cluster}${namespace}\"}\n",
    )
}

#[test]
fn resolve_args_fills_defaults_and_keeps_given_values() {
    let t = template_with_args();
    let resolved = resolve_args(&t, &args(&[("service", "web"), ("cluster", "eu")]));
    assert_eq!(
        resolved.ok(),
        Some(args(&[
            ("cluster", "eu"),
            ("namespace", "prod"),
            ("service", "web")
        ]))
    );
    let resolved = resolve_args(
        &t,
        &args(&[("service", "web"), ("cluster", "eu"), ("namespace", "dev")]),
    );
    assert_eq!(
        resolved
            .ok()
            .and_then(|r| r.get("namespace").cloned())
            .as_deref(),
        Some("dev")
    );
}

#[test]
fn resolve_args_names_every_missing_and_unknown_arg() {
    let t = template_with_args();
    match resolve_args(&t, &BTreeMap::new()) {
        Err(TemplateError::MissingArgs(missing)) => assert_eq!(missing, ["cluster", "service"]),
        other => panic!("expected MissingArgs, got {other:?}"),
    }
    match resolve_args(
        &t,
        &args(&[
            ("service", "web"),
            ("cluster", "eu"),
            ("servce", "x"),
            ("zone", "a"),
        ]),
    ) {
        Err(TemplateError::UnknownArgs(unknown)) => assert_eq!(unknown, ["servce", "zone"]),
        other => panic!("expected UnknownArgs, got {other:?}"),
    }
}

// ----- robustness -----

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any text made of YAML's punctuation and template words gives a template or diagnostics
    /// with real positions, never a panic.
    #[test]
    fn arbitrary_yaml_never_panics(
        text in proptest::string::string_regex(
            "([-:{}\\[\\],&*!?|>'\"#%@ \n\t~]|name|metrics|query|judge|test|\\$\\{scope\\}|0\\.5|x){0,60}"
        ).expect("valid regex")
    ) {
        if let Err(TemplateError::Invalid(found)) = parse_template(&text, "t.yaml") {
            proptest::prop_assert!(!found.is_empty());
            for d in &found {
                proptest::prop_assert!(d.line >= 1 && d.column >= 1, "{}", d);
            }
        }
    }

    /// Small edits of a valid template (a character dropped or doubled) never panic either.
    #[test]
    fn mutated_contract_example_never_panics(at in 0usize..2000, double in proptest::bool::ANY) {
        let mut text: Vec<char> = CONTRACT_EXAMPLE.chars().collect();
        let at = at % text.len();
        if double {
            let c = text[at];
            text.insert(at, c);
        } else {
            text.remove(at);
        }
        let text: String = text.into_iter().collect();
        let _ = parse_template(&text, "t.yaml");
    }
}

// ---------------------------------------------------------------------------------------------
// Where a placeholder sits: escaping per context, unsafe placements refused

/// A template whose placeholders sit where no value is safe; lines and columns below.
const UNSAFE: &str = r#"name: unsafe
args: { window: { default: 5m } }
metrics:
  - name: bare
    query: rate(q{v="${scope}"}[${window}]) / ${scope}
  - name: folded
    query: >-
      sum(q{v="${scope}"})
      / ${scope}
  - name: comment
    query: "q{v=\"${scope}\"} # ${scope}"
"#;

#[test]
fn template_check_reports_unsafe_placements_at_the_placeholder() {
    let dir = std::env::temp_dir().join(format!("canaryd-unsafe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unsafe.yaml");
    std::fs::write(&file, UNSAFE).unwrap();
    let found = check_files(std::slice::from_ref(&file));
    let shown = file.display().to_string();
    let at: Vec<(usize, usize, &str)> = found
        .iter()
        .map(|d| (d.line, d.column, d.field.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            (5, 47, "metrics[0].query"),
            (9, 9, "metrics[1].query"),
            (11, 33, "metrics[2].query")
        ],
        "{found:#?}"
    );
    assert!(found.iter().all(|d| d.file == shown));
    // `${window}` (an argument: one duration, checked when rendered) may stand bare; a scope
    // may not.
    assert!(found[0].message.contains("`${scope}`"), "{}", found[0]);
    assert!(
        found[0].message.contains("outside any string"),
        "{}",
        found[0]
    );
    assert!(found[1].message.contains("`${scope}`"), "{}", found[1]);
    assert!(found[2].message.contains("comment"), "{}", found[2]);
    assert!(
        found[0].to_string().starts_with(&format!("{shown}:5:47: ")),
        "{}",
        found[0]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn placements_are_checked_in_the_language_of_the_source_kind() {
    let with = |source: &str, query: &str| {
        format!("name: t\nsource: {source}\nmetrics:\n  - name: m\n    query: {query}\n")
    };
    // InfluxQL: strings, identifiers and /regex/ are fine; bare is not.
    parse_ok(&with(
        "influxdb",
        r#"SELECT mean("value") FROM "m" WHERE "v" = '${scope}' AND "h" =~ /${scope}/ AND $timeFilter"#,
    ));
    only_problem(
        &with(
            "influxdb",
            r#"SELECT mean(v) FROM m WHERE v = ${scope} AND $timeFilter"#,
        ),
        5,
        44,
        "metrics[0].query",
        "InfluxQL",
    );
    // Graphite: a bare path node is the usual place.
    parse_ok(&with("graphite", "sumSeries(app.${scope}.latency)"));
    // Datadog: only inside {…}.
    parse_ok(&with("datadog", "avg:latency{version:${scope}}"));
    only_problem(
        &with("datadog", "avg:latency.${scope}{*}"),
        5,
        24,
        "metrics[0].query",
        "outside any `{…}`",
    );
    // Recorded data ignores the query.
    parse_ok(&with("file", "${scope}"));
    // A source named otherwise (its kind is in the config) is checked when rendered.
    parse_ok(&with("prom-eu", "q{v=\"${scope}\"} / ${scope}"));
}

#[test]
fn defaults_are_checked_where_their_placeholders_sit() {
    let with = |default: &str| {
        format!(
            "name: t\nargs: {{ window: {{ default: '{default}' }} }}\nmetrics:\n  - name: m\n    \
             query: rate(q{{v=\"${{scope}}\"}}[${{window}}])\n"
        )
    };
    parse_ok(&with("5m"));
    only_problem(
        &with("5m] or vector(1)"),
        5,
        33,
        "metrics[0].query",
        "its default is refused here",
    );
}

#[test]
fn scope_and_args_can_be_declared_regexes() {
    let t = parse_ok(
        "name: t\nscope: { regex: true }\nargs: { a: { regex: true }, b: {} }\nmetrics:\n  - \
         name: m\n    query: q{v=~\"${scope}\",a=~\"${a}\",b=~\"${b}\"}\n",
    );
    assert!(t.scope.regex && t.args["a"].regex && !t.args["b"].regex);
    only_problem(
        "name: t\nscope: { regex: yes }\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n",
        2,
        17,
        "scope.regex",
        "true or false",
    );
    only_problem(
        "name: t\nscope: { regexp: true }\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"}\n",
        2,
        10,
        "scope.regexp",
        "regex",
    );
}

mod rendering {
    use std::collections::BTreeMap;

    use canaryd::config::SourceSettings;
    use canaryd::service::live::{render_queries, LiveError};
    use canaryd::source::{build_source, MetricSource};

    use super::parse_ok;

    fn source(kind: &str) -> std::sync::Arc<dyn MetricSource> {
        let mut options = BTreeMap::new();
        if kind == "influxdb" {
            options.insert("database".to_string(), serde_json::json!("db"));
        }
        if kind == "datadog" {
            options.insert("api_key".to_string(), serde_json::json!("k"));
            options.insert("application_key".to_string(), serde_json::json!("k"));
        }
        let settings = SourceSettings {
            kind: kind.into(),
            url: "http://127.0.0.1:1".into(),
            timeout_seconds: None,
            max_concurrent_queries: None,
            judgment_timeout_seconds: None,
            options,
        };
        build_source(kind, &settings).unwrap()
    }

    /// The canary query of the template's only metric `query`, rendered for `kind`.
    fn render(kind: &str, head: &str, query: &str, canary: &str) -> Result<String, LiveError> {
        let t = parse_ok(&format!(
            "name: t\nsource: {kind}\n{head}metrics:\n  - name: m\n    query: '{}'\n",
            query.replace('\'', "''")
        ));
        let mut args = BTreeMap::new();
        if head.contains("svc") {
            args.insert("svc".to_string(), "a'b\"c\n".to_string());
        }
        let q = render_queries(&t, &*source(kind), "baseline", canary, &args)?;
        Ok(q[0].canary_query.clone())
    }

    const ARGS: &str = "args: { svc: {} }\n";

    #[test]
    fn promql_values_are_escaped_for_their_quote_and_matcher() {
        let evil = r#"x'} or vector(1) #"#;
        let r = |query: &str, canary: &str| render("prometheus", ARGS, query, canary).unwrap();
        assert_eq!(
            r(r#"q{v="${scope}"}"#, evil),
            r#"q{v="x'} or vector(1) #"}"#
        );
        assert_eq!(r("q{v='${scope}'}", evil), r#"q{v='x\'} or vector(1) #'}"#);
        assert_eq!(r("q{v=~'${scope}'}", ".*"), r"q{v=~'\\.\\*'}");
        assert_eq!(r(r#"q{v=~"${scope}"}"#, ".*"), r#"q{v=~"\\.\\*"}"#);
        assert_eq!(r("q{v!~`${scope}`}", ".*"), r"q{v!~`\.\*`}");
        assert_eq!(r("q{v=`${scope}`}", r"a\b"), r"q{v=`a\b`}");
        assert_eq!(
            r(r#"q{v="${scope}",s='${svc}'}"#, "c\n✓\\"),
            r#"q{v="c\n✓\\",s='a\'b"c\n'}"#
        );
        // Declared regexes keep their metacharacters in matchers, and only there.
        let scoped = "scope: { regex: true }\n";
        assert_eq!(
            render(
                "prometheus",
                scoped,
                r#"q{p=~"${scope}",v="${scope}"}"#,
                "c-.*"
            )
            .unwrap(),
            r#"q{p=~"c-.*",v="c-.*"}"#
        );
    }

    #[test]
    fn bare_arguments_are_one_name_number_or_duration() {
        let head = "args: { metric: {}, window: {} }\n";
        let query = r#"rate(${metric}{v="${scope}"}[${window}])"#;
        let t = parse_ok(&format!(
            "name: t\n{head}metrics:\n  - name: m\n    query: '{query}'\n"
        ));
        let args = |metric: &str, window: &str| {
            BTreeMap::from([
                ("metric".to_string(), metric.to_string()),
                ("window".to_string(), window.to_string()),
            ])
        };
        let q = render_queries(
            &t,
            &*source("prometheus"),
            "b",
            "c",
            &args("http_total", "1m30s"),
        )
        .unwrap();
        assert_eq!(q[0].canary_query, r#"rate(http_total{v="c"}[1m30s])"#);
        for (metric, window, role) in [
            ("x", "5m] or vector(1)", "window"),
            ("x{a=\"b\"} or vector", "5m", "metric"),
            ("or", "5m", "metric"),
        ] {
            let err = render_queries(&t, &*source("prometheus"), "b", "c", &args(metric, window))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("template argument '{role}' in metric 'm': ")),
                "{err}"
            );
        }
    }

    #[test]
    fn refused_values_name_their_role_and_metric() {
        let err = render("prometheus", ARGS, "q{v=`${scope}`}", "x` or vector(1) #")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("canary scope in metric 'm': "), "{err}");
        assert!(err.contains("raw string"), "{err}");
        let err = render("prometheus", ARGS, "q{v=\"${scope}\",s=`${svc}`}", "c")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("template argument 'svc' in metric 'm': "),
            "{err}"
        );
        let err = render("graphite", "", "app.${scope}.p99", "a.b")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("canary scope in metric 'm': "), "{err}");
    }

    #[test]
    fn other_languages_escape_per_context() {
        let influx = r#"SELECT mean("v") FROM "m" WHERE "v" = '${scope}' AND "p" =~ /${scope}/ AND $timeFilter"#;
        assert_eq!(
            render("influxdb", "", influx, "x' OR 1=1 /.*").unwrap(),
            r#"SELECT mean("v") FROM "m" WHERE "v" = 'x\' OR 1=1 /.*' AND "p" =~ /x' OR 1=1 \/\.\*/ AND $timeFilter"#
        );
        assert_eq!(
            render(
                "influxdb",
                "",
                r#"SELECT mean("${scope}") FROM m WHERE $timeFilter"#,
                r#"a"b"#
            )
            .unwrap(),
            r#"SELECT mean("a\"b") FROM m WHERE $timeFilter"#
        );
        assert_eq!(
            render(
                "graphite",
                "",
                "alias(app.${scope}.p99, '${scope} p99')",
                "canary-2"
            )
            .unwrap(),
            "alias(app.canary-2.p99, 'canary-2 p99')"
        );
        assert!(render("graphite", "", "alias(app.x, '${scope}')", "a')").is_err());
        assert_eq!(
            render("datadog", "", "avg:lat{version:${scope}}", "v1.2").unwrap(),
            "avg:lat{version:v1.2}"
        );
        assert!(render("datadog", "", "avg:lat{version:${scope}}", "v,host:*").is_err());
    }

    #[test]
    fn an_unsafe_placement_unknown_at_load_time_is_refused_at_render_time() {
        // `prom-eu` is a prometheus source in the config: the template loads, the render refuses.
        let t = parse_ok(
            "name: t\nsource: prom-eu\nmetrics:\n  - name: m\n    query: q{v=\"${scope}\"} / ${scope}\n",
        );
        let err = render_queries(&t, &*source("prometheus"), "b", "c", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("metric 'm': `${scope}` at column 19 of the query"),
            "{err}"
        );
        assert!(err.contains("outside any string"), "{err}");
    }
}

#[test]
fn on_nodata_and_min_points_are_read_and_checked() {
    let t = parse_ok(&format!(
        "scoring: {{ on_nodata: marginal }}\n{}      min_points: 10\n",
        with_judge("      test: mann-whitney\n")
    ));
    assert_eq!(t.scoring.on_nodata, canaryd::template::OnNodata::Marginal);
    assert_eq!(t.metrics[0].judge.min_points, 10);
    let t = parse_ok(BASE);
    assert_eq!(t.scoring.on_nodata, canaryd::template::OnNodata::Fail);
    assert_eq!(t.metrics[0].judge.min_points, 1);
    only_problem(
        &format!("scoring: {{ on_nodata: wait }}\n{BASE}"),
        1,
        23,
        "scoring.on_nodata",
        "fail, marginal",
    );
    only_problem(
        &with_judge("      min_points: 0\n"),
        6,
        19,
        "metrics[0].judge.min_points",
        "whole number from 1",
    );
    only_problem(
        &with_judge("      min_points: 2.5\n"),
        6,
        19,
        "metrics[0].judge.min_points",
        "found 2.5",
    );
}
