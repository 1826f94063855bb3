"""The point schema: how a tag value becomes a buffered row and an InfluxDB line.

Buffered rows are plain tuples (``SEQ, PATH, TS, VALUE, TEXT, QUALITY, KIND``)
because the forwarder moves hundreds of thousands of them a second and a tuple
is the cheapest thing SQLite hands back.

InfluxDB layout (see docs/historian.md, "Point schema"):

* measurement = the equipment class of the tag's equipment (``elevator``,
  ``chiller``, ...), ``system`` for ``_system/...`` tags, ``point`` for the rest;
* tags = ``path`` (one series per configured tag, so cardinality is bounded by
  the site, never by values), ``equipment``, ``building``, ``point`` (the path
  below the equipment id, e.g. ``current_floor``, shared by every instance of a
  class so Grafana can chart one signal for all instances);
* fields = ``value`` (float: numbers and booleans as 0/1), ``text`` (strings),
  ``quality`` (the OPC UA status code, integer). Quality is a field, not a tag:
  as a tag it would multiply series every time a device flaps;
* time = the value's source timestamp, written in microseconds by default.

Alarm events are their own measurement (:data:`EVENT_MEASUREMENT`) so Grafana
annotations query them without touching the tag series.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from ..values import TagValue, datetime_to_ns

SEQ, PATH, TS, VALUE, TEXT, QUALITY, KIND = range(7)
KIND_VALUE = 0
KIND_EVENT = 1
EVENT_MEASUREMENT = "alarm_events"
SYSTEM_MEASUREMENT = "system"
DEFAULT_MEASUREMENT = "point"
#: Quality codes at or above this are Bad: aggregates skip them.
BAD_QUALITY = 0x80000000
PRECISION_DIVISOR = {"ns": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def value_columns(value: Any) -> tuple[float | None, str | None]:
    """Split a tag value into the (numeric, text) columns; booleans become 0/1."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None
    if isinstance(value, (int, float)):
        v = float(value)
        if not math.isfinite(v):
            # Neither InfluxDB nor SQLite store NaN/inf as numbers: keep them visible as text.
            return None, repr(v)
        return v, None
    return None, str(value)


def _ns(ts: datetime) -> int:
    """Aware datetime to integer ns; subtracting from an aware epoch refuses naive datetimes (TypeError)."""
    d = ts - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000


def tag_rows(values: Sequence[TagValue], seq0: int | None = None) -> list[tuple]:
    """Buffer rows for tag values: (path, ts_ns, value, text, quality, kind), or with seq first from ``seq0``."""
    rows = []
    append = rows.append
    for i, tv in enumerate(values):
        v = tv.value
        if v.__class__ is float and math.isfinite(v):
            num, text = v, None
        else:
            num, text = value_columns(v)
        if seq0 is None:
            append((tv.path, _ns(tv.source_ts), num, text, tv.quality.code, KIND_VALUE))
        else:
            append((seq0 + i, tv.path, _ns(tv.source_ts), num, text, tv.quality.code, KIND_VALUE))
    return rows


def event_row(event) -> tuple:
    """The buffer row (without seq) of a :class:`tagdb.contracts.HistoryEvent`."""
    payload = asdict(event)
    payload.pop("ts")
    payload.pop("source")
    value = payload.pop("value")
    num, text = value_columns(value)
    if text is not None:
        payload["value_text"] = text
    return (event.source, datetime_to_ns(event.ts), num, json.dumps(payload, default=str, sort_keys=True),
            0, KIND_EVENT)


