//! Series alignment: a fetched series becomes one value per step of the [`Window`], from
//! `start` to `end` inclusive. A point at time `t` fills slot `ceil((t - start) / step)`, so the
//! grid points themselves (Prometheus `query_range`) land on their own slot and a bucket
//! labelled by its start (InfluxDB `GROUP BY time`) lands on the first grid point it covers;
//! points sharing a slot are averaged; a slot with no point is `None`.

use super::Window;

/// One fetched series, aligned to the window's grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// One value per grid point of the window; `None` where nothing (or NaN) came back.
    pub values: Vec<Option<f64>>,
    /// Points the backend returned inside the window, null / NaN ones included.
    pub points_returned: usize,
    /// Remarks about the series, e.g. that it stops before the end of the window.
    pub notes: Vec<String>,
}

impl Series {
    /// Aligns `(unix seconds, value)` points to the window's grid (see the module doc), and
    /// notes a series that stops before the end of the window.
    pub fn align(window: &Window, points: impl IntoIterator<Item = (f64, Option<f64>)>) -> Series {
        let n = window.len();
        let grid = window.grid();
        let mut sums = vec![0.0; n];
        let mut counts = vec![0u32; n];
        let mut returned = 0;
        for (t, v) in points {
            let Some(slot) = grid.slot(t) else { continue };
            returned += 1;
            if let Some(v) = v.filter(|v| v.is_finite()) {
                sums[slot] += v;
                counts[slot] += 1;
            }
        }
        let values: Vec<Option<f64>> = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| (c > 0).then(|| s / f64::from(c)))
            .collect();
        let mut notes = Vec::new();
        if let Some(last) = values.iter().rposition(Option::is_some) {
            if last + 1 < n {
                let stop = window.time_of(last);
                let missing = (window.end - stop).num_seconds();
                notes.push(format!(
                    "series stops at {}, {} before the end of the window",
                    stop.format("%Y-%m-%dT%H:%M:%SZ"),
                    human_duration(missing)
                ));
            }
        }
        Series {
            values,
            points_returned: returned,
            notes,
        }
    }

    /// A series with no values at all (the query matched nothing).
    pub fn empty(window: &Window) -> Series {
        Series {
            values: vec![None; window.len()],
            points_returned: 0,
            notes: Vec::new(),
        }
    }
}

fn human_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let parts: Vec<String> = [(h, "hour"), (m, "minute"), (s, "second")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| plural(n, unit))
        .collect();
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse_time;
    use chrono::{DateTime, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn align_fills_gaps_and_notes_early_stop() {
        let w = Window::new(t("2024-05-01T12:00:00Z"), t("2024-05-01T12:10:00Z"), 60).unwrap();
        let start = w.start_unix() as f64;
        let s = Series::align(
            &w,
            vec![
                (start, Some(1.0)),
                (start + 120.0, Some(f64::NAN)),
                (start + 180.0, Some(3.0)),
            ],
        );
        assert_eq!(s.values.len(), 11);
        assert_eq!(&s.values[..4], &[Some(1.0), None, None, Some(3.0)]);
        assert_eq!(s.points_returned, 3);
        assert_eq!(
            s.notes,
            vec!["series stops at 2024-05-01T12:03:00Z, 7 minutes before the end of the window"]
        );
    }
}
