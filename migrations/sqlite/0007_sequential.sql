-- Sequential analyses (issue 17): an analysis may hold a whole-rollout error rate
-- (`sequential`, JSON {alpha, pass_early, spending}); each of its intervals keeps the look's
-- evidence, boundary and decision (JSON). A gate sequence (Flagger's calls for one canary
-- revision, Argo's calls with one `sequence` key) counts its looks here, so that the count
-- survives a restart and is shared by every replica; `decision` is set once it is decided.
ALTER TABLE analyses ADD COLUMN sequential TEXT;
ALTER TABLE analysis_intervals ADD COLUMN sequential TEXT;

CREATE TABLE gate_sequences (
    key          TEXT PRIMARY KEY,
    gate         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    looks        INTEGER NOT NULL,          -- looks taken so far
    decision     TEXT,                      -- NULL while it goes on; fail | pass once decided
    decided_look INTEGER,
    judgment_id  TEXT                       -- the judgment of the last look
);
