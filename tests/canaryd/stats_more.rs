//! `binom_test`, `poisson_rate_test`, `fisher_exact` and `fligner_killeen` against R 4.2's
//! `binom.test`, `poisson.test`, `fisher.test` and `fligner.test` on every case of
//! `fixtures/stats/more-reference.json` (written by `scripts/r-reference/generate-more.R`; R is
//! not needed to run this).
//!
//! The bar: p-values within 1e-9 relative (both below 1e-300 count as equal); estimates and
//! interval ends within 1e-10 relative (infinities equal); the Fligner-Killeen statistic within
//! 1e-9 relative or, where cancellation leaves it below 1e-12, 1e-12 absolute. Where R stops
//! with an error, ours must be an `Err`. Where R's Fligner-Killeen answer is NaN (no spread in
//! the scores), ours is statistic 0 and p-value 1.

use canaryd::stats::{binom_test, fisher_exact, fligner_killeen, poisson_rate_test};
use serde::Deserialize;

/// A number as the generator writes it: a JSON number, or "Inf", "-Inf", "NaN".
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum RNum {
    Num(f64),
    Word(Special),
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum Special {
    Inf,
    #[serde(rename = "-Inf")]
    NegInf,
    NaN,
}

impl RNum {
    fn value(self) -> f64 {
        match self {
            RNum::Num(v) => v,
            RNum::Word(Special::Inf) => f64::INFINITY,
            RNum::Word(Special::NegInf) => f64::NEG_INFINITY,
            RNum::Word(Special::NaN) => f64::NAN,
        }
    }
}

/// An input number, written as a string so that it parses to R's exact double (serde_json's
/// default number parser may be an ulp off, which would break R's exact ties).
fn exact<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn exact_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[derive(Debug, Deserialize)]
struct Fixture {
    r_version: String,
    binom: Vec<BinomCase>,
    poisson: Vec<PoissonCase>,
    fisher: Vec<FisherCase>,
    fligner: Vec<FlignerCase>,
}

#[derive(Debug, Deserialize)]
struct BinomCase {
    name: String,
    x: u64,
    n: u64,
    #[serde(deserialize_with = "exact")]
    p: f64,
    #[serde(deserialize_with = "exact")]
    conf: f64,
    p_value: Option<RNum>,
    estimate: Option<RNum>,
    ci: Option<(RNum, RNum)>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PoissonCase {
    name: String,
    x: u64,
    #[serde(deserialize_with = "exact")]
    t: f64,
    y: u64,
    #[serde(deserialize_with = "exact")]
    u: f64,
    #[serde(deserialize_with = "exact")]
    conf: f64,
    p_value: Option<RNum>,
    estimate: Option<RNum>,
    ci: Option<(RNum, RNum)>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FisherCase {
    name: String,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    p_value: Option<RNum>,
    p_less: Option<RNum>,
    p_greater: Option<RNum>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FlignerCase {
    name: String,
    #[serde(deserialize_with = "exact_vec")]
    x: Vec<f64>,
    #[serde(deserialize_with = "exact_vec")]
    y: Vec<f64>,
    statistic: Option<RNum>,
    df: Option<RNum>,
    p_value: Option<RNum>,
    error: Option<String>,
}

fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/more-reference.json"
    );
    let text = std::fs::read_to_string(path).expect("the R reference fixture is readable");
    serde_json::from_str(&text).expect("the R reference fixture is valid JSON")
}

fn rel_close(ours: f64, r: f64, tol: f64) -> bool {
    if ours == r || (ours.abs() < 1e-300 && r.abs() < 1e-300) {
        return true;
    }
    (ours - r).abs() <= tol * r.abs().max(ours.abs())
}

/// Compares one value against R's, recording a problem that names the case and the field.
fn expect(
    problems: &mut Vec<String>,
    case: &str,
    what: &str,
    ours: f64,
    r: Option<RNum>,
    tol: f64,
) {
    match r.map(RNum::value) {
        None => problems.push(format!("{case}: fixture has no {what}")),
        Some(r) if !rel_close(ours, r, tol) => problems.push(format!(
            "{case}: {what} {ours:e}, R {r:e} (relative difference {:e})",
            ((ours - r) / r).abs()
        )),
        Some(_) => {}
    }
}

fn report(what: &str, total: usize, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problems in {total} {what} cases:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn binom_test_matches_r_on_every_fixture_case() {
    let fixture = load();
    assert!(fixture.r_version.starts_with("R version 4."));
    assert!(fixture.binom.len() >= 40);
    let mut problems = Vec::new();
    for case in &fixture.binom {
        let ours = binom_test(case.x, case.n, case.p, case.conf);
        match (&case.error, ours) {
            (Some(_), Err(_)) => {}
            (Some(e), Ok(r)) => {
                problems.push(format!("{}: R refuses ({e}), ours {r:?}", case.name))
            }
            (None, Err(e)) => problems.push(format!("{}: error {e}", case.name)),
            (None, Ok(r)) => {
                let p = &mut problems;
                expect(p, &case.name, "p-value", r.p_value, case.p_value, 1e-9);
                expect(p, &case.name, "estimate", r.estimate, case.estimate, 1e-10);
                let (lo, hi) = (case.ci.map(|c| c.0), case.ci.map(|c| c.1));
                expect(p, &case.name, "ci lower", r.ci.0, lo, 1e-10);
                expect(p, &case.name, "ci upper", r.ci.1, hi, 1e-10);
            }
        }
    }
    report("binom", fixture.binom.len(), problems);
}

#[test]
fn poisson_rate_test_matches_r_on_every_fixture_case() {
    let fixture = load();
    assert!(fixture.poisson.len() >= 40);
    let mut problems = Vec::new();
    for case in &fixture.poisson {
        let ours = poisson_rate_test(case.x, case.t, case.y, case.u, case.conf);
        match (&case.error, ours) {
            (Some(_), Err(_)) => {}
            (Some(e), Ok(r)) => {
                problems.push(format!("{}: R refuses ({e}), ours {r:?}", case.name))
            }
            (None, Err(e)) => problems.push(format!("{}: error {e}", case.name)),
            (None, Ok(r)) => {
                let p = &mut problems;
                expect(p, &case.name, "p-value", r.p_value, case.p_value, 1e-9);
                match (r.estimate, case.estimate.map(RNum::value)) {
                    (None, Some(e)) if e.is_nan() => {}
                    (Some(ours), r_est) => expect(
                        p,
                        &case.name,
                        "rate ratio",
                        ours,
                        r_est.map(RNum::Num),
                        1e-10,
                    ),
                    (None, r_est) => p.push(format!("{}: no rate ratio, R {r_est:?}", case.name)),
                }
                let (lo, hi) = (case.ci.map(|c| c.0), case.ci.map(|c| c.1));
                expect(p, &case.name, "ci lower", r.ci.0, lo, 1e-10);
                expect(p, &case.name, "ci upper", r.ci.1, hi, 1e-10);
            }
        }
    }
    report("poisson", fixture.poisson.len(), problems);
}

#[test]
fn fisher_exact_matches_r_on_every_fixture_case() {
    let fixture = load();
    assert!(fixture.fisher.len() >= 40);
    let mut problems = Vec::new();
    for case in &fixture.fisher {
        let ours = fisher_exact(case.a, case.b, case.c, case.d);
        match (&case.error, ours) {
            (Some(_), Err(_)) => {}
            (Some(e), Ok(r)) => {
                problems.push(format!("{}: R refuses ({e}), ours {r:?}", case.name))
            }
            (None, Err(e)) => problems.push(format!("{}: error {e}", case.name)),
            (None, Ok(r)) => {
                let p = &mut problems;
                expect(p, &case.name, "two-sided p", r.p_value, case.p_value, 1e-9);
                expect(p, &case.name, "p less", r.p_less, case.p_less, 1e-9);
                expect(
                    p,
                    &case.name,
                    "p greater",
                    r.p_greater,
                    case.p_greater,
                    1e-9,
                );
            }
        }
    }
    report("fisher", fixture.fisher.len(), problems);
}

#[test]
fn fligner_killeen_matches_r_on_every_fixture_case() {
    let fixture = load();
    assert!(fixture.fligner.len() >= 40);
    let mut problems = Vec::new();
    for case in &fixture.fligner {
        let ours = fligner_killeen(&case.x, &case.y);
        match (&case.error, ours) {
            (Some(_), Err(_)) => {}
            (Some(e), Ok(r)) => {
                problems.push(format!("{}: R refuses ({e}), ours {r:?}", case.name))
            }
            (None, Err(e)) => problems.push(format!("{}: error {e}", case.name)),
            (None, Ok(r)) => {
                let p = &mut problems;
                let r_stat = case.statistic.map(RNum::value);
                if r_stat.is_some_and(f64::is_nan) {
                    if (r.statistic, r.p_value) != (0.0, 1.0) {
                        p.push(format!("{}: R NaN, ours {r:?} (want 0 and 1)", case.name));
                    }
                    continue;
                }
                let small = r_stat.is_some_and(|s| s.abs() < 1e-12);
                if !(small && r.statistic.abs() < 1e-12) {
                    expect(
                        p,
                        &case.name,
                        "statistic",
                        r.statistic,
                        case.statistic,
                        1e-9,
                    );
                }
                expect(p, &case.name, "df", f64::from(r.df), case.df, 0.0);
                expect(p, &case.name, "p-value", r.p_value, case.p_value, 1e-9);
            }
        }
    }
    report("fligner", fixture.fligner.len(), problems);
}

#[test]
fn fixture_covers_the_edges() {
    let f = load();
    let errors = |e: &[Option<String>]| e.iter().filter(|e| e.is_some()).count();
    assert!(errors(&f.binom.iter().map(|c| c.error.clone()).collect::<Vec<_>>()) >= 3);
    assert!(f.binom.iter().any(|c| c.x == 0 && c.error.is_none()));
    assert!(f.binom.iter().any(|c| c.x == c.n && c.error.is_none()));
    assert!(f.binom.iter().any(|c| c.n >= 100_000));
    assert!(f.poisson.iter().any(|c| c.x == 0 && c.y == 0));
    assert!(f.poisson.iter().any(|c| c.y == 0 && c.x > 0));
    assert!(f.poisson.iter().any(|c| c.x >= 100_000));
    assert!(f.fisher.iter().any(|c| c.a + c.b + c.c + c.d == 0));
    assert!(f.fisher.iter().any(|c| c.a + c.b + c.c + c.d >= 10_000));
    assert!(f.fligner.iter().any(|c| c.x.len() >= 2000));
    assert!(f
        .fligner
        .iter()
        .any(|c| c.x.len() <= 3 && c.error.is_none()));
}

/// Large inputs are answered, with p-values in [0, 1]: the paths that would overflow or
/// loop on 10^5..10^6 counts. (How fast is a benchmark's question, not a test's: a timed
/// assertion here failed whenever the machine was busy.)
#[test]
fn large_inputs_are_answered() {
    let p = |v: f64| (0.0..=1.0).contains(&v);
    let b = binom_test(50_123, 100_000, 0.5, 0.99).expect("valid");
    assert!(p(b.p_value), "{b:?}");
    let b = binom_test(17, 100_000, 0.001, 0.95).expect("valid");
    assert!(p(b.p_value), "{b:?}");
    let r = poisson_rate_test(100_000, 1.0, 99_000, 1.0, 0.95).expect("valid");
    assert!(p(r.p_value), "{r:?}");
    let f = fisher_exact(50_000, 50_000, 49_000, 51_000).expect("valid");
    assert!(p(f.p_value), "{f:?}");
    let f = fisher_exact(1_000_000, 1_000_000, 1_000_000, 1_000_000).expect("valid");
    assert!(p(f.p_value), "{f:?}");
    let x: Vec<f64> = (0..100_000).map(|i| f64::from(i % 977) * 0.37).collect();
    let y: Vec<f64> = (0..100_000).map(|i| f64::from(i % 1013) * 0.41).collect();
    let k = fligner_killeen(&x, &y).expect("valid");
    assert!(p(k.p_value), "{k:?}");
}
