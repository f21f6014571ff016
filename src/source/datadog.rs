//! Datadog: the v1 timeseries query API, `GET /api/v1/query?from=...&to=...&query=...` with
//! the `DD-API-KEY` and `DD-APPLICATION-KEY` headers.
//!
//! The answer (Datadog API reference, "Query timeseries points") is `{"status": "ok",
//! "res_type": "time_series", "series": [{"metric", "scope", "tag_set", "expression",
//! "pointlist": [[unix_milliseconds, value or null], ...], ...}], ...}`; `status: "error"`
//! carries `error`, and 4xx answers are `{"errors": [...]}`. Datadog picks the rollup interval
//! itself; add `.rollup(avg, STEP)` to the query to match the window's step.
//!
//! Options: `api_key` and `application_key` (required), `site` (e.g. `datadoghq.eu`, giving
//! `https://api.datadoghq.eu`; default `datadoghq.com`) unless `url` is set, and those of every
//! HTTP source.

use async_trait::async_trait;
use serde::Deserialize;

use super::http::{config_error, opt_str, HttpClient};
use super::placement::{not_here, Placement};
use super::{points, points_budget, too_many_points, MetricSource, Series, SourceError, Window};
use crate::config::SourceSettings;

/// A Datadog site.
#[derive(Debug)]
pub struct DatadogSource {
    http: HttpClient,
}

impl DatadogSource {
    /// A source for `settings.url`, or `https://api.SITE` from option `site`.
    pub fn new(name: &str, settings: &SourceSettings) -> Result<DatadogSource, SourceError> {
        let api_key = opt_str(name, settings, "api_key")?
            .ok_or_else(|| config_error(name, "option api_key is required for datadog".into()))?;
        let app_key = opt_str(name, settings, "application_key")?.ok_or_else(|| {
            config_error(
                name,
                "option application_key is required for datadog".into(),
            )
        })?;
        let site = opt_str(name, settings, "site")?.unwrap_or_else(|| "datadoghq.com".into());
        let default_url = format!("https://api.{site}");
        Ok(DatadogSource {
            http: HttpClient::new(
                name,
                settings,
                Some(&default_url),
                vec![("dd-api-key", api_key), ("dd-application-key", app_key)],
            )?,
        })
    }
}

/// Checks that a value can stand as a Datadog tag value in `{tag:VALUE}`: letters, digits and
/// `_ - : . /` only (Datadog's tag character set); anything else (`,` `}` `!` `*` spaces...)
/// would change the scope and is refused.
pub fn escape_datadog(value: &str) -> Result<String, SourceError> {
    if value.is_empty() {
        return Err(SourceError::Escape {
            value: value.to_string(),
            language: "Datadog",
            reason: "an empty tag value".into(),
        });
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/')))
    {
        return Err(SourceError::Escape {
            value: value.to_string(),
            language: "Datadog",
            reason: format!(
                "{c:?} is not allowed in a tag value (letters, digits, '_', '-', ':', '.', '/')"
            ),
        });
    }
    Ok(value.to_string())
}

/// Escapes a value for where it sits in a Datadog query ([`Placement`]): only inside a `{…}`
/// scope, as [`escape_datadog`].
///
/// # Errors
/// [`SourceError::Escape`] when the value cannot be made safe there.
pub fn escape_datadog_at(value: &str, placement: Placement) -> Result<String, SourceError> {
    match placement {
        Placement::TagValue => escape_datadog(value),
        other => Err(not_here(value, "Datadog", other)),
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    errors: Option<Vec<String>>,
    #[serde(default)]
    series: Vec<DdSeries>,
}

#[derive(Deserialize)]
struct DdSeries {
    #[serde(default)]
    expression: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    tag_set: Vec<String>,
    #[serde(default, deserialize_with = "points::counted")]
    pointlist: Vec<(f64, Option<f64>)>,
}

/// Reads a v1 query answer (any status) into a series on the window's grid.
pub fn parse_answer(status: u16, body: &[u8], window: &Window) -> Result<Series, SourceError> {
    let (parsed, over) = points::parse(points_budget(window), || serde_json::from_slice(body));
    if over {
        return Err(too_many_points("datadog", window));
    }
    let response: Response = match parsed {
        Ok(r) => r,
        Err(e) if status >= 400 => {
            return Err(SourceError::Backend {
                backend: "datadog",
                status: status.to_string(),
                message: format!(
                    "{} ({e})",
                    String::from_utf8_lossy(body)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ),
            })
        }
        Err(e) => {
            return Err(SourceError::Malformed {
                backend: "datadog",
                message: format!("not the v1 query API's JSON: {e}"),
            })
        }
    };
    if status >= 400 || response.status.as_deref() == Some("error") {
        let message = response
            .errors
            .map(|e| e.join("; "))
            .or(response.error)
            .unwrap_or_else(|| "error without a message".into());
        return Err(SourceError::Backend {
            backend: "datadog",
            status: if status >= 400 {
                status.to_string()
            } else {
                "error".into()
            },
            message,
        });
    }
    let mut series = response.series;
    match series.len() {
        0 => Ok(Series::empty(window)),
        1 => {
            let s = series.remove(0);
            Ok(Series::align(
                window,
                s.pointlist.into_iter().map(|(ms, v)| (ms / 1000.0, v)),
            ))
        }
        count => Err(SourceError::SeveralSeries {
            count,
            series: series
                .iter()
                .take(5)
                .map(|s| {
                    if !s.tag_set.is_empty() {
                        format!("{{{}}}", s.tag_set.join(","))
                    } else {
                        s.scope
                            .clone()
                            .or_else(|| s.expression.clone())
                            .unwrap_or_default()
                    }
                })
                .collect(),
            hint: "drop the `by {...}` grouping or use sum:/avg: over one scope".into(),
        }),
    }
}

#[async_trait]
impl MetricSource for DatadogSource {
    fn kind(&self) -> &'static str {
        "datadog"
    }

    fn url(&self) -> &str {
        self.http.display_url()
    }

    fn escape(&self, value: &str) -> Result<String, SourceError> {
        escape_datadog(value)
    }

    #[tracing::instrument(skip_all, fields(metric = metric), err(level = "debug"))]
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let params = [
            ("from", window.start_unix().to_string()),
            ("to", window.end_unix().to_string()),
            ("query", query.to_string()),
        ];
        let answer = self.http.get("api/v1/query", &params).await?;
        parse_answer(answer.status.as_u16(), &answer.body, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values() {
        assert_eq!(escape_datadog("canary-v1.2").unwrap(), "canary-v1.2");
        for bad in ["a,b", "a}", "!a", "a b", "*", ""] {
            assert!(escape_datadog(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_tag_values_take_a_value() {
        assert_eq!(
            escape_datadog_at("canary-v1.2", Placement::TagValue).unwrap(),
            "canary-v1.2"
        );
        for bad in ["x} or avg:y{*", "a,b", "!a", "a b", "*", "a\nb", "\"a\""] {
            assert!(
                escape_datadog_at(bad, Placement::TagValue).is_err(),
                "{bad}"
            );
        }
        assert!(escape_datadog_at("a", Placement::PathNode).is_err());
    }
}
