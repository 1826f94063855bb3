"""The embedded history store: SQLite (WAL) in the data folder, needs nothing installed.

Tables: ``raw`` (one row per tag and timestamp: writing a point twice
overwrites it, so replays after a crash are harmless), ``r1m`` and ``r1h``
rollups (min, max, sum, count, last of the non-Bad numeric values per bucket,
recomputed from the level below for every bucket a batch touched, so late and
replayed data keep them exact), and ``events``. Retention prunes each level on
its own horizon. Writes run on one worker thread and reads on another, so the
reactor never waits for the disk and trends are not queued behind writes.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from ..errors import SinkRejected, SinkUnavailable
from ..points import BAD_QUALITY, KIND, KIND_EVENT
from .embedded_query import EmbeddedQueries, MINUTE, HOUR

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS raw (sid INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, text TEXT,
    quality INTEGER NOT NULL, PRIMARY KEY (sid, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r1m (sid INTEGER NOT NULL, b INTEGER NOT NULL, min REAL, max REAL, sum REAL,
    n INTEGER NOT NULL, last REAL, last_ts INTEGER, PRIMARY KEY (sid, b)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r1h (sid INTEGER NOT NULL, b INTEGER NOT NULL, min REAL, max REAL, sum REAL,
    n INTEGER NOT NULL, last REAL, last_ts INTEGER, PRIMARY KEY (sid, b)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (ts INTEGER NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL,
    value REAL, PRIMARY KEY (ts, source, payload)) WITHOUT ROWID;
"""

DEFAULT_RETENTION = {"raw": 30 * 86400.0, "minute": 400 * 86400.0, "hour": 10 * 366 * 86400.0}


def _good(alias: str) -> str:
    """SQL condition: a numeric value of non-Bad quality (what aggregates use)."""
    return f"{alias}.quality < {BAD_QUALITY} AND {alias}.value IS NOT NULL"


def _rollup_sql(table: str, source: str, grain: int) -> str:
    """Recompute the touched buckets of ``table`` from ``source`` (raw or the finer rollup)."""
    if source == "raw":
        agg = "min(s.value), max(s.value), sum(s.value), count(s.value)"
        last = (f"(SELECT value FROM raw x WHERE x.sid = t.sid AND x.ts >= t.b AND x.ts < t.b + {grain} "
                f"AND {_good('x')} ORDER BY x.ts DESC LIMIT 1), max(s.ts)")
        join = f"raw s ON s.sid = t.sid AND s.ts >= t.b AND s.ts < t.b + {grain} AND {_good('s')}"
    else:
        agg = "min(s.min), max(s.max), sum(s.sum), sum(s.n)"
        last = (f"(SELECT last FROM {source} x WHERE x.sid = t.sid AND x.b >= t.b AND x.b < t.b + {grain} "
                f"ORDER BY x.b DESC LIMIT 1), max(s.last_ts)")
        join = f"{source} s ON s.sid = t.sid AND s.b >= t.b AND s.b < t.b + {grain}"
    return f"INSERT INTO {table} SELECT t.sid, t.b, {agg}, {last} FROM touched_{table} t JOIN {join} GROUP BY t.sid, t.b"


