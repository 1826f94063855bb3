"""Declarative base and the column types shared by every business table.

Timestamps are stored as UTC and always come back timezone-aware (SQLite drops
the offset, so a small decorator restores it). Money and areas are ``Numeric``
with a fixed scale and come back as ``Decimal``; never float.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import JSON, DateTime, MetaData, Numeric, exc
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# SQLite keeps NUMERIC as REAL; values are quantized back to the column scale on
# read, which is exact for the magnitudes a property company handles.
warnings.filterwarnings("ignore", category=exc.SAWarning, message=r".*does \*not\* support Decimal.*")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every business model; constraint names are deterministic for migrations."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: business timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def Money() -> Numeric:
    """Amount of money in yuan with fen precision (Decimal)."""
    return Numeric(14, 2, asdecimal=True)


def Area() -> Numeric:
    """Floor area in square metres (Decimal, 2 places)."""
    return Numeric(12, 2, asdecimal=True)


def utcnow() -> datetime:
    """Current UTC time (models' default; services pass their injected clock instead)."""
    return datetime.now(timezone.utc)


JSONType = JSON
ZERO = Decimal("0")
