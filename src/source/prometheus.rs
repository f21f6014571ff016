//! Prometheus (and anything serving its HTTP API): `GET /api/v1/query_range` with `start`,
//! `end` and `step`.
//!
//! The answer is `{"status": "success", "data": {"resultType": "matrix", "result": [{"metric":
//! {...}, "values": [[unix_seconds, "value"], ...]}]}}`; errors are `{"status": "error",
//! "errorType": ..., "error": ...}` with a 4xx/5xx status. A query must yield one series: several
//! are an error that names them; none is an empty series (the judge's `nodata`). Sample values
//! `NaN` and `±Inf` are missing values.
//!
//! Options: those of every HTTP source (`bearer_token`, `username`/`password`, `headers`,
//! `ca_file`, `insecure_skip_verify`, `retry_attempts`, `retry_backoff_ms`,
//! `max_response_bytes`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::de::{Deserializer, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use super::http::HttpClient;
use super::placement::{check_bare, not_here, quote_regex_meta, Language, Placement};
use super::{points, points_budget, too_many_points, MetricSource, Series, SourceError, Window};
use crate::config::SourceSettings;

/// A Prometheus server.
#[derive(Debug)]
pub struct PrometheusSource {
    http: HttpClient,
}

impl PrometheusSource {
    /// A source for `settings.url` (default `http://127.0.0.1:9090`).
    pub fn new(name: &str, settings: &SourceSettings) -> Result<PrometheusSource, SourceError> {
        Ok(PrometheusSource {
            http: HttpClient::new(name, settings, Some("http://127.0.0.1:9090"), vec![])?,
        })
    }
}

/// Escapes a value for a double-quoted PromQL string (a label matcher value): backslash,
/// double quote and line breaks are escaped, so the value cannot close the string.
pub fn escape_promql(value: &str) -> Result<String, SourceError> {
    escape_promql_string(value, value, '"')
}

/// Escapes a value for where it sits in a PromQL query ([`Placement`]):
///
/// * `"…"` and `'…'`: backslash, that quote and line breaks are escaped (Go string escapes; the
///   other quote needs none and must get none, PromQL refuses `\"` inside `'…'`);
/// * `` `…` `` (raw string, no escapes exist): a value with a backtick or a control character
///   is refused;
/// * outside any string: one name, number or duration only ([`check_bare`]);
/// * a regex matcher's string (`=~`, `!~`): RE2 metacharacters are quoted first, so the value
///   matches itself literally (`.*` matches the label value `.*`, not everything), unless the
///   template declares the value a regex (`value_is_regex`).
///
/// # Errors
/// [`SourceError::Escape`] when the value cannot be made safe there.
pub fn escape_promql_at(
    value: &str,
    placement: Placement,
    value_is_regex: bool,
) -> Result<String, SourceError> {
    let (quote, regex) = match placement {
        Placement::Quoted { quote, regex } => (quote, regex),
        Placement::Bare => return check_bare(Language::PromQL, value),
        other => return Err(not_here(value, "PromQL", other)),
    };
    let text = if regex && !value_is_regex {
        quote_regex_meta(value)
    } else {
        value.to_string()
    };
    if quote != '`' {
        return escape_promql_string(value, &text, quote);
    }
    if let Some(c) = text.chars().find(|c| *c == '`' || c.is_control()) {
        return Err(SourceError::Escape {
            value: value.to_string(),
            language: "PromQL",
            reason: format!(
                "a `…` raw string has no escapes, so {} cannot be put in it; use \"…\" in the \
                 template instead",
                describe_char(c)
            ),
        });
    }
    Ok(text)
}

fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("control character U+{:04X}", c as u32)
    } else {
        format!("{c:?}")
    }
}

/// `text` escaped for a PromQL string delimited by `quote`; `value` (what the caller gave)
/// names it in errors.
fn escape_promql_string(value: &str, text: &str, quote: char) -> Result<String, SourceError> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                return Err(SourceError::Escape {
                    value: value.to_string(),
                    language: "PromQL",
                    reason: describe_char(c),
                })
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The answer, read straight into typed values that borrow from the body where they can
/// (never a whole `serde_json::Value` tree: that took some 16 times the answer's bytes, nor a
/// `String` per sample).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<Data<'a>>,
    #[serde(default, borrow, rename = "errorType")]
    error_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    error: Option<Cow<'a, str>>,
}

/// `data`. A vector's samples (`value`) are ignored: the result type says it is not a matrix.
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, rename = "resultType")]
    result_type: Cow<'a, str>,
    #[serde(default, borrow)]
    result: Vec<MatrixSeries<'a>>,
}

