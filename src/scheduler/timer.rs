//! The in-memory timer of the interval loop: the due times of the analyses that fall due
//! soon, so that the loop sleeps until the next one without asking the store at every due
//! time.
//!
//! It holds only a near window (what is due up to a horizon a little past the next re-read)
//! and only rows nobody holds a lease on: that keeps it small whatever the number of
//! analyses, and the re-read that feeds it is one range query on the `(state, next_due_at)`
//! index, which reads only what is about to be judged anyway. The store stays the truth: the
//! timer only says *when* to claim, and a claim takes only what the store says is due and
//! free, so a wrong or stale entry costs at most one claim that returns nothing.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

/// Due times by analysis id, ordered.
#[derive(Debug, Default)]
pub(crate) struct DueTimer {
    by_id: HashMap<String, DateTime<Utc>>,
    ordered: BTreeSet<(DateTime<Utc>, String)>,
    /// The last re-read hit its row limit: more may be due than the timer knows.
    truncated: bool,
}

impl DueTimer {
    /// Replaces what the timer knows by a re-read of the store: `rows` are every free row due
    /// up to the horizon (the first `limit` of them when `truncated`).
    pub(crate) fn replace(&mut self, rows: Vec<(String, DateTime<Utc>)>, truncated: bool) {
        self.by_id.clear();
        self.ordered.clear();
        for (id, due) in rows {
            self.set(&id, due);
        }
        self.truncated = truncated;
    }

    /// Analysis `id` is next due at `due`.
    pub(crate) fn set(&mut self, id: &str, due: DateTime<Utc>) {
        if let Some(old) = self.by_id.insert(id.to_string(), due) {
            self.ordered.remove(&(old, id.to_string()));
        }
        self.ordered.insert((due, id.to_string()));
    }

    /// Analysis `id` is not due soon (claimed, ended, or due past the horizon).
    pub(crate) fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.ordered.remove(&(old, id.to_string()));
        }
    }

    /// The earliest due time known.
    pub(crate) fn earliest(&self) -> Option<DateTime<Utc>> {
        self.ordered.first().map(|(t, _)| *t)
    }

    /// Forgets every entry due at or before `now`: after a claim that took less than it
    /// could, what is still due was not free (another instance claimed it) and the next
    /// re-read says when it is.
    pub(crate) fn forget_due(&mut self, now: DateTime<Utc>) {
        while let Some((t, id)) = self.ordered.first().cloned() {
            if t > now {
                break;
            }
            self.ordered.remove(&(t, id.clone()));
            self.by_id.remove(&id);
        }
    }

    /// True when the last re-read was cut at its limit and the timer has run dry: the store
    /// should be read again now rather than at the next periodic re-read. (While entries are
    /// left, what the cut left out falls due after them: the re-read is in due-time order.)
    pub(crate) fn needs_reread(&self) -> bool {
        self.truncated && self.ordered.is_empty()
    }

    /// How many entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).expect("time")
    }

    #[test]
    fn keeps_the_earliest_and_moves_entries() {
        let mut timer = DueTimer::default();
        assert_eq!(timer.earliest(), None);
        timer.set("a", t(30));
        timer.set("b", t(10));
        timer.set("c", t(20));
        assert_eq!(timer.earliest(), Some(t(10)));
        // Moving an entry replaces it, it does not add a second one.
        timer.set("b", t(40));
        assert_eq!(timer.len(), 3);
        assert_eq!(timer.earliest(), Some(t(20)));
        timer.remove("c");
        timer.remove("missing");
        assert_eq!(timer.earliest(), Some(t(30)));
        assert_eq!(timer.len(), 2);
    }

    #[test]
    fn forgets_what_is_due_and_asks_again_when_cut() {
        let mut timer = DueTimer::default();
        timer.replace(
            vec![("a".into(), t(1)), ("b".into(), t(2)), ("c".into(), t(9))],
            true,
        );
        assert!(!timer.needs_reread(), "entries are still known");
        timer.forget_due(t(5));
        assert_eq!(timer.len(), 1);
        assert_eq!(timer.earliest(), Some(t(9)));
        assert!(
            !timer.needs_reread(),
            "what the cut left out is due after t(9): no re-read yet"
        );
        timer.forget_due(t(9));
        assert!(
            timer.needs_reread(),
            "cut re-read and nothing left: read again"
        );
        timer.replace(vec![("d".into(), t(12))], false);
        timer.forget_due(t(12));
        assert_eq!(timer.earliest(), None);
        assert!(!timer.needs_reread(), "the re-read was complete");
    }
}
