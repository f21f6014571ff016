//! The report of CONTRACT §4: what `judge`, the REST API and the gates return.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Serde of a report number that JSON cannot always hold: NaN and ±∞ (a sum of values near
/// 1e308, a ratio of two zero spreads) are written as `null`, and `null` reads back as NaN, so
/// that every report that was written reads back (stored judgments, replays, gate reuse).
/// `Option<f64>` fields need nothing: `null` reads back as `None`.
mod finite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// [`finite`] for the two ends of an interval.
mod finite_pair {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64; 2], s: S) -> Result<S::Ok, S::Error> {
        v.map(|x| x.is_finite().then_some(x)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
        Ok(<[Option<f64>; 2]>::deserialize(d)?.map(|x| x.unwrap_or(f64::NAN)))
    }
}

/// [`finite_pair`] for an optional pair.
mod finite_pair_opt {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[f64; 2]>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|p| p.map(|x| x.is_finite().then_some(x)))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
        Ok(Option::<[Option<f64>; 2]>::deserialize(d)?.map(|p| p.map(|x| x.unwrap_or(f64::NAN))))
    }
}

/// The verdict of a judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Score at or above the pass threshold.
    Pass,
    /// Score at or above the marginal threshold.
    Marginal,
    /// Anything else.
    Fail,
}

impl Verdict {
    /// `pass`, `marginal` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Marginal => "marginal",
            Verdict::Fail => "fail",
        }
    }

    /// Exit status of `canaryd judge` (CONTRACT §1): 0 pass, 2 marginal, 3 fail.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Marginal => 2,
            Verdict::Fail => 3,
        }
    }
}

/// How one metric was classified (CONTRACT §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No significant bad change.
    Pass,
    /// Significantly higher, in a direction that is bad.
    High,
    /// Significantly lower, in a direction that is bad.
    Low,
    /// A side had no data; left out of the score.
    Nodata,
    /// A side had no data and the metric must have data: counts as a failure.
    NodataFail,
    /// The data could not be obtained; left out of the score.
    Error,
}

impl Classification {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::Nodata => "nodata",
            Classification::NodataFail => "nodata_fail",
            Classification::Error => "error",
        }
    }
}

/// A group's weight and score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// Group name.
    pub name: String,
    /// Weight out of 100.
    #[serde(with = "finite")]
    pub weight: f64,
    /// 0..100, rounded to 2 decimals.
    #[serde(with = "finite")]
    pub score: f64,
}

/// The numbers of Kayenta's `MannWhitneyClassifier` beside its interval (`test: kayenta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KayentaCheck {
    /// The `tolerance` key: the fraction of |estimate| the interval must clear.
    #[serde(with = "finite")]
    pub tolerance: f64,
    /// The band `[-tolerance x |estimate|, +tolerance x |estimate|]`: `high` needs `ci[0]`
    /// above it, `low` `ci[1]` below it.
    #[serde(with = "finite_pair")]
    pub band: [f64; 2],
    /// `mean-ratio` or `cles`.
    pub effect_size: String,
    /// The effect size; `null` where Kayenta's is NaN (a mean of 0), which blocks nothing.
    #[serde(default)]
    pub effect: Option<f64>,
    /// `[allowed_decrease, allowed_increase]`.
    #[serde(with = "finite_pair")]
    pub allowed: [f64; 2],
    /// `[critical_decrease, critical_increase]`.
    #[serde(with = "finite_pair")]
    pub critical: [f64; 2],
}

