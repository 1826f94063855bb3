"""``/api/v1/history``: history queries, value-at-boundary reads, store-and-forward status.

    GET /api/v1/history?tags=a,b&start=...&end=...[&agg=min,max,mean,last,count&interval=5m][&limit=N]
    GET /api/v1/history/at?tags=a,b&ts=...          last value at or before ts (billing reads)
    GET /api/v1/history/events?start=...&end=...[&tags=...]
    GET /api/v1/history/status                      buffer and per-sink figures
    GET /api/v1/history/quarantine[?sink=name&limit=N]

Times are ISO 8601 with a zone (``2026-11-28T08:00:00Z``) or relative to now
(``now``, ``now-15m``). Every error is JSON naming the bad parameter.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..api.auth import anonymous_read_allowed, require
from ..api.http import ApiError, JsonResource, iso, json_value, query_arg
from ..contracts import AGGREGATES
from .errors import QueryError, QueryUnavailable

MAX_TAGS = 200
_REL = re.compile(r"^now(?:\s*-\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w))?$")
_DUR = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def _bad(parameter: str, message: str) -> ApiError:
    return ApiError(400, "bad_parameter", f"{parameter}: {message}", parameter=parameter)


def parse_time(value: str | None, name: str, now: datetime) -> datetime:
    """ISO 8601 with a zone, or ``now[-<duration>]``."""
    if value is None or not value.strip():
        raise _bad(name, "is required (ISO 8601 with a zone, e.g. 2026-11-28T08:00:00Z, or now-1h)")
    v = value.strip()
    m = _REL.match(v)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)]) if m.group(1) else now
    try:
        ts = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad(name, f"{value!r} is not an ISO 8601 time or now-<duration>") from None
    if ts.tzinfo is None:
        raise _bad(name, f"{value!r} has no time zone; add Z or +08:00")
    return ts.astimezone(timezone.utc)


def parse_duration(value: str, name: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h``, ``1d``, ``250ms`` in seconds (> 0)."""
    m = _DUR.match(value.strip())
    if not m or float(m.group(1)) <= 0:
        raise _bad(name, f"{value!r} is not a positive duration such as 60s, 5m, 1h")
    return float(m.group(1)) * _UNIT[m.group(2)]


