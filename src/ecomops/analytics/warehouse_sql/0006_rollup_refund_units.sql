-- Units refunded per hour (metric units_refunded), beside the refunded value. Rollups of existing
-- refunds lack it: they are not ready until rebuilt (the next write or metrics request rebuilds them;
-- until then readers use the raw facts).
ALTER TABLE rollup_refunds ADD COLUMN units_refunded BIGINT;
UPDATE rollup_state SET ready = false
    WHERE EXISTS (SELECT 1 FROM refunds);
