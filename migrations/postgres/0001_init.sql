-- canaryd store, PostgreSQL flavour: the same tables as SQLite's, with native time and JSON
-- types so that Grafana and people can query them directly.

CREATE TABLE judgments (
    id               TEXT PRIMARY KEY,          -- UUIDv7: sorts by creation time
    created_at       TIMESTAMPTZ NOT NULL,
    request_id       TEXT NOT NULL,
    template         TEXT NOT NULL,
    template_version BIGINT,
    template_source  TEXT NOT NULL,
    mode             TEXT NOT NULL,
    baseline         TEXT,
    canary           TEXT,
    window_start     TIMESTAMPTZ,
    window_end       TIMESTAMPTZ,
    step_seconds     BIGINT,
    args             JSONB NOT NULL,
    data             JSONB NOT NULL,
    verdict          TEXT NOT NULL,
    score            DOUBLE PRECISION NOT NULL,
    report           JSONB NOT NULL,
    gate             TEXT,
    gate_key         TEXT
);
CREATE INDEX judgments_template_created ON judgments (template, created_at);
CREATE INDEX judgments_created ON judgments (created_at);
CREATE INDEX judgments_gate_key ON judgments (gate_key);

CREATE TABLE templates (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    deleted_at  TIMESTAMPTZ,
    PRIMARY KEY (name, version)
);
