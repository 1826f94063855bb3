"""Contracts between packages, as ``typing.Protocol``s.

Collectors, historian sinks, alarm and control engines and the HMI meet the
tag database only through these. Values crossing them are the frozen
dataclasses of :mod:`tagdb.values`.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, Sequence, runtime_checkable

from .site.model import TagSpec
from .values import Scalar, TagValue, WriteAudit, WriteResult

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
    """A time-series store the historian forwards to (embedded, InfluxDB v1 API, InfluxDB v2)."""

    name: str

    async def write_lines(self, lines: Sequence[str]) -> None:
        """Store a batch of line-protocol lines; raise SinkError subclasses on failure."""


@runtime_checkable
class AuditSink(Protocol):
    """Durable store of write audit records."""

    def record(self, audit: WriteAudit) -> None:
        """Append one audit record."""
