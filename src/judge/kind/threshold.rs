//! `test: threshold`: the canary's mean against absolute bounds (`min`, `max`) and against the
//! baseline's mean (`max_increase_ratio`, `max_decrease_ratio`); any bound broken is `high` or
//! `low` (CONTRACT §2).

use crate::template::{JudgeSpec, ThresholdSpec};

use crate::judge::decide::Outcome;
use crate::judge::dependence::Dependence;
use crate::judge::format::{num, ratio};
use crate::judge::kind::Judge;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, TestReport};

/// Threshold classification: the canary mean against absolute bounds and against the baseline
/// mean. A broken upper bound is `high`, a broken lower bound `low` (both: `high`).
impl Judge for ThresholdSpec {
    /// Not with an absolute bound (`min`, `max`), which the canary alone is held against.
    fn needs_baseline(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    fn judge(&self, p: &Prepared<'_>, _judge: &JudgeSpec, _dep: &Dependence) -> Outcome {
        let spec = self;
        let canary_mean = p.canary_summary.mean.unwrap_or(f64::NAN);
        let baseline_mean = p.baseline_summary.mean;
        let mut broken = Vec::new();
        let mut high = Vec::new();
        let mut low = Vec::new();
        let mut ok = Vec::new();
        if let Some(max) = spec.max {
            if canary_mean > max {
                broken.push("max".to_string());
                high.push(format!(
                    "canary mean {} is above max {}",
                    num(canary_mean),
                    num(max)
                ));
            } else {
                ok.push(format!("<= max {}", num(max)));
            }
        }
        if let Some(min) = spec.min {
            if canary_mean < min {
                broken.push("min".to_string());
                low.push(format!(
                    "canary mean {} is below min {}",
                    num(canary_mean),
                    num(min)
                ));
            } else {
                ok.push(format!(">= min {}", num(min)));
            }
        }
        let wants_ratio = spec.max_increase_ratio.is_some() || spec.max_decrease_ratio.is_some();
        // Ratio of means; a zero baseline mean with a positive canary mean is an infinite increase.
        let r = match baseline_mean {
            Some(b) if b != 0.0 => Some(canary_mean / b),
            Some(_) if canary_mean > 0.0 => Some(f64::INFINITY),
            Some(_) if canary_mean < 0.0 => Some(f64::NEG_INFINITY),
            Some(_) => Some(1.0),
            None => None,
        };
        let mut notes: Vec<String> = Vec::new();
        match (wants_ratio, r, baseline_mean) {
            (true, None, _) => {
                notes.push("the baseline has no values: ratio bounds not checked".into())
            }
            (true, Some(r), Some(b)) => {
                let shown = if r.is_finite() {
                    format!("{} the baseline mean {}", ratio(r), num(b))
                } else {
                    format!("{} against a baseline mean of 0", num(canary_mean))
                };
                if let Some(limit) = spec.max_increase_ratio {
                    if r > limit {
                        broken.push("max_increase_ratio".into());
                        high.push(format!(
                            "canary mean is {shown}, above max_increase_ratio {}",
                            ratio(limit)
                        ));
                    } else {
                        ok.push(format!("ratio {} <= {}", ratio(r), ratio(limit)));
                    }
                }
                if let Some(limit) = spec.max_decrease_ratio {
                    if r < limit {
                        broken.push("max_decrease_ratio".into());
                        low.push(format!(
                            "canary mean is {shown}, below max_decrease_ratio {}",
                            ratio(limit)
                        ));
                    } else {
                        ok.push(format!("ratio {} >= {}", ratio(r), ratio(limit)));
                    }
                }
            }
            _ => {}
        }
        let test = Some(TestReport::Threshold {
            canary_mean,
            min: spec.min,
            max: spec.max,
            max_increase_ratio: spec.max_increase_ratio,
            max_decrease_ratio: spec.max_decrease_ratio,
            broken,
        });
        let mut reason;
        let class = if !high.is_empty() {
            reason = high.join("; ");
            if !low.is_empty() {
                reason.push_str("; ");
                reason.push_str(&low.join("; "));
            }
            Classification::High
        } else if !low.is_empty() {
            reason = low.join("; ");
            Classification::Low
        } else {
            reason = format!(
                "canary mean {} within bounds ({})",
                num(canary_mean),
                ok.join(", ")
            );
            Classification::Pass
        };
        for n in notes {
            reason.push_str("; ");
            reason.push_str(&n);
        }
        Outcome {
            class,
            reason,
            test,
            tests: Vec::new(),
        }
    }
}
