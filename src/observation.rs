//! What the judge receives for one metric, whatever the backend: the two series, what was
//! asked to get them, and what went wrong. Sources make these; the judge, the store and the
//! pages read them. It lives on its own so that the judge need not know the sources.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What was asked of a backend for one metric, so that a user can paste the query back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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

/// One metric's data as the judge receives it. As JSON (the store keeps every judgment's
/// observations) it is a superset of recorded data's per-metric object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Baseline values; `None` is missing (null / NaN / a gap).
    pub baseline: Vec<Option<f64>>,
    /// Canary values.
    pub canary: Vec<Option<f64>>,
    /// The fetch that produced them, for live sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Remarks for the metric's reason (a series that stopped early, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Set when the metric could not be fetched: the backend's message. The metric is then
    /// classified `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The time of the first point, when the series lie on a known grid (live sources: the
    /// window's start): point `i` is at `start + i × step_seconds`. The judge uses it to say
    /// *when* a canary changed level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Seconds between two points of that grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_seconds: Option<u64>,
}

/// Every metric's observation, as stored with a judgment: `{"metrics": {NAME: {...}}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationSet {
    /// Metric name to its observation.
    pub metrics: BTreeMap<String, Observation>,
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

    /// The time of point `index` on the grid, when the grid is known and the time is
    /// representable.
    pub fn time_of(&self, index: usize) -> Option<DateTime<Utc>> {
        let offset = self.step_seconds?.checked_mul(u64::try_from(index).ok()?)?;
        let offset = chrono::Duration::try_seconds(i64::try_from(offset).ok()?)?;
        self.start?.checked_add_signed(offset)
    }
}
