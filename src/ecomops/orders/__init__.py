"""Orders explorer: filtered, keyset-paginated order lists and order details from the tenant warehouse."""
