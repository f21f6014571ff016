//! What Kayenta's REST API stores beside canaryd's own: the Kayenta JSON of a canary config
//! (the `kayenta_config` column of its template version) and the execution request of a
//! judgment made through `POST /canary/{canaryConfigId}` (the `kayenta_executions` table).

use sqlx::types::Json;
use sqlx::Row;

use super::judgments::{insert_judgment_on, NewJudgment};
use super::templates::template_from_row;
use super::{at_opt, At, Pool, PutOutcome, Store, StoreError, StoredTemplate};

/// A canary config: its template version, and the Kayenta JSON it was stored from.
#[derive(Debug, Clone)]
pub struct StoredKayentaConfig {
    /// The template (named by the config's id) holding its translation.
    pub template: StoredTemplate,
    /// The Kayenta canary config as given.
    pub config: String,
}

/// A judgment's Kayenta execution request.
#[derive(Debug, Clone)]
pub struct StoredKayentaExecution {
    /// The canary config judged.
    pub config_id: String,
    /// `{canaryExecutionRequest, canaryConfig}`: the request as given and the config judged
    /// (JSON).
    pub request: String,
}

macro_rules! config_from_row {
    ($row:expr) => {{
        let row = $row;
        StoredKayentaConfig {
            template: template_from_row!(&row),
            config: row.try_get("kayenta_config")?,
        }
    }};
}

impl Store {
    /// Stores the translation `source` of Kayenta config `config` as the next version of
    /// template `id`, unless both equal the latest live version's.
    pub async fn put_kayenta_config(
        &self,
        id: &str,
        source: &str,
        config: &str,
    ) -> Result<PutOutcome, StoreError> {
        self.put_template_version(id, source, "kayenta-api", Some(config))
            .await
    }

    /// The canary config `id`: the latest live version of template `id`, when that version
    /// was stored as a Kayenta config.
    pub async fn get_kayenta_config(
        &self,
        id: &str,
    ) -> Result<Option<StoredKayentaConfig>, StoreError> {
        with_pool!(self, |p| {
            let row = sqlx::query(
                "SELECT name, version, created_at, source, origin, kayenta_config FROM templates \
                 WHERE name = $1 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?;
            match row {
                Some(row) => {
                    let original: Option<String> = row.try_get("kayenta_config")?;
                    if original.is_none() {
                        return Ok(None);
                    }
                    Ok(Some(config_from_row!(row)))
                }
                None => Ok(None),
            }
        })
    }

    /// Every live canary config, by id.
    pub async fn list_kayenta_configs(&self) -> Result<Vec<StoredKayentaConfig>, StoreError> {
        with_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT t.name, t.version, t.created_at, t.source, t.origin, t.kayenta_config \
                 FROM templates t WHERE t.deleted_at IS NULL AND t.kayenta_config IS NOT NULL \
                 AND t.version = (SELECT MAX(u.version) FROM templates u WHERE u.name = t.name) \
                 ORDER BY t.name",
            )
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(config_from_row!(row));
            }
            Ok(out)
        })
    }

    /// Records the Kayenta execution request of judgment `judgment_id`.
    pub async fn insert_kayenta_execution(
        &self,
        judgment_id: &str,
        config_id: &str,
        request: &str,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO kayenta_executions (judgment_id, config_id, request) \
                 VALUES ($1, $2, $3)",
            )
            .bind(judgment_id)
            .bind(config_id)
            .bind(request)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Stores judgment `j` and its Kayenta execution request in one transaction: both or
    /// neither, so that `GET /canary/{id}` never finds one without the other.
    #[tracing::instrument(skip_all, fields(id = %j.id), err)]
    pub async fn insert_kayenta_judgment(
        &self,
        j: &NewJudgment,
        config_id: &str,
        request: &str,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            insert_judgment_on!(&mut *tx, j);
            sqlx::query(
                "INSERT INTO kayenta_executions (judgment_id, config_id, request) \
                 VALUES ($1, $2, $3)",
            )
            .bind(&j.id)
            .bind(config_id)
            .bind(request)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The Kayenta execution request of judgment `judgment_id`, when it was made through
    /// Kayenta's API.
    pub async fn get_kayenta_execution(
        &self,
        judgment_id: &str,
    ) -> Result<Option<StoredKayentaExecution>, StoreError> {
        with_pool!(self, |p| {
            let row = sqlx::query(
                "SELECT config_id, request FROM kayenta_executions WHERE judgment_id = $1",
            )
            .bind(judgment_id)
            .fetch_optional(p)
            .await?;
            match row {
                Some(row) => Ok(Some(StoredKayentaExecution {
                    config_id: row.try_get("config_id")?,
                    request: row.try_get("request")?,
                })),
                None => Ok(None),
            }
        })
    }

    /// Stores `source`, translated from the ad-hoc Kayenta config `config`, as version 1 of
    /// template `name`, already deleted: an analysis pins (name, version), which reads a
    /// deleted version, while no listing shows it and `/canaryConfig` does not know it.
    /// Origin `kayenta-adhoc`; the config is kept in `kayenta_config` for the record.
    pub async fn put_adhoc_template(
        &self,
        name: &str,
        source: &str,
        config: &str,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        let now = At(self.clock.now());
        with_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO templates (name, version, created_at, source, origin, \
                 kayenta_config, deleted_at) VALUES ($1, 1, $2, $3, 'kayenta-adhoc', $4, $5)",
            )
            .bind(name)
            .bind(now)
            .bind(source)
            .bind(config)
            .bind(now)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Removes what [`Self::put_adhoc_template`] stored, when the analysis it was for could
    /// not be made (only an ad-hoc template: origin `kayenta-adhoc`).
    pub async fn remove_adhoc_template(&self, name: &str) -> Result<(), StoreError> {
        self.check_file()?;
        with_pool!(self, |p| {
            sqlx::query("DELETE FROM templates WHERE name = $1 AND origin = 'kayenta-adhoc'")
                .bind(name)
                .execute(p)
                .await?;
            Ok(())
        })
    }
}
