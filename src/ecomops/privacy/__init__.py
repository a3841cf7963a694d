"""Privacy: the PII vault, consents, data-subject requests (export, erasure) and retention."""
