//! Import of a Kayenta canary config (kayenta-core `CanaryConfig` JSON) as a canaryd template
//! (CONTRACT §8, `canaryd template import-kayenta`). Pure: JSON text or value in, YAML text
//! and warnings out.
//!
//! Each metric's query is built the way its Kayenta backend builds it (kayenta-prometheus
//! `PrometheusMetricsService.buildQuery`, kayenta-graphite `GraphiteMetricsService`,
//! kayenta-influxdb `InfluxDbQueryBuilder`, kayenta-datadog `DatadogMetricsService`), with
//! canaryd placeholders where Kayenta binds a value at request time: `${scope}` for the scope,
//! `${location}` for its location and `${NAME}` for an extended scope parameter (a template
//! argument). Every metric is judged by `test: kayenta` with the metric's
//! `analysisConfigurations.canary`.
//!
//! Whatever does not map exactly is a [`KayentaIssue`] warning naming the metric and the
//! field; whatever cannot be translated (an unknown backend, a malformed config) is an error of
//! the same shape, and every one found is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::{name_problem, MAX_NAME_CHARS};

/// The judge Kayenta's sample configs name; its classifier is canaryd's `test: kayenta`.
pub const NETFLIX_ACA_JUDGE: &str = "NetflixACAJudge-v1.0";

/// What the caller sets beside the config.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The template's name (default: the config's `name`, made a valid name).
    pub name: Option<String>,
    /// The template's source (default: the metrics' backend type, e.g. `prometheus`).
    pub source: Option<String>,
}

/// One warning or error of an import: the metric (when one is to blame), the field and what
/// happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KayentaIssue {
    /// The Kayenta metric's `name`, as written in the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The JSON path of the field in the Kayenta config, e.g. `metrics[0].query.labelBindings`.
    pub field: String,
    /// What does not map, or why it cannot be translated.
    pub message: String,
}

impl fmt::Display for KayentaIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.metric {
            Some(metric) => write!(f, "metric '{metric}': {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// Why a Kayenta config could not be imported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KayentaError {
    /// The text is not JSON.
    #[error("not a Kayenta canary config: the JSON does not parse at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's words.
        message: String,
    },
    /// The config cannot be translated; every problem found.
    #[error("{}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n"))]
    Untranslatable(Vec<KayentaIssue>),
}

impl KayentaError {
    /// The problems, one per field (a JSON syntax error is one, at `(document)`).
    pub fn issues(&self) -> Vec<KayentaIssue> {
        match self {
            KayentaError::Json { .. } => vec![KayentaIssue {
                metric: None,
                field: "(document)".into(),
                message: self.to_string(),
            }],
            KayentaError::Untranslatable(issues) => issues.clone(),
        }
    }
}

/// A translated config.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The template's name.
    pub name: String,
    /// The template as YAML, in the form of `analysis-templates/*.yaml`.
    pub yaml: String,
    /// One per field that does not map exactly.
    pub warnings: Vec<KayentaIssue>,
}

/// True when `value` has the shape of a Kayenta canary config rather than a canaryd template:
/// a JSON object with a `classifier`, or with `metrics` whose entries have a `query` object
/// (Kayenta's `query.type`) or `analysisConfigurations`. A canaryd template's `query` is a
/// string and it has no `classifier`.
pub fn is_kayenta_config(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    if object.contains_key("classifier") {
        return true;
    }
    object
        .get("metrics")
        .and_then(Value::as_array)
        .is_some_and(|metrics| {
            metrics.iter().any(|m| {
                m.get("query").is_some_and(Value::is_object)
                    || m.get("analysisConfigurations").is_some()
            })
        })
}

