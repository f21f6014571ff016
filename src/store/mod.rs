//! Persistence with sqlx: SQLite (the embedded default, WAL, created on first start) or
//! PostgreSQL, chosen by the URL's scheme. Migrations are embedded and applied at start
//! (`migrate`).
//!
//! Every judgment is stored whole ([`NewJudgment`]): the template text as used, arguments,
//! scopes, window, every point judged and the report, so that a verdict can be explained and
//! replayed later. Templates are stored with versions.
//!
//! One SQL text serves both databases: sqlx binds `$N` placeholders on SQLite too, and the two
//! schemas have the same tables and columns (native time and JSON types on PostgreSQL, text on
//! SQLite). `with_pool!` runs a body against whichever pool is open.

mod instant;
mod migrate;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::types::Json;
use sqlx::Row;

use instant::{at_opt, At};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database canaryd supports.
    #[error("store url '{0}' is neither sqlite://FILE nor postgres://...")]
    BadUrl(String),
    /// The database refused or failed.
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite file was deleted or replaced under the running server: what is written now
    /// would go to a file nobody can open again, so nothing is (restart canaryd).
    #[error("store: {0}; refusing to write into it, restart canaryd")]
    Lost(String),
    /// The store works but cannot take more (its disk nearly full): not ready.
    #[error("store: {0}")]
    Unavailable(String),
    /// A stored JSON column could not be read back.
    #[error("store: corrupt {what}: {source}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store: a connection pool to SQLite or PostgreSQL.
pub struct Store {
    pool: Pool,
    url_shown: String,
    /// The SQLite file's identity at open (none for PostgreSQL or an in-memory database).
    file: Option<Arc<FileIdentity>>,
}

/// Which file a SQLite store opened: its device and inode. SQLite keeps writing into an open
/// file that was deleted or replaced, answering as if all were well, and everything written is
/// gone at the next start; comparing the path's identity with the one opened catches that.
struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Set, once and for good, when the file is found gone or replaced.
    lost: Mutex<Option<String>>,
}

impl FileIdentity {
    fn open(path: &Path) -> std::io::Result<FileIdentity> {
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
            lost: Mutex::new(None),
        })
    }

    /// Err with the reason when the path no longer names the file opened (logged once).
    fn check(&self) -> Result<(), StoreError> {
        let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = lost.as_ref() {
            return Err(StoreError::Lost(reason.clone()));
        }
        let shown = self.path.display();
        let reason = match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => return Ok(()),
            Ok(_) => format!("the SQLite file {shown} was replaced by another file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("the SQLite file {shown} was deleted")
            }
            // Unreadable metadata (permissions, I/O): not proof of loss; the write check of
            // readiness tells whether the store still works.
            Err(_) => return Ok(()),
        };
        tracing::error!(reason = %reason, "store lost: not ready, every write refused");
        *lost = Some(reason.clone());
        Err(StoreError::Lost(reason))
    }
}

/// How often the SQLite file's identity is checked between requests.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Runs `$body` with `$p` bound to the open pool, whichever database it is.
macro_rules! with_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

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

/// One stored template version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredTemplate {
    /// Name.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// When this version was stored.
    pub created_at: DateTime<Utc>,
    /// The template text.
    pub source: String,
    /// A file path, or `api`.
    pub origin: String,
}

/// What [`Store::put_template`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// A new version was stored.
    Created(i64),
    /// The text equals the latest version's: nothing stored.
    Unchanged(i64),
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

macro_rules! template_from_row {
    ($row:expr) => {{
        let row = $row;
        StoredTemplate {
            name: row.try_get("name")?,
            version: row.try_get("version")?,
            created_at: row.try_get::<At, _>("created_at")?.0,
            source: row.try_get("source")?,
            origin: row.try_get("origin")?,
        }
    }};
}

/// Now, to the millisecond (both databases keep at least that, so a time reads back equal).
pub fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

