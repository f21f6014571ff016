//! Durable, multi-interval analyses and recurring checks: Kayenta's standalone canary
//! analysis without Redis or Spinnaker.
//!
//! Everything lives in the store: an analysis and its next due interval, every judged interval,
//! every callback to deliver, every schedule and its next run. A worker ([`Scheduler`]) in each
//! `canaryd serve` claims due work through leases, judges, and records the outcome in one
//! transaction that commits only while it holds the lease; the interval's primary key makes a
//! double record impossible. Kill a process at any moment: what it had not committed is done
//! again by whoever claims it next (itself after a restart, or another instance once the lease
//! expires); what it had committed is never done again.
//!
//! The interval windows ([`crate::service::plan`]), the callback bodies
//! ([`crate::service::callbacks`]) and their delivery ([`crate::service::delivery`]) are the
//! service's; this module only runs them on time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::service::callbacks::{self, AnalysisEvent};
use crate::service::delivery as callback;
use crate::service::plan::{self, Plan};
use crate::service::{self, JudgmentInput, Points, ServiceError, TemplateRef};
use crate::store::{
    AnalysisRow, AnalysisState, AnalysisUpdate, DueKind, IntervalRow, ScheduleRow, Store,
    StoreError, Verdict,
};
use crate::telemetry::metrics;

mod timer;
use timer::DueTimer;

/// The shortest time between two claims of intervals that fall due one after another: due
/// times a few milliseconds apart are claimed together, one query for several, at the cost
/// of at most this much lag.
const CLAIM_COALESCE: Duration = Duration::from_millis(50);

/// The shortest time between two re-reads of the store that a wake-up asks for (a burst of
/// analyses created through the API reads once, not once each).
const REREAD_COALESCE: Duration = Duration::from_millis(50);

/// Why a step of the scheduler did not record its work. The work is released (or its lease
/// runs out) and is claimed again later: nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored analysis's timing does not make a plan (`field: why`).
    #[error("analysis plan: {0}")]
    Plan(String),
    /// A stored schedule's cron expression does not parse or has no next time.
    #[error("cron: {0}")]
    Cron(String),
}

/// The three kinds of work, each in its own loop so that a slow callback receiver never delays
/// a judgment.
#[derive(Debug, Clone, Copy)]
enum Work {
    Analyses,
    Deliveries,
    Schedules,
}

/// The worker of one instance.
pub struct Scheduler {
    settings: Settings,
    store: Arc<Store>,
    owner: String,
    wake: Arc<Notify>,
    client: reqwest::Client,
    started: tokio::sync::OnceCell<()>,
    /// When the analyses this loop knows of fall due (see [`timer`]).
    timer: std::sync::Mutex<DueTimer>,
}

/// This instance's id: the configured one, or host name, process id and a random suffix.
pub fn instance_id(settings: &Settings) -> String {
    if !settings.scheduler.instance_id.trim().is_empty() {
        return settings.scheduler.instance_id.trim().to_string();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "canaryd".into());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &suffix[suffix.len() - 6..]
    )
}

fn seconds(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s.max(0.0) * 1000.0).round() as i64)
}

/// The plan of a stored analysis.
pub fn plan_of(a: &AnalysisRow) -> Result<Plan, SchedulerError> {
    crate::service::analyses::plan_of(a)
        .map_err(|(field, message)| SchedulerError::Plan(format!("{field}: {message}")))
}

/// Errors worth another try later: the source or the store failed, not the request (a
/// template, argument or window that is wrong stays wrong).
fn retryable(e: &ServiceError) -> bool {
    use crate::service::live::LiveError;
    use crate::source::SourceError;
    match e {
        ServiceError::Store(_) => true,
        ServiceError::Live(LiveError::Source(s)) => !matches!(
            s,
            SourceError::InvalidWindow(_) | SourceError::Config { .. } | SourceError::Escape { .. }
        ),
        _ => false,
    }
}

