//! `test: kayenta`: Kayenta's NetflixACAJudge-v1.0 classifier (`MannWhitneyClassifier` of
//! spinnaker/kayenta `kayenta-judge`), rule for rule:
//!
//! 1. canary and baseline identical (as sorted samples), or one distinct value over both:
//!    `pass`;
//! 2. the Mann-Whitney interval of canary - baseline at `confidence` (0.98) and its estimate;
//!    the band is `tolerance x |estimate|` (0.25);
//! 3. `high` when an increase is bad, the interval's lower end lies above the band and the
//!    effect size (mean ratio, or cles) reaches `allowed_increase`; `low` symmetrically with the
//!    upper end below `-band` and the effect size at most `allowed_decrease`; an effect size
//!    Kayenta cannot compute (NaN: a mean of 0) does not block;
//! 4. a critical metric's `high` / `low` is a critical failure only when the effect size also
//!    passes `critical_increase` / `critical_decrease` (see [`Judge::critical_exemption`]).
//!
//! Kayenta's interval is R's normal approximation with continuity correction
//! (`wilcox.test(exact = FALSE, correct = TRUE)`), which [`mann_whitney_inflated`] with no
//! inflation computes (its roots exactly, where Kayenta's Brent solver stops within its
//! tolerance). Where R's default would be the exact test (both samples under 50, no ties) the
//! exact interval is computed too and reported when it classifies the same; when it does not,
//! Kayenta's asymptotic interval decides and the reason says so. Where Kayenta adds Gaussian
//! noise (both samples constant, the constants different) the shift is known exactly: the
//! estimate and both ends of the interval are the difference of the constants, which is the
//! classification the noise stands for, with no randomness.

use crate::stats::percentile::sorted;
use crate::stats::{mann_whitney, mann_whitney_inflated, MannWhitney, Method};
use crate::template::{Direction, EffectSize, JudgeSpec, KayentaSpec, NanStrategy};

use crate::judge::decide::{signed, Outcome};
use crate::judge::dependence::Dependence;
use crate::judge::format::{num, ratio};
use crate::judge::kind::Judge;
use crate::judge::prepare::Prepared;
use crate::judge::report::{Classification, KayentaCheck, TestReport};

impl Judge for KayentaSpec {
    fn judge(&self, p: &Prepared<'_>, judge: &JudgeSpec, _dep: &Dependence) -> Outcome {
        let identical =
            p.baseline.len() == p.canary.len() && sorted(&p.baseline) == sorted(&p.canary);
        if identical {
            return Outcome::without_test(
                Classification::Pass,
                "canary and baseline samples are identical".into(),
            );
        }
        let first = p.canary.first().or(p.baseline.first()).copied();
        if p.canary
            .iter()
            .chain(&p.baseline)
            .all(|v| Some(*v) == first)
        {
            return Outcome::without_test(
                Classification::Pass,
                "canary and baseline hold one and the same value".into(),
            );
        }
        let confidence = self.tolerance.confidence;
        // Kayenta's interval: R's normal branch with continuity correction.
        let asymptotic = match mann_whitney_inflated(&p.canary, &p.baseline, confidence, 1.0, 1.0) {
            Ok(mw) => mw,
            Err(e) => {
                return Outcome::without_test(
                    Classification::Error,
                    format!("Mann-Whitney test failed: {e}"),
                )
            }
        };
        let effect = self.effect(p, &asymptotic);
        let kayenta = self.classify(&asymptotic, effect, judge.direction);
        // R's default where it is the exact test, when it agrees with Kayenta's interval.
        let exact = mann_whitney(&p.canary, &p.baseline, confidence)
            .ok()
            .filter(|mw| mw.method == Method::Exact);
        let (mw, decision, note) = match exact {
            Some(mw) => {
                let d = self.classify(&mw, effect, judge.direction);
                if d.class == kayenta.class {
                    (mw, d, String::new())
                } else {
                    let note = format!(
                        "; Kayenta's asymptotic interval decides: R's exact {}% interval [{}, {}] \
                         would give {}",
                        num(mw.confidence * 100.0),
                        num(mw.ci.0),
                        num(mw.ci.1),
                        d.class.as_str()
                    );
                    (asymptotic, kayenta, note)
                }
            }
            None => (asymptotic, kayenta, String::new()),
        };
        let check = KayentaCheck {
            tolerance: self.band,
            band: [-decision.band, decision.band],
            effect_size: self.effect_size.as_str().into(),
            effect,
            allowed: [
                self.tolerance.allowed_decrease,
                self.tolerance.allowed_increase,
            ],
            critical: [self.critical_decrease, self.critical_increase],
        };
        let test = TestReport::MannWhitney {
            method: match mw.method {
                Method::Exact => "exact".into(),
                Method::Normal => "normal".into(),
            },
            statistic: mw.statistic,
            p_value: mw.p_value,
            estimate: mw.estimate,
            ci: [mw.ci.0, mw.ci.1],
            confidence: mw.confidence,
            kayenta: Some(check),
        };
        Outcome {
            class: decision.class,
            reason: format!("{}{note}", decision.reason),
            test: Some(test),
            tests: Vec::new(),
        }
    }

    fn passes_without_data(&self, judge: &JudgeSpec) -> bool {
        // Kayenta: an empty side is Nodata with nanStrategy remove, Pass with replace.
        judge.nan == NanStrategy::Replace
    }

