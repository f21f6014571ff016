//! The decision helpers the judges share: the classification rule of CONTRACT §5 ([`decide`]),
//! how an interval is held against the tolerance ([`Rule`], [`beyond`]), what a judge returns
//! ([`Outcome`]), and the phrases its reason is made of.

use crate::template::{Direction, JudgeSpec, Tolerance};

use super::format::{num, ratio};
use super::report::{Classification, TestReport};

/// What a statistical judge holds a change against: the metric's judge (what no data is), the
/// direction that is bad, and the test's tolerance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Criteria<'a> {
    /// The metric's judge.
    pub(crate) judge: &'a JudgeSpec,
    /// Which change is bad (`auto`'s spread tests: only an increase).
    pub(crate) direction: Direction,
    /// Confidence level of the interval.
    pub(crate) confidence: f64,
    /// Mean ratio canary/baseline tolerated upward.
    pub(crate) allowed_increase: f64,
    /// Mean ratio tolerated downward.
    pub(crate) allowed_decrease: f64,
}

impl<'a> Criteria<'a> {
    /// The criteria of `judge`, whose test has `tolerance`.
    pub(crate) fn new(judge: &'a JudgeSpec, tolerance: &Tolerance) -> Self {
        Criteria {
            judge,
            direction: judge.direction,
            confidence: tolerance.confidence,
            allowed_increase: tolerance.allowed_increase,
            allowed_decrease: tolerance.allowed_decrease,
        }
    }
}

/// How a significant change is compared with the tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// As `mann-whitney` (CONTRACT §5): the interval excludes no change, and the estimated
    /// ratio reaches `allowed_increase` / `allowed_decrease`.
    Estimate,
    /// Beyond the tolerance with confidence: the whole interval of the ratio lies beyond
    /// `allowed_increase` / `allowed_decrease`. `auto` uses this for its tail and spread tests,
    /// which are there for large changes the location test misses: a small, tolerated change
    /// (2% against a 5% tolerance) then cannot fail a metric through the noisiest estimate.
    Interval,
}

/// Whether the interval `ci` of a difference from `base` shows an increase and a decrease,
/// under `rule`.
pub(crate) fn beyond(ci: (f64, f64), base: f64, spec: &Criteria<'_>, rule: Rule) -> (bool, bool) {
    let (up, down) = (ci.0 > 0.0, ci.1 < 0.0);
    if rule == Rule::Estimate || base == 0.0 || !base.is_finite() {
        return (up, down);
    }
    let b = base.abs();
    (
        up && ci.0 >= (spec.allowed_increase - 1.0) * b,
        down && ci.1 <= (spec.allowed_decrease - 1.0) * b,
    )
}

/// What one test concluded.
pub(crate) struct Outcome {
    /// The classification.
    pub(crate) class: Classification,
    /// Why, in words.
    pub(crate) reason: String,
    /// The numbers; `None` when the test could not run.
    pub(crate) test: Option<TestReport>,
    /// Every test a combination ran (`auto`), the deciding one among them; empty for a judge
    /// that runs one test.
    pub(crate) tests: Vec<TestReport>,
}

impl Outcome {
    /// An outcome without numbers (the test could not run, or was not needed).
    pub(crate) fn without_test(class: Classification, reason: String) -> Self {
        Outcome {
            class,
            reason,
            test: None,
            tests: Vec::new(),
        }
    }
}

/// The classification rule shared by the statistical judges (CONTRACT §5): a significant
/// change (`up` or `down`) is `high` / `low` when the direction makes it bad and the effect
/// `ratio` (canary over baseline) reaches `allowed_increase` / `allowed_decrease`; an unknown
/// ratio (baseline 0) leaves the decision to the test. `evidence` says what the test found.
pub(crate) fn decide(
    spec: &Criteria<'_>,
    up: bool,
    down: bool,
    effect: Option<f64>,
    ratio_name: &str,
    evidence: &str,
) -> (Classification, String) {
    let ratio_text = match effect {
        Some(r) => format!("{ratio_name} {}", ratio(r)),
        None => format!("{ratio_name} unknown (the baseline's is 0)"),
    };
    if up {
        if !spec.direction.allows_increase() {
            return (
                Classification::Pass,
                format!("higher in the canary ({evidence}), but only a decrease is bad"),
            );
        }
        match effect {
            Some(r) if r < spec.allowed_increase => (
                Classification::Pass,
                format!(
                    "higher in the canary ({evidence}), but {ratio_text} is within allowed_increase {}",
                    ratio(spec.allowed_increase)
                ),
            ),
            _ => (
                Classification::High,
                format!("significant increase: {evidence}; {ratio_text}"),
            ),
        }
    } else if down {
        if !spec.direction.allows_decrease() {
            return (
                Classification::Pass,
                format!("lower in the canary ({evidence}), but only an increase is bad"),
            );
        }
        match effect {
            Some(r) if r > spec.allowed_decrease => (
                Classification::Pass,
                format!(
                    "lower in the canary ({evidence}), but {ratio_text} is within allowed_decrease {}",
                    ratio(spec.allowed_decrease)
                ),
            ),
            _ => (
                Classification::Low,
                format!("significant decrease: {evidence}; {ratio_text}"),
            ),
        }
    } else {
        (
            Classification::Pass,
            format!("no significant change: {evidence}; {ratio_text}"),
        )
    }
}

/// A finite number, or `None` for an infinity (JSON has no infinity).
pub(crate) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// "+62%" for a ratio of 1.62.
pub(crate) fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p > 0.0 {
        format!("+{}%", num(p))
    } else {
        format!("{}%", num(p))
    }
}

/// "(+62%, 95% CI +40%..+85%)": a difference and its interval relative to `base`; absolute
/// when `base` is 0.
pub(crate) fn relative_change(
    difference: f64,
    ci: (f64, f64),
    base: f64,
    confidence: f64,
) -> String {
    let level = num(confidence * 100.0);
    if base != 0.0 && base.is_finite() {
        let b = base.abs();
        format!(
            "({}, {level}% CI {}..{})",
            pct(difference / b),
            pct(ci.0 / b),
            pct(ci.1 / b)
        )
    } else {
        let signed = |v: f64| {
            if v > 0.0 {
                format!("+{}", num(v))
            } else {
                num(v)
            }
        };
        format!(
            "({}, {level}% CI {}..{})",
            signed(difference),
            signed(ci.0),
            signed(ci.1)
        )
    }
}

/// "rose from 0.21 to 0.34" / "fell from" / "0.34 against 0.21".
pub(crate) fn movement(name: &str, base: f64, canary: f64, up: bool, down: bool) -> String {
    if up {
        format!("{name} rose from {} to {}", num(base), num(canary))
    } else if down {
        format!("{name} fell from {} to {}", num(base), num(canary))
    } else {
        format!(
            "{name} {} in the canary against {} in the baseline",
            num(canary),
            num(base)
        )
    }
}

/// "+0.021" for 0.021; "-0.021", "0" as [`num`] writes them.
pub(crate) fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// "2.5x", or "unbounded" for an infinite ratio.
pub(crate) fn ratio_or_unbounded(v: f64) -> String {
    if v.is_finite() {
        ratio(v)
    } else {
        "unbounded".into()
    }
}
