"""Bulk import of order exports (Online Retail II, Olist, Shopify, generic mapping) into the warehouse.

Files are streamed in chunks into a private staging DuckDB, validated row by row (bad rows go
to a reject CSV with the reason), turned into warehouse rows with deterministic ids, and applied
in one warehouse transaction, so an import either lands completely or not at all and a
re-import of the same file adds nothing.
"""