/// Template arguments stored as a JSON object of strings.
pub fn args_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Scheduler {
    /// A worker for this instance; `wake` lets the API say that work was just added.
    pub fn new(settings: Settings, store: Arc<Store>, wake: Arc<Notify>) -> Scheduler {
        let owner = instance_id(&settings);
        let client = callback::client(&settings.callbacks);
        Scheduler {
            settings,
            store,
            owner,
            wake,
            client,
            started: tokio::sync::OnceCell::new(),
            timer: std::sync::Mutex::new(DueTimer::default()),
        }
    }

    /// This instance's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs the three loops (intervals, callbacks, schedules) until the returned handles are
    /// aborted.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        let this = Arc::new(self);
        tracing::info!(instance = %this.owner, "scheduler started");
        let a = this.clone();
        let d = this.clone();
        let s = this;
        vec![
            tokio::spawn(a.analyses_loop()),
            tokio::spawn(d.run_loop(Work::Deliveries)),
            tokio::spawn(s.run_loop(Work::Schedules)),
        ]
    }

    /// Once per process, before any loop claims work: frees the leases a killed previous run
    /// of this instance left behind, so a restart resumes at once.
    async fn release_old_leases(&self) {
        self.started
            .get_or_init(|| async {
                match self.store.release_leases_at_start(&self.owner).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(released = n, "leases of a previous run released"),
                    Err(e) => {
                        tracing::warn!(error = %e, "releasing leases of a previous run failed")
                    }
                }
            })
            .await;
    }

    /// The timer's entries, whatever a panicking holder left (they are only hints).
    fn timer(&self) -> std::sync::MutexGuard<'_, DueTimer> {
        self.timer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The interval loop. It asks the store only for what falls due soon, once per poll
    /// interval (and soon after a wake-up: this instance's API created or cancelled work),
    /// keeps those due times in memory with what its own claims and records change, sleeps
    /// until the earliest, and claims in batches. So the store sees one small range query per
    /// poll interval and one claim per batch, never a query per due time, whatever the number
    /// of analyses; what other instances change is seen at the next re-read.
    ///
    /// Judgments run as a pipeline: at most `max_concurrent_judgments` at once, each slot
    /// refilled as soon as one ends from what was claimed, and the next batch is claimed as
    /// soon as fewer than a slot's worth of claimed analyses wait for a slot. (It used to
    /// claim a batch and wait for its slowest judgment before claiming again, so every batch
    /// ended with idle slots while more was due.)
    async fn analyses_loop(self: Arc<Self>) {
        self.release_old_leases().await;
        let poll = Duration::from_millis(self.settings.scheduler.poll_interval_ms.max(10));
        let batch = self.settings.scheduler.batch_size.max(1);
        let max = self.settings.scheduler.max_concurrent_judgments.max(1);
        // Enough to keep a few batches going between re-reads; more is read again when the
        // timer runs dry of it.
        let limit = (batch * 4).max(256);
        // Past the next re-read, so that nothing due before it is unknown.
        let horizon = seconds(2.0 * poll.as_secs_f64());
        let mut reread_at = tokio::time::Instant::now();
        let mut last_read: Option<tokio::time::Instant> = None;
        let mut claim_after = tokio::time::Instant::now();
        // Claimed (leased to this instance) and waiting for a judgment slot, in claim order.
        let mut claimed: std::collections::VecDeque<AnalysisRow> =
            std::collections::VecDeque::new();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < max {
                let Some(a) = claimed.pop_front() else { break };
                running.spawn(self.clone().judge_claimed(a));
            }
            let notified = self.wake.notified();
            let now = self.now();
            let dry = self.timer().needs_reread() && tokio::time::Instant::now() >= claim_after;
            if tokio::time::Instant::now() >= reread_at || dry {
                match self.store.due_analyses(now + horizon, limit).await {
                    Ok(rows) => {
                        let cut = rows.len() as i64 >= limit;
                        let mut timer = self.timer();
                        timer.replace(rows, cut);
                        // Claimed here but not judged yet: the re-read does not see them as
                        // free (leased), and they must not be claimed twice by this loop.
                        for a in &claimed {
                            timer.remove(&a.id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the due analyses failed");
                        self.timer().replace(Vec::new(), false);
                    }
                }
                last_read = Some(tokio::time::Instant::now());
                reread_at = tokio::time::Instant::now() + poll;
            }
            let now = self.now();
            let earliest = self.timer().earliest();
            // Claim again while the slots still have work: fewer than one slot's worth left.
            let hungry = claimed.len() < max;
            if hungry
                && earliest.is_some_and(|t| t <= now)
                && tokio::time::Instant::now() >= claim_after
            {
                match self.claim_analyses(batch).await {
                    Ok(ids) => {
                        // A full batch: more may be due at once; else wait a little.
                        if (ids.len() as i64) < batch {
                            claim_after = tokio::time::Instant::now() + CLAIM_COALESCE.min(poll);
                        }
                        claimed.extend(ids);
                    }
                    Err(e) => {
                        tracing::warn!(work = ?Work::Analyses, error = %e, "scheduler step failed");
                        self.timer().forget_due(now);
                        claim_after = tokio::time::Instant::now() + poll;
                    }
                }
                continue;
            }
            let until_reread = reread_at.saturating_duration_since(tokio::time::Instant::now());
            let wait = match earliest {
                Some(t) if hungry => {
                    let due_in = Duration::from_millis((t - now).num_milliseconds().max(0) as u64);
                    let claim_in =
                        claim_after.saturating_duration_since(tokio::time::Instant::now());
                    until_reread.min(due_in.max(claim_in))
                }
                _ => until_reread,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = notified => {
                    let soonest = last_read.map_or_else(tokio::time::Instant::now, |t| t + REREAD_COALESCE);
                    reread_at = reread_at.min(soonest);
                }
            }
        }
    }

    async fn run_loop(self: Arc<Self>, what: Work) {
        self.release_old_leases().await;
        let poll = Duration::from_millis(self.settings.scheduler.poll_interval_ms.max(10));
        loop {
            let notified = self.wake.notified();
            let result = match what {
                Work::Analyses => self.analyses_tick().await,
                Work::Deliveries => self.deliveries_tick().await,
                Work::Schedules => self.schedules_tick().await,
            };
            match result {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(work = ?what, error = %e, "scheduler step failed"),
            }
            let kind = match what {
                Work::Analyses => DueKind::Interval,
                Work::Deliveries => DueKind::Delivery,
                Work::Schedules => DueKind::ScheduleRun,
            };
            let wait = match self.store.next_due(kind).await {
                Ok(Some(t)) => {
                    let until = (t - self.now()).num_milliseconds().max(0) as u64;
                    poll.min(Duration::from_millis(until))
                }
                _ => poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = notified => {}
            }
        }
    }

    /// Now, on the store's clock.
    fn now(&self) -> DateTime<Utc> {
        self.store.clock().now()
    }

    /// One pass over every kind of work, as the loops make it, each kind until nothing more
    /// is due now: the work due at the clock's time is done when this returns (tests move a
    /// manual clock and call this instead of waiting for the loops).
    ///
    /// # Errors
    /// The first step that failed.
    pub async fn run_due(self: &Arc<Self>) -> Result<usize, SchedulerError> {
        self.release_old_leases().await;
        let mut done = 0;
        loop {
            let n = self.analyses_tick().await?
                + self.deliveries_tick().await?
                + self.schedules_tick().await?;
            if n == 0 {
                return Ok(done);
            }
            done += n;
        }
    }

    fn lease_until(&self) -> DateTime<Utc> {
        self.now() + seconds(self.settings.scheduler.lease_seconds.max(1.0))
    }

    /// Claims up to `limit` due analyses for this instance and takes them out of the timer.
    async fn claim_analyses(&self, limit: i64) -> Result<Vec<AnalysisRow>, SchedulerError> {
        let at = self.now();
        let rows = self
            .store
            .claim_due_analysis_rows(&self.owner, self.lease_until(), limit)
            .await?;
        let mut timer = self.timer();
        for a in &rows {
            timer.remove(&a.id);
        }
        if (rows.len() as i64) < limit {
            // Every free row due at `at` is claimed now: what the timer still has as due by
            // then is another instance's, and the next re-read says when it is free.
            timer.forget_due(at);
        }
        Ok(rows)
    }

    /// Judges the next interval of claimed analysis `a`; on failure releases it so that it
    /// is claimed again.
    async fn judge_claimed(self: Arc<Self>, a: AnalysisRow) {
        let id = a.id.clone();
        if let Err(e) = self.process_analysis(a).await {
            tracing::warn!(analysis_id = %id, error = %e, "interval not recorded");
            let _ = self.store.release_analysis(&self.owner, &id).await;
        }
    }

    /// One claim and its judgments, waiting for all of them ([`Self::run_due`]).
    async fn analyses_tick(self: &Arc<Self>) -> Result<usize, SchedulerError> {
        let batch = self.settings.scheduler.batch_size.max(1);
        let rows = self.claim_analyses(batch).await?;
        let n = rows.len();
        let max = self.settings.scheduler.max_concurrent_judgments.max(1);
        let mut running = tokio::task::JoinSet::new();
        for a in rows {
            while running.len() >= max {
                running.join_next().await;
            }
            running.spawn(self.clone().judge_claimed(a));
        }
        while running.join_next().await.is_some() {}
        Ok(n)
    }

    /// Judges the next interval of analysis `a`, which this instance has just claimed (the
    /// row as the claim returned it: no second read).
    #[tracing::instrument(skip_all, fields(analysis_id = %a.id))]
    async fn process_analysis(&self, a: AnalysisRow) -> Result<(), SchedulerError> {
        let id = a.id.as_str();
        if !a.state.is_open() || a.next_index >= a.interval_count {
            return self
                .store
                .release_analysis(&self.owner, id)
                .await
                .map_err(SchedulerError::from);
        }
        let plan = plan_of(&a)?;
        let k = a.next_index;
        let (start, end) = plan.window(k);
        let input = JudgmentInput {
            template: TemplateRef::Named {
                name: a.template.clone(),
                version: Some(a.template_version),
            },
            args: args_of(&a.args),
            points: Points::Live {
                baseline: a.baseline.clone(),
                canary: a.canary.clone(),
                start,
                end,
                step_seconds: a.step_seconds.map(|s| s.max(1) as u64),
            },
            request_id: format!("analysis-{id}-{k}"),
            gate: Some(("analysis".into(), Some(format!("{id}:{k}")))),
            sequential: service::analyses::look_of(&a, k),
        };
        let started = std::time::Instant::now();
        let (record, interval) = match service::prepare_judgment(&self.settings, &self.store, input)
            .await
        {
            Ok(prepared) => {
                let mut record = prepared.record;
                record.analysis_id = Some(id.to_string());
                record.interval_index = Some(k);
                let interval = IntervalRow {
                    index: k,
                    start,
                    end,
                    verdict: Verdict::from(prepared.judgment.report.verdict),
                    score: record.score,
                    judgment_id: Some(record.id.clone()),
                    error: None,
                    judged_at: self.now(),
                    judged_by: self.owner.clone(),
                    report: None,
                    sequential: prepared.judgment.report.sequential.clone(),
                };
                (Some((record, prepared.judgment.report)), interval)
            }
            Err(e)
                if retryable(&e) && a.attempts + 1 < self.settings.scheduler.interval_attempts =>
            {
                let retry_at = self.now()
                    + seconds(
                        self.settings.scheduler.retry_delay_seconds * (a.attempts + 1) as f64,
                    );
                tracing::warn!(interval = k, error = %e, %retry_at, "interval could not be judged; will try again");
                self.store
                    .retry_interval(&self.owner, id, retry_at, &e.to_string())
                    .await?;
                self.timer().set(id, retry_at);
                return Ok(());
            }
            Err(e) => {
                // No verdict could be made (the source down after every retry, the template
                // gone): that is not a failed canary, so it is `error`, which stop_on_fail
                // does not stop on.
                tracing::warn!(interval = k, error = %e, "interval could not be judged: recorded as error");
                let interval = IntervalRow {
                    index: k,
                    start,
                    end,
                    verdict: Verdict::Error,
                    score: 0.0,
                    judgment_id: None,
                    error: Some(e.to_string()),
                    judged_at: self.now(),
                    judged_by: self.owner.clone(),
                    report: None,
                    sequential: None,
                };
                (None, interval)
            }
        };
        let (state, verdict, reason) = service::analyses::after_interval(&a, &interval);
        let update = AnalysisUpdate {
            state,
            verdict: Some(verdict),
            reason: reason.clone(),
            next_due_at: if state == AnalysisState::Completed {
                a.next_due_at
            } else {
                plan.due(k + 1)
            },
        };
        let mut deliveries = Vec::new();
        deliveries.extend(callbacks::analysis_event(
            &self.settings,
            &a,
            AnalysisEvent::Interval,
            Some(&interval),
            state,
            Some(verdict),
            reason.as_deref(),
            self.now(),
        ));
        if state == AnalysisState::Completed {
            deliveries.extend(callbacks::analysis_event(
                &self.settings,
                &a,
                AnalysisEvent::Completed,
                Some(&interval),
                state,
                Some(verdict),
                reason.as_deref(),
                self.now(),
            ));
        }
        let recorded = self
            .store
            .complete_interval(
                &self.owner,
                id,
                k,
                record.as_ref().map(|r| &r.0),
                &interval,
                &deliveries,
                &update,
            )
            .await?;
        if !recorded {
            tracing::info!(
                interval = k,
                "interval already recorded or lease lost: nothing written"
            );
            return Ok(());
        }
        if state.is_open() {
            self.timer().set(id, update.next_due_at);
        }
        let lag = (self.now() - plan.due(k)).num_milliseconds() as f64 / 1000.0;
        let m = metrics::global();
        m.observe("canaryd_interval_lag_seconds", &[], lag.max(0.0));
        m.observe(
            "canaryd_interval_judge_seconds",
            &[],
            started.elapsed().as_secs_f64(),
        );
        m.inc(
            "canaryd_intervals_total",
            &[
                ("template", &a.template),
                ("verdict", interval.verdict.as_str()),
            ],
            1.0,
        );
        if let Some((_, report)) = &record {
            service::count(report);
        }
        tracing::info!(
            interval = k,
            verdict = %interval.verdict,
            state = state.as_str(),
            lag_seconds = lag,
            "interval judged"
        );
        if !deliveries.is_empty() {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    async fn deliveries_tick(self: &Arc<Self>) -> Result<usize, SchedulerError> {
        let due = self
            .store
            .claim_due_deliveries(
                &self.owner,
                self.now() + seconds(self.settings.callbacks.timeout_seconds + 30.0),
                self.settings.scheduler.batch_size.max(1),
            )
            .await?;
        let n = due.len();
        let mut running = tokio::task::JoinSet::new();
        for d in due {
            while running.len() >= 16 {
                running.join_next().await;
            }
            let me = self.clone();
            running.spawn(async move {
                if let Err(e) = me.deliver(d).await {
                    tracing::warn!(error = %e, "delivery not recorded");
                }
            });
        }
        while running.join_next().await.is_some() {}
        Ok(n)
    }

    async fn deliver(&self, d: crate::store::DeliveryToSend) -> Result<(), SchedulerError> {
        let now = self.now();
        let record =
            |status: Option<i64>, error: Option<String>, delivered: bool, retry_at, give_up| {
                let store = self.store.clone();
                let owner = self.owner.clone();
                let id = d.id.clone();
                async move {
                    store
                        .record_delivery_attempt(
                            &owner,
                            &id,
                            status,
                            error.as_deref(),
                            delivered,
                            retry_at,
                            give_up,
                        )
                        .await
                        .map_err(SchedulerError::from)
                }
            };
        if now > d.expires_at {
            metrics::global().inc("canaryd_callbacks_total", &[("outcome", "expired")], 1.0);
            return record(
                None,
                Some("expired before delivery".into()),
                false,
                now,
                true,
            )
            .await;
        }
        // Checked again at delivery: the settings or the name's DNS answer may have changed.
        if let Err(why) = callback::check_destination(&d.url, &self.settings.callbacks).await {
            metrics::global().inc("canaryd_callbacks_total", &[("outcome", "refused")], 1.0);
            return record(None, Some(why), false, now, true).await;
        }
        let outcome = callback::send(
            &self.client,
            &d.url,
            &d.id,
            &d.event,
            &d.body,
            d.secret.as_deref(),
        )
        .await;
        match outcome {
            callback::Outcome::Refused(why) => {
                metrics::global().inc("canaryd_callbacks_total", &[("outcome", "refused")], 1.0);
                tracing::warn!(event_id = %d.id, error = %why, "callback refused");
                record(None, Some(why), false, now, true).await
            }
            callback::Outcome::Delivered(status) => {
                metrics::global().inc("canaryd_callbacks_total", &[("outcome", "delivered")], 1.0);
                tracing::info!(event_id = %d.id, event = %d.event, status, "callback delivered");
                record(Some(status as i64), None, true, now, false).await
            }
            callback::Outcome::Failed { status, error } => {
                let backoff = 2f64
                    .powi(d.attempts.clamp(0, 30) as i32)
                    .min(self.settings.callbacks.max_backoff_seconds.max(1.0));
                let retry_at = now + seconds(backoff);
                let give_up = retry_at > d.expires_at;
                metrics::global().inc(
                    "canaryd_callbacks_total",
                    &[("outcome", if give_up { "expired" } else { "retry" })],
                    1.0,
                );
                tracing::warn!(event_id = %d.id, error = %error, attempts = d.attempts + 1, give_up, "callback not delivered");
                record(status.map(i64::from), Some(error), false, retry_at, give_up).await
            }
        }
    }

    async fn schedules_tick(self: &Arc<Self>) -> Result<usize, SchedulerError> {
        let due = self
            .store
            .claim_due_schedules(
                &self.owner,
                self.lease_until(),
                self.now() - seconds(self.settings.scheduler.settle_seconds),
                self.settings.scheduler.batch_size.max(1),
            )
            .await?;
        let n = due.len();
        for s in due {
            if let Err(e) = self.run_schedule(&s).await {
                tracing::warn!(schedule = %s.name, error = %e, "scheduled run not recorded");
                let _ = self.store.release_schedule(&self.owner, &s.id).await;
            }
        }
        Ok(n)
    }

    /// One run of a recurring check: the window ending at its cron time.
    #[tracing::instrument(skip_all, fields(schedule = %s.name))]
    async fn run_schedule(&self, s: &ScheduleRow) -> Result<(), SchedulerError> {
        let run_at = s.next_run_at;
        let cron: croner::Cron = s
            .cron
            .parse()
            .map_err(|e: croner::errors::CronError| SchedulerError::Cron(e.to_string()))?;
        // Runs missed while no instance was up are not made up one by one: the next is the
        // first after now.
        let next = cron
            .find_next_occurrence(&self.now().max(run_at), false)
            .map_err(|e| SchedulerError::Cron(e.to_string()))?;
        let input = JudgmentInput {
            template: TemplateRef::Named {
                name: s.template.clone(),
                version: None,
            },
            args: args_of(&s.args),
            points: Points::Live {
                baseline: s.baseline.clone(),
                canary: s.canary.clone(),
                start: run_at - plan::minutes(s.window_minutes),
                end: run_at,
                step_seconds: s.step_seconds.map(|v| v.max(1) as u64),
            },
            request_id: format!("schedule-{}-{}", s.id, run_at.timestamp()),
            gate: Some(("schedule".into(), Some(format!("schedule:{}", s.id)))),
            sequential: None,
        };
        let (record, error, report) =
            match service::prepare_judgment(&self.settings, &self.store, input).await {
                Ok(p) => (Some(p.record), None, Some(p.judgment.report)),
                Err(e) => (None, Some(e.to_string()), None),
            };
        let delivery = callbacks::schedule_run_event(
            &self.settings,
            s,
            run_at,
            record.as_ref(),
            error.as_deref(),
            self.now(),
        );
        let recorded = self
            .store
            .complete_schedule_run(
                &self.owner,
                &s.id,
                run_at,
                next,
                record.as_ref(),
                error.as_deref(),
                delivery.as_ref(),
            )
            .await?;
        if recorded {
            if let Some(report) = &report {
                service::count(report);
            }
            tracing::info!(%run_at, %next, verdict = ?record.as_ref().map(|r| &r.verdict), error = ?error, "scheduled run");
            if delivery.is_some() {
                self.wake.notify_waiters();
            }
        }
        Ok(())
    }
}
