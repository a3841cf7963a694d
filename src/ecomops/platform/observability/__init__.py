"""What a running server tells its operators: JSON log lines with the request's id, tenant and route
(``logs``), one access line and one latency observation per request (``access``), and Prometheus
metrics read from the live state of the ingest pipeline, imports, jobs and rollups (``metrics``,
served by ``endpoint`` at ``/metrics``). docs/operations.md describes the fields and the figures.
"""
