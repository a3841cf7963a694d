-- Ratios whose numerator and denominator cover the same people (issue 13, item 4): GMV per buyer divides
-- the value of the orders that have a buyer (buyer_ordered_value, kept per day beside the buyer counts),
-- and add-to-cart rate counts only visitors who also visited (the day tables' cart_visitor_count changes
-- meaning). Both day tables are recomputed by the rebuild this triggers; until then metrics read the raw
-- facts.
ALTER TABLE rollup_day_buyers ADD COLUMN buyer_ordered_value DECIMAL(38,4);
UPDATE rollup_state SET ready = false
    WHERE EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM events);
