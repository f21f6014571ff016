//! The `judge:` key of a metric: the keys every judge reads, the keys of each test
//! ([`TestKind::keys`]) and the options each test builds from them, and the rules between keys.
//!
//! Every key's value is checked on its own, whatever the test (so that one run lists every
//! problem, a bad `test` included); a key that the test does not read is then reported where
//! it is written, and the test builds its own options ([`JudgeKind`]) from the keys it reads.

use super::super::{
    AutoSpec, CountsSpec, Direction, EffectSize, JudgeKind, JudgeSpec, KayentaSpec,
    MannWhitneySpec, NanStrategy, OutlierSpec, QuantileSpec, ScaleSpec, TestKind, ThresholdSpec,
    Tolerance, DEFAULT_QUANTILE, KAYENTA_CONFIDENCE, KAYENTA_TOLERANCE,
};
use super::{Ctx, Fields, Node, Pos};

/// Every key of `judge:`, in the order "known keys" lists them.
pub(super) const JUDGE_KEYS: &[&str] = &[
    "test",
    "direction",
    "confidence",
    "allowed_increase",
    "allowed_decrease",
    "critical",
    "must_have_data",
    "nan",
    "outliers",
    "quantile",
    "min",
    "max",
    "max_increase_ratio",
    "max_decrease_ratio",
    "total",
    "min_points",
    "tolerance",
    "critical_increase",
    "critical_decrease",
    "effect_size",
    "muted",
];
const OUTLIER_KEYS: &[&str] = &["remove", "factor"];

const DIRECTIONS: &[(&str, Direction)] = &[
    ("increase", Direction::Increase),
    ("decrease", Direction::Decrease),
    ("either", Direction::Either),
];
const EFFECT_SIZES: &[(&str, EffectSize)] = &[
    ("mean-ratio", EffectSize::MeanRatio),
    ("cles", EffectSize::Cles),
];
const NAN_STRATEGIES: &[(&str, NanStrategy)] = &[
    ("remove", NanStrategy::Remove),
    ("replace", NanStrategy::Replace),
];

/// The keys that some tests read and others not, each with its value (`None`: written with a
/// bad value, already reported; a key left out has its default).
struct KindKeys {
    confidence: Option<f64>,
    allowed_increase: Option<f64>,
    allowed_decrease: Option<f64>,
    quantile: Option<f64>,
    min: Option<Option<f64>>,
    max: Option<Option<f64>>,
    max_increase_ratio: Option<Option<f64>>,
    max_decrease_ratio: Option<Option<f64>>,
    total: Option<Option<String>>,
    /// `test: kayenta`'s keys; `confidence`, the allowed and critical effect sizes take its
    /// own defaults when they are not written (`written`).
    band: Option<f64>,
    critical_increase: Option<Option<f64>>,
    critical_decrease: Option<Option<f64>>,
    effect_size: Option<EffectSize>,
    written: Written,
}

/// Which of the keys whose default depends on the test are written.
#[derive(Clone, Copy)]
struct Written {
    confidence: bool,
    allowed_increase: bool,
    allowed_decrease: bool,
}

impl KindKeys {
    /// The options of `test`, built from the keys it reads; `None` when one of them is bad.
    fn build(&self, test: TestKind) -> Option<JudgeKind> {
        let tolerance = || {
            Some(Tolerance {
                confidence: self.confidence?,
                allowed_increase: self.allowed_increase?,
                allowed_decrease: self.allowed_decrease?,
            })
        };
        Some(match test {
            TestKind::MannWhitney => JudgeKind::MannWhitney(MannWhitneySpec {
                tolerance: tolerance()?,
            }),
            TestKind::Threshold => JudgeKind::Threshold(ThresholdSpec {
                min: self.min?,
                max: self.max?,
                max_increase_ratio: self.max_increase_ratio?,
                max_decrease_ratio: self.max_decrease_ratio?,
            }),
            TestKind::Quantile => JudgeKind::Quantile(QuantileSpec {
                tolerance: tolerance()?,
                quantile: self.quantile?,
            }),
            TestKind::Scale => JudgeKind::Scale(ScaleSpec {
                tolerance: tolerance()?,
            }),
            TestKind::Counts => JudgeKind::Counts(CountsSpec {
                tolerance: tolerance()?,
                total: self.total.clone()?,
            }),
            TestKind::Auto => JudgeKind::Auto(AutoSpec {
                tolerance: tolerance()?,
                quantile: self.quantile?,
                total: self.total.clone()?,
            }),
            TestKind::Kayenta => {
                let effect_size = self.effect_size?;
                let default = effect_size.default_threshold();
                let pick = |value: Option<f64>, written: bool| {
                    if written {
                        value
                    } else {
                        Some(default)
                    }
                };
                JudgeKind::Kayenta(KayentaSpec {
                    tolerance: Tolerance {
                        confidence: if self.written.confidence {
                            self.confidence?
                        } else {
                            KAYENTA_CONFIDENCE
                        },
                        allowed_increase: pick(
                            self.allowed_increase,
                            self.written.allowed_increase,
                        )?,
                        allowed_decrease: pick(
                            self.allowed_decrease,
                            self.written.allowed_decrease,
                        )?,
                    },
                    band: self.band?,
                    critical_increase: self.critical_increase?.unwrap_or(default),
                    critical_decrease: self.critical_decrease?.unwrap_or(default),
                    effect_size,
                })
            }
        })
    }
}