#[derive(Deserialize)]
struct MatrixSeries<'a> {
    #[serde(default, borrow)]
    metric: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(default, deserialize_with = "points::counted")]
    values: Vec<Sample>,
}

/// One `[unix_seconds, "value"]` sample, its value parsed where it lies in the body: a number
/// in a string, `NaN` and infinities (and anything that is not a number) missing.
struct Sample {
    time: f64,
    value: Option<f64>,
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sample, D::Error> {
        struct SampleVisitor;
        impl<'de> Visitor<'de> for SampleVisitor {
            type Value = Sample;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [unix_seconds, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
                let time: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let SampleValue(value) = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(Sample { time, value })
            }
        }
        deserializer.deserialize_seq(SampleVisitor)
    }
}

/// The value of a sample: a string, read without copying it.
struct SampleValue(Option<f64>);

impl<'de> Deserialize<'de> for SampleValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SampleValue, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = SampleValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SampleValue, E> {
                Ok(SampleValue(sample_value(v)))
            }
        }
        deserializer.deserialize_str(ValueVisitor)
    }
}

/// The envelope alone, to explain an answer whose result did not parse as a matrix.
#[derive(Deserialize)]
struct Outline<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<OutlineData<'a>>,
    #[serde(default, borrow, rename = "errorType")]
    error_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    error: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OutlineData<'a> {
    #[serde(borrow, rename = "resultType")]
    result_type: Cow<'a, str>,
}

fn label_set(labels: &BTreeMap<Cow<'_, str>, Cow<'_, str>>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// A Prometheus sample value: a number in a string; `NaN` and infinities are missing.
fn sample_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

impl<'a> Envelope<'a> {
    /// The envelope of a successful answer, or the backend's error.
    fn check(self, status: u16) -> Result<Envelope<'a>, SourceError> {
        if self.status == "success" && status < 400 {
            return Ok(self);
        }
        let message = match (self.error_type, self.error) {
            (Some(t), Some(e)) => format!("{t}: {e}"),
            (None, Some(e)) => e.into_owned(),
            _ => format!("status {:?} without an error message", self.status),
        };
        Err(SourceError::Backend {
            backend: "prometheus",
            status: status.to_string(),
            message,
        })
    }
}

/// Reads a `query_range` answer (any status) into a series on the window's grid.
pub fn parse_answer(status: u16, body: &[u8], window: &Window) -> Result<Series, SourceError> {
    let malformed = |message: String| SourceError::Malformed {
        backend: "prometheus",
        message,
    };
    let (parsed, over) = points::parse(points_budget(window), || {
        serde_json::from_slice::<Envelope>(body)
    });
    if over {
        return Err(too_many_points("prometheus", window));
    }
    let envelope: Envelope = match parsed {
        Ok(e) => e,
        Err(matrix_error) => {
            let outline = match serde_json::from_slice::<Outline>(body) {
                Ok(o) => o,
                Err(e) => {
                    if status >= 400 {
                        return Err(SourceError::Backend {
                            backend: "prometheus",
                            status: status.to_string(),
                            message: String::from_utf8_lossy(body).chars().take(300).collect(),
                        });
                    }
                    return Err(malformed(format!("not the query API's JSON: {e}")));
                }
            };
            // The envelope is the API's; its result is not a matrix as documented.
            let result_type = outline.data.map(|d| d.result_type);
            Envelope {
                status: outline.status,
                data: None,
                error_type: outline.error_type,
                error: outline.error,
            }
            .check(status)?;
            return Err(match result_type {
                Some(t) if t != "matrix" => malformed(format!(
                    "resultType {t:?} where query_range answers \"matrix\""
                )),
                _ => malformed(format!("matrix result not as documented: {matrix_error}")),
            });
        }
    };
    let envelope = envelope.check(status)?;
    let data = envelope
        .data
        .ok_or_else(|| malformed("status success without data".into()))?;
    if data.result_type != "matrix" {
        return Err(malformed(format!(
            "resultType {:?} where query_range answers \"matrix\"",
            data.result_type
        )));
    }
    let series = data.result;
    match series.len() {
        0 => Ok(Series::empty(window)),
        1 => {
            let points = series
                .iter()
                .flat_map(|s| &s.values)
                .map(|s| (s.time, s.value));
            Ok(Series::align(window, points))
        }
        count => Err(SourceError::SeveralSeries {
            count,
            series: series
                .iter()
                .take(5)
                .map(|s| label_set(&s.metric))
                .collect(),
            hint: "sum(...), avg(...) or max(...) around the query, or a more specific label \
                   matcher"
                .into(),
        }),
    }
}

