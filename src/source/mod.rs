//! Metric sources: where baseline and canary series come from.
//!
//! Whatever the backend, a metric arrives at the judge as an [`Observation`]: the two series,
//! what was asked to get them, and what went wrong. The judge does not know the backend.

pub mod recorded;

use std::collections::BTreeMap;

use serde::Serialize;

pub use recorded::{MetricData, RecordedData, RecordedError};

/// What was asked of a backend for one metric, so that a user can paste the query back.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Provenance {
    /// The rendered query for the baseline scope.
    pub baseline_query: String,
    /// The rendered query for the canary scope.
    pub canary_query: String,
    /// Points fetched for the baseline (missing values included).
    pub baseline_points: usize,
    /// Points fetched for the canary.
    pub canary_points: usize,
}

/// One metric's data as the judge receives it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// Baseline values; `None` is missing (null / NaN / a gap).
    pub baseline: Vec<Option<f64>>,
    /// Canary values.
    pub canary: Vec<Option<f64>>,
    /// The fetch that produced them, for live sources.
    pub provenance: Option<Provenance>,
    /// Remarks for the metric's reason (a series that stopped early, ...).
    pub notes: Vec<String>,
    /// Set when the metric could not be fetched: the backend's message. The metric is then
    /// classified `error`.
    pub error: Option<String>,
}

impl Observation {
    /// An observation of two series with no provenance.
    pub fn from_values(baseline: Vec<Option<f64>>, canary: Vec<Option<f64>>) -> Observation {
        Observation {
            baseline,
            canary,
            ..Observation::default()
        }
    }
}

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
