-- Views for Grafana and for people with psql (issue 6): stable names and columns over the
-- tables, so that dashboards need not know the JSON layout of a report. The SQLite migration
-- of the same number creates the same views with the same columns.

-- One row per judgment; `service` is the template arg of that name (NULL without one).
CREATE VIEW canary_judgments AS
SELECT
    j.id,
    j.created_at,
    j.template,
    j.template_version,
    j.args ->> 'service'   AS service,
    j.args,
    j.mode,
    j.baseline,
    j.canary,
    j.window_start,
    j.window_end,
    j.verdict,
    j.score,
    j.report ->> 'reason'  AS reason,
    j.gate,
    j.analysis_id,
    j.interval_index
FROM judgments j;

-- One row per metric result of each judgment (the report's `metrics` array).
CREATE VIEW judgment_metrics AS
SELECT
    j.id                                           AS judgment_id,
    j.created_at,
    j.template,
    j.args ->> 'service'                           AS service,
    j.verdict,
    j.score,
    m.value ->> 'name'                             AS metric,
    m.value ->> 'group'                            AS metric_group,
    m.value ->> 'classification'                   AS classification,
    COALESCE((m.value ->> 'critical')::boolean, false) AS critical,
    m.value ->> 'reason'                           AS reason,
    (m.value -> 'baseline' ->> 'mean')::double precision AS baseline_mean,
    (m.value -> 'canary' ->> 'mean')::double precision   AS canary_mean,
    (m.value ->> 'mean_ratio')::double precision   AS mean_ratio
FROM judgments j
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(j.report -> 'metrics') = 'array' THEN j.report -> 'metrics'
         ELSE '[]'::jsonb END
) AS m(value);

-- One row per analysis with how far it got.
CREATE VIEW analysis_progress AS
SELECT
    a.id                                   AS analysis_id,
    a.created_at,
    a.template,
    a.args ->> 'service'                   AS service,
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
    a.args ->> 'service'                   AS service,
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
