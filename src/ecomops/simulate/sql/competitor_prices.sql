INSERT INTO competitor_prices (observed_at, product_id, competitor, price, currency, in_stock, url)
SELECT observed_at, product::VARCHAR, competitor::VARCHAR, price, $currency, in_stock,
       url_prefix::VARCHAR || sku::VARCHAR
FROM sim_competitors
