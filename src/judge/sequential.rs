//! Sequential judging (issue 17): one look of an analysis or a gate sequence, held to a
//! boundary that keeps the whole rollout's chance of failing a healthy canary at most
//! `sequential.alpha`, however many looks it has.
//!
//! The method (README, "Sequential analyses"):
//! - **Known number of looks K, nested (growing) windows:** Lan-DeMets (1983) alpha spending
//!   with the exact one-sided group-sequential boundary b_k at t_k = k/K
//!   ([`crate::stats::sequential::boundaries`], Armitage, McPherson & Rowe 1969).
//! - **Windows that do not nest, or a judge whose looks are not one cumulative statistic**
//!   (`auto`): Bonferroni on the spending increments,
//!   level_k = α(t_k) − α(t_{k−1}) (a union bound: valid whatever the dependence).
//! - **Open horizon** (gate sequences): level_k = α / (k (k + 1)).
//! - **Several metrics and tails:** α is for the whole judgment. It is split over the
//!   statistical metrics (threshold metrics have no error rate) and their bad tails (two for
//!   `direction: either`): each tail of each metric gets α / D, D = Σ tails, and its own
//!   sequential boundary; the union bound adds them back to α.
//! - **How a look judges:** the template's statistical metrics get `confidence` 1 − 2ℓ (a
//!   two-sided interval whose tails are the per-metric level ℓ); the look fails when that
//!   judgment fails. The evidence is the judgment's own p-value as a z: the largest z (smallest
//!   level) at which the judgment still fails, found by bisection (about 14 judgments a look), so
//!   that fail ⇔ evidence ≥ boundary.
//! - **Pass early** (`pass_early`): the pass side has its own α equal to `sequential.alpha`, with
//!   the same spending and boundaries, so the one judgment at level ℓ serves both sides: a look
//!   that does not fail passes early when every statistical metric has data and the bad-side end
//!   of its interval (as a canary/baseline ratio) lies within `allowed_increase` (below it) and
//!   `allowed_decrease` (above it). At the default 1.0 nothing can pass early.
//! - The last look of a known horizon that does not fail is a pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::observation::Observation;
use crate::stats::sequential::{
    bonferroni_levels, boundaries, open_level, upper_tail, upper_z, Spending,
};
use crate::template::{Direction, OnNodata, Template, TestKind};

use super::report::{Classification, MetricReport, Report, TestReport, Verdict};

/// `sequential:` of an analysis or a gate sequence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialSpec {
    /// The chance of failing a healthy canary over the whole rollout, in (0, 0.5].
    pub alpha: f64,
    /// Pass a canary before the last look when its intervals bound the change within the
    /// tolerance (`allowed_increase` above 1.0 is needed).
    #[serde(default)]
    pub pass_early: bool,
    /// The alpha-spending function (default `pocock`).
    #[serde(default)]
    pub spending: Spending,
}

impl SequentialSpec {
    /// `alpha` is a finite number in (0, 0.5]; the message names `sequential.alpha`.
    pub fn check(&self) -> Result<(), String> {
        if self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 0.5 {
            Ok(())
        } else {
            Err(format!(
                "sequential.alpha must be a number in (0, 0.5], got {}",
                self.alpha
            ))
        }
    }
}

/// How many looks a sequence has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Known in advance (an analysis's intervals).
    Looks(usize),
    /// Not known (a gate sequence).
    Open,
}

/// One look of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// 1-based.
    pub number: usize,
    /// How many looks there are.
    pub horizon: Horizon,
    /// The windows grow from a fixed start (each look's data holds the previous look's), so
    /// that the exact group-sequential boundary applies; otherwise Bonferroni.
    pub nested: bool,
}

/// What a look decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Not conclusive yet.
    Continue,
    /// The evidence reached the boundary, or a failure that no level changes.
    Fail,
    /// The last look without a fail, or a pass early.
    Pass,
}

