"""History queries over the embedded SQLite store, using the rollups where they are exact.

An aggregate over whole minutes (or hours) reads the ``r1m`` (``r1h``) rollups
for the aligned middle of the range and the raw table only for the ragged
edges, so a 30-day trend reads ~720 rows per tag instead of millions, and the
answer is the same as computing it from raw values.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Sequence

from ...contracts import AGGREGATES, HistoryBucket, HistoryEvent, HistoryPoint
from ...values import GOOD, Quality, datetime_to_ns
from ..points import BAD_QUALITY, ns_to_dt

MINUTE = 60 * 10**9
HOUR = 3600 * 10**9
_GOOD = f"quality < {BAD_QUALITY} AND value IS NOT NULL"


class EmbeddedQueries:
    """Mixin of :class:`EmbeddedSink`: the :class:`tagdb.contracts.HistoryQuery` reads."""

    def _sid_for(self, db, path: str) -> int | None:
        sid = self._series.get(path)
        if sid is None:
            row = db.execute("SELECT id FROM series WHERE path = ?", (path,)).fetchone()
            sid = row[0] if row else None
        return sid

    async def raw(self, paths: Sequence[str], start: datetime, end: datetime,
                  limit: int | None = None) -> dict[str, list[HistoryPoint]]:
        """Stored values per tag in ``[start, end)``."""
        return await self._in(self._reader, self._raw, list(paths), datetime_to_ns(start),
                              datetime_to_ns(end), limit)

    def _raw(self, paths, s, e, limit):
        db = self._conn()
        out = {}
        for path in paths:
            sid = self._sid_for(db, path)
            rows = [] if sid is None else db.execute(
                "SELECT ts, value, text, quality FROM raw WHERE sid = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
                (sid, s, e, -1 if limit is None else int(limit))).fetchall()
            out[path] = [_point(path, *r) for r in rows]
        return out

    async def aggregate(self, paths: Sequence[str], start: datetime, end: datetime, interval_s: float,
                        aggs: Sequence[str] = AGGREGATES) -> dict[str, list[HistoryBucket]]:
        """Aggregates per epoch-aligned interval over non-Bad numeric values."""
        return await self._in(self._reader, self._aggregate, list(paths), datetime_to_ns(start),
                              datetime_to_ns(end), int(round(interval_s * 1e9)), tuple(aggs))

    def _aggregate(self, paths, s, e, step, aggs):
        db = self._conn()
        grain = HOUR if step % HOUR == 0 else MINUTE if step % MINUTE == 0 else None
        sids = {p: self._sid_for(db, p) for p in paths}
        known = sorted({sid for sid in sids.values() if sid is not None})
        if known and grain == step and s % grain == 0 and e % grain == 0:
            return self._whole_rollup_buckets(db, sids, known, s, e, step, aggs)
        parts: dict[int, dict[int, list]] = {sid: {} for sid in known}
        if known:
            a = -(-s // grain) * grain if grain else e
            b = e // grain * grain if grain else e
            if grain and a < b:
                self._merge(parts, self._rollup_parts(db, "r1h" if grain == HOUR else "r1m", known, a, b, step))
                self._merge(parts, self._raw_parts(db, known, s, a, step))
                self._merge(parts, self._raw_parts(db, known, b, e, step))
            else:
                self._merge(parts, self._raw_parts(db, known, s, e, step))
        starts: dict[int, object] = {}   # bucket start datetimes, shared by every tag
        want = tuple(a in aggs for a in AGGREGATES)
        return {path: [] if sid is None else
                [_bucket(path, bb, p, want, starts) for bb, p in sorted(parts[sid].items()) if p[3]]
                for path, sid in sids.items()}

    @staticmethod
    def _whole_rollup_buckets(db, sids, known, s, e, step, aggs):
        """The common trend case: buckets are exactly the rollup rows, read and built in one pass."""
        table = "r1h" if step == HOUR else "r1m"
        rows = db.execute(f"SELECT sid, b, min, max, sum, n, last FROM {table} WHERE sid IN "
                          f"({','.join(map(str, known))}) AND b >= ? AND b < ? AND n > 0 ORDER BY sid, b",
                          (s, e)).fetchall()
        w_min, w_max, w_mean, w_last, w_count = (a in aggs for a in AGGREGATES)
        starts: dict[int, object] = {}
        per: dict[int, list] = {sid: [] for sid in known}
        path_of = {sid: path for path, sid in sids.items() if sid is not None}
        for sid, b, mn, mx, sm, n, last in rows:
            start = starts.get(b)
            if start is None:
                start = starts[b] = ns_to_dt(b)
            per[sid].append(HistoryBucket(path_of[sid], start, mn if w_min else None, mx if w_max else None,
                                          sm / n if w_mean else None, last if w_last else None,
                                          n if w_count else None))
        return {path: [] if sid is None else per[sid] for path, sid in sids.items()}

    @staticmethod
    def _raw_parts(db, sids, s, e, step):
        if s >= e:
            return []
        where = (f"FROM raw WHERE sid IN ({','.join(map(str, sids))}) AND ts >= ? AND ts < ? AND {_GOOD} "
                 "GROUP BY sid, bb")
        stats = db.execute(f"SELECT sid, ts - ts % ? AS bb, min(value), max(value), sum(value), count(value) "
                           f"{where}", (step, s, e)).fetchall()
        # A lone max() makes SQLite take the bare column from the row holding the maximum.
        lasts = {(sid, bb): (v, t) for sid, bb, v, t in
                 db.execute(f"SELECT sid, ts - ts % ? AS bb, value, max(ts) {where}", (step, s, e))}
        return [(sid, bb, mn, mx, sm, n, *lasts[(sid, bb)]) for sid, bb, mn, mx, sm, n in stats]

    @staticmethod
    def _rollup_parts(db, table, sids, s, e, step):
        sid_list = ",".join(map(str, sids))
        grain = HOUR if table == "r1h" else MINUTE
        if step == grain:
            # Buckets are the rollup rows themselves: no grouping needed.
            return db.execute(f"SELECT sid, b, min, max, sum, n, last, last_ts FROM {table} "
                              f"WHERE sid IN ({sid_list}) AND b >= ? AND b < ? AND n > 0", (s, e)).fetchall()
        where = f"FROM {table} WHERE sid IN ({sid_list}) AND b >= ? AND b < ? AND n > 0 GROUP BY sid, bb"
        stats = db.execute(f"SELECT sid, b - b % ? AS bb, min(min), max(max), sum(sum), sum(n) {where}",
                           (step, s, e)).fetchall()
        lasts = {(sid, bb): (v, t) for sid, bb, v, t in
                 db.execute(f"SELECT sid, b - b % ? AS bb, last, max(last_ts) {where}", (step, s, e))}
        return [(sid, bb, mn, mx, sm, n, *lasts[(sid, bb)]) for sid, bb, mn, mx, sm, n in stats]

    @staticmethod
    def _merge(parts: dict, rows) -> None:
        for sid, bb, mn, mx, sm, n, last, last_ts in rows:
            per = parts[sid]
            p = per.get(bb)
            if p is None:
                per[bb] = [mn, mx, sm, n, last, last_ts]
                continue
            p[0] = min(p[0], mn)
            p[1] = max(p[1], mx)
            p[2] += sm
            p[3] += n
            if last_ts > p[5]:
                p[4], p[5] = last, last_ts

    async def value_at(self, path: str, ts: datetime) -> HistoryPoint | None:
        """The last stored value at or before ``ts`` (from the rollups once raw data has expired)."""
        return await self._in(self._reader, self._value_at, path, datetime_to_ns(ts))

    def _value_at(self, path, t):
        db = self._conn()
        sid = self._sid_for(db, path)
        if sid is None:
            return None
        row = db.execute("SELECT ts, value, text, quality FROM raw WHERE sid = ? AND ts <= ? ORDER BY ts DESC "
                         "LIMIT 1", (sid, t)).fetchone()
        if row is not None:
            return _point(path, *row)
        for table in ("r1m", "r1h"):
            row = db.execute(f"SELECT last_ts, last FROM {table} WHERE sid = ? AND last_ts <= ? AND n > 0 "
                             "ORDER BY b DESC LIMIT 1", (sid, t)).fetchone()
            if row is not None:
                return _point(path, row[0], row[1], None, GOOD.code)
        return None

    async def value_at_many(self, paths: Sequence[str], ts: datetime) -> dict[str, HistoryPoint | None]:
        """``value_at`` for every path in one reader-thread call, from one consistent snapshot."""
        return await self._in(self._reader, self._value_at_many, list(dict.fromkeys(paths)), datetime_to_ns(ts))

    def _value_at_many(self, paths, t):
        # The per-path lookups are index seeks of a few microseconds; what made 20,000 separate
        # value_at calls slow was the thread hop and Deferred per call, so one hop runs them all.
        # A read transaction keeps every boundary reading from the same snapshot of the store.
        db = self._conn()
        db.execute("BEGIN")
        try:
            return {path: self._value_at(path, t) for path in paths}
        finally:
            db.execute("COMMIT")

    async def events(self, start: datetime, end: datetime,
                     sources: Sequence[str] | None = None) -> list[HistoryEvent]:
        """Events in ``[start, end)``, optionally only for some sources."""
        return await self._in(self._reader, self._events, datetime_to_ns(start), datetime_to_ns(end),
                              list(sources) if sources else None)

    def _events(self, s, e, sources):
        db = self._conn()
        rows = db.execute("SELECT ts, source, payload, value FROM events WHERE ts >= ? AND ts < ? ORDER BY ts",
                          (s, e)).fetchall()
        out = []
        for ts, source, payload, value in rows:
            if sources and source not in sources:
                continue
            p = json.loads(payload)
            out.append(HistoryEvent(ts=ns_to_dt(ts), source=source, state=p.get("state", ""),
                                    message=p.get("message", ""), priority=p.get("priority", ""),
                                    kind=p.get("kind", "alarm"), user=p.get("user", ""),
                                    value=value if value is not None else p.get("value_text"),
                                    attributes=p.get("attributes") or {}))
        return out


def _point(path, ts, value, text, quality) -> HistoryPoint:
    return HistoryPoint(path=path, ts=ns_to_dt(ts), value=value if value is not None else text,
                        quality=Quality(quality))


def _bucket(path, bb, p, want, starts: dict) -> HistoryBucket:
    mn, mx, sm, n, last, _ = p
    start = starts.get(bb)
    if start is None:
        start = starts[bb] = ns_to_dt(bb)
    w_min, w_max, w_mean, w_last, w_count = want
    # Positional construction: a 30-day trend builds tens of thousands of these.
    return HistoryBucket(path, start, mn if w_min else None, mx if w_max else None,
                         (sm / n if n else None) if w_mean else None, last if w_last else None,
                         n if w_count else None)
