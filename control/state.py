"""Publishing control state (loop mode, SP, PV, OUT, schedule state ...) as tags.

Every control object publishes under ``_system/control/<kind>/<name>/<field>``,
so the HMI, the historian and alarm rules see control state like any other tag.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from tagdb.site.model import TagSpec
from tagdb.values import GOOD, Quality, Scalar, TagValue

log = logging.getLogger(__name__)

PREFIX = "_system/control"


def state_path(kind: str, name: str, field: str) -> str:
    """The tag path of one published field, e.g. ``_system/control/loops/ahu-1/out``."""
    return f"{PREFIX}/{kind}/{name}/{field}"


def _data_type(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "string"


class StatePublisher:
    """Writes state values into the tag store with the clock's time as timestamp.

    The tag database only accepts values for tags it knows, so each path is
    added (``add_tags``, typed from its first value) before its first value.
    """

    def __init__(self, tags: Any, clock: Any) -> None:
        self.tags = tags
        self.clock = clock
        self._known: set[str] = set()
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
            specs = [TagSpec(path=p, data_type=_data_type(fields[p]), device=None, address=None,
                             description=description or p.rsplit("/", 1)[-1], access="r")
                     for p in new if p not in self.tags]
            if specs:
                add(specs)
        self._known.update(new)

    def publish(self, fields: Mapping[str, Scalar], quality: Quality = GOOD) -> None:
        """Publish several fields at once (one ``update`` call)."""
        if not fields:
            return
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
