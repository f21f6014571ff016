//! Parsing under a points budget: backends mark their lists of points with
//! `#[serde(deserialize_with = "points::counted")]`, and [`points::parse`] runs a parse with a
//! budget, so that an oversized answer stops where the budget ends instead of being built
//! whole. The budget lives in a thread-local: a parse is synchronous and never moves threads.
//!
//! The budget itself is [`points_budget`]: a few series' worth of the window's steps.

use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::{Deserializer, Error, SeqAccess, Visitor};
use serde::Deserialize;

use super::{SourceError, Window};

/// Series' worth of points one query's answer may carry (see [`points_budget`]). One series is
/// what a judgment needs; a few more are parsed so that [`SourceError::SeveralSeries`] can name
/// them.
pub const MAX_SERIES_PER_QUERY: usize = 10;

/// Most points one query's answer may carry while it is parsed: [`MAX_SERIES_PER_QUERY`]
/// series of the window's steps (plus one each side), and never less than 10,000.
pub fn points_budget(window: &Window) -> usize {
    window
        .len()
        .saturating_add(2)
        .saturating_mul(MAX_SERIES_PER_QUERY)
        .max(10_000)
}

/// The error for an answer over [`points_budget`].
pub(crate) fn too_many_points(backend: &str, window: &Window) -> SourceError {
    SourceError::TooLarge(format!(
        "the {backend} answer has more than {} points, the most one query may bring for a \
         window of {} steps; aggregate the query into one series or narrow the window",
        points_budget(window),
        window.len()
    ))
}

thread_local! {
    /// Points still allowed in the parse under way (`None`: no budget).
    static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
    /// Whether the parse under way ran over its budget.
    static OVER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `parse` with at most `budget` points; the flag says it ran over (its result is
/// then an error that the caller replaces).
pub fn parse<T>(budget: usize, parse: impl FnOnce() -> T) -> (T, bool) {
    let before = LEFT.with(|l| l.replace(Some(budget)));
    OVER.with(|o| o.set(false));
    let out = parse();
    LEFT.with(|l| l.set(before));
    (out, OVER.with(|o| o.replace(false)))
}

fn charge() -> bool {
    LEFT.with(|l| match l.get() {
        None => true,
        Some(0) => {
            OVER.with(|o| o.set(true));
            false
        }
        Some(n) => {
            l.set(Some(n - 1));
            true
        }
    })
}

/// A list whose every element costs one point of the budget.
pub fn counted<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Points<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Points<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of points")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(point) = seq.next_element()? {
                if !charge() {
                    return Err(A::Error::custom("more points than the budget allows"));
                }
                out.push(point);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Points(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{datadog, graphite, influxdb, parse_time, prometheus};
    use chrono::{DateTime, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn every_backend_stops_parsing_at_the_points_budget() {
        let w = Window::new(t("1000"), t("1060"), 10).unwrap();
        let budget = points_budget(&w);
        assert_eq!(budget, 10_000);
        let body = |backend: &str, n: usize| {
            let many = |point: &str| vec![point; n].join(",");
            match backend {
                "prometheus" => format!(
                    r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
                    many(r#"[1000,"1"]"#)
                ),
                "influxdb" => format!(
                    r#"{{"results":[{{"series":[{{"name":"m","columns":["time","v"],"values":[{}]}}]}}]}}"#,
                    many("[1000,1]")
                ),
                "graphite" => format!(r#"[{{"target":"m","datapoints":[{}]}}]"#, many("[1,1000]")),
                _ => format!(
                    r#"{{"status":"ok","series":[{{"pointlist":[{}]}}]}}"#,
                    many("[1000000,1]")
                ),
            }
        };
        for backend in ["prometheus", "influxdb", "graphite", "datadog"] {
            let parse = match backend {
                "prometheus" => prometheus::parse_answer,
                "influxdb" => influxdb::parse_answer,
                "graphite" => graphite::parse_answer,
                _ => datadog::parse_answer,
            };
            let err = parse(200, body(backend, budget + 1).as_bytes(), &w).unwrap_err();
            assert_eq!(err.reason_code(), "too_large", "{backend}: {err}");
            assert!(err.to_string().contains(backend), "{err}");
            // Exactly the budget is fine, and the next parse starts afresh.
            let s = parse(200, body(backend, budget).as_bytes(), &w);
            assert!(s.is_ok(), "{backend}: {s:?}");
        }
    }
}
