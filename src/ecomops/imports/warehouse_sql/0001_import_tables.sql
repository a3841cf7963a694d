-- Marketplace facts the bulk importers load beyond 0001 (Olist and similar exports).
-- The seller of each line: marketplace analytics (seller performance, delivery) need it.
ALTER TABLE order_items ADD COLUMN seller_id VARCHAR;

-- One row per payment of an order (an order can be paid with several methods or vouchers).
-- No foreign key to orders: payments exports arrive on their own and are joined later.
CREATE TABLE order_payments (
    payment_id    VARCHAR PRIMARY KEY,
    order_id      VARCHAR NOT NULL,
    sequential    INTEGER,
    payment_type  VARCHAR,
    installments  INTEGER,
    amount        DECIMAL(18,4) NOT NULL,
    currency      VARCHAR NOT NULL,
    source        VARCHAR
);

-- Marketplace sellers (businesses, not people: no PII).
CREATE TABLE sellers (
    seller_id        VARCHAR PRIMARY KEY,
    source           VARCHAR,
    zip_code_prefix  VARCHAR,
    city             VARCHAR,
    region           VARCHAR,
    country          VARCHAR
);

-- Category names in another language (e.g. Olist's Portuguese → English), applied when products load.
CREATE TABLE product_category_translations (
    category     VARCHAR NOT NULL,
    language     VARCHAR NOT NULL,
    translation  VARCHAR NOT NULL,
    PRIMARY KEY (category, language)
);
