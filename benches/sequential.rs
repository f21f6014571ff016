//! Measured sequential judging (issue 17): the whole-rollout false-fail rate, the look at
//! which a regression is caught and the share of clean canaries passed early, for sequential
//! looks (`judge::sequential`, `sequential: {alpha: 0.05}`) beside fixed per-interval judging
//! (the same judge at 95%, failing at the first failed look) and Kayenta's rule per interval
//! (`test: kayenta` at its defaults, failing likewise).
//!
//! Scenarios (generated here, fixed seeds): each interval adds `PER_LOOK` = 25 points to both
//! sides and look k judges the first 25k points (growing, nested windows, as a scheduled
//! analysis does). Latency-like families are 100 × pattern × exp(0.25 e) with e
//! - `iid`: independent standard normals;
//! - `ar1`: AR(1) with ρ = 0.5 (stationary, unit variance);
//! - `pattern`: AR(1) ρ = 0.5 on a shared traffic shape (1 + 0.3 sin, period 50 points, the
//!   same in both sides);
//! - `counts`: Poisson event counts, 1 per point (`test: counts`).
//!
//! Every judge is `direction: increase` (`auto`, `counts` for counts). A rollout fails when a
//! look fails; a clean rollout that fails anywhere is a false fail. Regressions (K = 12):
//! `+20%` on `ar1` from the start, `x1.3 step` on `pattern` from look 3, `3x errors` on counts
//! (0.2 → 0.6 events a point) from the start; the caught look is the first failing look (its
//! median over the rollouts that were caught). Pass early: `allowed_increase: 1.2`, clean
//! `pattern` rollouts of K = 12.
//!
//! `SEQ_REPS` sets the rollouts per cell (default 200). Monte-Carlo errors are binomial
//! standard errors √(p(1−p)/n).

use std::collections::BTreeMap;
use std::time::Instant;

use canaryd::judge::sequential::{decide_look, Decision, Horizon, Look, SequentialSpec};
use canaryd::judge::{judge, Verdict};
use canaryd::source::Observation;
use canaryd::stats::sequential::Spending;
use canaryd::template::{parse_template, Template};

const PER_LOOK: usize = 25;
const ALPHA: f64 = 0.05;
const KS: [usize; 5] = [1, 3, 6, 12, 24];
const DETECT_K: usize = 12;

