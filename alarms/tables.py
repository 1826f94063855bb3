"""The alarm package's tables (SQLAlchemy Core), on their own MetaData.

They live in the business database (SQLite by default, PostgreSQL in
production) and are created by the Alembic revision
``business/migrations/versions/0101_alarms.py``; :func:`create_tables` builds the
same tables directly for a journal that runs without the business layer.
Timestamps are integer nanoseconds since the epoch (UTC): exact, sortable and
identical on every backend. Values are JSON text so a string, bool or float
process value comes back as it went in.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text)

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# SQLite only autoincrements INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for a journal.
_Id = BigInteger().with_variant(Integer(), "sqlite")

journal = Table(
    "alarm_journal", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("alarm_id", String(300), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("state_before", String(24), nullable=False),
    Column("state_after", String(24), nullable=False),
    Column("priority", String(40), nullable=False),
    Column("rule_type", String(24), nullable=False),
    Column("tag", String(300)),
    Column("area", String(100)),
    Column("equipment", String(200)),
    Column("building", String(100)),
    Column("value", Text),
    Column("limit_value", Text),
    Column("user_name", String(200)),
    Column("comment", Text),
    Column("message", Text, nullable=False, default=""),
    Index("ix_alarm_journal_ts", "ts_ns"),
    Index("ix_alarm_journal_alarm_ts", "alarm_id", "ts_ns"),
)

state = Table(
    "alarm_state", metadata,
    Column("alarm_id", String(300), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)

outbox = Table(
    "notify_outbox", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("channel", String(100), nullable=False),
    Column("recipient", String(300), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", Text),
    Column("source", String(300)),              # e.g. alarm id or "business:notice:42"
    Column("status", String(16), nullable=False),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ns", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("sent_ns", BigInteger),
    Index("ix_notify_outbox_due", "status", "next_attempt_ns"),
)

attempts = Table(
    "notify_attempt", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("notify_outbox.id", ondelete="CASCADE"), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Index("ix_notify_attempt_message", "message_id"),
)


def create_tables(engine) -> None:
    """Create the alarm tables when absent (the standalone journal; the business DB migrates)."""
    metadata.create_all(engine)
