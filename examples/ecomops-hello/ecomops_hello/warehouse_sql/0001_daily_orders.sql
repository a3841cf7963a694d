-- Orders per day (UTC), one row per day that has orders. Kept exact in the writer's transaction by the
-- module's facts listener (ecomops_hello.service.on_facts_changed) and recounted from the orders by the
-- hourly job hello.recount, which also repairs what a writer without this module installed changed.
CREATE TABLE hello_daily_orders (
    day     DATE PRIMARY KEY,
    orders  BIGINT NOT NULL
);

-- A shop that has orders when the module is installed starts with its history counted. The session time
-- zone is UTC (every warehouse connection sets it), so CAST(... AS DATE) is the UTC day.
INSERT INTO hello_daily_orders (day, orders)
SELECT CAST(ordered_at AS DATE), count(*) FROM orders GROUP BY 1;
