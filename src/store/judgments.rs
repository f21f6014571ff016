//! The `judgments` table: every judgment stored whole ([`NewJudgment`]): the template text as
//! used, arguments, scopes, window, every point judged and the report, so that a verdict can be
//! explained and replayed later; the history's pages and filters, gate reuse and pruning (by
//! age, and by size: [`Store::prune_judgments_to_bytes`]).
//!
//! The points themselves are not JSON text in the row: `data`'s arrays are packed into the
//! `points` column ([`super::points`]) and put back when the row is read, bit for bit. A row
//! written before migration 0008 that was not converted (`points` null) reads as it was.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;

use super::states::OPEN_STATES;
use super::{at_opt, points, At, Pool, Store, StoreError};

/// A judgment to store.
#[derive(Debug, Clone)]
pub struct NewJudgment {
    /// Its id (UUIDv7).
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The id of the request that made it (also in the logs).
    pub request_id: String,
    /// Template name.
    pub template: String,
    /// Stored template version used; `None` for an inline template.
    pub template_version: Option<i64>,
    /// The template text as used.
    pub template_source: String,
    /// `data` (recorded points given) or `live` (fetched from a source).
    pub mode: String,
    /// Baseline scope (live).
    pub baseline: Option<String>,
    /// Canary scope (live).
    pub canary: Option<String>,
    /// Window start (live).
    pub window_start: Option<DateTime<Utc>>,
    /// Window end (live).
    pub window_end: Option<DateTime<Utc>>,
    /// Step (live).
    pub step_seconds: Option<i64>,
    /// Template arguments as resolved.
    pub args: Value,
    /// Every point judged: `{"metrics": {NAME: {"baseline": [...], "canary": [...], ...}}}`.
    pub data: Value,
    /// pass | marginal | fail.
    pub verdict: String,
    /// The score.
    pub score: f64,
    /// The report as returned.
    pub report: Value,
    /// The gate that asked, if any.
    pub gate: Option<String>,
    /// Identity of the gate call, for reuse of a recent judgment.
    pub gate_key: Option<String>,
    /// The analysis whose interval this judgment is.
    pub analysis_id: Option<String>,
    /// Which interval of that analysis.
    pub interval_index: Option<i64>,
}

/// A stored judgment, read back whole.
pub type StoredJudgment = NewJudgment;

/// One line of the judgment history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JudgmentSummary {
    /// Id.
    pub id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Template name.
    pub template: String,
    /// Verdict.
    pub verdict: String,
    /// Score.
    pub score: f64,
    /// `data` or `live`.
    pub mode: String,
    /// Baseline scope (live).
    pub baseline: Option<String>,
    /// Canary scope (live).
    pub canary: Option<String>,
    /// The gate that asked, if any.
    pub gate: Option<String>,
}

/// Filters of the judgment history; all optional.
#[derive(Debug, Clone, Default)]
pub struct JudgmentFilter {
    /// Only this template.
    pub template: Option<String>,
    /// Only this verdict.
    pub verdict: Option<String>,
    /// Only judgments made at or after.
    pub since: Option<DateTime<Utc>>,
    /// Only judgments made before.
    pub until: Option<DateTime<Utc>>,
    /// Only judgments older than this id (the `next` cursor of the previous page).
    pub before: Option<String>,
    /// Page size.
    pub limit: i64,
}

const JUDGMENT_COLUMNS: &str = "id, created_at, request_id, template, template_version, \
     template_source, mode, baseline, canary, window_start, window_end, step_seconds, args, \
     data, points, verdict, score, report, gate, gate_key, analysis_id, interval_index";

/// A points blob that does not decode, as the store's error for a corrupt column.
pub(super) fn corrupt_points(why: String) -> StoreError {
    StoreError::Corrupt {
        what: "judgment points",
        source: serde::de::Error::custom(why),
    }
}

/// `data` as stored: the JSON left once the points are packed, the points blob, and the bytes
/// the row holds (what retention by size counts).
pub(super) struct StoredData {
    pub(super) rest: Value,
    pub(super) points: Vec<u8>,
    pub(super) stored_bytes: i64,
}

impl StoredData {
    pub(super) fn of(j: &NewJudgment) -> StoredData {
        StoredData::from_parts(&j.data, &j.report, &j.args, &j.template_source)
    }

    pub(super) fn from_parts(
        data: &Value,
        report: &Value,
        args: &Value,
        template_source: &str,
    ) -> StoredData {
        let (rest, points) = points::split(data);
        let json_len = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len());
        let stored_bytes = points.len()
            + json_len(&rest)
            + json_len(report)
            + json_len(args)
            + template_source.len();
        StoredData {
            rest,
            points,
            stored_bytes: i64::try_from(stored_bytes).unwrap_or(i64::MAX),
        }
    }
}

