"""ecomops: a self-hostable e-commerce operations platform."""

__version__ = "0.1.0"
