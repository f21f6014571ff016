-- A judgment's points stored compactly (issue 18 item 3): the baseline and canary arrays of
-- `data` move into `points`, packed and zstd-compressed (src/store/points.rs); the rest of
-- `data` (provenance, notes, errors, grid) stays JSON. NULL in `points`: `data` holds
-- everything, as before. `stored_bytes` is what a row holds (points, report, template text,
-- arguments, data), the measure of `store.retention_max_bytes`. Existing rows are converted by
-- this migration's Rust step (src/store/migrate.rs), in the same transaction. The views read
-- `report` and `args` only and stay as they are.
ALTER TABLE judgments ADD COLUMN points BYTEA;
ALTER TABLE judgments ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
