//! Metric sources: where baseline and canary series come from.
//!
//! Whatever the backend, a metric arrives at the judge as an [`Observation`]: the two series,
//! what was asked to get them, and what went wrong. The judge does not know the backend.
//!
//! Live backends implement [`MetricSource`], one file each ([`prometheus`], [`influxdb`],
//! [`graphite`], [`datadog`], and [`file`](mod@file) for recorded data), chosen by `kind` in the config
//! through [`build_source`]. [`fetch_all`] fetches every metric of a template, both scopes, with a
//! bound on the queries in flight, and turns each into an [`Observation`].
//!
//! Alignment: a fetched series becomes one value per step of the [`Window`], from `start` to
//! `end` inclusive. A point at time `t` fills slot `ceil((t - start) / step)`, so the grid points
//! themselves (Prometheus `query_range`) land on their own slot and a bucket labelled by its
//! start (InfluxDB `GROUP BY time`) lands on the first grid point it covers; points sharing a
//! slot are averaged; a slot with no point is `None`.

pub mod datadog;
pub mod file;
pub mod graphite;
pub(crate) mod http;
pub mod influxdb;
pub mod placement;
pub mod prometheus;
pub mod recorded;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;

use crate::config::SourceSettings;

pub use recorded::{MetricData, RecordedData, RecordedError};

pub use crate::observation::{Observation, ObservationSet, Provenance};

impl RecordedData {
    /// The recorded metrics as observations, by metric name.
    pub fn observations(&self) -> BTreeMap<String, Observation> {
        self.metrics
            .iter()
            .map(|(name, m)| {
                (
                    name.clone(),
                    Observation::from_values(m.baseline.clone(), m.canary.clone()),
                )
            })
            .collect()
    }
}

/// Everything that can go wrong while fetching metrics. Messages never carry credentials: URLs
/// are shown without their user info and secrets live in headers that are never printed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source's settings are unusable (unknown kind, bad URL, unreadable CA file...).
    #[error("source {name}: {message}")]
    Config {
        /// The source's name in the config.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A time or window given by the user is not valid.
    #[error("{0}")]
    InvalidWindow(String),
    /// A scope or argument value cannot be put into the query language safely.
    #[error("value {value:?} cannot be used in a {language} query: {reason}")]
    Escape {
        /// The offending value.
        value: String,
        /// The query language.
        language: &'static str,
        /// Why.
        reason: String,
    },
    /// Nothing answered at the source's URL (connection refused, DNS failure...).
    #[error("source unreachable at {url}: {message}")]
    Unreachable {
        /// The URL tried, without credentials.
        url: String,
        /// The cause.
        message: String,
    },
    /// The query did not answer within the configured timeout (after the retries).
    #[error("no answer from {url} within {timeout_seconds} s (tried {attempts} times)")]
    Timeout {
        /// The URL tried, without credentials.
        url: String,
        /// The per-query timeout.
        timeout_seconds: f64,
        /// Attempts made.
        attempts: u32,
    },
    /// The backend answered with an error status; `message` is the backend's own.
    #[error("{backend} answered {status}: {message}")]
    Backend {
        /// The backend kind.
        backend: &'static str,
        /// The HTTP status (or `"error"` when an OK status carried an error).
        status: String,
        /// The backend's message.
        message: String,
    },
    /// The backend answered something that is not its documented format.
    #[error("malformed {backend} response: {message}")]
    Malformed {
        /// The backend kind.
        backend: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The query matched several series where one is needed.
    #[error(
        "query returned {count} series where one is needed: {}{}; aggregate them into one, \
         e.g. {hint}",
        series.join(", "),
        if *count > series.len() { ", ..." } else { "" }
    )]
    SeveralSeries {
        /// How many series came back.
        count: usize,
        /// The first few, by their labels / tags / names.
        series: Vec<String>,
        /// A suggested aggregation in the backend's language.
        hint: String,
    },
    /// The query is not usable as written (e.g. InfluxQL without `$timeFilter`).
    #[error("{0}")]
    Query(String),
    /// Recorded data could not be read.
    #[error(transparent)]
    Recorded(#[from] RecordedError),
    /// The judgment's deadline (`judgment_timeout_seconds`) passed before this query answered:
    /// retries and queued queries included.
    #[error("no answer within the judgment's deadline of {seconds} s (judgment_timeout_seconds)")]
    Deadline {
        /// The deadline.
        seconds: f64,
    },
    /// No metric could be read: every metric's query failed. There is nothing to judge, so no
    /// verdict is made; a source that is down is never a failed canary.
    #[error(
        "no metric could be read from the source, so no judgment was made: {}",
        failures.join("; ")
    )]
    NothingRead {
        /// Each metric's failure, `metric: side: reason (query: ...)`.
        failures: Vec<String>,
        /// True when every failure was a timeout (the source did not answer in time).
        timed_out: bool,
        /// True when every failure was the source's (unreachable, timeout, 5xx, an answer that
        /// is not its format, too large); false when some query was refused as written.
        source_down: bool,
    },
    /// The answer to one query is larger than canaryd accepts: over the source's
    /// `max_response_bytes`, or more points than [`points_budget`] allows for the window.
    #[error("answer too large: {0}")]
    TooLarge(String),
}

