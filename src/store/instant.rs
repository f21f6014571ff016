//! How an instant is stored: Unix milliseconds (`INTEGER`) on SQLite, `TIMESTAMPTZ` on
//! PostgreSQL. Both compare and sort chronologically, whatever the year; RFC 3339 text (what
//! sqlx writes for a `DateTime` on SQLite) does not: `"+10019-…"` sorts before `"2026-…"`, which
//! made an analysis dated past the year 9999 due at once. Every time column is bound and read
//! through [`At`], so the one SQL text still serves both databases.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};

/// An instant as a bind parameter or a column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At(pub DateTime<Utc>);

impl Type<Sqlite> for At {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for At {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.timestamp_millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for At {
    fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let ms = <i64 as Decode<Sqlite>>::decode(value)?;
        DateTime::from_timestamp_millis(ms)
            .map(At)
            .ok_or_else(|| format!("stored time {ms} ms is out of range").into())
    }
}

impl Type<Postgres> for At {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &<Postgres as Database>::TypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for At {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for At {
    fn decode(value: <Postgres as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Postgres>>::decode(value).map(At)
    }
}

/// `Option<DateTime>` as bind parameters.
pub(crate) fn at_opt(t: Option<DateTime<Utc>>) -> Option<At> {
    t.map(At)
}
