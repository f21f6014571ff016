//! Embedded migrations (`migrations/sqlite`, `migrations/postgres`), applied in order at start,
//! each in its own transaction, each recorded in `canaryd_migrations`. On PostgreSQL an advisory
//! lock makes several instances starting at once apply them once. A migration may have a step
//! in Rust besides its SQL, in the same transaction: 0008 packs the points of existing
//! judgments ([`super::judgments`]), which SQL cannot do.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use super::judgments::compact_old_rows_on;
use super::StoreError;

/// The migration whose Rust step packs existing judgments' points.
const COMPACT_POINTS: i64 = 8;

/// (version, name, SQL) of each SQLite migration, in order.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "analyses",
        include_str!("../../migrations/sqlite/0002_analyses.sql"),
    ),
    (
        3,
        "views",
        include_str!("../../migrations/sqlite/0003_views.sql"),
    ),
    (
        4,
        "instants_ms",
        include_str!("../../migrations/sqlite/0004_instants_ms.sql"),
    ),
    (
        5,
        "readiness",
        include_str!("../../migrations/sqlite/0005_readiness.sql"),
    ),
    (
        6,
        "kayenta_api",
        include_str!("../../migrations/sqlite/0006_kayenta_api.sql"),
    ),
    (
        7,
        "sequential",
        include_str!("../../migrations/sqlite/0007_sequential.sql"),
    ),
    (
        8,
        "compact_points",
        include_str!("../../migrations/sqlite/0008_compact_points.sql"),
    ),
];

/// The same for PostgreSQL.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "analyses",
        include_str!("../../migrations/postgres/0002_analyses.sql"),
    ),
    (
        3,
        "views",
        include_str!("../../migrations/postgres/0003_views.sql"),
    ),
    // No 4: SQLite's change to integer times; TIMESTAMPTZ already compares as time.
    (
        5,
        "readiness",
        include_str!("../../migrations/postgres/0005_readiness.sql"),
    ),
    (
        6,
        "kayenta_api",
        include_str!("../../migrations/postgres/0006_kayenta_api.sql"),
    ),
    (
        7,
        "sequential",
        include_str!("../../migrations/postgres/0007_sequential.sql"),
    ),
    (
        8,
        "compact_points",
        include_str!("../../migrations/postgres/0008_compact_points.sql"),
    ),
];

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS canaryd_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// Any number; it only has to be the same for every canaryd instance.
const ADVISORY_LOCK: i64 = 0x6361_6e61_7279;

pub(super) async fn sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(CREATE_LEDGER).execute(pool).await?;
    for (version, name, sql) in SQLITE {
        let mut tx = pool.begin().await?;
        let done = sqlx::query("SELECT version FROM canaryd_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            continue;
        }
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        if *version == COMPACT_POINTS {
            compact_old_rows_on!(tx);
        }
        sqlx::query(
            "INSERT INTO canaryd_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied SQLite migration");
    }
    Ok(())
}

pub(super) async fn postgres(pool: &PgPool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(ADVISORY_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = async {
        sqlx::query(CREATE_LEDGER).execute(&mut *conn).await?;
        for (version, name, sql) in POSTGRES {
            let applied = sqlx::query("SELECT version FROM canaryd_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await?;
            if applied.is_some() {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            if *version == COMPACT_POINTS {
                compact_old_rows_on!(tx);
            }
            sqlx::query(
                "INSERT INTO canaryd_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version, name, "applied PostgreSQL migration");
        }
        Ok::<_, StoreError>(())
    }
    .await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(ADVISORY_LOCK)
        .execute(&mut *conn)
        .await;
    result?;
    unlock?;
    Ok(())
}
