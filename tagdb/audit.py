"""Write audit: an append-only JSON-lines file, one record per write attempt.

Records are flushed at once (they survive a crash of the process) and
fsync'd once per reactor turn (see :mod:`tagdb.jsonl`).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Iterator

from .jsonl import JsonlAppender
from .values import WriteAudit, WriteStatus

log = logging.getLogger(__name__)


def audit_to_dict(audit: WriteAudit) -> dict:
    """A JSON-ready dict of one audit record (timestamps ISO 8601 UTC)."""
    record = {
        "ts": audit.ts.isoformat(),
        "user": audit.user,
        "path": audit.path,
        "old_value": audit.old_value,
        "new_value": audit.new_value,
        "status": audit.status.value,
        "message": audit.message,
        "reason": audit.reason,
    }
    if audit.extra:
        record["extra"] = audit.extra
    return record


def audit_from_dict(record: dict) -> WriteAudit:
    """The WriteAudit of one decoded JSON line."""
    return WriteAudit(
        ts=datetime.fromisoformat(record["ts"]),
        user=record["user"],
        path=record["path"],
        old_value=record.get("old_value"),
        new_value=record.get("new_value"),
        status=WriteStatus(record["status"]),
        message=record.get("message", ""),
        reason=record.get("reason", ""),
        extra=record.get("extra", {}),
    )


class JsonlAuditSink:
    """Appends write audits to ``path`` (created with its folder on first use).

    With ``clock`` the fsync is grouped per reactor turn; without, per record.
    """

    def __init__(self, path: str | os.PathLike, clock: Any = None) -> None:
        self.path = Path(path)
        self._file = JsonlAppender(self.path, clock)

    def record(self, audit: WriteAudit) -> None:
        """Append one record."""
        self._file.append(audit_to_dict(audit))

    def close(self) -> None:
        """Make every record durable and close the file."""
        self._file.close()

    def __iter__(self) -> Iterator[WriteAudit]:
        return iter_audits(self.path)

    def recent(self, n: int = 50, path: str | None = None, user: str | None = None) -> list[WriteAudit]:
        """The last ``n`` records (oldest first), optionally only those of one tag or user."""
        keep: deque[WriteAudit] = deque(maxlen=max(n, 0))
        for audit in iter_audits(self.path):
            if (path is None or audit.path == path) and (user is None or audit.user == user):
                keep.append(audit)
        return list(keep)


def iter_audits(path: str | os.PathLike) -> Iterator[WriteAudit]:
    """Every record of an audit file in order; a damaged line is logged and skipped.

    A line can only be damaged by a crash in the middle of an append (the last
    line) or by hand editing; the rest of the trail stays readable.
    """
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield audit_from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("%s:%d: unreadable audit record skipped: %s", p, lineno, exc)


class MemoryAuditSink:
    """Keeps audits in a list (tests, and sites that configure no data folder)."""

    def __init__(self) -> None:
        self.records: list[WriteAudit] = []

    def record(self, audit: WriteAudit) -> None:
        """Keep one record."""
        self.records.append(audit)