impl Ctx<'_> {
    /// The judge, and its `total` as written with where its value is (for the checks across
    /// metrics, which need it even when something else in the judge is wrong).
    pub(super) fn judge(
        &mut self,
        node: &Node,
        path: &str,
    ) -> (Option<JudgeSpec>, Option<(String, Pos)>) {
        let Some(fields) = self.mapping(node, path, Some(JUDGE_KEYS)) else {
            return (None, None);
        };
        let defaults = JudgeSpec::default();
        let tolerance = Tolerance::default();
        let mut ok = true;
        let field = |key: &str| format!("{path}.{key}");

        let test = match fields.get("test") {
            None => Some(defaults.test()),
            Some(v) => {
                let tests = TestKind::ALL.map(|t| (t.as_str(), t));
                self.choice(v, &field("test"), "test", &tests)
            }
        };
        let direction = match fields.get("direction") {
            None => Some(defaults.direction),
            Some(v) => self.choice(v, &field("direction"), "direction", DIRECTIONS),
        };
        let nan = match fields.get("nan") {
            None => Some(defaults.nan),
            Some(v) => self.choice(v, &field("nan"), "nan", NAN_STRATEGIES),
        };
        let confidence = match fields.get("confidence") {
            None => Some(tolerance.confidence),
            Some(v) => self.number(v, &field("confidence")).and_then(|c| {
                if c > 0.0 && c < 1.0 {
                    Some(c)
                } else {
                    self.report(
                        v.pos,
                        field("confidence"),
                        format!(
                            "confidence must be strictly between 0 and 1 (e.g. 0.95), found {c}"
                        ),
                    );
                    None
                }
            }),
        };
        let quantile = match fields.get("quantile") {
            None => Some(DEFAULT_QUANTILE),
            Some(v) => self.number(v, &field("quantile")).and_then(|q| {
                if q > 0.0 && q < 1.0 {
                    Some(q)
                } else {
                    self.report(
                        v.pos,
                        field("quantile"),
                        format!("quantile must be strictly between 0 and 1 (e.g. 0.9), found {q}"),
                    );
                    None
                }
            }),
        };
        let allowed_increase = self.positive_or(
            &fields,
            path,
            "allowed_increase",
            tolerance.allowed_increase,
        );
        let allowed_decrease = self.positive_or(
            &fields,
            path,
            "allowed_decrease",
            tolerance.allowed_decrease,
        );
        let critical = match fields.get("critical") {
            None => Some(defaults.critical),
            Some(v) => self.boolean(v, &field("critical")),
        };
        let must_have_data = match fields.get("must_have_data") {
            None => Some(defaults.must_have_data),
            Some(v) => self.boolean(v, &field("must_have_data")),
        };
        let muted = match fields.get("muted") {
            None => Some(defaults.muted),
            Some(v) => self.boolean(v, &field("muted")),
        };
        let min_points = match fields.get("min_points") {
            None => Some(defaults.min_points),
            Some(v) => self.number(v, &field("min_points")).and_then(|n| {
                if n.fract() == 0.0 && (1.0..=1e6).contains(&n) {
                    Some(n as usize)
                } else {
                    self.report(
                        v.pos,
                        field("min_points"),
                        format!("min_points must be a whole number from 1 to 1000000, found {n}"),
                    );
                    None
                }
            }),
        };
        let outliers = match fields.get("outliers") {
            None => Some(defaults.outliers),
            Some(v) => self.outliers(v, &field("outliers")),
        };
        let bound = |ctx: &mut Self, key: &str, positive: bool| -> Option<Option<f64>> {
            let Some(v) = fields.get(key) else {
                return Some(None);
            };
            let number = ctx.number(v, &field(key))?;
            if positive && number <= 0.0 {
                ctx.report(
                    v.pos,
                    field(key),
                    format!("{key} is a ratio canary/baseline and must be above 0, found {number}"),
                );
                return None;
            }
            Some(Some(number))
        };
        let total = match fields.get("total") {
            None => Some(None),
            Some(v) => self
                .non_empty_string(v, &field("total"))
                .map(|t| Some((t, v.pos))),
        };
        let band = match fields.get("tolerance") {
            None => Some(KAYENTA_TOLERANCE),
            Some(v) => self.number(v, &field("tolerance")).and_then(|t| {
                if (0.0..1.0).contains(&t) {
                    Some(t)
                } else {
                    self.report(
                        v.pos,
                        field("tolerance"),
                        format!(
                            "tolerance is the fraction of |estimate| the interval must clear, \
                             from 0 up to (not including) 1 (Kayenta's is 0.25), found {t}"
                        ),
                    );
                    None
                }
            }),
        };
        let effect_size = match fields.get("effect_size") {
            None => Some(EffectSize::default()),
            Some(v) => self.choice(v, &field("effect_size"), "effect_size", EFFECT_SIZES),
        };
        let critical_increase = self.positive_if_written(&fields, path, "critical_increase");
        let critical_decrease = self.positive_if_written(&fields, path, "critical_decrease");
        if effect_size == Some(EffectSize::Cles) {
            // cles is a probability: a threshold above 1 could never be reached.
            for (key, value) in [
                ("allowed_increase", allowed_increase),
                ("allowed_decrease", allowed_decrease),
                ("critical_increase", critical_increase.flatten()),
                ("critical_decrease", critical_decrease.flatten()),
            ] {
                let (Some(v), Some(n)) = (fields.get(key), value) else {
                    continue;
                };
                {
                    if n > 1.0 {
                        self.report(
                            v.pos,
                            field(key),
                            format!(
                                "with effect_size: cles, {key} is a probability (the share of \
                                 pairs where the canary is higher, 0.5 = no change) and must be \
                                 at most 1, found {n}"
                            ),
                        );
                        ok = false;
                    }
                }
            }
        }
        let min = bound(self, "min", false);
        let max = bound(self, "max", false);
        let max_increase_ratio = bound(self, "max_increase_ratio", true);
        let max_decrease_ratio = bound(self, "max_decrease_ratio", true);

        if let (Some(Some(lo)), Some(Some(hi))) = (min, max) {
            if lo > hi {
                let at = fields.get("min").unwrap_or(node);
                self.report(
                    at.pos,
                    field("min"),
                    format!("min ({lo}) is greater than max ({hi}): every value would fail"),
                );
                ok = false;
            }
        }

        if let Some(test) = test {
            ok &= self.check_kind_keys(&fields, node, path, test, outliers);
        }

        let written_total = total.clone().flatten();
        let kind_keys = KindKeys {
            confidence,
            allowed_increase,
            allowed_decrease,
            quantile,
            min,
            max,
            max_increase_ratio,
            max_decrease_ratio,
            total: total.map(|t| t.map(|(t, _)| t)),
            band,
            critical_increase,
            critical_decrease,
            effect_size,
            written: Written {
                confidence: fields.get("confidence").is_some(),
                allowed_increase: fields.get("allowed_increase").is_some(),
                allowed_decrease: fields.get("allowed_decrease").is_some(),
            },
        };
        let spec = (|| {
            Some(JudgeSpec {
                kind: kind_keys.build(test?)?,
                direction: direction?,
                critical: critical?,
                must_have_data: must_have_data?,
                nan: nan?,
                outliers: outliers?,
                min_points: min_points?,
                muted: muted?,
            })
        })();
        (spec.filter(|_| ok), written_total)
    }

    /// The rules between the keys and the test: a key the test does not read is reported
    /// where it is written (it would have no effect), `total` cannot go with removed
    /// outliers, and a threshold judge needs a bound. False when one is broken.
    fn check_kind_keys(
        &mut self,
        fields: &Fields<'_>,
        node: &Node,
        path: &str,
        test: TestKind,
        outliers: Option<OutlierSpec>,
    ) -> bool {
        let mut ok = true;
        let field = |key: &str| format!("{path}.{key}");
        let readers = |key: &str| -> Vec<TestKind> {
            TestKind::ALL
                .into_iter()
                .filter(|t| t.keys().contains(&key))
                .collect()
        };
        // Read by every other test: this one does not apply it (reported after the test's
        // own rules below); read by a few: it only applies to those.
        let read_by_all_others = |key: &str| readers(key).len() == TestKind::ALL.len() - 1;
        for key in JUDGE_KEYS {
            let Some(k) = fields.key_node(key) else {
                continue;
            };
            let readers = readers(key);
            if !readers.is_empty() && !readers.contains(&test) && !read_by_all_others(key) {
                let names: Vec<&str> = readers.iter().map(|t| t.as_str()).collect();
                let these = match names.split_last() {
                    Some((last, [])) => (*last).to_string(),
                    Some((last, first)) => format!("{} or {last}", first.join(", ")),
                    None => String::new(),
                };
                self.report(
                    k.pos,
                    field(key),
                    format!(
                        "`{key}` only applies to a {these} judge; with test {} it would have no \
                         effect (set `test: {}` or remove it)",
                        test.as_str(),
                        names[0]
                    ),
                );
                ok = false;
            }
            if *key == "total" && matches!(outliers, Some(OutlierSpec { remove: true, .. })) {
                self.report(
                    k.pos,
                    field("total"),
                    "`total` cannot be used with `outliers: {remove: true}`: the counts must \
                     stay aligned step for step with the totals, and removing outliers would \
                     drop counts but not their totals; remove one of the two",
                );
                ok = false;
            }
        }
        if test == TestKind::Threshold
            && ThresholdSpec::KEYS.iter().all(|k| fields.get(k).is_none())
        {
            self.report(
                node.pos,
                path,
                "a threshold judge needs at least one of min, max, max_increase_ratio, \
                 max_decrease_ratio; without one it could never fail",
            );
            ok = false;
        }
        for key in JUDGE_KEYS {
            let Some(k) = fields.key_node(key) else {
                continue;
            };
            if read_by_all_others(key) && !test.keys().contains(key) {
                let other = readers(key).first().map_or("", |t| t.as_str());
                self.report(
                    k.pos,
                    field(key),
                    format!(
                        "`{key}` does not apply to a {} judge and would have no effect; remove \
                         it, or use a statistical test such as {other}",
                        test.as_str()
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    fn positive_or(
        &mut self,
        fields: &Fields<'_>,
        path: &str,
        key: &str,
        default: f64,
    ) -> Option<f64> {
        let Some(v) = fields.get(key) else {
            return Some(default);
        };
        let field = format!("{path}.{key}");
        let number = self.number(v, &field)?;
        if number <= 0.0 {
            self.report(
                v.pos,
                field,
                format!("{key} is a ratio of means and must be above 0, found {number}"),
            );
            return None;
        }
        Some(number)
    }

    /// A key that must be above 0, `Some(None)` when it is not written.
    fn positive_if_written(
        &mut self,
        fields: &Fields<'_>,
        path: &str,
        key: &str,
    ) -> Option<Option<f64>> {
        let Some(v) = fields.get(key) else {
            return Some(None);
        };
        let field = format!("{path}.{key}");
        let number = self.number(v, &field)?;
        if number <= 0.0 {
            self.report(
                v.pos,
                field,
                format!(
                    "{key} is an effect size (a mean ratio, or with cles a probability) and \
                     must be above 0, found {number}"
                ),
            );
            return None;
        }
        Some(Some(number))
    }

    fn outliers(&mut self, node: &Node, path: &str) -> Option<OutlierSpec> {
        let fields = self.mapping(node, path, Some(OUTLIER_KEYS))?;
        let defaults = OutlierSpec::default();
        let remove = match fields.get("remove") {
            None => Some(defaults.remove),
            Some(v) => self.boolean(v, &format!("{path}.remove")),
        };
        let factor = match fields.get("factor") {
            None => Some(defaults.factor),
            Some(v) => {
                let field = format!("{path}.factor");
                self.number(v, &field).and_then(|f| {
                    if f > 0.0 {
                        Some(f)
                    } else {
                        self.report(
                            v.pos,
                            field,
                            format!("factor multiplies the interquartile range and must be above 0, found {f}"),
                        );
                        None
                    }
                })
            }
        };
        Some(OutlierSpec {
            remove: remove?,
            factor: factor?,
        })
    }
}
