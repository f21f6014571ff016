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
    /// Kayenta's NetflixACAJudge-v1.0 classifier (its `MannWhitneyClassifier`).
    Kayenta,
}

impl TestKind {
    /// Every test, in the order templates list them.
    pub const ALL: [TestKind; 7] = [
        TestKind::MannWhitney,
        TestKind::Threshold,
        TestKind::Quantile,
        TestKind::Scale,
        TestKind::Counts,
        TestKind::Auto,
        TestKind::Kayenta,
    ];

    /// The keys of `judge:` that this test reads beyond those every judge reads (`test`,
    /// `direction`, `critical`, `must_have_data`, `nan`, `outliers`, `min_points`, `muted`).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            TestKind::MannWhitney | TestKind::Scale => Tolerance::KEYS,
            TestKind::Threshold => ThresholdSpec::KEYS,
            TestKind::Quantile => &[
                "confidence",
                "allowed_increase",
                "allowed_decrease",
                "quantile",
            ],
            TestKind::Counts => &[
                "confidence",
                "allowed_increase",
                "allowed_decrease",
                "total",
            ],
            TestKind::Auto => &[
                "confidence",
                "allowed_increase",
                "allowed_decrease",
                "quantile",
                "total",
            ],
            TestKind::Kayenta => KayentaSpec::KEYS,
        }
    }

    /// The name used in templates and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::MannWhitney => "mann-whitney",
            TestKind::Threshold => "threshold",
            TestKind::Quantile => "quantile",
            TestKind::Scale => "scale",
            TestKind::Counts => "counts",
            TestKind::Auto => "auto",
            TestKind::Kayenta => "kayenta",
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

/// How one metric is judged (CONTRACT §2 `judge:`): the keys every judge reads, and the test
/// with the options of its own ([`JudgeKind`]). A kind holds only the keys it reads, so that a
/// threshold judge cannot carry a `quantile`.
///
/// It serializes (template JSON in the API and the store) as the flat `judge:` mapping of
/// every key, the keys a kind does not read at their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeSpec {
    /// The test and its own options (default mann-whitney).
    pub kind: JudgeKind,
    /// Which change is bad (default either).
    pub direction: Direction,
    /// A critical metric that is not pass forces the score to 0.
    pub critical: bool,
    /// Missing data counts as a failure instead of "nodata".
    pub must_have_data: bool,
    /// Missing-value strategy.
    pub nan: NanStrategy,
    /// Outlier removal.
    pub outliers: OutlierSpec,
    /// Fewest usable canary points (after NaN handling and outlier removal) for the metric to
    /// be judged; fewer is too little traffic, classified like no data (default 1).
    pub min_points: usize,
    /// Judged and reported, but left out of every part of the score (group scores, critical
    /// failures, the no-data rule, `on_nodata`), as Kayenta's `ScoringHelper` leaves out a
    /// muted metric (default false).
    pub muted: bool,
}

impl JudgeSpec {
    /// A judge of `kind` with the defaults of every other key.
    pub fn new(kind: JudgeKind) -> Self {
        JudgeSpec {
            kind,
            direction: Direction::Either,
            critical: false,
            must_have_data: false,
            nan: NanStrategy::Remove,
            outliers: OutlierSpec::default(),
            min_points: 1,
            muted: false,
        }
    }

    /// A judge of test `test` with every option at its default.
    pub fn of(test: TestKind) -> Self {
        JudgeSpec::new(JudgeKind::of(test))
    }

    /// The test.
    pub fn test(&self) -> TestKind {
        self.kind.test()
    }

    /// The interval's confidence and the tolerated mean ratios of a statistical test; `None`
    /// for a threshold judge.
    pub fn tolerance(&self) -> Option<&Tolerance> {
        match &self.kind {
            JudgeKind::MannWhitney(k) => Some(&k.tolerance),
            JudgeKind::Threshold(_) => None,
            JudgeKind::Quantile(k) => Some(&k.tolerance),
            JudgeKind::Scale(k) => Some(&k.tolerance),
            JudgeKind::Counts(k) => Some(&k.tolerance),
            JudgeKind::Auto(k) => Some(&k.tolerance),
            JudgeKind::Kayenta(k) => Some(&k.tolerance),
        }
    }