impl Decision {
    /// `continue`, `fail` or `pass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Continue => "continue",
            Decision::Fail => "fail",
            Decision::Pass => "pass",
        }
    }
}

/// The sequential part of one look's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialReport {
    /// The look, 1-based.
    pub look: usize,
    /// How many looks are planned; `None` when open.
    pub of: Option<usize>,
    /// The judgment's p-value as a z on the per-metric scale (the largest z at which it still
    /// fails, 0 to 8); `None` when the judgment fails whatever the level (a threshold, missing
    /// data) or has no statistical metric.
    pub evidence: Option<f64>,
    /// The z the evidence must reach to fail at this look: Φ⁻¹(1 − level), at most 8.
    pub boundary: f64,
    /// continue, fail or pass.
    pub decision: Decision,
    /// The one-sided level of each tail of each statistical metric at this look.
    pub level: f64,
    /// `sequential.alpha`.
    pub alpha: f64,
    /// How the boundary was computed, in words.
    pub method: String,
    /// With `pass_early`: the z the pass side is held to (the same as `boundary`: the pass side
    /// has its own α = `alpha` and the same spending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_boundary: Option<f64>,
    /// For a continue: how many more looks a fail would take if the effect stayed as it is
    /// (the evidence grows as √t); `None` when never within the horizon.
    #[serde(default)]
    pub looks_to_decision: Option<usize>,
    /// One sentence: the evidence against the boundary, and what was decided.
    pub reason: String,
    /// `sequential.spending`, and whether the look could pass early and its windows nested:
    /// with `look`, `of` and `alpha`, what a replay of the stored judgment needs to judge the
    /// same look again ([`SequentialReport::spec`], [`SequentialReport::look_of`]).
    #[serde(default)]
    pub spending: Spending,
    /// `sequential.pass_early`.
    #[serde(default)]
    pub pass_early: bool,
    /// The windows grew from one start (the exact boundary could apply).
    #[serde(default)]
    pub nested: bool,
}

impl SequentialReport {
    /// The `sequential` this look was judged under.
    pub fn spec(&self) -> SequentialSpec {
        SequentialSpec {
            alpha: self.alpha,
            pass_early: self.pass_early,
            spending: self.spending,
        }
    }

    /// The look itself.
    pub fn look_of(&self) -> Look {
        Look {
            number: self.look,
            horizon: self.of.map_or(Horizon::Open, Horizon::Looks),
            nested: self.nested,
        }
    }
}

/// The largest z a look can be held to or reach: 1 − Φ(8) ≈ 6e-16 is about the smallest level
/// whose confidence 1 − 2ℓ is still below 1 in floating point. A smaller level is raised to it;
/// the error this adds is below 1e-15 a look.
pub const Z_MAX: f64 = 8.0;

/// Bisection steps of the evidence search: 8 / 2^12 ≈ 0.002 in z.
const EVIDENCE_STEPS: usize = 12;

/// The level of each tail at one look, and how it was computed.
#[derive(Debug, Clone)]
struct Plan {
    /// Per-tail one-sided level (raised to 1 − Φ(Z_MAX)).
    level: f64,
    /// Φ⁻¹(1 − level).
    boundary: f64,
    /// In words.
    method: String,
    /// The per-tail boundaries of every planned look (known horizon), or of the next looks
    /// (open), for the projection: (information fraction, z) pairs after this look.
    ahead: Vec<(f64, f64)>,
    /// The information fraction of this look (the look number for an open horizon).
    t: f64,
    /// The last look of a known horizon.
    last: bool,
}

/// The number of bad tails of the statistical metrics: the divisor D of α.
fn tails(template: &Template) -> usize {
    template
        .metrics
        .iter()
        // A muted metric counts toward nothing, so it spends no alpha either.
        .filter(|m| m.judge.tolerance().is_some() && !m.judge.muted)
        .map(|m| match m.judge.direction {
            Direction::Either => 2,
            _ => 1,
        })
        .sum()
}

