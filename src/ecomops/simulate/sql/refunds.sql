INSERT INTO refunds (refund_id, order_id, product_id, sku, quantity, amount, currency, reason, source, refunded_at)
SELECT printf('sim_f%08d', r.ridx), printf('sim_o%08d', r.oidx), p.product_id, p.sku, r.quantity, r.amount,
       $currency, r.reason::VARCHAR, 'simulator', r.refunded_at
FROM sim_refunds r
JOIN sim_products p ON p.pidx = r.product