impl SourceError {
    /// A stable short name of the kind of failure (metrics labels, API error codes).
    pub fn reason_code(&self) -> &'static str {
        match self {
            SourceError::Config { .. } => "config",
            SourceError::InvalidWindow(_) => "invalid_window",
            SourceError::Escape { .. } => "escape",
            SourceError::Unreachable { .. } => "unreachable",
            SourceError::Timeout { .. } => "timeout",
            SourceError::Backend { .. } => "backend",
            SourceError::Malformed { .. } => "malformed",
            SourceError::SeveralSeries { .. } => "several_series",
            SourceError::Query(_) => "query",
            SourceError::Recorded(_) => "recorded",
            SourceError::Deadline { .. } => "deadline",
            SourceError::NothingRead { .. } => "nothing_read",
            SourceError::TooLarge(_) => "too_large",
        }
    }

    /// True when the failure is the source's, not the query's: nothing answered, nothing in
    /// time, a 5xx, an answer that is not the backend's format. A 4xx (the query refused as
    /// written) or several series are the template's.
    pub fn is_source_failure(&self) -> bool {
        match self {
            SourceError::Unreachable { .. }
            | SourceError::Timeout { .. }
            | SourceError::Deadline { .. }
            | SourceError::Malformed { .. }
            | SourceError::TooLarge(_) => true,
            SourceError::Backend { status, .. } => status.starts_with('5') || status == "no answer",
            SourceError::NothingRead { source_down, .. } => *source_down,
            _ => false,
        }
    }

    /// True when the failure is that no answer came in time.
    pub fn is_timeout(&self) -> bool {
        match self {
            SourceError::Timeout { .. } | SourceError::Deadline { .. } => true,
            SourceError::NothingRead { timed_out, .. } => *timed_out,
            _ => false,
        }
    }
}

/// A time window cut into steps: `start`, `start + step`, ... up to `end` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant of the window.
    pub start: DateTime<Utc>,
    /// Last instant of the window.
    pub end: DateTime<Utc>,
    /// Distance between two points.
    pub step_seconds: u64,
}

/// Most points a window may have (Prometheus refuses more than 11,000 per series).
pub const MAX_WINDOW_POINTS: u64 = 11_000;

/// Series' worth of points one query's answer may carry (see [`points_budget`]). One series is
/// what a judgment needs; a few more are parsed so that [`SourceError::SeveralSeries`] can name
/// them.
pub const MAX_SERIES_PER_QUERY: usize = 10;

/// Most points one query's answer may carry while it is parsed: [`MAX_SERIES_PER_QUERY`]
/// series of the window's steps (plus one each side), and never less than 10,000.
pub fn points_budget(window: &Window) -> usize {
    window
        .len()
        .saturating_add(2)
        .saturating_mul(MAX_SERIES_PER_QUERY)
        .max(10_000)
}

/// The error for an answer over [`points_budget`].
pub(crate) fn too_many_points(backend: &str, window: &Window) -> SourceError {
    SourceError::TooLarge(format!(
        "the {backend} answer has more than {} points, the most one query may bring for a \
         window of {} steps; aggregate the query into one series or narrow the window",
        points_budget(window),
        window.len()
    ))
}

/// Parsing under a points budget: backends mark their lists of points with
/// `#[serde(deserialize_with = "points::counted")]`, and [`points::parse`] runs a parse with a
/// budget, so that an oversized answer stops where the budget ends instead of being built
/// whole. The budget lives in a thread-local: a parse is synchronous and never moves threads.
pub(crate) mod points {
    use std::cell::Cell;
    use std::marker::PhantomData;

    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Deserialize;

