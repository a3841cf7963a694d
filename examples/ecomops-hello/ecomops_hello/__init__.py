"""ecomops-hello: the example third-party module (docs/modules.md)."""
