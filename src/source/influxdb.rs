//! InfluxDB 1.x: InfluxQL over `GET /query?db=...&q=...&epoch=s`.
//!
//! The query names the window with Grafana's placeholders: `$timeFilter` (required) becomes
//! `time >= START s AND time <= END s`, and `$interval` becomes the step (`10s`), e.g.
//! `SELECT mean("value") FROM "latency" WHERE "version" = '${scope}' AND $timeFilter GROUP BY
//! time($interval) fill(none)`. The answer is `{"results": [{"statement_id": 0, "series":
//! [{"name", "tags", "columns": ["time", FIELD], "values": [[t, v], ...]}]}]}`; a query error
//! comes as `error` in the result (status 200) or at the top (status 4xx).
//!
//! Options: `database` (required), `retention_policy`, `username`/`password` (sent as basic
//! auth, never in the URL), and those of every HTTP source.

use async_trait::async_trait;
use serde::Deserialize;

use super::http::{config_error, opt_str, HttpClient};
use super::placement::{check_bare, not_here, quote_regex_meta, Language, Placement};
use super::{points, points_budget, too_many_points, MetricSource, Series, SourceError, Window};
use crate::config::SourceSettings;

/// An InfluxDB 1.x server.
#[derive(Debug)]
pub struct InfluxDbSource {
    http: HttpClient,
    database: String,
    retention_policy: Option<String>,
}

impl InfluxDbSource {
    /// A source for `settings.url` (default `http://127.0.0.1:8086`); option `database` is
    /// required.
    pub fn new(name: &str, settings: &SourceSettings) -> Result<InfluxDbSource, SourceError> {
        let database = opt_str(name, settings, "database")?
            .filter(|d| !d.is_empty())
            .ok_or_else(|| config_error(name, "option database is required for influxdb".into()))?;
        Ok(InfluxDbSource {
            http: HttpClient::new(name, settings, Some("http://127.0.0.1:8086"), vec![])?,
            database,
            retention_policy: opt_str(name, settings, "retention_policy")?,
        })
    }
}

/// Escapes a value for a single-quoted InfluxQL string: backslash and single quote are
/// escaped; line breaks and other control characters are refused.
pub fn escape_influxql(value: &str) -> Result<String, SourceError> {
    escape_influxql_at(
        value,
        Placement::Quoted {
            quote: '\'',
            regex: false,
        },
        false,
    )
}

