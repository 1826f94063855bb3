"""Contracts between packages, as ``typing.Protocol``s.

Collectors, historian sinks, alarm and control engines and the HMI meet the
tag database only through these. Values crossing them are the frozen
dataclasses of :mod:`tagdb.values`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from .site.model import TagSpec
from .values import Quality, Scalar, TagValue, WriteAudit, WriteResult

#: A subscriber receives, once per reactor turn, every change of the tags it watches.
ChangeCallback = Callable[[Sequence[TagValue]], None]


@runtime_checkable
class Subscription(Protocol):
    """Handle returned by :meth:`TagStore.subscribe`."""

    def cancel(self) -> None:
        """Stop receiving changes."""


@runtime_checkable
class TagWriter(Protocol):
    """What owns a device's tags and can write to it (a collector)."""

    async def write_tag(self, spec: TagSpec, value: Scalar) -> WriteResult:
        """Write an engineering value to the device; never raises for device errors."""


@runtime_checkable
class TagStore(Protocol):
    """The live tag database as other packages see it."""

    def get(self, path: str) -> TagValue:
        """Current value of one tag (KeyError for an unknown path)."""

    def snapshot(self, paths: Iterable[str]) -> dict[str, TagValue]:
        """A consistent view of several tags taken in one reactor turn."""

    def match(self, pattern: str) -> list[str]:
        """Paths matching a glob (``tower-a/*/current_floor``) or a prefix ending in '/'."""

    def subscribe(self, pattern: str, callback: ChangeCallback) -> Subscription:
        """Call ``callback`` with batches of changes of matching tags."""

    def update(self, values: Sequence[TagValue]) -> None:
        """Apply values from a source (collector, engine); deadband and change detection apply."""

    async def write(self, path: str, value: Scalar, user: str, reason: str = "") -> WriteResult:
        """Route a write to the owning collector; audited whatever the result."""


@runtime_checkable
class HistorianSink(Protocol):
    """A time-series store the historian forwards to (embedded, InfluxDB v1 API, InfluxDB v2).

    ``write_points`` receives buffered rows (tuples laid out as in
    ``tagdb.historian.points``: seq, path, ts_ns, value, text, quality, kind) and
    returns only once the store has them; it raises ``SinkUnavailable`` (retry
    later) or ``SinkRejected`` (malformed: the historian bisects and
    quarantines). Writing the same row twice must be harmless (same series and
    timestamp overwrite), which is what makes at-least-once delivery exact.
    """

    name: str

    async def write_points(self, rows: Sequence[tuple]) -> None:
        """Store a batch of buffered rows; raise SinkError subclasses on failure."""


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One stored value: what a tag was at ``ts`` and how good it was."""

    path: str
    ts: datetime
    value: Scalar
    quality: Quality


@dataclass(frozen=True, slots=True)
class HistoryBucket:
    """Aggregates of one tag over ``[start, start + interval)``; Bad-quality values are excluded.

    ``last`` is the last non-Bad value in the bucket; ``count`` counts the
    non-Bad numeric values. Fields not asked for are None.
    """

    path: str
    start: datetime
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    last: float | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """An event for the history (alarm raised/acknowledged/cleared ...): Grafana annotations.

    ``source`` is the tag path (or alarm id) the event is about, ``state`` e.g.
    ``active``/``acknowledged``/``cleared``/``shelved``, ``priority`` the
    ISA-18.2 priority.
    """

    ts: datetime
    source: str
    state: str
    message: str = ""
    priority: int | str = ""
    kind: str = "alarm"
    user: str = ""
    value: Scalar = None
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


#: Aggregate names the history API understands.
AGGREGATES = ("min", "max", "mean", "last", "count")


@runtime_checkable
class HistoryQuery(Protocol):
    """The history API (``ctx.provides["history"]``), the same over every sink.

    Times are aware datetimes; ranges are half-open ``[start, end)``; results
    are ordered by time. Unknown paths give empty lists, not errors.
    """

    async def raw(self, paths: Sequence[str], start: datetime, end: datetime,
                  limit: int | None = None) -> dict[str, list[HistoryPoint]]:
        """Every stored value of each tag in the range (at most ``limit`` per tag)."""

    async def aggregate(self, paths: Sequence[str], start: datetime, end: datetime, interval_s: float,
                        aggs: Sequence[str] = AGGREGATES) -> dict[str, list[HistoryBucket]]:
        """Aggregates per interval (buckets aligned to the epoch, empty buckets omitted)."""

    async def value_at(self, path: str, ts: datetime) -> HistoryPoint | None:
        """The last stored value at or before ``ts`` with its own timestamp and quality (billing reads)."""

    async def value_at_many(self, paths: Sequence[str], ts: datetime) -> dict[str, HistoryPoint | None]:
        """``value_at`` for many tags at one instant in a few backend queries (every meter at a boundary).

        One key per distinct path, in the order given; None where a tag has no
        value at or before ``ts``. Each point is exactly what ``value_at``
        would return for that path (own timestamp, Bad qualities included).
        """

    async def events(self, start: datetime, end: datetime,
                     sources: Sequence[str] | None = None) -> list[HistoryEvent]:
        """Events written with ``write_event`` in the range."""

    def write_event(self, event: HistoryEvent) -> None:
        """Record an event durably (through the store-and-forward buffer) for every sink."""


@runtime_checkable
class AuditSink(Protocol):
    """Durable store of write audit records."""

    def record(self, audit: WriteAudit) -> None:
        """Append one audit record."""
