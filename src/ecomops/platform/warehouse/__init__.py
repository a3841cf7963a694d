"""Analytics store: one DuckDB file per tenant (isolation by construction), analytics through Ibis."""
