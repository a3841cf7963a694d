INSERT INTO reviews (review_id, order_id, product_id, customer_id, channel, rating, title, body, language, created_at)
SELECT printf('sim_r%08d', r.rvidx), printf('sim_o%08d', r.oidx), p.product_id, printf('sim_c%07d', r.customer),
       r.channel::VARCHAR, r.rating, r.title, r.body, r.language::VARCHAR, r.created_at
FROM sim_reviews r
JOIN sim_products p ON p.pidx = r.product
