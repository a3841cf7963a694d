-- Funnel rollup: one row per UTC hour × visitor (anonymous id, else user id) with the funnel steps the
-- visitor reached in that hour (ecomops.analytics.funnel). The overview's conversion funnel then reads
-- these rows instead of the window's raw events. Not ready until rebuilt: the metric engine rebuilds the
-- rollups on its next request (or the next write, or `ecomops rollups rebuild`); until then readers use
-- the raw facts.
CREATE TABLE rollup_funnel (
    hour      TIMESTAMPTZ NOT NULL,
    visitor   VARCHAR NOT NULL,
    visited   BOOLEAN NOT NULL,
    viewed    BOOLEAN NOT NULL,
    carted    BOOLEAN NOT NULL,
    checkout  BOOLEAN NOT NULL,
    ordered   BOOLEAN NOT NULL
);
UPDATE rollup_state SET ready = false
    WHERE EXISTS (SELECT 1 FROM events);
