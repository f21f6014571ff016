//! One judgment end to end, live: template + scopes + window → rendered queries → the source
//! fetches both scopes of every metric → the judge classifies and scores.
//!
//! This is the only place that knows both the template language (`${scope}`, `${arg}`) and the
//! sources' escaping; the CLI, and later the API, gates and scheduler, call it.

use std::collections::BTreeMap;

use crate::config::Settings;
use crate::judge::{judge, Report};
use crate::source::placement::{place, scope_refusal, Language};
use crate::source::{
    fetch_all, fetch_all_within, shared_source, MetricQuery, MetricSource, Observation,
    SourceError, Window, DEFAULT_JUDGMENT_TIMEOUT_SECONDS, DEFAULT_MAX_CONCURRENT,
};
use crate::template::render::{placeholders, substitute};
use crate::template::{resolve_args, Template, TemplateError, SCOPE_PLACEHOLDER};

/// What to judge: the two scopes, the window and the template's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRequest {
    /// The baseline scope (`${scope}` in the baseline's queries).
    pub baseline: String,
    /// The canary scope.
    pub canary: String,
    /// The window and step (the template's `step_seconds` unless overridden).
    pub window: Window,
    /// Template arguments given by the caller; defaults fill the rest.
    pub args: BTreeMap<String, String>,
}

/// Why a live judgment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Arguments missing or unknown, or a placeholder the template does not declare.
    #[error("template '{template}': {source}")]
    Template {
        /// Template name.
        template: String,
        /// The cause.
        source: TemplateError,
    },
    /// The template names a source the configuration does not define.
    #[error("template '{template}' uses source '{source_name}', which the configuration does not define (defined: {known})")]
    UnknownSource {
        /// Template name.
        template: String,
        /// The missing source.
        source_name: String,
        /// The sources that exist.
        known: String,
    },
    /// A scope or argument value the source's query language cannot carry safely.
    #[error("{what}: {source}")]
    Escape {
        /// Which value.
        what: String,
        /// The cause.
        source: SourceError,
    },
    /// The source could not be built or reached at all.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// The metric queries of `template` for both scopes, with every substituted value escaped for
/// `source`'s query language at the place its placeholder sits in the query (a `"…"`, `'…'` or
/// `` `…` `` string, a regex matcher, an InfluxQL regex literal, a Graphite path node, a Datadog
/// tag value: see [`crate::source::placement`]).
///
/// # Errors
/// Missing or unknown arguments; a placeholder where no value can be put safely
/// ([`TemplateError::UnsafePlacement`]); a value that cannot be made safe where it sits
/// ([`LiveError::Escape`], naming the value's role and the metric).
pub fn render_queries(
    template: &Template,
    source: &dyn MetricSource,
    baseline: &str,
    canary: &str,
    args: &BTreeMap<String, String>,
) -> Result<Vec<MetricQuery>, LiveError> {
    let template_err = |source| LiveError::Template {
        template: template.name.clone(),
        source,
    };
    let args = resolve_args(template, args).map_err(template_err)?;
    let language = Language::from_kind(source.kind());
    let mut queries = Vec::with_capacity(template.metrics.len());
    for m in &template.metrics {
        let found = placeholders(&m.query);
        let spans: Vec<(usize, usize)> = found.iter().map(|p| (p.start, p.end)).collect();
        let places = match language {
            Some(language) => place(language, &m.query, &spans),
            None => vec![
                Err(format!(
                    "no escaping is known for source kind {:?}",
                    source.kind()
                ));
                spans.len()
            ],
        };
        let render = |scope: &str, role: &str| {
            substitute(&m.query, |i, placeholder| {
                let refused = |reason| {
                    template_err(TemplateError::UnsafePlacement {
                        metric: m.name.clone(),
                        name: placeholder.name.to_string(),
                        column: m.query[..placeholder.start].chars().count() + 1,
                        reason,
                    })
                };
                let placement = places[i].clone().map_err(refused)?;
                if placeholder.name == SCOPE_PLACEHOLDER {
                    if let Some(reason) = language.and_then(|l| scope_refusal(l, placement)) {
                        return Err(refused(reason));
                    }
                }
                let (value, what, is_regex) = if placeholder.name == SCOPE_PLACEHOLDER {
                    (scope, format!("{role} scope"), template.scope.regex)
                } else {
                    let Some(value) = args.get(placeholder.name) else {
                        return Err(template_err(TemplateError::UnknownPlaceholder {
                            name: placeholder.name.to_string(),
                        }));
                    };
                    let is_regex = template
                        .args
                        .get(placeholder.name)
                        .is_some_and(|spec| spec.regex);
                    (
                        value.as_str(),
                        format!("template argument '{}'", placeholder.name),
                        is_regex,
                    )
                };
                source
                    .escape_at(value, placement, is_regex)
                    .map_err(|source| LiveError::Escape {
                        what: format!("{what} in metric '{}'", m.name),
                        source,
                    })
            })
        };
        queries.push(MetricQuery {
            name: m.name.clone(),
            baseline_query: render(baseline, "baseline")?,
            canary_query: render(canary, "canary")?,
        });
    }
    Ok(queries)
}

