//! The registry of sources: a source built from its settings by `kind`, and the sources
//! shared per runtime, by name and settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::SourceSettings;

use super::{datadog, file, graphite, influxdb, prometheus, MetricSource, SourceError};

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
/// Identical fetches in flight on a shared source share one backend query
/// ([`coalesce`](super::coalesce)): analyses that fall due together over the same scopes ask
/// the same question at the same moment. Outside a runtime, or for settings that cannot be
/// keyed, this is [`build_source`].
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
    let built = build_source(name, settings)?;
    let source: Arc<dyn MetricSource> = Arc::new(super::coalesce::Coalescing::new(built));
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
}
