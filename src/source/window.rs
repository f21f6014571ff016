//! The window of a live judgment: its start, end and step, the grid of instants the series are
//! aligned to, and the times accepted for its ends.

use chrono::{DateTime, TimeZone, Utc};

use super::SourceError;

/// A time window cut into steps: `start`, `start + step`, ... up to `end` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant of the window.
    pub start: DateTime<Utc>,
    /// Last instant of the window.
    pub end: DateTime<Utc>,
    /// Distance between two points.
    pub step_seconds: u64,
}

/// Most points a window may have (Prometheus refuses more than 11,000 per series).
pub const MAX_WINDOW_POINTS: u64 = 11_000;

/// Largest step: 100 years (of 365.25 days) in seconds. A larger one cannot be a time span (durations and the
/// stored step are signed 64-bit numbers, in milliseconds for chrono).
pub const MAX_STEP_SECONDS: u64 = 3_155_760_000;

impl Window {
    /// A window; `end` must be after `start`, the step positive, and at most
    /// [`MAX_WINDOW_POINTS`] points.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_seconds: u64,
    ) -> Result<Window, SourceError> {
        if step_seconds == 0 {
            return Err(SourceError::InvalidWindow(
                "step_seconds must be at least 1".into(),
            ));
        }
        if step_seconds > MAX_STEP_SECONDS {
            return Err(SourceError::InvalidWindow(format!(
                "step_seconds must be at most {MAX_STEP_SECONDS} (100 years), found {step_seconds}"
            )));
        }
        if end <= start {
            return Err(SourceError::InvalidWindow(format!(
                "the window ends ({}) before it starts ({})",
                end.to_rfc3339(),
                start.to_rfc3339()
            )));
        }
        let window = Window {
            start,
            end,
            step_seconds,
        };
        let points = window.len() as u64;
        if points > MAX_WINDOW_POINTS {
            return Err(SourceError::InvalidWindow(format!(
                "the window has {points} steps of {step_seconds} s; at most {MAX_WINDOW_POINTS} \
                 are allowed: use a larger step"
            )));
        }
        Ok(window)
    }

    /// Start as Unix seconds.
    pub fn start_unix(&self) -> i64 {
        self.start.timestamp()
    }

    /// End as Unix seconds.
    pub fn end_unix(&self) -> i64 {
        self.end.timestamp()
    }

    /// Number of grid points, both ends included.
    pub fn len(&self) -> usize {
        let span = (self.end - self.start).num_seconds().max(0) as u64;
        (span / self.step_seconds + 1) as usize
    }

    /// Never true: a window has at least its start point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The slot of a point at Unix time `t` (seconds, fractions allowed), if inside the window.
    pub fn slot(&self, t: f64) -> Option<usize> {
        self.grid().slot(t)
    }

    /// The grid's numbers, worked out once for the many points of a series.
    pub(crate) fn grid(&self) -> Grid {
        Grid {
            start: self.start.timestamp() as f64,
            step: self.step_seconds as f64,
            len: self.len(),
        }
    }

    /// The time of slot `i`.
    pub fn time_of(&self, i: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds((i as u64 * self.step_seconds) as i64)
    }
}

/// A [`Window`]'s grid as plain numbers: [`Window::slot`] without chrono's arithmetic for
/// every point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    start: f64,
    step: f64,
    len: usize,
}

impl Grid {
    /// As [`Window::slot`].
    pub(crate) fn slot(&self, t: f64) -> Option<usize> {
        // A hair of tolerance so that 1699999999.9999999 counts as its grid point.
        let slot = ((t - self.start - 1e-6) / self.step).ceil();
        if slot < 0.0 || !slot.is_finite() {
            return None;
        }
        let slot = slot as usize;
        (slot < self.len).then_some(slot)
    }
}

/// The earliest and latest instants accepted as a time (the years 1970 to 9999): every store
/// and backend handles them, and no arithmetic on them comes near chrono's limits.
pub const TIME_RANGE_MS: (i64, i64) = (0, 253_402_300_799_999);

/// Parses a time given on the command line or in the API: RFC 3339 (`2024-05-01T12:00:00Z`) or
/// Unix seconds (`1714564800`, fractions allowed), in the years 1970 to 9999.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, SourceError> {
    let s = s.trim();
    let t = parse_any_time(s)?;
    let ms = t.timestamp_millis();
    if ms < TIME_RANGE_MS.0 || ms > TIME_RANGE_MS.1 {
        return Err(SourceError::InvalidWindow(format!(
            "time {s:?} is outside the years 1970 to 9999"
        )));
    }
    Ok(t)
}

fn parse_any_time(s: &str) -> Result<DateTime<Utc>, SourceError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        if let Some(t) = Utc.timestamp_opt(secs, 0).single() {
            return Ok(t);
        }
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round() as u32;
            if let Some(t) = Utc
                .timestamp_opt(whole as i64, nanos.min(999_999_999))
                .single()
            {
                return Ok(t);
            }
        }
    }
    Err(SourceError::InvalidWindow(format!(
        "time {s:?} is neither RFC 3339 (2024-05-01T12:00:00Z) nor Unix seconds"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn parse_time_accepts_rfc3339_and_unix_seconds() {
        assert_eq!(t("1714564800"), t("2024-05-01T12:00:00Z"));
        assert_eq!(t("2024-05-01T14:00:00+02:00"), t("2024-05-01T12:00:00Z"));
        assert_eq!(t("1714564800.5").timestamp_millis(), 1714564800500);
        assert!(parse_time("yesterday").is_err());
        assert!(
            parse_time("253402300799").is_ok(),
            "the last second of 9999"
        );
        for out in ["253402300800", "316000000000", "-1", "1969-12-31T23:59:59Z"] {
            let e = parse_time(out).unwrap_err().to_string();
            assert!(e.contains("outside the years 1970 to 9999"), "{out}: {e}");
        }
    }

    #[test]
    fn window_grid_includes_both_ends() {
        let w = Window::new(t("1000"), t("1060"), 10).unwrap();
        assert_eq!(w.len(), 7);
        assert_eq!(w.slot(1000.0), Some(0));
        assert_eq!(w.slot(1060.0), Some(6));
        assert_eq!(w.slot(1061.0), None);
        assert_eq!(
            w.slot(999.0),
            Some(0),
            "a bucket starting before covers slot 0"
        );
        assert_eq!(w.slot(989.0), None);
        assert_eq!(w.slot(1005.0), Some(1));
        assert!(Window::new(t("1000"), t("1000"), 10).is_err());
        assert!(Window::new(t("1000"), t("1060"), 0).is_err());
        for step in [MAX_STEP_SECONDS + 1, 1 << 63, u64::MAX] {
            let err = Window::new(t("1000"), t("1060"), step).unwrap_err();
            assert!(err.to_string().contains("step_seconds"), "{err}");
        }
        assert_eq!(
            Window::new(t("1000"), t("1060"), MAX_STEP_SECONDS)
                .unwrap()
                .len(),
            1
        );
    }
}
