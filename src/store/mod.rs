//! Persistence with sqlx: SQLite (the embedded default, WAL, created on first start) or
//! PostgreSQL, chosen by the URL's scheme. Migrations are embedded and applied at start
//! (`migrate`). One file per table: `judgments`, `templates`, `analyses` (with their intervals
//! and the leases), `deliveries`, `schedules` (`points` packs a judgment's points); this module holds the connection, readiness and
//! what they share.
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
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::clock::Clock;
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
    /// Where "now" comes from: due times, leases, the times rows are stamped with.
    clock: Clock,
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

mod analyses;
mod deliveries;
mod judgments;
mod kayenta;
mod points;
mod schedules;
mod sequences;
mod states;
mod templates;

pub use analyses::{AnalysisRow, AnalysisUpdate, DueKind, IntervalRow, NewAnalysis};
pub use deliveries::{DeliveryRow, DeliveryToSend, NewDelivery};
pub use judgments::{JudgmentFilter, JudgmentSummary, NewJudgment, StoredJudgment};
pub use kayenta::{StoredKayentaConfig, StoredKayentaExecution};
pub use schedules::ScheduleRow;
pub use sequences::SequenceLook;
pub use states::{AnalysisState, DeliveryState, Verdict};
pub use templates::{PutOutcome, StoredTemplate};

/// Now on the system clock, to the millisecond (both databases keep at least that, so a time
/// reads back equal). The store, the scheduler and the service take theirs from the injected
/// [`Clock`] instead ([`Store::clock`]).
pub fn now_ms() -> DateTime<Utc> {
    Clock::system().now()
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
            clock: Clock::system(),
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

    /// The store on `clock` instead of the system's: every "now" of the store, and of the
    /// scheduler and the service working on it, comes from it.
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// The clock this store, and everything working on it, reads "now" from.
    pub fn clock(&self) -> &Clock {
        &self.clock
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
                .bind(At(self.clock.now()))
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
}

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
