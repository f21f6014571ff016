//! Measured quality of the judges (issue 7): detection and false-alarm rates of `mann-whitney`,
//! `auto` and `counts` on the labelled scenario set `fixtures/quality/scenarios.json` (written
//! by `scripts/make-quality-scenarios.py`, fixed seed; the classes and noise kinds are
//! described there).
//!
//! Every judge gets the same settings: `direction: increase`, `confidence: 0.95`,
//! `allowed_increase: 1.05`. A scenario labelled a regression is detected when the judge says
//! `high`; a scenario labelled no regression is a false alarm when it says `high`.
//!
//! Run: `cargo bench --bench quality` prints the full table. `cargo test --benches` runs it as
//! a smoke test on every 25th scenario (the numbers are then not meant to be read).
//! `QUALITY_SHOW=CLASS` also prints `auto`'s reason for each scenario of CLASS;
//! `QUALITY_FILE=PATH` judges another set written by the script (`--out`), e.g. thousands of
//! one cell to measure its rate finely.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use canaryd::judge::{classify_metric, Classification};
use canaryd::source::Observation;
use canaryd::template::{Direction, JudgeSpec, MetricSpec, TestKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct ScenarioSet {
    seed: u64,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct Scenario {
    class: String,
    noise: String,
    kind: String,
    regression: bool,
    baseline: Vec<f64>,
    canary: Vec<f64>,
}

const JUDGES: [(&str, TestKind); 3] = [
    ("mann-whitney", TestKind::MannWhitney),
    ("auto", TestKind::Auto),
    ("counts", TestKind::Counts),
];

fn spec(test: TestKind) -> MetricSpec {
    MetricSpec {
        name: "m".into(),
        group: None,
        query: "q{v=\"${scope}\"}".into(),
        judge: JudgeSpec {
            test,
            direction: Direction::Increase,
            confidence: 0.95,
            allowed_increase: 1.05,
            ..JudgeSpec::default()
        },
    }
}

/// Flagged / total for one cell of the table.
#[derive(Default, Clone, Copy)]
struct Tally {
    flagged: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, flagged: bool) {
        self.flagged += usize::from(flagged);
        self.total += 1;
    }
    fn rate(&self) -> String {
        if self.total == 0 {
            "-".into()
        } else {
            format!("{:5.1}%", 100.0 * self.flagged as f64 / self.total as f64)
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then a quick smoke run.
    let benching = std::env::args().any(|a| a == "--bench");
    // QUALITY_FILE=PATH judges another set written by the same script (its --out).
    let path = std::env::var("QUALITY_FILE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/quality/scenarios.json"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let set: ScenarioSet =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not a scenario set: {e}"));
    let stride = if benching { 1 } else { 25 };

    // (class, judge) -> tally; (class, noise, judge) -> tally; class order of first appearance.
    let mut by_class: BTreeMap<(usize, usize), Tally> = BTreeMap::new();
    let mut by_noise: BTreeMap<(usize, String, usize), Tally> = BTreeMap::new();
    let mut classes: Vec<(String, bool, String)> = Vec::new();
    let mut overall: BTreeMap<(bool, bool, usize), Tally> = BTreeMap::new();
    let specs: Vec<MetricSpec> = JUDGES.iter().map(|(_, t)| spec(*t)).collect();
    // QUALITY_SHOW=CLASS prints auto's reason for every scenario of that class (to stderr).
    let show = std::env::var("QUALITY_SHOW").ok();
    let started = std::time::Instant::now();
    let mut judged = 0usize;
    for s in set.scenarios.iter().step_by(stride) {
        let c = match classes.iter().position(|(name, ..)| *name == s.class) {
            Some(c) => c,
            None => {
                classes.push((s.class.clone(), s.regression, s.kind.clone()));
                classes.len() - 1
            }
        };
        let obs = Observation::from_values(
            s.baseline.iter().copied().map(Some).collect(),
            s.canary.iter().copied().map(Some).collect(),
        );
        for (j, metric) in specs.iter().enumerate() {
            let report = classify_metric(metric, Some(&obs));
            judged += 1;
            let high = report.classification == Classification::High;
            if show.as_deref() == Some(s.class.as_str()) && JUDGES[j].0 == "auto" {
                eprintln!(
                    "{} {}: {}",
                    s.noise,
                    report.classification.as_str(),
                    report.reason
                );
            }
            by_class.entry((c, j)).or_default().add(high);
            by_noise
                .entry((c, s.noise.clone(), j))
                .or_default()
                .add(high);
            overall
                .entry((s.kind == "counts", s.regression, j))
                .or_default()
                .add(high);
        }
    }
    let elapsed = started.elapsed();

    let shown = path
        .strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/"))
        .unwrap_or(&path);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "quality: {} scenarios of {shown} (seed {}), {judged} judgments in {:.2} s; direction increase, \
         confidence 0.95, allowed_increase 1.05{}",
        set.scenarios.len().div_ceil(stride),
        set.seed,
        elapsed.as_secs_f64(),
        if benching {
            ""
        } else {
            " [SMOKE RUN: every 25th scenario, numbers not meaningful]"
        }
    );
    let _ = writeln!(
        out,
        "rate = share classified high: detection for regressions, false alarms for the rest\n"
    );
    let _ = writeln!(
        out,
        "{:<16} {:<8} {:<11} {:>5}  {:>12}  {:>8}  {:>8}",
        "class", "kind", "label", "n", "mann-whitney", "auto", "counts"
    );
    for (c, (name, regression, kind)) in classes.iter().enumerate() {
        let n = by_class.get(&(c, 0)).map(|t| t.total).unwrap_or(0);
        let cell = |j: usize| by_class.get(&(c, j)).copied().unwrap_or_default().rate();
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:<11} {:>5}  {:>12}  {:>8}  {:>8}",
            name,
            kind,
            if *regression {
                "regression"
            } else {
                "no change"
            },
            n,
            cell(0),
            cell(1),
            cell(2)
        );
    }
    let _ = writeln!(out, "\nby noise kind (mann-whitney / auto / counts):");
    let noises = ["iid", "lognormal", "ar1", "heavy", "shared"];
    let _ = write!(out, "{:<16}", "class");
    for n in noises {
        let _ = write!(out, " {:>23}", n);
    }
    let _ = writeln!(out);
    for (c, (name, ..)) in classes.iter().enumerate() {
        let _ = write!(out, "{:<16}", name);
        for noise in noises {
            let cell = |j: usize| {
                by_noise
                    .get(&(c, noise.to_string(), j))
                    .map(|t| {
                        if t.total == 0 {
                            "-".to_string()
                        } else {
                            format!("{:.0}", 100.0 * t.flagged as f64 / t.total as f64)
                        }
                    })
                    .unwrap_or_else(|| "-".into())
            };
            let _ = write!(
                out,
                " {:>23}",
                format!("{}/{}/{}", cell(0), cell(1), cell(2))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "\noverall:");
    for (kind_name, counts) in [("latency-like", false), ("count", true)] {
        for (j, (judge, _)) in JUDGES.iter().enumerate() {
            let det = overall.get(&(counts, true, j)).copied().unwrap_or_default();
            let fa = overall
                .get(&(counts, false, j))
                .copied()
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {kind_name:<13} {judge:<13} detection {} of {:>4}   false alarms {} of {:>4}",
                det.rate(),
                det.total,
                fa.rate(),
                fa.total
            );
        }
    }
    let auto = |regression: bool| {
        let mut t = Tally::default();
        for counts in [false, true] {
            let x = overall
                .get(&(counts, regression, 1))
                .copied()
                .unwrap_or_default();
            t.flagged += x.flagged;
            t.total += x.total;
        }
        t
    };
    let (d, f) = (auto(true), auto(false));
    let _ = writeln!(
        out,
        "\nauto on every labelled scenario: detection {} ({} of {}), false alarms {} ({} of {}); \
         goal >= 95% detection at <= 2% false alarms",
        d.rate().trim(),
        d.flagged,
        d.total,
        f.rate().trim(),
        f.flagged,
        f.total
    );
    print!("{out}");
}
