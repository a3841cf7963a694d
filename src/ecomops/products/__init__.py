"""Product analytics explorer: sales, stock, margin and reviews per product from the tenant warehouse."""