    /// [`Self::tolerance`], to change it.
    pub fn tolerance_mut(&mut self) -> Option<&mut Tolerance> {
        match &mut self.kind {
            JudgeKind::MannWhitney(k) => Some(&mut k.tolerance),
            JudgeKind::Threshold(_) => None,
            JudgeKind::Quantile(k) => Some(&mut k.tolerance),
            JudgeKind::Scale(k) => Some(&mut k.tolerance),
            JudgeKind::Counts(k) => Some(&mut k.tolerance),
            JudgeKind::Auto(k) => Some(&mut k.tolerance),
            JudgeKind::Kayenta(k) => Some(&mut k.tolerance),
        }
    }

    /// The bounds of a threshold judge.
    pub fn threshold(&self) -> Option<&ThresholdSpec> {
        match &self.kind {
            JudgeKind::Threshold(k) => Some(k),
            _ => None,
        }
    }

    /// [`Self::threshold`], to change it.
    pub fn threshold_mut(&mut self) -> Option<&mut ThresholdSpec> {
        match &mut self.kind {
            JudgeKind::Threshold(k) => Some(k),
            _ => None,
        }
    }

    /// The quantile a quantile or auto judge compares.
    pub fn quantile(&self) -> Option<f64> {
        match &self.kind {
            JudgeKind::Quantile(k) => Some(k.quantile),
            JudgeKind::Auto(k) => Some(k.quantile),
            _ => None,
        }
    }

    /// [`Self::quantile`], to change it.
    pub fn quantile_mut(&mut self) -> Option<&mut f64> {
        match &mut self.kind {
            JudgeKind::Quantile(k) => Some(&mut k.quantile),
            JudgeKind::Auto(k) => Some(&mut k.quantile),
            _ => None,
        }
    }

    /// The metric whose series holds the totals of a counts or auto judge's counts.
    pub fn total(&self) -> Option<&str> {
        match &self.kind {
            JudgeKind::Counts(k) => k.total.as_deref(),
            JudgeKind::Auto(k) => k.total.as_deref(),
            _ => None,
        }
    }

    /// The `total` of a counts or auto judge, to change it; `None` for other kinds.
    pub fn total_mut(&mut self) -> Option<&mut Option<String>> {
        match &mut self.kind {
            JudgeKind::Counts(k) => Some(&mut k.total),
            JudgeKind::Auto(k) => Some(&mut k.total),
            _ => None,
        }
    }
}

impl Default for JudgeSpec {
    fn default() -> Self {
        JudgeSpec::of(TestKind::MannWhitney)
    }
}

/// The test of a judge with the options that it alone reads.
#[derive(Debug, Clone, PartialEq)]
pub enum JudgeKind {
    /// `test: mann-whitney`.
    MannWhitney(MannWhitneySpec),
    /// `test: threshold`.
    Threshold(ThresholdSpec),
    /// `test: quantile`.
    Quantile(QuantileSpec),
    /// `test: scale`.
    Scale(ScaleSpec),
    /// `test: counts`.
    Counts(CountsSpec),
    /// `test: auto`.
    Auto(AutoSpec),
    /// `test: kayenta`.
    Kayenta(KayentaSpec),
}

impl JudgeKind {
    /// The test `test` with its options at their defaults.
    pub fn of(test: TestKind) -> Self {
        match test {
            TestKind::MannWhitney => JudgeKind::MannWhitney(MannWhitneySpec::default()),
            TestKind::Threshold => JudgeKind::Threshold(ThresholdSpec::default()),
            TestKind::Quantile => JudgeKind::Quantile(QuantileSpec::default()),
            TestKind::Scale => JudgeKind::Scale(ScaleSpec::default()),
            TestKind::Counts => JudgeKind::Counts(CountsSpec::default()),
            TestKind::Auto => JudgeKind::Auto(AutoSpec::default()),
            TestKind::Kayenta => JudgeKind::Kayenta(KayentaSpec::default()),
        }
    }

    /// Which test this is.
    pub fn test(&self) -> TestKind {
        match self {
            JudgeKind::MannWhitney(_) => TestKind::MannWhitney,
            JudgeKind::Threshold(_) => TestKind::Threshold,
            JudgeKind::Quantile(_) => TestKind::Quantile,
            JudgeKind::Scale(_) => TestKind::Scale,
            JudgeKind::Counts(_) => TestKind::Counts,
            JudgeKind::Auto(_) => TestKind::Auto,
            JudgeKind::Kayenta(_) => TestKind::Kayenta,
        }
    }
}