/// Translates the Kayenta canary config in `json`.
///
/// # Errors
/// [`KayentaError::Json`] when it is not JSON, [`KayentaError::Untranslatable`] with every
/// problem when it cannot be translated.
pub fn import_kayenta(json: &str, options: &ImportOptions) -> Result<Imported, KayentaError> {
    let value: Value = serde_json::from_str(json).map_err(|e| KayentaError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    import_kayenta_value(&value, options)
}

/// Translates a Kayenta canary config already parsed as JSON.
///
/// # Errors
/// As [`import_kayenta`].
pub fn import_kayenta_value(
    value: &Value,
    options: &ImportOptions,
) -> Result<Imported, KayentaError> {
    let mut t = Translator::default();
    let Some(config) = value.as_object() else {
        t.error(
            None,
            "(document)",
            format!(
                "a Kayenta canary config is a JSON object, found {}",
                json_kind(value)
            ),
        );
        return Err(KayentaError::Untranslatable(t.errors));
    };
    let out = t.config(config, options);
    let out = match out {
        Some(out) if t.errors.is_empty() => out,
        _ => return Err(KayentaError::Untranslatable(t.errors)),
    };
    let yaml = out.to_yaml();
    // What canaryd's own loader finds (an argument default or a placeholder where no value
    // can be escaped, ...) is an error of the Kayenta metric it came from.
    if let Err(super::TemplateError::Invalid(diagnostics)) = super::parse_template(&yaml, &out.name)
    {
        let issues = diagnostics
            .into_iter()
            .map(|d| {
                let metric = metric_index(&d.field).and_then(|i| out.metrics.get(i));
                KayentaIssue {
                    metric: metric.map(|m| m.origin.0.clone()),
                    field: metric.map_or_else(|| "(config)".to_string(), |m| m.origin.1.clone()),
                    message: format!(
                        "the translated template is not valid canaryd: {}: {}",
                        d.field, d.message
                    ),
                }
            })
            .collect();
        return Err(KayentaError::Untranslatable(issues));
    }
    Ok(Imported {
        name: out.name.clone(),
        yaml,
        warnings: t.warnings,
    })
}

/// `i` of a diagnostic's field `metrics[i]...`.
fn metric_index(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("metrics[")?;
    rest[..rest.find(']')?].parse().ok()
}

// ----- the translation -----

/// The config's fields Kayenta keeps for its own bookkeeping (storage, listing); they say
/// nothing about the analysis and are dropped without a warning.
const BOOKKEEPING: &[&str] = &[
    "createdTimestamp",
    "updatedTimestamp",
    "createdTimestampIso",
    "updatedTimestampIso",
    "id",
    "configVersion",
    "applications",
];
const CONFIG_KEYS: &[&str] = &[
    "name",
    "description",
    "judge",
    "metrics",
    "templates",
    "classifier",
];
const METRIC_KEYS: &[&str] = &[
    "name",
    "query",
    "groups",
    "analysisConfigurations",
    "scopeName",
];
const CANARY_KEYS: &[&str] = &[
    "direction",
    "nanStrategy",
    "critical",
    "mustHaveData",
    "muted",
    "effectSize",
    "outliers",
];
const EFFECT_SIZE_KEYS: &[&str] = &[
    "measure",
    "allowedIncrease",
    "allowedDecrease",
    "criticalIncrease",
    "criticalDecrease",
];
const OUTLIER_KEYS: &[&str] = &["strategy", "outlierFactor"];
/// The backends canaryd has a source for.
const BACKENDS: &[&str] = &["prometheus", "graphite", "influxdb", "datadog"];
/// What Kayenta's InfluxDB builder refuses in a query ("Query type not allowed.").
const INFLUX_BLOCKED: &[&str] = &[
    "SHOW CONTINUOUS QUERIES",
    "SHOW DATABASES",
    "SHOW DIAGNOSTICS",
    "SHOW FIELD",
    "SHOW TAG",
    "SHOW USERS",
    "SHOW GRANTS",
    "SHOW MEASUREMENT",
    "SHOW QUERIES",
    "SHOW RETENTION POLICIES",
    "SHOW SERIES",
    "SHOW SHARD",
    "SHOW STATS",
    "SHOW SUBSCRIPTIONS",
    ";",
    "--",
];

#[derive(Default)]
struct Translator {
    warnings: Vec<KayentaIssue>,
    errors: Vec<KayentaIssue>,
    /// Template arguments found in the queries, in order of appearance.
    args: BTreeMap<String, ArgOut>,
    /// `${scope}` sits in a regex matcher somewhere (Kayenta puts it there unquoted).
    scope_regex: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ArgOut {
    default: Option<String>,
    regex: bool,
}

struct TemplateOut {
    name: String,
    description: String,
    source: String,
    kayenta_name: Option<String>,
    args: BTreeMap<String, ArgOut>,
    scope_regex: bool,
    scoring: Option<(f64, f64)>,
    groups: Vec<(String, f64)>,
    metrics: Vec<MetricOut>,
}

struct MetricOut {
    /// The Kayenta metric's name and JSON path, for the issues of the canaryd template.
    origin: (String, String),
    name: String,
    group: String,
    query: String,
    judge: JudgeOut,
}

struct JudgeOut {
    direction: &'static str,
    nan: &'static str,
    critical: bool,
    must_have_data: bool,
    outliers: Option<f64>,
    effect_size: &'static str,
    allowed_increase: f64,
    allowed_decrease: f64,
    critical_increase: f64,
    critical_decrease: f64,
    /// `muted`: judged, left out of the score (`judge.muted`).
    muted: bool,
}

/// The metric being read: its name for issues and its JSON path.
#[derive(Clone)]
struct At<'a> {
    metric: Option<&'a str>,
    path: String,
}

impl At<'_> {
    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

impl Translator {
    fn warn(&mut self, metric: Option<&str>, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(KayentaIssue {
            metric: metric.map(str::to_string),
            field: field.into(),
            message: message.into(),
        });
    }

    fn error(
        &mut self,
        metric: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(KayentaIssue {
            metric: metric.map(str::to_string),
            field: field.into(),
            message: message.into(),
        });
    }

    /// Warns about every key of `object` that is not in `known` (nor in `silent`).
    fn unknown_keys(
        &mut self,
        metric: Option<&str>,
        path: &str,
        object: &Map<String, Value>,
        known: &[&str],
        silent: &[&str],
        what: &str,
    ) {
        for key in object.keys() {
            if !known.contains(&key.as_str()) && !silent.contains(&key.as_str()) {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                self.warn(metric, field, format!("not a field {what} reads; ignored"));
            }
        }
    }

    fn config(
        &mut self,
        config: &Map<String, Value>,
        options: &ImportOptions,
    ) -> Option<TemplateOut> {
        self.unknown_keys(
            None,
            "",
            config,
            CONFIG_KEYS,
            BOOKKEEPING,
            "of Kayenta's CanaryConfig",
        );
        let kayenta_name = match config.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    None,
                    "name",
                    format!("expected a string, found {}", json_kind(other)),
                );
                None
            }
        };
        let name = match (&options.name, &kayenta_name) {
            (Some(given), _) => {
                if let Some(problem) = name_problem(given) {
                    self.error(None, "--name", format!("'{given}' {problem}"));
                }
                Some(given.clone())
            }
            (None, Some(kayenta)) => {
                let name = valid_name(kayenta);
                if name != *kayenta {
                    self.warn(
                        None,
                        "name",
                        format!(
                            "'{kayenta}' is not a canaryd template name ([A-Za-z0-9_-]+, at most \
                             {MAX_NAME_CHARS} characters); the template is named '{name}'"
                        ),
                    );
                }
                Some(name)
            }
            (None, None) => {
                self.error(
                    None,
                    "name",
                    "the config has no name; give the template one (--name NAME, or the path of PUT /api/v1/templates/{name})",
                );
                None
            }
        };
        let description = match config.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                self.error(
                    None,
                    "description",
                    format!("expected a string, found {}", json_kind(other)),
                );
                String::new()
            }
        };
        self.judge_config(config.get("judge"));
        let templates = self.templates(config.get("templates"));

        let metrics_value = match config.get("metrics") {
            Some(Value::Array(items)) if !items.is_empty() => Some(items),
            Some(Value::Array(_)) => {
                self.error(None, "metrics", "the config lists no metrics");
                None
            }
            None | Some(Value::Null) => {
                self.error(None, "metrics", "the config has no metrics");
                None
            }
            Some(other) => {
                self.error(
                    None,
                    "metrics",
                    format!("expected a list of metrics, found {}", json_kind(other)),
                );
                None
            }
        };
        let mut metrics = Vec::new();
        let mut backend: Option<(String, String)> = None;
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut placements: Vec<(String, GroupPlacement)> = Vec::new();
        for (i, item) in metrics_value.into_iter().flatten().enumerate() {
            let path = format!("metrics[{i}]");
            let Some(metric) = self.metric(item, &path, &templates, &mut backend) else {
                continue;
            };
            let (out, other_groups) = metric;
            if let Some(first) = names.get(&out.name) {
                self.error(
                    Some(&out.kayenta_name),
                    format!("{path}.name"),
                    format!(
                        "another metric ('{first}') has the same canaryd name '{}'; Kayenta finds a \
                         metric's config by name, so two metrics of one name cannot both be judged",
                        out.name
                    ),
                );
                continue;
            }
            names.insert(out.name.clone(), out.kayenta_name.clone());
            placements.push((out.metric.group.clone(), other_groups));
            metrics.push(out.metric);
        }
        let (scoring, groups) = self.classifier(config.get("classifier"), &metrics, &placements);
        let source = options
            .source
            .clone()
            .or_else(|| backend.map(|(kind, _)| kind))
            .unwrap_or_else(|| "prometheus".into());
        if !self.errors.is_empty() {
            return None;
        }
        Some(TemplateOut {
            name: name?,
            description,
            source,
            kayenta_name,
            args: std::mem::take(&mut self.args),
            scope_regex: self.scope_regex,
            scoring,
            groups,
            metrics,
        })
    }

    fn judge_config(&mut self, judge: Option<&Value>) {
        let Some(judge) = judge else { return };
        let Some(judge) = judge.as_object() else {
            if !judge.is_null() {
                self.error(
                    None,
                    "judge",
                    format!(
                        "expected an object {{name, judgeConfigurations}}, found {}",
                        json_kind(judge)
                    ),
                );
            }
            return;
        };
        match judge.get("name") {
            None | Some(Value::Null) => {}
            Some(Value::String(n)) if n == NETFLIX_ACA_JUDGE => {}
            Some(other) => self.warn(
                None,
                "judge.name",
                format!(
                    "{other} is not {NETFLIX_ACA_JUDGE}; every metric is judged by `test: kayenta`, \
                     the {NETFLIX_ACA_JUDGE} classifier"
                ),
            ),
        }
        if let Some(conf) = judge.get("judgeConfigurations") {
            let empty = conf.is_null() || conf.as_object().is_some_and(Map::is_empty);
            if !empty {
                self.warn(
                    None,
                    "judge.judgeConfigurations",
                    format!("{NETFLIX_ACA_JUDGE} reads no judge configuration; ignored"),
                );
            }
        }
        self.unknown_keys(
            None,
            "judge",
            judge,
            &["name", "judgeConfigurations"],
            &[],
            "of Kayenta's CanaryJudgeConfig",
        );
    }

    fn templates(&mut self, templates: Option<&Value>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match templates {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, text) in map {
                    match text {
                        Value::String(s) => {
                            out.insert(name.clone(), s.clone());
                        }
                        other => self.error(
                            None,
                            format!("templates.{name}"),
                            format!(
                                "expected a string (a filter template), found {}",
                                json_kind(other)
                            ),
                        ),
                    }
                }
            }
            Some(other) => self.error(
                None,
                "templates",
                format!(
                    "expected an object of named filter templates, found {}",
                    json_kind(other)
                ),
            ),
        }
        out
    }

    /// One metric; `None` when it cannot be translated (the errors are recorded).
    fn metric(
        &mut self,
        item: &Value,
        path: &str,
        templates: &BTreeMap<String, String>,
        backend: &mut Option<(String, String)>,
    ) -> Option<(NamedMetric, GroupPlacement)> {
        let Some(metric) = item.as_object() else {
            self.error(
                None,
                path,
                format!("expected a metric object, found {}", json_kind(item)),
            );
            return None;
        };
        let kayenta_name = match metric.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                self.error(None, format!("{path}.name"), "the metric has no name");
                return None;
            }
            Some(other) => {
                self.error(
                    None,
                    format!("{path}.name"),
                    format!("expected a string, found {}", json_kind(other)),
                );
                return None;
            }
        };
        let at = At {
            metric: Some(kayenta_name.as_str()),
            path: path.to_string(),
        };
        self.unknown_keys(
            at.metric,
            path,
            metric,
            METRIC_KEYS,
            &[],
            "of Kayenta's CanaryMetricConfig",
        );
        let name = valid_name(&kayenta_name);
        if name != kayenta_name {
            self.warn(
                at.metric,
                at.field("name"),
                format!(
                    "not a canaryd metric name ([A-Za-z0-9_-]+, at most {MAX_NAME_CHARS} \
                     characters); the metric is named '{name}'"
                ),
            );
        }
        match metric.get("scopeName") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "default" => {}
            Some(other) => self.warn(
                at.metric,
                at.field("scopeName"),
                format!(
                    "scope {other}: canaryd judges every metric of a template on the one \
                     baseline/canary scope pair of the request, Kayenta's `default` scope"
                ),
            ),
        }
        let judge = self.canary(&at, metric.get("analysisConfigurations"));
        let (group, others, zero_weight) = self.groups(&at, metric.get("groups"), &name);
        let query = self.query(&at, metric.get("query"), templates, backend);
        Some((
            NamedMetric {
                kayenta_name: kayenta_name.clone(),
                name: name.clone(),
                metric: MetricOut {
                    origin: (kayenta_name.clone(), path.to_string()),
                    name,
                    group,
                    query: query?,
                    judge: judge?,
                },
            },
            GroupPlacement {
                others,
                zero_weight,
            },
        ))
    }

    /// The metric's group, the groups beyond the first (not kept), and whether the group
    /// weighs 0 (one in no Kayenta group).
    fn groups(
        &mut self,
        at: &At<'_>,
        groups: Option<&Value>,
        name: &str,
    ) -> (String, Vec<String>, bool) {
        let field = at.field("groups");
        let mut list = Vec::new();
        match groups {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, g) in items.iter().enumerate() {
                    match g {
                        Value::String(s) if !s.is_empty() => list.push(s.clone()),
                        other => self.error(
                            at.metric,
                            format!("{field}[{i}]"),
                            format!("expected a group name, found {}", json_kind(other)),
                        ),
                    }
                }
            }
            Some(other) => self.error(
                at.metric,
                field.clone(),
                format!("expected a list of group names, found {}", json_kind(other)),
            ),
        }
        match list.split_first() {
            None => {
                self.warn(
                    at.metric,
                    field,
                    format!(
                        "the metric is in no group, so Kayenta counts it in no group's score; it \
                         is put in a group of its own, `{name}`, of weight 0"
                    ),
                );
                (name.to_string(), Vec::new(), true)
            }
            Some((first, [])) => (first.clone(), Vec::new(), false),
            Some((first, rest)) => {
                self.warn(
                    at.metric,
                    field,
                    format!(
                        "Kayenta scores the metric in each of its groups ({}); a canaryd metric \
                         is in one group: it is in `{first}` only",
                        list.iter()
                            .map(|g| format!("`{g}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                (first.clone(), rest.to_vec(), false)
            }
        }
    }

    /// `analysisConfigurations.canary` as the judge (`muted` included).
    fn canary(&mut self, at: &At<'_>, configs: Option<&Value>) -> Option<JudgeOut> {
        let base = at.field("analysisConfigurations");
        let empty = Map::new();
        let configs = match configs {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.error(
                    at.metric,
                    base,
                    format!("expected an object, found {}", json_kind(other)),
                );
                return None;
            }
        };
        for key in configs.keys() {
            if key != "canary" {
                self.warn(
                    at.metric,
                    format!("{base}.{key}"),
                    format!("{NETFLIX_ACA_JUDGE} reads only `canary`; ignored"),
                );
            }
        }
        let path = format!("{base}.canary");
        let canary = match configs.get("canary") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.error(
                    at.metric,
                    path,
                    format!("expected an object, found {}", json_kind(other)),
                );
                return None;
            }
        };
        self.unknown_keys(
            at.metric,
            &path,
            canary,
            CANARY_KEYS,
            &[],
            NETFLIX_ACA_JUDGE,
        );
        let f = |key: &str| format!("{path}.{key}");
        let mut ok = true;

        let direction = match canary.get("direction") {
            None | Some(Value::Null) => "either",
            Some(Value::String(s)) if s == "increase" => "increase",
            Some(Value::String(s)) if s == "decrease" => "decrease",
            Some(Value::String(s)) if s == "either" => "either",
            Some(other) => {
                self.warn(
                    at.metric,
                    f("direction"),
                    format!("{other} is not increase, decrease or either; Kayenta reads it as either, and so does the import"),
                );
                "either"
            }
        };
        let nan = match canary.get("nanStrategy") {
            None | Some(Value::Null) => "remove",
            Some(Value::String(s)) if s == "remove" => "remove",
            Some(Value::String(s)) if s == "replace" => "replace",
            Some(other) => {
                self.warn(
                    at.metric,
                    f("nanStrategy"),
                    format!("{other} is not remove or replace; Kayenta reads it as remove, and so does the import"),
                );
                "remove"
            }
        };
        let mut boolean = |t: &mut Self, key: &str| match canary.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                t.error(
                    at.metric,
                    f(key),
                    format!("expected true or false, found {other} (Kayenta fails on it too)"),
                );
                ok = false;
                false
            }
        };
        let critical = boolean(self, "critical");
        let must_have_data = boolean(self, "mustHaveData");
        let muted = boolean(self, "muted");

        let effect = match canary.get("effectSize") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.error(
                    at.metric,
                    f("effectSize"),
                    format!("expected an object, found {}", json_kind(other)),
                );
                return None;
            }
        };
        self.unknown_keys(
            at.metric,
            &f("effectSize"),
            effect,
            EFFECT_SIZE_KEYS,
            &[],
            NETFLIX_ACA_JUDGE,
        );
        let effect_size = match effect.get("measure") {
            None | Some(Value::Null) => "mean-ratio",
            Some(Value::String(s)) if s == "meanRatio" => "mean-ratio",
            Some(Value::String(s)) if s == "cles" => "cles",
            Some(other) => {
                self.warn(
                    at.metric,
                    f("effectSize.measure"),
                    format!("{other} is not meanRatio or cles; Kayenta measures the mean ratio then, and so does the import"),
                );
                "mean-ratio"
            }
        };
        // Kayenta's defaults: 0.5 (no effect) with cles, 1.0 (no change) with the mean ratio.
        let default = if effect_size == "cles" { 0.5 } else { 1.0 };
        let number =
            |t: &mut Self, object: &Map<String, Value>, key: &str, field: String, default: f64| {
                match object.get(key) {
                    None | Some(Value::Null) => Some(default),
                    Some(Value::Number(n)) => match n.as_f64() {
                        Some(x) if x > 0.0 && x.is_finite() => Some(x),
                        _ => {
                            t.error(
                                at.metric,
                                field,
                                format!("must be a number above 0, found {n}"),
                            );
                            None
                        }
                    },
                    Some(other) => {
                        t.error(
                            at.metric,
                            field,
                            format!("expected a number, found {other} (Kayenta fails on it too)"),
                        );
                        None
                    }
                }
            };
        let allowed_increase = number(
            self,
            effect,
            "allowedIncrease",
            f("effectSize.allowedIncrease"),
            default,
        );
        let allowed_decrease = number(
            self,
            effect,
            "allowedDecrease",
            f("effectSize.allowedDecrease"),
            default,
        );
        let critical_increase = number(
            self,
            effect,
            "criticalIncrease",
            f("effectSize.criticalIncrease"),
            default,
        );
        let critical_decrease = number(
            self,
            effect,
            "criticalDecrease",
            f("effectSize.criticalDecrease"),
            default,
        );

        let outliers = match canary.get("outliers") {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object(o)) => {
                self.unknown_keys(
                    at.metric,
                    &f("outliers"),
                    o,
                    OUTLIER_KEYS,
                    &[],
                    NETFLIX_ACA_JUDGE,
                );
                let remove = match o.get("strategy") {
                    None | Some(Value::Null) => false,
                    Some(Value::String(s)) if s == "remove" => true,
                    Some(Value::String(s)) if s == "keep" => false,
                    Some(other) => {
                        self.warn(
                            at.metric,
                            f("outliers.strategy"),
                            format!("{other} is not remove or keep; Kayenta keeps the outliers then, and so does the import"),
                        );
                        false
                    }
                };
                let factor = number(self, o, "outlierFactor", f("outliers.outlierFactor"), 3.0);
                if !remove && o.get("outlierFactor").is_some_and(|v| !v.is_null()) {
                    self.warn(
                        at.metric,
                        f("outliers.outlierFactor"),
                        "has no effect without `strategy: remove` (in Kayenta as here); dropped",
                    );
                }
                factor.map(|factor| remove.then_some(factor))
            }
            Some(other) => {
                self.error(
                    at.metric,
                    f("outliers"),
                    format!(
                        "expected an object {{strategy, outlierFactor}}, found {}",
                        json_kind(other)
                    ),
                );
                None
            }
        };
        let judge = (|| {
            Some(JudgeOut {
                direction,
                nan,
                critical,
                must_have_data,
                outliers: outliers?,
                effect_size,
                allowed_increase: allowed_increase?,
                allowed_decrease: allowed_decrease?,
                critical_increase: critical_increase?,
                critical_decrease: critical_decrease?,
                muted,
            })
        })();
        judge.filter(|_| ok)
    }

    // ----- queries -----

    fn query(
        &mut self,
        at: &At<'_>,
        query: Option<&Value>,
        templates: &BTreeMap<String, String>,
        backend: &mut Option<(String, String)>,
    ) -> Option<String> {
        let qpath = at.field("query");
        let q = match query {
            Some(Value::Object(q)) => q,
            None | Some(Value::Null) => {
                self.error(at.metric, qpath, "the metric has no query");
                return None;
            }
            Some(other) => {
                self.error(
                    at.metric,
                    qpath,
                    format!(
                        "expected a query object with a `type`, found {}",
                        json_kind(other)
                    ),
                );
                return None;
            }
        };
        let kind = match q.get("type") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => {
                self.error(at.metric, format!("{qpath}.type"), "the query has no type (the Kayenta backend: prometheus, graphite, influxdb, datadog, ...)");
                return None;
            }
            Some(other) => {
                self.error(
                    at.metric,
                    format!("{qpath}.type"),
                    format!("expected a string, found {}", json_kind(other)),
                );
                return None;
            }
        };
        if !BACKENDS.contains(&kind.as_str()) {
            self.error(
                at.metric,
                format!("{qpath}.type"),
                format!(
                    "Kayenta backend '{kind}' has no canaryd source; canaryd imports {}",
                    BACKENDS.join(", ")
                ),
            );
            return None;
        }
        match backend {
            Some((first, first_metric)) if *first != kind => {
                let message = format!(
                    "'{kind}', but metric '{first_metric}' is '{first}': a canaryd template \
                     has one source; import the metrics of each backend as their own template"
                );
                self.error(at.metric, format!("{qpath}.type"), message);
                return None;
            }
            Some(_) => {}
            None => *backend = Some((kind.clone(), at.metric.unwrap_or_default().to_string())),
        }
        let qat = At {
            metric: at.metric,
            path: qpath,
        };
        match kind.as_str() {
            "prometheus" => self.prometheus(&qat, q, templates),
            "graphite" => self.graphite(&qat, q),
            "influxdb" => self.influxdb(&qat, q),
            _ => self.datadog(&qat, q, templates),
        }
    }

    /// A string field; `None` when absent, null or empty (Kayenta's `StringUtils.isEmpty`).
    fn opt_string(
        &mut self,
        at: &At<'_>,
        q: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<String>, ()> {
        match q.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => {
                self.error(
                    at.metric,
                    at.field(key),
                    format!("expected a string, found {}", json_kind(other)),
                );
                Err(())
            }
        }
    }

    fn string_list(
        &mut self,
        at: &At<'_>,
        q: &Map<String, Value>,
        key: &str,
    ) -> Result<Vec<String>, ()> {
        match q.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            self.error(
                                at.metric,
                                format!("{}[{i}]", at.field(key)),
                                format!("expected a string, found {}", json_kind(other)),
                            );
                            ok = false;
                        }
                    }
                }
                if ok {
                    Ok(out)
                } else {
                    Err(())
                }
            }
            Some(other) => {
                self.error(
                    at.metric,
                    at.field(key),
                    format!("expected a list of strings, found {}", json_kind(other)),
                );
                Err(())
            }
        }
    }

    /// The custom template of a Prometheus or Datadog query: `customInlineTemplate`, else the
    /// config's template that `customFilterTemplate` names; with the field it came from.
    fn custom_template(
        &mut self,
        at: &At<'_>,
        q: &Map<String, Value>,
        templates: &BTreeMap<String, String>,
    ) -> Result<Option<(String, String)>, ()> {
        if q.get("customFilter").is_some_and(|v| !v.is_null()) {
            self.error(
                at.metric,
                at.field("customFilter"),
                "customFilter is deprecated and Kayenta refuses it; use customInlineTemplate",
            );
            return Err(());
        }
        let inline = self.opt_string(at, q, "customInlineTemplate")?;
        let named = self.opt_string(at, q, "customFilterTemplate")?;
        if let Some(inline) = inline {
            if named.is_some() {
                self.warn(
                    at.metric,
                    at.field("customFilterTemplate"),
                    "customInlineTemplate takes precedence, in Kayenta as here; ignored",
                );
            }
            return Ok(Some((inline, at.field("customInlineTemplate"))));
        }
        let Some(named) = named else { return Ok(None) };
        match templates.get(&named) {
            Some(text) => Ok(Some((text.clone(), format!("templates.{named}")))),
            None => {
                let message = if templates.is_empty() {
                    format!("custom filter template '{named}' was referenced, but the config defines no templates")
                } else {
                    format!(
                        "custom filter template '{named}' was not found (the config's templates: {})",
                        templates.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                self.error(at.metric, at.field("customFilterTemplate"), message);
                Err(())
            }
        }
    }

    /// Kayenta's `QueryConfigUtils.expandCustomFilter` with canaryd placeholders: `${scope}`
    /// stays `${scope}`, a name in `fixed` is replaced by its value now, every other `${name}`
    /// (an extended scope parameter, `location`, ...) becomes the argument `name`
    /// (`${name:-default}`: with that default).
    fn expand(
        &mut self,
        at: &At<'_>,
        field: &str,
        template: &str,
        fixed: &BTreeMap<&str, String>,
    ) -> Option<String> {
        let text = template.replace("$\\{", "${");
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        let mut ok = true;
        while let Some(start) = rest.find("${") {
            if rest[..start].ends_with('$') {
                self.error(
                    at.metric,
                    field,
                    "`$${` (a literal `${` in Kayenta's templates) has no canaryd equivalent",
                );
                return None;
            }
            out.push_str(&rest[..start]);
            let body = &rest[start + 2..];
            let Some(end) = body.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &body[..end];
            let (var, default) = match inner.split_once(":-") {
                Some((v, d)) => (v, Some(d.to_string())),
                None => (inner, None),
            };
            if let Some(value) = fixed.get(var) {
                out.push_str(value);
            } else if var == "scope" {
                out.push_str("${scope}");
            } else if super::render::is_identifier(var) {
                out.push_str(&format!("${{{var}}}"));
                self.add_arg(at, field, var, default);
            } else {
                self.error(
                    at.metric,
                    field,
                    format!(
                        "`${{{inner}}}`: a canaryd argument is a name ([A-Za-z_][A-Za-z0-9_]*), \
                         so `{var}` cannot be one"
                    ),
                );
                ok = false;
            }
            rest = &body[end + 1..];
        }
        out.push_str(rest);
        ok.then_some(out)
    }

    fn add_arg(&mut self, at: &At<'_>, field: &str, name: &str, default: Option<String>) {
        let entry = self.args.entry(name.to_string()).or_default();
        match (&entry.default, default) {
            (_, None) => {}
            (None, Some(d)) => entry.default = Some(d),
            (Some(old), Some(d)) if *old == d => {}
            (Some(old), Some(d)) => {
                let old = old.clone();
                self.warn(
                    at.metric,
                    field,
                    format!("`${{{name}:-{d}}}`: an earlier template gives `{name}` the default '{old}'; canaryd keeps one default per argument: '{old}'"),
                );
            }
        }
        if name == "location" {
            self.warn(
                at.metric,
                field,
                "`${location}` is the template argument `location`, one value for baseline and \
                 canary (Kayenta takes each scope's own location)",
            );
        }
    }

    /// Marks the placeholders that sit in a regex matcher (`=~"…"`, `!~"…"`) as regexes:
    /// Kayenta puts the values there as they are.
    fn mark_regex_placeholders(&mut self, promql: &str) {
        for name in placeholders_in_regex_matchers(promql) {
            if name == "scope" {
                self.scope_regex = true;
            } else if let Some(arg) = self.args.get_mut(&name) {
                arg.regex = true;
            }
        }
    }

    fn prometheus(
        &mut self,
        at: &At<'_>,
        q: &Map<String, Value>,
        templates: &BTreeMap<String, String>,
    ) -> Option<String> {
        self.unknown_keys(
            at.metric,
            &at.path,
            q,
            &[
                "type",
                "resourceType",
                "metricName",
                "labelBindings",
                "groupByFields",
                "customFilter",
                "customInlineTemplate",
                "customFilterTemplate",
            ],
            &["serviceType"],
            "of Kayenta's Prometheus query",
        );
        let resource_type = self.opt_string(at, q, "resourceType").ok()?;
        let metric_name = self.opt_string(at, q, "metricName").ok()?;
        let bindings = self.string_list(at, q, "labelBindings").ok()?;
        let group_by = self.string_list(at, q, "groupByFields").ok()?;
        let custom = self.custom_template(at, q, templates).ok()?;

        let mut fixed = BTreeMap::new();
        if let Some(rt) = &resource_type {
            fixed.insert("resourceType", rt.clone());
        }
        let custom_filter = match &custom {
            Some((text, field)) => Some(self.expand(at, field, text, &fixed)?),
            None => None,
        };
        let query = if let Some(promql) = custom_filter
            .as_deref()
            .and_then(|c| c.strip_prefix("PromQL:"))
        {
            for (key, present) in [
                ("metricName", metric_name.is_some()),
                ("labelBindings", !bindings.is_empty()),
                ("groupByFields", !group_by.is_empty()),
            ] {
                if present {
                    self.warn(
                        at.metric,
                        at.field(key),
                        "ignored: with a `PromQL:` template Kayenta sends the template's expression as it is, and so does the import",
                    );
                }
            }
            promql.to_string()
        } else {
            let Some(metric_name) = metric_name else {
                self.error(
                    at.metric,
                    at.field("metricName"),
                    "Kayenta needs a metricName unless the template is a full `PromQL:` expression",
                );
                return None;
            };
            let mut filters = Vec::new();
            match (&custom_filter, resource_type.as_deref()) {
                (Some(filter), _) => filters.extend(java_split(filter, ',')),
                (None, Some("gce_instance")) => {
                    self.args.entry("scope_label".into()).or_insert(ArgOut {
                        default: Some("instance".into()),
                        regex: false,
                    });
                    self.add_arg(at, &at.field("resourceType"), "location", None);
                    filters.push("${scope_label}=~\"${scope}-.{4}\"".to_string());
                    filters.push("zone=~\".+/zones/${location}-.{1}\"".to_string());
                    self.warn(
                        at.metric,
                        at.field("resourceType"),
                        "gce_instance: Kayenta narrows the zone to the project of the request's \
                         extendedScopeParams.project when one is given; the import matches the \
                         zone in any project. The scope label is the argument `scope_label` \
                         (Kayenta's server setting kayenta.prometheus.scopeLabel, default `instance`)",
                    );
                }
                (None, Some("aws_ec2_instance")) => {
                    self.add_arg(at, &at.field("resourceType"), "location", None);
                    filters.push("asg_groupName=\"${scope}\"".to_string());
                    filters.push("zone=~\"${location}.{1}\"".to_string());
                }
                (None, Some(other)) => {
                    self.error(
                        at.metric,
                        at.field("resourceType"),
                        format!(
                            "Kayenta has no explicit support for resourceType '{other}' (only \
                             gce_instance and aws_ec2_instance); build the query with labelBindings \
                             and a customFilterTemplate or customInlineTemplate"
                        ),
                    );
                    return None;
                }
                (None, None) => {
                    self.error(
                        at.metric,
                        at.field("resourceType"),
                        "Kayenta needs a resourceType (gce_instance, aws_ec2_instance) or a \
                         custom filter (customFilterTemplate, customInlineTemplate) to put the \
                         scope in the query; the config has neither (the deprecated \
                         extendedScopeParams.resourceType of a request cannot be known at import)",
                    );
                    return None;
                }
            }
            filters.extend(bindings);
            let mut query = metric_name;
            if !filters.is_empty() {
                query.push('{');
                query.push_str(&filters.join(","));
                query.push('}');
            }
            let mut query = format!("avg({query})");
            if !group_by.is_empty() {
                query.push_str(&format!(" by ({})", group_by.join(",")));
                self.warn(
                    at.metric,
                    at.field("groupByFields"),
                    "Kayenta judges each series of `avg(...) by (...)` as its own result; a canaryd \
                     metric is one series, and a query that returns several is refused when it \
                     is fetched: aggregate it to one series or import one metric per value",
                );
            }
            query
        };
        self.mark_regex_placeholders(&query);
        self.require_scope(at, custom.as_ref().map(|(_, f)| f.as_str()), &query)?;
        Some(query)
    }

    fn require_scope(&mut self, at: &At<'_>, field: Option<&str>, query: &str) -> Option<()> {
        if super::render::placeholders(query)
            .iter()
            .any(|p| p.name == "scope")
        {
            return Some(());
        }
        let field = field.map_or_else(|| at.path.clone(), str::to_string);
        self.error(
            at.metric,
            field,
            format!(
                "the query holds no `${{scope}}`, so baseline and canary would get the same \
                 series: {query}"
            ),
        );
        None
    }

    fn graphite(&mut self, at: &At<'_>, q: &Map<String, Value>) -> Option<String> {
        self.unknown_keys(
            at.metric,
            &at.path,
            q,
            &["type", "metricName"],
            &["serviceType"],
            "of Kayenta's Graphite query",
        );
        let Some(metric_name) = self.opt_string(at, q, "metricName").ok()? else {
            self.error(
                at.metric,
                at.field("metricName"),
                "a Graphite query needs a metricName (the target, with $scope and $location)",
            );
            return None;
        };
        // GraphiteMetricsService.buildQuery: plain replacement of `$scope`, then `$location`.
        let query = metric_name
            .replace("$scope", "${scope}")
            .replace("$location", "${location}");
        if metric_name.contains("$location") {
            self.add_arg(at, &at.field("metricName"), "location", None);
        }
        if !metric_name.contains("$scope") {
            self.error(
                at.metric,
                at.field("metricName"),
                format!("the target holds no `$scope`, so baseline and canary would get the same series: {metric_name}"),
            );
            return None;
        }
        Some(query)
    }

    fn influxdb(&mut self, at: &At<'_>, q: &Map<String, Value>) -> Option<String> {
        self.unknown_keys(
            at.metric,
            &at.path,
            q,
            &["type", "metricName", "fields", "customInlineTemplate"],
            &["serviceType"],
            "of Kayenta's InfluxDB query",
        );
        let metric_name = self.opt_string(at, q, "metricName").ok()?;
        let fields = self.string_list(at, q, "fields").ok()?;
        let inline = self.opt_string(at, q, "customInlineTemplate").ok()?;
        // Kayenta's scope is `TAG:VALUE` and becomes `TAG = 'VALUE'`; canaryd's scope is the
        // value, the tag an argument.
        let scope_filter = "${scope_tag} = '${scope}'";
        let query = match inline {
            Some(inline) => {
                let field = at.field("customInlineTemplate");
                let text = inline.replace("$\\{", "${");
                let mut missing = Vec::new();
                for needed in ["${timeFilter}", "${scope}"] {
                    if !text.contains(needed) {
                        missing.push(needed);
                    }
                }
                if !missing.is_empty() {
                    self.error(
                        at.metric,
                        field,
                        format!("Kayenta requires {} in the query", missing.join(" and ")),
                    );
                    return None;
                }
                if let Some(blocked) = INFLUX_BLOCKED.iter().find(|b| text.contains(**b)) {
                    self.error(at.metric, field, format!("Kayenta refuses a query with `{blocked}` (\"Query type not allowed.\")"));
                    return None;
                }
                let query = text
                    .replace("${timeFilter}", "$timeFilter")
                    .replace("${scope}", scope_filter)
                    .replace("${step}", "$interval");
                let others: Vec<String> = super::render::placeholders(&query)
                    .iter()
                    .filter(|p| p.name != "scope" && p.name != "scope_tag")
                    .map(|p| format!("${{{}}}", p.name))
                    .collect();
                if !others.is_empty() {
                    self.error(
                        at.metric,
                        field,
                        format!(
                            "{}: Kayenta's InfluxDB backend substitutes only ${{scope}}, ${{timeFilter}} and ${{step}}, and would send this as written",
                            others.join(", ")
                        ),
                    );
                    return None;
                }
                query
            }
            None => {
                let Some(measurement) = metric_name else {
                    self.error(at.metric, at.field("metricName"), "Kayenta needs a metricName (the measurement) unless there is a customInlineTemplate");
                    return None;
                };
                let fields = if fields.is_empty() {
                    self.warn(
                        at.metric,
                        at.field("fields"),
                        "no fields: Kayenta selects every field (`*::field`), one series each; a \
                         canaryd metric is one series, so name one field",
                    );
                    vec!["*::field".to_string()]
                } else {
                    fields
                };
                let query = format!(
                    "SELECT {} FROM {measurement} WHERE $timeFilter AND {scope_filter}",
                    fields.join(", ")
                );
                if INFLUX_BLOCKED.iter().any(|b| query.contains(b)) {
                    self.error(
                        at.metric,
                        at.field("metricName"),
                        "Kayenta refuses this query (\"Query type not allowed.\")",
                    );
                    return None;
                }
                query
            }
        };
        self.args.entry("scope_tag".into()).or_default();
        self.warn(
            at.metric,
            at.path.clone(),
            "Kayenta's InfluxDB scope is `TAG:VALUE`; canaryd's scope is the value and the tag is \
             the template argument `scope_tag`. Kayenta's time filter leaves the end out \
             (time < end); canaryd's $timeFilter takes it in",
        );
        Some(query)
    }

    fn datadog(
        &mut self,
        at: &At<'_>,
        q: &Map<String, Value>,
        templates: &BTreeMap<String, String>,
    ) -> Option<String> {
        self.unknown_keys(
            at.metric,
            &at.path,
            q,
            &[
                "type",
                "metricName",
                "customInlineTemplate",
                "customFilterTemplate",
                "customFilter",
            ],
            &["serviceType"],
            "of Kayenta's Datadog query",
        );
        let metric_name = self.opt_string(at, q, "metricName").ok()?;
        let custom = self.custom_template(at, q, templates).ok()?;
        let query = match &custom {
            Some((text, field)) => self.expand(at, field, text, &BTreeMap::new())?,
            None => {
                let Some(metric_name) = metric_name else {
                    self.error(
                        at.metric,
                        at.field("metricName"),
                        "a Datadog query needs a metricName or a custom template",
                    );
                    return None;
                };
                format!("{metric_name}{{${{scope}}}}")
            }
        };
        self.require_scope(at, custom.as_ref().map(|(_, f)| f.as_str()), &query)?;
        Some(query)
    }

    // ----- classifier -----

    fn classifier(
        &mut self,
        classifier: Option<&Value>,
        metrics: &[MetricOut],
        placements: &[(String, GroupPlacement)],
    ) -> (Option<(f64, f64)>, GroupWeights) {
        let empty = Map::new();
        let classifier = match classifier {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(c)) => c,
            Some(other) => {
                self.error(
                    None,
                    "classifier",
                    format!(
                        "expected an object {{groupWeights, scoreThresholds}}, found {}",
                        json_kind(other)
                    ),
                );
                return (None, Vec::new());
            }
        };
        self.unknown_keys(
            None,
            "classifier",
            classifier,
            &["groupWeights", "scoreThresholds"],
            &[],
            "of Kayenta's CanaryClassifierConfig",
        );
        let scoring = match classifier.get("scoreThresholds") {
            None | Some(Value::Null) => {
                self.warn(
                    None,
                    "classifier.scoreThresholds",
                    "absent: Kayenta takes the thresholds from each request; the template has \
                     canaryd's defaults (pass 95, marginal 75)",
                );
                None
            }
            Some(Value::Object(t)) => {
                let mut read = |key: &str| match t.get(key).and_then(Value::as_f64) {
                    Some(x) if (0.0..=100.0).contains(&x) => Some(x),
                    _ => {
                        self.error(
                            None,
                            format!("classifier.scoreThresholds.{key}"),
                            format!(
                                "expected a number from 0 to 100, found {}",
                                t.get(key).map_or("nothing".into(), |v| v.to_string())
                            ),
                        );
                        None
                    }
                };
                let pass = read("pass");
                let marginal = read("marginal");
                match (pass, marginal) {
                    (Some(p), Some(m)) if p >= m => Some((p, m)),
                    (Some(p), Some(m)) => {
                        self.error(
                            None,
                            "classifier.scoreThresholds",
                            format!("pass ({p}) is below marginal ({m})"),
                        );
                        None
                    }
                    _ => None,
                }
            }
            Some(other) => {
                self.error(
                    None,
                    "classifier.scoreThresholds",
                    format!(
                        "expected an object {{pass, marginal}}, found {}",
                        json_kind(other)
                    ),
                );
                None
            }
        };

        let mut weights: Vec<(String, f64)> = Vec::new();
        match classifier.get("groupWeights") {
            None | Some(Value::Null) => {}
            Some(Value::Object(w)) => {
                for (group, weight) in w {
                    match weight.as_f64() {
                        Some(x) if x >= 0.0 && x.is_finite() => weights.push((group.clone(), x)),
                        _ => self.error(
                            None,
                            format!("classifier.groupWeights.{group}"),
                            format!("expected a number of at least 0, found {weight}"),
                        ),
                    }
                }
            }
            Some(other) => {
                self.error(
                    None,
                    "classifier.groupWeights",
                    format!(
                        "expected an object of group weights, found {}",
                        json_kind(other)
                    ),
                );
            }
        }
        let used: BTreeSet<&str> = metrics.iter().map(|m| m.group.as_str()).collect();
        let kayenta_sum: f64 = weights.iter().map(|(_, w)| w).sum();
        let mut kept = Vec::new();
        for (group, weight) in weights {
            if used.contains(group.as_str()) {
                kept.push((group, weight));
                continue;
            }
            let second = placements.iter().any(|(_, p)| p.others.contains(&group));
            let why = if second {
                "only metrics that are in other groups first are in it"
            } else {
                "no metric is in it"
            };
            self.warn(
                None,
                format!("classifier.groupWeights.{group}"),
                format!("{why}; dropped (Kayenta still counts its weight {weight} in the total)"),
            );
        }
        // Metrics in no Kayenta group count toward nothing: weight 0.
        for (group, placement) in placements {
            if placement.zero_weight {
                kept.retain(|(g, _)| g != group);
                kept.push((group.clone(), 0.0));
            }
        }
        let sum: f64 = kept.iter().map(|(_, w)| w).sum();
        let every_used_weighted = used.iter().all(|u| kept.iter().any(|(g, _)| g == u));
        if sum > 0.0 && (sum > 100.0 + 1e-9 || (every_used_weighted && sum < 100.0 - 1e-9)) {
            self.warn(
                None,
                "classifier.groupWeights",
                format!(
                    "the weights of the groups in use add up to {} (all weights: {}), so Kayenta's \
                     score tops out at {}; canaryd's weights add up to 100, so each is scaled by \
                     100/{}",
                    number(sum),
                    number(kayenta_sum),
                    number(sum),
                    number(sum)
                ),
            );
            for (_, w) in &mut kept {
                *w = *w * 100.0 / sum;
            }
        }
        (scoring, kept)
    }
}

