//! The `judgments` table: every judgment stored whole ([`NewJudgment`]): the template text as
//! used, arguments, scopes, window, every point judged and the report, so that a verdict can be
//! explained and replayed later; the history's pages and filters, gate reuse and pruning.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;

use super::{at_opt, At, Pool, Store, StoreError};

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
     data, verdict, score, report, gate, gate_key, analysis_id, interval_index";

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
            data: row.try_get::<Json<Value>, _>("data")?.0,
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
        sqlx::query(
            "INSERT INTO judgments (id, created_at, request_id, template, template_version, \
             template_source, mode, baseline, canary, window_start, window_end, step_seconds, \
             args, data, verdict, score, report, gate, gate_key, analysis_id, interval_index) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21)",
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
        .bind(Json(&j.data))
        .bind(&j.verdict)
        .bind(j.score)
        .bind(Json(&j.report))
        .bind(&j.gate)
        .bind(&j.gate_key)
        .bind(&j.analysis_id)
        .bind(j.interval_index)
        .execute($e)
        .await?;
    }};
}

pub(super) use insert_judgment_on;

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
}