/// The keys of every statistical test: the interval's confidence, and how large a change of
/// the mean ratio is tolerated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Confidence level of the interval, in (0, 1) (default 0.95).
    pub confidence: f64,
    /// Mean ratio canary/baseline tolerated upward (default 1.0).
    pub allowed_increase: f64,
    /// Mean ratio tolerated downward (default 1.0).
    pub allowed_decrease: f64,
}

impl Tolerance {
    /// The keys, in `judge:`.
    pub const KEYS: &'static [&'static str] =
        &["confidence", "allowed_increase", "allowed_decrease"];
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            confidence: 0.95,
            allowed_increase: 1.0,
            allowed_decrease: 1.0,
        }
    }
}

/// `test: mann-whitney`: Mann-Whitney U with the Hodges-Lehmann interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MannWhitneySpec {
    /// Confidence and tolerated ratios.
    pub tolerance: Tolerance,
}

/// `test: threshold`: absolute and relative bounds on the canary's mean; at least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ThresholdSpec {
    /// Absolute lower bound on the canary mean.
    pub min: Option<f64>,
    /// Absolute upper bound on the canary mean.
    pub max: Option<f64>,
    /// Largest tolerated canary/baseline mean ratio.
    pub max_increase_ratio: Option<f64>,
    /// Smallest tolerated canary/baseline mean ratio.
    pub max_decrease_ratio: Option<f64>,
}

impl ThresholdSpec {
    /// The keys, in `judge:`.
    pub const KEYS: &'static [&'static str] =
        &["min", "max", "max_increase_ratio", "max_decrease_ratio"];
}

/// The default `quantile` (p90).
pub const DEFAULT_QUANTILE: f64 = 0.9;

/// `test: quantile`: compare a high quantile of the two sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileSpec {
    /// Confidence and tolerated ratios.
    pub tolerance: Tolerance,
    /// The quantile compared, in (0, 1) (default 0.9).
    pub quantile: f64,
}

impl Default for QuantileSpec {
    fn default() -> Self {
        QuantileSpec {
            tolerance: Tolerance::default(),
            quantile: DEFAULT_QUANTILE,
        }
    }
}

/// `test: scale`: compare the spread of the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScaleSpec {
    /// Confidence and tolerated ratios.
    pub tolerance: Tolerance,
}

/// `test: counts`: compare event counts (sparse error metrics).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CountsSpec {
    /// Confidence and tolerated ratios.
    pub tolerance: Tolerance,
    /// The name of another metric of the template whose series holds the totals per step
    /// (requests per step) the counts are events of. The counts are then compared as events
    /// per unit of that total instead of per step, so that a canary serving a smaller share of
    /// the traffic is compared fairly.
    pub total: Option<String>,
}

/// `test: auto`: choose a test from the data.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoSpec {
    /// Confidence and tolerated ratios.
    pub tolerance: Tolerance,
    /// The quantile of the tail test, in (0, 1) (default 0.9).
    pub quantile: f64,
    /// As [`CountsSpec::total`]; with one, auto always compares the counts per unit of it.
    pub total: Option<String>,
}

impl Default for AutoSpec {
    fn default() -> Self {
        AutoSpec {
            tolerance: Tolerance::default(),
            quantile: DEFAULT_QUANTILE,
            total: None,
        }
    }
}

/// How `test: kayenta` measures the size of a change (Kayenta's `effectSize.measure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectSize {
    /// Canary mean over baseline mean (Kayenta's `meanRatio`, its default); unknown (NaN in
    /// Kayenta) when either mean is 0.
    #[default]
    MeanRatio,
    /// The common-language effect size (Kayenta's `cles`, Vargha and Delaney's A): the share of
    /// (canary, baseline) pairs where the canary is higher, ties counting half. 0.5 is no change.
    Cles,
}

impl EffectSize {
    /// The name used in templates and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectSize::MeanRatio => "mean-ratio",
            EffectSize::Cles => "cles",
        }
    }

    /// The default of `allowed_increase`, `allowed_decrease`, `critical_increase` and
    /// `critical_decrease` with this measure, as Kayenta's judge has them: 1.0 for the mean
    /// ratio, 0.5 for cles.
    pub fn default_threshold(self) -> f64 {
        match self {
            EffectSize::MeanRatio => 1.0,
            EffectSize::Cles => 0.5,
        }
    }
}

