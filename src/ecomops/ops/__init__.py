"""Operating an installation: health checks (``ecomops doctor``) and other admin tooling."""
