"""HTML pages: the Jinja2 environment shared by the sign-in pages and the console, and the console's
routes (``/``, ``/t/{slug}/…``, ``/lang``), which live in ``ecomops.console``."""

from __future__ import annotations

from ecomops.console.routes import router
from ecomops.platform.console.templating import templates

__all__ = ["router", "templates"]
