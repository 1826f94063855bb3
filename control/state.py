"""Publishing control state (loop mode, SP, PV, OUT, schedule state ...) as tags.

Every control object publishes under ``_system/control/<kind>/<name>/<field>``,
so the HMI, the historian and alarm rules see control state like any other tag.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from tagdb.site.model import TagSpec
from tagdb.values import GOOD, Quality, Scalar, TagValue, data_type_of

log = logging.getLogger(__name__)

PREFIX = "_system/control"


def state_path(kind: str, name: str, field: str) -> str:
    """The tag path of one published field, e.g. ``_system/control/loops/ahu-1/out``."""
    return f"{PREFIX}/{kind}/{name}/{field}"


class StatePublisher:
    """Writes state values into the tag store with the clock's time as timestamp.

    The tag database only accepts values for tags it knows, so each path is
    added (``add_tags``, typed from its first value) before its first value.
    """

    def __init__(self, tags: Any, clock: Any) -> None:
        self.tags = tags
        self.clock = clock
        self._known: set[str] = set()
        self._last: dict[str, Scalar] = {}
        self._pending: dict[Quality, dict[str, Scalar]] = {}
        self._flush_call: Any = None
        self._failed_once = False

    def now(self) -> datetime:
        """The injected clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)

    def declare(self, fields: Mapping[str, Scalar], description: str = "") -> None:
        """Make sure each path exists in the tag store (typed by its sample value)."""
        new = [p for p in fields if p not in self._known]
        if not new:
            return
        add = getattr(self.tags, "add_tags", None)
        if add is not None:
            specs = [TagSpec(path=p, data_type=data_type_of(fields[p]) or "string", device=None, address=None,
                             description=description or p.rsplit("/", 1)[-1], access="r")
                     for p in new if p not in self.tags]
            if specs:
                add(specs)
        self._known.update(new)

    def publish(self, fields: Mapping[str, Scalar], quality: Quality = GOOD, batch: bool = False) -> None:
        """Publish the fields whose value changed since the last publish.

        ``batch=True`` (periodic state such as a loop's PV and OUT) collects the
        values of every caller in this reactor turn into one ``update`` at the
        end of the turn: one database batch for a hundred loops instead of a
        hundred tiny ones.
        """
        last = self._last
        changed = {p: v for p, v in fields.items() if p not in last or not _same(last[p], v)}
        if not changed:
            return
        last.update(changed)
        if batch:
            self._pending[quality] = {**self._pending.get(quality, {}), **changed}
            if self._flush_call is None:
                self._flush_call = self.clock.callLater(0, self.flush)
            return
        self._write(changed, quality)

    def flush(self) -> None:
        """Write the values batched in this turn."""
        self._flush_call = None
        pending, self._pending = self._pending, {}
        for quality, fields in pending.items():
            self._write(fields, quality)

    def _write(self, fields: Mapping[str, Scalar], quality: Quality) -> None:
        self.declare(fields)
        ts = self.now()
        values = [TagValue(path, value, quality, ts, ts) for path, value in fields.items()]
        try:
            self.tags.update(values)
        except Exception as exc:  # noqa: BLE001 - state display must never stop control
            if not self._failed_once:
                log.error("publishing control state failed: %s", exc)
                self._failed_once = True
            else:
                log.debug("publishing control state failed: %s", exc)

def _same(a: Scalar, b: Scalar) -> bool:
    """Equal values of the same type (NaN equals NaN: "no value" did not change)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and a != a and b != b:
        return True
    return a == b
