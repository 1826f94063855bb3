"""The live tag database: every tag's value, quality and timestamps, vectorized.

Collectors resolve their device block's paths to ids once (``ids``) and push
each poll with ``ingest`` (numpy arrays in, a few vectorized operations per
batch). Engines and OPC UA sources push ``TagValue``s with ``update``. Both
apply the same deadband and change detection; changed tags are marked dirty
and fanned out to subscribers once per reactor turn.

Everything runs in the reactor thread, so any read taken inside one turn
(``get``, ``snapshot``) is consistent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from twisted.internet.interfaces import IReactorTime

from .changes import NumericBatch, apply_numeric, apply_object
from .columns import KIND_STR, TagColumns
from .contracts import AuditSink, ChangeCallback, TagWriter
from .errors import BadTagPathError, DuplicateTagError, TagTypeError, UnknownTagError
from .patterns import compile_pattern, is_wildcard
from .site.model import TagSpec
from .subscriptions import SubscriptionRegistry, TagSubscription
from .values import BAD_NOT_YET_READ, Quality, Scalar, TagValue, WriteResult, datetime_to_ns
from .writes import WriteRouter, audited_write

log = logging.getLogger(__name__)

_NUMBERS = (int, float, np.integer, np.floating, np.bool_)


@dataclass
class TagDbStats:
    """Running counters (the system tags turn them into rates)."""

    updates: int = 0      # samples received (published or filtered)
    changes: int = 0      # samples published (passed deadband / quality change)
    fan_outs: int = 0     # reactor turns that delivered changes
    deliveries: int = 0   # subscriber callbacks made


class TagDatabase:
    """The in-memory live tag database (implements ``tagdb.contracts.TagStore``).

    ``clock`` is any ``IReactorTime`` (the reactor, or ``task.Clock`` in tests):
    it stamps server timestamps and schedules the once-per-turn fan-out.
    """

    def __init__(self, specs: Sequence[TagSpec], clock: IReactorTime,
                 audit: AuditSink | None = None) -> None:
        self._clock = clock
        self._audit = audit
        self._cols = TagColumns(max(1024, len(specs)))
        self._subs = SubscriptionRegistry()
        self._writes = WriteRouter()
        self._paths: list[str] = []
        self._specs: list[TagSpec] = []
        self._index: dict[str, int] = {}
        self._devices: dict[str, list[int]] = {}
        self._device_ids: dict[str, np.ndarray] = {}
        self._flush_call = None
        self._has_strings = False
        self._string_ids: set[int] = set()
        self._match_cache: dict[str, list[str]] = {}
        self.stats = TagDbStats()
        self.add_tags(specs)

    # ------------------------------------------------------------------ tags

    def add_tags(self, specs: Sequence[TagSpec]) -> np.ndarray:
        """Add tags (value None, Bad/WaitingForInitialData); returns their ids.

        Existing subscriptions whose pattern matches a new tag start watching it.
        """
        specs = list(specs)
        seen: set[str] = set()
        dupes: set[str] = set()
        for s in specs:
            if s.path in self._index or s.path in seen:
                dupes.add(s.path)
            seen.add(s.path)
        if dupes:
            raise DuplicateTagError(f"tag path(s) already defined: {', '.join(sorted(dupes)[:5])}")
        bad = [s.path for s in specs if not _valid_path(s.path)]
        if bad:
            raise BadTagPathError(f"tag path(s) not usable: {', '.join(repr(p) for p in bad[:5])} "
                                  "(need non-empty '/'-separated segments without '*' or '?')")
        if not specs:
            return np.arange(0)
        start = self._cols.n
        ids = self._cols.append(specs, BAD_NOT_YET_READ, self._now_ns())
        new_paths = [s.path for s in specs]
        for i, spec in zip(ids.tolist(), specs):
            self._index[spec.path] = i
            if spec.device:
                self._devices.setdefault(spec.device, []).append(i)
                self._device_ids.pop(spec.device, None)
            if spec.data_type == "string":
                self._has_strings = True
                self._string_ids.add(i)
        self._paths.extend(new_paths)
        self._match_cache.clear()
        self._specs.extend(specs)
        self._subs.extend(self._cols.capacity, start, new_paths)
        return ids

    def __len__(self) -> int:
        return self._cols.n

    def __contains__(self, path: object) -> bool:
        return path in self._index

    @property
    def paths(self) -> list[str]:
        """Every tag path in id order (do not mutate)."""
        return self._paths

    def spec(self, path: str) -> TagSpec:
        """The configured spec of ``path`` (UnknownTagError, a KeyError, when absent)."""
        i = self._index.get(path)
        if i is None:
            raise UnknownTagError(path)
        return self._specs[i]

    def ids(self, paths: Iterable[str]) -> np.ndarray:
        """Tag ids for ``paths`` (resolve once per device block, then ``ingest`` by id)."""
        index = self._index
        paths = list(paths)
        try:
            return np.fromiter((index[p] for p in paths), dtype=np.intp, count=len(paths))
        except KeyError:
            raise UnknownTagError([p for p in paths if p not in index]) from None

    def device_ids(self, device: str) -> np.ndarray:
        """Ids of every tag of ``device`` (empty for a device without tags)."""
        ids = self._device_ids.get(device)
        if ids is None:
            ids = self._device_ids[device] = np.array(self._devices.get(device, ()), dtype=np.intp)
        return ids

    # ------------------------------------------------------------------ reads

    def get(self, path: str) -> TagValue:
        """Current value of one tag (UnknownTagError, a KeyError, for an unknown path)."""
        i = self._index.get(path)
        if i is None:
            raise UnknownTagError(path)
        return self._cols.one(i)

    def value(self, path: str) -> Scalar:
        """Just the current value of one tag, in its data type."""
        i = self._index.get(path)
        if i is None:
            raise UnknownTagError(path)
        return self._cols.scalar(i)

    def snapshot(self, paths: Iterable[str]) -> dict[str, TagValue]:
        """Current values of ``paths``, all read in this reactor turn (hence consistent)."""
        ids = self.ids(paths)
        if len(ids) <= 8:
            return {tv.path: tv for tv in map(self._cols.one, ids.tolist())}
        return {tv.path: tv for tv in self._cols.build(ids)}

    def match(self, pattern: str) -> list[str]:
        """Paths matching a glob or a prefix ending in '/', in configuration order."""
        if not is_wildcard(pattern):
            return [pattern] if pattern in self._index else []
        hit = self._match_cache.get(pattern)
        if hit is None:
            # HMI pages and API clients repeat the same few patterns; the
            # cache is dropped whenever tags are added.
            predicate = compile_pattern(pattern)
            hit = [p for p in self._paths if predicate(p)]
            if len(self._match_cache) >= 256:
                self._match_cache.pop(next(iter(self._match_cache)))
            self._match_cache[pattern] = hit
        return list(hit)

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, pattern: str, callback: ChangeCallback, initial: bool = False) -> TagSubscription:
        """Call ``callback(list_of_TagValues)`` once per reactor turn with the changes it watches.

        ``initial=True`` also delivers the current values of every watched tag,
        in one list on the next reactor turn (read then, so they are current).
        """
        compile_pattern(pattern)   # refuse a malformed pattern before matching
        sub = self._subs.add(pattern, callback, self.ids(self.match(pattern)))
        if initial:
            self._clock.callLater(0, self._deliver_initial, sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """Number of live subscriptions."""
        return len(self._subs)

    def _deliver_initial(self, sub: TagSubscription) -> None:
        if not sub.active:
            return
        ids = np.flatnonzero(sub.mask[: self._cols.n])
        if len(ids):
            sub.deliver(self._cols.build(ids))

    # ------------------------------------------------------------------ ingest

    def ingest(self, ids: np.ndarray, values: np.ndarray, quality_codes: np.ndarray | int = 0,
               source_ns: np.ndarray | int | None = None, unique: bool = False) -> int:
        """Apply one batch of numeric samples; returns how many tags changed.

        ``quality_codes`` and ``source_ns`` are arrays aligned with ``ids`` or
        one scalar for the whole batch (a polled block); ``source_ns`` defaults
        to the server time. A tag changes when its value moves by more than its
        deadband from the last published value, or its quality code differs.
        When an id appears twice the last sample wins; ``unique=True`` says the
        caller knows no id repeats (a planned poll) and spares that check.
        """
        ids = np.asarray(ids, dtype=np.intp)
        n = len(ids)
        if n == 0:
            return 0
        cols = self._cols
        if ids.min() < 0 or ids.max() >= cols.n:
            bad = ids[(ids < 0) | (ids >= cols.n)]
            raise UnknownTagError([f"#{i}" for i in bad[:5].tolist()])
        if self._has_strings and (cols.kind[ids] == KIND_STR).any():
            bad = ids[cols.kind[ids] == KIND_STR]
            raise TagTypeError(f"ingest is for numeric tags; string tag(s) {[self._paths[i] for i in bad[:5].tolist()]} "
                               "take TagValues through update()")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"ingest: {values.shape} values for {n} ids")
        now = self._now_ns()
        codes = _column(quality_codes, np.uint32, n, "quality_codes")
        src = _column(now if source_ns is None else source_ns, np.int64, n, "source_ns")
        return self._apply(ids, values, codes, src, None, None, now, unique)

    def _apply(self, ids: np.ndarray, values: np.ndarray, codes, src, force: np.ndarray | None,
               details: list[str] | None, now: int, unique: bool = False) -> int:
        self.stats.updates += len(ids)
        cid = apply_numeric(self._cols, ids, values, codes, src, now, force, details, unique)
        if len(cid):
            self._mark_dirty(cid)
        return len(cid)

    def update(self, values: Sequence[TagValue]) -> int:
        """Apply TagValues from a source (engine, OPC UA); returns how many tags changed.

        Deadband and change detection apply as for ``ingest``; the server
        timestamp is this database's clock, the source timestamp is kept (a
        missing one, None, becomes the server timestamp). Good
        values are applied even when others in the batch are bad: an unknown
        path raises UnknownTagError and a value of the wrong type raises
        TagTypeError, both after the valid values were applied.
        """
        now = self._now_ns()
        cols, index = self._cols, self._index
        pending = NumericBatch()
        unknown: list[str] = []
        wrong: list[str] = []
        changed = 0
        strings = self._string_ids
        details = cols.details
        stamps: dict = {}   # a source usually stamps a whole batch with one time
        for tv in values:
            i = index.get(tv.path)
            if i is None:
                unknown.append(tv.path)
                continue
            q = tv.quality
            detail = q.detail if q.detail and not q.is_good else ""
            st = tv.source_ts
            src = stamps.get(st)
            if src is None:
                # An OPC UA server may omit the source timestamp: then the
                # sample is as old as its arrival.
                src = stamps[st] = now if st is None else datetime_to_ns(st)
            v = tv.value
            if v is None or i in strings:
                if v is not None and not isinstance(v, str):
                    wrong.append(f"{tv.path}: {type(v).__name__} {v!r} for a string tag")
                    continue
                if i in pending.members:
                    # Keep the caller's order: numbers queued for this tag go first.
                    changed += self._apply(*pending.take(), now)
                self.stats.updates += 1
                if apply_object(cols, i, v, q.code, detail, src, now):
                    self._mark_dirty(np.array([i]))
                    changed += 1
                continue
            if v.__class__ is not float and not isinstance(v, _NUMBERS):
                wrong.append(f"{tv.path}: {type(v).__name__} {v!r} for a {self._specs[i].data_type} tag")
                continue
            force = detail != details.get(i, "") if details or detail else False
            pending.add(i, v, q.code, src, force, detail)
        if pending.members:
            changed += self._apply(*pending.take(), now)
        if unknown:
            raise UnknownTagError(unknown)
        if wrong:
            raise TagTypeError("values of the wrong type were not applied: " + "; ".join(wrong[:5]))
        return changed

    def set_quality(self, paths_or_device: str | Iterable[str] | np.ndarray, quality: Quality) -> int:
        """Set the quality of a device's tags (a device name), of paths, or of ids.

        Values stay as they were (operators still see the last reading, now
        Bad); both timestamps move to now, the moment the change was detected,
        so a historian does not rewrite the last good sample. Returns how many
        tags changed.
        """
        if isinstance(paths_or_device, str):
            if paths_or_device in self._devices or paths_or_device not in self._index:
                ids = self.device_ids(paths_or_device)
            else:
                ids = self.ids([paths_or_device])
        elif isinstance(paths_or_device, np.ndarray):
            ids = paths_or_device.astype(np.intp, copy=False)
        else:
            ids = self.ids(paths_or_device)
        if not len(ids):
            return 0
        cols = self._cols
        now = self._now_ns()
        detail = "" if quality.is_good else quality.detail
        changed = cols.quality[ids] != quality.code
        if detail or cols.details:
            changed |= np.array([cols.details.get(i, "") != detail for i in ids.tolist()], bool)
        cid = ids[changed]
        if len(cid):
            cols.quality[cid] = quality.code
            cols.source_ns[cid] = now
            cols.server_ns[cid] = now
            cols.set_details(cid.tolist(), [detail] * len(cid))
            self.stats.updates += len(cid)
            self._mark_dirty(cid)
        return len(cid)

    # ------------------------------------------------------------------ fan-out

    def _mark_dirty(self, ids: np.ndarray) -> None:
        self._cols.dirty[ids] = True
        self.stats.changes += len(ids)
        if self._flush_call is None:
            self._flush_call = self._clock.callLater(0, self.flush)

    def flush(self) -> int:
        """Deliver this turn's changes now (the reactor calls it; tests and benchmarks may too)."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        cols = self._cols
        ids = np.flatnonzero(cols.dirty[: cols.n])
        if not len(ids):
            return 0
        cols.dirty[ids] = False
        self.stats.fan_outs += 1
        made = self._subs.fan_out(ids, cols.build)
        self.stats.deliveries += made
        return made

    # ------------------------------------------------------------------ writes

    def register_writer(self, device: str, writer: TagWriter) -> None:
        """Route writes to ``device``'s tags to ``writer`` (its collector)."""
        self._writes.register(device, writer)

    def unregister_writer(self, device: str) -> None:
        """Stop routing writes to ``device``."""
        self._writes.unregister(device)

    async def write(self, path: str, value: Scalar, user: str, reason: str = "") -> WriteResult:
        """Validate, route to the owning collector and audit; never raises for a refused write.

        A writable tag without a device is a memory tag (an operator setpoint,
        a value kept for an engine): the database itself is its device and
        stores the value with Good quality.
        """
        return await audited_write(self, self._writes, self._audit, path, value, user, reason)

    # ------------------------------------------------------------------ time

    def _now_ns(self) -> int:
        return int(round(self._clock.seconds() * 1e6)) * 1000

    def now_ns(self) -> int:
        """The database clock in integer nanoseconds (µs resolution)."""
        return self._now_ns()


def _valid_path(path: object) -> bool:
    return (isinstance(path, str) and bool(path) and "*" not in path and "?" not in path
            and all(path.split("/")))


def _column(value, dtype, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return arr[()]        # one code/stamp for the whole batch stays a scalar (a polled block)
    if arr.shape != (n,):
        raise ValueError(f"ingest: {name} has shape {arr.shape}, expected ({n},) or a scalar")
    return arr
