//! Recorded data (CONTRACT §3): `{"metrics": {NAME: {"baseline": [...], "canary": [...]}}}`,
//! each value a number or `null` (missing / NaN).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::observation::Observation;

/// Baseline and canary values of one metric; `None` is a missing value.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricData {
    /// Baseline values.
    pub baseline: Vec<Option<f64>>,
    /// Canary values.
    pub canary: Vec<Option<f64>>,
}

/// A recorded scenario: data for each metric by name.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedData {
    /// Metric name to its data.
    pub metrics: BTreeMap<String, MetricData>,
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

/// Why recorded data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordedError {
    /// The file could not be read.
    #[error("cannot read data file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not recorded data; serde_json names the line and column.
    #[error("{path}: malformed recorded data: {source}")]
    Parse {
        /// The path.
        path: String,
        /// The cause, with line and column.
        source: serde_json::Error,
    },
}

impl RecordedData {
    /// Parses recorded data from JSON text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<RecordedData, RecordedError> {
        serde_json::from_str(text).map_err(|source| RecordedError::Parse {
            path: file.to_string(),
            source,
        })
    }

    /// Reads recorded data from a file.
    pub fn load(path: &Path) -> Result<RecordedData, RecordedError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_nulls() {
        let d = RecordedData::parse(
            r#"{"metrics": {"m": {"baseline": [0.21, 0.19, null], "canary": [1, 2e-3]}}}"#,
            "x.json",
        )
        .unwrap();
        let m = &d.metrics["m"];
        assert_eq!(m.baseline, vec![Some(0.21), Some(0.19), None]);
        assert_eq!(m.canary, vec![Some(1.0), Some(0.002)]);
    }

    #[test]
    fn a_missing_side_is_an_error() {
        let err = RecordedData::parse(r#"{"metrics": {"m": {"baseline": [1]}}}"#, "d.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `canary`"), "{err}");
    }

    #[test]
    fn malformed_names_file_line_and_column() {
        let err = RecordedData::parse(
            "{\"metrics\": {\"m\": {\"baseline\": [1, \"x\"]}}}",
            "d.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("d.json") && err.contains("line 1 column"),
            "{err}"
        );
    }
}