/// The statistical test behind a metric's classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum TestReport {
    /// Mann-Whitney U: R's `wilcox.test(canary, baseline, conf.int = TRUE)`.
    #[serde(rename = "mann-whitney")]
    MannWhitney {
        /// `exact` or `normal` (R's), or `normal-autocorrelated` (the `auto` judge's location
        /// test on serially dependent series: R's normal branch with the rank-sum variance
        /// inflated by the design effects).
        method: String,
        /// R's W.
        #[serde(with = "finite")]
        statistic: f64,
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Hodges-Lehmann shift canary - baseline.
        #[serde(with = "finite")]
        estimate: f64,
        /// Confidence interval of the shift.
        #[serde(with = "finite_pair")]
        ci: [f64; 2],
        /// Confidence level of `ci` (R's, adjusted when not achievable).
        #[serde(with = "finite")]
        confidence: f64,
        /// What Kayenta's classifier held the interval against (`test: kayenta` only).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        kayenta: Option<KayentaCheck>,
    },
    /// `auto`'s paired location test, for aligned series that share a pattern: the Wilcoxon
    /// signed-rank test of the point-for-point differences, R's `wilcox.test(canary, baseline,
    /// paired = TRUE, conf.int = TRUE)` on the values or on their logarithms.
    #[serde(rename = "signed-rank")]
    SignedRank {
        /// `exact` or `normal` (R's), or `normal-autocorrelated` (R's normal branch with the
        /// variance of V inflated by the differences' design effect).
        method: String,
        /// `log-ratio` (the differences of the logarithms: positive data) or `difference`.
        scale: String,
        /// R's V.
        #[serde(with = "finite")]
        statistic: f64,
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Hodges-Lehmann (pseudo)median of the differences, on `scale`.
        #[serde(with = "finite")]
        estimate: f64,
        /// Its confidence interval.
        #[serde(with = "finite_pair")]
        ci: [f64; 2],
        /// Confidence level of `ci` (Bonferroni-adjusted in `auto`).
        #[serde(with = "finite")]
        confidence: f64,
        /// The typical canary/baseline ratio, exp(estimate), on the `log-ratio` scale.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ratio: Option<f64>,
        /// Pearson correlation of the two series (on `scale`), which made the pairing.
        #[serde(with = "finite")]
        correlation: f64,
    },
    /// `auto`'s paired spread test: the sides' spreads beyond the pattern they share
    /// (Pitman-Morgan with Spearman's correlation of sums and differences, McCulloch 1987).
    #[serde(rename = "paired-scale")]
    PairedScale {
        /// `pitman-morgan-spearman`.
        method: String,
        /// `log-ratio` (on logarithms) or `difference`.
        scale: String,
        /// Spearman's correlation of canary + baseline with canary - baseline.
        #[serde(with = "finite")]
        correlation: f64,
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Confidence level the p-value is compared with.
        #[serde(with = "finite")]
        confidence: f64,
        /// The baseline's standard deviation beyond the shared pattern (on `scale`).
        #[serde(with = "finite")]
        baseline_own: f64,
        /// The canary's, likewise.
        #[serde(with = "finite")]
        canary_own: f64,
        /// canary_own / baseline_own.
        ratio: Option<f64>,
        /// Effective number of independent pairs the p-value used.
        #[serde(with = "finite")]
        effective: f64,
    },
    /// Bounds on the canary's mean.
    #[serde(rename = "threshold")]
    Threshold {
        /// Canary mean.
        #[serde(with = "finite")]
        canary_mean: f64,
        /// Absolute lower bound.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        min: Option<f64>,
        /// Absolute upper bound.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max: Option<f64>,
        /// Largest tolerated canary/baseline mean ratio.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_increase_ratio: Option<f64>,
        /// Smallest tolerated canary/baseline mean ratio.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_decrease_ratio: Option<f64>,
        /// The bounds broken, e.g. `max`, `max_increase_ratio`.
        broken: Vec<String>,
    },
    /// Poisson rates of event counts: R's `poisson.test`.
    #[serde(rename = "counts")]
    Counts {
        /// `poisson`, or `poisson-steps` (see `steps_with_events`).
        method: String,
        /// Baseline total, rounded.
        #[serde(with = "finite")]
        baseline_events: f64,
        /// Canary total, rounded.
        #[serde(with = "finite")]
        canary_events: f64,
        /// With `method: poisson-steps` (sparse counts that come in bursts): the steps with at
        /// least one event, [baseline, canary]; the rate ratio, interval and p-value are then
        /// those of these steps per step.
        #[serde(
            skip_serializing_if = "Option::is_none",
            default,
            with = "finite_pair_opt"
        )]
        steps_with_events: Option<[f64; 2]>,
        /// Canary rate per point (per unit of `total_metric` when given) over the baseline's;
        /// null when unbounded or unknown.
        rate_ratio: Option<f64>,
        /// Confidence interval of the rate ratio; an unbounded end is null.
        ci: [Option<f64>; 2],
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Confidence level of `ci`.
        #[serde(with = "finite")]
        confidence: f64,
        /// Events each side counts for after the autocorrelation correction ([baseline,
        /// canary], rounded; the test ran on these); absent when no side needed it.
        #[serde(
            skip_serializing_if = "Option::is_none",
            default,
            with = "finite_pair_opt"
        )]
        effective_events: Option<[f64; 2]>,
        /// With `total` (events per unit of another metric, e.g. errors per request): the sum
        /// of the baseline's totals over the steps compared, the exposure of its events.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        baseline_total: Option<f64>,
        /// Likewise for the canary.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        canary_total: Option<f64>,
        /// With `total`: the name of the metric holding the totals. The rate ratio, interval
        /// and p-value are then those of events per unit of that total.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        total_metric: Option<String>,
    },
    /// One quantile of the two sides (default p90), with an order-statistic (Woodruff)
    /// interval of the difference.
    #[serde(rename = "quantile")]
    Quantile {
        /// The quantile compared.
        #[serde(with = "finite")]
        quantile: f64,
        /// The baseline's quantile.
        #[serde(with = "finite")]
        baseline: f64,
        /// The canary's quantile.
        #[serde(with = "finite")]
        canary: f64,
        /// Values above the pooled `quantile` on each side, with a one-sided Fisher exact
        /// p-value (supporting evidence; the interval decides).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        upper: Option<TailReport>,
        /// Kept for reports written before the interval: values below the pooled
        /// `1 - quantile`. No longer written.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        lower: Option<TailReport>,
        /// Confidence level of `ci` (in `auto`, the Bonferroni-adjusted level).
        #[serde(with = "finite")]
        confidence: f64,
        /// `woodruff`: order-statistic standard errors, normal interval of the difference.
        #[serde(default)]
        method: String,
        /// canary - baseline.
        #[serde(default, with = "finite")]
        difference: f64,
        /// Confidence interval of the difference.
        #[serde(default, with = "finite_pair")]
        ci: [f64; 2],
        /// Canary quantile over baseline quantile; null when the baseline's is 0.
        #[serde(default)]
        ratio: Option<f64>,
        /// Two-sided p-value of "no difference".
        #[serde(default, with = "finite")]
        p_value: f64,
    },
    /// Spread: the Brown-Forsythe test (absolute deviations from the median).
    #[serde(rename = "scale")]
    Scale {
        /// `brown-forsythe`.
        method: String,
        /// Brown-Forsythe F (= t² of the deviations).
        #[serde(with = "finite")]
        statistic: f64,
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Baseline interquartile range.
        #[serde(with = "finite")]
        baseline_iqr: f64,
        /// Canary interquartile range.
        #[serde(with = "finite")]
        canary_iqr: f64,
        /// Confidence level of `ci` (in `auto`, the Bonferroni-adjusted level).
        #[serde(with = "finite")]
        confidence: f64,
        /// Baseline spread: mean absolute deviation from its median.
        #[serde(default, with = "finite")]
        baseline_spread: f64,
        /// Canary spread, likewise.
        #[serde(default, with = "finite")]
        canary_spread: f64,
        /// Canary spread over baseline spread; null when the baseline's is 0.
        #[serde(default)]
        ratio: Option<f64>,
        /// Confidence interval of canary spread - baseline spread.
        #[serde(default, with = "finite_pair")]
        ci: [f64; 2],
        /// Degrees of freedom of the t test (effective sizes - 2).
        #[serde(default, with = "finite")]
        df: f64,
    },
    /// `auto`'s mean test: the canary mean against the baseline's variance
    /// (`stats::mean_shift`).
    #[serde(rename = "mean")]
    Mean {
        /// `baseline-variance-t`.
        method: String,
        /// t = (canary mean - baseline mean) / (baseline sd × √(1/n_canary + 1/n_baseline)),
        /// with effective sizes.
        #[serde(with = "finite")]
        statistic: f64,
        /// Two-sided p-value.
        #[serde(with = "finite")]
        p_value: f64,
        /// Degrees of freedom (the baseline's effective size - 1).
        #[serde(with = "finite")]
        df: f64,
        /// Confidence level of `ci` (the level `auto` gives this test).
        #[serde(with = "finite")]
        confidence: f64,
        /// Baseline mean.
        #[serde(with = "finite")]
        baseline_mean: f64,
        /// Canary mean.
        #[serde(with = "finite")]
        canary_mean: f64,
        /// The baseline's standard deviation, the yardstick.
        #[serde(with = "finite")]
        baseline_sd: f64,
        /// Canary mean over baseline mean; null when the baseline's is 0.
        ratio: Option<f64>,
        /// Confidence interval of canary mean - baseline mean.
        #[serde(with = "finite_pair")]
        ci: [f64; 2],
    },
    /// `auto`'s step test: a change of level inside the window that only the canary took.
    #[serde(rename = "step")]
    Step {
        /// What the break was looked for in.
        method: String,
        /// Andrews' sup-Wald statistic of the break.
        #[serde(with = "finite")]
        statistic: f64,
        /// Its p-value (James, James and Siegmund's approximation).
        #[serde(with = "finite")]
        p_value: f64,
        /// The level `auto` gives this test.
        #[serde(with = "finite")]
        confidence: f64,
        /// 0-based index of the first point after the break.
        index: usize,
        /// Points in the series.
        of: usize,
        /// Canary / baseline mean before the break.
        before: Option<f64>,
        /// Canary / baseline mean after the break.
        after: Option<f64>,
    },
}

