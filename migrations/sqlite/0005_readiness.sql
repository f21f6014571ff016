-- Readiness (issue 12): `/readyz` proves the store can commit a write by updating this one
-- row in a transaction; `SELECT 1` answered while every write failed.
CREATE TABLE readiness (
    id          INTEGER PRIMARY KEY,
    checked_at  INTEGER NOT NULL,   -- Unix milliseconds
    checked_by  TEXT                -- instance id
);
INSERT INTO readiness (id, checked_at) VALUES (1, 0);