class HistoryResource(JsonResource):
    """The history endpoints (see the module docstring)."""

    def __init__(self, historian: Any, ctx: Any, limits: dict) -> None:
        super().__init__()
        self.historian = historian
        self.ctx = ctx
        self.max_range = float(limits["max_range"])
        self.max_raw_range = float(limits["max_raw_range"])
        self.max_points = int(limits["max_points"])

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.ctx.reactor.seconds(), tz=timezone.utc)

    async def on_get(self, request):
        """Dispatch ``/history`` and its sub-resources (reads need ``tags.read``)."""
        require(request, self.ctx, "tags.read", anonymous=anonymous_read_allowed(self.ctx))
        sub = [p.decode("utf-8", "replace") for p in request.postpath if p]
        handler = {(): self._query, ("at",): self._at, ("events",): self._events,
                   ("status",): self._status, ("quarantine",): self._quarantine}.get(tuple(sub))
        if handler is None:
            raise ApiError(404, "not_found", f"no history endpoint /{'/'.join(sub)}; "
                           "use /history, /history/at, /history/events, /history/status, /history/quarantine")
        try:
            return 200, await handler(request)
        except QueryError as exc:
            raise _bad(exc.parameter or "query", str(exc)) from None
        except QueryUnavailable as exc:
            raise ApiError(503, "history_unavailable", str(exc)) from None

    def _tags(self, request, required: bool = True) -> list[str]:
        raw = query_arg(request, "tags")
        if raw is None or not raw.strip():
            if required:
                raise _bad("tags", "is required: a comma-separated list of tag paths")
            return []
        tags = [t.strip() for t in raw.split(",") if t.strip()]
        if len(tags) > MAX_TAGS:
            raise _bad("tags", f"{len(tags)} tags; at most {MAX_TAGS} per request")
        db = self.ctx.tags
        if db is not None:
            unknown = [t for t in tags if t not in db]
            if unknown:
                raise _bad("tags", f"unknown tag(s): {', '.join(unknown[:5])}")
        return tags

    def _range(self, request) -> tuple[datetime, datetime]:
        now = self._now()
        start = parse_time(query_arg(request, "start"), "start", now)
        end = parse_time(query_arg(request, "end") or "now", "end", now)
        if end <= start:
            raise _bad("end", "must be after start")
        return start, end

    async def _query(self, request) -> dict:
        tags = self._tags(request)
        start, end = self._range(request)
        span = (end - start).total_seconds()
        agg = query_arg(request, "agg")
        interval_arg = query_arg(request, "interval")
        if agg is None:
            if interval_arg is not None:
                raise _bad("agg", "interval needs agg (e.g. agg=mean)")
            if span > self.max_raw_range:
                raise _bad("end", f"raw range of {span:.0f} s exceeds {self.max_raw_range:.0f} s; use agg and interval")
            limit = self._limit(request, len(tags))
            result = await self.historian.raw(tags, start, end, limit=limit + 1)
            series = []
            for path in tags:
                pts = result.get(path, [])
                series.append({"path": path, "truncated": len(pts) > limit,
                               "points": [[iso(p.ts), json_value(p.value), p.quality.code] for p in pts[:limit]]})
            return {"start": iso(start), "end": iso(end), "columns": ["ts", "value", "quality"], "series": series}
        aggs = [a.strip() for a in agg.split(",") if a.strip()]
        bad = [a for a in aggs if a not in AGGREGATES]
        if bad or not aggs:
            raise _bad("agg", f"unknown aggregate(s) {', '.join(bad) or '(none)'}; use {', '.join(AGGREGATES)}")
        if interval_arg is None:
            raise _bad("interval", "is required with agg (e.g. interval=5m)")
        interval = parse_duration(interval_arg, "interval")
        if span > self.max_range:
            raise _bad("end", f"range of {span:.0f} s exceeds the limit of {self.max_range:.0f} s")
        buckets = len(tags) * (span / interval + 1)
        if buckets > self.max_points:
            raise _bad("interval", f"{int(buckets)} buckets exceed the limit of {self.max_points}; use a longer interval")
        result = await self.historian.aggregate(tags, start, end, interval, aggs)
        series = [{"path": p, "buckets": [[iso(b.start), *(json_value(getattr(b, a)) for a in aggs)]
                                          for b in result.get(p, [])]} for p in tags]
        return {"start": iso(start), "end": iso(end), "interval_s": interval, "columns": ["start", *aggs],
                "series": series}

    def _limit(self, request, ntags: int) -> int:
        raw = query_arg(request, "limit")
        cap = max(1, self.max_points // max(1, ntags))
        if raw is None:
            return cap
        try:
            n = int(raw)
        except ValueError:
            raise _bad("limit", f"{raw!r} is not an integer") from None
        if n < 1:
            raise _bad("limit", "must be at least 1")
        return min(n, cap)

    async def _at(self, request) -> dict:
        tags = self._tags(request)
        ts = parse_time(query_arg(request, "ts"), "ts", self._now())
        readings = await self.historian.readings_at(tags, ts)
        return {"ts": iso(ts), "readings": [
            {"path": p, "ts": iso(r.ts) if r else None, "value": json_value(r.value) if r else None,
             "quality": r.quality.code if r else None, "quality_name": r.quality.name if r else None}
            for p, r in readings.items()]}

    async def _events(self, request) -> dict:
        start, end = self._range(request)
        tags = self._tags(request, required=False) if query_arg(request, "tags") else None
        events = await self.historian.events(start, end, tags)
        return {"events": [{"ts": iso(e.ts), "source": e.source, "state": e.state, "priority": e.priority,
                            "kind": e.kind, "message": e.message, "user": e.user, "value": json_value(e.value)}
                           for e in events]}

    async def _status(self, request) -> dict:
        return self.historian.status()

    async def _quarantine(self, request) -> dict:
        sink = query_arg(request, "sink")
        if sink is not None and sink not in self.historian.forwarders:
            raise _bad("sink", f"no sink {sink!r}; sinks: {', '.join(self.historian.forwarders)}")
        limit_arg = query_arg(request, "limit") or "100"
        if not limit_arg.isdigit() or int(limit_arg) < 1:
            raise _bad("limit", f"{limit_arg!r} is not a positive integer")
        return {"points": self.historian.buffer.quarantined(sink, min(int(limit_arg), 1000))}


def _operations():
    from ..api.openapi import Operation, Param, Response, errors

    obj = {"type": "object"}
    rows = {"type": "array", "items": obj}
    tags = Param("tags", description="comma-separated tag paths", required=True)
    start, end = Param("start", description="ISO 8601 with a zone, or now-<duration>"), Param("end")
    common = dict(tags=("history",), permission="tags.read")
    return (
        Operation("GET", "/history", "Raw values or aggregates per interval", "historyQuery",
                  parameters=(tags, start, end, Param("agg", description="min,max,mean,last,count"),
                              Param("interval", description="e.g. 5m (with agg)"), Param("limit")),
                  responses={200: Response("Series per tag", obj), **errors(400, 401, 403, 503)}, **common),
        Operation("GET", "/history/at", "Last value at or before a time (billing boundary reads)", "historyAt",
                  parameters=(tags, Param("ts", required=True)),
                  responses={200: Response("Reading per tag with its timestamp and quality", obj),
                             **errors(400, 401, 403, 503)}, **common),
        Operation("GET", "/history/events", "Alarm events for annotations", "historyEvents",
                  parameters=(start, end, Param("tags")),
                  responses={200: Response("Events", rows), **errors(400, 401, 403, 503)}, **common),
        Operation("GET", "/history/status", "Store-and-forward buffer and per-sink figures", "historyStatus",
                  responses={200: Response("Status", obj), **errors(401, 403)}, **common),
        Operation("GET", "/history/quarantine", "Points a sink refused as malformed", "historyQuarantine",
                  parameters=(Param("sink"), Param("limit")),
                  responses={200: Response("Quarantined points", obj), **errors(400, 401, 403)}, **common),
    )


#: The OpenAPI operations of :class:`HistoryResource`, passed to ``ctx.mount_api``.
OPERATIONS = _operations()