impl Store {
    /// Opens the store at `url` and applies pending migrations. `sqlite://FILE` creates the
    /// file if missing; `sqlite::memory:` is a private in-memory database (tests).
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for another scheme; database errors as they come.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let url_shown = redact_url(url);
        let mut file = None;
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let in_memory = url.contains(":memory:");
            let pool = SqlitePoolOptions::new()
                // One connection for an in-memory database, else each would see its own.
                .max_connections(if in_memory { 1 } else { 8 })
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            if !in_memory {
                // The pool opened (and created) the file: this is the one to keep writing.
                let identity = FileIdentity::open(options.get_filename()).map_err(|e| {
                    StoreError::Lost(format!(
                        "the SQLite file {} cannot be examined: {e}",
                        options.get_filename().display()
                    ))
                })?;
                file = Some(Arc::new(identity));
            }
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::BadUrl(url_shown));
        };
        let store = Store {
            pool,
            url_shown,
            file,
        };
        store.migrate().await?;
        if let Some(file) = &store.file {
            // Notice a deleted or replaced file between requests too, so that the log says
            // so when it happens; stops when the store is dropped.
            let watched = Arc::downgrade(file);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(FILE_CHECK_INTERVAL);
                loop {
                    tick.tick().await;
                    match watched.upgrade() {
                        Some(file) if file.check().is_ok() => {}
                        _ => break,
                    }
                }
            });
        }
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The URL with any password removed, for logs.
    pub fn url_shown(&self) -> &str {
        &self.url_shown
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => migrate::sqlite(p).await,
            Pool::Postgres(p) => migrate::postgres(p).await,
        }
    }

    /// Err when the SQLite file was deleted or replaced under the server (checked before
    /// every write: nothing is written into a file nobody will open again).
    fn check_file(&self) -> Result<(), StoreError> {
        match &self.file {
            Some(file) => file.check(),
            None => Ok(()),
        }
    }

    /// Whether the store can commit a write (readiness): the `readiness` row updated in a
    /// transaction, and, on SQLite, the file still the one opened and at least
    /// `min_free_bytes` free on its disk. `SELECT 1` answers from a read-only, full or deleted
    /// database file too, and on a full disk SQLite still commits a one-row update in place
    /// while a judgment no longer fits.
    pub async fn ping(&self, min_free_bytes: u64) -> Result<(), StoreError> {
        self.check_file()?;
        if let Some(file) = &self.file {
            let dir = file.path.parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(fs) = rustix::fs::statvfs(dir) {
                let free = fs.f_bavail.saturating_mul(fs.f_frsize);
                if free < min_free_bytes {
                    return Err(StoreError::Unavailable(format!(
                        "the disk holding {} has {free} bytes free, less than store.min_free_bytes \
                         ({min_free_bytes}): new judgments may not fit",
                        file.path.display()
                    )));
                }
            }
        }
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE readiness SET checked_at = $1 WHERE id = 1")
                .bind(At(now_ms()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.check_file()
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        with_pool!(self, |p| p.close().await)
    }

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

    /// Stores `source` as the next version of template `name`, unless it equals the latest
    /// live version. A deleted name starts again after its highest version.
    pub async fn put_template(
        &self,
        name: &str,
        source: &str,
        origin: &str,
    ) -> Result<PutOutcome, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let latest = sqlx::query(
                "SELECT version, source, deleted_at IS NOT NULL AS deleted FROM templates \
                 WHERE name = $1 ORDER BY version DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let mut next = 1;
            if let Some(row) = latest {
                let version: i64 = row.try_get("version")?;
                let text: String = row.try_get("source")?;
                let deleted: bool = row.try_get("deleted")?;
                if text == source && !deleted {
                    return Ok(PutOutcome::Unchanged(version));
                }
                next = version + 1;
            }
            sqlx::query(
                "INSERT INTO templates (name, version, created_at, source, origin) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(name)
            .bind(next)
            .bind(At(now_ms()))
            .bind(source)
            .bind(origin)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(PutOutcome::Created(next))
        })
    }

    /// The latest version of a live template, or the given version (also of a deleted one,
    /// so that an old judgment stays explainable).
    pub async fn get_template(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        with_pool!(self, |p| {
            let row = match version {
                Some(v) => {
                    sqlx::query(
                        "SELECT name, version, created_at, source, origin FROM templates \
                         WHERE name = $1 AND version = $2",
                    )
                    .bind(name)
                    .bind(v)
                    .fetch_optional(p)
                    .await?
                }
                None => {
                    sqlx::query(
                        "SELECT name, version, created_at, source, origin FROM templates \
                         WHERE name = $1 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1",
                    )
                    .bind(name)
                    .fetch_optional(p)
                    .await?
                }
            };
            match row {
                Some(row) => Ok(Some(template_from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// The latest version of every live template, by name.
    pub async fn list_templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        with_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT t.name, t.version, t.created_at, t.source, t.origin FROM templates t \
                 WHERE t.deleted_at IS NULL AND t.version = \
                 (SELECT MAX(u.version) FROM templates u WHERE u.name = t.name) ORDER BY t.name",
            )
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(template_from_row!(row));
            }
            Ok(out)
        })
    }

    /// Marks every version of `name` deleted; false when there was no live template.
    pub async fn delete_template(&self, name: &str) -> Result<bool, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let done = sqlx::query(
                "UPDATE templates SET deleted_at = $2 WHERE name = $1 AND deleted_at IS NULL",
            )
            .bind(name)
            .bind(At(now_ms()))
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}

mod analyses;

pub use analyses::{
    AnalysisRow, AnalysisState, AnalysisUpdate, DeliveryRow, DeliveryToSend, DueKind, IntervalRow,
    NewAnalysis, NewDelivery, ScheduleRow,
};

/// `url` with the password of its user info replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/canaryd"),
            "postgres://app:***@db:5432/canaryd"
        );
        assert_eq!(redact_url("sqlite://canaryd.db"), "sqlite://canaryd.db");
    }
}