/// One tail of the quantile judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailReport {
    /// The pooled quantile the two sides are counted against.
    #[serde(with = "finite")]
    pub threshold: f64,
    /// Canary values beyond it.
    pub canary_beyond: u64,
    /// Baseline values beyond it.
    pub baseline_beyond: u64,
    /// One-sided Fisher exact p-value: the canary has more values beyond it.
    #[serde(with = "finite")]
    pub p_value: f64,
}

/// What was fetched for a metric (live sources only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryReport {
    /// Rendered baseline query.
    pub baseline: String,
    /// Rendered canary query.
    pub canary: String,
    /// Points fetched for the baseline.
    pub baseline_points: usize,
    /// Points fetched for the canary.
    pub canary_points: usize,
}

/// The judgment of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// Metric name.
    pub name: String,
    /// Group it scores in.
    pub group: String,
    /// pass | high | low | nodata | nodata_fail | error.
    pub classification: Classification,
    /// True when this result is a critical failure (forces the score to 0).
    pub critical: bool,
    /// A muted metric (`judge.muted`): judged and reported, left out of the score.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub muted: bool,
    /// Plain-language explanation: which way it moved, by how much, with what confidence.
    pub reason: String,
    /// Baseline statistics after missing-value and outlier handling.
    pub baseline: Summary,
    /// Canary statistics after missing-value and outlier handling.
    pub canary: Summary,
    /// The test, when one ran. For `auto`, the component that decided (the first `high` or
    /// `low` one, else the location test); all of them are in `tests`.
    pub test: Option<TestReport>,
    /// `auto` on a continuous metric: every test it ran (location, quantile, spread), each at
    /// the Bonferroni-adjusted confidence level. Absent for the other judges.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tests: Vec<TestReport>,
    /// Canary mean / baseline mean; null when the baseline mean is 0 or a side is empty.
    pub mean_ratio: Option<f64>,
    /// Values dropped as missing (null/NaN) on each side, and as outliers.
    pub dropped: Dropped,
    /// The queries behind the data (live sources).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<QueryReport>,
    /// Where the canary changed level inside the window, when it did (the least-squares break
    /// of `stats::change_point`, significant by Andrews' sup-Wald test).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub change_point: Option<ChangePointReport>,
}