/// Most planned looks the exact boundary is computed for. Its numerical integration costs about
/// K² (K looks, a grid that refines as √K): 0.6 s at K = 24 in a debug build. Beyond this many
/// looks a look is held to its Bonferroni level instead, valid and only a little stricter, so
/// that no analysis (however many intervals a caller asks for) can stall a worker.
pub const MAX_EXACT_LOOKS: usize = 48;

/// Most (spending, alpha, K) boundary sets kept: callers choose alpha freely.
const MAX_CACHED: usize = 256;

/// The exact boundaries of K equally spaced looks at `alpha`, computed once per process.
fn exact_boundaries(spending: Spending, alpha: f64, looks: usize) -> Vec<f64> {
    type Key = (Spending, u64, usize);
    static CACHE: OnceLock<Mutex<HashMap<Key, Vec<f64>>>> = OnceLock::new();
    let key = (spending, alpha.to_bits(), looks);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(b) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return b;
    }
    let fractions: Vec<f64> = (1..=looks).map(|k| k as f64 / looks as f64).collect();
    let b = boundaries(spending, alpha, &fractions);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, b.clone());
    }
    b
}

fn spending_name(spending: Spending) -> &'static str {
    match spending {
        Spending::Pocock => "Pocock",
        Spending::OBrienFleming => "O'Brien-Fleming",
    }
}

/// Whether every statistical metric's looks are one cumulative statistic, so that the exact
/// boundary holds on nested windows. `auto` is not: it combines several tests (location, tail,
/// spread, a step test that is no cumulative statistic) and picks among them from the data, and
/// measured with exact boundaries it went past α (8.5% at K = 24 on a shared pattern,
/// `cargo bench --bench sequential`); it gets Bonferroni on the spending increments.
fn cumulative(template: &Template) -> bool {
    template
        .metrics
        .iter()
        .filter(|m| m.judge.tolerance().is_some())
        .all(|m| m.judge.test() != TestKind::Auto)
}

/// The level of one look for a judgment with `divisor` tails; `exact` when its looks may use
/// the exact group-sequential boundary (nested windows of cumulative statistics).
fn plan(spec: &SequentialSpec, look: &Look, divisor: usize, exact: bool) -> Plan {
    let d = divisor.max(1) as f64;
    let alpha = spec.alpha / d;
    let k = look.number.max(1);
    let floor = upper_tail(Z_MAX);
    let split = if divisor > 1 {
        format!(", α split over {divisor} metric tails")
    } else {
        String::new()
    };
    let (level, method, ahead, t, last) = match look.horizon {
        Horizon::Looks(n) => {
            let n = n.max(1);
            let name = spending_name(spec.spending);
            if k > n {
                (
                    0.0,
                    format!("look {k} is beyond the {n} planned: no error left to spend"),
                    Vec::new(),
                    1.0,
                    true,
                )
            } else if look.nested && exact && n <= MAX_EXACT_LOOKS {
                let b = exact_boundaries(spec.spending, alpha, n);
                let ahead = (k + 1..=n)
                    .map(|j| (j as f64 / n as f64, b[j - 1]))
                    .collect();
                // The first look's exact boundary is Φ⁻¹(1 − α(t_1)): take the level itself,
                // not its round trip through the z.
                let level = if k == 1 {
                    bonferroni_levels(spec.spending, alpha, &[1.0 / n as f64])[0]
                } else {
                    upper_tail(b[k - 1])
                };
                (
                    level,
                    format!(
                        "Lan-DeMets {name}-type spending, exact group-sequential boundary{split}"
                    ),
                    ahead,
                    k as f64 / n as f64,
                    k == n,
                )
            } else {
                let why = if !look.nested {
                    "windows that do not nest".to_string()
                } else if !exact {
                    "auto combines several tests, not one cumulative statistic".to_string()
                } else {
                    format!("more than {MAX_EXACT_LOOKS} looks planned")
                };
                let fractions: Vec<f64> = (1..=n).map(|j| j as f64 / n as f64).collect();
                let levels = bonferroni_levels(spec.spending, alpha, &fractions);
                let ahead = (k + 1..=n)
                    .map(|j| (j as f64 / n as f64, upper_z(levels[j - 1].max(floor))))
                    .collect();
                (
                    levels[k - 1],
                    format!(
                        "Lan-DeMets {name}-type spending, Bonferroni on the spending increments ({why}){split}"
                    ),
                    ahead,
                    k as f64 / n as f64,
                    k == n,
                )
            }
        }
        Horizon::Open => {
            let ahead = (k + 1..=k + 1000)
                .map(|j| (j as f64, upper_z(open_level(alpha, j).max(floor))))
                .collect();
            (
                open_level(alpha, k),
                format!("open horizon: α/(k(k+1)) at look k (Bonferroni){split}"),
                ahead,
                k as f64,
                false,
            )
        }
    };
    let level = level.max(floor).min(0.4999);
    Plan {
        level,
        boundary: upper_z(level).min(Z_MAX),
        method,
        ahead,
        t,
        last,
    }
}

