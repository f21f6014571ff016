-- Views for people and tools querying the store by hand (issue 6): the same names and
-- columns as the PostgreSQL migration of the same number. Times stay RFC 3339 text, booleans
-- are 0/1, as in the tables.

-- One row per judgment; `service` is the template arg of that name (NULL without one).
CREATE VIEW canary_judgments AS
SELECT
    j.id,
    j.created_at,
    j.template,
    j.template_version,
    json_extract(j.args, '$.service')     AS service,
    j.args,
    j.mode,
    j.baseline,
    j.canary,
    j.window_start,
    j.window_end,
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
    j.created_at,
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
    a.created_at,
    a.template,
    json_extract(a.args, '$.service')      AS service,
    a.baseline,
    a.canary,
    a.state,
    a.verdict,
    a.reason,
    a.start_at,
    a.interval_minutes,
    a.interval_count,
    (SELECT count(*) FROM analysis_intervals i WHERE i.analysis_id = a.id) AS intervals_done,
    (SELECT i.verdict FROM analysis_intervals i WHERE i.analysis_id = a.id
      ORDER BY i.idx DESC LIMIT 1)         AS last_verdict,
    (SELECT i.score FROM analysis_intervals i WHERE i.analysis_id = a.id
      ORDER BY i.idx DESC LIMIT 1)         AS last_score,
    CASE WHEN a.state IN ('pending', 'running') THEN a.next_due_at END AS next_due_at,
    a.last_error,
    a.updated_at
FROM analyses a;

-- One row per judged interval, with its analysis's template, service and state.
CREATE VIEW analysis_interval_results AS
SELECT
    i.analysis_id,
    i.idx                                  AS interval_index,
    a.template,
    json_extract(a.args, '$.service')      AS service,
    a.state                                AS analysis_state,
    i.start_at,
    i.end_at,
    i.verdict,
    i.score,
    i.judgment_id,
    i.error,
    i.judged_at,
    i.judged_by
FROM analysis_intervals i
JOIN analyses a ON a.id = i.analysis_id;
