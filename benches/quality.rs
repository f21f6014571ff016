//! Measured quality of the judges: detection and false-alarm rates of `auto` beside each single
//! test it combines (`mann-whitney`, `quantile`, `scale`, `counts`) and two anchors (Kayenta's
//! rule, and a threshold on the mean), on the labelled scenario set
//! `fixtures/quality/scenarios.json` (written by `scripts/make-quality-scenarios.py`, fixed
//! seed; the classes and noise kinds are described there).
//!
//! Every judge gets the same settings: `direction: increase`, `confidence: 0.95`,
//! `allowed_increase: 1.05`. A scenario labelled a regression is detected when the judge says
//! `high`; a scenario labelled no regression is a false alarm when it says `high`. The anchors:
//! - `kayenta`: Kayenta's `MannWhitneyClassifier` rule (kayenta-judge, NetflixACAJudge-v1.0):
//!   the Hodges-Lehmann interval at 98% (R's `wilcox.test`), `high` when its lower end exceeds
//!   0.25 × |estimate| and the mean ratio reaches `allowed_increase`;
//! - `mean>1.1`: the canary mean above 1.1 × the baseline mean.
//!
//! Dominance: in every class and noise cell, `auto` should detect at least what its best single
//! component detects less the cost of sharing the error rate (under 5 points), with no more
//! false alarms than that component. The cell table prints `auto`, the best component and the
//! gap, and marks with `!` each cell that misses.
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
use canaryd::stats::{describe, mann_whitney};
use canaryd::template::{parse_template, MetricSpec};
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

/// The judges run through canaryd (`test:`), then the anchors.
const JUDGES: [&str; 5] = ["mann-whitney", "quantile", "scale", "counts", "auto"];
const ANCHORS: [&str; 2] = ["kayenta", "mean>1.1"];
/// Index of `auto` in [`JUDGES`].
const AUTO: usize = 4;

/// The components `auto` combines on data of `kind`: location, tail and spread on latency-like
/// data, `counts` on counts (as indices into [`JUDGES`]).
fn components(kind: &str) -> &'static [usize] {
    if kind == "counts" {
        &[3]
    } else {
        &[0, 1, 2]
    }
}

fn spec(test: &str) -> MetricSpec {
    let yaml = format!(
        "name: quality\nsource: recorded\nmetrics:\n  - name: m\n    query: q{{v=\"${{scope}}\"}}\n    judge: {{ test: {test}, direction: increase, confidence: 0.95, allowed_increase: 1.05 }}\n"
    );
    let template = parse_template(&yaml, "quality.yaml")
        .unwrap_or_else(|e| panic!("the bench's own template for {test}: {e}"));
    template.metrics.into_iter().next().expect("one metric")
}

/// Kayenta's MannWhitneyClassifier rule, `high` side (see the module documentation).
fn kayenta_high(baseline: &[f64], canary: &[f64]) -> bool {
    let Ok(mw) = mann_whitney(canary, baseline, 0.98) else {
        return false;
    };
    let (b, c) = (describe(baseline), describe(canary));
    let effect = match (b.mean, c.mean) {
        (Some(b), Some(c)) if b != 0.0 => c / b,
        _ => f64::NAN,
    };
    mw.ci.0 > 0.25 * mw.estimate.abs() && (effect.is_nan() || effect >= 1.05)
}

fn mean_high(baseline: &[f64], canary: &[f64]) -> bool {
    match (describe(baseline).mean, describe(canary).mean) {
        (Some(b), Some(c)) => c > 1.1 * b,
        _ => false,
    }
}