/// The template's groups and their weights, in order.
type GroupWeights = Vec<(String, f64)>;

/// Where a metric's Kayenta groups went.
struct GroupPlacement {
    /// The groups beyond the first, which the metric is not in.
    others: Vec<String>,
    /// Its group weighs 0.
    zero_weight: bool,
}

struct NamedMetric {
    kayenta_name: String,
    name: String,
    metric: MetricOut,
}

/// `text` split like Java's `String.split(",")`: trailing empty pieces are dropped.
fn java_split(text: &str, sep: char) -> Vec<String> {
    let mut pieces: Vec<String> = text.split(sep).map(str::to_string).collect();
    while pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) {
        pieces.pop();
    }
    if pieces.len() == 1 && pieces[0].is_empty() {
        pieces.clear();
    }
    pieces
}

/// The names of the placeholders inside the string of a PromQL regex matcher.
fn placeholders_in_regex_matchers(query: &str) -> Vec<String> {
    let bytes = query.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if (bytes[i] == b'=' || bytes[i] == b'!') && bytes[i + 1] == b'~' {
            let mut j = i + 2;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b'`') {
                let quote = bytes[j];
                let start = j + 1;
                let mut k = start;
                while k < bytes.len() && bytes[k] != quote {
                    if bytes[k] == b'\\' && quote != b'`' {
                        k += 1;
                    }
                    k += 1;
                }
                let end = k.min(bytes.len());
                for p in super::render::placeholders(&query[start..end]) {
                    found.push(p.name.to_string());
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// `name` made a canaryd name: each run of other characters becomes `_`, at most
/// [`MAX_NAME_CHARS`] characters; `imported` when nothing is left.
fn valid_name(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    let out: String = out.chars().take(MAX_NAME_CHARS).collect();
    if out.is_empty() {
        "imported".into()
    } else {
        out
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ----- YAML -----

/// A YAML scalar for a string: JSON's double-quoted form, which YAML reads the same.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A number as YAML: whole numbers without a fraction.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl TemplateOut {
    fn to_yaml(&self) -> String {
        let mut y = String::new();
        match &self.kayenta_name {
            Some(k) => y.push_str(&format!(
                "# Imported from the Kayenta canary config {} by `canaryd template import-kayenta`.\n",
                quoted(k)
            )),
            None => y.push_str("# Imported from a Kayenta canary config by `canaryd template import-kayenta`.\n"),
        }
        y.push_str(&format!("name: {}\n", quoted(&self.name)));
        if !self.description.is_empty() {
            y.push_str(&format!("description: {}\n", quoted(&self.description)));
        }
        y.push_str(&format!("source: {}\n", quoted(&self.source)));
        if self.scope_regex {
            y.push_str("# Kayenta puts the scope into regex matchers as it is: keep it a regex.\n");
            y.push_str("scope: { regex: true }\n");
        }
        if !self.args.is_empty() {
            y.push_str("args:\n");
            for (name, arg) in &self.args {
                let mut parts = Vec::new();
                if let Some(d) = &arg.default {
                    parts.push(format!("default: {}", quoted(d)));
                }
                if arg.regex {
                    parts.push("regex: true".to_string());
                }
                if parts.is_empty() {
                    y.push_str(&format!("  {name}: {{}}\n"));
                } else {
                    y.push_str(&format!("  {name}: {{ {} }}\n", parts.join(", ")));
                }
            }
        }
        if let Some((pass, marginal)) = self.scoring {
            y.push_str(&format!(
                "scoring: {{ pass: {}, marginal: {} }}\n",
                number(pass),
                number(marginal)
            ));
        }
        if !self.groups.is_empty() {
            y.push_str("groups:\n");
            for (g, w) in &self.groups {
                y.push_str(&format!("  {}: {}\n", quoted(g), number(*w)));
            }
        }
        y.push_str("metrics:\n");
        for m in &self.metrics {
            let j = &m.judge;
            y.push_str(&format!("  - name: {}\n", quoted(&m.name)));
            y.push_str(&format!("    group: {}\n", quoted(&m.group)));
            y.push_str(&format!("    query: {}\n", quoted(&m.query)));
            y.push_str("    judge:\n");
            y.push_str("      test: kayenta\n");
            y.push_str(&format!("      direction: {}\n", j.direction));
            y.push_str(&format!("      nan: {}\n", j.nan));
            y.push_str(&format!("      critical: {}\n", j.critical));
            y.push_str(&format!("      must_have_data: {}\n", j.must_have_data));
            if j.muted {
                y.push_str("      muted: true\n");
            }
            if let Some(factor) = j.outliers {
                y.push_str(&format!(
                    "      outliers: {{ remove: true, factor: {} }}\n",
                    number(factor)
                ));
            }
            y.push_str(&format!("      effect_size: {}\n", j.effect_size));
            y.push_str(&format!(
                "      allowed_increase: {}\n",
                number(j.allowed_increase)
            ));
            y.push_str(&format!(
                "      allowed_decrease: {}\n",
                number(j.allowed_decrease)
            ));
            y.push_str(&format!(
                "      critical_increase: {}\n",
                number(j.critical_increase)
            ));
            y.push_str(&format!(
                "      critical_decrease: {}\n",
                number(j.critical_decrease)
            ));
        }
        y
    }
}
