//! The intervals of an analysis (pure time arithmetic, no I/O), after Kayenta's standalone
//! canary analysis: after `begin_after`, one interval every `interval` for `lifetime`; interval
//! `k` (from 0) ends at `start + begin_after + (k + 1) × interval`; its window starts
//! `lookback` before its end, or, with `lookback` 0, at `start + begin_after` (a window that
//! grows with the analysis). An interval is due once its window has closed plus `settle` (late
//! samples still arriving in the metric backend).

use chrono::{DateTime, Duration, Utc};

/// Most intervals one analysis may have.
pub const MAX_INTERVALS: i64 = 10_000;

/// An analysis's timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// When the canary started taking traffic.
    pub start: DateTime<Utc>,
    /// Length of the judged part, after `begin_after`.
    pub lifetime: Duration,
    /// Distance between two judgments.
    pub interval: Duration,
    /// Wait before the first interval starts.
    pub begin_after: Duration,
    /// Window length; zero: from the beginning.
    pub lookback: Duration,
    /// Delay after a window closes before it is judged.
    pub settle: Duration,
}

/// Minutes (fractions allowed) as a duration, to the millisecond.
pub fn minutes(m: f64) -> Duration {
    Duration::milliseconds((m * 60_000.0).round() as i64)
}

impl Plan {
    /// Checks the timing; the message names the field.
    ///
    /// # Errors
    /// `(field, message)` for a value out of range.
    pub fn new(
        start: DateTime<Utc>,
        lifetime_minutes: f64,
        interval_minutes: f64,
        begin_after_minutes: f64,
        lookback_minutes: f64,
        settle_seconds: f64,
    ) -> Result<Plan, (&'static str, String)> {
        let finite = |name: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err((name, format!("must be a number of minutes >= 0, found {v}")))
            }
        };
        finite("lifetime_minutes", lifetime_minutes)?;
        finite("interval_minutes", interval_minutes)?;
        finite("begin_after_minutes", begin_after_minutes)?;
        finite("lookback_minutes", lookback_minutes)?;
        if interval_minutes * 60.0 < 1.0 {
            return Err((
                "interval_minutes",
                format!("must be at least one second (1/60), found {interval_minutes}"),
            ));
        }
        if lifetime_minutes < interval_minutes {
            return Err((
                "lifetime_minutes",
                format!("must be at least interval_minutes ({interval_minutes}), found {lifetime_minutes}"),
            ));
        }
        let plan = Plan {
            start,
            lifetime: minutes(lifetime_minutes),
            interval: minutes(interval_minutes),
            begin_after: minutes(begin_after_minutes),
            lookback: minutes(lookback_minutes),
            settle: Duration::milliseconds((settle_seconds.max(0.0) * 1000.0).round() as i64),
        };
        if plan.count() > MAX_INTERVALS {
            return Err((
                "interval_minutes",
                format!(
                    "the analysis would have {} intervals; at most {MAX_INTERVALS} are allowed",
                    plan.count()
                ),
            ));
        }
        Ok(plan)
    }

    /// How many intervals.
    pub fn count(&self) -> i64 {
        let interval = self.interval.num_milliseconds().max(1);
        self.lifetime.num_milliseconds() / interval
    }

    /// Window of interval `k`.
    pub fn window(&self, k: i64) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = self.start + self.begin_after;
        let end = first + self.interval * (k + 1) as i32;
        let start = if self.lookback > Duration::zero() {
            end - self.lookback
        } else {
            first
        };
        (start, end)
    }

    /// When interval `k` is due.
    pub fn due(&self, k: i64) -> DateTime<Utc> {
        self.window(k).1 + self.settle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn growing_and_sliding_windows() {
        let p = Plan::new(t("2026-01-01T00:00:00Z"), 60.0, 15.0, 5.0, 0.0, 30.0).unwrap();
        assert_eq!(p.count(), 4);
        assert_eq!(
            p.window(0),
            (t("2026-01-01T00:05:00Z"), t("2026-01-01T00:20:00Z"))
        );
        assert_eq!(
            p.window(3),
            (t("2026-01-01T00:05:00Z"), t("2026-01-01T01:05:00Z"))
        );
        assert_eq!(p.due(3), t("2026-01-01T01:05:30Z"));
        let p = Plan::new(t("2026-01-01T00:00:00Z"), 60.0, 15.0, 0.0, 10.0, 0.0).unwrap();
        assert_eq!(
            p.window(1),
            (t("2026-01-01T00:20:00Z"), t("2026-01-01T00:30:00Z"))
        );
    }

    #[test]
    fn bad_timing_names_the_field() {
        let s = t("2026-01-01T00:00:00Z");
        assert_eq!(
            Plan::new(s, 5.0, 10.0, 0.0, 0.0, 0.0).unwrap_err().0,
            "lifetime_minutes"
        );
        assert_eq!(
            Plan::new(s, 5.0, 0.0, 0.0, 0.0, 0.0).unwrap_err().0,
            "interval_minutes"
        );
        assert_eq!(
            Plan::new(s, 5.0, 1.0, -1.0, 0.0, 0.0).unwrap_err().0,
            "begin_after_minutes"
        );
        assert_eq!(
            Plan::new(s, f64::NAN, 1.0, 0.0, 0.0, 0.0).unwrap_err().0,
            "lifetime_minutes"
        );
        assert_eq!(
            Plan::new(s, 1e9, 1.0, 0.0, 0.0, 0.0).unwrap_err().0,
            "interval_minutes"
        );
        // Fractions of a minute (tests, fast rollouts) are fine.
        assert_eq!(Plan::new(s, 0.5, 0.05, 0.0, 0.0, 0.0).unwrap().count(), 10);
    }
}
