//! Fetching a template's metrics: every metric, both scopes, with a bound on the queries in
//! flight and a deadline on the whole, each turned into an [`Observation`].

use std::collections::BTreeMap;

use futures::StreamExt;

use super::{MetricSource, Observation, Provenance, Scope, Series, SourceError, Window};

/// One metric to fetch: its name and the queries already rendered for each scope (with
/// [`MetricSource::escape`] applied to every substituted value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    /// The metric's name in the template.
    pub name: String,
    /// The query for the baseline scope.
    pub baseline_query: String,
    /// The query for the canary scope.
    pub canary_query: String,
}

/// Default bound on queries in flight per source: 20, what Prometheus itself runs at once by
/// default (`--query.max-concurrency`), so a 40-query judgment (20 metrics, two scopes) takes
/// two waves, not three, and no query waits at the backend for a slot.
pub const DEFAULT_MAX_CONCURRENT: usize = 20;

/// Records one query's latency and, when it failed, why, in the process's metrics.
fn record_query(kind: &str, took: std::time::Duration, result: &Result<Series, SourceError>) {
    let metrics = crate::telemetry::metrics::global();
    metrics.observe(
        "canaryd_source_query_duration_seconds",
        &[("source", kind)],
        took.as_secs_f64(),
    );
    if let Err(e) = result {
        metrics.inc(
            "canaryd_source_query_errors_total",
            &[("source", kind), ("reason", e.reason_code())],
            1.0,
        );
    }
}

/// Default deadline of one live judgment's fetches, retries and queued queries included
/// (`judgment_timeout_seconds`): below the 30 s that Flagger's and Argo's webhook calls wait.
pub const DEFAULT_JUDGMENT_TIMEOUT_SECONDS: f64 = 20.0;

/// [`fetch_all_within`] with the default deadline
/// ([`DEFAULT_JUDGMENT_TIMEOUT_SECONDS`]).
pub async fn fetch_all(
    source: &dyn MetricSource,
    queries: &[MetricQuery],
    window: &Window,
    max_concurrent: usize,
) -> Result<BTreeMap<String, Observation>, SourceError> {
    let deadline = std::time::Duration::from_secs_f64(DEFAULT_JUDGMENT_TIMEOUT_SECONDS);
    fetch_all_within(source, queries, window, max_concurrent, deadline).await
}

