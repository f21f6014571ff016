-- PostgreSQL flavour of the SQLite migration of the same number (SQLite's migration 4, the
-- change to integer times, has no PostgreSQL counterpart: TIMESTAMPTZ already compares as
-- time). Readiness (issue 12): `/readyz` proves the store can commit a write by updating this
-- one row in a transaction; `SELECT 1` answered while every write failed.
CREATE TABLE readiness (
    id          BIGINT PRIMARY KEY,
    checked_at  TIMESTAMPTZ NOT NULL,
    checked_by  TEXT                -- instance id
);
INSERT INTO readiness (id, checked_at) VALUES (1, 'epoch');