/// `data` of a row: its JSON with the points blob merged back, when it has one.
pub(super) fn data_of(rest: Value, blob: Option<Vec<u8>>) -> Result<Value, StoreError> {
    match blob {
        Some(blob) => points::merge(rest, &blob).map_err(corrupt_points),
        None => Ok(rest),
    }
}

macro_rules! judgment_from_row {
    ($row:expr) => {{
        let row = $row;
        NewJudgment {
            id: row.try_get("id")?,
            created_at: row.try_get::<At, _>("created_at")?.0,
            request_id: row.try_get("request_id")?,
            template: row.try_get("template")?,
            template_version: row.try_get("template_version")?,
            template_source: row.try_get("template_source")?,
            mode: row.try_get("mode")?,
            baseline: row.try_get("baseline")?,
            canary: row.try_get("canary")?,
            window_start: row.try_get::<Option<At>, _>("window_start")?.map(|t| t.0),
            window_end: row.try_get::<Option<At>, _>("window_end")?.map(|t| t.0),
            step_seconds: row.try_get("step_seconds")?,
            args: row.try_get::<Json<Value>, _>("args")?.0,
            data: data_of(
                row.try_get::<Json<Value>, _>("data")?.0,
                row.try_get::<Option<Vec<u8>>, _>("points")?,
            )?,
            verdict: row.try_get("verdict")?,
            score: row.try_get("score")?,
            report: row.try_get::<Json<Value>, _>("report")?.0,
            gate: row.try_get("gate")?,
            gate_key: row.try_get("gate_key")?,
            analysis_id: row.try_get("analysis_id")?,
            interval_index: row.try_get("interval_index")?,
        }
    }};
}

/// Inserts judgment `$j` with executor `$e` (a connection or a transaction).
macro_rules! insert_judgment_on {
    ($e:expr, $j:expr) => {{
        let j = $j;
        let stored = $crate::store::judgments::StoredData::of(j);
        sqlx::query(
            "INSERT INTO judgments (id, created_at, request_id, template, template_version, \
             template_source, mode, baseline, canary, window_start, window_end, step_seconds, \
             args, data, verdict, score, report, gate, gate_key, analysis_id, interval_index, \
             points, stored_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $23)",
        )
        .bind(&j.id)
        .bind(At(j.created_at))
        .bind(&j.request_id)
        .bind(&j.template)
        .bind(j.template_version)
        .bind(&j.template_source)
        .bind(&j.mode)
        .bind(&j.baseline)
        .bind(&j.canary)
        .bind(at_opt(j.window_start))
        .bind(at_opt(j.window_end))
        .bind(j.step_seconds)
        .bind(Json(&j.args))
        .bind(Json(&stored.rest))
        .bind(&j.verdict)
        .bind(j.score)
        .bind(Json(&j.report))
        .bind(&j.gate)
        .bind(&j.gate_key)
        .bind(&j.analysis_id)
        .bind(j.interval_index)
        .bind(&stored.points)
        .bind(stored.stored_bytes)
        .execute($e)
        .await?;
    }};
}

pub(super) use insert_judgment_on;

