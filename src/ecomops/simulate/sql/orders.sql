-- Orders take channel, place, device and campaign from the session they were paid in.
INSERT INTO orders (order_id, external_id, source, channel, customer_id, anonymous_id, status, ordered_at, paid_at,
                    currency, subtotal, discount, shipping, tax, total, coupon, items_count, country, region, city,
                    device, utm_source, utm_medium, utm_campaign, live_session_id, properties, loaded_at)
SELECT printf('sim_o%08d', o.oidx),
       CASE WHEN o.external_prefix IS NOT NULL THEN o.external_prefix::VARCHAR || o.external_no::VARCHAR END,
       'simulator', s.channel, printf('sim_c%07d', o.customer), s.anonymous_id, o.status::VARCHAR,
       o.ordered_at, o.paid_at, $currency, o.subtotal, o.discount, o.shipping, 0, o.total, o.coupon::VARCHAR,
       o.units, s.country, s.region, s.city, s.device, s.utm_source, s.utm_medium, s.utm_campaign,
       s.live_session_id,
       json_object('warehouse', o.warehouse::VARCHAR, 'payment_method', o.payment::VARCHAR,
                   'session_id', s.session_id, 'address_hash', printf('addr_%012x', o.address_key),
                   'device_id', s.device_id, 'first_order', o.first_order),
       $as_of
FROM sim_orders o JOIN sim_sess s ON s.sidx = o.sidx
