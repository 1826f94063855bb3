"""Write validation and routing: from an operator's value to the collector owning the tag.

Validation happens here, before any device is touched, so that every refusal
has a typed status (read-only, bad type, out of range) and the device only ever
sees values of the tag's data type inside its range.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from .columns import ns_to_utc
from .contracts import AuditSink, TagWriter
from .site.model import TagSpec
from .values import GOOD, Scalar, TagValue, WriteAudit, WriteResult, WriteStatus

log = logging.getLogger(__name__)

_INT_RANGES = {
    "int16": (-2**15, 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True, slots=True)
class Checked:
    """Outcome of validating a write: the value coerced to the tag's type, or a refusal."""

    value: Scalar
    status: WriteStatus = WriteStatus.OK
    message: str = ""


def coerce_write(spec: TagSpec, value: Scalar) -> Checked:
    """Check ``value`` against ``spec``: access, data type, range; coerce to the tag's type."""
    if not spec.writable:
        return Checked(value, WriteStatus.READ_ONLY, f"{spec.path} is read-only")
    dt = spec.data_type
    if dt == "string":
        if not isinstance(value, str):
            return Checked(value, WriteStatus.BAD_TYPE, f"{spec.path} takes a string, got {_kind(value)}")
        return Checked(value)
    if dt == "bool":
        if isinstance(value, bool):
            return Checked(value)
        if isinstance(value, int) and value in (0, 1):
            return Checked(bool(value))
        return Checked(value, WriteStatus.BAD_TYPE, f"{spec.path} takes true/false (or 0/1), got {value!r}")
    # Numeric: a bool or a string is a mistake, not a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Checked(value, WriteStatus.BAD_TYPE, f"{spec.path} takes a number ({dt}), got {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        return Checked(value, WriteStatus.BAD_TYPE, f"{spec.path} takes a finite number, got {value!r}")
    if dt in _INT_RANGES and spec.scaling is not None:
        # A scaled integer register holds raw counts: the engineering value may
        # have decimals (12.5 °C as 125), it is the raw value that must fit.
        value = float(value)
        raw = round(spec.scaling.to_raw(value))
        lo, hi = _INT_RANGES[dt]
        if not lo <= raw <= hi:
            return Checked(value, WriteStatus.OUT_OF_RANGE,
                           f"{value!r} scales to raw {raw}, which does not fit {dt} ({lo}..{hi}) of {spec.path}")
    elif dt in _INT_RANGES:
        if isinstance(value, float):
            if not value.is_integer():
                return Checked(value, WriteStatus.BAD_TYPE, f"{spec.path} is {dt} and takes whole numbers, got {value!r}")
            value = int(value)
        lo, hi = _INT_RANGES[dt]
        if not lo <= value <= hi:
            return Checked(value, WriteStatus.OUT_OF_RANGE, f"{value} does not fit {dt} ({lo}..{hi}) of {spec.path}")
    else:
        value = float(value)
        if dt == "float32" and abs(value) > _FLOAT32_MAX:
            return Checked(value, WriteStatus.OUT_OF_RANGE, f"{value!r} does not fit float32 of {spec.path}")
    if spec.eu_lo is not None and spec.eu_hi is not None:
        lo, hi = sorted((spec.eu_lo, spec.eu_hi))
        if not lo <= value <= hi:
            units = f" {spec.units}" if spec.units else ""
            return Checked(value, WriteStatus.OUT_OF_RANGE,
                           f"{value!r} is outside the range {lo:g}..{hi:g}{units} of {spec.path}")
    return Checked(value)


def _kind(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


class WriteRouter:
    """Maps device names to the collectors (``TagWriter``s) that write to them."""

    def __init__(self) -> None:
        self._writers: dict[str, TagWriter] = {}

    def register(self, device: str, writer: TagWriter) -> None:
        """Route writes of ``device``'s tags to ``writer`` (one writer per device)."""
        if not hasattr(writer, "write_tag"):
            raise TypeError(f"{writer!r} has no write_tag(spec, value): not a TagWriter")
        current = self._writers.get(device)
        if current is not None and current is not writer:
            raise ValueError(f"device {device!r} already has a writer: {current!r}")
        self._writers[device] = writer

    def unregister(self, device: str) -> None:
        """Stop routing writes to ``device`` (its tags then answer DEVICE_UNREACHABLE)."""
        self._writers.pop(device, None)

    def writer(self, device: str | None) -> TagWriter | None:
        """The writer for ``device``, if any."""
        return self._writers.get(device) if device else None

    async def route(self, spec: TagSpec, value: Scalar) -> WriteResult:
        """Validate and write; never raises: every failure is a typed WriteResult."""
        checked = coerce_write(spec, value)
        if checked.status is not WriteStatus.OK:
            return WriteResult(spec.path, value, checked.status, checked.message)
        writer = self.writer(spec.device)
        if writer is None:
            where = f"device {spec.device!r}" if spec.device else "no device"
            return WriteResult(spec.path, checked.value, WriteStatus.DEVICE_UNREACHABLE,
                               f"no collector is connected for {where}")
        try:
            result = await writer.write_tag(spec, checked.value)
        except Exception as exc:
            log.exception("writer for device %r raised on %s", spec.device, spec.path)
            return WriteResult(spec.path, checked.value, WriteStatus.DEVICE_UNREACHABLE,
                               f"collector for device {spec.device!r} failed: {type(exc).__name__}: {exc}")
        if not isinstance(result, WriteResult):
            return WriteResult(spec.path, checked.value, WriteStatus.DEVICE_EXCEPTION,
                               f"collector for device {spec.device!r} returned {result!r}, not a WriteResult")
        return result


async def audited_write(db, router: WriteRouter, audit: AuditSink | None, path: str, value: Scalar,
                        user: str, reason: str) -> WriteResult:
    """The body of ``TagDatabase.write``: refuse, store (memory tag) or route; then audit.

    The audit record carries the time of the request and, when the device
    took a while, the write's duration.
    """
    started = db.now_ns()
    spec = db.spec(path) if path in db else None
    old = None if spec is None else db.value(path)
    if spec is None:
        result = WriteResult(path, value, WriteStatus.NO_SUCH_TAG, f"no tag {path!r}")
    elif spec.device is None and spec.writable:
        result = _write_memory_tag(db, spec, value)
    else:
        result = await router.route(spec, value)
    extra: dict = {"device_status": result.device_status} if result.device_status else {}
    took = db.now_ns() - started
    if took:
        extra["duration_s"] = took / 1e9
    record = WriteAudit(ts=ns_to_utc(started), user=user, path=path, old_value=old, new_value=value,
                        status=result.status, message=result.message, reason=reason, extra=extra)
    if audit is not None:
        try:
            audit.record(record)
        except Exception:
            # The write already happened (or was refused); losing its audit must be loud.
            log.exception("could not record the write audit of %s by %s", path, user)
    return result


def _write_memory_tag(db, spec: TagSpec, value: Scalar) -> WriteResult:
    checked = coerce_write(spec, value)
    if checked.status is not WriteStatus.OK:
        return WriteResult(spec.path, value, checked.status, checked.message)
    now = ns_to_utc(db.now_ns())
    db.update([TagValue(spec.path, checked.value, GOOD, now, now)])
    return WriteResult(spec.path, checked.value, WriteStatus.OK, "stored (memory tag)")
