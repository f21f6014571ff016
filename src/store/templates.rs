//! The `templates` table: analysis templates stored with versions; a deleted name keeps its
//! old versions, so that an old judgment stays explainable.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{At, Pool, Store, StoreError};

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
pub(super) use template_from_row;

impl Store {
    /// Stores `source` as the next version of template `name`, unless it equals the latest
    /// live version. A deleted name starts again after its highest version.
    pub async fn put_template(
        &self,
        name: &str,
        source: &str,
        origin: &str,
    ) -> Result<PutOutcome, StoreError> {
        self.put_template_version(name, source, origin, None).await
    }

    /// [`Self::put_template`], keeping with the version the Kayenta canary config `kayenta`
    /// it was translated from (`None`: a plain template). A version is also new when its
    /// Kayenta config differs; a plain put compares the text alone.
    pub(super) async fn put_template_version(
        &self,
        name: &str,
        source: &str,
        origin: &str,
        kayenta: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let latest = sqlx::query(
                "SELECT version, source, kayenta_config, deleted_at IS NOT NULL AS deleted \
                 FROM templates WHERE name = $1 ORDER BY version DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let mut next = 1;
            if let Some(row) = latest {
                let version: i64 = row.try_get("version")?;
                let text: String = row.try_get("source")?;
                let original: Option<String> = row.try_get("kayenta_config")?;
                let deleted: bool = row.try_get("deleted")?;
                let same_config = kayenta.is_none() || original.as_deref() == kayenta;
                if text == source && same_config && !deleted {
                    return Ok(PutOutcome::Unchanged(version));
                }
                next = version + 1;
            }
            sqlx::query(
                "INSERT INTO templates (name, version, created_at, source, origin, kayenta_config) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(name)
            .bind(next)
            .bind(At(self.clock.now()))
            .bind(source)
            .bind(origin)
            .bind(kayenta)
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
            .bind(At(self.clock.now()))
            .execute(p)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
