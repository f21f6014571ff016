-- Kayenta's REST API (issue 16 item 3): a canary config stored through `/canaryConfig` is a
-- template (its translation in `source`) that keeps the Kayenta JSON it was given, so that
-- `GET /canaryConfig/{id}` answers it as stored. Null for every other template.
ALTER TABLE templates ADD COLUMN kayenta_config TEXT;

-- A judgment made through `POST /canary/{canaryConfigId}`: the Kayenta execution request it
-- answers (scopes, thresholds), for `GET /canary/{canaryExecutionId}`.
CREATE TABLE kayenta_executions (
    judgment_id  TEXT PRIMARY KEY,
    config_id    TEXT NOT NULL,
    request      TEXT NOT NULL
);