/// The template with every statistical metric's confidence set to 1 − 2 `level`.
fn at_level(template: &Template, level: f64) -> Template {
    let mut t = template.clone();
    for m in &mut t.metrics {
        if let Some(tol) = m.judge.tolerance_mut() {
            tol.confidence = 1.0 - 2.0 * level;
        }
    }
    t
}

fn judge_at(template: &Template, obs: &BTreeMap<String, Observation>, level: f64) -> Report {
    super::judge(&at_level(template, level), obs)
}

/// Whether the judgment fails without any statistical metric failing: a threshold, missing data
/// under `on_nodata: fail`, a must-have-data metric. No level changes such a fail.
fn fails_whatever_the_level(template: &Template, report: &Report) -> bool {
    if report.verdict != Verdict::Fail {
        return false;
    }
    let metrics: Vec<MetricReport> = report
        .metrics
        .iter()
        .zip(&template.metrics)
        .map(|(r, m)| {
            let mut r = r.clone();
            if m.judge.tolerance().is_some()
                && matches!(r.classification, Classification::High | Classification::Low)
            {
                r.classification = Classification::Pass;
                r.critical = false;
            }
            r
        })
        .collect();
    super::score::score_judgment(template, &metrics).1 == Verdict::Fail
}

/// The decision of one look without the evidence search: one judgment at the look's level
/// (the cheap path). With `pass_early`, a look that does not fail may pass.
pub fn decide_look(
    template: &Template,
    observations: &BTreeMap<String, Observation>,
    spec: &SequentialSpec,
    look: &Look,
) -> Decision {
    let plan = plan(spec, look, tails(template), cumulative(template));
    let report = judge_at(template, observations, plan.level);
    if report.verdict == Verdict::Fail {
        Decision::Fail
    } else if plan.last || (spec.pass_early && passes_early(template, &report).is_ok()) {
        Decision::Pass
    } else {
        Decision::Continue
    }
}

/// The interval of the canary/baseline ratio of a test: its bad-side ends are what pass early
/// bounds. `None` for a test without one (threshold, step, paired spread).
fn ratio_interval(test: &TestReport, metric: &MetricReport) -> Option<(f64, f64)> {
    let relative = |ci: [f64; 2], base: Option<f64>| {
        let b = base.filter(|b| b.is_finite() && *b != 0.0)?.abs();
        Some((1.0 + ci[0] / b, 1.0 + ci[1] / b))
    };
    match test {
        TestReport::MannWhitney { ci, .. } => relative(*ci, metric.baseline.mean),
        TestReport::SignedRank { ci, scale, .. } => {
            if scale == "log-ratio" {
                Some((ci[0].exp(), ci[1].exp()))
            } else {
                relative(*ci, metric.baseline.mean)
            }
        }
        TestReport::Counts { ci, .. } => {
            Some((ci[0].unwrap_or(0.0), ci[1].unwrap_or(f64::INFINITY)))
        }
        TestReport::Quantile { ci, baseline, .. } => relative(*ci, Some(*baseline)),
        TestReport::Scale {
            ci,
            baseline_spread,
            ..
        } => relative(*ci, Some(*baseline_spread)),
        TestReport::Mean {
            ci, baseline_mean, ..
        } => relative(*ci, Some(*baseline_mean)),
        TestReport::PairedScale { .. } | TestReport::Step { .. } | TestReport::Threshold { .. } => {
            None
        }
    }
}

