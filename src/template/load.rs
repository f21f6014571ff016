//! From the positioned YAML tree to a typed [`Template`], collecting every problem.
//!
//! Each problem is a [`Diagnostic`] at the node it concerns, with the dotted path of the field.
//! Conversion goes on after a problem (with the default in place of the bad value), so one run
//! of `canaryd template check` lists everything to fix; a template is returned only when there
//! is nothing at all to report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::render::{is_identifier, placeholders, SCOPE_PLACEHOLDER};
use super::yaml::{parse_document, Node, Pos, Value};
use super::{
    ArgSpec, Diagnostic, GroupWeight, JudgeSpec, MetricSpec, OnNodata, ScopeSpec, Scoring, Template,
};
use crate::source::placement::{escape_for_kind, place, scope_refusal, Language, Placement};

mod judge;
#[cfg(test)]
use judge::JUDGE_KEYS;

/// Field name used for problems that concern the whole document.
pub(crate) const DOCUMENT_FIELD: &str = "(document)";

const TEMPLATE_KEYS: &[&str] = &[
    "name",
    "description",
    "source",
    "scope",
    "args",
    "step_seconds",
    "scoring",
    "groups",
    "metrics",
];
const ARG_KEYS: &[&str] = &["default", "regex"];
const SCOPE_KEYS: &[&str] = &["regex"];
const SCORING_KEYS: &[&str] = &["pass", "marginal", "on_nodata"];
const ON_NODATA: &[(&str, OnNodata)] =
    &[("fail", OnNodata::Fail), ("marginal", OnNodata::Marginal)];
const METRIC_KEYS: &[&str] = &["name", "group", "query", "judge"];
/// Slack for sums of weights written as decimals.
const WEIGHT_EPSILON: f64 = 1e-9;

/// Parses and checks `text`; every problem found, in file order, when there is any.
pub(crate) fn load(text: &str, file: &str) -> Result<Template, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        file,
        text,
        language: None,
        args: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    let (document, problems) = parse_document(text);
    for problem in problems {
        let field = if problem.field.is_empty() {
            DOCUMENT_FIELD.to_string()
        } else {
            problem.field
        };
        ctx.report(problem.pos, field, problem.message);
    }
    let template = match &document {
        Some(root) => ctx.template(root),
        None if ctx.diagnostics.is_empty() => {
            ctx.report(
                Pos::START,
                DOCUMENT_FIELD,
                "the file is empty; a template is a mapping with at least `name` and `metrics`",
            );
            None
        }
        None => None,
    };
    let mut diagnostics = ctx.diagnostics;
    match template {
        Some(template) if diagnostics.is_empty() => Ok(template),
        _ => {
            // Stable: problems at one node keep the order in which they were found.
            diagnostics.sort_by_key(|d| (d.line, d.column));
            if diagnostics.is_empty() {
                // Cannot happen (every `None` above reports), but never return an empty error.
                diagnostics.push(Diagnostic {
                    file: file.to_string(),
                    line: 1,
                    column: 1,
                    field: DOCUMENT_FIELD.into(),
                    message: "the template could not be read".into(),
                });
            }
            Err(diagnostics)
        }
    }
}

/// The entries of one mapping, checked for unknown and duplicate keys.
struct Fields<'a> {
    node: &'a Node,
    entries: Vec<(&'a str, &'a Node, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    fn key_node(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| *k)
    }
}

struct Ctx<'f> {
    file: &'f str,
    /// The whole file, to locate placeholders inside a query.
    text: &'f str,
    /// The query language of the template's source, when its name is a source kind
    /// (`source: prometheus`); placeholders are then checked for where they sit.
    language: Option<Language>,
    /// The args read so far, so that each default is checked where its placeholders sit.
    args: BTreeMap<String, ArgSpec>,
    diagnostics: Vec<Diagnostic>,
}

/// What is known about one metric once read, for checks across metrics.
struct MetricRead {
    spec: Option<MetricSpec>,
    /// The group it scores in, when its name (and group) could be read.
    group: Option<String>,
    /// Its name, when it could be read.
    name: Option<String>,
    /// `judge.total` as written (a string), with where its value is.
    total: Option<(String, Pos)>,
}

