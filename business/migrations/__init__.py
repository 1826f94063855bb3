"""Alembic migrations of the business database (one revision chain in ``versions/``)."""
