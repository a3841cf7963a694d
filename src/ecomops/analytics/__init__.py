"""Analytics domain: the metric catalogue and the KPI engine that computes it over a tenant warehouse."""