/// Migration 0008's conversion, in its transaction `$tx`: every row written before it (`points`
/// null) gets its points packed and its `stored_bytes`. A row whose `data` does not parse is
/// left as it was (it reads back as the same error as before) rather than stopping the start.
macro_rules! compact_old_rows_on {
    ($tx:ident) => {{
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, data, report, args, template_source FROM judgments \
                 WHERE points IS NULL AND id > $1 ORDER BY id LIMIT 100",
            )
            .bind(&after)
            .fetch_all(&mut *$tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = sqlx::Row::try_get(last, "id")?;
            for row in &rows {
                let id: String = sqlx::Row::try_get(row, "id")?;
                let parts = (
                    sqlx::Row::try_get::<sqlx::types::Json<serde_json::Value>, _>(row, "data"),
                    sqlx::Row::try_get::<sqlx::types::Json<serde_json::Value>, _>(row, "report"),
                    sqlx::Row::try_get::<sqlx::types::Json<serde_json::Value>, _>(row, "args"),
                    sqlx::Row::try_get::<String, _>(row, "template_source"),
                );
                let (Ok(data), Ok(report), Ok(args), Ok(source)) = parts else {
                    tracing::warn!(id = %id, "judgment row unreadable: its points stay as they were");
                    continue;
                };
                let stored = $crate::store::judgments::StoredData::from_parts(
                    &data.0, &report.0, &args.0, &source,
                );
                sqlx::query(
                    "UPDATE judgments SET data = $1, points = $2, stored_bytes = $3 WHERE id = $4",
                )
                .bind(sqlx::types::Json(&stored.rest))
                .bind(&stored.points)
                .bind(stored.stored_bytes)
                .bind(&id)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}

pub(super) use compact_old_rows_on;

impl Store {
    /// Stores a judgment.
    #[tracing::instrument(skip_all, fields(id = %j.id), err)]
    pub async fn insert_judgment(&self, j: &NewJudgment) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut conn = p.acquire().await?;
            insert_judgment_on!(&mut *conn, j);
        });
        Ok(())
    }

    /// A judgment by id.
    pub async fn get_judgment(&self, id: &str) -> Result<Option<StoredJudgment>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {JUDGMENT_COLUMNS} FROM judgments WHERE id = $1"
            ));
            match sqlx::query(sql).bind(id).fetch_optional(p).await? {
                Some(row) => Ok(Some(judgment_from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// The newest judgment made for gate call `gate_key` at or after `since`.
    pub async fn find_gate_judgment(
        &self,
        gate_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<StoredJudgment>, StoreError> {
        with_pool!(self, |p| {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {JUDGMENT_COLUMNS} FROM judgments WHERE gate_key = $1 AND created_at >= $2 \
                 ORDER BY id DESC LIMIT 1"
            ));
            match sqlx::query(sql)
                .bind(gate_key)
                .bind(At(since))
                .fetch_optional(p)
                .await?
            {
                Some(row) => Ok(Some(judgment_from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// One page of the history, newest first, and whether more follow.
    pub async fn list_judgments(
        &self,
        f: &JudgmentFilter,
    ) -> Result<(Vec<JudgmentSummary>, bool), StoreError> {
        let limit = f.limit.clamp(1, 1000);
        let mut out = with_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT id, created_at, template, verdict, score, mode, baseline, canary, gate \
                 FROM judgments WHERE ($1 IS NULL OR template = $1) AND ($2 IS NULL OR verdict = $2) \
                 AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
                 AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
            )
            .bind(&f.template)
            .bind(&f.verdict)
            .bind(at_opt(f.since))
            .bind(at_opt(f.until))
            .bind(&f.before)
            .bind(limit + 1)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(JudgmentSummary {
                    id: row.try_get("id")?,
                    created_at: row.try_get::<At, _>("created_at")?.0,
                    template: row.try_get("template")?,
                    verdict: row.try_get("verdict")?,
                    score: row.try_get("score")?,
                    mode: row.try_get("mode")?,
                    baseline: row.try_get("baseline")?,
                    canary: row.try_get("canary")?,
                    gate: row.try_get("gate")?,
                });
            }
            Ok::<_, StoreError>(out)
        })?;
        let more = out.len() as i64 > limit;
        out.truncate(limit as usize);
        Ok((out, more))
    }

    /// Deletes judgments made before `cutoff`; returns how many.
    #[tracing::instrument(skip_all, err)]
    pub async fn prune_judgments(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let done = sqlx::query("DELETE FROM judgments WHERE created_at < $1")
                .bind(At(cutoff))
                .execute(p)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// The bytes the judgments hold (`stored_bytes`: points, report, template text, arguments,
    /// data), what `store.retention_max_bytes` bounds.
    pub async fn judgments_stored_bytes(&self) -> Result<u64, StoreError> {
        with_pool!(self, |p| {
            let total: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) FROM judgments",
            )
            .fetch_one(p)
            .await?;
            Ok(u64::try_from(total).unwrap_or(0))
        })
    }

    /// Deletes the oldest judgments until the bytes the rest hold (`stored_bytes`: points,
    /// report, template text, arguments) are at most `max_bytes`; returns how many. A judgment
    /// an open (pending or running) analysis still needs, one of its intervals, is never
    /// deleted, even when that leaves the store above the bound.
    #[tracing::instrument(skip_all, err)]
    pub async fn prune_judgments_to_bytes(&self, max_bytes: u64) -> Result<u64, StoreError> {
        self.check_file()?;
        let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let mut deleted = 0u64;
        with_pool!(self, |p| {
            loop {
                let total: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) FROM judgments",
                )
                .fetch_one(p)
                .await?;
                if total <= max {
                    break;
                }
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT j.id, j.stored_bytes FROM judgments j WHERE NOT EXISTS \
                     (SELECT 1 FROM analyses a WHERE a.state IN {OPEN_STATES} \
                      AND (a.id = j.analysis_id OR EXISTS (SELECT 1 FROM analysis_intervals i \
                      WHERE i.analysis_id = a.id AND i.judgment_id = j.id))) \
                     ORDER BY j.created_at, j.id LIMIT 500"
                )))
                .fetch_all(p)
                .await?;
                let mut excess = total - max;
                let mut ids = Vec::new();
                for row in &rows {
                    if excess <= 0 {
                        break;
                    }
                    ids.push(row.try_get::<String, _>("id")?);
                    excess -= row.try_get::<i64, _>("stored_bytes")?.max(0);
                }
                if ids.is_empty() {
                    tracing::warn!(
                        total_bytes = total,
                        max_bytes,
                        "store above retention_max_bytes, but what is left open analyses need"
                    );
                    break;
                }
                let mut tx = p.begin().await?;
                for id in &ids {
                    let done = sqlx::query("DELETE FROM judgments WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    deleted += done.rows_affected();
                }
                tx.commit().await?;
            }
        });
        Ok(deleted)
    }
}
