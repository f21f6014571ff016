//! `auto` on the changes it must catch, as deterministic cases with their expected
//! classification: a step at the middle, the first third and two thirds, in independent and
//! autocorrelated noise; six spikes in sixty points; an unchanged autocorrelated pair with a
//! step both sides share; and where the report says the change started.
//!
//! The noise is a fixed pseudo-random sequence (a 64-bit LCG through Box-Muller), so each case
//! is one fixed pair of series. The rates these cases stand for are measured by
//! `cargo bench --bench quality`, not here.

use canaryd::judge::{classify_metric, Classification, MetricReport};
use canaryd::source::Observation;
use canaryd::template::{parse_template, MetricSpec};

struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// `n` points around 200 with a 10% coefficient of variation: independent (`rho` 0) or a
    /// first-order autoregression with lag-1 correlation `rho`.
    fn series(&mut self, n: usize, rho: f64) -> Vec<f64> {
        let mut x = self.normal();
        (0..n)
            .map(|_| {
                x = rho * x + (1.0 - rho * rho).sqrt() * self.normal();
                200.0 * (1.0 + 0.1 * x)
            })
            .collect()
    }
}

fn auto() -> MetricSpec {
    let yaml = "name: t\nsource: recorded\nmetrics:\n  - name: latency\n    query: q{v=\"${scope}\"}\n    judge: { test: auto, direction: increase, allowed_increase: 1.05 }\n";
    parse_template(yaml, "t.yaml")
        .expect("a valid template")
        .metrics
        .remove(0)
}

fn judge(baseline: &[f64], canary: &[f64]) -> MetricReport {
    let obs = Observation::from_values(
        baseline.iter().copied().map(Some).collect(),
        canary.iter().copied().map(Some).collect(),
    );
    classify_metric(&auto(), Some(&obs))
}

fn stepped(mut v: Vec<f64>, from: usize, factor: f64) -> Vec<f64> {
    for x in &mut v[from..] {
        *x *= factor;
    }
    v
}

#[test]
fn a_step_is_caught_wherever_it_starts_in_independent_and_autocorrelated_noise() {
    // Lag-1 0.5: at 0.8, 120 points are worth about 13 independent ones and a step from the
    // first third is caught 85% of the time (the quality bench, step_early/ar1).
    for (seed, rho) in [(1u64, 0.0), (2, 0.5)] {
        for (n, from) in [(120, 60), (120, 40), (120, 80), (60, 30)] {
            let mut noise = Noise(seed * 1000 + from as u64);
            let baseline = noise.series(n, rho);
            let canary = stepped(noise.series(n, rho), from, 1.4);
            let m = judge(&baseline, &canary);
            assert_eq!(
                m.classification,
                Classification::High,
                "rho {rho}, step at {from} of {n}: {}",
                m.reason
            );
            // Where: within Bai's interval, and that interval within a few points of the truth.
            let c = m.change_point.as_ref().unwrap_or_else(|| {
                panic!("rho {rho}, {from} of {n}: no change point: {}", m.reason)
            });
            assert!(
                c.index.abs_diff(from) <= 3 && c.interval[0] <= from && from <= c.interval[1],
                "rho {rho}: step at {from}, reported {} in {:?}",
                c.index,
                c.interval
            );
            assert_eq!(c.direction, "up");
            assert!(c.after > 0.25 && c.before.abs() < 0.1, "{c:?}");
            assert!(
                m.reason.contains("the canary stepped up at point"),
                "{}",
                m.reason
            );
        }
    }
}

#[test]
fn six_spikes_in_sixty_points_are_caught() {
    let mut noise = Noise(7);
    let baseline = noise.series(60, 0.0);
    let mut canary = noise.series(60, 0.0);
    for i in [4, 13, 22, 35, 47, 56] {
        canary[i] *= 6.0;
    }
    let m = judge(&baseline, &canary);
    assert_eq!(m.classification, Classification::High, "{}", m.reason);
}

#[test]
fn a_step_both_sides_share_is_no_regression() {
    for seed in [11u64, 12, 13] {
        let mut noise = Noise(seed);
        let baseline = stepped(noise.series(120, 0.8), 60, 1.4);
        let canary = stepped(noise.series(120, 0.8), 60, 1.4);
        let m = judge(&baseline, &canary);
        assert_eq!(
            m.classification,
            Classification::Pass,
            "seed {seed}: {}",
            m.reason
        );
        assert!(
            m.change_point.is_none(),
            "seed {seed}: {:?}",
            m.change_point
        );
    }
}

#[test]
fn unchanged_series_report_no_change_point() {
    for (seed, rho) in [(21u64, 0.0), (22, 0.5), (23, 0.8)] {
        let mut noise = Noise(seed);
        let m = judge(&noise.series(120, rho), &noise.series(120, rho));
        assert_eq!(m.classification, Classification::Pass, "{}", m.reason);
        assert!(m.change_point.is_none(), "rho {rho}: {:?}", m.change_point);
    }
}

#[test]
fn the_change_point_has_a_time_when_the_grid_is_known() {
    let mut noise = Noise(31);
    let baseline = noise.series(120, 0.0);
    let canary = stepped(noise.series(120, 0.0), 61, 1.4);
    let mut obs = Observation::from_values(
        baseline.iter().copied().map(Some).collect(),
        canary.iter().copied().map(Some).collect(),
    );
    obs.start = Some("2026-12-01T14:00:00Z".parse().unwrap());
    obs.step_seconds = Some(10);
    let m = classify_metric(&auto(), Some(&obs));
    let c = m.change_point.as_ref().expect("a change point");
    assert_eq!(c.index, 61, "{c:?}");
    assert_eq!(
        c.time.map(|t| t.to_rfc3339()),
        Some("2026-12-01T14:10:10+00:00".to_string())
    );
    assert!(
        m.reason
            .contains("at 2026-12-01 14:10:10 UTC (point 62 of 120)"),
        "{}",
        m.reason
    );
    let json = serde_json::to_value(&m).unwrap();
    for key in ["index", "time", "before", "after", "confidence"] {
        assert!(json["change_point"].get(key).is_some(), "{key}: {json}");
    }
}
