-- Scheduled analyses (issue 5): an analysis judges one interval after another; each interval
-- is judged once (primary key), its callbacks are queued in deliveries; leases let several
-- instances share the work and take over from one that died.

CREATE TABLE analyses (
    id                  TEXT PRIMARY KEY,
    created_at          TEXT NOT NULL,
    request_id          TEXT NOT NULL,
    template            TEXT NOT NULL,
    template_version    INTEGER NOT NULL,   -- pinned at creation
    args                TEXT NOT NULL,      -- JSON object
    baseline            TEXT NOT NULL,
    canary              TEXT NOT NULL,
    start_at            TEXT NOT NULL,
    lifetime_minutes    REAL NOT NULL,
    interval_minutes    REAL NOT NULL,
    begin_after_minutes REAL NOT NULL,
    lookback_minutes    REAL NOT NULL,
    step_seconds        INTEGER,
    settle_seconds      REAL NOT NULL,
    callback_url        TEXT,
    callback_secret     TEXT,
    stop_on_fail        INTEGER NOT NULL,
    state               TEXT NOT NULL,      -- pending | running | completed | cancelled
    verdict             TEXT,
    reason              TEXT,
    interval_count      INTEGER NOT NULL,
    next_index          INTEGER NOT NULL,
    next_due_at         TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,  -- failed tries of the next interval
    last_error          TEXT,
    lease_owner         TEXT,
    lease_until         TEXT,
    updated_at          TEXT NOT NULL
);
CREATE INDEX analyses_due ON analyses (state, next_due_at);

CREATE TABLE analysis_intervals (
    analysis_id  TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    start_at     TEXT NOT NULL,
    end_at       TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    score        REAL NOT NULL,
    judgment_id  TEXT,                      -- NULL when the interval could not be judged
    error        TEXT,
    judged_at    TEXT NOT NULL,
    judged_by    TEXT NOT NULL,             -- instance id
    PRIMARY KEY (analysis_id, idx)
);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,       -- the event id (X-Canaryd-Event-Id)
    analysis_id     TEXT,
    schedule_id     TEXT,
    event           TEXT NOT NULL,          -- interval | completed | cancelled | schedule_run
    interval_index  INTEGER,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    failed_at       TEXT,                   -- given up (expired)
    last_status     INTEGER,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
);
CREATE INDEX deliveries_due ON deliveries (delivered_at, failed_at, next_attempt_at);
CREATE INDEX deliveries_analysis ON deliveries (analysis_id);

CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    cron             TEXT NOT NULL,
    template         TEXT NOT NULL,
    args             TEXT NOT NULL,
    baseline         TEXT NOT NULL,
    canary           TEXT NOT NULL,
    window_minutes   REAL NOT NULL,
    step_seconds     INTEGER,
    callback_url     TEXT,
    callback_secret  TEXT,
    next_run_at      TEXT NOT NULL,
    last_run_at      TEXT,
    last_judgment_id TEXT,
    last_verdict     TEXT,
    last_error       TEXT,
    runs             INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      TEXT
);

ALTER TABLE judgments ADD COLUMN analysis_id TEXT;
ALTER TABLE judgments ADD COLUMN interval_index INTEGER;
CREATE UNIQUE INDEX judgments_analysis_interval ON judgments (analysis_id, interval_index);
