//! The `schedules` table: recurring checks by cron pattern, each run claimed under a lease and
//! recorded (with its judgment and callback) in one transaction.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;

use super::deliveries::{insert_delivery_on, NewDelivery};
use super::judgments::{insert_judgment_on, NewJudgment};
use super::states::{decode, Verdict};
use super::{at_opt, At, Pool, Store, StoreError};

/// A recurring check.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Cron pattern (5 fields, UTC).
    pub cron: String,
    /// Template name (latest version at each run).
    pub template: String,
    /// Arguments.
    pub args: Value,
    /// Baseline scope.
    pub baseline: String,
    /// Canary scope.
    pub canary: String,
    /// Window ending at the run time.
    pub window_minutes: f64,
    /// Step.
    pub step_seconds: Option<i64>,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Callback key (never shown).
    pub callback_secret: Option<String>,
    /// Next run.
    pub next_run_at: DateTime<Utc>,
    /// Last run.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Last run's judgment.
    pub last_judgment_id: Option<String>,
    /// Last run's verdict.
    pub last_verdict: Option<Verdict>,
    /// Last run's error.
    pub last_error: Option<String>,
    /// Runs so far.
    pub runs: i64,
}

const SCHEDULE_COLUMNS: &str = "id, name, created_at, cron, template, args, baseline, canary, \
    window_minutes, step_seconds, callback_url, callback_secret, next_run_at, last_run_at, \
    last_judgment_id, last_verdict, last_error, runs";

macro_rules! schedule_from_row {
    ($row:expr) => {{
        let row = $row;
        ScheduleRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_at: row.try_get::<At, _>("created_at")?.0,
            cron: row.try_get("cron")?,
            template: row.try_get("template")?,
            args: row.try_get::<Json<Value>, _>("args")?.0,
            baseline: row.try_get("baseline")?,
            canary: row.try_get("canary")?,
            window_minutes: row.try_get("window_minutes")?,
            step_seconds: row.try_get("step_seconds")?,
            callback_url: row.try_get("callback_url")?,
            callback_secret: row.try_get("callback_secret")?,
            next_run_at: row.try_get::<At, _>("next_run_at")?.0,
            last_run_at: row.try_get::<Option<At>, _>("last_run_at")?.map(|t| t.0),
            last_judgment_id: row.try_get("last_judgment_id")?,
            last_verdict: match row.try_get::<Option<String>, _>("last_verdict")? {
                Some(text) => Some(decode(&text, Verdict::parse, "schedule verdict")?),
                None => None,
            },
            last_error: row.try_get("last_error")?,
            runs: row.try_get("runs")?,
        }
    }};
}

impl Store {
    /// Stores a schedule; false when the name is taken.
    pub async fn insert_schedule(&self, s: &ScheduleRow) -> Result<bool, StoreError> {
        self.check_file()?;
        let result = with_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO schedules (id, name, created_at, cron, template, args, baseline, \
                 canary, window_minutes, step_seconds, callback_url, callback_secret, next_run_at, \
                 runs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)",
            )
            .bind(&s.id)
            .bind(&s.name)
            .bind(At(s.created_at))
            .bind(&s.cron)
            .bind(&s.template)
            .bind(Json(&s.args))
            .bind(&s.baseline)
            .bind(&s.canary)
            .bind(s.window_minutes)
            .bind(s.step_seconds)
            .bind(&s.callback_url)
            .bind(&s.callback_secret)
            .bind(At(s.next_run_at))
            .execute(p)
            .await
            .map(|_| ())
        });
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A schedule by id or name.
    pub async fn get_schedule(&self, id_or_name: &str) -> Result<Option<ScheduleRow>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1 OR name = $1"
            ));
            match sqlx::query(sql).bind(id_or_name).fetch_optional(p).await? {
                Some(row) => Ok(Some(schedule_from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// Every schedule, by name.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"
            ));
            let rows = sqlx::query(sql).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(schedule_from_row!(row));
            }
            Ok(out)
        })
    }

    /// Deletes a schedule; false when there was none.
    pub async fn delete_schedule(&self, id_or_name: &str) -> Result<bool, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let done = sqlx::query("DELETE FROM schedules WHERE id = $1 OR name = $1")
                .bind(id_or_name)
                .execute(p)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Claims schedules whose run time is at or before `due_before`.
    pub async fn claim_due_schedules(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        due_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        let ids: Vec<String> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(
                "UPDATE schedules SET lease_owner = $1, lease_until = $2 WHERE id IN \
                 (SELECT id FROM schedules WHERE next_run_at <= $5 \
                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_run_at LIMIT $4) \
                 RETURNING id",
            )
            .bind(owner)
            .bind(At(lease_until))
            .bind(At(now))
            .bind(limit)
            .bind(At(due_before))
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?,
            Pool::Postgres(p) => sqlx::query(
                "UPDATE schedules SET lease_owner = $1, lease_until = $2 WHERE id IN \
                 (SELECT id FROM schedules WHERE next_run_at <= $5 \
                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_run_at LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) RETURNING id",
            )
            .bind(owner)
            .bind(At(lease_until))
            .bind(At(now))
            .bind(limit)
            .bind(At(due_before))
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?,
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(s) = self.get_schedule(&id).await? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Records a schedule's run at `run_at` (its judgment, if made, and callback) and sets the
    /// next run, in one transaction; false when the lease was lost or the run already recorded.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_schedule_run(
        &self,
        owner: &str,
        id: &str,
        run_at: DateTime<Utc>,
        next_run_at: DateTime<Utc>,
        judgment: Option<&NewJudgment>,
        error: Option<&str>,
        delivery: Option<&NewDelivery>,
    ) -> Result<bool, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let moved = sqlx::query(
                "UPDATE schedules SET next_run_at = $1, last_run_at = $2, last_judgment_id = $3, \
                 last_verdict = $4, last_error = $5, runs = runs + 1, lease_owner = NULL, \
                 lease_until = NULL WHERE id = $6 AND lease_owner = $7 AND next_run_at = $2",
            )
            .bind(At(next_run_at))
            .bind(At(run_at))
            .bind(judgment.map(|j| j.id.clone()))
            .bind(judgment.map(|j| j.verdict.clone()))
            .bind(error)
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some(j) = judgment {
                insert_judgment_on!(&mut *tx, j);
            }
            if let Some(d) = delivery {
                insert_delivery_on!(&mut *tx, d);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Releases a schedule's lease without a run (its template vanished, ...).
    pub async fn release_schedule(&self, owner: &str, id: &str) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            sqlx::query(
                "UPDATE schedules SET lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
