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

from .i18n import tr

GOOD, UNCERTAIN, BAD, STALE, WAITING = "good", "uncertain", "bad", "stale", "waiting"
STATES = (GOOD, UNCERTAIN, BAD, STALE, WAITING)


def label(state: str, lang: str = "en") -> str:
    """The quality badge of a state in ``lang`` (none for Good: only abnormal quality is marked)."""
    return "" if state == GOOD else tr(lang, f"q.{state}")


def state_name(state: str, lang: str = "en") -> str:
    """The name of a quality state in ``lang`` (Good included), e.g. for a point table."""
    return tr(lang, f"q.{state}")


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


def classify(tv: TagValue | None, device_connected: bool | None = None, lang: str = "en") -> tuple[str, str]:
    """(state, reason) of a tag value; ``device_connected`` False turns a Good value stale.

    The reason is the OPC UA status as is, or a sentence in ``lang`` for the states the HMI itself decides.
    """
    if tv is None:
        return WAITING, tr(lang, "q.why.no_value")
    q = tv.quality
    if tv.value is None or (q.code & 0xFFFF0000) == BAD_NOT_YET_READ.code:
        return WAITING, q.name
    if q.is_bad:
        return BAD, _reason(q)
    if q.is_uncertain:
        return UNCERTAIN, _reason(q)
    if device_connected is False:
        return STALE, tr(lang, "q.why.stale")
    return GOOD, ""


def _reason(q) -> str:
    """The status code name and detail; nothing for the generic codes, which say no more than the state itself."""
    text = str(q)
    return "" if text in ("Bad", "Uncertain") else text


def format_value(value, units: str = "", digits: int = 1, labels: dict | None = None, lang: str = "en") -> str:
    """Text of a value in its units (bools and enumerations through ``labels``)."""
    if value is None:
        return "—"
    if labels is not None and value in labels:
        return str(labels[value])
    if isinstance(value, bool):
        return tr(lang, "v.on" if value else "v.off")
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.{digits}f}"
    else:
        text = f"{value}"
    return f"{text} {units}".rstrip() if units else text


def show(tv: TagValue | None, units: str = "", digits: int = 1, labels: dict | None = None,
         device_connected: bool | None = None, lang: str = "en") -> Shown:
    """The :class:`Shown` form of a tag value (words in ``lang``)."""
    state, why = classify(tv, device_connected, lang)
    if state == WAITING:
        return Shown("····", state, why)
    return Shown(format_value(tv.value, units, digits, labels, lang), state, why)