impl Ctx<'_> {
    fn report(&mut self, pos: Pos, field: impl Into<String>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            field: field.into(),
            message: message.into(),
        });
    }

    // ----- the template -----

    fn template(&mut self, root: &Node) -> Option<Template> {
        if !matches!(root.value, Value::Map(_)) {
            self.report(
                root.pos,
                DOCUMENT_FIELD,
                format!(
                    "a template is a mapping with at least `name` and `metrics`, found {}",
                    describe(&root.value)
                ),
            );
            return None;
        }
        let fields = self.mapping(root, "", Some(TEMPLATE_KEYS))?;

        let name = self.required_name(&fields, "", "name", "template");
        let description = match fields.get("description") {
            Some(Node {
                value: Value::Null, ..
            }) => Some(String::new()),
            Some(node) => self.string(node, "description"),
            None => Some(String::new()),
        };
        let source = match fields.get("source") {
            Some(node) => self.non_empty_string(node, "source"),
            None => Some("prometheus".to_string()),
        };
        // A source named after its kind (the default `prometheus`) tells the query language
        // now; another name is resolved from the config at render time.
        self.language = source.as_deref().and_then(Language::from_kind);
        let scope = match fields.get("scope") {
            Some(node) => self.scope(node),
            None => Some(ScopeSpec::default()),
        };
        let args = match fields.get("args") {
            Some(node) => self.args(node),
            None => Some(BTreeMap::new()),
        };
        self.args = args.clone().unwrap_or_default();
        let step_seconds = match fields.get("step_seconds") {
            Some(node) => self.positive_integer(node, "step_seconds"),
            None => Some(60),
        };
        let scoring = match fields.get("scoring") {
            Some(node) => self.scoring(node),
            None => Some(Scoring::default()),
        };
        let groups = match fields.get("groups") {
            Some(node) => self.groups(node),
            None => Some(Vec::new()),
        };
        // Every name written under `args`, even one with a problem of its own, so that a
        // broken arg does not also make each query using it look like it misses one.
        let declared_args: Option<BTreeSet<String>> = match fields.get("args").map(|n| &n.value) {
            None | Some(Value::Null) => Some(BTreeSet::new()),
            Some(Value::Map(entries)) => Some(
                entries
                    .iter()
                    .filter_map(|(k, _)| match &k.value {
                        Value::Scalar { text, .. } => Some(text.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(_) => None,
        };
        let metrics = match fields.get("metrics") {
            Some(node) => self.metrics(node, declared_args.as_ref()),
            None => {
                self.report(
                    root.pos,
                    "metrics",
                    "required field `metrics` is missing; list at least one metric",
                );
                None
            }
        };
        if let (Some(groups), Some(metrics), Some(groups_node)) =
            (&groups, &metrics, fields.get("groups"))
        {
            self.check_weights(groups_node, groups, metrics);
        }

        let metrics = metrics?
            .into_iter()
            .map(|m| m.spec)
            .collect::<Option<Vec<_>>>()?;
        Some(Template {
            name: name?,
            description: description?,
            source: source?,
            scope: scope?,
            args: args?,
            step_seconds: step_seconds?,
            scoring: scoring?,
            groups: groups?.into_iter().map(|(g, _)| g).collect(),
            metrics,
        })
    }

    fn args(&mut self, node: &Node) -> Option<BTreeMap<String, ArgSpec>> {
        let fields = self.mapping(node, "args", None)?;
        let mut args = BTreeMap::new();
        let mut ok = true;
        for (name, key, value) in &fields.entries {
            let path = format!("args.{name}");
            if !is_identifier(name) {
                self.report(
                    key.pos,
                    &path,
                    format!(
                        "argument name `{name}` must be a letter or `_` followed by letters, \
                         digits or `_`, so that `${{{name}}}` can name it in a query"
                    ),
                );
                ok = false;
                continue;
            }
            if *name == SCOPE_PLACEHOLDER {
                self.report(
                    key.pos,
                    &path,
                    "`scope` is reserved: `${scope}` is the baseline's or the canary's scope",
                );
                ok = false;
                continue;
            }
            let Some(arg) = self.mapping(value, &path, Some(ARG_KEYS)) else {
                ok = false;
                continue;
            };
            let default = match arg.get("default") {
                None => None,
                Some(Node {
                    value: Value::Scalar { text, .. },
                    ..
                }) => Some(text.clone()),
                Some(other) => {
                    let hint = if matches!(other.value, Value::Null) {
                        "; write \"\" for an empty default, or leave `default` out to make \
                         the argument required"
                    } else {
                        ""
                    };
                    self.report(
                        other.pos,
                        format!("{path}.default"),
                        format!(
                            "expected a string or a number, found {}{hint}",
                            other.value.kind()
                        ),
                    );
                    ok = false;
                    continue;
                }
            };
            let regex = match arg.get("regex") {
                None => false,
                Some(node) => match self.boolean(node, &format!("{path}.regex")) {
                    Some(regex) => regex,
                    None => {
                        ok = false;
                        continue;
                    }
                },
            };
            args.insert(name.to_string(), ArgSpec { default, regex });
        }
        ok.then_some(args)
    }

    fn scope(&mut self, node: &Node) -> Option<ScopeSpec> {
        let fields = self.mapping(node, "scope", Some(SCOPE_KEYS))?;
        let regex = match fields.get("regex") {
            None => false,
            Some(node) => self.boolean(node, "scope.regex")?,
        };
        Some(ScopeSpec { regex })
    }

    fn scoring(&mut self, node: &Node) -> Option<Scoring> {
        let fields = self.mapping(node, "scoring", Some(SCORING_KEYS))?;
        let defaults = Scoring::default();
        let read = |ctx: &mut Self, key: &str, default: f64| match fields.get(key) {
            None => Some(default),
            Some(value) => {
                let path = format!("scoring.{key}");
                let number = ctx.number(value, &path)?;
                if !(0.0..=100.0).contains(&number) {
                    ctx.report(
                        value.pos,
                        path,
                        format!("{key} must be between 0 and 100, found {number}"),
                    );
                    return None;
                }
                Some(number)
            }
        };
        let pass = read(self, "pass", defaults.pass);
        let marginal = read(self, "marginal", defaults.marginal);
        let on_nodata = match fields.get("on_nodata") {
            None => Some(defaults.on_nodata),
            Some(v) => self.choice(v, "scoring.on_nodata", "on_nodata", ON_NODATA),
        };
        let (pass, marginal, on_nodata) = (pass?, marginal?, on_nodata?);
        if pass < marginal {
            let at = fields
                .get("pass")
                .or(fields.get("marginal"))
                .unwrap_or(node);
            self.report(
                at.pos,
                "scoring.pass",
                format!(
                    "pass ({pass}) is below marginal ({marginal}); a score must reach marginal \
                     before it can pass"
                ),
            );
            return None;
        }
        Some(Scoring {
            pass,
            marginal,
            on_nodata,
        })
    }

    /// The weights as written, each with the node of its key.
    fn groups<'n>(&mut self, node: &'n Node) -> Option<Vec<(GroupWeight, &'n Node)>> {
        let fields = self.mapping(node, "groups", None)?;
        let mut groups = Vec::new();
        let mut ok = true;
        for (name, key, value) in &fields.entries {
            let path = format!("groups.{name}");
            let Some(weight) = self.number(value, &path) else {
                ok = false;
                continue;
            };
            if !(0.0..=100.0).contains(&weight) {
                self.report(
                    value.pos,
                    path,
                    format!("a group weight must be between 0 and 100, found {weight}"),
                );
                ok = false;
                continue;
            }
            groups.push((
                GroupWeight {
                    name: name.to_string(),
                    weight,
                },
                *key,
            ));
        }
        ok.then_some(groups)
    }

    fn check_weights(
        &mut self,
        groups_node: &Node,
        groups: &[(GroupWeight, &Node)],
        metrics: &[MetricRead],
    ) {
        if groups.is_empty() {
            return;
        }
        let sum: f64 = groups.iter().map(|(g, _)| g.weight).sum();
        if sum > 100.0 + WEIGHT_EPSILON {
            self.report(
                groups_node.pos,
                "groups",
                format!("group weights add up to {sum}; they may add up to at most 100"),
            );
        }
        // The checks below need every metric's group; with one unknown they could mislead.
        let Some(used) = metrics
            .iter()
            .map(|m| m.group.clone())
            .collect::<Option<BTreeSet<String>>>()
        else {
            return;
        };
        let used_names: Vec<&str> = used.iter().map(String::as_str).collect();
        for (group, key) in groups {
            if !used.contains(&group.name) {
                let hint = match nearest(&group.name, &used_names) {
                    Some(near) => format!("; did you mean `{near}`?"),
                    None => String::new(),
                };
                self.report(
                    key.pos,
                    format!("groups.{}", group.name),
                    format!(
                        "group `{}` has a weight but no metric is in it{hint} (groups in use: {})",
                        group.name,
                        used_names.join(", ")
                    ),
                );
            }
        }
        let every_group_listed = used
            .iter()
            .all(|u| groups.iter().any(|(g, _)| &g.name == u));
        if every_group_listed && sum < 100.0 - WEIGHT_EPSILON {
            self.report(
                groups_node.pos,
                "groups",
                format!(
                    "group weights add up to {sum} and every group is listed, so nothing takes \
                     the remaining {} and the score could never reach 100",
                    100.0 - sum
                ),
            );
        }
    }

    // ----- metrics -----

    fn metrics(
        &mut self,
        node: &Node,
        declared_args: Option<&BTreeSet<String>>,
    ) -> Option<Vec<MetricRead>> {
        let items = match &node.value {
            Value::Seq(items) if !items.is_empty() => items,
            Value::Seq(_) | Value::Null => {
                self.report(node.pos, "metrics", "metrics must list at least one metric");
                return None;
            }
            other => {
                self.report(
                    node.pos,
                    "metrics",
                    format!("expected a list of metrics, found {}", describe(other)),
                );
                return None;
            }
        };
        let mut first_line: HashMap<String, usize> = HashMap::new();
        let mut read = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let path = format!("metrics[{index}]");
            let metric = self.metric(item, &path, declared_args);
            if let Some((name, name_node)) = &metric.1 {
                match first_line.get(name) {
                    Some(line) => self.report(
                        name_node.pos,
                        format!("{path}.name"),
                        format!("duplicate metric name `{name}`; the first is on line {line}"),
                    ),
                    None => {
                        first_line.insert(name.clone(), name_node.pos.line);
                    }
                }
            }
            read.push(metric.0);
        }
        self.check_totals(&read);
        Some(read)
    }

    /// `judge.total` names another metric of the template, one without a `total` of its own.
    /// Run once every metric is read: the total may come after the metric that uses it.
    fn check_totals(&mut self, read: &[MetricRead]) {
        // With a name that could not be read, "no such metric" could be wrong.
        let every_name_known = read.iter().all(|m| m.name.is_some());
        let names: Vec<&str> = read.iter().filter_map(|m| m.name.as_deref()).collect();
        for (index, metric) in read.iter().enumerate() {
            let Some((total, pos)) = &metric.total else {
                continue;
            };
            let field = format!("metrics[{index}].judge.total");
            if metric.name.as_deref() == Some(total.as_str()) {
                self.report(
                    *pos,
                    field,
                    format!(
                        "`total` names this metric itself (`{total}`); it must name another \
                         metric of the template, the one whose series holds the totals per step \
                         (e.g. requests per step)"
                    ),
                );
                continue;
            }
            match read
                .iter()
                .find(|m| m.name.as_deref() == Some(total.as_str()))
            {
                Some(named) if named.total.is_some() => {
                    self.report(
                        *pos,
                        field,
                        format!(
                            "`total` names `{total}`, which has a `total` of its own; a total \
                             metric holds plain totals (requests per step), so remove `total` \
                             from `{total}`"
                        ),
                    );
                }
                Some(_) => {}
                None if every_name_known => {
                    let others: Vec<&str> = names
                        .iter()
                        .copied()
                        .filter(|n| Some(*n) != metric.name.as_deref())
                        .collect();
                    let hint = match nearest(total, &others) {
                        Some(near) => format!("; did you mean `{near}`?"),
                        None => String::new(),
                    };
                    self.report(
                        *pos,
                        field,
                        format!(
                            "`total` names `{total}`, which is not a metric of this template{hint} \
                             (metrics: {})",
                            names.join(", ")
                        ),
                    );
                }
                None => {}
            }
        }
    }

    /// One metric, and its name with the node holding it (for the duplicate check).
    fn metric<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        declared_args: Option<&BTreeSet<String>>,
    ) -> (MetricRead, Option<(String, &'n Node)>) {
        let nothing = MetricRead {
            spec: None,
            group: None,
            name: None,
            total: None,
        };
        if !matches!(node.value, Value::Map(_)) {
            self.report(
                node.pos,
                path,
                format!(
                    "expected a metric (a mapping with `name` and `query`), found {}",
                    describe(&node.value)
                ),
            );
            return (nothing, None);
        }
        let Some(fields) = self.mapping(node, path, Some(METRIC_KEYS)) else {
            return (nothing, None);
        };
        let name = self.required_name(&fields, path, "name", "metric");
        let group = match fields.get("group") {
            None => Some(None),
            Some(value) => self
                .non_empty_string(value, &format!("{path}.group"))
                .map(Some),
        };
        let query = match fields.get("query") {
            None => {
                self.report(
                    node.pos,
                    format!("{path}.query"),
                    "required field `query` is missing",
                );
                None
            }
            Some(value) => {
                let query_path = format!("{path}.query");
                let query = self.non_empty_string(value, &query_path);
                if let Some(query) = &query {
                    self.check_query(value, &query_path, query, declared_args);
                }
                query
            }
        };
        let (judge, total) = match fields.get("judge") {
            None => (Some(JudgeSpec::default()), None),
            Some(value) => self.judge(value, &format!("{path}.judge")),
        };
        let name_entry = name.clone().zip(fields.get("name"));
        let scores_in = match (&name, &group) {
            (Some(name), Some(group)) => Some(group.clone().unwrap_or_else(|| name.clone())),
            _ => None,
        };
        let own_name = name.clone();
        let spec = match (name, group, query, judge) {
            (Some(name), Some(group), Some(query), Some(judge)) => Some(MetricSpec {
                name,
                group,
                query,
                judge,
            }),
            _ => None,
        };
        (
            MetricRead {
                spec,
                group: scores_in,
                name: own_name,
                total,
            },
            name_entry,
        )
    }

    fn check_query(
        &mut self,
        node: &Node,
        path: &str,
        query: &str,
        declared_args: Option<&BTreeSet<String>>,
    ) {
        let found = placeholders(query);
        if let Some(language) = self.language {
            let spans: Vec<(usize, usize)> = found.iter().map(|p| (p.start, p.end)).collect();
            for (placeholder, placed) in found.iter().zip(place(language, query, &spans)) {
                let refusal = match placed {
                    Err(reason) => Some(reason),
                    Ok(placement) if placeholder.name == SCOPE_PLACEHOLDER => {
                        scope_refusal(language, placement)
                    }
                    Ok(placement) => self.default_refusal(language, placeholder.name, placement),
                };
                if let Some(reason) = refusal {
                    let pos = self.locate(node, query, placeholder.start, placeholder.end);
                    self.report(
                        pos,
                        path,
                        format!(
                            "unsafe placement of `${{{}}}` in a {} query: {reason}",
                            placeholder.name,
                            language.name()
                        ),
                    );
                }
            }
        }
        if !found.iter().any(|p| p.name == SCOPE_PLACEHOLDER) {
            self.report(
                node.pos,
                path,
                "the query has no `${scope}`: it would fetch the same series for the baseline \
                 and the canary",
            );
        }
        // Without the list of args (itself broken) every name would look missing.
        let Some(declared) = declared_args else {
            return;
        };
        let mut reported = BTreeSet::new();
        for placeholder in found {
            let name = placeholder.name;
            if name == SCOPE_PLACEHOLDER || declared.contains(name) || !reported.insert(name) {
                continue;
            }
            let candidates: Vec<&str> = declared
                .iter()
                .map(String::as_str)
                .chain([SCOPE_PLACEHOLDER])
                .collect();
            let hint = match nearest(name, &candidates) {
                Some(near) => format!(" (did you mean `${{{near}}}`?)"),
                None => format!("; declare it under `args:`, e.g. `args: {{ {name}: {{}} }}`"),
            };
            self.report(
                node.pos,
                path,
                format!(
                    "missing arg: `${{{name}}}` is neither `${{scope}}` nor a declared arg{hint}"
                ),
            );
        }
    }

    /// Why the default of arg `name` cannot stand at `placement`, if it cannot.
    fn default_refusal(
        &self,
        language: Language,
        name: &str,
        placement: Placement,
    ) -> Option<String> {
        // The same escaping as when rendered, so that what passes here renders.
        let spec = self.args.get(name)?;
        let default = spec.default.as_deref()?;
        escape_for_kind(language.kind(), default, placement, spec.regex)
            .err()
            .map(|e| format!("its default is refused here: {e}"))
    }

    /// Where in the file the placeholder at `start..end` of `query` (the text of `node`) is
    /// written: the same occurrence of its text after the node's start. YAML unescaping and
    /// folding keep `${name}` as written, so the n-th occurrence in the query is the n-th in
    /// the source; when it cannot be found (an escape sequence spelling it), the node's start.
    fn locate(&self, node: &Node, query: &str, start: usize, end: usize) -> Pos {
        let needle = &query[start..end];
        let nth = query[..start].matches(needle).count();
        let Some(from) = byte_offset(self.text, node.pos) else {
            return node.pos;
        };
        let Some((at, _)) = self.text[from..].match_indices(needle).nth(nth) else {
            return node.pos;
        };
        let at = from + at;
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: self.text[..at].matches('\n').count() + 1,
            column: self.text[line_start..at].chars().count() + 1,
        }
    }

    // ----- typed values -----

    /// The entries of a mapping (null counts as an empty one); with `known`, keys outside it
    /// are reported, with the nearest known key when one is close. Duplicates are reported at
    /// their second occurrence and ignored.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: Option<&[&str]>,
    ) -> Option<Fields<'n>> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => {
                return Some(Fields {
                    node,
                    entries: Vec::new(),
                })
            }
            other => {
                self.report(
                    node.pos,
                    display_path(path),
                    format!("expected a mapping, found {}", describe(other)),
                );
                return None;
            }
        };
        let mut fields = Fields {
            node,
            entries: Vec::new(),
        };
        for (key, value) in entries {
            let Value::Scalar { text, .. } = &key.value else {
                self.report(
                    key.pos,
                    display_path(path),
                    format!("a key must be a plain name, found {}", key.value.kind()),
                );
                continue;
            };
            let field = join(path, text);
            if let Some((_, first, _)) = fields.entries.iter().find(|(k, _, _)| k == text) {
                self.report(
                    key.pos,
                    field,
                    format!(
                        "duplicate key `{text}`; it is first given on line {}",
                        first.pos.line
                    ),
                );
                continue;
            }
            if let Some(known) = known {
                if !known.contains(&text.as_str()) {
                    let hint = match nearest(text, known) {
                        Some(near) => format!("; did you mean `{near}`?"),
                        None => String::new(),
                    };
                    self.report(
                        key.pos,
                        field,
                        format!(
                            "unknown key `{text}`{hint} (known keys: {})",
                            known.join(", ")
                        ),
                    );
                    continue;
                }
            }
            fields.entries.push((text.as_str(), key, value));
        }
        // The keys that are fine are still read, so that their own problems show up too; the
        // template fails through the diagnostics reported here.
        Some(fields)
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            other => {
                self.report(
                    node.pos,
                    path,
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn non_empty_string(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = match &node.value {
            Value::Null => String::new(),
            _ => self.string(node, path)?,
        };
        if text.trim().is_empty() {
            self.report(node.pos, path, "must not be empty");
            return None;
        }
        Some(text)
    }

    /// A required `[A-Za-z0-9_-]+` name; `what` says whose name it is.
    fn required_name(
        &mut self,
        fields: &Fields<'_>,
        path: &str,
        key: &str,
        what: &str,
    ) -> Option<String> {
        let field = join(path, key);
        let Some(node) = fields.get(key) else {
            self.report(
                fields.node.pos,
                field,
                format!("required field `{key}` is missing: every {what} needs a name"),
            );
            return None;
        };
        let name = self.non_empty_string(node, &field)?;
        let chars = name.chars().count();
        if chars > super::MAX_NAME_CHARS {
            self.report(
                node.pos,
                field,
                format!(
                    "{what} name is {chars} characters long; at most {} are allowed",
                    super::MAX_NAME_CHARS
                ),
            );
            return None;
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.report(
                node.pos,
                field,
                format!(
                    "{what} name `{name}` may only hold letters, digits, `_` and `-` \
                     ([A-Za-z0-9_-]+)"
                ),
            );
            return None;
        }
        Some(name)
    }

    fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        let problem = match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match parse_yaml_number(text) {
                Some(n) if n.is_finite() => return Some(n),
                Some(_) => format!("expected a finite number, found `{text}`"),
                None => format!("expected a number, found `{text}`"),
            },
            Value::Scalar { text, quoted: true } => {
                let hint = if parse_yaml_number(text).is_some() {
                    " (remove the quotes)"
                } else {
                    ""
                };
                format!("expected a number, found the string \"{text}\"{hint}")
            }
            other => format!("expected a number, found {}", other.kind()),
        };
        self.report(node.pos, path, problem);
        None
    }

    fn positive_integer(&mut self, node: &Node, path: &str) -> Option<u64> {
        if let Value::Scalar {
            text,
            quoted: false,
        } = &node.value
        {
            if let Ok(n) = text.trim_start_matches('+').parse::<u64>() {
                if n > 0 {
                    return Some(n);
                }
            }
        }
        let found = match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => format!("`{text}`"),
            Value::Scalar { text, quoted: true } => format!("the string \"{text}\""),
            other => other.kind().to_string(),
        };
        self.report(
            node.pos,
            path,
            format!("must be a positive whole number of seconds, found {found}"),
        );
        None
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        let problem = match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.as_str() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => format!("expected true or false, found `{text}`"),
            },
            Value::Scalar { text, quoted: true } => {
                let hint = if matches!(text.to_ascii_lowercase().as_str(), "true" | "false") {
                    " (remove the quotes)"
                } else {
                    ""
                };
                format!("expected true or false, found the string \"{text}\"{hint}")
            }
            other => format!("expected true or false, found {}", other.kind()),
        };
        self.report(node.pos, path, problem);
        None
    }

    fn choice<T: Copy>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let text = match &node.value {
            Value::Scalar { text, .. } => text,
            other => {
                self.report(
                    node.pos,
                    path,
                    format!(
                        "expected one of {}, found {}",
                        names.join(", "),
                        other.kind()
                    ),
                );
                return None;
            }
        };
        if let Some((_, value)) = allowed.iter().find(|(n, _)| n == text) {
            return Some(*value);
        }
        let hint = match nearest(text, &names) {
            Some(near) => format!("; did you mean `{near}`?"),
            None => String::new(),
        };
        self.report(
            node.pos,
            path,
            format!(
                "unknown {what} `{text}`{hint} (allowed values: {})",
                names.join(", ")
            ),
        );
        None
    }
}