    thread_local! {
        /// Points still allowed in the parse under way (`None`: no budget).
        static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
        /// Whether the parse under way ran over its budget.
        static OVER: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `parse` with at most `budget` points; the flag says it ran over (its result is
    /// then an error that the caller replaces).
    pub fn parse<T>(budget: usize, parse: impl FnOnce() -> T) -> (T, bool) {
        let before = LEFT.with(|l| l.replace(Some(budget)));
        OVER.with(|o| o.set(false));
        let out = parse();
        LEFT.with(|l| l.set(before));
        (out, OVER.with(|o| o.replace(false)))
    }

    fn charge() -> bool {
        LEFT.with(|l| match l.get() {
            None => true,
            Some(0) => {
                OVER.with(|o| o.set(true));
                false
            }
            Some(n) => {
                l.set(Some(n - 1));
                true
            }
        })
    }

    /// A list whose every element costs one point of the budget.
    pub fn counted<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        struct Points<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Points<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of points")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(point) = seq.next_element()? {
                    if !charge() {
                        return Err(A::Error::custom("more points than the budget allows"));
                    }
                    out.push(point);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(Points(PhantomData))
    }
}

/// Largest step: 100 years (of 365.25 days) in seconds. A larger one cannot be a time span (durations and the
/// stored step are signed 64-bit numbers, in milliseconds for chrono).
pub const MAX_STEP_SECONDS: u64 = 3_155_760_000;

impl Window {
    /// A window; `end` must be after `start`, the step positive, and at most
    /// [`MAX_WINDOW_POINTS`] points.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_seconds: u64,
    ) -> Result<Window, SourceError> {
        if step_seconds == 0 {
            return Err(SourceError::InvalidWindow(
                "step_seconds must be at least 1".into(),
            ));
        }
        if step_seconds > MAX_STEP_SECONDS {
            return Err(SourceError::InvalidWindow(format!(
                "step_seconds must be at most {MAX_STEP_SECONDS} (100 years), found {step_seconds}"
            )));
        }
        if end <= start {
            return Err(SourceError::InvalidWindow(format!(
                "the window ends ({}) before it starts ({})",
                end.to_rfc3339(),
                start.to_rfc3339()
            )));
        }
        let window = Window {
            start,
            end,
            step_seconds,
        };
        let points = window.len() as u64;
        if points > MAX_WINDOW_POINTS {
            return Err(SourceError::InvalidWindow(format!(
                "the window has {points} steps of {step_seconds} s; at most {MAX_WINDOW_POINTS} \
                 are allowed: use a larger step"
            )));
        }
        Ok(window)
    }

    /// Start as Unix seconds.
    pub fn start_unix(&self) -> i64 {
        self.start.timestamp()
    }

    /// End as Unix seconds.
    pub fn end_unix(&self) -> i64 {
        self.end.timestamp()
    }

    /// Number of grid points, both ends included.
    pub fn len(&self) -> usize {
        let span = (self.end - self.start).num_seconds().max(0) as u64;
        (span / self.step_seconds + 1) as usize
    }

    /// Never true: a window has at least its start point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The slot of a point at Unix time `t` (seconds, fractions allowed), if inside the window.
    pub fn slot(&self, t: f64) -> Option<usize> {
        let offset = t - self.start.timestamp() as f64;
        let step = self.step_seconds as f64;
        // A hair of tolerance so that 1699999999.9999999 counts as its grid point.
        let slot = ((offset - 1e-6) / step).ceil();
        if slot < 0.0 || !slot.is_finite() {
            return None;
        }
        let slot = slot as usize;
        (slot < self.len()).then_some(slot)
    }

    /// The time of slot `i`.
    pub fn time_of(&self, i: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds((i as u64 * self.step_seconds) as i64)
    }
}

/// The earliest and latest instants accepted as a time (the years 1970 to 9999): every store
/// and backend handles them, and no arithmetic on them comes near chrono's limits.
pub const TIME_RANGE_MS: (i64, i64) = (0, 253_402_300_799_999);

