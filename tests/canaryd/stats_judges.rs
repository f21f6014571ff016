//! The statistics behind the quantile, scale and auto judges and the autocorrelation
//! correction, against R 4.2 on every case of `fixtures/stats/judges-reference.json` (written
//! by `scripts/r-reference/generate-judges.R`; R is not needed to run this).
//!
//! The bar:
//! - lag-1 autocorrelation (R's `acf`) within 1e-12 absolute; the effective size within 1e-9
//!   relative;
//! - Brown-Forsythe: t and F within 1e-10 relative (R's `t.test` of the absolute deviations and
//!   `oneway.test`), p-value and interval ends within 1e-8 relative (statrs' incomplete beta);
//! - quantile comparison: both quantiles (R's `quantile(type = 7)`), the Woodruff standard
//!   errors, the interval and p-value within 1e-12 relative (1e-12 absolute near 0);
//! - Mann-Whitney normal branch with variance inflation 1: W equal, p-value within 1e-9
//!   relative, interval within 1e-4 absolute of R's `uniroot(tol = 1e-4)` answer
//!   (see `stats::mann_whitney`), the estimate too or in the same gap between pairwise
//!   differences as R's (where R's function is 0 on the whole gap); with the design effects, the p-value within 1e-9 relative.

use canaryd::stats::{
    brown_forsythe, compare_quantiles, effective_size, lag1_autocorrelation, mann_whitney_inflated,
};
use serde::Deserialize;

fn exact_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn exact<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
struct Fixture {
    r_version: String,
    pairs: Vec<Pair>,
    acf: Vec<AcfCase>,
    scale: Vec<ScaleCase>,
    quantile: Vec<QuantileCase>,
    wilcox: Vec<WilcoxCase>,
}

#[derive(Deserialize)]
struct Pair {
    #[serde(deserialize_with = "exact_vec")]
    x: Vec<f64>,
    #[serde(deserialize_with = "exact_vec")]
    y: Vec<f64>,
}

#[derive(Deserialize)]
struct AcfCase {
    pair: usize,
    side: String,
    lag1: f64,
    effective: f64,
}

#[derive(Deserialize)]
struct ScaleCase {
    pair: usize,
    #[serde(deserialize_with = "exact")]
    conf: f64,
    #[serde(deserialize_with = "exact")]
    x_effective: f64,
    #[serde(deserialize_with = "exact")]
    y_effective: f64,
    t: f64,
    f: f64,
    p_value: f64,
    ci: (f64, f64),
    x_spread: f64,
    y_spread: f64,
}

#[derive(Deserialize)]
struct QuantileCase {
    pair: usize,
    #[serde(deserialize_with = "exact")]
    q: f64,
    #[serde(deserialize_with = "exact")]
    conf: f64,
    #[serde(deserialize_with = "exact")]
    x_effective: f64,
    #[serde(deserialize_with = "exact")]
    y_effective: f64,
    x_quantile: f64,
    y_quantile: f64,
    x_se: f64,
    y_se: f64,
    ci: (f64, f64),
    p_value: f64,
}

#[derive(Deserialize)]
struct WilcoxCase {
    pair: usize,
    #[serde(deserialize_with = "exact")]
    conf: f64,
    statistic: f64,
    p_value: f64,
    estimate: f64,
    ci: (f64, f64),
    #[serde(deserialize_with = "exact")]
    x_inflation: f64,
    #[serde(deserialize_with = "exact")]
    y_inflation: f64,
    p_value_inflated: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/judges-reference.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture parses")
}

fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= rel * want.abs() || (got - want).abs() <= abs
}

#[test]
fn fixture_comes_from_r_4_2() {
    let f = fixture();
    assert!(f.r_version.starts_with("R version 4.2"), "{}", f.r_version);
    assert!(f.acf.len() >= 50 && f.scale.len() >= 50 && f.quantile.len() >= 100);
    assert!(f.wilcox.len() >= 25);
}

#[test]
fn lag1_autocorrelation_and_effective_size_match_r() {
    let f = fixture();
    let mut adjusted = 0;
    for (i, c) in f.acf.iter().enumerate() {
        let pair = &f.pairs[c.pair];
        let v = if c.side == "x" { &pair.x } else { &pair.y };
        let r = lag1_autocorrelation(v).expect("a non-constant series");
        assert!(close(r, c.lag1, 0.0, 1e-12), "case {i}: {r} != {}", c.lag1);
        let e = effective_size(v);
        assert!(
            close(e.effective, c.effective, 1e-9, 0.0),
            "case {i}: {} != {}",
            e.effective,
            c.effective
        );
        adjusted += usize::from(e.adjusted());
    }
    assert!(adjusted >= 10, "the fixture exercises the correction");
}

