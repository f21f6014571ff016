//! The paired statistics of `auto` (`stats::signed_rank`, `stats::paired`) against R 4.2 on
//! every case of `fixtures/stats/signed-rank-reference.json` (written by
//! `scripts/r-reference/generate-signed-rank.R`; R is not needed to run this).
//!
//! The bar:
//! - `signed_rank` = `wilcox.test(x, y, paired = TRUE, conf.int = TRUE)`: V equal; p-value
//!   within 1e-9 relative; exact branch: estimate, interval and level equal (1e-12 relative);
//!   normal branch: interval ends within 1e-4 absolute of R's `uniroot(tol = 1e-4)` answer
//!   (data of unit scale), the estimate within 1e-4 of R's or in the same gap of Walsh
//!   averages (where R's function is 0 on the whole gap R stops anywhere inside it);
//! - `signed_rank_inflated` with inflation 1 = R with `exact = FALSE`, to the same bar; with
//!   inflation 4 the p-value within 1e-9 relative of the same statistic on Student's t (R's `pt`);
//! - Pearson's r of the series and Spearman's r of sums and differences within 1e-12 absolute.

use canaryd::stats::paired::{pearson, spearman};
use canaryd::stats::{signed_rank, signed_rank_inflated, Method, SignedRank};
use serde::Deserialize;

fn exact_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct RResult {
    statistic: f64,
    p_value: f64,
    estimate: f64,
    ci: [f64; 2],
    confidence: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(deserialize_with = "exact_vec")]
    x: Vec<f64>,
    #[serde(deserialize_with = "exact_vec")]
    y: Vec<f64>,
    conf: f64,
    exact: bool,
    default: RResult,
    normal: RResult,
    pearson: f64,
    spearman_sum_diff: f64,
    /// The normal branch's p-value with the variance inflated 4 times, on Student's t.
    p_inflated4: f64,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/signed-rank-reference.json"
    ))
    .expect("fixture readable");
    serde_json::from_str(&text).expect("fixture parses")
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// The widest gap among the Walsh averages around the median (where R's estimate may stop).
fn median_gap(x: &[f64], y: &[f64]) -> f64 {
    let d: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .filter(|v| *v != 0.0)
        .collect();
    let mut w = Vec::new();
    for i in 0..d.len() {
        for j in i..d.len() {
            w.push((d[i] + d[j]) / 2.0);
        }
    }
    w.sort_by(f64::total_cmp);
    let m = w.len() / 2;
    let lo = m.saturating_sub(2);
    let hi = (m + 2).min(w.len() - 1);
    w[hi] - w[lo]
}

fn check_normal(case: &Case, ours: &SignedRank, r: &RResult) {
    let name = &case.name;
    assert_eq!(ours.statistic, r.statistic, "{name}: V");
    assert!(
        close(ours.p_value, r.p_value, 1e-9),
        "{name}: p {} vs {}",
        ours.p_value,
        r.p_value
    );
    assert!(
        (ours.ci.0 - r.ci[0]).abs() <= 1e-4,
        "{name}: lower {} vs {}",
        ours.ci.0,
        r.ci[0]
    );
    assert!(
        (ours.ci.1 - r.ci[1]).abs() <= 1e-4,
        "{name}: upper {} vs {}",
        ours.ci.1,
        r.ci[1]
    );
    let gap = median_gap(&case.x, &case.y);
    assert!(
        (ours.estimate - r.estimate).abs() <= 1e-4 + gap,
        "{name}: estimate {} vs {}",
        ours.estimate,
        r.estimate
    );
    assert!(close(ours.confidence, r.confidence, 1e-12), "{name}: level");
}

#[test]
fn signed_rank_matches_r_paired_wilcox_test() {
    let f = fixture();
    assert!(f.cases.len() >= 30);
    let mut exact_cases = 0;
    for case in &f.cases {
        let ours = signed_rank(&case.x, &case.y, case.conf).unwrap();
        let r = &case.default;
        if case.exact {
            exact_cases += 1;
            let name = &case.name;
            assert_eq!(ours.method, Method::Exact, "{name}");
            assert_eq!(ours.statistic, r.statistic, "{name}: V");
            assert!(close(ours.p_value, r.p_value, 1e-9), "{name}: p");
            assert!(close(ours.estimate, r.estimate, 1e-12), "{name}: estimate");
            assert!(close(ours.ci.0, r.ci[0], 1e-12), "{name}: lower");
            assert!(close(ours.ci.1, r.ci[1], 1e-12), "{name}: upper");
            assert!(close(ours.confidence, r.confidence, 1e-12), "{name}: level");
        } else {
            assert_eq!(ours.method, Method::Normal, "{}", case.name);
            check_normal(case, &ours, r);
        }
        let normal = signed_rank_inflated(&case.x, &case.y, case.conf, 1.0).unwrap();
        check_normal(case, &normal, &case.normal);
    }
    assert!(exact_cases >= 10, "{exact_cases}");
}

#[test]
fn inflation_widens_the_interval_and_raises_p() {
    let f = fixture();
    // From 20 pairs on (below, R's loop that doubles an unachievable alpha can narrow it).
    // The p-value with inflation 4 is R's (pt on n / 4 - 1 degrees of freedom).
    for case in f.cases.iter().filter(|c| c.x.len() >= 20) {
        let a = signed_rank_inflated(&case.x, &case.y, case.conf, 1.0).unwrap();
        let b = signed_rank_inflated(&case.x, &case.y, case.conf, 4.0).unwrap();
        assert!(b.p_value >= a.p_value, "{}", case.name);
        assert!(
            close(b.p_value, case.p_inflated4, 1e-9),
            "{}: inflated p {} vs R {}",
            case.name,
            b.p_value,
            case.p_inflated4
        );
        assert!(b.ci.0 <= a.ci.0 && b.ci.1 >= a.ci.1, "{}", case.name);
    }
}

#[test]
fn correlations_match_r() {
    for case in &fixture().cases {
        let r = pearson(&case.x, &case.y).unwrap();
        assert!(
            (r - case.pearson).abs() < 1e-12,
            "{}: {r} vs {}",
            case.name,
            case.pearson
        );
        let s: Vec<f64> = case.x.iter().zip(&case.y).map(|(a, b)| a + b).collect();
        let d: Vec<f64> = case.x.iter().zip(&case.y).map(|(a, b)| a - b).collect();
        let rs = spearman(&s, &d).unwrap();
        assert!(
            (rs - case.spearman_sum_diff).abs() < 1e-12,
            "{}: {rs} vs {}",
            case.name,
            case.spearman_sum_diff
        );
    }
}
