//! The `deliveries` table: the callbacks of analyses and schedules, each stored with its exact
//! signed body, claimed under a lease and tried until delivered or expired.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::states::DeliveryState;
use super::{At, Pool, Store, StoreError};

/// A callback to deliver.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The event id.
    pub id: String,
    /// Analysis.
    pub analysis_id: Option<String>,
    /// Schedule.
    pub schedule_id: Option<String>,
    /// interval | completed | cancelled | schedule_run.
    pub event: String,
    /// Interval index, for interval events.
    pub interval_index: Option<i64>,
    /// Where.
    pub url: String,
    /// The JSON body, exactly as it will be signed and sent.
    pub body: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Given up after.
    pub expires_at: DateTime<Utc>,
}

/// A delivery's record.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The event id (`X-Canaryd-Event-Id`).
    pub id: String,
    /// interval | completed | cancelled | schedule_run.
    pub event: String,
    /// Interval index.
    pub interval_index: Option<i64>,
    /// Where.
    pub url: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Tries so far.
    pub attempts: i64,
    /// Next try.
    pub next_attempt_at: DateTime<Utc>,
    /// Delivered (a 2xx answer).
    pub delivered_at: Option<DateTime<Utc>>,
    /// Given up.
    pub failed_at: Option<DateTime<Utc>>,
    /// The last answer's status.
    pub last_status: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl DeliveryRow {
    /// Where the delivery is: delivered, given up, or still to be tried.
    pub fn state(&self) -> DeliveryState {
        if self.delivered_at.is_some() {
            DeliveryState::Delivered
        } else if self.failed_at.is_some() {
            DeliveryState::Failed
        } else {
            DeliveryState::Pending
        }
    }
}

/// A claimed delivery, with what is needed to send it.
#[derive(Debug, Clone)]
pub struct DeliveryToSend {
    /// Event id.
    pub id: String,
    /// Event.
    pub event: String,
    /// Where.
    pub url: String,
    /// Body.
    pub body: String,
    /// HMAC key.
    pub secret: Option<String>,
    /// Tries so far.
    pub attempts: i64,
    /// Give up after.
    pub expires_at: DateTime<Utc>,
}

macro_rules! insert_delivery_on {
    ($e:expr, $d:expr) => {{
        let d = $d;
        sqlx::query(
            "INSERT INTO deliveries (id, analysis_id, schedule_id, event, interval_index, url, body, \
             created_at, expires_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $8)",
        )
        .bind(&d.id)
        .bind(&d.analysis_id)
        .bind(&d.schedule_id)
        .bind(&d.event)
        .bind(d.interval_index)
        .bind(&d.url)
        .bind(&d.body)
        .bind(At(d.created_at))
        .bind(At(d.expires_at))
        .execute($e)
        .await?;
    }};
}

pub(super) use insert_delivery_on;

impl Store {
    /// The deliveries of an analysis or a schedule, oldest first.
    pub async fn list_deliveries(
        &self,
        analysis_id: Option<&str>,
        schedule_id: Option<&str>,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        with_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT id, event, interval_index, url, created_at, attempts, next_attempt_at, \
                 delivered_at, failed_at, last_status, last_error FROM deliveries \
                 WHERE ($1 IS NULL OR analysis_id = $1) AND ($2 IS NULL OR schedule_id = $2) \
                 ORDER BY created_at, id",
            )
            .bind(analysis_id)
            .bind(schedule_id)
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(DeliveryRow {
                    id: row.try_get("id")?,
                    event: row.try_get("event")?,
                    interval_index: row.try_get("interval_index")?,
                    url: row.try_get("url")?,
                    created_at: row.try_get::<At, _>("created_at")?.0,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get::<At, _>("next_attempt_at")?.0,
                    delivered_at: row.try_get::<Option<At>, _>("delivered_at")?.map(|t| t.0),
                    failed_at: row.try_get::<Option<At>, _>("failed_at")?.map(|t| t.0),
                    last_status: row.try_get("last_status")?,
                    last_error: row.try_get("last_error")?,
                });
            }
            Ok(out)
        })
    }

    /// Claims up to `limit` deliveries due for a try.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DeliveryToSend>, StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        let ids: Vec<String> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(
                "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN \
                 (SELECT id FROM deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
                 AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                 ORDER BY next_attempt_at LIMIT $4) RETURNING id",
            )
            .bind(owner)
            .bind(At(lease_until))
            .bind(At(now))
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?,
            Pool::Postgres(p) => sqlx::query(
                "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN \
                 (SELECT id FROM deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
                 AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                 ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id",
            )
            .bind(owner)
            .bind(At(lease_until))
            .bind(At(now))
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = with_pool!(self, |p| {
                let row = sqlx::query(
                    "SELECT d.id, d.event, d.url, d.body, d.attempts, d.expires_at, \
                     COALESCE(a.callback_secret, s.callback_secret) AS secret FROM deliveries d \
                     LEFT JOIN analyses a ON a.id = d.analysis_id \
                     LEFT JOIN schedules s ON s.id = d.schedule_id WHERE d.id = $1",
                )
                .bind(&id)
                .fetch_optional(p)
                .await?;
                match row {
                    Some(row) => Some(DeliveryToSend {
                        id: row.try_get("id")?,
                        event: row.try_get("event")?,
                        url: row.try_get("url")?,
                        body: row.try_get("body")?,
                        secret: row.try_get("secret")?,
                        attempts: row.try_get("attempts")?,
                        expires_at: row.try_get::<At, _>("expires_at")?.0,
                    }),
                    None => None,
                }
            });
            if let Some(d) = found {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Records one try of a delivery: delivered, retry at `retry_at`, or given up.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_delivery_attempt(
        &self,
        owner: &str,
        id: &str,
        status: Option<i64>,
        error: Option<&str>,
        delivered: bool,
        retry_at: DateTime<Utc>,
        give_up: bool,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        let now = self.clock.now();
        with_pool!(self, |p| {
            sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2, \
                 delivered_at = CASE WHEN $3 THEN $4 ELSE delivered_at END, \
                 failed_at = CASE WHEN $5 THEN $4 ELSE failed_at END, next_attempt_at = $6, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $7 AND lease_owner = $8",
            )
            .bind(status)
            .bind(error)
            .bind(delivered)
            .bind(At(now))
            .bind(give_up)
            .bind(At(retry_at))
            .bind(id)
            .bind(owner)
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
