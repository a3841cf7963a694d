"""Operational store: the system of record for things people edit (SQLAlchemy 2.0 + Alembic)."""
