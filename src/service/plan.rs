//! The intervals of an analysis (pure time arithmetic, no I/O), after Kayenta's standalone
//! canary analysis: after `begin_after`, one interval every `interval` for `lifetime`; interval
//! `k` (from 0) ends at `start + begin_after + (k + 1) × interval`; its window starts
//! `lookback` before its end, or, with `lookback` 0, at `start + begin_after` (a window that
//! grows with the analysis). An interval is due once its window has closed plus `settle` (late
//! samples still arriving in the metric backend).

use chrono::{DateTime, Duration, Utc};

/// Most intervals one analysis may have.
pub const MAX_INTERVALS: i64 = 10_000;

/// Longest duration any timing field may give, in minutes: 100 years (of 365.25 days). Far
/// beyond any rollout, and far inside what dates can hold, so that no sum of them overflows.
pub const MAX_MINUTES: f64 = 100.0 * 365.25 * 24.0 * 60.0;

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

/// Minutes (fractions allowed) as a duration, to the millisecond; clamped to
/// ±[`MAX_MINUTES`] (NaN is zero), so that it never panics. Check user input with
/// [`checked_minutes`] first.
pub fn minutes(m: f64) -> Duration {
    let m = if m.is_nan() {
        0.0
    } else {
        m.clamp(-MAX_MINUTES, MAX_MINUTES)
    };
    Duration::milliseconds((m * 60_000.0).round() as i64)
}

/// Minutes as a duration when `m` is a number of minutes in `0..=MAX_MINUTES`; else `None`.
pub fn checked_minutes(m: f64) -> Option<Duration> {
    (m.is_finite() && (0.0..=MAX_MINUTES).contains(&m)).then(|| minutes(m))
}

/// `t + d`, or `None` past the dates chrono can hold.
fn add(t: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    t.checked_add_signed(d)
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
            if v.is_finite() && (0.0..=MAX_MINUTES).contains(&v) {
                Ok(())
            } else {
                Err((
                    name,
                    format!(
                        "must be a number of minutes from 0 to {MAX_MINUTES} (100 years), \
                         found {v}"
                    ),
                ))
            }
        };
        if !(settle_seconds.is_nan() || settle_seconds <= MAX_MINUTES * 60.0) {
            return Err((
                "settle_seconds",
                format!(
                    "must be at most {} seconds, found {settle_seconds}",
                    MAX_MINUTES * 60.0
                ),
            ));
        }
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
            settle: minutes(settle_seconds.max(0.0) / 60.0),
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
        // Every instant of the plan must be a date: the last interval's is the latest (and,
        // with a lookback, the earliest start is the first interval's).
        let last = plan.count().max(1) - 1;
        let first = add(start, plan.begin_after).ok_or_else(|| {
            (
                "begin_after_minutes",
                format!("start + {begin_after_minutes} minutes is past the last date supported"),
            )
        })?;
        let end = i32::try_from(last + 1)
            .ok()
            .and_then(|k| plan.interval.checked_mul(k))
            .and_then(|d| add(first, d))
            .ok_or_else(|| {
                (
                    "lifetime_minutes",
                    "the analysis would end past the last date supported".to_string(),
                )
            })?;
        add(end, plan.settle).ok_or_else(|| {
            (
                "settle_seconds",
                "the last interval would be due past the last date supported".to_string(),
            )
        })?;
        let one = first.checked_add_signed(plan.interval).unwrap_or(end);
        one.checked_sub_signed(plan.lookback).ok_or_else(|| {
            (
                "lookback_minutes",
                format!("a window of {lookback_minutes} minutes would start before the first date supported"),
            )
        })?;
        Ok(plan)
    }

    /// How many intervals.
    pub fn count(&self) -> i64 {
        let interval = self.interval.num_milliseconds().max(1);
        self.lifetime.num_milliseconds() / interval
    }

    /// Window of interval `k`.
    pub fn window(&self, k: i64) -> (DateTime<Utc>, DateTime<Utc>) {
        // `new` checked that the last interval's instants are dates, so these only saturate
        // for an index past the plan.
        let first = add(self.start, self.begin_after).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let end = i32::try_from(k.saturating_add(1))
            .ok()
            .and_then(|k| self.interval.checked_mul(k))
            .and_then(|d| add(first, d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let start = if self.lookback > Duration::zero() {
            end.checked_sub_signed(self.lookback)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        } else {
            first
        };
        (start, end)
    }

    /// When interval `k` is due.
    pub fn due(&self, k: i64) -> DateTime<Utc> {
        add(self.window(k).1, self.settle).unwrap_or(DateTime::<Utc>::MAX_UTC)
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
            Plan::new(s, 1e7, 1.0, 0.0, 0.0, 0.0).unwrap_err().0,
            "interval_minutes"
        );
        // Fractions of a minute (tests, fast rollouts) are fine.
        assert_eq!(Plan::new(s, 0.5, 0.05, 0.0, 0.0, 0.0).unwrap().count(), 10);
    }

    #[test]
    fn huge_timings_are_refused_naming_the_field_not_a_panic() {
        let s = t("2026-01-01T00:00:00Z");
        for (field, args) in [
            ("lifetime_minutes", [1e12, 1.0, 0.0, 0.0]),
            ("interval_minutes", [10.0, 1e14, 0.0, 0.0]),
            ("begin_after_minutes", [10.0, 1.0, 1e13, 0.0]),
            ("lookback_minutes", [10.0, 1.0, 0.0, 1e14]),
            ("begin_after_minutes", [10.0, 1.0, f64::INFINITY, 0.0]),
            ("lookback_minutes", [10.0, 1.0, 0.0, -1e300]),
        ] {
            let err = Plan::new(s, args[0], args[1], args[2], args[3], 0.0).unwrap_err();
            assert_eq!(err.0, field, "{args:?}: {err:?}");
        }
        // Legal lengths from a start near the end of time: checked, not a panic.
        let late = DateTime::<Utc>::MAX_UTC - Duration::days(1);
        assert_eq!(
            Plan::new(late, 10_000.0, 5_000.0, 0.0, 0.0, 0.0)
                .unwrap_err()
                .0,
            "lifetime_minutes"
        );
        assert_eq!(
            Plan::new(late, 10.0, 5.0, 1e6, 0.0, 0.0).unwrap_err().0,
            "begin_after_minutes"
        );
        let early = DateTime::<Utc>::MIN_UTC + Duration::days(1);
        assert_eq!(
            Plan::new(early, 10.0, 5.0, 0.0, 1e6, 0.0).unwrap_err().0,
            "lookback_minutes"
        );
        assert_eq!(
            Plan::new(s, 10.0, 5.0, 0.0, 0.0, 1e300).unwrap_err().0,
            "settle_seconds"
        );
        assert!(minutes(f64::NEG_INFINITY) < Duration::zero());
        assert_eq!(minutes(f64::NAN), Duration::zero());
        assert_eq!(checked_minutes(1e13), None);
        assert_eq!(checked_minutes(2.0), Some(Duration::minutes(2)));
    }
}
