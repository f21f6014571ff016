//! The typed analysis template of CONTRACT §2. Values of these types are valid by construction:
//! the loader ([`super::parse_template`]) checks everything before it builds them.

use std::collections::BTreeMap;

use serde::Serialize;

/// An analysis template: metrics to compare, how to judge each, how to score them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    /// `[A-Za-z0-9_-]+`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Name of a source in the configuration (default `prometheus`).
    pub source: String,
    /// Template arguments, `${name}` in queries; `default` when the caller gives none.
    pub args: BTreeMap<String, ArgSpec>,
    /// What `${scope}` is (`scope: { regex: true }`: a regular expression).
    pub scope: ScopeSpec,
    /// Query resolution in seconds (default 60).
    pub step_seconds: u64,
    /// Score thresholds.
    pub scoring: Scoring,
    /// Group weights as written, in template order.
    pub groups: Vec<GroupWeight>,
    /// The metrics, in template order.
    pub metrics: Vec<MetricSpec>,
}

/// One template argument.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ArgSpec {
    /// Value used when the caller gives none; an argument without one is required.
    pub default: Option<String>,
    /// The value is a regular expression: in a regex matcher (`=~"${name}"`, `/${name}/`) its
    /// metacharacters are kept. Otherwise they are quoted and the value matches literally.
    pub regex: bool,
}

/// What the scopes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ScopeSpec {
    /// The scopes are regular expressions (e.g. pod name patterns), kept as such in regex
    /// matchers; otherwise a scope matches literally everywhere.
    pub regex: bool,
}

/// Score thresholds: score >= pass is pass, >= marginal is marginal, else fail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scoring {
    /// Default 95.
    pub pass: f64,
    /// Default 75.
    pub marginal: f64,
    /// What a fail that missing data causes becomes (default `fail`).
    pub on_nodata: OnNodata,
}

/// `scoring.on_nodata`: the verdict of a judgment that would fail for want of data (metrics
/// `nodata` or `nodata_fail`, too little canary traffic under `min_points`) rather than for a
/// regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnNodata {
    /// It fails (Kayenta's and Flagger's behaviour).
    #[default]
    Fail,
    /// It is marginal: "wait". Argo reads it as Inconclusive and pauses the rollout; for
    /// Flagger it is a failed check on the rollout hook and never a rollback.
    Marginal,
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            pass: 95.0,
            marginal: 75.0,
            on_nodata: OnNodata::Fail,
        }
    }
}

/// A group and its weight (0..=100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupWeight {
    /// Group name.
    pub name: String,
    /// Weight out of 100.
    pub weight: f64,
}

/// One metric of a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSpec {
    /// Unique within the template.
    pub name: String,
    /// The group; a metric without one is its own group (named after the metric).
    pub group: Option<String>,
    /// Query in the source's language, with `${scope}` and `${arg}` placeholders.
    pub query: String,
    /// How to judge it.
    pub judge: JudgeSpec,
}

impl MetricSpec {
    /// The group this metric scores in: its `group`, or its own name.
    pub fn group_name(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.name)
    }
}

/// Which statistical test judges a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestKind {
    /// Mann-Whitney U with the Hodges-Lehmann interval.
    MannWhitney,
    /// Absolute and relative bounds on the canary's mean.
    Threshold,
    /// Compare a high quantile of the two sides.
    Quantile,
    /// Compare the spread of the two sides.
    Scale,
    /// Compare event counts (sparse error metrics).
    Counts,
    /// Choose a test from the data.
    Auto,
}

impl TestKind {
    /// The name used in templates and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::MannWhitney => "mann-whitney",
            TestKind::Threshold => "threshold",
            TestKind::Quantile => "quantile",
            TestKind::Scale => "scale",
            TestKind::Counts => "counts",
            TestKind::Auto => "auto",
        }
    }
}

/// Which change of a metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase is bad (latency, errors).
    Increase,
    /// Only a decrease is bad (throughput, success rate).
    Decrease,
    /// Both are bad.
    #[default]
    Either,
}

impl Direction {
    /// True when an increase is a failure.
    pub fn allows_increase(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }
    /// True when a decrease is a failure.
    pub fn allows_decrease(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// What to do with missing values (null / NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them.
    #[default]
    Remove,
    /// Count them as 0.
    Replace,
}

/// IQR outlier removal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutlierSpec {
    /// Remove outliers before the test (default false).
    pub remove: bool,
    /// IQR factor (default 3.0).
    pub factor: f64,
}

impl Default for OutlierSpec {
    fn default() -> Self {
        OutlierSpec {
            remove: false,
            factor: 3.0,
        }
    }
}

/// How one metric is judged (CONTRACT §2 `judge:`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeSpec {
    /// The test (default mann-whitney).
    pub test: TestKind,
    /// Which change is bad (default either).
    pub direction: Direction,
    /// Confidence level of the interval, in (0, 1) (default 0.95).
    pub confidence: f64,
    /// Mean ratio canary/baseline tolerated upward (default 1.0).
    pub allowed_increase: f64,
    /// Mean ratio tolerated downward (default 1.0).
    pub allowed_decrease: f64,
    /// A critical metric that is not pass forces the score to 0.
    pub critical: bool,
    /// Missing data counts as a failure instead of "nodata".
    pub must_have_data: bool,
    /// Missing-value strategy.
    pub nan: NanStrategy,
    /// Outlier removal.
    pub outliers: OutlierSpec,
    /// Quantile and auto judges: the quantile compared, in (0, 1) (default 0.9).
    pub quantile: f64,
    /// Threshold judge: absolute lower bound on the canary mean.
    pub min: Option<f64>,
    /// Threshold judge: absolute upper bound on the canary mean.
    pub max: Option<f64>,
    /// Threshold judge: largest tolerated canary/baseline mean ratio.
    pub max_increase_ratio: Option<f64>,
    /// Threshold judge: smallest tolerated canary/baseline mean ratio.
    pub max_decrease_ratio: Option<f64>,
    /// Counts and auto judges: the name of another metric of the template whose series holds
    /// the totals per step (requests per step) the counts are events of. The counts are then
    /// compared as events per unit of that total instead of per step, so that a canary
    /// serving a smaller share of the traffic is compared fairly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// Fewest usable canary points (after NaN handling and outlier removal) for the metric to
    /// be judged; fewer is too little traffic, classified like no data (default 1).
    pub min_points: usize,
}

impl Default for JudgeSpec {
    fn default() -> Self {
        JudgeSpec {
            test: TestKind::MannWhitney,
            direction: Direction::Either,
            confidence: 0.95,
            allowed_increase: 1.0,
            allowed_decrease: 1.0,
            critical: false,
            must_have_data: false,
            nan: NanStrategy::Remove,
            outliers: OutlierSpec::default(),
            quantile: 0.9,
            min: None,
            max: None,
            max_increase_ratio: None,
            max_decrease_ratio: None,
            total: None,
            min_points: 1,
        }
    }
}
