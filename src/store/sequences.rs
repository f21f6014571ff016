//! The `gate_sequences` table: the looks of a sequential gate (Flagger's calls for one canary
//! revision, Argo's calls with one `sequence` key), counted in the store so that the count
//! survives a restart and is shared by every replica.
//!
//! A look's number is taken before it is judged, in one atomic upsert: two replicas answering
//! two calls at once take two numbers, and a look whose judgment then fails (a source down)
//! leaves its number spent, which only makes later looks stricter (conservative). Once a look
//! decides (`fail` or `pass`), the sequence is over: later calls get that decision again.

use sqlx::Row;

use super::{At, Pool, Store, StoreError};

/// Where a gate sequence stands before a new call is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceLook {
    /// Judge this look (from 1).
    Next(i64),
    /// The sequence was decided at `look`; `judgment_id` is the deciding judgment.
    Decided {
        /// `fail` or `pass`.
        decision: String,
        /// The look that decided.
        look: i64,
        /// Its judgment.
        judgment_id: Option<String>,
    },
}

impl Store {
    /// Takes the next look of sequence `key` (creating it at look 1), unless it is decided.
    pub async fn next_gate_look(&self, key: &str, gate: &str) -> Result<SequenceLook, StoreError> {
        self.check_file()?;
        let now = At(self.clock.now());
        with_pool!(self, |p| {
            let taken = sqlx::query(
                "INSERT INTO gate_sequences (key, gate, created_at, updated_at, looks) \
                 VALUES ($1, $2, $3, $3, 1) \
                 ON CONFLICT (key) DO UPDATE SET looks = gate_sequences.looks + 1, updated_at = $3 \
                 WHERE gate_sequences.decision IS NULL \
                 RETURNING looks",
            )
            .bind(key)
            .bind(gate)
            .bind(now)
            .fetch_optional(p)
            .await?;
            if let Some(row) = taken {
                return Ok(SequenceLook::Next(row.try_get("looks")?));
            }
            let row = sqlx::query(
                "SELECT decision, decided_look, judgment_id FROM gate_sequences WHERE key = $1",
            )
            .bind(key)
            .fetch_one(p)
            .await?;
            Ok(SequenceLook::Decided {
                decision: row
                    .try_get::<Option<String>, _>("decision")?
                    .unwrap_or_default(),
                look: row
                    .try_get::<Option<i64>, _>("decided_look")?
                    .unwrap_or_default(),
                judgment_id: row.try_get("judgment_id")?,
            })
        })
    }

    /// Records look `look` of sequence `key`: its judgment, and its decision when it decided
    /// (the first decision stays).
    pub async fn record_gate_look(
        &self,
        key: &str,
        look: i64,
        decision: Option<&str>,
        judgment_id: &str,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        let now = At(self.clock.now());
        with_pool!(self, |p| {
            match decision {
                Some(decision) => {
                    sqlx::query(
                        "UPDATE gate_sequences SET judgment_id = $2, updated_at = $3, \
                         decision = $4, decided_look = $5 WHERE key = $1 AND decision IS NULL",
                    )
                    .bind(key)
                    .bind(judgment_id)
                    .bind(now)
                    .bind(decision)
                    .bind(look)
                    .execute(p)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "UPDATE gate_sequences SET judgment_id = $2, updated_at = $3 \
                         WHERE key = $1 AND decision IS NULL",
                    )
                    .bind(key)
                    .bind(judgment_id)
                    .bind(now)
                    .execute(p)
                    .await?;
                }
            }
        });
        Ok(())
    }
}