/// Parses a time given on the command line or in the API: RFC 3339 (`2024-05-01T12:00:00Z`) or
/// Unix seconds (`1714564800`, fractions allowed), in the years 1970 to 9999.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, SourceError> {
    let s = s.trim();
    let t = parse_any_time(s)?;
    let ms = t.timestamp_millis();
    if ms < TIME_RANGE_MS.0 || ms > TIME_RANGE_MS.1 {
        return Err(SourceError::InvalidWindow(format!(
            "time {s:?} is outside the years 1970 to 9999"
        )));
    }
    Ok(t)
}

fn parse_any_time(s: &str) -> Result<DateTime<Utc>, SourceError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        if let Some(t) = Utc.timestamp_opt(secs, 0).single() {
            return Ok(t);
        }
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round() as u32;
            if let Some(t) = Utc
                .timestamp_opt(whole as i64, nanos.min(999_999_999))
                .single()
            {
                return Ok(t);
            }
        }
    }
    Err(SourceError::InvalidWindow(format!(
        "time {s:?} is neither RFC 3339 (2024-05-01T12:00:00Z) nor Unix seconds"
    )))
}

/// One fetched series, aligned to the window's grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// One value per grid point of the window; `None` where nothing (or NaN) came back.
    pub values: Vec<Option<f64>>,
    /// Points the backend returned inside the window, null / NaN ones included.
    pub points_returned: usize,
    /// Remarks about the series, e.g. that it stops before the end of the window.
    pub notes: Vec<String>,
}

impl Series {
    /// Aligns `(unix seconds, value)` points to the window's grid (see the module doc), and
    /// notes a series that stops before the end of the window.
    pub fn align(window: &Window, points: impl IntoIterator<Item = (f64, Option<f64>)>) -> Series {
        let n = window.len();
        let mut sums = vec![0.0; n];
        let mut counts = vec![0u32; n];
        let mut returned = 0;
        for (t, v) in points {
            let Some(slot) = window.slot(t) else { continue };
            returned += 1;
            if let Some(v) = v.filter(|v| v.is_finite()) {
                sums[slot] += v;
                counts[slot] += 1;
            }
        }
        let values: Vec<Option<f64>> = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| (c > 0).then(|| s / f64::from(c)))
            .collect();
        let mut notes = Vec::new();
        if let Some(last) = values.iter().rposition(Option::is_some) {
            if last + 1 < n {
                let stop = window.time_of(last);
                let missing = (window.end - stop).num_seconds();
                notes.push(format!(
                    "series stops at {}, {} before the end of the window",
                    stop.format("%Y-%m-%dT%H:%M:%SZ"),
                    human_duration(missing)
                ));
            }
        }
        Series {
            values,
            points_returned: returned,
            notes,
        }
    }

    /// A series with no values at all (the query matched nothing).
    pub fn empty(window: &Window) -> Series {
        Series {
            values: vec![None; window.len()],
            points_returned: 0,
            notes: Vec::new(),
        }
    }
}

fn human_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let parts: Vec<String> = [(h, "hour"), (m, "minute"), (s, "second")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| plural(n, unit))
        .collect();
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Which side of the comparison a query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The running version.
    Baseline,
    /// The new version.
    Canary,
}

impl Scope {
    /// `baseline` or `canary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Baseline => "baseline",
            Scope::Canary => "canary",
        }
    }
}

/// A metric backend. Implementations are cheap to share (`Arc<dyn MetricSource>`), safe to
/// call concurrently, and print no credentials in `Debug`.
#[async_trait]
pub trait MetricSource: Send + Sync + std::fmt::Debug {
    /// The backend kind (`prometheus`, `influxdb`, ...).
    fn kind(&self) -> &'static str;

    /// The URL queries go to, without credentials (for messages).
    fn url(&self) -> &str;

    /// Makes `value` (a scope or template argument) safe to substitute into a query of this
    /// backend's language, where the template puts `${scope}` or `${arg}`: inside a
    /// double-quoted PromQL label value, a single-quoted InfluxQL string, a Graphite path node,
    /// a Datadog tag value. Values that cannot be made safe are refused.
    fn escape(&self, value: &str) -> Result<String, SourceError>;

    /// Makes `value` safe at `placement` (where the placeholder sits in the query, see
    /// [`placement::place`]), in this backend's language; `value_is_regex` when the template
    /// declares the value a regular expression. The default dispatches on [`Self::kind`] to the
    /// backend's own `escape_*_at`.
    fn escape_at(
        &self,
        value: &str,
        placement: placement::Placement,
        value_is_regex: bool,
    ) -> Result<String, SourceError> {
        placement::escape_for_kind(self.kind(), value, placement, value_is_regex)
    }

