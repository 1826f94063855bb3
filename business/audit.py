"""The append-only audit log: who changed what, when, with before and after values.

Rows are only ever inserted; the database refuses UPDATE and DELETE on the
table (migration 0002), so history cannot be rewritten through any path.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from .models import AuditEntry

SECRET_COLUMNS = frozenset({"password_hash", "digest", "password"})


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: Decimal as string (exact), dates as ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def snapshot(obj: Any) -> dict:
    """Column values of a model instance, secrets left out."""
    mapper = inspect(obj).mapper
    return {c.key: jsonable(getattr(obj, c.key)) for c in mapper.column_attrs if c.key not in SECRET_COLUMNS}


def record(session: Session, actor: str, action: str, entity: str, entity_id: Any, before: dict | None,
           after: dict | None, now: dt.datetime) -> AuditEntry:
    """Append one audit entry in the caller's transaction."""
    entry = AuditEntry(at=now, actor=actor, action=action, entity=entity, entity_id=str(entity_id or ""),
                       before=jsonable(before) if before is not None else None,
                       after=jsonable(after) if after is not None else None)
    session.add(entry)
    return entry