/// Escapes a value for where it sits in an InfluxQL query ([`Placement`]):
///
/// * `'…'` (a string literal) and `"…"` (a quoted identifier): backslash and that quote are
///   escaped;
/// * `/…/` (a regex literal, after `=~` / `!~`): RE2 metacharacters are quoted so that the value
///   matches itself literally, unless the template declares it a regex (`value_is_regex`), and
///   `/` is escaped as `\/`; a declared regex ending in a lone backslash is refused (it would
///   escape the closing `/`).
///
/// Outside any string, one name, number or duration only ([`check_bare`]).
///
/// Line breaks and other control characters are refused everywhere: InfluxQL has no escape
/// for them in regex literals, and they end a query statement.
///
/// # Errors
/// [`SourceError::Escape`] when the value cannot be made safe there.
pub fn escape_influxql_at(
    value: &str,
    placement: Placement,
    value_is_regex: bool,
) -> Result<String, SourceError> {
    let refuse = |reason: String| SourceError::Escape {
        value: value.to_string(),
        language: "InfluxQL",
        reason,
    };
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(refuse(format!("control character U+{:04X}", c as u32)));
    }
    let mut out = String::with_capacity(value.len());
    match placement {
        Placement::Quoted { quote, .. } if quote == '\'' || quote == '"' => {
            for c in value.chars() {
                if c == '\\' || c == quote {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Placement::RegexLiteral if value_is_regex => {
            let mut chars = value.chars();
            while let Some(c) = chars.next() {
                match c {
                    '/' => out.push_str("\\/"),
                    '\\' => {
                        match chars.next() {
                            Some('/') => out.push_str("\\/"),
                            Some(next) => {
                                out.push('\\');
                                out.push(next);
                            }
                            None => return Err(refuse(
                                "a regex ending in a lone backslash would escape the closing `/`"
                                    .into(),
                            )),
                        }
                    }
                    c => out.push(c),
                }
            }
        }
        Placement::RegexLiteral => {
            out = quote_regex_meta(value).replace('/', "\\/");
        }
        Placement::Bare => return check_bare(Language::InfluxQL, value),
        other => return Err(not_here(value, "InfluxQL", other)),
    }
    Ok(out)
}

/// Puts the window into the query: `$timeFilter` and `$interval` (also spelled
/// `$__timeFilter`, `$__interval`).
pub fn render_window(query: &str, window: &Window) -> Result<String, SourceError> {
    if !query.contains("$timeFilter") && !query.contains("$__timeFilter") {
        return Err(SourceError::Query(
            "an InfluxQL query needs $timeFilter where the window's time bounds go, e.g. \
             ... WHERE \"version\" = '${scope}' AND $timeFilter GROUP BY time($interval)"
                .into(),
        ));
    }
    let filter = format!(
        "time >= {}s AND time <= {}s",
        window.start_unix(),
        window.end_unix()
    );
    let interval = format!("{}s", window.step_seconds);
    Ok(query
        .replace("$__timeFilter", &filter)
        .replace("$timeFilter", &filter)
        .replace("$__interval", &interval)
        .replace("$interval", &interval))
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    results: Vec<StatementResult>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<InfluxSeries>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct InfluxSeries {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default, deserialize_with = "points::counted")]
    values: Vec<Vec<serde_json::Value>>,
}

/// Reads a `/query` answer (any status) into a series on the window's grid.
pub fn parse_answer(status: u16, body: &[u8], window: &Window) -> Result<Series, SourceError> {
    let malformed = |message: String| SourceError::Malformed {
        backend: "influxdb",
        message,
    };
    let (parsed, over) = points::parse(points_budget(window), || serde_json::from_slice(body));
    if over {
        return Err(too_many_points("influxdb", window));
    }
    let response: Response = match parsed {
        Ok(r) => r,
        Err(e) if status >= 400 => {
            return Err(SourceError::Backend {
                backend: "influxdb",
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
        Err(e) => return Err(malformed(format!("not the /query API's JSON: {e}"))),
    };
    if let Some(message) = response.error {
        return Err(SourceError::Backend {
            backend: "influxdb",
            status: status.to_string(),
            message,
        });
    }
    if status >= 400 {
        return Err(SourceError::Backend {
            backend: "influxdb",
            status: status.to_string(),
            message: "error status without a message".into(),
        });
    }
    let mut results = response.results;
    if results.len() > 1 {
        return Err(SourceError::Query(format!(
            "the InfluxQL holds {} statements; a metric needs exactly one",
            results.len()
        )));
    }
    let Some(result) = results.pop() else {
        return Err(malformed("no results".into()));
    };
    if let Some(message) = result.error {
        return Err(SourceError::Backend {
            backend: "influxdb",
            status: "error".into(),
            message,
        });
    }
    let mut series = result.series;
    match series.len() {
        0 => Ok(Series::empty(window)),
        1 => {
            let s = series.remove(0);
            if s.columns.len() != 2 || s.columns[0] != "time" {
                return Err(SourceError::Query(format!(
                    "the query returns columns {:?}; select exactly one field or aggregate \
                     besides time",
                    s.columns
                )));
            }
            let mut points = Vec::with_capacity(s.values.len());
            for row in &s.values {
                let (Some(t), Some(v)) = (row.first(), row.get(1)) else {
                    return Err(malformed(format!("row {row:?} has no time and value")));
                };
                let t = t
                    .as_f64()
                    .ok_or_else(|| malformed(format!("time {t} is not epoch seconds")))?;
                let v = match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::Number(n) => n.as_f64(),
                    other => {
                        return Err(SourceError::Query(format!(
                            "field {} holds {other}, not a number",
                            s.columns[1]
                        )))
                    }
                };
                points.push((t, v));
            }
            Ok(Series::align(window, points))
        }
        count => Err(SourceError::SeveralSeries {
            count,
            series: series
                .iter()
                .take(5)
                .map(|s| {
                    let tags: Vec<String> =
                        s.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}{{{}}}", s.name, tags.join(","))
                })
                .collect(),
            hint: "drop the GROUP BY tag or add a WHERE condition on it".into(),
        }),
    }
}

#[async_trait]
impl MetricSource for InfluxDbSource {
    fn kind(&self) -> &'static str {
        "influxdb"
    }

    fn url(&self) -> &str {
        self.http.display_url()
    }

    fn escape(&self, value: &str) -> Result<String, SourceError> {
        escape_influxql(value)
    }

    #[tracing::instrument(skip_all, fields(metric = metric), err(level = "debug"))]
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let q = render_window(query, window)?;
        let mut params = vec![
            ("db", self.database.clone()),
            ("q", q),
            ("epoch", "s".to_string()),
        ];
        if let Some(rp) = &self.retention_policy {
            params.push(("rp", rp.clone()));
        }
        let answer = self.http.get("query", &params).await?;
        parse_answer(answer.status.as_u16(), &answer.body, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse_time;

    fn window() -> Window {
        Window::new(parse_time("1000").unwrap(), parse_time("1020").unwrap(), 10).unwrap()
    }

    #[test]
    fn escapes_single_quotes() {
        assert_eq!(
            escape_influxql(r"x' OR 1=1 --\").unwrap(),
            r"x\' OR 1=1 --\\"
        );
        assert!(escape_influxql("a\nb").is_err());
    }

    #[test]
    fn escapes_per_context() {
        let single = Placement::Quoted {
            quote: '\'',
            regex: false,
        };
        let double = Placement::Quoted {
            quote: '"',
            regex: false,
        };
        let evil = r#"x' OR "a"=~/.*/ --"#;
        assert_eq!(
            escape_influxql_at(evil, single, false).unwrap(),
            r#"x\' OR "a"=~/.*/ --"#
        );
        assert_eq!(
            escape_influxql_at(evil, double, false).unwrap(),
            r#"x' OR \"a\"=~/.*/ --"#
        );
        assert_eq!(escape_influxql_at("é✓", double, false).unwrap(), "é✓");
        for placement in [single, double, Placement::RegexLiteral] {
            assert!(escape_influxql_at("a\nb", placement, false).is_err());
        }
        assert!(escape_influxql_at("x", Placement::PathNode, false).is_err());
    }

    #[test]
    fn regex_literals_match_literally_and_cannot_be_closed() {
        let re = Placement::RegexLiteral;
        assert_eq!(escape_influxql_at(".*", re, false).unwrap(), r"\.\*");
        assert_eq!(
            escape_influxql_at(r"a/b\ OR 1=1", re, false).unwrap(),
            r"a\/b\\ OR 1=1"
        );
        // Declared regexes keep their metacharacters; `/` is still escaped, and a lone
        // trailing backslash (which would escape the closing `/`) is refused.
        assert_eq!(
            escape_influxql_at("canary-.*", re, true).unwrap(),
            "canary-.*"
        );
        assert_eq!(
            escape_influxql_at(r"a/b\/c\.", re, true).unwrap(),
            r"a\/b\/c\."
        );
        assert!(escape_influxql_at(r"a\", re, true).is_err());
    }

    #[test]
    fn needs_time_filter() {
        assert!(render_window("SELECT v FROM m", &window()).is_err());
        assert_eq!(
            render_window(
                "SELECT mean(v) FROM m WHERE $timeFilter GROUP BY time($interval)",
                &window()
            )
            .unwrap(),
            "SELECT mean(v) FROM m WHERE time >= 1000s AND time <= 1020s GROUP BY time(10s)"
        );
    }

    #[test]
    fn parses_values_and_errors() {
        let body = br#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean"],"values":[[1000,1.5],[1010,null],[1020,3]]}]}]}"#;
        let s = parse_answer(200, body, &window()).unwrap();
        assert_eq!(s.values, vec![Some(1.5), None, Some(3.0)]);
        let body = br#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#;
        let err = parse_answer(200, body, &window()).unwrap_err().to_string();
        assert!(err.contains("database not found: x"), "{err}");
        let body = br#"{"results":[{"statement_id":0}]}"#;
        assert_eq!(
            parse_answer(200, body, &window()).unwrap().points_returned,
            0
        );
    }
}
