-- Day rollups: per local day of one time zone (rollup_state.day_zone, the tenant's), computed from the
-- hourly rollups (see ecomops.analytics.rollup_days and docs/architecture.md "Rollups"). They hold
-- numbers, not ids: additive sales sums per day × breakdown value × campaign, and the distinct buyer
-- and visitor counts of each single day. Dashboards ask for days in the tenant's zone; the hourly
-- tables still answer everything else (hour buckets, other zones, distinct counts over several days).
-- day_zone starts NULL: the metric engine sets it to the tenant's zone on first use (rebuilding these
-- tables), after which every rollup refresh maintains the affected days.

ALTER TABLE rollup_state ADD COLUMN day_zone VARCHAR;

-- dim_kind is a breakdown id ('all' = no breakdown) and dim its label ('(none)' for missing values).
CREATE TABLE rollup_day_sales (
    day                DATE NOT NULL,
    currency           VARCHAR NOT NULL,
    dim_kind           VARCHAR NOT NULL,
    dim                VARCHAR NOT NULL,
    utm_source         VARCHAR,
    utm_medium         VARCHAR,
    utm_campaign       VARCHAR,
    ordered_value      DECIMAL(38,4) NOT NULL,
    merchandise_value  DECIMAL(38,4) NOT NULL,
    order_count        BIGINT NOT NULL
);

CREATE TABLE rollup_day_buyers (
    day                 DATE NOT NULL,
    currency            VARCHAR NOT NULL,
    dim_kind            VARCHAR NOT NULL,
    dim                 VARCHAR NOT NULL,
    buyer_count         BIGINT NOT NULL,
    repeat_buyer_count  BIGINT NOT NULL,
    new_buyer_count     BIGINT NOT NULL
);

CREATE TABLE rollup_day_visitors (
    day                 DATE NOT NULL,
    dim_kind            VARCHAR NOT NULL,
    dim                 VARCHAR NOT NULL,
    visitor_count       BIGINT NOT NULL,
    cart_visitor_count  BIGINT NOT NULL
);
