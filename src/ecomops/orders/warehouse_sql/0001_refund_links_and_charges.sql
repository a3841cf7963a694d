-- Who a refund went to and where, when the refund is not tied to an order in the warehouse (a
-- cancellation document that matched no earlier sale keeps its own customer and country); refunds
-- linked to an order carry the order's. Reports read coalesce(order's value, refund's value).
ALTER TABLE refunds ADD COLUMN customer_id VARCHAR;
ALTER TABLE refunds ADD COLUMN country VARCHAR;

-- Money lines of an order export that are not goods: postage (shipping), discounts, platform fees
-- and commissions (fee), manual and bad-debt adjustments (adjustment), samples (sample). They are
-- kept here, signed as in the export (positive = charged to the customer, negative = given back or
-- written off), instead of being summed as goods sold or customer refunds. ``order_id`` is the
-- document they were on (an order, a cancellation or an adjustment invoice); shipping and discount
-- lines of an order are also in that order's ``shipping`` and ``discount``.
CREATE TABLE order_charges (
    charge_id    VARCHAR PRIMARY KEY,
    order_id     VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    code         VARCHAR,
    description  VARCHAR,
    quantity     INTEGER,
    amount       DECIMAL(18,4) NOT NULL,
    currency     VARCHAR NOT NULL,
    customer_id  VARCHAR,
    country      VARCHAR,
    source       VARCHAR,
    charged_at   TIMESTAMPTZ NOT NULL
);
