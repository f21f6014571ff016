//! One fetch for identical queries in flight: while a query over a window is being fetched, a
//! second caller asking for the very same thing (metric, side, rendered query, window and step)
//! waits for that answer instead of sending the query again.
//!
//! Many analyses of one template over the same scopes fall due at the same instant (a
//! scheduler that starts them together, gates of several pipelines for the same service): they
//! ask the backend the same question at the same moment. Nothing is kept once the fetch is
//! answered: a caller that comes after the answer fetches again, so this shares work between
//! callers in flight and never serves an old answer. A failed or abandoned fetch is not shared:
//! each waiting caller then fetches on its own and gets its own error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{placement, MetricSource, Scope, Series, SourceError, Window};

/// What the fetch in flight came to: `None` while it runs, then `Some(Some(series))` or
/// `Some(None)` (it failed: each waiting caller fetches for itself).
type Outcome = Option<Option<Series>>;

/// A source whose identical fetches in flight share one backend query.
#[derive(Debug)]
pub struct Coalescing {
    inner: Arc<dyn MetricSource>,
    in_flight: Mutex<HashMap<String, (u64, watch::Receiver<Outcome>)>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Coalescing {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn MetricSource>) -> Coalescing {
        Coalescing {
            inner,
            in_flight: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many distinct fetches are in flight.
    #[cfg(test)]
    fn fetches_in_flight(&self) -> usize {
        self.in_flight.lock().map_or(0, |m| m.len())
    }
}

/// Takes the entry of a fetch out of the table when the fetch ends, however it ends (answered,
/// failed, or its caller gave up and dropped the future).
struct Leader<'a> {
    table: &'a Mutex<HashMap<String, (u64, watch::Receiver<Outcome>)>>,
    key: String,
    id: u64,
    tx: watch::Sender<Outcome>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if let Ok(mut table) = self.table.lock() {
            if table.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
                table.remove(&self.key);
            }
        }
        // Waiting callers of an abandoned fetch see the sender gone and fetch for themselves.
    }
}

#[async_trait::async_trait]
impl MetricSource for Coalescing {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn url(&self) -> &str {
        self.inner.url()
    }

    fn escape(&self, value: &str) -> Result<String, SourceError> {
        self.inner.escape(value)
    }

    fn escape_at(
        &self,
        value: &str,
        placement: placement::Placement,
        value_is_regex: bool,
    ) -> Result<String, SourceError> {
        self.inner.escape_at(value, placement, value_is_regex)
    }

    async fn fetch_range(
        &self,
        metric: &str,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        self.inner.fetch_range(metric, query, window).await
    }

    async fn fetch_scope(
        &self,
        metric: &str,
        scope: Scope,
        query: &str,
        window: &Window,
    ) -> Result<Series, SourceError> {
        let key = format!(
            "{metric}\u{0}{}\u{0}{query}\u{0}{}\u{0}{}\u{0}{}",
            scope.as_str(),
            window.start.timestamp_millis(),
            window.end.timestamp_millis(),
            window.step_seconds
        );
        let waiting = {
            let Ok(mut table) = self.in_flight.lock() else {
                return self.inner.fetch_scope(metric, scope, query, window).await;
            };
            match table.get(&key) {
                Some((_, rx)) => Err(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    let id = self
                        .next_id
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    table.insert(key.clone(), (id, rx));
                    Ok(Leader {
                        table: &self.in_flight,
                        key,
                        id,
                        tx,
                    })
                }
            }
        };
        match waiting {
            Ok(leader) => {
                let result = self.inner.fetch_scope(metric, scope, query, window).await;
                // Out of the table before the answer is sent: a caller from now on fetches anew.
                let Leader { table, key, id, tx } = &leader;
                if let Ok(mut t) = table.lock() {
                    if t.get(key).is_some_and(|(i, _)| i == id) {
                        t.remove(key);
                    }
                }
                tx.send_replace(Some(result.as_ref().ok().cloned()));
                result
            }
            Err(mut rx) => {
                let shared = rx
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|outcome| outcome.clone())
                    .flatten();
                match shared {
                    Some(series) => Ok(series),
                    None => self.inner.fetch_scope(metric, scope, query, window).await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A backend that counts its fetches and answers after `delay`, or fails.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        delay: std::time::Duration,
        fail: bool,
    }

    #[async_trait::async_trait]
    impl MetricSource for Counting {
        fn kind(&self) -> &'static str {
            "prometheus"
        }
        fn url(&self) -> &str {
            "http://counting"
        }
        fn escape(&self, value: &str) -> Result<String, SourceError> {
            Ok(value.to_string())
        }
        async fn fetch_range(
            &self,
            _metric: &str,
            query: &str,
            window: &Window,
        ) -> Result<Series, SourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.fail {
                return Err(SourceError::Query(format!("{query} failed")));
            }
            Ok(Series::align(
                window,
                [(window.start.timestamp() as f64, Some(query.len() as f64))],
            ))
        }
    }