/// Fetches every metric, both scopes, with at most `max_concurrent` queries in flight, and
/// answers within `deadline` whatever the source does: a query still waiting (for an answer, a
/// retry or its turn) when it passes fails with [`SourceError::Deadline`].
///
/// A metric whose fetch fails gets [`Observation::error`] (the backend's message and the
/// rendered query) and the others go on. When no metric could be read at all, there is
/// nothing to judge and the whole call is an error: [`SourceError::Unreachable`] when nothing
/// answered, else [`SourceError::NothingRead`] with every metric's reason.
#[tracing::instrument(skip_all, fields(source = source.kind(), url = source.url(), metrics = queries.len()))]
pub async fn fetch_all_within(
    source: &dyn MetricSource,
    queries: &[MetricQuery],
    window: &Window,
    max_concurrent: usize,
    deadline: std::time::Duration,
) -> Result<BTreeMap<String, Observation>, SourceError> {
    let until = tokio::time::Instant::now() + deadline;
    // Owned queries: a job borrowing from `queries` would make the future of whoever awaits
    // this not `Send` for every lifetime (rustc's higher-ranked `Send` limitation).
    let jobs: Vec<(usize, Scope, String)> = queries
        .iter()
        .enumerate()
        .flat_map(|(i, q)| {
            [
                (i, Scope::Baseline, q.baseline_query.clone()),
                (i, Scope::Canary, q.canary_query.clone()),
            ]
        })
        .collect();
    let results: Vec<(usize, Scope, Result<Series, SourceError>)> = futures::stream::iter(jobs)
        .map(|(i, scope, query)| async move {
            let started = std::time::Instant::now();
            let fetch = source.fetch_scope(&queries[i].name, scope, &query, window);
            let result = match tokio::time::timeout_at(until, fetch).await {
                Ok(result) => result,
                Err(_) => Err(SourceError::Deadline {
                    seconds: deadline.as_secs_f64(),
                }),
            };
            record_query(source.kind(), started.elapsed(), &result);
            (i, scope, result)
        })
        .buffer_unordered(max_concurrent.max(1))
        .collect()
        .await;

    let all_unreachable = !results.is_empty()
        && results
            .iter()
            .all(|(_, _, r)| matches!(r, Err(SourceError::Unreachable { .. })));
    if all_unreachable {
        if let Some((_, _, Err(e))) = results.into_iter().next() {
            return Err(e);
        }
        return Err(SourceError::Query("no query was made".into()));
    }
    let mut read = vec![true; queries.len()];
    let errors: Vec<&SourceError> = results
        .iter()
        .filter_map(|(i, _, r)| {
            let e = r.as_ref().err()?;
            read[*i] = false;
            Some(e)
        })
        .collect();
    let nothing_read = !read.is_empty() && !read.contains(&true);
    let timed_out = errors.iter().all(|e| e.is_timeout());
    let source_down = errors.iter().all(|e| e.is_source_failure());

    let mut sides: Vec<[Option<Result<Series, SourceError>>; 2]> =
        queries.iter().map(|_| [None, None]).collect();
    for (i, scope, result) in results {
        sides[i][scope as usize] = Some(result);
    }
    let mut out = BTreeMap::new();
    for (q, [baseline, canary]) in queries.iter().zip(sides) {
        let mut obs = Observation {
            start: Some(window.start),
            step_seconds: Some(window.step_seconds),
            ..Observation::default()
        };
        let mut provenance = Provenance {
            baseline_query: q.baseline_query.clone(),
            canary_query: q.canary_query.clone(),
            ..Provenance::default()
        };
        let mut errors = Vec::new();
        for (scope, result, query) in [
            (Scope::Baseline, baseline, &q.baseline_query),
            (Scope::Canary, canary, &q.canary_query),
        ] {
            match result {
                Some(Ok(series)) => {
                    obs.notes.extend(
                        series
                            .notes
                            .iter()
                            .map(|n| format!("{} {n}", scope.as_str())),
                    );
                    match scope {
                        Scope::Baseline => {
                            provenance.baseline_points = series.points_returned;
                            obs.baseline = series.values;
                        }
                        Scope::Canary => {
                            provenance.canary_points = series.points_returned;
                            obs.canary = series.values;
                        }
                    }
                }
                Some(Err(e)) => errors.push(format!("{}: {e} (query: {query})", scope.as_str())),
                None => errors.push(format!("{}: not fetched", scope.as_str())),
            }
        }
        if !errors.is_empty() {
            obs.error = Some(errors.join("; "));
        }
        obs.provenance = Some(provenance);
        out.insert(q.name.clone(), obs);
    }
    if nothing_read {
        return Err(SourceError::NothingRead {
            failures: out
                .iter()
                .filter_map(|(name, o)| o.error.as_ref().map(|e| format!("{name}: {e}")))
                .collect(),
            timed_out,
            source_down,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::source::parse_time;

    /// Counts the queries in flight and remembers the most at once.
    #[derive(Debug, Default)]
    struct Counting {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl MetricSource for Counting {
        fn kind(&self) -> &'static str {
            "prometheus"
        }
        fn url(&self) -> &str {
            "counting"
        }
        fn escape(&self, value: &str) -> Result<String, SourceError> {
            Ok(value.to_string())
        }
        async fn fetch_range(&self, _: &str, _: &str, w: &Window) -> Result<Series, SourceError> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(Series::empty(w))
        }
    }

    /// Prometheus runs 20 queries at once by default (`--query.max-concurrency`): a 20-metric
    /// template (40 queries) goes out in two waves of 20, not three of 16.
    #[tokio::test]
    async fn the_default_bound_is_prometheus_own_concurrency() {
        let source = Counting::default();
        let queries: Vec<MetricQuery> = (0..20)
            .map(|i| MetricQuery {
                name: format!("m{i}"),
                baseline_query: format!("q{i}{{v=\"b\"}}"),
                canary_query: format!("q{i}{{v=\"c\"}}"),
            })
            .collect();
        let w = Window::new(parse_time("1000").unwrap(), parse_time("1060").unwrap(), 10).unwrap();
        let out = fetch_all(&source, &queries, &w, DEFAULT_MAX_CONCURRENT)
            .await
            .unwrap();
        assert_eq!(out.len(), 20);
        assert_eq!(DEFAULT_MAX_CONCURRENT, 20);
        assert_eq!(source.most.load(Ordering::SeqCst), 20);
    }
}