class EmbeddedSink(EmbeddedQueries):
    """The SQLite history store (a :class:`tagdb.contracts.HistorianSink` and history reader)."""

    def __init__(self, name: str, path: str | Path, *, reactor: Any, retention: dict | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.reactor = reactor
        self.retention = {**DEFAULT_RETENTION, **{k: v for k, v in (retention or {}).items() if v}}
        self._series: dict[str, int] = {}
        self._local = threading.local()
        self._writer = ThreadPool(1, 1, name=f"historian-{name}-write")
        self._reader = ThreadPool(1, 1, name=f"historian-{name}-read")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._conn()
        db.executescript(_SCHEMA)
        self._series = dict(db.execute("SELECT path, id FROM series"))
        self._writer.start()
        self._reader.start()

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript("CREATE TEMP TABLE IF NOT EXISTS touched_r1m (sid INTEGER, b INTEGER, "
                             "PRIMARY KEY (sid, b)); CREATE TEMP TABLE IF NOT EXISTS touched_r1h "
                             "(sid INTEGER, b INTEGER, PRIMARY KEY (sid, b));")
            self._local.db = db
        return db

    def _in(self, pool: ThreadPool, fn: Callable, *args):
        return deferToThreadPool(self.reactor, pool, fn, *args)

    async def close(self) -> None:
        """Stop the worker threads."""
        self._writer.stop()
        self._reader.stop()

    # -- writes ----------------------------------------------------------------------------------

    async def write_points(self, rows: Sequence[tuple]) -> None:
        """Store rows and refresh the rollups of every bucket they touch."""
        await self._in(self._writer, self._write, rows)

    def _write(self, rows: Sequence[tuple]) -> None:
        db = self._conn()
        try:
            db.execute("BEGIN")
            values, events = [], []
            for r in rows:
                if r[KIND] == KIND_EVENT:
                    events.append((r[2], r[1], r[4], r[3]))
                else:
                    values.append((self._sid(db, r[1]), r[2], r[3], r[4], r[5]))
            bad = [r for r in values if r[2] is not None and not math.isfinite(r[2])]
            if bad:
                # NaN/inf are not values (InfluxDB refuses them too): refusing the batch makes the
                # forwarder isolate and quarantine the point.
                raise SinkRejected(f"non-finite value {bad[0][2]!r} for series {bad[0][0]} at {bad[0][1]}")
            db.executemany("INSERT OR REPLACE INTO raw VALUES (?, ?, ?, ?, ?)", values)
            db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)", events)
            if values:
                self._refresh_rollups(db, values)
            db.execute("COMMIT")
        except SinkRejected:
            db.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise SinkUnavailable(f"embedded store {self.path}: {exc}") from exc

    def _sid(self, db: sqlite3.Connection, path: str) -> int:
        sid = self._series.get(path)
        if sid is None:
            sid = db.execute("INSERT INTO series (path) VALUES (?) ON CONFLICT(path) DO UPDATE SET path=path "
                             "RETURNING id", (path,)).fetchone()[0]
            self._series[path] = sid
        return sid

    def _refresh_rollups(self, db: sqlite3.Connection, values: list[tuple]) -> None:
        minutes = {(sid, ts - ts % MINUTE) for sid, ts, *_ in values}
        hours = {(sid, b - b % HOUR) for sid, b in minutes}
        for table, source, grain, keys in (("r1m", "raw", MINUTE, minutes), ("r1h", "r1m", HOUR, hours)):
            db.execute(f"DELETE FROM touched_{table}")
            db.executemany(f"INSERT INTO touched_{table} VALUES (?, ?)", keys)
            db.execute(f"DELETE FROM {table} WHERE (sid, b) IN (SELECT sid, b FROM touched_{table})")
            db.execute(_rollup_sql(table, source, grain))

    # -- retention -------------------------------------------------------------------------------

    async def prune(self, now_ns: int) -> dict[str, int]:
        """Delete what is older than each level's retention; returns rows deleted per level."""
        return await self._in(self._writer, self._prune, now_ns)

    def _prune(self, now_ns: int) -> dict[str, int]:
        db = self._conn()
        out = {}
        with db:
            for level, table, col in (("raw", "raw", "ts"), ("minute", "r1m", "b"), ("hour", "r1h", "b")):
                cut = now_ns - int(self.retention[level] * 1e9)
                out[level] = db.execute(f"DELETE FROM {table} WHERE {col} < ?", (cut,)).rowcount
            cut = now_ns - int(self.retention["minute"] * 1e9)
            out["events"] = db.execute("DELETE FROM events WHERE ts < ?", (cut,)).rowcount
        return out