/// The default `tolerance` of `test: kayenta` (Kayenta's `MannWhitneyClassifier`).
pub const KAYENTA_TOLERANCE: f64 = 0.25;
/// The default `confidence` of `test: kayenta` (the level NetflixACAJudge-v1.0 uses).
pub const KAYENTA_CONFIDENCE: f64 = 0.98;

/// `test: kayenta`: Kayenta's NetflixACAJudge-v1.0 classifier. `high` when the interval's lower
/// end lies above the band `tolerance x |estimate|` and the effect size reaches
/// `allowed_increase`; `low` symmetrically; a critical metric fails critically only when the
/// effect size also passes `critical_increase` / `critical_decrease`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KayentaSpec {
    /// Confidence (default 0.98) and the effect sizes tolerated (`allowed_increase`,
    /// `allowed_decrease`: 1.0, or 0.5 with cles).
    pub tolerance: Tolerance,
    /// The `tolerance` key: the interval must clear `tolerance x |estimate|` (default 0.25).
    pub band: f64,
    /// Effect size a critical metric's `high` must reach to be a critical failure (default as
    /// `allowed_increase`).
    pub critical_increase: f64,
    /// Effect size a critical metric's `low` must reach (at most) to be a critical failure.
    pub critical_decrease: f64,
    /// How the effect size is measured (default mean-ratio).
    pub effect_size: EffectSize,
}

impl KayentaSpec {
    /// The keys, in `judge:`.
    pub const KEYS: &'static [&'static str] = &[
        "confidence",
        "allowed_increase",
        "allowed_decrease",
        "tolerance",
        "critical_increase",
        "critical_decrease",
        "effect_size",
    ];
}

impl Default for KayentaSpec {
    fn default() -> Self {
        KayentaSpec {
            tolerance: Tolerance {
                confidence: KAYENTA_CONFIDENCE,
                allowed_increase: 1.0,
                allowed_decrease: 1.0,
            },
            band: KAYENTA_TOLERANCE,
            critical_increase: 1.0,
            critical_decrease: 1.0,
            effect_size: EffectSize::MeanRatio,
        }
    }
}

/// The wire form of a [`JudgeSpec`]: the flat `judge:` mapping, every key in this order, the
/// keys the kind does not read at their defaults.
#[derive(Serialize)]
struct JudgeWire<'a> {
    test: TestKind,
    direction: Direction,
    confidence: f64,
    allowed_increase: f64,
    allowed_decrease: f64,
    critical: bool,
    must_have_data: bool,
    nan: NanStrategy,
    outliers: OutlierSpec,
    quantile: f64,
    min: Option<f64>,
    max: Option<f64>,
    max_increase_ratio: Option<f64>,
    max_decrease_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<&'a str>,
    min_points: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    critical_increase: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    critical_decrease: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    effect_size: Option<EffectSize>,
    muted: bool,
}

impl Serialize for JudgeSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tolerance = self.tolerance().copied().unwrap_or_default();
        let bounds = self.threshold().copied().unwrap_or_default();
        let kayenta = match &self.kind {
            JudgeKind::Kayenta(k) => Some(k),
            _ => None,
        };
        JudgeWire {
            test: self.test(),
            direction: self.direction,
            confidence: tolerance.confidence,
            allowed_increase: tolerance.allowed_increase,
            allowed_decrease: tolerance.allowed_decrease,
            critical: self.critical,
            must_have_data: self.must_have_data,
            nan: self.nan,
            outliers: self.outliers,
            quantile: self.quantile().unwrap_or(DEFAULT_QUANTILE),
            min: bounds.min,
            max: bounds.max,
            max_increase_ratio: bounds.max_increase_ratio,
            max_decrease_ratio: bounds.max_decrease_ratio,
            total: self.total(),
            min_points: self.min_points,
            tolerance: kayenta.map(|k| k.band),
            critical_increase: kayenta.map(|k| k.critical_increase),
            critical_decrease: kayenta.map(|k| k.critical_decrease),
            effect_size: kayenta.map(|k| k.effect_size),
            muted: self.muted,
        }
        .serialize(serializer)
    }
}