/// Where the canary changed level inside the window (CONTRACT §8: `{index, time, before,
/// after, confidence}`, and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePointReport {
    /// 0-based index of the first point after the change, in the canary's series as judged.
    pub index: usize,
    /// Points in that series.
    pub of: usize,
    /// The time of that point, when the series lie on a known grid (live sources).
    pub time: Option<DateTime<Utc>>,
    /// The canary against the baseline before the change, as a relative difference of the
    /// means (0.01: 1% above).
    #[serde(with = "finite")]
    pub before: f64,
    /// Likewise after the change.
    #[serde(with = "finite")]
    pub after: f64,
    /// Confidence level of `interval`.
    #[serde(with = "finite")]
    pub confidence: f64,
    /// Bai's interval of `index`: the first and last index the change may have started at.
    pub interval: [usize; 2],
    /// The times of those points, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_time: Option<[DateTime<Utc>; 2]>,
    /// `up` or `down`.
    pub direction: String,
    /// Andrews' sup-Wald statistic of the break.
    #[serde(with = "finite")]
    pub wald: f64,
    /// How it was found, in words.
    pub method: String,
}

/// How many values were left out of a metric's samples, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dropped {
    /// Missing baseline values removed (nan: remove).
    pub baseline_missing: usize,
    /// Missing canary values removed.
    pub canary_missing: usize,
    /// Missing values counted as 0 (nan: replace), both sides.
    pub replaced: usize,
    /// Baseline outliers removed.
    pub baseline_outliers: usize,
    /// Canary outliers removed.
    pub canary_outliers: usize,
}

/// A whole judgment (CONTRACT §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// pass | marginal | fail.
    pub verdict: Verdict,
    /// 0..100, rounded to 2 decimals.
    #[serde(with = "finite")]
    pub score: f64,
    /// The verdict in one line of at most 200 characters: the score and each failing metric
    /// with its change and interval ([`super::headline`]). Empty in reports stored before it
    /// existed.
    #[serde(default)]
    pub headline: String,
    /// Why, in plain language.
    pub reason: String,
    /// Template name.
    pub template: String,
    /// Pass and marginal thresholds used.
    pub thresholds: Thresholds,
    /// Group scores, in order of first appearance.
    pub groups: Vec<GroupScore>,
    /// Metric results, in template order.
    pub metrics: Vec<MetricReport>,
    /// A look of a sequential analysis or gate sequence: the evidence so far, the boundary it
    /// was held to and the decision ([`super::sequential`]). Absent from a plain judgment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<super::sequential::SequentialReport>,
}

/// Score thresholds in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Pass threshold.
    #[serde(with = "finite")]
    pub pass: f64,
    /// Marginal threshold.
    #[serde(with = "finite")]
    pub marginal: f64,
}
