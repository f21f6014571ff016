//! The `analyses` and `analysis_intervals` tables: scheduled analyses and their judged
//! intervals, and the leases through which workers share the due work.
//!
//! Work is shared through leases: a worker claims due rows by writing its instance id and a
//! lease expiry (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never wait on each other;
//! SQLite has one writer at a time anyway). Finishing an interval is one transaction that
//! stores the judgment, the interval, its callbacks and the analysis's next state, and only
//! commits while the worker still holds the lease; `(analysis_id, idx)` is a primary key, so an
//! interval can never be recorded twice, whatever crashes or races happen.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;

use super::deliveries::{insert_delivery_on, NewDelivery};
use super::judgments::{insert_judgment_on, NewJudgment};
use super::states::{decode, AnalysisState, Verdict, OPEN_STATES};
use super::{at_opt, At, Pool, Store, StoreError};
use crate::judge::sequential::{SequentialReport, SequentialSpec};

/// The kinds of work that fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    /// An analysis's next interval.
    Interval,
    /// A callback's next try.
    Delivery,
    /// A schedule's next run.
    ScheduleRun,
}

/// A new analysis.
#[derive(Debug, Clone)]
pub struct NewAnalysis {
    /// Id.
    pub id: String,
    /// The request that created it.
    pub request_id: String,
    /// Template name.
    pub template: String,
    /// Template version, pinned at creation.
    pub template_version: i64,
    /// Template arguments.
    pub args: Value,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// When the canary started.
    pub start_at: DateTime<Utc>,
    /// Timing.
    pub lifetime_minutes: f64,
    /// Timing.
    pub interval_minutes: f64,
    /// Timing.
    pub begin_after_minutes: f64,
    /// Timing.
    pub lookback_minutes: f64,
    /// Step, when not the template's.
    pub step_seconds: Option<i64>,
    /// Settle delay in effect.
    pub settle_seconds: f64,
    /// Where to call back.
    pub callback_url: Option<String>,
    /// HMAC key of the callbacks.
    pub callback_secret: Option<String>,
    /// End at the first failing interval.
    pub stop_on_fail: bool,
    /// Number of intervals.
    pub interval_count: i64,
    /// When interval 0 is due.
    pub first_due_at: DateTime<Utc>,
    /// The whole-rollout error rate, for a sequential analysis.
    pub sequential: Option<SequentialSpec>,
}

/// A stored analysis.
#[derive(Debug, Clone)]
pub struct AnalysisRow {
    /// Id.
    pub id: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The request that created it.
    pub request_id: String,
    /// Template name.
    pub template: String,
    /// Template version.
    pub template_version: i64,
    /// Arguments.
    pub args: Value,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// Start.
    pub start_at: DateTime<Utc>,
    /// Timing.
    pub lifetime_minutes: f64,
    /// Timing.
    pub interval_minutes: f64,
    /// Timing.
    pub begin_after_minutes: f64,
    /// Timing.
    pub lookback_minutes: f64,
    /// Step.
    pub step_seconds: Option<i64>,
    /// Settle delay.
    pub settle_seconds: f64,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Callback key (never shown by the API).
    pub callback_secret: Option<String>,
    /// Stop at the first fail.
    pub stop_on_fail: bool,
    /// pending | running | completed | cancelled.
    pub state: AnalysisState,
    /// The last interval's verdict (final once completed).
    pub verdict: Option<Verdict>,
    /// Why it ended.
    pub reason: Option<String>,
    /// Intervals planned.
    pub interval_count: i64,
    /// Next interval to judge.
    pub next_index: i64,
    /// When it is due.
    pub next_due_at: DateTime<Utc>,
    /// Failed tries of the next interval.
    pub attempts: i64,
    /// The last try's error.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The whole-rollout error rate, for a sequential analysis.
    pub sequential: Option<SequentialSpec>,
}

/// One judged interval.
#[derive(Debug, Clone)]
pub struct IntervalRow {
    /// From 0.
    pub index: i64,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// pass | marginal | fail | error.
    pub verdict: Verdict,
    /// Score.
    pub score: f64,
    /// The stored judgment (`null` when the interval could not be judged).
    pub judgment_id: Option<String>,
    /// Why it could not be judged.
    pub error: Option<String>,
    /// When.
    pub judged_at: DateTime<Utc>,
    /// Which instance.
    pub judged_by: String,
    /// The interval's report (CONTRACT §4), when shown with the analysis.
    pub report: Option<Value>,
    /// The look of a sequential analysis: evidence, boundary, decision.
    pub sequential: Option<SequentialReport>,
}

