"""Hash-chained, per-tenant audit log of state changes and personal-data reads."""