    fn window(start: i64) -> Window {
        Window {
            start: chrono::DateTime::from_timestamp(start, 0).expect("time"),
            end: chrono::DateTime::from_timestamp(start + 60, 0).expect("time"),
            step_seconds: 10,
        }
    }

    fn counting(fail: bool) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: std::time::Duration::from_millis(200),
            fail,
        })
    }

    #[tokio::test]
    async fn identical_fetches_in_flight_share_one_query_and_different_ones_do_not() {
        let backend = counting(false);
        let source = Coalescing::new(backend.clone());
        let w = window(1_700_000_000);
        let later = window(1_700_000_010);
        let same = futures::future::join_all(
            (0..8).map(|_| source.fetch_scope("m", Scope::Baseline, "up", &w)),
        );
        let (same, other_query, other_side, other_window) = tokio::join!(
            same,
            source.fetch_scope("m", Scope::Baseline, "down", &w),
            source.fetch_scope("m", Scope::Canary, "up", &w),
            source.fetch_scope("m", Scope::Baseline, "up", &later),
        );
        assert_eq!(backend.calls.load(Ordering::SeqCst), 4);
        let first = same[0].as_ref().expect("answer").clone();
        for s in &same {
            assert_eq!(s.as_ref().expect("answer"), &first);
        }
        assert_ne!(other_query.expect("answer"), first);
        other_side.expect("answer");
        other_window.expect("answer");
        assert_eq!(
            source.fetches_in_flight(),
            0,
            "nothing is kept once answered"
        );
        // After the answer, the same query is fetched again: no old answer is served.
        source
            .fetch_scope("m", Scope::Baseline, "up", &w)
            .await
            .expect("answer");
        assert_eq!(backend.calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_shared_each_caller_gets_its_own_error() {
        let backend = counting(true);
        let source = Coalescing::new(backend.clone());
        let w = window(1_700_000_000);
        let all = futures::future::join_all(
            (0..3).map(|_| source.fetch_scope("m", Scope::Canary, "up", &w)),
        )
        .await;
        for r in &all {
            assert!(
                matches!(r, Err(SourceError::Query(m)) if m == "up failed"),
                "{r:?}"
            );
        }
        // The first fetch, then each of the two waiting callers on its own.
        assert_eq!(backend.calls.load(Ordering::SeqCst), 3);
        assert_eq!(source.fetches_in_flight(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_fetch_leaves_no_entry_and_the_waiting_caller_fetches_itself() {
        let backend = counting(false);
        let source = Coalescing::new(backend.clone());
        let w = window(1_700_000_000);
        let leader = source.fetch_scope("m", Scope::Baseline, "up", &w);
        let follower = source.fetch_scope("m", Scope::Baseline, "up", &w);
        // The leader gives up (its caller's deadline) before the answer; the follower goes on.
        let (gave_up, answer) = tokio::join!(
            tokio::time::timeout(std::time::Duration::from_millis(50), leader),
            follower
        );
        assert!(gave_up.is_err());
        answer.expect("the follower fetched for itself");
        assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
        assert_eq!(source.fetches_in_flight(), 0);
    }
}
