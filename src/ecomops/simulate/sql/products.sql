-- Demo catalogue; list price and cost in the shop currency.
INSERT INTO products (product_id, sku, name, category, subcategory, brand, price, cost, currency, status,
                      attributes, updated_at)
SELECT product_id, sku, name, category, subcategory, brand, price, cost, $currency, 'active',
       attributes::JSON, $as_of
FROM sim_products
