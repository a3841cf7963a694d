"""Segment-compatible event ingest: validate at the edge, group-commit to a WAL, load into the warehouse."""
