//! Metric sources: where baseline and canary series come from.
//!
//! Whatever the backend, a metric arrives at the judge as an [`Observation`]: the two series,
//! what was asked to get them, and what went wrong. The judge does not know the backend.
//!
//! Live backends implement [`MetricSource`], one file each ([`prometheus`], [`influxdb`],
//! [`graphite`], [`datadog`], and [`file`](mod@file) for recorded data), chosen by `kind` in the config
//! through [`build_source`] (`registry`). [`fetch_all`] (`fetch`) fetches every metric of a
//! template, both scopes, with a bound on the queries in flight, and turns each into an
//! [`Observation`]. The [`Window`] and its grid are in `window`, the alignment of a series to
//! that grid in `align`, the points budget of one answer in `points`.

mod align;
mod coalesce;
pub mod datadog;
mod fetch;
pub mod file;
pub mod graphite;
pub(crate) mod http;
pub mod influxdb;
pub mod placement;
pub(crate) mod points;
pub mod prometheus;
pub mod recorded;
mod registry;
mod window;

use async_trait::async_trait;

pub use align::Series;
pub use fetch::{
    fetch_all, fetch_all_within, MetricQuery, DEFAULT_JUDGMENT_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONCURRENT,
};
pub(crate) use points::too_many_points;
pub use points::{points_budget, MAX_SERIES_PER_QUERY};
pub use recorded::{MetricData, RecordedData, RecordedError};
pub use registry::{build_source, shared_source};
pub use window::{parse_time, Window, MAX_STEP_SECONDS, MAX_WINDOW_POINTS, TIME_RANGE_MS};

pub use crate::observation::{Observation, ObservationSet, Provenance};

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