#[test]
fn brown_forsythe_matches_r() {
    let f = fixture();
    for (i, c) in f.scale.iter().enumerate() {
        let pair = &f.pairs[c.pair];
        let r = brown_forsythe(&pair.x, &pair.y, c.conf, c.x_effective, c.y_effective)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert!(
            close(r.t, c.t, 1e-10, 0.0),
            "case {i}: t {} != {}",
            r.t,
            c.t
        );
        assert!(close(r.statistic, c.f, 1e-10, 0.0), "case {i}: F");
        assert!(
            close(r.p_value, c.p_value, 1e-8, 1e-300),
            "case {i}: p {} != {}",
            r.p_value,
            c.p_value
        );
        assert!(
            close(r.ci.0, c.ci.0, 1e-8, 1e-12),
            "case {i}: {:?} {:?}",
            r.ci,
            c.ci
        );
        assert!(
            close(r.ci.1, c.ci.1, 1e-8, 1e-12),
            "case {i}: {:?} {:?}",
            r.ci,
            c.ci
        );
        assert!(close(r.x_spread, c.x_spread, 1e-12, 0.0), "case {i}");
        assert!(close(r.y_spread, c.y_spread, 1e-12, 0.0), "case {i}");
    }
}

#[test]
fn quantile_comparison_matches_r() {
    let f = fixture();
    for (i, c) in f.quantile.iter().enumerate() {
        let pair = &f.pairs[c.pair];
        let r = compare_quantiles(&pair.x, &pair.y, c.q, c.conf, c.x_effective, c.y_effective)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        let ok = |a: f64, b: f64| close(a, b, 1e-12, 1e-12);
        assert!(ok(r.canary, c.x_quantile), "case {i}: canary quantile");
        assert!(ok(r.baseline, c.y_quantile), "case {i}: baseline quantile");
        assert!(
            ok(r.canary_se, c.x_se),
            "case {i}: {} != {}",
            r.canary_se,
            c.x_se
        );
        assert!(ok(r.baseline_se, c.y_se), "case {i}: baseline se");
        assert!(
            ok(r.ci.0, c.ci.0) && ok(r.ci.1, c.ci.1),
            "case {i}: {:?} {:?}",
            r.ci,
            c.ci
        );
        assert!(
            close(r.p_value, c.p_value, 1e-9, 1e-300),
            "case {i}: p {} != {}",
            r.p_value,
            c.p_value
        );
    }
}

#[test]
fn inflated_mann_whitney_is_r_normal_branch_and_widens_with_dependence() {
    let f = fixture();
    for (i, c) in f.wilcox.iter().enumerate() {
        let pair = &f.pairs[c.pair];
        let r = mann_whitney_inflated(&pair.x, &pair.y, c.conf, 1.0, 1.0)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(r.statistic, c.statistic, "case {i}");
        assert!(close(r.p_value, c.p_value, 1e-9, 1e-300), "case {i}: p");
        // Where R's estimating function is zero on a whole gap between pairwise differences R
        // stops anywhere in it and ours is its midpoint: no difference may lie between them.
        let (a, b) = (r.estimate.min(c.estimate), r.estimate.max(c.estimate));
        let between = pair
            .x
            .iter()
            .flat_map(|x| pair.y.iter().map(move |y| x - y))
            .filter(|d| *d > a + 1e-4 && *d < b - 1e-4)
            .count();
        assert!(
            close(r.estimate, c.estimate, 0.0, 1e-4) || between == 0,
            "case {i}: estimate {} != {}",
            r.estimate,
            c.estimate
        );
        assert!(
            close(r.ci.0, c.ci.0, 0.0, 1e-4),
            "case {i}: {:?} {:?}",
            r.ci,
            c.ci
        );
        assert!(
            close(r.ci.1, c.ci.1, 0.0, 1e-4),
            "case {i}: {:?} {:?}",
            r.ci,
            c.ci
        );
        let d = mann_whitney_inflated(&pair.x, &pair.y, c.conf, c.x_inflation, c.y_inflation)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert!(
            close(d.p_value, c.p_value_inflated, 1e-9, 1e-300),
            "case {i}: inflated p {} != {}",
            d.p_value,
            c.p_value_inflated
        );
        assert!(d.ci.0 <= r.ci.0 && d.ci.1 >= r.ci.1, "case {i}: wider");
    }
}
