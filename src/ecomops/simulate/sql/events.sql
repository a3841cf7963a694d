-- Session events (kinds 0-7, see timeline.KINDS) and server-side refund events (kind 8).
-- The context is stored split like the ingest loader stores it (platform warehouse migration 0002): its
-- standard fields in typed columns, the rest as JSON.
INSERT INTO events BY NAME
WITH ev AS (
    SELECT e.*, s.*, p.product_id, p.sku, p.name AS product_name, p.category,
           o.subtotal, o.discount, o.shipping, o.total, o.coupon::VARCHAR AS coupon, o.units,
           CASE WHEN e.oidx IS NOT NULL THEN printf('sim_o%08d', e.oidx) END AS order_id,
           CASE e.kind WHEN 0 THEN s.landing_path WHEN 1 THEN s.landing_path
                       WHEN 2 THEN '/products/' || p.sku WHEN 3 THEN '/products/' || p.sku
                       WHEN 4 THEN '/account/signup' WHEN 5 THEN '/checkout' WHEN 6 THEN '/checkout'
                       WHEN 7 THEN '/checkout/success' END AS path
    FROM sim_events e
    JOIN sim_sess s ON s.sidx = e.sidx
    LEFT JOIN sim_products p ON p.pidx = e.product
    LEFT JOIN sim_orders o ON o.oidx = e.oidx
), props AS (
    SELECT *,
           CASE kind
             WHEN 0 THEN json_object('title', page_name, 'path', path, 'url', site || path, 'referrer', referrer)
             WHEN 1 THEN json_object('element', element::VARCHAR, 'page', page_name)
             WHEN 2 THEN json_object('product_id', product_id, 'sku', sku, 'name', product_name, 'category', category,
                                     'price', price, 'currency', $currency, 'in_stock', in_stock)
             WHEN 3 THEN json_object('product_id', product_id, 'sku', sku, 'category', category, 'price', price,
                                     'quantity', quantity, 'currency', $currency)
             WHEN 5 THEN json_object('order_id', order_id, 'value', subtotal, 'currency', $currency)
             WHEN 6 THEN json_object('order_id', order_id, 'coupon', coupon, 'discount', discount,
                                     'currency', $currency)
             WHEN 7 THEN json_object('order_id', order_id, 'total', total, 'subtotal', subtotal,
                                     'discount', discount, 'shipping', shipping, 'coupon', coupon,
                                     'currency', $currency, 'items', units)
             WHEN 8 THEN json_object('order_id', order_id, 'product_id', product_id, 'quantity', quantity,
                                     'amount', price, 'reason', reason::VARCHAR, 'currency', $currency)
           END AS base_props
    FROM ev
), full_rows AS (
SELECT printf('sim_e%010d', eidx) AS message_id,
       CASE kind WHEN 0 THEN 'page' WHEN 4 THEN 'identify' ELSE 'track' END AS type,
       CASE kind WHEN 0 THEN page_name WHEN 1 THEN 'Element Clicked' WHEN 2 THEN 'Product Viewed'
                 WHEN 3 THEN 'Product Added' WHEN 5 THEN 'Checkout Started' WHEN 6 THEN 'Coupon Applied'
                 WHEN 7 THEN 'Order Completed' WHEN 8 THEN 'Order Refunded' END AS event,
       anonymous_id,
       CASE WHEN user_visible THEN user_id END AS user_id,
       ts, received_at, CASE WHEN kind <> 8 THEN sent_at END AS sent_at,
       'sim_' || channel AS source_id, channel,
       CASE WHEN kind <> 8 THEN session_id END AS session_id,
       CASE WHEN kind <> 8 THEN utm_source END AS utm_source, CASE WHEN kind <> 8 THEN utm_medium END AS utm_medium,
       CASE WHEN kind <> 8 THEN utm_campaign END AS utm_campaign,
       site || path AS page_url, path AS page_path,
       CASE WHEN kind = 0 THEN referrer END AS referrer,
       CASE WHEN kind <> 8 THEN device END AS device, CASE WHEN kind <> 8 THEN os END AS os,
       country, region, city,
       x, y, product_id, order_id,
       CASE WHEN kind = 7 THEN price END AS revenue,
       $currency AS currency,
       CASE WHEN live_session_id IS NOT NULL AND kind <> 8
            THEN json_merge_patch(base_props, json_object('live_session_id', live_session_id))
            ELSE base_props END AS properties,
       CASE WHEN kind = 8 THEN json_object('library', json_object('name', 'ecomops-simulator', 'version', $version))
            ELSE context END AS context,
       CASE WHEN kind = 4 THEN json_object('signup_channel', channel, 'locale', locale) END AS traits
FROM props
), typed AS (
    SELECT *, context_types(context) AS t, context_texts(context) AS s FROM full_rows
), masked AS (
    SELECT *, context_mask(t, s, utm_source, utm_medium, utm_campaign, NULL, NULL, page_url, page_path, referrer,
        device, os, country, region, city, session_id) AS mask
    FROM typed
), split AS (
    SELECT * EXCLUDE (t, s, mask), context_columns(t, s, mask) AS c FROM masked
)
SELECT * EXCLUDE (context, c), c.*, context_remainder(context, c) AS context FROM split