def _escape_key(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _escape_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PointSchema:
    """Maps tag paths to InfluxDB measurement and tags, from the site model.

    Paths unknown to the site (system tags, tags added at run time) still get
    a stable series: ``system`` for ``_system/`` paths, ``point`` otherwise.
    """

    def __init__(self, site=None) -> None:
        self._info: dict[str, tuple[str, dict[str, str]]] = {}
        self._prefix: dict[str, str] = {}
        self._equipment: dict[str, tuple[str, str, str | None]] = {}
        if site is None:
            return
        buildings = {}
        for eq in site.equipment:
            self._equipment[eq.id] = (eq.id, eq.equipment_class, eq.building)
            for path in eq.tags:
                tags = {"path": path, "equipment": eq.id, "point": path[len(eq.id) + 1:]
                        if path.startswith(eq.id + "/") else path}
                if eq.building:
                    tags["building"] = eq.building
                self._info[path] = (eq.equipment_class, tags)
                buildings[eq.id] = eq.building
        for spec in site.tags:
            if spec.path not in self._info and spec.equipment:
                eq_class = next((e.equipment_class for e in site.equipment if e.id == spec.equipment), None)
                if eq_class:
                    tags = {"path": spec.path, "equipment": spec.equipment,
                            "point": spec.path.rsplit("/", 1)[-1]}
                    if buildings.get(spec.equipment):
                        tags["building"] = buildings[spec.equipment]
                    self._info[spec.path] = (eq_class, tags)

    def series(self, path: str) -> tuple[str, dict[str, str]]:
        """(measurement, tags) of ``path``."""
        info = self._info.get(path)
        if info is None:
            info = self._by_equipment_prefix(path)
            if info is None:
                measurement = SYSTEM_MEASUREMENT if path.startswith("_system/") else DEFAULT_MEASUREMENT
                info = (measurement, {"path": path, "point": path.rsplit("/", 1)[-1]})
            self._info[path] = info
        return info

    def _by_equipment_prefix(self, path: str) -> tuple[str, dict[str, str]] | None:
        """A path under an equipment id (an alarm source, a run-time tag) belongs to that equipment."""
        parts = path.split("/")
        for n in range(len(parts) - 1, 0, -1):
            eq = self._equipment.get("/".join(parts[:n]))
            if eq is not None:
                eq_id, eq_class, building = eq
                tags = {"path": path, "equipment": eq_id, "point": "/".join(parts[n:])}
                if building:
                    tags["building"] = building
                return eq_class, tags
        return None

    def measurement(self, path: str) -> str:
        """The measurement holding ``path``."""
        return self.series(path)[0]

    def measurements(self) -> list[str]:
        """Every measurement the site's tags map to (sorted)."""
        return sorted({m for m, _ in self._info.values()} | {SYSTEM_MEASUREMENT, DEFAULT_MEASUREMENT})

    def prefix(self, path: str) -> str:
        """The escaped ``measurement,tag=v,...`` start of a line (cached per path)."""
        p = self._prefix.get(path)
        if p is None:
            measurement, tags = self.series(path)
            p = _escape_measurement(measurement) + "".join(
                f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags.items()) if v)
            self._prefix[path] = p
        return p

    def encode(self, rows: Sequence[tuple], precision: str = "u") -> list[str]:
        """Line-protocol lines for buffered rows (values and events); the forwarder's hot loop."""
        div = PRECISION_DIVISOR[precision]
        cache = self._prefix
        lines = []
        append = lines.append
        for row in rows:
            _, path, ts, v, text, q, kind = row
            p = cache.get(path) or self.prefix(path)
            if kind:
                append(self.encode_event(row, div))
            elif v is not None:
                append(f"{p} value={v!r},quality={q}i {ts // div}")
            elif text is not None:
                append(f'{p} text="{_escape_string(text)}",quality={q}i {ts // div}')
            else:
                append(f"{p} quality={q}i {ts // div}")
        return lines

    def encode_event(self, row: tuple, div: int) -> str:
        """One ``alarm_events`` line: tags path/state/priority/kind, fields message/user/value."""
        payload = json.loads(row[TEXT])
        _, series_tags = self.series(row[PATH])
        eq = (payload.get("attributes") or {}).get("equipment")
        if eq and not series_tags.get("equipment") and eq in self._equipment:
            # The alarm engine names the equipment when the source is an alarm id, not a path.
            _, _, building = self._equipment[eq]
            series_tags = {**series_tags, "equipment": eq, "building": building or ""}
        tags = {"path": row[PATH], "state": str(payload.get("state", "")),
                "priority": str(payload.get("priority", "")), "kind": str(payload.get("kind", "alarm")),
                "equipment": series_tags.get("equipment", ""), "building": series_tags.get("building", "")}
        fields = [f'message="{_escape_string(str(payload.get("message", "")))}"',
                  f'user="{_escape_string(str(payload.get("user", "")))}"']
        if row[VALUE] is not None and math.isfinite(row[VALUE]):
            fields.append(f"value={row[VALUE]!r}")
        tag_str = "".join(f",{k}={_escape_key(v)}" for k, v in sorted(tags.items()) if v)
        return f"{EVENT_MEASUREMENT}{tag_str} {','.join(fields)} {row[TS] // div}"


def ns_to_dt(ns: int) -> datetime:
    """Integer ns to an aware UTC datetime, exact to the microsecond (no float rounding)."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)