/// Fetches every metric of `template` from `source` and judges it.
pub async fn judge_with_source(
    template: &Template,
    source: &dyn MetricSource,
    request: &LiveRequest,
    max_concurrent: usize,
) -> Result<Report, LiveError> {
    let queries = render_queries(
        template,
        source,
        &request.baseline,
        &request.canary,
        &request.args,
    )?;
    let observations = fetch_all(source, &queries, &request.window, max_concurrent).await?;
    Ok(judge(template, &observations))
}

/// Judges `template` live with the source the configuration names for it.
#[tracing::instrument(skip_all, fields(template = %template.name, source = %template.source), err(level = "debug"))]
pub async fn judge_live(
    settings: &Settings,
    template: &Template,
    request: &LiveRequest,
) -> Result<Report, LiveError> {
    let observations = fetch_live(settings, template, request).await?;
    Ok(judge(template, &observations))
}

/// Fetches every metric of `template`, both scopes, from the source the configuration names
/// for it: what [`judge_live`] judges, for callers that keep the points (the store).
pub async fn fetch_live(
    settings: &Settings,
    template: &Template,
    request: &LiveRequest,
) -> Result<BTreeMap<String, Observation>, LiveError> {
    let live = live_queries(
        settings,
        template,
        &request.baseline,
        &request.canary,
        &request.args,
    )?;
    Ok(fetch_all_within(
        live.source.as_ref(),
        &live.queries,
        &request.window,
        live.max_concurrent,
        live.deadline,
    )
    .await?)
}

/// A template's source, its rendered queries, and the bounds of fetching them.
pub struct LiveQueries {
    /// The source.
    pub source: std::sync::Arc<dyn MetricSource>,
    /// Every metric's queries, both scopes.
    pub queries: Vec<MetricQuery>,
    /// Queries in flight at once.
    pub max_concurrent: usize,
    /// The deadline of the whole fetch (`judgment_timeout_seconds`).
    pub deadline: std::time::Duration,
}

/// The source the configuration names for `template`, its rendered queries for both scopes and
/// its concurrency bound, without fetching anything: what a scheduled analysis checks when it
/// is created, long before its first window closes.
///
/// # Errors
/// An unknown source, missing or unknown arguments, a value the query language cannot carry.
pub fn live_queries(
    settings: &Settings,
    template: &Template,
    baseline: &str,
    canary: &str,
    args: &BTreeMap<String, String>,
) -> Result<LiveQueries, LiveError> {
    let Some(source_settings) = settings.sources.get(&template.source) else {
        return Err(LiveError::UnknownSource {
            template: template.name.clone(),
            source_name: template.source.clone(),
            known: settings
                .sources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let source = shared_source(&template.source, source_settings)?;
    let max_concurrent = source_settings
        .max_concurrent_queries
        .unwrap_or(DEFAULT_MAX_CONCURRENT)
        .max(1);
    let seconds = source_settings
        .judgment_timeout_seconds
        .unwrap_or(DEFAULT_JUDGMENT_TIMEOUT_SECONDS);
    // Below a millisecond nothing can answer; above a day is no deadline at all (and
    // Duration::from_secs_f64 panics on what it cannot hold).
    if !(seconds.is_finite() && (0.001..=86_400.0).contains(&seconds)) {
        return Err(LiveError::Source(SourceError::Config {
            name: template.source.clone(),
            message: format!(
                "judgment_timeout_seconds must be a number of seconds between 0.001 and 86400, \
                 not {seconds}"
            ),
        }));
    }
    let queries = render_queries(template, source.as_ref(), baseline, canary, args)?;
    Ok(LiveQueries {
        source,
        queries,
        max_concurrent,
        deadline: std::time::Duration::from_secs_f64(seconds),
    })
}
