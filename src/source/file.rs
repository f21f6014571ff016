//! Recorded data (CONTRACT §3) as a source, so that a template can be replayed without a
//! backend: `url` is the path of a `{"metrics": {NAME: {"baseline": [...], "canary": [...]}}}`
//! file. The metric's name and the scope select the values; the query is ignored and the
//! values are taken as recorded (they carry no timestamps, so the window does not cut them).
//! A metric absent from the file has no data.

use std::path::PathBuf;

use async_trait::async_trait;

use super::http::config_error;
use super::{MetricSource, RecordedData, Scope, Series, SourceError, Window};
use crate::config::SourceSettings;

/// A recorded-data file, read at each fetch so that edits show up without a restart.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    shown: String,
}

impl FileSource {
    /// A source reading `settings.url` (a path, or a `file://` URL).
    pub fn new(name: &str, settings: &SourceSettings) -> Result<FileSource, SourceError> {
        let raw = settings.url.trim();
        let path = raw.strip_prefix("file://").unwrap_or(raw);
        if path.is_empty() {
            return Err(config_error(
                name,
                "url must be the path of a recorded data file".into(),
            ));
        }
        Ok(FileSource {
            path: PathBuf::from(path),
            shown: path.to_string(),
        })
    }

    fn series(&self, metric: &str, scope: Scope) -> Result<Series, SourceError> {
        let data = RecordedData::load(&self.path)?;
        let values = data
            .metrics
            .get(metric)
            .map(|m| match scope {
                Scope::Baseline => m.baseline.clone(),
                Scope::Canary => m.canary.clone(),
            })
            .unwrap_or_default();
        Ok(Series {
            points_returned: values.len(),
            values,
            notes: Vec::new(),
        })
    }
}

#[async_trait]
impl MetricSource for FileSource {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn url(&self) -> &str {
        &self.shown
    }

    /// Recorded data has no query language: values pass as they are.
    fn escape(&self, value: &str) -> Result<String, SourceError> {
        Ok(value.to_string())
    }

    /// Asked directly, the query names the side: `baseline` or `canary`.
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        _window: &Window,
    ) -> Result<Series, SourceError> {
        let scope = match query.trim() {
            "baseline" => Scope::Baseline,
            "canary" => Scope::Canary,
            other => {
                return Err(SourceError::Query(format!(
                    "a file source answers by metric and scope: query must be baseline or \
                     canary, not {other:?}"
                )))
            }
        };
        self.series(metric, scope)
    }

    async fn fetch_scope(
        &self,
        metric: &str,
        scope: Scope,
        _query: &str,
        _window: &Window,
    ) -> Result<Series, SourceError> {
        self.series(metric, scope)
    }
}