/// The node's kind, and a plain scalar's text, for "found ..." in messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Scalar {
            text,
            quoted: false,
        } => format!("`{}`", shorten(text)),
        Value::Scalar { text, quoted: true } => format!("the string \"{}\"", shorten(text)),
        other => other.kind().to_string(),
    }
}

/// The byte offset of `pos` (1-based line, 1-based column in characters) in `text`.
fn byte_offset(text: &str, pos: Pos) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..pos.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let column = line
        .char_indices()
        .nth(pos.column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    Some(line_start + column)
}

/// At most 40 characters of `text`, so that a stray query does not flood a message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        DOCUMENT_FIELD
    } else {
        path
    }
}

/// A YAML 1.2 core-schema number: decimal integers and floats, `0x`/`0o` integers, `.inf`,
/// `.nan`. Anything else (`1_000`, `yes`, `12s`) is not a number.
fn parse_yaml_number(text: &str) -> Option<f64> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if let Some(hex) = digits.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(|n| sign * n as f64);
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(|n| sign * n as f64);
    }
    match digits {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let numeric = !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !numeric {
        return None;
    }
    digits.parse::<f64>().ok().map(|n| sign * n)
}

/// The candidate nearest to `word` when it is close enough to be a likely typo. Case, and `-`
/// against `_`, do not count as differences.
pub(crate) fn nearest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let word_n = normal(word);
    let limit = match word_n.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&word_n, &normal(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_yaml_core_schema() {
        assert_eq!(parse_yaml_number("42"), Some(42.0));
        assert_eq!(parse_yaml_number("-0.5"), Some(-0.5));
        assert_eq!(parse_yaml_number("1e3"), Some(1000.0));
        assert_eq!(parse_yaml_number("0x10"), Some(16.0));
        assert_eq!(parse_yaml_number(".inf"), Some(f64::INFINITY));
        assert_eq!(parse_yaml_number("inf"), None);
        assert_eq!(parse_yaml_number("12s"), None);
        assert_eq!(parse_yaml_number("."), None);
        assert_eq!(parse_yaml_number(""), None);
    }

    #[test]
    fn nearest_finds_typos_not_strangers() {
        assert_eq!(nearest("confidance", JUDGE_KEYS), Some("confidence"));
        assert_eq!(nearest("step-seconds", TEMPLATE_KEYS), Some("step_seconds"));
        assert_eq!(nearest("Metrics", TEMPLATE_KEYS), Some("metrics"));
        assert_eq!(nearest("direciton", JUDGE_KEYS), Some("direction"));
        assert_eq!(
            nearest("mannwhitney", &["mann-whitney", "threshold"]),
            Some("mann-whitney")
        );
        assert_eq!(nearest("zebra", TEMPLATE_KEYS), None);
    }
}
