-- Per-session attributes shared by all of a session's events (built once, joined by events.sql and orders.sql).
CREATE TEMP TABLE sim_sess AS
SELECT sidx,
       printf('sim_s%09d', sidx) AS session_id,
       channel::VARCHAR AS channel,
       utm_source::VARCHAR AS utm_source, utm_medium::VARCHAR AS utm_medium, utm_campaign::VARCHAR AS utm_campaign,
       page_type::VARCHAR AS page_name,
       CASE page_type::VARCHAR
            WHEN 'Home' THEN '/'
            WHEN 'Category' THEN '/category/' || focus::VARCHAR
            WHEN 'Product' THEN '/products/' || first_sku::VARCHAR
            WHEN 'Search Results' THEN '/search?q=' || focus::VARCHAR
            WHEN 'Live Room' THEN printf('/live/sim_live%05d', live)
            ELSE printf('/video/%d', sidx % 9973) END AS landing_path,
       site::VARCHAR AS site,
       referrer::VARCHAR AS referrer,
       device::VARCHAR AS device, os::VARCHAR AS os, 'CN' AS country,
       region::VARCHAR AS region, city::VARCHAR AS city,
       CASE WHEN customer IS NOT NULL THEN printf('sim_c%07d', customer) END AS user_id,
       printf('sim_a%012x', device_key) AS anonymous_id,
       printf('sim_dev%012x', device_key) AS device_id,
       CASE WHEN live IS NOT NULL THEN printf('sim_live%05d', live) END AS live_session_id,
       locale::VARCHAR AS locale,
       json_object('library', json_object('name', 'ecomops-simulator', 'version', $version),
                   'device', json_object('id', printf('sim_dev%012x', device_key), 'type', device::VARCHAR),
                   'os', json_object('name', os::VARCHAR),
                   'screen', json_object('width', screen_w, 'height', screen_h),
                   'locale', locale::VARCHAR) AS context
FROM sim_sessions