    fn critical_exemption(&self, outcome: &Outcome) -> Option<String> {
        let Some(TestReport::MannWhitney {
            kayenta: Some(k), ..
        }) = &outcome.test
        else {
            return None;
        };
        let effect = k.effect?;
        let name = self.effect_name();
        match outcome.class {
            Classification::High if effect < self.critical_increase => Some(format!(
                "; a critical metric, but not a critical failure: {name} {} is below \
                 critical_increase {}",
                self.effect_text(effect),
                self.effect_text(self.critical_increase)
            )),
            Classification::Low if effect > self.critical_decrease => Some(format!(
                "; a critical metric, but not a critical failure: {name} {} is above \
                 critical_decrease {}",
                self.effect_text(effect),
                self.effect_text(self.critical_decrease)
            )),
            _ => None,
        }
    }
}

/// Kayenta's classification of one interval.
struct Decision {
    class: Classification,
    reason: String,
    /// `tolerance x |estimate|`.
    band: f64,
}

impl KayentaSpec {
    /// Kayenta's effect size of the canary against the baseline; `None` where Kayenta's is NaN.
    fn effect(&self, p: &Prepared<'_>, mw: &MannWhitney) -> Option<f64> {
        match self.effect_size {
            // EffectSizes.meanRatio: NaN when either mean is 0.
            EffectSize::MeanRatio => match (p.baseline_summary.mean, p.canary_summary.mean) {
                (Some(b), Some(c)) if b != 0.0 && c != 0.0 => Some(c / b).filter(|r| r.is_finite()),
                _ => None,
            },
            // EffectSizes.cles: (2 R1 - m (m + 1)) / (2 n m) with mid-ranks, R1 the canary's
            // rank sum: R's W over n m (W is the same in the exact and the normal branch).
            EffectSize::Cles => {
                let pairs = p.canary.len() as f64 * p.baseline.len() as f64;
                (pairs > 0.0).then(|| mw.statistic / pairs)
            }
        }
    }

    fn effect_name(&self) -> &'static str {
        match self.effect_size {
            EffectSize::MeanRatio => "mean ratio",
            EffectSize::Cles => "cles",
        }
    }

    fn effect_text(&self, v: f64) -> String {
        match self.effect_size {
            EffectSize::MeanRatio => ratio(v),
            EffectSize::Cles => num(v),
        }
    }

    /// `MannWhitneyClassifier.compare`: the interval against the band, then the effect size.
    fn classify(&self, mw: &MannWhitney, effect: Option<f64>, direction: Direction) -> Decision {
        let band = self.band * mw.estimate.abs();
        let (lo, hi) = mw.ci;
        let level = num(mw.confidence * 100.0);
        let interval = format!(
            "canary - baseline = {}, {level}% interval [{}, {}], tolerance band ±{} \
             ({} x |estimate|)",
            signed(mw.estimate),
            num(lo),
            num(hi),
            num(band),
            num(self.band)
        );
        let name = self.effect_name();
        let effect_text = match effect {
            Some(e) => format!("{name} {}", self.effect_text(e)),
            None => format!("{name} unknown (a mean is 0), which does not block"),
        };
        let above = lo > band;
        let below = hi < -band;
        let (class, reason) = if above {
            let allowed = self.tolerance.allowed_increase;
            if !direction.allows_increase() {
                (
                    Classification::Pass,
                    format!("higher in the canary ({interval}), but only a decrease is bad"),
                )
            } else if effect.is_some_and(|e| e < allowed) {
                (
                    Classification::Pass,
                    format!(
                        "higher in the canary ({interval}), but {effect_text} is below \
                         allowed_increase {}",
                        self.effect_text(allowed)
                    ),
                )
            } else {
                (
                    Classification::High,
                    format!(
                        "significant increase: the interval lies above the tolerance band \
                         ({interval}); {effect_text}{}",
                        reaches(effect, allowed, "allowed_increase", |t| self.effect_text(t))
                    ),
                )
            }
        } else if below {
            let allowed = self.tolerance.allowed_decrease;
            if !direction.allows_decrease() {
                (
                    Classification::Pass,
                    format!("lower in the canary ({interval}), but only an increase is bad"),
                )
            } else if effect.is_some_and(|e| e > allowed) {
                (
                    Classification::Pass,
                    format!(
                        "lower in the canary ({interval}), but {effect_text} is above \
                         allowed_decrease {}",
                        self.effect_text(allowed)
                    ),
                )
            } else {
                (
                    Classification::Low,
                    format!(
                        "significant decrease: the interval lies below the tolerance band \
                         ({interval}); {effect_text}{}",
                        reaches(effect, allowed, "allowed_decrease", |t| self.effect_text(t))
                    ),
                )
            }
        } else {
            (
                Classification::Pass,
                format!(
                    "no significant change: the interval reaches into the tolerance band \
                     ({interval}); {effect_text}"
                ),
            )
        };
        Decision {
            class,
            reason,
            band,
        }
    }
}

/// " reaches allowed_increase 1x" when the effect is known.
fn reaches(effect: Option<f64>, threshold: f64, key: &str, show: impl Fn(f64) -> String) -> String {
    match effect {
        Some(_) => format!(", beyond {key} {}", show(threshold)),
        None => String::new(),
    }
}
