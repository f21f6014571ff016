-- Instants as Unix milliseconds (issue 12): every time column becomes INTEGER, so that due
-- times, leases and windows compare and sort as the instants they are, whatever the year
-- (RFC 3339 text put "+10019-..." before "2026-..."). SQLite cannot change a column's type,
-- so each table is rebuilt and its rows copied, the text converted. A stored time SQLite
-- cannot read (a year past 9999, which only the old text could hold) becomes the last
-- millisecond of 9999, still later than every other. The views are made again over the new
-- columns, with the same names and columns, the times shown as RFC 3339 text.

DROP VIEW canary_judgments;
DROP VIEW judgment_metrics;
DROP VIEW analysis_progress;
DROP VIEW analysis_interval_results;

CREATE TABLE judgments_new (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    template TEXT NOT NULL,
    template_version INTEGER,
    template_source TEXT NOT NULL,
    mode TEXT NOT NULL,
    baseline TEXT,
    canary TEXT,
    window_start INTEGER,
    window_end INTEGER,
    step_seconds INTEGER,
    args TEXT NOT NULL,
    data TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    report TEXT NOT NULL,
    gate TEXT,
    gate_key TEXT,
    analysis_id TEXT,
    interval_index INTEGER
);
INSERT INTO judgments_new (id, created_at, request_id, template, template_version, template_source, mode, baseline, canary, window_start, window_end, step_seconds, args, data, verdict, score, report, gate, gate_key, analysis_id, interval_index)
SELECT
    id,
    COALESCE(CAST(round((julianday(created_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    request_id,
    template,
    template_version,
    template_source,
    mode,
    baseline,
    canary,
    CASE WHEN window_start IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(window_start) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    CASE WHEN window_end IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(window_end) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    step_seconds,
    args,
    data,
    verdict,
    score,
    report,
    gate,
    gate_key,
    analysis_id,
    interval_index
FROM judgments;

CREATE TABLE templates_new (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    deleted_at INTEGER,
    PRIMARY KEY (name, version)
);
INSERT INTO templates_new (name, version, created_at, source, origin, deleted_at)
SELECT
    name,
    version,
    COALESCE(CAST(round((julianday(created_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    source,
    origin,
    CASE WHEN deleted_at IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(deleted_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END
FROM templates;

CREATE TABLE analyses_new (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    template TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    args TEXT NOT NULL,
    baseline TEXT NOT NULL,
    canary TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    lifetime_minutes REAL NOT NULL,
    interval_minutes REAL NOT NULL,
    begin_after_minutes REAL NOT NULL,
    lookback_minutes REAL NOT NULL,
    step_seconds INTEGER,
    settle_seconds REAL NOT NULL,
    callback_url TEXT,
    callback_secret TEXT,
    stop_on_fail INTEGER NOT NULL,
    state TEXT NOT NULL,
    verdict TEXT,
    reason TEXT,
    interval_count INTEGER NOT NULL,
    next_index INTEGER NOT NULL,
    next_due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    updated_at INTEGER NOT NULL
);
INSERT INTO analyses_new (id, created_at, request_id, template, template_version, args, baseline, canary, start_at, lifetime_minutes, interval_minutes, begin_after_minutes, lookback_minutes, step_seconds, settle_seconds, callback_url, callback_secret, stop_on_fail, state, verdict, reason, interval_count, next_index, next_due_at, attempts, last_error, lease_owner, lease_until, updated_at)
SELECT
    id,
    COALESCE(CAST(round((julianday(created_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    request_id,
    template,
    template_version,
    args,
    baseline,
    canary,
    COALESCE(CAST(round((julianday(start_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    lifetime_minutes,
    interval_minutes,
    begin_after_minutes,
    lookback_minutes,
    step_seconds,
    settle_seconds,
    callback_url,
    callback_secret,
    stop_on_fail,
    state,
    verdict,
    reason,
    interval_count,
    next_index,
    COALESCE(CAST(round((julianday(next_due_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    attempts,
    last_error,
    lease_owner,
    CASE WHEN lease_until IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(lease_until) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    COALESCE(CAST(round((julianday(updated_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999)
FROM analyses;

CREATE TABLE analysis_intervals_new (
    analysis_id TEXT NOT NULL REFERENCES analyses_new (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    judgment_id TEXT,
    error TEXT,
    judged_at INTEGER NOT NULL,
    judged_by TEXT NOT NULL,
    PRIMARY KEY (analysis_id, idx)
);
INSERT INTO analysis_intervals_new (analysis_id, idx, start_at, end_at, verdict, score, judgment_id, error, judged_at, judged_by)
SELECT
    analysis_id,
    idx,
    COALESCE(CAST(round((julianday(start_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    COALESCE(CAST(round((julianday(end_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    verdict,
    score,
    judgment_id,
    error,
    COALESCE(CAST(round((julianday(judged_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    judged_by
FROM analysis_intervals;

CREATE TABLE deliveries_new (
    id TEXT PRIMARY KEY,
    analysis_id TEXT,
    schedule_id TEXT,
    event TEXT NOT NULL,
    interval_index INTEGER,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER,
    failed_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    lease_owner TEXT,
    lease_until INTEGER
);
INSERT INTO deliveries_new (id, analysis_id, schedule_id, event, interval_index, url, body, created_at, expires_at, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error, lease_owner, lease_until)
SELECT
    id,
    analysis_id,
    schedule_id,
    event,
    interval_index,
    url,
    body,
    COALESCE(CAST(round((julianday(created_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    COALESCE(CAST(round((julianday(expires_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    attempts,
    COALESCE(CAST(round((julianday(next_attempt_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    CASE WHEN delivered_at IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(delivered_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    CASE WHEN failed_at IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(failed_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    last_status,
    last_error,
    lease_owner,
    CASE WHEN lease_until IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(lease_until) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END
FROM deliveries;

CREATE TABLE schedules_new (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    cron TEXT NOT NULL,
    template TEXT NOT NULL,
    args TEXT NOT NULL,
    baseline TEXT NOT NULL,
    canary TEXT NOT NULL,
    window_minutes REAL NOT NULL,
    step_seconds INTEGER,
    callback_url TEXT,
    callback_secret TEXT,
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_judgment_id TEXT,
    last_verdict TEXT,
    last_error TEXT,
    runs INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER
);
INSERT INTO schedules_new (id, name, created_at, cron, template, args, baseline, canary, window_minutes, step_seconds, callback_url, callback_secret, next_run_at, last_run_at, last_judgment_id, last_verdict, last_error, runs, lease_owner, lease_until)
SELECT
    id,
    name,
    COALESCE(CAST(round((julianday(created_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    cron,
    template,
    args,
    baseline,
    canary,
    window_minutes,
    step_seconds,
    callback_url,
    callback_secret,
    COALESCE(CAST(round((julianday(next_run_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999),
    CASE WHEN last_run_at IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(last_run_at) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END,
    last_judgment_id,
    last_verdict,
    last_error,
    runs,
    lease_owner,
    CASE WHEN lease_until IS NULL THEN NULL ELSE COALESCE(CAST(round((julianday(lease_until) - 2440587.5) * 86400000.0) AS INTEGER), 253402300799999) END
FROM schedules;

DROP TABLE analysis_intervals;
DROP TABLE judgments;
DROP TABLE templates;
DROP TABLE deliveries;
DROP TABLE schedules;
DROP TABLE analyses;

ALTER TABLE analyses_new RENAME TO analyses;
ALTER TABLE analysis_intervals_new RENAME TO analysis_intervals;
ALTER TABLE judgments_new RENAME TO judgments;
ALTER TABLE templates_new RENAME TO templates;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE schedules_new RENAME TO schedules;

CREATE INDEX judgments_template_created ON judgments (template, created_at);
CREATE INDEX judgments_created ON judgments (created_at);
CREATE INDEX judgments_gate_key ON judgments (gate_key);
CREATE UNIQUE INDEX judgments_analysis_interval ON judgments (analysis_id, interval_index);
CREATE INDEX analyses_due ON analyses (state, next_due_at);
CREATE INDEX deliveries_due ON deliveries (delivered_at, failed_at, next_attempt_at);
CREATE INDEX deliveries_analysis ON deliveries (analysis_id);

-- One row per judgment; `service` is the template arg of that name (NULL without one).
CREATE VIEW canary_judgments AS
SELECT
    j.id,
    strftime('%Y-%m-%dT%H:%M:%fZ', j.created_at / 1000.0, 'unixepoch') AS created_at,
    j.template,
    j.template_version,
    json_extract(j.args, '$.service')     AS service,
    j.args,
    j.mode,
    j.baseline,
    j.canary,
    strftime('%Y-%m-%dT%H:%M:%fZ', j.window_start / 1000.0, 'unixepoch') AS window_start,
    strftime('%Y-%m-%dT%H:%M:%fZ', j.window_end / 1000.0, 'unixepoch') AS window_end,
    j.verdict,
    j.score,
    json_extract(j.report, '$.reason')    AS reason,
    j.gate,
    j.analysis_id,
    j.interval_index
FROM judgments j;

-- One row per metric result of each judgment (the report's `metrics` array).
CREATE VIEW judgment_metrics AS
SELECT
    j.id                                               AS judgment_id,
    strftime('%Y-%m-%dT%H:%M:%fZ', j.created_at / 1000.0, 'unixepoch') AS created_at,
    j.template,
    json_extract(j.args, '$.service')                  AS service,
    j.verdict,
    j.score,
    json_extract(m.value, '$.name')                    AS metric,
    json_extract(m.value, '$.group')                   AS metric_group,
    json_extract(m.value, '$.classification')          AS classification,
    COALESCE(json_extract(m.value, '$.critical'), 0)   AS critical,
    json_extract(m.value, '$.reason')                  AS reason,
    json_extract(m.value, '$.baseline.mean')           AS baseline_mean,
    json_extract(m.value, '$.canary.mean')             AS canary_mean,
    json_extract(m.value, '$.mean_ratio')              AS mean_ratio
FROM judgments j, json_each(j.report, '$.metrics') AS m;

-- One row per analysis with how far it got.
CREATE VIEW analysis_progress AS
SELECT
    a.id                                   AS analysis_id,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.created_at / 1000.0, 'unixepoch') AS created_at,
    a.template,
    json_extract(a.args, '$.service')      AS service,
    a.baseline,
    a.canary,
    a.state,
    a.verdict,
    a.reason,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.start_at / 1000.0, 'unixepoch') AS start_at,
    a.interval_minutes,
    a.interval_count,
    (SELECT count(*) FROM analysis_intervals i WHERE i.analysis_id = a.id) AS intervals_done,
    (SELECT i.verdict FROM analysis_intervals i WHERE i.analysis_id = a.id
      ORDER BY i.idx DESC LIMIT 1)         AS last_verdict,
    (SELECT i.score FROM analysis_intervals i WHERE i.analysis_id = a.id
      ORDER BY i.idx DESC LIMIT 1)         AS last_score,
    CASE WHEN a.state IN ('pending', 'running') THEN strftime('%Y-%m-%dT%H:%M:%fZ', a.next_due_at / 1000.0, 'unixepoch') END AS next_due_at,
    a.last_error,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.updated_at / 1000.0, 'unixepoch') AS updated_at
FROM analyses a;

-- One row per judged interval, with its analysis's template, service and state.
CREATE VIEW analysis_interval_results AS
SELECT
    i.analysis_id,
    i.idx                                  AS interval_index,
    a.template,
    json_extract(a.args, '$.service')      AS service,
    a.state                                AS analysis_state,
    strftime('%Y-%m-%dT%H:%M:%fZ', i.start_at / 1000.0, 'unixepoch') AS start_at,
    strftime('%Y-%m-%dT%H:%M:%fZ', i.end_at / 1000.0, 'unixepoch') AS end_at,
    i.verdict,
    i.score,
    i.judgment_id,
    i.error,
    strftime('%Y-%m-%dT%H:%M:%fZ', i.judged_at / 1000.0, 'unixepoch') AS judged_at,
    i.judged_by
FROM analysis_intervals i
JOIN analyses a ON a.id = i.analysis_id;
