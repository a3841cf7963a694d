-- End-of-local-day stock per product and warehouse.
INSERT INTO inventory_snapshots (snapshot_at, product_id, warehouse_code, on_hand, reserved)
SELECT snapshot_at, product::VARCHAR, warehouse::VARCHAR, on_hand, reserved
FROM sim_inventory