/// A regression scenario: its name, family, event rate (counts) and the canary's multiplier at
/// point i.
type Regression = (&'static str, Family, f64, fn(usize) -> f64);

/// xoshiro256** seeded by splitmix64: small, fast and reproducible.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e3779b97f4a7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
            x ^ (x >> 31)
        };
        Rng([next(), next(), next(), next()])
    }
    fn u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }
    fn uniform(&mut self) -> f64 {
        ((self.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn poisson(&mut self, lambda: f64) -> f64 {
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0.0, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1.0;
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Iid,
    Ar1,
    Pattern,
    Counts,
}

impl Family {
    const ALL: [Family; 4] = [Family::Iid, Family::Ar1, Family::Pattern, Family::Counts];
    fn name(self) -> &'static str {
        match self {
            Family::Iid => "iid",
            Family::Ar1 => "ar1",
            Family::Pattern => "pattern",
            Family::Counts => "counts",
        }
    }
}

/// One side of `n` points; `effect(i)` multiplies point i (the rate for counts).
fn side(
    rng: &mut Rng,
    family: Family,
    n: usize,
    rate: f64,
    effect: &dyn Fn(usize) -> f64,
) -> Vec<f64> {
    let rho: f64 = if family == Family::Iid { 0.0 } else { 0.5 };
    let mut e = rng.normal();
    (0..n)
        .map(|i| {
            if i > 0 {
                e = rho * e + (1.0 - rho * rho).sqrt() * rng.normal();
            }
            match family {
                Family::Counts => rng.poisson(rate * effect(i)),
                Family::Pattern => {
                    let shape = 1.0 + 0.3 * (2.0 * std::f64::consts::PI * i as f64 / 50.0).sin();
                    100.0 * shape * (0.25 * e).exp() * effect(i)
                }
                _ => 100.0 * (0.25 * e).exp() * effect(i),
            }
        })
        .collect()
}

fn template(test: &str, extra: &str) -> Template {
    let yaml = format!(
        "name: seq-bench\nsource: recorded\nmetrics:\n  - name: m\n    query: q{{v=\"${{scope}}\"}}\n    judge: {{ test: {test}, direction: increase{extra} }}\n"
    );
    parse_template(&yaml, "seq-bench.yaml").unwrap_or_else(|e| panic!("the bench's template: {e}"))
}

fn window(baseline: &[f64], canary: &[f64], k: usize) -> BTreeMap<String, Observation> {
    let n = k * PER_LOOK;
    let some = |v: &[f64]| v[..n].iter().copied().map(Some).collect();
    BTreeMap::from([(
        "m".to_string(),
        Observation::from_values(some(baseline), some(canary)),
    )])
}

/// The judges of one family: sequential (and fixed at 95%), Kayenta's rule.
struct Judges {
    stat: Template,
    kayenta: Template,
    pass_early: Template,
}

impl Judges {
    fn of(family: Family) -> Judges {
        let test = if family == Family::Counts {
            "counts"
        } else {
            "auto"
        };
        Judges {
            stat: template(test, ""),
            kayenta: template("kayenta", ""),
            pass_early: template(test, ", allowed_increase: 1.2"),
        }
    }
}

/// The first failing look of fixed judging and of Kayenta's rule over `looks` looks.
fn first_fixed_fails(
    j: &Judges,
    b: &[f64],
    c: &[f64],
    looks: usize,
) -> (Option<usize>, Option<usize>) {
    let (mut fixed, mut kay) = (None, None);
    for k in 1..=looks {
        let obs = window(b, c, k);
        if fixed.is_none() && judge(&j.stat, &obs).verdict == Verdict::Fail {
            fixed = Some(k);
        }
        if kay.is_none() && judge(&j.kayenta, &obs).verdict == Verdict::Fail {
            kay = Some(k);
        }
        if fixed.is_some() && kay.is_some() {
            break;
        }
    }
    (fixed, kay)
}

/// The sequential run: the look of the decision that ended it and that decision.
fn sequential(
    t: &Template,
    b: &[f64],
    c: &[f64],
    looks: usize,
    pass_early: bool,
) -> (usize, Decision) {
    let spec = SequentialSpec {
        alpha: ALPHA,
        pass_early,
        spending: Spending::Pocock,
    };
    for k in 1..=looks {
        let look = Look {
            number: k,
            horizon: Horizon::Looks(looks),
            nested: true,
        };
        let d = decide_look(t, &window(b, c, k), &spec, &look);
        if d != Decision::Continue {
            return (k, d);
        }
    }
    (looks, Decision::Pass)
}

fn se(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n as f64).sqrt()
}

fn pct(p: f64) -> String {
    format!("{:5.1}%", 100.0 * p)
}

fn median(v: &mut [usize]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` (the test suite) does not: then a
    // smoke run of a few rollouts a cell, which checks that the bench runs, not its figures.
    let benching = std::env::args().any(|a| a == "--bench");
    let reps: usize = std::env::var("SEQ_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 200 } else { 2 });
    let start = Instant::now();
    let kmax = *KS.iter().max().unwrap_or(&24);
    let mut goals: Vec<(String, bool)> = Vec::new();

    println!("# Sequential analyses: whole-rollout false fails on clean pairs (alpha = {ALPHA}, {reps} rollouts a cell, {PER_LOOK} points a look)\n");
    println!("| family | K | sequential | fixed 95% | kayenta | MC error at alpha |");
    println!("|---|---:|---:|---:|---:|---:|");
    let bound = ALPHA + 2.0 * se(ALPHA, reps);
    for family in Family::ALL {
        let j = Judges::of(family);
        let mut seq_fail = [0usize; KS.len()];
        let mut fixed_fail = [0usize; KS.len()];
        let mut kay_fail = [0usize; KS.len()];
        for r in 0..reps {
            let mut rng = Rng::new(1_000_003 * (family as u64 + 1) + r as u64);
            let n = kmax * PER_LOOK;
            let b = side(&mut rng, family, n, 1.0, &|_| 1.0);
            let c = side(&mut rng, family, n, 1.0, &|_| 1.0);
            let (fixed, kay) = first_fixed_fails(&j, &b, &c, kmax);
            for (i, &k) in KS.iter().enumerate() {
                fixed_fail[i] += usize::from(fixed.is_some_and(|f| f <= k));
                kay_fail[i] += usize::from(kay.is_some_and(|f| f <= k));
                seq_fail[i] +=
                    usize::from(sequential(&j.stat, &b, &c, k, false).1 == Decision::Fail);
            }
        }
        for (i, &k) in KS.iter().enumerate() {
            let p = seq_fail[i] as f64 / reps as f64;
            println!(
                "| {} | {k} | {} | {} | {} | ±{} |",
                family.name(),
                pct(p),
                pct(fixed_fail[i] as f64 / reps as f64),
                pct(kay_fail[i] as f64 / reps as f64),
                pct(se(ALPHA, reps)),
            );
            goals.push((
                format!(
                    "false fails {} K={k}: {} ≤ alpha + 2 MC errors {}",
                    family.name(),
                    pct(p),
                    pct(bound)
                ),
                p <= bound,
            ));
        }
    }

    println!("\n# Look at which a regression is caught (K = {DETECT_K}; median over the rollouts caught)\n");
    println!(
        "| regression | sequential | fixed 95% | kayenta | caught: sequential / fixed / kayenta |"
    );
    println!("|---|---:|---:|---:|---:|");
    let scenarios: [Regression; 3] = [
        ("+20% from the start (ar1)", Family::Ar1, 1.0, |_| 1.2),
        ("x1.3 step at look 3 (pattern)", Family::Pattern, 1.0, |i| {
            if i >= 2 * PER_LOOK {
                1.3
            } else {
                1.0
            }
        }),
        ("3x errors (counts)", Family::Counts, 0.2, |_| 3.0),
    ];
    for (name, family, rate, effect) in scenarios {
        let j = Judges::of(family);
        let (mut s, mut f, mut k) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..reps {
            let mut rng = Rng::new(7_000_001 * (family as u64 + 1) + r as u64);
            let n = DETECT_K * PER_LOOK;
            let b = side(&mut rng, family, n, rate, &|_| 1.0);
            let c = side(&mut rng, family, n, rate, &effect);
            let (fixed, kay) = first_fixed_fails(&j, &b, &c, DETECT_K);
            let (look, d) = sequential(&j.stat, &b, &c, DETECT_K, false);
            if d == Decision::Fail {
                s.push(look);
            }
            f.extend(fixed);
            k.extend(kay);
        }
        let caught = (s.len(), f.len(), k.len());
        let (ms, mf, mk) = (median(&mut s), median(&mut f), median(&mut k));
        let show = |m: Option<f64>| m.map_or("-".to_string(), |m| format!("{m}"));
        println!(
            "| {name} | {} | {} | {} | {} / {} / {} |",
            show(ms),
            show(mf),
            show(mk),
            pct(caught.0 as f64 / reps as f64),
            pct(caught.1 as f64 / reps as f64),
            pct(caught.2 as f64 / reps as f64),
        );
        goals.push((
            format!(
                "{name}: median look sequential {} ≤ fixed {} + 1",
                show(ms),
                show(mf)
            ),
            matches!((ms, mf), (Some(a), Some(b)) if a <= b + 1.0),
        ));
    }

    println!("\n# Pass early (allowed_increase 1.2, clean pattern rollouts, K = {DETECT_K})\n");
    let j = Judges::of(Family::Pattern);
    let (mut early, mut fails, mut looks) = (0usize, 0usize, Vec::new());
    for r in 0..reps {
        let mut rng = Rng::new(9_000_011 + r as u64);
        let n = DETECT_K * PER_LOOK;
        let b = side(&mut rng, Family::Pattern, n, 1.0, &|_| 1.0);
        let c = side(&mut rng, Family::Pattern, n, 1.0, &|_| 1.0);
        let (look, d) = sequential(&j.pass_early, &b, &c, DETECT_K, true);
        match d {
            Decision::Pass if look < DETECT_K => {
                early += 1;
                looks.push(look);
            }
            Decision::Fail => fails += 1,
            _ => {}
        }
    }
    let share = early as f64 / reps as f64;
    println!(
        "passed before the last look: {} ± {} (median look {}), failed: {}",
        pct(share),
        pct(se(share, reps)),
        median(&mut looks).map_or("-".to_string(), |m| format!("{m}")),
        pct(fails as f64 / reps as f64)
    );
    goals.push((
        format!(
            "pass early: {} of clean canaries before the last look ≥ 50%",
            pct(share)
        ),
        share >= 0.5,
    ));

    println!("\n# Goals of issue 17\n");
    for (goal, met) in &goals {
        println!("- [{}] {goal}", if *met { "met" } else { "NOT met" });
    }
    println!(
        "\n{reps} rollouts a cell, {:.0} s",
        start.elapsed().as_secs_f64()
    );
}