/// The analysis's state after an interval.
#[derive(Debug, Clone)]
pub struct AnalysisUpdate {
    /// New state.
    pub state: AnalysisState,
    /// Verdict so far / final.
    pub verdict: Option<Verdict>,
    /// Why it ended.
    pub reason: Option<String>,
    /// When the next interval is due.
    pub next_due_at: DateTime<Utc>,
}

const ANALYSIS_COLUMNS: &str = "id, created_at, request_id, template, template_version, args, \
    baseline, canary, start_at, lifetime_minutes, interval_minutes, begin_after_minutes, \
    lookback_minutes, step_seconds, settle_seconds, callback_url, callback_secret, stop_on_fail, \
    state, verdict, reason, interval_count, next_index, next_due_at, attempts, last_error, updated_at, sequential";

macro_rules! analysis_from_row {
    ($row:expr) => {{
        let row = $row;
        AnalysisRow {
            id: row.try_get("id")?,
            created_at: row.try_get::<At, _>("created_at")?.0,
            request_id: row.try_get("request_id")?,
            template: row.try_get("template")?,
            template_version: row.try_get("template_version")?,
            args: row.try_get::<Json<Value>, _>("args")?.0,
            baseline: row.try_get("baseline")?,
            canary: row.try_get("canary")?,
            start_at: row.try_get::<At, _>("start_at")?.0,
            lifetime_minutes: row.try_get("lifetime_minutes")?,
            interval_minutes: row.try_get("interval_minutes")?,
            begin_after_minutes: row.try_get("begin_after_minutes")?,
            lookback_minutes: row.try_get("lookback_minutes")?,
            step_seconds: row.try_get("step_seconds")?,
            settle_seconds: row.try_get("settle_seconds")?,
            callback_url: row.try_get("callback_url")?,
            callback_secret: row.try_get("callback_secret")?,
            stop_on_fail: row.try_get("stop_on_fail")?,
            state: decode(
                &row.try_get::<String, _>("state")?,
                AnalysisState::parse,
                &format!(
                    "analysis {}: state",
                    row.try_get::<String, _>("id").unwrap_or_default()
                ),
            )?,
            verdict: match row.try_get::<Option<String>, _>("verdict")? {
                Some(text) => Some(decode(&text, Verdict::parse, "analysis verdict")?),
                None => None,
            },
            reason: row.try_get("reason")?,
            interval_count: row.try_get("interval_count")?,
            next_index: row.try_get("next_index")?,
            next_due_at: row.try_get::<At, _>("next_due_at")?.0,
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
            updated_at: row.try_get::<At, _>("updated_at")?.0,
            sequential: row
                .try_get::<Option<Json<SequentialSpec>>, _>("sequential")?
                .map(|j| j.0),
        }
    }};
}

