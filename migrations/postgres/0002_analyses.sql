-- PostgreSQL flavour of the SQLite migration of the same number. Scheduled analyses (issue 5): an analysis judges one interval after another; each interval
-- is judged once (primary key), its callbacks are queued in deliveries; leases let several
-- instances share the work and take over from one that died.

CREATE TABLE analyses (
    id                  TEXT PRIMARY KEY,
    created_at          TIMESTAMPTZ NOT NULL,
    request_id          TEXT NOT NULL,
    template            TEXT NOT NULL,
    template_version    BIGINT NOT NULL,   -- pinned at creation
    args                JSONB NOT NULL,      -- JSON object
    baseline            TEXT NOT NULL,
    canary              TEXT NOT NULL,
    start_at            TIMESTAMPTZ NOT NULL,
    lifetime_minutes    DOUBLE PRECISION NOT NULL,
    interval_minutes    DOUBLE PRECISION NOT NULL,
    begin_after_minutes DOUBLE PRECISION NOT NULL,
    lookback_minutes    DOUBLE PRECISION NOT NULL,
    step_seconds        BIGINT,
    settle_seconds      DOUBLE PRECISION NOT NULL,
    callback_url        TEXT,
    callback_secret     TEXT,
    stop_on_fail        BOOLEAN NOT NULL,
    state               TEXT NOT NULL,      -- pending | running | completed | cancelled
    verdict             TEXT,
    reason              TEXT,
    interval_count      BIGINT NOT NULL,
    next_index          BIGINT NOT NULL,
    next_due_at         TIMESTAMPTZ NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,  -- failed tries of the next interval
    last_error          TEXT,
    lease_owner         TEXT,
    lease_until         TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX analyses_due ON analyses (state, next_due_at);

CREATE TABLE analysis_intervals (
    analysis_id  TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
    idx          BIGINT NOT NULL,
    start_at     TIMESTAMPTZ NOT NULL,
    end_at       TIMESTAMPTZ NOT NULL,
    verdict      TEXT NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    judgment_id  TEXT,                      -- NULL when the interval could not be judged
    error        TEXT,
    judged_at    TIMESTAMPTZ NOT NULL,
    judged_by    TEXT NOT NULL,             -- instance id
    PRIMARY KEY (analysis_id, idx)
);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,       -- the event id (X-Canaryd-Event-Id)
    analysis_id     TEXT,
    schedule_id     TEXT,
    event           TEXT NOT NULL,          -- interval | completed | cancelled | schedule_run
    interval_index  BIGINT,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,                   -- given up (expired)
    last_status     BIGINT,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ
);
CREATE INDEX deliveries_due ON deliveries (delivered_at, failed_at, next_attempt_at);
CREATE INDEX deliveries_analysis ON deliveries (analysis_id);

CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    cron             TEXT NOT NULL,
    template         TEXT NOT NULL,
    args             JSONB NOT NULL,
    baseline         TEXT NOT NULL,
    canary           TEXT NOT NULL,
    window_minutes   DOUBLE PRECISION NOT NULL,
    step_seconds     BIGINT,
    callback_url     TEXT,
    callback_secret  TEXT,
    next_run_at      TIMESTAMPTZ NOT NULL,
    last_run_at      TIMESTAMPTZ,
    last_judgment_id TEXT,
    last_verdict     TEXT,
    last_error       TEXT,
    runs             BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      TIMESTAMPTZ
);

ALTER TABLE judgments ADD COLUMN analysis_id TEXT, ADD COLUMN interval_index BIGINT;
CREATE UNIQUE INDEX judgments_analysis_interval ON judgments (analysis_id, interval_index);