#[async_trait]
impl MetricSource for PrometheusSource {
    fn kind(&self) -> &'static str {
        "prometheus"
    }

    fn url(&self) -> &str {
        self.http.display_url()
    }

    fn escape(&self, value: &str) -> Result<String, SourceError> {
        escape_promql(value)
    }

    #[tracing::instrument(skip_all, fields(metric = metric), err(level = "debug"))]
    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let params = [
            ("query", query.to_string()),
            ("start", window.start_unix().to_string()),
            ("end", window.end_unix().to_string()),
            ("step", window.step_seconds.to_string()),
        ];
        let answer = self.http.get("api/v1/query_range", &params).await?;
        parse_answer(answer.status.as_u16(), &answer.body, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse_time;

    fn window() -> Window {
        Window::new(parse_time("1000").unwrap(), parse_time("1040").unwrap(), 10).unwrap()
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        assert_eq!(
            escape_promql(r#"a"} or vector(1) #\"#).unwrap(),
            r#"a\"} or vector(1) #\\"#
        );
        assert!(escape_promql("a\u{0}").is_err());
    }

    fn at(value: &str, quote: char, regex: bool) -> Result<String, SourceError> {
        escape_promql_at(value, Placement::Quoted { quote, regex }, false)
    }

    #[test]
    fn each_quote_escapes_its_own_delimiter_only() {
        let evil = r#"x'} or vector(1) #"#;
        // Harmless inside "…": no double quote to close it.
        assert_eq!(at(evil, '"', false).unwrap(), evil);
        assert_eq!(at(evil, '\'', false).unwrap(), r#"x\'} or vector(1) #"#);
        // PromQL refuses `\"` inside '…', so the other quote stays as it is.
        assert_eq!(at(r#"a"b\"#, '\'', false).unwrap(), r#"a"b\\"#);
        assert_eq!(at(r#"a"b"#, '"', false).unwrap(), r#"a\"b"#);
        assert_eq!(at("a\nb\tc", '\'', false).unwrap(), r"a\nb\tc");
        assert_eq!(at("é ünïcode ✓", '"', false).unwrap(), "é ünïcode ✓");
    }

    #[test]
    fn raw_strings_refuse_what_they_cannot_hold() {
        assert_eq!(at(r#"a\b"c'"#, '`', false).unwrap(), r#"a\b"c'"#);
        for bad in ["x` or vector(1) #", "a\nb", "a\rb"] {
            let err = at(bad, '`', false).unwrap_err().to_string();
            assert!(err.contains("raw string"), "{err}");
        }
    }

    #[test]
    fn regex_matchers_match_the_value_literally() {
        assert_eq!(at(".*", '"', true).unwrap(), r"\\.\\*");
        assert_eq!(at(".*", '\'', true).unwrap(), r"\\.\\*");
        assert_eq!(at(".*", '`', true).unwrap(), r"\.\*");
        assert_eq!(at(r"a\b", '`', true).unwrap(), r"a\\b");
        assert_eq!(at("v1.2|v2", '"', true).unwrap(), r"v1\\.2\\|v2");
        // A value the template declares a regex keeps its metacharacters, still string-escaped.
        let declared = Placement::Quoted {
            quote: '"',
            regex: true,
        };
        assert_eq!(
            escape_promql_at(r#"canary-.*"\"#, declared, true).unwrap(),
            r#"canary-.*\"\\"#
        );
    }

    #[test]
    fn only_strings_are_places_for_a_value() {
        assert!(escape_promql_at("x", Placement::PathNode, false).is_err());
    }

    #[test]
    fn nan_and_inf_are_missing() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1000,"1"],[1010,"NaN"],[1020,"+Inf"],[1030,"2.5"]]}]}}"#;
        let s = parse_answer(200, body, &window()).unwrap();
        assert_eq!(s.values, vec![Some(1.0), None, None, Some(2.5), None]);
        assert_eq!(s.points_returned, 4);
    }

    #[test]
    fn several_series_are_named() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"instance":"a"},"values":[[1000,"1"]]},
            {"metric":{"instance":"b"},"values":[[1000,"1"]]}]}}"#;
        let err = parse_answer(200, body, &window()).unwrap_err().to_string();
        assert!(err.contains(r#"{instance="a"}, {instance="b"}"#), "{err}");
        assert!(err.contains("sum("), "{err}");
    }

    #[test]
    fn error_body_gives_backend_message() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let err = parse_answer(400, body, &window()).unwrap_err().to_string();
        assert_eq!(err, "prometheus answered 400: bad_data: parse error");
    }
}
