"""The durable store-and-forward buffer: one SQLite file (WAL) in the data folder.

Why SQLite WAL rather than an append-only segment log: appends are one
transaction per reactor turn (a few ms for thousands of rows), a commit in WAL
mode survives a killed process, the per-sink cursors and the quarantine commit
atomically with the data they describe, and it needs nothing installed.

Every row gets a sequence number. Each sink owns a list of *pending ranges*
of sequence numbers: the last one is the open-ended live tail, earlier ones are
backlog split off after an outage (sent by the throttled backfill lane). A row
is deleted only when it lies below every sink's first pending range, i.e. when
every sink has acknowledged it.
"""

from __future__ import annotations

import bisect
import logging
import marshal
import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

from .errors import BufferStoreError
from .points import event_row, tag_rows

log = logging.getLogger("spms.historian.buffer")

#: Recently appended or read chunks kept decoded in memory (points), so the live lane never re-reads them.
CACHE_ROWS = 400_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (lo INTEGER PRIMARY KEY, n INTEGER NOT NULL, at REAL NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pending (sink TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER,
    PRIMARY KEY (sink, lo));
CREATE TABLE IF NOT EXISTS counters (sink TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (sink, name));
CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY, sink TEXT NOT NULL, seq INTEGER NOT NULL,
    path TEXT NOT NULL, ts INTEGER NOT NULL, value REAL, text TEXT, quality INTEGER NOT NULL,
    kind INTEGER NOT NULL, error TEXT NOT NULL, at REAL NOT NULL);
