"""History queries in InfluxQL, shared by every sink that speaks InfluxDB's 1.x ``/query`` API."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Sequence

from twisted.internet.defer import Deferred, DeferredSemaphore, FirstError, gatherResults

from ...contracts import AGGREGATES, HistoryBucket, HistoryEvent, HistoryPoint
from ...values import GOOD, Quality, datetime_to_ns
from ..errors import QueryError
from ..points import BAD_QUALITY, EVENT_MEASUREMENT, ns_to_dt as ns_to_datetime


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (``tag`` and friends are keywords)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def duration(seconds: float) -> str:
    """An InfluxQL duration literal (whole microseconds)."""
    us = int(round(seconds * 1_000_000))
    if us % 1_000_000 == 0:
        return f"{us // 1_000_000}s"
    return f"{us}u"


def _paths_clause(paths: Sequence[str]) -> str:
    return "(" + " OR ".join(f'"path" = {quote_str(p)}' for p in paths) + ")"


#: Paths per ``value_at_many`` query, and the longest ``OR`` list (characters) one may carry: the
#: query travels in the URL of a GET, and InfluxDB slows down on long ``OR`` lists (see value_at_many).
MANY_CHUNK_PATHS = 100
MANY_CHUNK_CHARS = 16_000
MANY_IN_FLIGHT = 2


def path_chunks(paths: Sequence[str], max_paths: int = MANY_CHUNK_PATHS,
                max_chars: int = MANY_CHUNK_CHARS) -> list[list[str]]:
    """Split paths into chunks of at most ``max_paths`` paths and about ``max_chars`` of ``OR`` clause.

    A single path longer than ``max_chars`` still gets a chunk of its own.
    """
    chunks: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for p in paths:
        n = len(quote_str(p)) + 16   # '"path" = ' and ' OR '
        if cur and (len(cur) >= max_paths or size + n > max_chars):
            chunks.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += n
    if cur:
        chunks.append(cur)
    return chunks


def _rows(series: dict):
    cols = series["columns"]
    for values in series.get("values", []):
        yield dict(zip(cols, values))


class InfluxQueries:
    """Mixin: the :class:`tagdb.contracts.HistoryQuery` reads over ``self._query`` (InfluxQL)."""

    def _by_measurement(self, paths: Sequence[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for p in dict.fromkeys(paths):
            groups[self.schema.measurement(p)].append(p)
        return groups

    async def raw(self, paths: Sequence[str], start: datetime, end: datetime,
                  limit: int | None = None) -> dict[str, list[HistoryPoint]]:
        """Stored values per tag in ``[start, end)``."""
        out: dict[str, list[HistoryPoint]] = {p: [] for p in paths}
        s, e = datetime_to_ns(start), datetime_to_ns(end)
        for measurement, group in self._by_measurement(paths).items():
            q = (f'SELECT "value", "text", "quality" FROM {quote_ident(measurement)} WHERE {_paths_clause(group)} '
                 f'AND time >= {s} AND time < {e} GROUP BY "path" ORDER BY time ASC')
            if limit:
                q += f" LIMIT {int(limit)}"
            for series in await self._series(q):
                path = series.get("tags", {}).get("path")
                if path not in out:
                    continue
                out[path] = [_point(path, r) for r in _rows(series)]
        return out

    async def aggregate(self, paths: Sequence[str], start: datetime, end: datetime, interval_s: float,
                        aggs: Sequence[str] = AGGREGATES) -> dict[str, list[HistoryBucket]]:
        """Aggregates per epoch-aligned interval over non-Bad values (InfluxQL ``GROUP BY time``)."""
        out: dict[str, list[HistoryBucket]] = {p: [] for p in paths}
        s, e = datetime_to_ns(start), datetime_to_ns(end)
        fields = ", ".join(f'{"mean" if a == "mean" else a}("value") AS {quote_ident(a)}' for a in aggs)
        for measurement, group in self._by_measurement(paths).items():
            q = (f"SELECT {fields} FROM {quote_ident(measurement)} WHERE {_paths_clause(group)} "
                 f'AND "quality" < {BAD_QUALITY} AND time >= {s} AND time < {e} '
                 f'GROUP BY time({duration(interval_s)}), "path" fill(none)')
            for series in await self._series(q):
                path = series.get("tags", {}).get("path")
                if path not in out:
                    continue
                buckets = []
                for r in _rows(series):
                    if r.get("count", 1) == 0:
                        continue
                    buckets.append(HistoryBucket(path=path, start=ns_to_datetime(r["time"]),
                                                 **{a: r.get(a) for a in aggs}))
                out[path] = buckets
        return out

    async def value_at(self, path: str, ts: datetime) -> HistoryPoint | None:
        """The last stored value at or before ``ts``."""
        q = (f'SELECT "value", "text", "quality" FROM {quote_ident(self.schema.measurement(path))} '
             f'WHERE "path" = {quote_str(path)} AND time <= {datetime_to_ns(ts)} ORDER BY time DESC LIMIT 1')
        for series in await self._series(q):
            for r in _rows(series):
                return _point(path, r)
        return None

    async def value_at_many(self, paths: Sequence[str], ts: datetime) -> dict[str, HistoryPoint | None]:
        """``value_at`` for many paths: one InfluxQL query per measurement and chunk of paths.

        ``GROUP BY "path" ORDER BY time DESC LIMIT 1`` limits per series, so a
        query answers the newest point at or before ``ts`` of every path in
        its chunk, whichever fields it has (a Bad point without a value is
        still the answer, as with ``value_at``). Chunks stay small: InfluxDB
        1.6 evaluates the ``OR`` list per series, and 20,000 meters took 1.5 s
        in 100-path chunks but 12 s in 2,000-path ones. Up to
        :data:`MANY_IN_FLIGHT` chunks are queried at once.
        """
        out: dict[str, HistoryPoint | None] = dict.fromkeys(paths)
        t = datetime_to_ns(ts)

        async def chunk(measurement: str, group: list[str]) -> None:
            q = (f'SELECT "value", "text", "quality" FROM {quote_ident(measurement)} WHERE {_paths_clause(group)} '
                 f'AND time <= {t} GROUP BY "path" ORDER BY time DESC LIMIT 1')
            wanted = set(group)
            for series in await self._series(q):
                path = series.get("tags", {}).get("path")
                if path in wanted:
                    for r in _rows(series):
                        out[path] = _point(path, r)
                        break

        sem = DeferredSemaphore(MANY_IN_FLIGHT)
        jobs = [sem.run(lambda m=m, g=g: Deferred.fromCoroutine(chunk(m, g)))
                for measurement, group in self._by_measurement(paths).items()
                for m, g in ((measurement, g) for g in path_chunks(group))]
        if jobs:
            try:
                await gatherResults(jobs, consumeErrors=True)
            except FirstError as exc:
                # Callers handle QueryError/QueryUnavailable, not Twisted's wrapper.
                exc.subFailure.raiseException()
        return out

    async def events(self, start: datetime, end: datetime,
                     sources: Sequence[str] | None = None) -> list[HistoryEvent]:
        """Alarm events in ``[start, end)``."""
        where = f"time >= {datetime_to_ns(start)} AND time < {datetime_to_ns(end)}"
        if sources:
            where += " AND " + _paths_clause(sources)
        out = []
        for series in await self._series(f"SELECT * FROM {quote_ident(EVENT_MEASUREMENT)} WHERE {where}"):
            for r in _rows(series):
                prio = r.get("priority") or ""
                out.append(HistoryEvent(ts=ns_to_datetime(r["time"]), source=r.get("path") or "",
                                        state=r.get("state") or "", message=r.get("message") or "",
                                        priority=int(prio) if str(prio).isdigit() else prio,
                                        kind=r.get("kind") or "alarm", user=r.get("user") or "",
                                        value=r.get("value")))
        out.sort(key=lambda ev: ev.ts)
        return out

    async def _series(self, q: str) -> list[dict]:
        try:
            results = await self._query(q)
        except QueryError as exc:
            if "database not found" in str(exc):
                return []   # nothing written yet: an empty history, not a bad query
            raise
        return [s for r in results for s in r.get("series", [])]


def _point(path: str, r: dict) -> HistoryPoint:
    value = r.get("value")
    if value is None:
        value = r.get("text")
    q = r.get("quality")
    return HistoryPoint(path=path, ts=ns_to_datetime(r["time"]), value=value,
                        quality=GOOD if q is None else Quality(int(q)))
