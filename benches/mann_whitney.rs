//! Criterion benchmark of the full `mann_whitney` computation (statistic, p-value, estimate and
//! interval) on continuous data, so the normal branch, at n = m = 1,000, 10,000 and 100,000.
//! The data are deterministic (a fixed linear congruential generator) with a modest shift.
//!
//! Run: `cargo bench --bench mann_whitney`.

use std::hint::black_box;

use canaryd::stats::mann_whitney;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

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

fn bench_mann_whitney(c: &mut Criterion) {
    let mut group = c.benchmark_group("mann_whitney");
    group.sample_size(10);
    for len in [1_000usize, 10_000, 100_000] {
        let canary = sample(len, 1, 0.002);
        let baseline = sample(len, 2, 0.0);
        group.bench_with_input(BenchmarkId::from_parameter(len), &len, |b, _| {
            b.iter(|| mann_whitney(black_box(&canary), black_box(&baseline), 0.95))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mann_whitney);
criterion_main!(benches);
