"""Tenants, event sources with write keys, and API keys."""
