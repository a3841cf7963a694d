-- Order lines; unit_price is the day's selling price, the coupon discount sits on the order.
INSERT INTO order_items (item_id, order_id, product_id, sku, name, category, quantity, unit_price, discount,
                         line_total, currency, ordered_at)
SELECT printf('sim_i%09d', i.lidx), printf('sim_o%08d', i.oidx), p.product_id, p.sku, p.name, p.category,
       i.quantity, i.unit_price, 0, i.line_total, $currency, i.ordered_at
FROM sim_items i
JOIN sim_products p ON p.pidx = i.product