"""


class PointBuffer:
    """Durable FIFO of points with one cursor set per sink (see the module docstring).

    ``append`` returns only after the rows are committed: from then on they are
    "acknowledged to the buffer" and survive a crash of the process.
    """

    def __init__(self, path: str | Path, sinks: Sequence[str], max_points: int = 10_000_000,
                 max_age_s: float = 7 * 86400, sync: str = "normal",
                 now: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_points = int(max_points)
        self.max_age_s = float(max_age_s)
        self._now = now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            # Checkpoints fsync: the service runs them on a thread (checkpoint()); this is the safety net.
            self._db.execute("PRAGMA wal_autocheckpoint=20000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BufferStoreError(f"cannot open the historian buffer {self.path}: {exc}") from exc
        self._lo: list[int] = []      # chunk index, in sequence order: first seq, size, append time
        self._n: list[int] = []
        self._at: list[float] = []
        for lo, n, at in self._db.execute("SELECT lo, n, at FROM chunks ORDER BY lo"):
            self._lo.append(lo)
            self._n.append(n)
            self._at.append(at)
        self._cache: dict[int, list] = {}
        self._cached_rows = 0
        bounds = self._db.execute("SELECT max(lo), max(hi) FROM pending").fetchone()
        last = self._lo[-1] + self._n[-1] if self._lo else 1
        self._next = max(last, bounds[0] or 1, bounds[1] or 1)
        self.ranges: dict[str, list[list]] = {}
        for sink, lo, hi in self._db.execute("SELECT sink, lo, hi FROM pending ORDER BY sink, lo"):
            self.ranges.setdefault(sink, []).append([lo, hi])
        self.counters: dict[tuple[str, str], int] = {
            (s, n): v for s, n, v in self._db.execute("SELECT sink, name, value FROM counters")}
        self._set_sinks(sinks)

    # -- sinks and ranges ---------------------------------------------------------------

    def _set_sinks(self, sinks: Sequence[str]) -> None:
        with self._db:
            for gone in set(self.ranges) - set(sinks):
                # A sink removed from the config must not pin the buffer forever.
                log.warning("historian sink %r is no longer configured: its %d buffered points are released",
                            gone, self.depth(gone))
                self._db.execute("DELETE FROM pending WHERE sink=?", (gone,))
                del self.ranges[gone]
            for sink in sinks:
                if sink not in self.ranges:
                    self.ranges[sink] = [[self._next, None]]
                    self._db.execute("INSERT INTO pending VALUES (?, ?, NULL)", (sink, self._next))

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended row gets."""
        return self._next

    def tail(self, sink: str) -> int:
        """First sequence number of the sink's live tail."""
        return self.ranges[sink][-1][0]

    def backlog(self, sink: str) -> list[int] | None:
        """The oldest closed (backfill) range ``[lo, hi]`` of the sink, or None."""
        ranges = self.ranges[sink]
        return ranges[0] if len(ranges) > 1 else None

    def depth(self, sink: str) -> int:
        """How many points the sink has not acknowledged yet."""
        return sum((self._next if hi is None else hi) - lo for lo, hi in self.ranges.get(sink, ()))

    def tail_depth(self, sink: str) -> int:
        """Points waiting in the sink's live tail only."""
        return self._next - self.tail(sink)

    def split_backlog(self, sink: str) -> tuple[int, int] | None:
        """Close the live tail at the current end: the backlog goes to the backfill lane.

        Called by the live lane (between deliveries) when it is far behind, so
        that new values are sent at once while the backlog drains throttled.
        """
        tail = self.ranges[sink][-1]
        lo, hi = tail[0], self._next
        if hi <= lo:
            return None
        with self._db:
            self._db.execute("UPDATE pending SET hi=? WHERE sink=? AND lo=?", (hi, sink, lo))
            self._db.execute("INSERT INTO pending VALUES (?, ?, NULL)", (sink, hi))
        tail[1] = hi
        self.ranges[sink].append([hi, None])
        return lo, hi

    def ack(self, sink: str, lo: int, end: int) -> None:
        """The sink stored every row of ``[lo, end)``; ``lo`` must start one of its ranges."""
        ranges = self.ranges[sink]
        for i, r in enumerate(ranges):
            if r[0] == lo:
                break
        else:
            return  # the range was dropped (size cap) while the batch was in flight
        with self._db:
            if r[1] is not None and end >= r[1]:
                self._db.execute("DELETE FROM pending WHERE sink=? AND lo=?", (sink, lo))
                del ranges[i]
            else:
                self._db.execute("UPDATE pending SET lo=? WHERE sink=? AND lo=?", (end, sink, lo))
                r[0] = end

    # -- data ------------------------------------------------------------------------------

    def append(self, values) -> int:
        """Commit tag values (``TagValue``s); returns the last sequence number given."""
        return self._store(tag_rows(values, self._next)) if values else self._next - 1

    def append_event(self, event) -> int:
        """Commit one history event (``HistoryEvent``)."""
        return self.append_rows([event_row(event)])

    def append_rows(self, rows: Sequence[tuple]) -> int:
        """Commit rows ``(path, ts_ns, value, text, quality, kind)``; returns the last seq."""
        seq0 = self._next
        return self._store([(seq0 + i, *r) for i, r in enumerate(rows)]) if rows else seq0 - 1

    def _store(self, rows: list[tuple]) -> int:
        """Commit rows that already carry their sequence numbers as one chunk.

        One append is one chunk: a single SQLite row holding the marshalled batch,
        which is what keeps the buffer at about a microsecond per point.
        """
        seq0 = self._next
        at = self._now()
        try:
            with self._db:
                self._db.execute("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                                 (seq0, len(rows), at, marshal.dumps(rows)))
        except (sqlite3.Error, ValueError) as exc:
            raise BufferStoreError(f"cannot append to the historian buffer {self.path}: {exc}") from exc
        self._next = seq0 + len(rows)
        self._lo.append(seq0)
        self._n.append(len(rows))
        self._at.append(at)
        self._remember(seq0, rows)
        if self.count > self.max_points:
            self._drop_below(self._next - self.max_points, "size cap")
        return self._next - 1

    def _remember(self, lo: int, rows: list) -> None:
        self._cache[lo] = rows
        self._cached_rows += len(rows)
        while self._cached_rows > CACHE_ROWS and len(self._cache) > 1:
            old = next(iter(self._cache))
            self._cached_rows -= len(self._cache.pop(old))

    def _chunk(self, lo: int) -> list:
        rows = self._cache.get(lo)
        if rows is None:
            data = self._db.execute("SELECT data FROM chunks WHERE lo = ?", (lo,)).fetchone()[0]
            rows = marshal.loads(data)
            self._remember(lo, rows)
        return rows

    def read(self, lo: int, hi: int | None, limit: int) -> list[tuple]:
        """Rows ``(seq, path, ts, value, text, quality, kind)`` with ``lo <= seq < hi``, at most ``limit``."""
        end = min(self._next if hi is None else hi, lo + limit)
        i = max(bisect.bisect_right(self._lo, lo) - 1, 0)
        out: list[tuple] = []
        while i < len(self._lo) and self._lo[i] < end:
            clo, n = self._lo[i], self._n[i]
            a, b = max(lo, clo) - clo, min(end, clo + n) - clo
            if b > a:
                chunk = self._chunk(clo)
                out.extend(chunk if (a, b) == (0, n) else chunk[a:b])
            i += 1
        return out

    @property
    def count(self) -> int:
        """Points held (acknowledged by some sinks perhaps, but not yet trimmed)."""
        return self._next - (self._lo[0] if self._lo else self._next)

    @property
    def fill(self) -> float:
        """Fraction of the size cap in use (0..1)."""
        return self.count / self.max_points if self.max_points else 0.0

    def appended_at(self, seq: int) -> float | None:
        """Wall-clock time when ``seq`` was appended (None when unknown)."""
        i = bisect.bisect_right(self._lo, seq) - 1
        return self._at[i] if i >= 0 and seq < self._lo[i] + self._n[i] else None

    def oldest_age(self, sink: str) -> float:
        """Seconds since the oldest point the sink has not acknowledged was buffered (0 when none)."""
        if self.depth(sink) == 0:
            return 0.0
        at = self.appended_at(self.ranges[sink][0][0])
        return max(0.0, self._now() - at) if at is not None else 0.0

    # -- housekeeping ------------------------------------------------------------------------

    def trim(self) -> int:
        """Delete the chunks every sink has acknowledged; returns the points removed."""
        floor = min([r[0][0] for r in self.ranges.values() if r] + [self._next])
        k = 0
        while k < len(self._lo) and self._lo[k] + self._n[k] <= floor:
            k += 1
        return self._delete_chunks(k)

    def _delete_chunks(self, k: int) -> int:
        """Delete the first ``k`` chunks (the caller has accounted for them)."""
        if k == 0:
            return 0
        cut = self._lo[k - 1] + self._n[k - 1]
        with self._db:
            self._db.execute("DELETE FROM chunks WHERE lo < ?", (cut,))
        removed = sum(self._n[:k])
        for lo in self._lo[:k]:
            rows = self._cache.pop(lo, None)
            if rows is not None:
                self._cached_rows -= len(rows)
        del self._lo[:k], self._n[:k], self._at[:k]
        return removed

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (fsync) on a connection of the calling thread.

        The service runs this on a worker thread so the disk flush never stalls the reactor.
        """
        db = sqlite3.connect(str(self.path), timeout=30)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def enforce_age(self) -> int:
        """Drop chunks buffered longer than ``max_age_s``; returns how many points were dropped."""
        cutoff = self._now() - self.max_age_s
        k = bisect.bisect_left(self._at, cutoff)
        if k == 0:
            return 0
        return self._drop_below(self._lo[k - 1] + self._n[k - 1], "age cap")

    def _drop_below(self, cut: int, why: str) -> int:
        """Delete whole chunks below ``cut`` (rounded up to a chunk end), acknowledged or not.

        Points lost this way are counted per sink (``dropped``), persisted, and logged.
        """
        k = bisect.bisect_left([lo + n for lo, n in zip(self._lo, self._n)], cut)
        if k < len(self._lo) and self._lo[k] < cut:
            k += 1
        if k == 0:
            return 0
        cut = self._lo[k - 1] + self._n[k - 1]
        lost_total = 0
        with self._db:
            for sink, ranges in self.ranges.items():
                lost = 0
                for r in list(ranges):
                    hi = self._next if r[1] is None else r[1]
                    if r[0] >= cut:
                        continue
                    lost += min(hi, cut) - r[0]
                    self._db.execute("DELETE FROM pending WHERE sink=? AND lo=?", (sink, r[0]))
                    if r[1] is not None and cut >= r[1]:
                        ranges.remove(r)
                        continue
                    r[0] = cut
                    self._db.execute("INSERT INTO pending VALUES (?, ?, ?)", (sink, cut, r[1]))
                if lost:
                    self._bump(sink, "dropped", lost)
                    log.error("historian buffer %s: dropped %d points not yet stored by %r", why, lost, sink)
                    lost_total += lost
        self._delete_chunks(k)
        return lost_total

    def _bump(self, sink: str, name: str, n: int) -> None:
        value = self.counters.get((sink, name), 0) + n
        self.counters[(sink, name)] = value
        self._db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?, ?)", (sink, name, value))

    def counter(self, sink: str, name: str) -> int:
        """A persisted counter of the sink (``dropped``, ``quarantined``)."""
        return self.counters.get((sink, name), 0)

    # -- quarantine ----------------------------------------------------------------------------

    def quarantine(self, sink: str, row: tuple, error: str) -> None:
        """Keep a point the sink refused, for inspection; counted, never retried automatically."""
        with self._db:
            self._db.execute("INSERT INTO quarantine (sink, seq, path, ts, value, text, quality, kind, error, at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (sink, *row, error[:2000], self._now()))
            self._bump(sink, "quarantined", 1)

    def quarantined(self, sink: str | None = None, limit: int = 100) -> list[dict]:
        """The most recent quarantined points (newest first)."""
        sql = "SELECT sink, seq, path, ts, value, text, quality, error, at FROM quarantine"
        args: tuple = ()
        if sink is not None:
            sql += " WHERE sink=?"
            args = (sink,)
        cols = ("sink", "seq", "path", "ts", "value", "text", "quality", "error", "at")
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [dict(zip(cols, r)) for r in rows]

    def oldest_ts(self, sink: str) -> int | None:
        """Source timestamp (ns) of the first unacknowledged row of the sink."""
        rows = self.read(self.ranges[sink][0][0], None, 1)
        return rows[0][2] if rows else None

    def close(self) -> None:
        """Close the database (everything is already committed)."""
        self._db.close()
