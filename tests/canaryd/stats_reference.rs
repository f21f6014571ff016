//! `mann_whitney` against R 4.2's `wilcox.test(x, y, conf.int = TRUE, conf.level = conf)` on
//! every case of `fixtures/stats/wilcox-reference.json` (written by
//! `scripts/r-reference/generate.R`; R is not needed to run this).
//!
//! The bar: W and the p-value within 1e-9 relative (both below 1e-300 counts as equal); the
//! exact method's estimate, interval and confidence level equal to R's (1e-12); the normal
//! method's within 1e-4 absolute of R's `uniroot(tol = 1e-4)` answers, except where R's
//! function is zero on a whole interval between two pairwise differences: there R's value must
//! lie in that interval and ours is its midpoint. Where R refuses the interval (each side
//! constant) the estimate and both ends are the difference of the constants (CONTRACT §5).

use canaryd::stats::{mann_whitney, Method};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Fixture {
    r_version: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    conf: f64,
    x: Vec<f64>,
    y: Vec<f64>,
    statistic: f64,
    p_value: Option<f64>,
    estimate: Option<f64>,
    ci: Option<(f64, f64)>,
    conf_level: Option<f64>,
    method: String,
    ci_error: Option<String>,
}

fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/stats/wilcox-reference.json"
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

/// Tolerance of R's `uniroot(tol = 1e-4)`: its bracket is at most tol + 4 eps |root| wide.
fn uniroot_close(ours: f64, r: f64) -> bool {
    (ours - r).abs() <= 1e-4 + 4.0 * f64::EPSILON * r.abs() + 1e-12
}

/// The closest pairwise differences x[i] - y[j] at or below and at or above `v`.
fn neighbouring_differences(x: &[f64], y: &[f64], v: f64) -> (f64, f64) {
    let mut below = f64::NEG_INFINITY;
    let mut above = f64::INFINITY;
    for &xi in x {
        for &yj in y {
            let d = xi - yj;
            if d <= v && d > below {
                below = d;
            }
            if d >= v && d < above {
                above = d;
            }
        }
    }
    (below, above)
}

fn constant(s: &[f64]) -> Option<f64> {
    let first = *s.first()?;
    s.iter().all(|&v| v == first).then_some(first)
}

fn check(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("{}: {what}", case.name));
    let ours = match mann_whitney(&case.x, &case.y, case.conf) {
        Ok(r) => r,
        Err(e) => {
            fail(format!("error {e}"));
            return problems;
        }
    };
    let method = match ours.method {
        Method::Exact => "exact",
        Method::Normal => "normal",
    };
    if method != case.method {
        fail(format!("method {method}, R {}", case.method));
    }
    if !rel_close(ours.statistic, case.statistic, 1e-9) {
        fail(format!("W {} , R {}", ours.statistic, case.statistic));
    }
    match case.p_value {
        Some(p) if !rel_close(ours.p_value, p, 1e-9) => {
            fail(format!("p {:e}, R {:e}", ours.p_value, p))
        }
        None if ours.p_value != 1.0 => fail(format!("p {} where R has NaN (want 1)", ours.p_value)),
        _ => {}
    }

    if let Some(err) = &case.ci_error {
        // R refused the interval: each side must be constant, and the shift is exact.
        let (Some(cx), Some(cy)) = (constant(&case.x), constant(&case.y)) else {
            fail(format!(
                "R refused the interval ({err}) on non-constant samples"
            ));
            return problems;
        };
        let shift = cx - cy;
        if ours.estimate != shift || ours.ci != (shift, shift) {
            fail(format!(
                "constant samples: estimate {} ci {:?}, want {shift} both",
                ours.estimate, ours.ci
            ));
        }
        if ours.confidence != case.conf {
            fail(format!(
                "confidence {}, requested {}",
                ours.confidence, case.conf
            ));
        }
        return problems;
    }

    let (Some(r_est), Some(r_ci), Some(r_level)) = (case.estimate, case.ci, case.conf_level) else {
        fail("fixture case without estimate, interval or level".into());
        return problems;
    };
    if !rel_close(ours.confidence, r_level, 1e-12) {
        fail(format!("confidence {}, R {r_level}", ours.confidence));
    }
    if case.method == "exact" {
        let same = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        if !same(ours.estimate, r_est) {
            fail(format!("estimate {}, R {r_est}", ours.estimate));
        }
        if !same(ours.ci.0, r_ci.0) || !same(ours.ci.1, r_ci.1) {
            fail(format!("ci {:?}, R {r_ci:?}", ours.ci));
        }
    } else {
        if !uniroot_close(ours.ci.0, r_ci.0) || !uniroot_close(ours.ci.1, r_ci.1) {
            fail(format!("ci {:?}, R {r_ci:?}", ours.ci));
        }
        if !uniroot_close(ours.estimate, r_est) {
            // Only acceptable where R's W(d) is 0 on a whole interval: R stops inside it.
            let (lo, hi) = neighbouring_differences(&case.x, &case.y, ours.estimate);
            let mid = (lo + hi) / 2.0;
            let inside = lo <= r_est && r_est <= hi;
            if !(inside && ours.estimate == mid) {
                fail(format!(
                    "estimate {}, R {r_est} (neighbouring differences {lo} .. {hi})",
                    ours.estimate
                ));
            }
        }
    }
    problems
}

#[test]
fn mann_whitney_matches_r_on_every_fixture_case() {
    let fixture = load();
    assert!(
        fixture.cases.len() >= 150,
        "only {} cases",
        fixture.cases.len()
    );
    assert!(fixture.r_version.starts_with("R version 4."));
    let problems: Vec<String> = fixture.cases.iter().flat_map(check).collect();
    assert!(
        problems.is_empty(),
        "{} of {} cases differ from R:\n{}",
        problems.len(),
        fixture.cases.len(),
        problems.join("\n")
    );
}

#[test]
fn fixture_covers_both_methods_ties_and_refusals() {
    let fixture = load();
    let count = |f: &dyn Fn(&Case) -> bool| fixture.cases.iter().filter(|c| f(c)).count();
    assert!(count(&|c| c.method == "exact") >= 50);
    assert!(count(&|c| c.method == "normal") >= 50);
    assert!(count(&|c| c.ci_error.is_some()) >= 3);
    assert!(count(&|c| c.conf_level.is_some_and(|l| l != c.conf)) >= 3);
    assert!(count(&|c| c.x.len() >= 1000) >= 3);
}
