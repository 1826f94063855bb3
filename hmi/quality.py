"""How a live value is shown: its text and its quality state, never a stale number dressed as live.

Five states, each rendered distinctly (see :mod:`hmi.render`): ``good``,
``uncertain`` (OPC UA Uncertain codes), ``bad`` (any Bad code: the last value,
if any, is shown struck through next to the reason), ``stale`` (the value is
Good but its device reports it is not connected, so it is no longer being
refreshed) and ``waiting`` (not yet read since start-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tagdb.values import BAD_NOT_YET_READ, TagValue

GOOD, UNCERTAIN, BAD, STALE, WAITING = "good", "uncertain", "bad", "stale", "waiting"
LABELS = {GOOD: "", UNCERTAIN: "Uncertain", BAD: "Bad", STALE: "Stale", WAITING: "Not yet read"}


@dataclass(frozen=True, slots=True)
class Shown:
    """A value ready for display: text, quality state and an explanation for the tooltip."""

    text: str
    state: str
    why: str = ""

    @property
    def live(self) -> bool:
        """True only for a Good value that is still being refreshed."""
        return self.state == GOOD


def classify(tv: TagValue | None, device_connected: bool | None = None) -> tuple[str, str]:
    """(state, reason) of a tag value; ``device_connected`` False turns a Good value stale."""
    if tv is None:
        return WAITING, "no value"
    q = tv.quality
    if tv.value is None or (q.code & 0xFFFF0000) == BAD_NOT_YET_READ.code:
        return WAITING, q.name
    if q.is_bad:
        return BAD, str(q)
    if q.is_uncertain:
        return UNCERTAIN, str(q)
    if device_connected is False:
        return STALE, "device not connected: last value received before the connection was lost"
    return GOOD, ""


def format_value(value, units: str = "", digits: int = 1, labels: dict | None = None) -> str:
    """Text of a value in its units (bools and enumerations through ``labels``)."""
    if value is None:
        return "—"
    if labels is not None and value in labels:
        return str(labels[value])
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.{digits}f}"
    else:
        text = f"{value}"
    return f"{text} {units}".rstrip() if units else text


def show(tv: TagValue | None, units: str = "", digits: int = 1, labels: dict | None = None,
         device_connected: bool | None = None) -> Shown:
    """The :class:`Shown` form of a tag value."""
    state, why = classify(tv, device_connected)
    if state == WAITING:
        return Shown("····", state, why)
    return Shown(format_value(tv.value, units, digits, labels), state, why)
