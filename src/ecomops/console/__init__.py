"""The operations console: server-rendered pages (Jinja2 + HTMX + Alpine) under ``/t/{slug}/…``."""