/// Whether judge `j` keeps its false-alarm rate (at most 5%, its nominal 1 − confidence) on
/// the no-change scenarios of `kind` under `noise`: a component that does not (plain
/// `mann-whitney` under autocorrelation, which takes 120 dependent points for 120 independent
/// ones) is no yardstick for detection.
fn holds_level(
    by_noise: &BTreeMap<(usize, String, usize), Tally>,
    classes: &[(String, bool, String)],
    kind: &str,
    noise: &str,
    j: usize,
) -> bool {
    let mut t = Tally::default();
    for (c, (_, regression, k)) in classes.iter().enumerate() {
        if !regression && k == kind {
            if let Some(x) = by_noise.get(&(c, noise.to_string(), j)) {
                t.flagged += x.flagged;
                t.total += x.total;
            }
        }
    }
    t.total == 0 || t.pct() <= 5.0
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
    fn pct(&self) -> f64 {
        if self.total == 0 {
            f64::NAN
        } else {
            100.0 * self.flagged as f64 / self.total as f64
        }
    }
    fn rate(&self) -> String {
        if self.total == 0 {
            "-".into()
        } else {
            format!("{:5.1}%", self.pct())
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
    let columns: Vec<&str> = JUDGES.iter().chain(ANCHORS.iter()).copied().collect();

    // (class, column) -> tally; (class, noise, column) -> tally; class order of appearance.
    let mut by_class: BTreeMap<(usize, usize), Tally> = BTreeMap::new();
    let mut by_noise: BTreeMap<(usize, String, usize), Tally> = BTreeMap::new();
    let mut classes: Vec<(String, bool, String)> = Vec::new();
    let mut noises: Vec<String> = Vec::new();
    let mut overall: BTreeMap<(bool, bool, usize), Tally> = BTreeMap::new();
    let specs: Vec<MetricSpec> = JUDGES.iter().map(|t| spec(t)).collect();
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
        if !noises.contains(&s.noise) {
            noises.push(s.noise.clone());
        }
        let obs = Observation::from_values(
            s.baseline.iter().copied().map(Some).collect(),
            s.canary.iter().copied().map(Some).collect(),
        );
        let mut flags: Vec<bool> = Vec::with_capacity(columns.len());
        for (j, metric) in specs.iter().enumerate() {
            let report = classify_metric(metric, Some(&obs));
            judged += 1;
            if show.as_deref() == Some(s.class.as_str()) && j == AUTO {
                eprintln!(
                    "{} {}: {}",
                    s.noise,
                    report.classification.as_str(),
                    report.reason
                );
            }
            flags.push(report.classification == Classification::High);
        }
        flags.push(kayenta_high(&s.baseline, &s.canary));
        flags.push(mean_high(&s.baseline, &s.canary));
        for (j, high) in flags.into_iter().enumerate() {
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
    let _ = write!(
        out,
        "{:<16} {:<8} {:<11} {:>5}",
        "class", "kind", "label", "n"
    );
    for name in &columns {
        let _ = write!(out, " {name:>12}");
    }
    let _ = writeln!(out);
    for (c, (name, regression, kind)) in classes.iter().enumerate() {
        let n = by_class.get(&(c, 0)).map(|t| t.total).unwrap_or(0);
        let label = if *regression {
            "regression"
        } else {
            "no change"
        };
        let _ = write!(out, "{name:<16} {kind:<8} {label:<11} {n:>5}");
        for j in 0..columns.len() {
            let cell = by_class.get(&(c, j)).copied().unwrap_or_default().rate();
            let _ = write!(out, " {cell:>12}");
        }
        let _ = writeln!(out);
    }

    // Dominance, cell by cell: auto against its best component.
    let _ = writeln!(
        out,
        "\nauto against its components (location, tail, spread; counts on counts) that keep their \
         false alarms at 5% or less on that noise's no-change scenarios, per noise kind: \
         auto% / component% name (gap): on a regression the best component, and `!` when auto \
         is more than 5 points under it; on no change the component with the most false \
         alarms, and `!` when auto has more"
    );
    let _ = write!(out, "{:<16}", "class");
    for n in &noises {
        let _ = write!(out, " {n:>26}");
    }
    let _ = writeln!(out);
    let (mut worst_gap, mut misses, mut cells) = (0.0f64, 0usize, 0usize);
    for (c, (name, regression, kind)) in classes.iter().enumerate() {
        let _ = write!(out, "{name:<16}");
        for noise in &noises {
            let get = |j: usize| by_noise.get(&(c, noise.clone(), j)).copied();
            let Some(auto) = get(AUTO) else {
                let _ = write!(out, " {:>26}", "-");
                continue;
            };
            // The component to beat: the most detections on a regression; on no change, the
            // one with the most false alarms (auto must not add to what its parts cost).
            let best = components(kind)
                .iter()
                .filter(|&&j| holds_level(&by_noise, &classes, kind, noise, j))
                .filter_map(|&j| get(j).map(|t| (j, t.pct())))
                .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
            let Some((j, best_pct)) = best else { continue };
            let gap = auto.pct() - best_pct;
            cells += 1;
            let miss = if *regression {
                worst_gap = worst_gap.min(gap);
                gap < -5.0
            } else {
                gap > 0.0
            };
            misses += usize::from(miss);
            let cell = format!(
                "{:.0}/{:.0} {} ({:+.0}){}",
                auto.pct(),
                best_pct,
                JUDGES[j],
                gap,
                if miss { "!" } else { "" }
            );
            let _ = write!(out, " {cell:>26}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "dominance: {misses} of {cells} cells miss; the largest detection gap under the best \
         component is {:.1} points",
        (-worst_gap).max(0.0)
    );

    let _ = writeln!(out, "\noverall:");
    for (kind_name, counts) in [("latency-like", false), ("count", true)] {
        for (j, judge) in columns.iter().enumerate() {
            let det = overall.get(&(counts, true, j)).copied().unwrap_or_default();
            let fa = overall
                .get(&(counts, false, j))
                .copied()
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {kind_name:<13} {judge:<13} detection {} of {:>5}   false alarms {} of {:>5}",
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
                .get(&(counts, regression, AUTO))
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
         goal >= 90% detection at <= 2% false alarms on this set",
        d.rate().trim(),
        d.flagged,
        d.total,
        f.rate().trim(),
        f.flagged,
        f.total
    );
    print!("{out}");
}