    /// Fetches one rendered query over the window, aligned to its grid.
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError>;

    /// Fetches one side of a metric. Backends answer by query and ignore `scope` (the default);
    /// recorded data answers by metric and scope.
    async fn fetch_scope(
        &self,
        metric: &str,
        scope: Scope,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let _ = scope;
        self.fetch_range(metric, query, window).await
    }
}

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

/// Default bound on queries in flight per source.
pub const DEFAULT_MAX_CONCURRENT: usize = 16;

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
        let mut obs = Observation::default();
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

/// Builds the source named `name` from its settings, by `kind`: `prometheus`, `influxdb`,
/// `graphite`, `datadog` or `file`.
pub fn build_source(
    name: &str,
    settings: &SourceSettings,
) -> Result<Arc<dyn MetricSource>, SourceError> {
    let source: Arc<dyn MetricSource> = match settings.kind.as_str() {
        "prometheus" => Arc::new(prometheus::PrometheusSource::new(name, settings)?),
        "influxdb" => Arc::new(influxdb::InfluxDbSource::new(name, settings)?),
        "graphite" => Arc::new(graphite::GraphiteSource::new(name, settings)?),
        "datadog" => Arc::new(datadog::DatadogSource::new(name, settings)?),
        "file" => Arc::new(file::FileSource::new(name, settings)?),
        other => {
            return Err(SourceError::Config {
                name: name.to_string(),
                message: format!(
                    "unknown kind {other:?}; expected prometheus, influxdb, graphite, datadog \
                     or file"
                ),
            })
        }
    };
    Ok(source)
}