/// Whether a judgment that does not fail bounds every statistical metric's change within its
/// tolerance (pass early); `Err` says why not.
fn passes_early(template: &Template, report: &Report) -> Result<(), String> {
    if report.verdict == Verdict::Fail {
        return Err("the judgment fails".into());
    }
    let mut any = false;
    for (r, m) in report.metrics.iter().zip(&template.metrics) {
        if matches!(
            r.classification,
            Classification::Nodata | Classification::NodataFail | Classification::Error
        ) {
            return Err(format!("{} has no data", r.name));
        }
        let Some(tol) = m.judge.tolerance() else {
            continue;
        };
        let dir = m.judge.direction;
        if (dir.allows_increase() && tol.allowed_increase <= 1.0)
            || (dir.allows_decrease() && tol.allowed_decrease >= 1.0)
        {
            return Err(format!(
                "{} tolerates no change (allowed_increase 1.0): nothing can pass early",
                r.name
            ));
        }
        let Some((lo, hi)) = r.test.as_ref().and_then(|t| ratio_interval(t, r)) else {
            return Err(format!("{} has no interval to bound its change", r.name));
        };
        if dir.allows_increase() && (hi.is_nan() || hi >= tol.allowed_increase) {
            return Err(format!(
                "{}'s interval reaches a ratio of {:.3}, not within allowed_increase {}",
                r.name, hi, tol.allowed_increase
            ));
        }
        if dir.allows_decrease() && (lo.is_nan() || lo <= tol.allowed_decrease) {
            return Err(format!(
                "{}'s interval reaches a ratio of {:.3}, not within allowed_decrease {}",
                r.name, lo, tol.allowed_decrease
            ));
        }
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err("no statistical metric to bound".into())
    }
}

