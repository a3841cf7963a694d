-- Pseudonymous customers: device ids and address hashes are keyed pseudonyms, never PII.
INSERT INTO customers (customer_id, source, first_seen_at, last_seen_at, signup_at, channel, country, region, city,
                       attributes)
SELECT printf('sim_c%07d', cidx), 'simulator', signup_at, last_seen_at, signup_at, channel::VARCHAR, 'CN',
       region::VARCHAR, city::VARCHAR,
       json_object('device_id', printf('sim_dev%012x', device_key),
                   'address_hash', printf('addr_%012x', address_key),
                   'phone_os', phone_os::VARCHAR, 'gender', gender::VARCHAR, 'age_band', age_band::VARCHAR,
                   'favourite_category', favourite_category::VARCHAR, 'locale', locale::VARCHAR,
                   'member_level', member_level::VARCHAR)
FROM sim_customers
