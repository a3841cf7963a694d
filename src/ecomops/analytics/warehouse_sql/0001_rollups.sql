-- Rollups: hourly aggregates of the facts, maintained in the same transaction as the facts (see
-- ecomops.analytics.rollups and docs/architecture.md "Rollups"). Every table is keyed by the UTC hour
-- (date_trunc('hour', ts) with the connection's TimeZone = 'UTC'). Distinct counts (buyers, visitors)
-- keep the buyer/visitor id in the grain, so counting them over any set of hours stays exact.
-- The tables start empty and not ready: the first write after this migration rebuilds them from the
-- facts (or `ecomops metrics rollups rebuild`); until then the metric engine reads the raw facts.

CREATE TABLE rollup_state (
    id               INTEGER PRIMARY KEY,
    ready            BOOLEAN NOT NULL,
    rebuilt_at       TIMESTAMPTZ,
    refreshed_at     TIMESTAMPTZ,
    hours_refreshed  BIGINT NOT NULL DEFAULT 0,
    -- Row counts of the fact tables the rollups were last brought up to date with: a writer that
    -- bypassed the maintenance hooks changes them, and readers then fall back to the raw facts.
    fingerprint      VARCHAR
);
INSERT INTO rollup_state (id, ready) VALUES (1, false);

-- Which hour and buyer each counted order is rolled up under: a later change to the order (new time,
-- new customer, cancellation) must also clear the hour it used to be counted in.
CREATE TABLE rollup_order_index (
    order_id  VARCHAR NOT NULL,
    hour      TIMESTAMPTZ NOT NULL,
    buyer     VARCHAR
);

-- First counted order of each buyer (any currency): decides new_buyer_count.
CREATE TABLE rollup_buyer_first (
    buyer     VARCHAR NOT NULL,
    first_at  TIMESTAMPTZ NOT NULL
);

-- Counted orders per hour × order dimensions × buyer.
CREATE TABLE rollup_sales (
    hour               TIMESTAMPTZ NOT NULL,
    currency           VARCHAR NOT NULL,
    channel            VARCHAR,
    utm_source         VARCHAR,
    utm_medium         VARCHAR,
    utm_campaign       VARCHAR,
    region             VARCHAR,
    country            VARCHAR,
    device             VARCHAR,
    buyer              VARCHAR,
    is_first           BOOLEAN NOT NULL,
    ordered_value      DECIMAL(38,4) NOT NULL,
    merchandise_value  DECIMAL(38,4) NOT NULL,
    order_count        BIGINT NOT NULL
);

-- Lines of counted orders per hour × product or category (dim_kind) × campaign × buyer; dim is already
-- the breakdown label ('(none)' for missing), so an order counts once per label.
CREATE TABLE rollup_item_sales (
    hour          TIMESTAMPTZ NOT NULL,
    currency      VARCHAR NOT NULL,
    dim_kind      VARCHAR NOT NULL,
    dim           VARCHAR NOT NULL,
    utm_source    VARCHAR,
    utm_medium    VARCHAR,
    utm_campaign  VARCHAR,
    buyer         VARCHAR,
    is_first      BOOLEAN NOT NULL,
    line_value    DECIMAL(38,4) NOT NULL,
    order_count   BIGINT NOT NULL
);

-- Lines of counted orders per hour × product × order dimensions (cost is joined at query time, so a
-- product's new cost applies to all history exactly as in the raw computation).
CREATE TABLE rollup_lines (
    hour          TIMESTAMPTZ NOT NULL,
    currency      VARCHAR NOT NULL,
    product_id    VARCHAR,
    category      VARCHAR,
    channel       VARCHAR,
    utm_source    VARCHAR,
    utm_medium    VARCHAR,
    utm_campaign  VARCHAR,
    region        VARCHAR,
    country       VARCHAR,
    device        VARCHAR,
    line_value    DECIMAL(38,4) NOT NULL,
    quantity      HUGEINT NOT NULL,
    lines         BIGINT NOT NULL
);

-- Refunds per hour (refunded_at) × product × dimensions of the refunded order.
CREATE TABLE rollup_refunds (
    hour          TIMESTAMPTZ NOT NULL,
    currency      VARCHAR NOT NULL,
    product_id    VARCHAR,
    channel       VARCHAR,
    utm_source    VARCHAR,
    utm_campaign  VARCHAR,
    region        VARCHAR,
    country       VARCHAR,
    device        VARCHAR,
    refund_value  DECIMAL(38,4)
);

-- Visitors per hour × event dimensions: one row per visitor, with whether they visited (page/screen)
-- and whether they added to cart in that hour.
CREATE TABLE rollup_visitors (
    hour          TIMESTAMPTZ NOT NULL,
    channel       VARCHAR,
    utm_source    VARCHAR,
    utm_campaign  VARCHAR,
    region        VARCHAR,
    country       VARCHAR,
    device        VARCHAR,
    visitor       VARCHAR,
    visited       BOOLEAN NOT NULL,
    carted        BOOLEAN NOT NULL
);

-- A warehouse without facts has nothing to roll up: its (empty) rollups are complete already.
UPDATE rollup_state SET ready = NOT EXISTS (SELECT 1 FROM orders) AND NOT EXISTS (SELECT 1 FROM events)
    AND NOT EXISTS (SELECT 1 FROM refunds) AND NOT EXISTS (SELECT 1 FROM order_items),
    fingerprint = '0:0:0:0';
