//! Graphite: the render API, `GET /render?target=...&from=...&until=...&format=json`.
//!
//! `from` is exclusive, so the window's start is asked as `from = start - 1`. The answer is
//! `[{"target": NAME, "datapoints": [[value or null, unix_seconds], ...]}]`; several targets
//! are an error naming them, none is an empty series. Points come at the storage resolution
//! and are aligned to the window's step (averaged when several share a step).
//!
//! Graphite has no quoting: a scope value is a path node as it stands, so values holding
//! anything but letters, digits, `_` and `-` (a `.` adds a node, `*`/`{`/`[` are wildcards,
//! `(`/`)`/`,`/quotes change the expression) are refused with an error.
//!
//! Options: those of every HTTP source.

use async_trait::async_trait;
use serde::Deserialize;

use super::http::HttpClient;
use super::placement::{not_here, Placement};
use super::{points, points_budget, too_many_points, MetricSource, Series, SourceError, Window};
use crate::config::SourceSettings;

/// A graphite-web server.
#[derive(Debug)]
pub struct GraphiteSource {
    http: HttpClient,
}

impl GraphiteSource {
    /// A source for `settings.url` (default `http://127.0.0.1:8080`).
    pub fn new(name: &str, settings: &SourceSettings) -> Result<GraphiteSource, SourceError> {
        Ok(GraphiteSource {
            http: HttpClient::new(name, settings, Some("http://127.0.0.1:8080"), vec![])?,
        })
    }
}

/// Checks that a value can stand as (part of) a Graphite path node unquoted.
pub fn escape_graphite(value: &str) -> Result<String, SourceError> {
    if value.is_empty() {
        return Err(SourceError::Escape {
            value: value.to_string(),
            language: "Graphite",
            reason: "an empty path node".into(),
        });
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(SourceError::Escape {
            value: value.to_string(),
            language: "Graphite",
            reason: format!(
                "Graphite targets have no quoting, and {c:?} would change the target's meaning \
                 (only letters, digits, '_' and '-' are allowed)"
            ),
        });
    }
    Ok(value.to_string())
}

/// Escapes a value for where it sits in a Graphite target ([`Placement`]): a bare path node
/// as [`escape_graphite`]; inside a quoted function argument (`'…'`, `"…"`), quotes,
/// backslashes and control characters are refused, and so are the characters that make such
/// an argument a pattern or another expression (`* ? [ ] { } ( ) , ; = ~ ! ^ $ | +`): string
/// arguments are often series patterns or tag expressions (`seriesByTag('version=${scope}')`).
///
/// # Errors
/// [`SourceError::Escape`] when the value cannot be made safe there.
pub fn escape_graphite_at(value: &str, placement: Placement) -> Result<String, SourceError> {
    match placement {
        Placement::PathNode => escape_graphite(value),
        Placement::Quoted { .. } => {
            let bad = |c: &char| c.is_control() || "'\"\\*?[]{}(),;=~!^$|+".contains(*c);
            match value.chars().find(bad) {
                Some(c) => Err(SourceError::Escape {
                    value: value.to_string(),
                    language: "Graphite",
                    reason: format!(
                        "{c:?} would end the quoted argument or make it a pattern (Graphite \
                         string arguments are often series patterns or tag expressions)"
                    ),
                }),
                None => Ok(value.to_string()),
            }
        }
        other => Err(not_here(value, "Graphite", other)),
    }
}

#[derive(Deserialize)]
struct Target {
    target: String,
    #[serde(default, deserialize_with = "points::counted")]
    datapoints: Vec<(Option<f64>, f64)>,
}

/// Reads a render answer (any status) into a series on the window's grid.
pub fn parse_answer(status: u16, body: &[u8], window: &Window) -> Result<Series, SourceError> {
    if status >= 400 {
        let text = String::from_utf8_lossy(body);
        // graphite-web answers errors in HTML or plain text; keep the readable part.
        let message: String = strip_tags(&text).chars().take(300).collect();
        return Err(SourceError::Backend {
            backend: "graphite",
            status: status.to_string(),
            message,
        });
    }
    let (parsed, over) = points::parse(points_budget(window), || serde_json::from_slice(body));
    if over {
        return Err(too_many_points("graphite", window));
    }
    let mut targets: Vec<Target> = parsed.map_err(|e| SourceError::Malformed {
        backend: "graphite",
        message: format!("not the render API's JSON: {e}"),
    })?;
    match targets.len() {
        0 => Ok(Series::empty(window)),
        1 => {
            let t = targets.remove(0);
            Ok(Series::align(
                window,
                t.datapoints.into_iter().map(|(v, t)| (t, v)),
            ))
        }
        count => Err(SourceError::SeveralSeries {
            count,
            series: targets.iter().take(5).map(|t| t.target.clone()).collect(),
            hint: "sumSeries(...) or averageSeries(...)".into(),
        }),
    }
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[async_trait]
impl MetricSource for GraphiteSource {
    fn kind(&self) -> &'static str {
        "graphite"
    }

    fn url(&self) -> &str {
        self.http.display_url()
    }

    fn escape(&self, value: &str) -> Result<String, SourceError> {
        escape_graphite(value)
    }

    #[tracing::instrument(skip_all, fields(metric = metric), err(level = "debug"))]
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let params = [
            ("target", query.to_string()),
            ("from", (window.start_unix() - 1).to_string()),
            ("until", window.end_unix().to_string()),
            ("format", "json".to_string()),
        ];
        let answer = self.http.get("render", &params).await?;
        parse_answer(answer.status.as_u16(), &answer.body, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse_time;

    #[test]
    fn refuses_meaningful_characters() {
        assert_eq!(escape_graphite("canary-v2_1").unwrap(), "canary-v2_1");
        for bad in ["a.b", "a*", "x,y)", "{a,b}", "a b", "", "a'"] {
            assert!(escape_graphite(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_arguments_refuse_quotes_and_pattern_characters() {
        let quoted = Placement::Quoted {
            quote: '\'',
            regex: false,
        };
        assert_eq!(
            escape_graphite_at("canary v1.2/é", quoted).unwrap(),
            "canary v1.2/é"
        );
        for bad in [
            "x'),sumSeries(*",
            "a\"b",
            r"a\b",
            "*",
            "a,b",
            "{a,b}",
            "a;b",
            "a=b",
            "a\n",
        ] {
            assert!(escape_graphite_at(bad, quoted).is_err(), "{bad}");
        }
        assert!(escape_graphite_at("a.b", Placement::PathNode).is_err());
        assert!(escape_graphite_at("a", Placement::TagValue).is_err());
    }

    #[test]
    fn parses_datapoints() {
        let w = Window::new(parse_time("1000").unwrap(), parse_time("1020").unwrap(), 10).unwrap();
        let body = br#"[{"target":"a.b","tags":{"name":"a.b"},"datapoints":[[1.0,1000],[null,1010],[2.0,1020]]}]"#;
        let s = parse_answer(200, body, &w).unwrap();
        assert_eq!(s.values, vec![Some(1.0), None, Some(2.0)]);
        let body = br#"[{"target":"a","datapoints":[]},{"target":"b","datapoints":[]}]"#;
        let err = parse_answer(200, body, &w).unwrap_err().to_string();
        assert!(err.contains("a, b") && err.contains("sumSeries"), "{err}");
    }
}