impl Store {
    /// Stores a new analysis, state `pending`, interval 0 due at `first_due_at`.
    pub async fn insert_analysis(&self, a: &NewAnalysis) -> Result<(), StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        with_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO analyses (id, created_at, request_id, template, template_version, args, \
                 baseline, canary, start_at, lifetime_minutes, interval_minutes, begin_after_minutes, \
                 lookback_minutes, step_seconds, settle_seconds, callback_url, callback_secret, \
                 stop_on_fail, state, interval_count, next_index, next_due_at, attempts, updated_at, \
                 sequential) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, 'pending', $19, 0, $20, 0, $2, $21)",
            )
            .bind(&a.id)
            .bind(At(now))
            .bind(&a.request_id)
            .bind(&a.template)
            .bind(a.template_version)
            .bind(Json(&a.args))
            .bind(&a.baseline)
            .bind(&a.canary)
            .bind(At(a.start_at))
            .bind(a.lifetime_minutes)
            .bind(a.interval_minutes)
            .bind(a.begin_after_minutes)
            .bind(a.lookback_minutes)
            .bind(a.step_seconds)
            .bind(a.settle_seconds)
            .bind(&a.callback_url)
            .bind(&a.callback_secret)
            .bind(a.stop_on_fail)
            .bind(a.interval_count)
            .bind(At(a.first_due_at))
            .bind(a.sequential.as_ref().map(Json))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// An analysis by id.
    pub async fn get_analysis(&self, id: &str) -> Result<Option<AnalysisRow>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {ANALYSIS_COLUMNS} FROM analyses WHERE id = $1"
            ));
            match sqlx::query(sql).bind(id).fetch_optional(p).await? {
                Some(row) => Ok(Some(analysis_from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// Analyses, newest first, optionally in one state.
    pub async fn list_analyses(
        &self,
        state: Option<AnalysisState>,
        limit: i64,
    ) -> Result<Vec<AnalysisRow>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {ANALYSIS_COLUMNS} FROM analyses WHERE ($1 IS NULL OR state = $1) \
                 ORDER BY id DESC LIMIT $2"
            ));
            let rows = sqlx::query(sql)
                .bind(state.map(AnalysisState::as_str))
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(analysis_from_row!(row));
            }
            Ok(out)
        })
    }

    /// The judged intervals of an analysis, in order.
    pub async fn list_intervals(&self, analysis_id: &str) -> Result<Vec<IntervalRow>, StoreError> {
        with_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT idx, start_at, end_at, verdict, score, judgment_id, error, judged_at, \
                 judged_by, sequential FROM analysis_intervals WHERE analysis_id = $1 ORDER BY idx",
            )
            .bind(analysis_id)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(IntervalRow {
                    index: row.try_get("idx")?,
                    start: row.try_get::<At, _>("start_at")?.0,
                    end: row.try_get::<At, _>("end_at")?.0,
                    verdict: decode(
                        &row.try_get::<String, _>("verdict")?,
                        Verdict::parse,
                        "interval verdict",
                    )?,
                    score: row.try_get("score")?,
                    judgment_id: row.try_get("judgment_id")?,
                    error: row.try_get("error")?,
                    judged_at: row.try_get::<At, _>("judged_at")?.0,
                    judged_by: row.try_get("judged_by")?,
                    report: None,
                    sequential: row
                        .try_get::<Option<Json<SequentialReport>>, _>("sequential")?
                        .map(|j| j.0),
                });
            }
            Ok(out)
        })
    }

    /// The reports of an analysis's interval judgments, by interval index.
    pub async fn interval_reports(
        &self,
        analysis_id: &str,
    ) -> Result<std::collections::BTreeMap<i64, Value>, StoreError> {
        with_pool!(self, |p| {
            let rows =
                sqlx::query("SELECT interval_index, report FROM judgments WHERE analysis_id = $1")
                    .bind(analysis_id)
                    .fetch_all(p)
                    .await?;
            let mut out = std::collections::BTreeMap::new();
            for row in rows {
                let index: Option<i64> = row.try_get("interval_index")?;
                if let Some(index) = index {
                    out.insert(index, row.try_get::<Json<Value>, _>("report")?.0);
                }
            }
            Ok(out)
        })
    }

    /// Claims up to `limit` analyses whose next interval is due and whose lease is free or
    /// expired; returns their ids.
    pub async fn claim_due_analyses(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .claim_due_analysis_rows(owner, lease_until, limit)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect())
    }

    /// [`Self::claim_due_analyses`], returning the claimed rows as the claim left them (leased
    /// to `owner`), so that the scheduler does not read each one again.
    pub async fn claim_due_analysis_rows(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<AnalysisRow>, StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        // PostgreSQL skips rows another instance's claim has locked instead of waiting for it.
        let skip_locked = match &self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        with_pool!(self, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE analyses SET lease_owner = $1, lease_until = $2 WHERE id IN \
                 (SELECT id FROM analyses WHERE state IN {OPEN_STATES} \
                 AND next_due_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                 ORDER BY next_due_at LIMIT $4{skip_locked}) RETURNING {ANALYSIS_COLUMNS}"
            )))
            .bind(owner)
            .bind(At(lease_until))
            .bind(At(now))
            .bind(limit)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(analysis_from_row!(row));
            }
            Ok(out)
        })
    }

    /// The free analyses (open, no live lease) whose next interval is due at or before
    /// `horizon`, earliest first, at most `limit`: what the scheduler's timer needs to know.
    /// One range over the `(state, next_due_at)` index, so it reads only what falls due soon,
    /// however many analyses there are.
    pub async fn due_analyses(
        &self,
        horizon: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        with_pool!(self, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, next_due_at FROM analyses WHERE state IN {OPEN_STATES} \
                 AND next_due_at <= $1 AND (lease_until IS NULL OR lease_until < $2) \
                 ORDER BY next_due_at LIMIT $3"
            )))
            .bind(At(horizon))
            .bind(At(now))
            .bind(limit)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push((
                    row.try_get::<String, _>("id")?,
                    row.try_get::<At, _>("next_due_at")?.0,
                ));
            }
            Ok(out)
        })
    }

    /// The earliest time a piece of work of `kind` falls due, if any.
    pub async fn next_due(&self, kind: DueKind) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = match kind {
            DueKind::Interval => {
                format!("SELECT MIN(next_due_at) AS t FROM analyses WHERE state IN {OPEN_STATES}")
            }
            DueKind::Delivery => "SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE \
                delivered_at IS NULL AND failed_at IS NULL"
                .to_string(),
            DueKind::ScheduleRun => "SELECT MIN(next_run_at) AS t FROM schedules".to_string(),
        };
        with_pool!(self, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_one(p)
                .await?;
            Ok(row.try_get::<Option<At>, _>("t")?.map(|t| t.0))
        })
    }

    /// Records interval `k` of analysis `id` (with its judgment, if any, and its callbacks) and
    /// moves the analysis on, in one transaction; false (nothing written) when `owner` no
    /// longer holds the lease, the analysis moved past `k`, or it was cancelled.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_interval(
        &self,
        owner: &str,
        id: &str,
        k: i64,
        judgment: Option<&NewJudgment>,
        interval: &IntervalRow,
        deliveries: &[NewDelivery],
        update: &AnalysisUpdate,
    ) -> Result<bool, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE analyses SET state = $1, verdict = $2, reason = $3, next_index = $4, \
                 next_due_at = $5, attempts = 0, last_error = NULL, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $6 WHERE id = $7 AND lease_owner = $8 \
                 AND next_index = $9 AND state IN {OPEN_STATES}"
            )))
            .bind(update.state.as_str())
            .bind(update.verdict.map(Verdict::as_str))
            .bind(&update.reason)
            .bind(k + 1)
            .bind(At(update.next_due_at))
            .bind(At(self.clock.now()))
            .bind(id)
            .bind(owner)
            .bind(k)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(j) = judgment {
                insert_judgment_on!(&mut *tx, j);
            }
            sqlx::query(
                "INSERT INTO analysis_intervals (analysis_id, idx, start_at, end_at, verdict, \
                 score, judgment_id, error, judged_at, judged_by, sequential) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id)
            .bind(k)
            .bind(At(interval.start))
            .bind(At(interval.end))
            .bind(interval.verdict.as_str())
            .bind(interval.score)
            .bind(&interval.judgment_id)
            .bind(&interval.error)
            .bind(At(interval.judged_at))
            .bind(&interval.judged_by)
            .bind(interval.sequential.as_ref().map(Json))
            .execute(&mut *tx)
            .await?;
            for d in deliveries {
                insert_delivery_on!(&mut *tx, d);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Gives interval `next_index` of `id` another try at `retry_at`, recording the error;
    /// releases the lease.
    pub async fn retry_interval(
        &self,
        owner: &str,
        id: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            sqlx::query(
                "UPDATE analyses SET attempts = attempts + 1, last_error = $1, next_due_at = $2, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $3 \
                 WHERE id = $4 AND lease_owner = $5",
            )
            .bind(error)
            .bind(At(retry_at))
            .bind(At(self.clock.now()))
            .bind(id)
            .bind(owner)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Releases a lease without other change.
    pub async fn release_analysis(&self, owner: &str, id: &str) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            sqlx::query(
                "UPDATE analyses SET lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Cancels a pending or running analysis (with its `cancelled` callback); false when it
    /// had already ended.
    pub async fn cancel_analysis(
        &self,
        id: &str,
        delivery: Option<&NewDelivery>,
    ) -> Result<bool, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE analyses SET state = '{cancelled}', reason = 'cancelled by request', \
                 lease_owner = NULL, lease_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND state IN {OPEN_STATES}",
                cancelled = AnalysisState::Cancelled.as_str(),
            )))
            .bind(At(self.clock.now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(d) = delivery {
                insert_delivery_on!(&mut *tx, d);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Frees the leases a previous run of this instance left behind (it was killed): on
    /// SQLite, one process owns the file, so every lease; on PostgreSQL those held under
    /// `owner` (a stable `scheduler.instance_id`). Others expire on their own.
    pub async fn release_leases_at_start(&self, owner: &str) -> Result<u64, StoreError> {
        self.check_file()?;
        let mut n = 0;
        match &self.pool {
            Pool::Sqlite(p) => {
                for sql in [
                    "UPDATE analyses SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
                    "UPDATE schedules SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
                ] {
                    n += sqlx::query(sql).execute(p).await?.rows_affected();
                }
            }
            Pool::Postgres(p) => {
                for sql in [
                    "UPDATE analyses SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
                    "UPDATE schedules SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
                ] {
                    n += sqlx::query(sql).bind(owner).execute(p).await?.rows_affected();
                }
            }
        }
        Ok(n)
    }
}
