-- Which UTC hours each rollup maintenance step changed, numbered by rollup_state.version, so a reader
-- can keep results over closed periods (last month, the same days last year) and know exactly when a
-- change touched them (ecomops.analytics.rollup_cache). NULL lo/hi = unbounded (a rebuild).
-- epoch: names this warehouse file, so results kept for one never serve another (or a new file
-- created at the same path).
ALTER TABLE rollup_state ADD COLUMN version BIGINT DEFAULT 0;
ALTER TABLE rollup_state ADD COLUMN epoch VARCHAR;
UPDATE rollup_state SET version = 0, epoch = CAST(uuid() AS VARCHAR);

CREATE TABLE rollup_changes (
    version  BIGINT NOT NULL,
    lo       TIMESTAMPTZ,
    hi       TIMESTAMPTZ
);
