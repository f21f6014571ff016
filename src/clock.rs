//! The one source of "now" for the store, the scheduler, the API and the service. Startup
//! injects the system clock; tests inject a manual one and move it themselves, so that what
//! depends on due times, settle delays and leases is tested without waiting for them.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A clock: the system's, or a manual one that only moves when told.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock standing at `start` until [`Clock::advance`] or [`Clock::set`] moves it (tests).
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    /// Now, to the millisecond (both databases keep at least that, so a time reads back
    /// equal).
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.manual {
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
            None => Utc::now(),
        };
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }

    /// Moves a manual clock forward by `by`; the system clock cannot be moved (false).
    pub fn advance(&self, by: chrono::Duration) -> bool {
        match &self.manual {
            Some(t) => {
                let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
                *t += by;
                true
            }
            None => false,
        }
    }

    /// Sets a manual clock to `to`; the system clock cannot be set (false).
    pub fn set(&self, to: DateTime<Utc>) -> bool {
        match &self.manual {
            Some(t) => {
                *t.lock().unwrap_or_else(|e| e.into_inner()) = to;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let c = Clock::manual(start);
        let shared = c.clone();
        assert_eq!(c.now(), start);
        assert!(shared.advance(chrono::Duration::seconds(90)));
        assert_eq!(c.now(), start + chrono::Duration::seconds(90));
        assert!(!Clock::system().advance(chrono::Duration::seconds(1)));
        let t = Clock::system().now();
        assert_eq!(t.timestamp_subsec_nanos() % 1_000_000, 0, "milliseconds");
    }
}
