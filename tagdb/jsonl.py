"""Append-only JSON-lines files with group commit, for audit trails.

Each record is written and flushed to the OS at once, so it survives a crash
of the process. The fsync that makes it survive a crash of the machine is
done once per reactor turn for everything appended in that turn: with one
fsync per record, 500 control-loop writes a second stalled the reactor and
starved the Modbus polls (measured in bench_control).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


def _plain(value: Any) -> str:
    """JSON fallback: ISO 8601 for datetimes, str() for the rest (Decimal, enums)."""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


class JsonlAppender:
    """Appends JSON records to ``path``; fsync per reactor turn when given a clock.

    Without a clock (scripts, tests of the format) every record is fsync'd
    before :meth:`append` returns.
    """

    def __init__(self, path: str | os.PathLike, clock: Any = None) -> None:
        self.path = Path(path)
        self._clock = clock
        self._fh: TextIO | None = None
        self._sync_call = None

    def append(self, record: dict) -> None:
        """Write one record (datetimes as ISO 8601, other non-JSON values as text)."""
        fh = self._open()
        fh.write(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
        fh.flush()
        if self._clock is None:
            os.fsync(fh.fileno())
        elif self._sync_call is None:
            self._sync_call = self._clock.callLater(0, self.sync)

    def sync(self) -> None:
        """Make everything appended so far durable."""
        self._sync_call = None
        if self._fh is not None:
            try:
                os.fsync(self._fh.fileno())
            except OSError:
                log.exception("could not fsync %s", self.path)

    def close(self) -> None:
        """Sync and close the file (it is reopened by the next append)."""
        if self._sync_call is not None and self._sync_call.active():
            self._sync_call.cancel()
        self.sync()
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _open(self) -> TextIO:
        # Reopen when log rotation moved the file away, so records never go
        # to a renamed file nobody reads.
        if self._fh is not None and not self.path.exists():
            self._fh.close()
            self._fh = None
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        return self._fh
