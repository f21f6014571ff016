//! TEMPORARY interface of sequential looks (replaced by the seq branch).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::observation::Observation;
use crate::stats::sequential::{bonferroni_levels, open_level, Spending};
use crate::template::Template;

use super::{judge, Report, Verdict};

/// `sequential` of an analysis or gate sequence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialSpec {
    /// Whole-rollout false-fail rate.
    pub alpha: f64,
    /// Pass early.
    #[serde(default)]
    pub pass_early: bool,
    /// Spending function.
    #[serde(default)]
    pub spending: Spending,
}

impl SequentialSpec {
    /// Checks alpha.
    pub fn check(&self) -> Result<(), String> {
        if self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 0.5 {
            Ok(())
        } else {
            Err(format!(
                "sequential.alpha must be in (0, 0.5], found {}",
                self.alpha
            ))
        }
    }
}

/// How many looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Known.
    Looks(usize),
    /// Unknown.
    Open,
}

/// One look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// 1-based.
    pub number: usize,
    /// Horizon.
    pub horizon: Horizon,
    /// Nested windows.
    pub nested: bool,
}

/// Decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Go on.
    Continue,
    /// Fail.
    Fail,
    /// Pass.
    Pass,
}

/// What a look found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialReport {
    /// Look.
    pub look: usize,
    /// Of.
    pub of: Option<usize>,
    /// Evidence.
    pub evidence: Option<f64>,
    /// Boundary.
    pub boundary: f64,
    /// Decision.
    pub decision: Decision,
    /// Level.
    pub level: f64,
    /// Alpha.
    pub alpha: f64,
    /// Method.
    pub method: String,
    /// Pass boundary.
    pub pass_boundary: Option<f64>,
    /// Projection.
    pub looks_to_decision: Option<usize>,
    /// Reason.
    pub reason: String,
}

/// Judges one look.
pub fn judge_look(
    template: &Template,
    observations: &BTreeMap<String, Observation>,
    spec: &SequentialSpec,
    look: &Look,
) -> (Report, SequentialReport) {
    let level = match look.horizon {
        Horizon::Looks(k) => {
            let f: Vec<f64> = (1..=k).map(|i| i as f64 / k as f64).collect();
            bonferroni_levels(spec.spending, spec.alpha, &f)
                .get(look.number.saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        }
        Horizon::Open => open_level(spec.alpha, look.number),
    } / 2.0;
    let mut t = template.clone();
    for m in &mut t.metrics {
        if let Some(tol) = m.judge.tolerance_mut() {
            tol.confidence = 1.0 - 2.0 * level;
        }
    }
    let report = judge(&t, observations);
    let last = matches!(look.horizon, Horizon::Looks(k) if look.number >= k);
    let decision = if report.verdict == Verdict::Fail {
        Decision::Fail
    } else if last {
        Decision::Pass
    } else {
        Decision::Continue
    };
    let seq = SequentialReport {
        look: look.number,
        of: match look.horizon {
            Horizon::Looks(k) => Some(k),
            Horizon::Open => None,
        },
        evidence: None,
        boundary: 0.0,
        decision,
        level,
        alpha: spec.alpha,
        method: "temporary".into(),
        pass_boundary: None,
        looks_to_decision: None,
        reason: String::new(),
    };
    (report, seq)
}