/// [`build_source`], built once per tokio runtime for each name and settings, then shared.
///
/// Building an HTTP source builds a `reqwest` client, which loads the system's CA certificates
/// (native-tls): milliseconds of CPU each time, more than fetching and judging a small
/// template, and every judgment then opened new connections. Sharing one client per runtime
/// keeps its connections alive from one judgment to the next (the scheduler benchmark,
/// `benches/scheduler_load.rs`, measured the difference). Keyed by runtime because pooled
/// connections belong to the runtime that opened them (actix-web runs one per worker).
/// Outside a runtime, or for settings that cannot be keyed, this is [`build_source`].
///
/// # Errors
/// As [`build_source`]; an error is not remembered.
pub fn shared_source(
    name: &str,
    settings: &SourceSettings,
) -> Result<Arc<dyn MetricSource>, SourceError> {
    type Cache = HashMap<(tokio::runtime::Id, String), Arc<dyn MetricSource>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    /// Enough for every source of every runtime of a process; beyond it (tests that start
    /// many runtimes), start over rather than grow.
    const MOST: usize = 256;
    let (Ok(runtime), Ok(text)) = (
        tokio::runtime::Handle::try_current(),
        serde_json::to_string(settings),
    ) else {
        return build_source(name, settings);
    };
    let key = (runtime.id(), format!("{name}\u{0}{text}"));
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(found);
    }
    let source = build_source(name, settings)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MOST {
            c.clear();
        }
        c.insert(key, source.clone());
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn prometheus_at(url: &str) -> SourceSettings {
        SourceSettings {
            kind: "prometheus".into(),
            url: url.into(),
            ..SourceSettings::default()
        }
    }

    #[tokio::test]
    async fn shared_source_is_built_once_per_name_and_settings() {
        let s = prometheus_at("http://127.0.0.1:1");
        let a = shared_source("p", &s).unwrap();
        assert!(Arc::ptr_eq(&a, &shared_source("p", &s).unwrap()));
        let elsewhere = prometheus_at("http://127.0.0.1:2");
        assert!(!Arc::ptr_eq(&a, &shared_source("p", &elsewhere).unwrap()));
        assert!(!Arc::ptr_eq(&a, &shared_source("q", &s).unwrap()));
        // A bad configuration is an error every time, never remembered.
        let bad = SourceSettings {
            kind: "nope".into(),
            ..s.clone()
        };
        assert!(shared_source("p", &bad).is_err());
    }

    #[test]
    fn outside_a_runtime_a_source_is_built_each_time() {
        let s = prometheus_at("http://127.0.0.1:1");
        let a = shared_source("p", &s).unwrap();
        assert!(!Arc::ptr_eq(&a, &shared_source("p", &s).unwrap()));
    }

    #[test]
    fn parse_time_accepts_rfc3339_and_unix_seconds() {
        assert_eq!(t("1714564800"), t("2024-05-01T12:00:00Z"));
        assert_eq!(t("2024-05-01T14:00:00+02:00"), t("2024-05-01T12:00:00Z"));
        assert_eq!(t("1714564800.5").timestamp_millis(), 1714564800500);
        assert!(parse_time("yesterday").is_err());
        assert!(
            parse_time("253402300799").is_ok(),
            "the last second of 9999"
        );
        for out in ["253402300800", "316000000000", "-1", "1969-12-31T23:59:59Z"] {
            let e = parse_time(out).unwrap_err().to_string();
            assert!(e.contains("outside the years 1970 to 9999"), "{out}: {e}");
        }
    }

    #[test]
    fn window_grid_includes_both_ends() {
        let w = Window::new(t("1000"), t("1060"), 10).unwrap();
        assert_eq!(w.len(), 7);
        assert_eq!(w.slot(1000.0), Some(0));
        assert_eq!(w.slot(1060.0), Some(6));
        assert_eq!(w.slot(1061.0), None);
        assert_eq!(
            w.slot(999.0),
            Some(0),
            "a bucket starting before covers slot 0"
        );
        assert_eq!(w.slot(989.0), None);
        assert_eq!(w.slot(1005.0), Some(1));
        assert!(Window::new(t("1000"), t("1000"), 10).is_err());
        assert!(Window::new(t("1000"), t("1060"), 0).is_err());
        for step in [MAX_STEP_SECONDS + 1, 1 << 63, u64::MAX] {
            let err = Window::new(t("1000"), t("1060"), step).unwrap_err();
            assert!(err.to_string().contains("step_seconds"), "{err}");
        }
        assert_eq!(
            Window::new(t("1000"), t("1060"), MAX_STEP_SECONDS)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn align_fills_gaps_and_notes_early_stop() {
        let w = Window::new(t("2024-05-01T12:00:00Z"), t("2024-05-01T12:10:00Z"), 60).unwrap();
        let start = w.start_unix() as f64;
        let s = Series::align(
            &w,
            vec![
                (start, Some(1.0)),
                (start + 120.0, Some(f64::NAN)),
                (start + 180.0, Some(3.0)),
            ],
        );
        assert_eq!(s.values.len(), 11);
        assert_eq!(&s.values[..4], &[Some(1.0), None, None, Some(3.0)]);
        assert_eq!(s.points_returned, 3);
        assert_eq!(
            s.notes,
            vec!["series stops at 2024-05-01T12:03:00Z, 7 minutes before the end of the window"]
        );
    }

    #[test]
    fn every_backend_stops_parsing_at_the_points_budget() {
        let w = Window::new(t("1000"), t("1060"), 10).unwrap();
        let budget = points_budget(&w);
        assert_eq!(budget, 10_000);
        let body = |backend: &str, n: usize| {
            let many = |point: &str| vec![point; n].join(",");
            match backend {
                "prometheus" => format!(
                    r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
                    many(r#"[1000,"1"]"#)
                ),
                "influxdb" => format!(
                    r#"{{"results":[{{"series":[{{"name":"m","columns":["time","v"],"values":[{}]}}]}}]}}"#,
                    many("[1000,1]")
                ),
                "graphite" => format!(r#"[{{"target":"m","datapoints":[{}]}}]"#, many("[1,1000]")),
                _ => format!(
                    r#"{{"status":"ok","series":[{{"pointlist":[{}]}}]}}"#,
                    many("[1000000,1]")
                ),
            }
        };
        for backend in ["prometheus", "influxdb", "graphite", "datadog"] {
            let parse = match backend {
                "prometheus" => prometheus::parse_answer,
                "influxdb" => influxdb::parse_answer,
                "graphite" => graphite::parse_answer,
                _ => datadog::parse_answer,
            };
            let err = parse(200, body(backend, budget + 1).as_bytes(), &w).unwrap_err();
            assert_eq!(err.reason_code(), "too_large", "{backend}: {err}");
            assert!(err.to_string().contains(backend), "{err}");
            // Exactly the budget is fine, and the next parse starts afresh.
            let s = parse(200, body(backend, budget).as_bytes(), &w);
            assert!(s.is_ok(), "{backend}: {s:?}");
        }
    }
}
