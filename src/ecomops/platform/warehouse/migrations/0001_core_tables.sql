-- Core fact tables. Money is DECIMAL(18,4) next to an ISO currency; times are UTC TIMESTAMPTZ.
CREATE TABLE events (
    message_id    VARCHAR NOT NULL,
    type          VARCHAR NOT NULL,
    event         VARCHAR,
    anonymous_id  VARCHAR,
    user_id       VARCHAR,
    ts            TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    source_id     VARCHAR,
    channel       VARCHAR,
    session_id    VARCHAR,
    utm_source    VARCHAR,
    utm_medium    VARCHAR,
    utm_campaign  VARCHAR,
    utm_term      VARCHAR,
    utm_content   VARCHAR,
    page_url      VARCHAR,
    page_path     VARCHAR,
    referrer      VARCHAR,
    device        VARCHAR,
    os            VARCHAR,
    country       VARCHAR,
    region        VARCHAR,
    city          VARCHAR,
    x             DOUBLE,
    y             DOUBLE,
    product_id    VARCHAR,
    order_id      VARCHAR,
    revenue       DECIMAL(18,4),
    currency      VARCHAR,
    properties    JSON,
    context       JSON,
    traits        JSON
);

CREATE TABLE orders (
    order_id        VARCHAR PRIMARY KEY,
    external_id     VARCHAR,
    source          VARCHAR,
    channel         VARCHAR,
    customer_id     VARCHAR,
    anonymous_id    VARCHAR,
    status          VARCHAR NOT NULL,
    ordered_at      TIMESTAMPTZ NOT NULL,
    paid_at         TIMESTAMPTZ,
    currency        VARCHAR NOT NULL,
    subtotal        DECIMAL(18,4) NOT NULL,
    discount        DECIMAL(18,4) NOT NULL DEFAULT 0,
    shipping        DECIMAL(18,4) NOT NULL DEFAULT 0,
    tax             DECIMAL(18,4) NOT NULL DEFAULT 0,
    total           DECIMAL(18,4) NOT NULL,
    coupon          VARCHAR,
    items_count     INTEGER NOT NULL DEFAULT 0,
    country         VARCHAR,
    region          VARCHAR,
    city            VARCHAR,
    device          VARCHAR,
    utm_source      VARCHAR,
    utm_medium      VARCHAR,
    utm_campaign    VARCHAR,
    live_session_id VARCHAR,
    properties      JSON,
    loaded_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- No primary key: an index on 500k+ line ids costs imports more than DuckDB's whole CSV load, and every
-- writer already keeps item_id unique (imports insert only ids not yet present, ingest deletes an
-- order's lines before writing them again, the simulator deletes its own rows first).
CREATE TABLE order_items (
    item_id      VARCHAR NOT NULL,
    order_id     VARCHAR NOT NULL,
    product_id   VARCHAR,
    sku          VARCHAR,
    name         VARCHAR,
    category     VARCHAR,
    quantity     INTEGER NOT NULL,
    unit_price   DECIMAL(18,4) NOT NULL,
    discount     DECIMAL(18,4) NOT NULL DEFAULT 0,
    line_total   DECIMAL(18,4) NOT NULL,
    currency     VARCHAR NOT NULL,
    ordered_at   TIMESTAMPTZ NOT NULL
);

-- amount is NULL only for a whole-order refund event that arrived before its order; it is filled in
-- with the order total when the order arrives.
CREATE TABLE refunds (
    refund_id    VARCHAR PRIMARY KEY,
    order_id     VARCHAR NOT NULL,
    product_id   VARCHAR,
    sku          VARCHAR,
    quantity     INTEGER,
    amount       DECIMAL(18,4),
    currency     VARCHAR NOT NULL,
    reason       VARCHAR,
    source       VARCHAR,
    refunded_at  TIMESTAMPTZ NOT NULL
);

-- Pseudonymous customers: no names, emails, phones or addresses here (PII lives in the operational store).
CREATE TABLE customers (
    customer_id    VARCHAR PRIMARY KEY,
    source         VARCHAR,
    first_seen_at  TIMESTAMPTZ,
    last_seen_at   TIMESTAMPTZ,
    signup_at      TIMESTAMPTZ,
    channel        VARCHAR,
    country        VARCHAR,
    region         VARCHAR,
    city           VARCHAR,
    attributes     JSON
);

CREATE TABLE products (
    product_id   VARCHAR PRIMARY KEY,
    sku          VARCHAR,
    name         VARCHAR,
    category     VARCHAR,
    subcategory  VARCHAR,
    brand        VARCHAR,
    price        DECIMAL(18,4),
    cost         DECIMAL(18,4),
    currency     VARCHAR,
    status       VARCHAR,
    attributes   JSON,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE inventory_snapshots (
    snapshot_at     TIMESTAMPTZ NOT NULL,
    product_id      VARCHAR NOT NULL,
    warehouse_code  VARCHAR NOT NULL,
    on_hand         INTEGER NOT NULL,
    reserved        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (snapshot_at, product_id, warehouse_code)
);

CREATE TABLE ad_spend (
    date          DATE NOT NULL,
    channel       VARCHAR NOT NULL,
    utm_source    VARCHAR NOT NULL,
    utm_medium    VARCHAR NOT NULL,
    utm_campaign  VARCHAR NOT NULL,
    spend         DECIMAL(18,4) NOT NULL,
    currency      VARCHAR NOT NULL,
    impressions   BIGINT,
    clicks        BIGINT,
    PRIMARY KEY (date, channel, utm_source, utm_medium, utm_campaign)
);

CREATE TABLE reviews (
    review_id    VARCHAR PRIMARY KEY,
    order_id     VARCHAR,
    product_id   VARCHAR,
    customer_id  VARCHAR,
    channel      VARCHAR,
    rating       SMALLINT NOT NULL,
    title        VARCHAR,
    body         VARCHAR,
    language     VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE competitor_prices (
    observed_at   TIMESTAMPTZ NOT NULL,
    product_id    VARCHAR NOT NULL,
    competitor    VARCHAR NOT NULL,
    price         DECIMAL(18,4) NOT NULL,
    currency      VARCHAR NOT NULL,
    in_stock      BOOLEAN,
    url           VARCHAR,
    PRIMARY KEY (observed_at, product_id, competitor)
);

-- Live-commerce broadcasts (Douyin/Taobao live): orders and events point here via live_session_id.
CREATE TABLE live_sessions (
    live_session_id  VARCHAR PRIMARY KEY,
    channel          VARCHAR NOT NULL,
    host             VARCHAR,
    title            VARCHAR,
    started_at       TIMESTAMPTZ NOT NULL,
    ended_at         TIMESTAMPTZ,
    peak_viewers     INTEGER,
    total_viewers    INTEGER
);

-- Events the ingest API refused, kept raw so nothing is lost and they can be fixed and replayed.
CREATE TABLE ingest_dead_letters (
    dead_letter_id  VARCHAR PRIMARY KEY,
    received_at     TIMESTAMPTZ NOT NULL,
    source_id       VARCHAR,
    batch_index     INTEGER,
    reason          VARCHAR NOT NULL,
    payload         VARCHAR NOT NULL,
    replayed_at     TIMESTAMPTZ,
    replay_message_id VARCHAR
);

-- How far each ingest WAL segment has been loaded; updated in the same transaction as the rows.
CREATE TABLE _ingest_wal_offsets (
    segment   VARCHAR PRIMARY KEY,
    "offset"  BIGINT NOT NULL
);

-- Files already imported (content hash), for summaries and audits; row-level keys do the deduplication.
CREATE TABLE _imports (
    import_id     VARCHAR PRIMARY KEY,
    preset        VARCHAR NOT NULL,
    file_name     VARCHAR NOT NULL,
    file_sha256   VARCHAR NOT NULL,
    rows_read     BIGINT NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    imported_at   TIMESTAMPTZ NOT NULL
);
