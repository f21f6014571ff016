//! Times `canaryd::stats::mann_whitney` for `scripts/bench-vs-r.sh`.
//!
//! Usage: `mw_timing SIZE RUNS DIR`. Generates deterministic latency-like samples of SIZE
//! values each (canary shifted by 0.002), writes them to `DIR/x.csv` and `DIR/y.csv` (one value
//! per line, shortest round-trip form, so R reads the very same doubles), runs the full test
//! RUNS times and prints one line:
//! `seconds=MEDIAN method=M statistic=W p_value=P estimate=E lo=L hi=H confidence=C`.

use std::time::Instant;

use canaryd::stats::{mann_whitney, Method};

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

fn write_csv(path: &std::path::Path, values: &[f64]) -> std::io::Result<()> {
    let text: String = values.iter().map(|v| format!("{v:?}\n")).collect();
    std::fs::write(path, text)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: mw_timing SIZE RUNS DIR".into());
    }
    let size: usize = args[1].parse()?;
    let runs: usize = args[2].parse::<usize>()?.max(1);
    let dir = std::path::Path::new(&args[3]);
    let x = sample(size, 1, 0.002);
    let y = sample(size, 2, 0.0);
    write_csv(&dir.join("x.csv"), &x)?;
    write_csv(&dir.join("y.csv"), &y)?;

    let mut seconds = Vec::with_capacity(runs);
    let mut result = None;
    for _ in 0..runs {
        let start = Instant::now();
        let r = mann_whitney(&x, &y, 0.95)?;
        seconds.push(start.elapsed().as_secs_f64());
        result = Some(r);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let r = result.ok_or("no run")?;
    let method = match r.method {
        Method::Exact => "exact",
        Method::Normal => "normal",
    };
    println!(
        "seconds={median:?} method={method} statistic={:?} p_value={:?} estimate={:?} lo={:?} hi={:?} confidence={:?}",
        r.statistic, r.p_value, r.estimate, r.ci.0, r.ci.1, r.confidence
    );
    Ok(())
}
