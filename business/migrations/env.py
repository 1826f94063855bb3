"""Alembic environment of the business database.

Run through :func:`business.database.migrate` (which hands over a live
connection in ``config.attributes["connection"]``), or with the alembic CLI
and ``-x url=...``. Other packages add their tables as revisions in
``versions/`` of this same environment (see docs/business.md).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import business.models  # noqa: F401  (registers every table on the metadata)
from business.models.base import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Migrate over the connection we were given, or one made from ``-x url=``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations()
