"""Deterministic demo shop simulator: a multi-channel Chinese shop with planted, documented ground truth.

``service.seed_demo`` generates every warehouse fact table (vectorised NumPy, one PCG64 stream per
component), writes them through Arrow in one transaction, fills the operational store's catalogue and
stock, and writes a manifest of what it planted so later engines can be tested against known answers.
"""
