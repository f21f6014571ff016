//! Printing benchmark of the full `mann_whitney` computation (statistic, p-value, estimate and
//! interval; the normal branch on continuous data) at n = m = 10^3 .. 10^6, next to
//! `sort_unstable` of the same 2n values, to `test: auto` as a whole (`canaryd::judge` on a
//! one-metric template) and to `signed_rank` (auto's paired test) on the same values as n
//! pairs, in one run so that the ratios are comparable (issue 18, item 1).
//!
//! The data are deterministic (a fixed linear congruential generator): latency-like
//! exponential samples with a small shift. Each time is the best of a few repetitions, since
//! the machine is shared. The goal: `mann_whitney` within 5x of the sort at 10^4 .. 10^6.
//!
//! Run: `cargo bench --bench mann_whitney` (add `-- --sizes 1000,10000` to pick sizes).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use canaryd::observation::Observation;
use canaryd::stats::{mann_whitney, signed_rank};
use canaryd::template::parse_template;

/// The ratio to the sort that `mann_whitney` should stay within at 10^4 and above.
const GOAL_RATIO: f64 = 5.0;

/// Deterministic latency-like samples: 0.2 + exponential(mean 0.02) + shift.
fn sample(len: usize, seed: u64, shift: f64) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            0.2 - 0.02 * u.ln() + shift
        })
        .collect()
}

/// The best of `reps` runs of `f` (each run prepared by `setup`, untimed).
fn best_of<S, T>(reps: usize, mut setup: impl FnMut() -> S, mut f: impl FnMut(S) -> T) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..reps {
        let input = setup();
        let start = Instant::now();
        black_box(f(input));
        best = best.min(start.elapsed());
    }
    best
}

fn repetitions(len: usize) -> usize {
    match len {
        0..=1_000 => 30,
        1_001..=10_000 => 10,
        10_001..=100_000 => 5,
        _ => 3,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| {
            // `cargo bench` passes --bench; `cargo test --benches` (the test suite) does not:
            // then a smoke run at the smallest size, which checks the bench runs.
            if args.iter().any(|a| a == "--bench") {
                vec![1_000, 10_000, 100_000, 1_000_000]
            } else {
                vec![1_000]
            }
        });
    let template = parse_template(
        "name: mw-bench\nsource: recorded\nmetrics:\n  - name: latency\n    query: q{v=\"${scope}\"}\n    judge: { test: auto, direction: increase }\n",
        "mann_whitney bench template",
    )
    .expect("the bench template is valid");

    println!(
        "{:>9} | {:>14} | {:>14} | {:>6} | {:>14} | {:>9} | {:>14} | {:>8} | goal (<= {GOAL_RATIO}x sort)",
        "n = m",
        "mann_whitney",
        "sort of 2n",
        "ratio",
        "auto (judge)",
        "auto/sort",
        "signed_rank",
        "sr/sort"
    );
    for len in sizes {
        let canary = sample(len, 1, 0.002);
        let baseline = sample(len, 2, 0.0);
        let reps = repetitions(len);
        let mw = best_of(
            reps,
            || (),
            |()| mann_whitney(black_box(&canary), black_box(&baseline), 0.95),
        );
        let pooled: Vec<f64> = canary.iter().chain(&baseline).copied().collect();
        let sort = best_of(
            reps,
            || pooled.clone(),
            |mut v| {
                v.sort_unstable_by(f64::total_cmp);
                v
            },
        );
        let observations: BTreeMap<String, Observation> = [(
            "latency".to_string(),
            Observation::from_values(
                baseline.iter().map(|&v| Some(v)).collect(),
                canary.iter().map(|&v| Some(v)).collect(),
            ),
        )]
        .into_iter()
        .collect();
        let auto = best_of(
            reps.min(3),
            || (),
            |()| canaryd::judge::judge(&template, black_box(&observations)),
        );
        // The paired test of `auto` on the same values taken as n pairs.
        let paired = best_of(
            reps,
            || (),
            |()| signed_rank(black_box(&canary), black_box(&baseline), 0.95),
        );
        let ratio = mw.as_secs_f64() / sort.as_secs_f64();
        let goal = if len < 10_000 {
            "(not a goal below 10^4)".to_string()
        } else if ratio <= GOAL_RATIO {
            "met".to_string()
        } else {
            "NOT met".to_string()
        };
        println!(
            "{len:>9} | {:>14} | {:>14} | {ratio:>5.1}x | {:>14} | {:>8.1}x | {:>14} | {:>7.1}x | {goal}",
            ms(mw),
            ms(sort),
            ms(auto),
            auto.as_secs_f64() / sort.as_secs_f64(),
            ms(paired),
            paired.as_secs_f64() / sort.as_secs_f64(),
        );
    }
}
