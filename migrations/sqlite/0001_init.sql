-- canaryd store, SQLite flavour. Times are RFC 3339 text in UTC (sqlx's encoding of
-- DateTime<Utc>), which sorts like the times it holds. JSON columns hold JSON text.

CREATE TABLE judgments (
    id               TEXT PRIMARY KEY,          -- UUIDv7: sorts by creation time
    created_at       TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    template         TEXT NOT NULL,             -- template name
    template_version INTEGER,                   -- stored version used; NULL for an inline template
    template_source  TEXT NOT NULL,             -- the template exactly as used (YAML or JSON text)
    mode             TEXT NOT NULL,             -- data | live
    baseline         TEXT,
    canary           TEXT,
    window_start     TEXT,
    window_end       TEXT,
    step_seconds     INTEGER,
    args             TEXT NOT NULL,             -- JSON object
    data             TEXT NOT NULL,             -- JSON: every point judged, per metric and side
    verdict          TEXT NOT NULL,
    score            REAL NOT NULL,
    report           TEXT NOT NULL,             -- JSON: the report as returned
    gate             TEXT,                      -- flagger | argo | NULL
    gate_key         TEXT                       -- identity of a gate call, for reuse
);
CREATE INDEX judgments_template_created ON judgments (template, created_at);
CREATE INDEX judgments_created ON judgments (created_at);
CREATE INDEX judgments_gate_key ON judgments (gate_key);

CREATE TABLE templates (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    source      TEXT NOT NULL,                  -- the template text (YAML, or JSON)
    origin      TEXT NOT NULL,                  -- file path it was loaded from, or "api"
    deleted_at  TEXT,                           -- set on every version when the name is deleted
    PRIMARY KEY (name, version)
);
