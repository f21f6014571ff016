//! The change point, the dependence estimate around it and the mean test with the baseline's
//! variance, against R 4.2 (and strucchange 1.5) on every case of
//! `fixtures/stats/change-point-reference.json` (written by
//! `scripts/r-reference/generate-change-point.R`).
//!
//! Tolerances: the break index exactly; the residual autocorrelation and its correction within
//! 1e-12 absolute; the Wald statistic and the mean test within 1e-9 relative (1e-12 absolute);
//! Bai's interval exactly (it is whole points of the same formula). strucchange's own interval
//! uses Bai's exact, asymmetric distribution (different variances on the two sides); ours is
//! the symmetric approximation with factor 11, within 3 points of it at each end on
//! independent noise with a clear step (3 standard deviations or more).

use canaryd::stats::autocorrelation::change_robust_lag1;
use canaryd::stats::change_point::change_point;
use canaryd::stats::mean_shift::mean_shift;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    r: String,
    change: Vec<Change>,
    mean: Vec<Mean>,
}

#[derive(Deserialize)]
struct Change {
    y: Vec<f64>,
    rho: f64,
    step: f64,
    index: usize,
    residual_lag1: f64,
    residual_rho: f64,
    wald: f64,
    interval: (usize, usize),
    strucchange_interval: (Option<f64>, Option<f64>),
}

#[derive(Deserialize)]
struct Mean {
    x: Vec<f64>,
    y: Vec<f64>,
    ex: f64,
    ey: f64,
    conf: f64,
    difference: f64,
    statistic: f64,
    df: f64,
    p_value: f64,
    ci: (f64, f64),
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/change-point-reference.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture parses")
}

fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= rel * want.abs() || (got - want).abs() <= abs
}

#[test]
fn the_change_point_matches_strucchange_and_r() {
    let f = fixture();
    assert!(f.r.starts_with("R version 4.2"), "{}", f.r);
    assert!(f.change.len() >= 50);
    for (i, c) in f.change.iter().enumerate() {
        let cp = change_point(&c.y).unwrap_or_else(|| panic!("case {i}: no change point"));
        assert_eq!(cp.index, c.index, "case {i}: break index");
        let lag1 = cp.residual_lag1.expect("residuals vary");
        assert!(
            close(lag1, c.residual_lag1, 0.0, 1e-12),
            "case {i}: {lag1} vs {}",
            c.residual_lag1
        );
        let rho = cp.residual_rho.expect("residuals vary");
        assert!(
            close(rho, c.residual_rho, 0.0, 1e-12),
            "case {i}: {rho} vs {}",
            c.residual_rho
        );
        assert!(
            close(cp.wald, c.wald, 1e-9, 1e-12),
            "case {i}: wald {} vs {}",
            cp.wald,
            c.wald
        );
        assert_eq!(cp.interval, c.interval, "case {i}: Bai's interval");
        if c.rho == 0.0 && c.step >= 3.0 {
            if let (Some(lo), Some(hi)) = c.strucchange_interval {
                assert!(
                    (cp.interval.0 as f64 - lo).abs() <= 3.0
                        && (cp.interval.1 as f64 - hi).abs() <= 3.0,
                    "case {i}: {:?} vs strucchange [{lo}, {hi}]",
                    cp.interval
                );
            }
        }
    }
}

#[test]
fn the_mean_test_with_the_baseline_variance_matches_r() {
    let f = fixture();
    assert!(f.mean.len() >= 30);
    for (i, m) in f.mean.iter().enumerate() {
        let got = mean_shift(&m.x, &m.y, Some((m.ex, m.ey)), m.conf).expect("valid input");
        assert!(
            close(got.difference, m.difference, 1e-12, 1e-12),
            "case {i}"
        );
        assert!(
            close(got.statistic, m.statistic, 1e-9, 1e-12),
            "case {i}: t {} vs {}",
            got.statistic,
            m.statistic
        );
        assert!(close(got.df, m.df, 1e-12, 1e-12), "case {i}: df");
        assert!(
            close(got.p_value, m.p_value, 1e-9, 1e-15),
            "case {i}: p {} vs {}",
            got.p_value,
            m.p_value
        );
        assert!(
            close(got.ci.0, m.ci.0, 1e-9, 1e-9) && close(got.ci.1, m.ci.1, 1e-9, 1e-9),
            "case {i}: ci {:?} vs {:?}",
            got.ci,
            m.ci
        );
    }
}

/// A step half-way in independent noise makes the series look autocorrelated; around the
/// fitted change it does not. Without a change the estimate is the plain one.
#[test]
fn a_step_does_not_make_a_series_look_autocorrelated() {
    // Deterministic "noise": a fixed pseudo-random sequence (LCG), independent points.
    let mut state = 12345u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 20.0
    };
    let flat: Vec<f64> = (0..120).map(|_| 200.0 + noise()).collect();
    let mut stepped = flat.clone();
    for v in &mut stepped[60..] {
        *v *= 1.4;
    }
    let plain = canaryd::stats::lag1_autocorrelation(&stepped).unwrap();
    assert!(plain > 0.7, "the step alone looks like lag-1 {plain}");
    let (rho, at) = change_robust_lag1(&stepped);
    assert_eq!(at, Some(60));
    assert!(rho.unwrap().abs() < 0.25, "{rho:?}");
    let (rho_flat, at_flat) = change_robust_lag1(&flat);
    assert_eq!(at_flat, None);
    let corrected = canaryd::stats::autocorrelation::bias_corrected(
        canaryd::stats::lag1_autocorrelation(&flat).unwrap(),
        120,
    );
    assert_eq!(rho_flat, Some(corrected));
}

#[derive(Deserialize)]
struct SupWald {
    wald: f64,
    p_value: f64,
}

/// The p-value approximation of the sup-Wald statistic (James, James and Siegmund) against
/// strucchange's (Hansen's) at 15% trimming: never smaller (the step test stays within its
/// level), and within 30% of it where it decides (below 0.1).
#[test]
fn the_sup_wald_p_value_is_cautious_and_close_to_strucchange() {
    #[derive(Deserialize)]
    struct Only {
        sup_wald: Vec<SupWald>,
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/change-point-reference.json"
    );
    let f: Only = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(f.sup_wald.len() >= 8);
    for c in &f.sup_wald {
        let ours = canaryd::stats::change_point::sup_wald_p_value(c.wald, 100);
        assert!(ours >= c.p_value, "W = {}: {ours} < {}", c.wald, c.p_value);
        if c.p_value < 0.1 {
            assert!(
                ours <= 1.3 * c.p_value,
                "W = {}: {ours} vs {}",
                c.wald,
                c.p_value
            );
        }
    }
}