/// The largest z in [0, Z_MAX] at which the judgment fails, given that it fails at `boundary`
/// (`fails_at_boundary`) or not: bisection, keeping a failing lower end and a passing upper
/// one, so that the result is ≥ boundary exactly when the boundary judgment fails.
fn evidence(
    template: &Template,
    obs: &BTreeMap<String, Observation>,
    boundary: f64,
    fails_at_boundary: bool,
) -> f64 {
    let fails =
        |z: f64| judge_at(template, obs, upper_tail(z).min(0.4999)).verdict == Verdict::Fail;
    let (mut lo, mut hi) = if fails_at_boundary {
        if fails(Z_MAX) {
            return Z_MAX;
        }
        (boundary, Z_MAX)
    } else {
        if !fails(0.0) {
            return 0.0;
        }
        (0.0, boundary)
    };
    for _ in 0..EVIDENCE_STEPS {
        let mid = 0.5 * (lo + hi);
        if fails(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Judges one look of a sequence: the template at the look's level, its evidence, the decision
/// and the projection. The report is the judgment at the look's level (its intervals are those
/// the decision used). Costs about 14 judgments (the evidence search); [`decide_look`] costs
/// one.
pub fn judge_look(
    template: &Template,
    observations: &BTreeMap<String, Observation>,
    spec: &SequentialSpec,
    look: &Look,
) -> (Report, SequentialReport) {
    let divisor = tails(template);
    let plan = plan(spec, look, divisor, cumulative(template));
    let report = judge_at(template, observations, plan.level);
    let failed = report.verdict == Verdict::Fail;
    let fixed_fail = failed && fails_whatever_the_level(template, &report);
    let evidence = if divisor == 0 || fixed_fail {
        None
    } else {
        Some(evidence(template, observations, plan.boundary, failed))
    };
    let of = match look.horizon {
        Horizon::Looks(n) => Some(n),
        Horizon::Open => None,
    };
    let early = if spec.pass_early && !failed {
        Some(passes_early(template, &report))
    } else {
        None
    };
    let decision = if failed {
        Decision::Fail
    } else if plan.last || matches!(early, Some(Ok(()))) {
        Decision::Pass
    } else {
        Decision::Continue
    };
    let looks_to_decision = match (decision, evidence) {
        (Decision::Continue, Some(e)) if e > 0.0 => {
            let theta = e / plan.t.sqrt();
            plan.ahead
                .iter()
                .position(|&(t, b)| theta * t.sqrt() >= b)
                .map(|i| i + 1)
        }
        _ => None,
    };
    let ev = |e: Option<f64>| e.map_or("none".to_string(), |e| format!("{e:.2}"));
    let k = look.number.max(1);
    let at = match of {
        Some(n) => format!("look {k} of {n}"),
        None => format!("look {k}"),
    };
    let reason = match decision {
        Decision::Fail if fixed_fail => format!(
            "{at}: fail whatever the level ({}), so no evidence is computed",
            level_free_cause(template, &report)
        ),
        Decision::Fail => format!(
            "{at}: evidence {} reached the boundary {:.2}: fail",
            ev(evidence),
            plan.boundary
        ),
        Decision::Pass if plan.last && !matches!(early, Some(Ok(()))) => format!(
            "{at}: evidence {} stayed below the boundary {:.2} at the last look: pass",
            ev(evidence),
            plan.boundary
        ),
        Decision::Pass => format!(
            "{at}: evidence {} below the boundary {:.2} and every interval within its tolerance: pass early",
            ev(evidence),
            plan.boundary
        ),
        Decision::Continue => {
            let projection = match looks_to_decision {
                Some(n) => format!("; at this effect a fail would take {n} more look(s)"),
                None => "; at this effect no fail is in sight".to_string(),
            };
            let not_early = match &early {
                Some(Err(why)) => format!("; not passed early: {why}"),
                _ => String::new(),
            };
            format!(
                "{at}: evidence {} below the boundary {:.2}: continue{projection}{not_early}",
                ev(evidence),
                plan.boundary
            )
        }
    };
    let seq = SequentialReport {
        look: k,
        of,
        evidence,
        boundary: plan.boundary,
        decision,
        level: plan.level,
        alpha: spec.alpha,
        method: plan.method,
        pass_boundary: spec.pass_early.then_some(plan.boundary),
        looks_to_decision,
        reason,
        spending: spec.spending,
        pass_early: spec.pass_early,
        nested: look.nested,
    };
    (report, seq)
}

/// What makes a judgment fail whatever the level, in words.
fn level_free_cause(template: &Template, report: &Report) -> String {
    let mut causes = Vec::new();
    for (r, m) in report.metrics.iter().zip(&template.metrics) {
        match r.classification {
            Classification::High | Classification::Low if m.judge.tolerance().is_none() => causes
                .push(format!(
                    "threshold metric {} is {}",
                    r.name,
                    r.classification.as_str()
                )),
            Classification::NodataFail => causes.push(format!("{} must have data", r.name)),
            Classification::Nodata | Classification::Error
                if template.scoring.on_nodata == OnNodata::Fail =>
            {
                causes.push(format!("{} has no data", r.name))
            }
            _ => {}
        }
    }
    if causes.is_empty() {
        "the score of the metrics that have no error rate".into()
    } else {
        causes.join(", ")
    }
}
