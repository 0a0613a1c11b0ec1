"""Alembic migrations for every domain's tables (one linear history)."""
