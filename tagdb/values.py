"""Values that cross package boundaries: quality codes, tag values and write results.

Quality codes are OPC UA StatusCodes (Part 4, 7.34): the top two bits give the
severity (Good 00, Uncertain 01, Bad 10) and the next 14 bits the sub-status.
Using the real codes means asyncua DataValues keep their status end to end and
that a numpy ``uint32`` column can hold quality for every tag.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Union

Scalar = Union[float, int, bool, str, None]

_SEVERITY_MASK = 0xC0000000
_CODE_MASK = 0xFFFF0000


class Severity(enum.Enum):
    """The OPC UA severity of a quality code."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


# Sub-status names for the codes the system produces itself; any other OPC UA
# code is still accepted and kept, it is only named by its hex value.
_NAMES = {
    0x00000000: "Good",
    0x40000000: "Uncertain",
    0x40900000: "UncertainLastUsableValue",
    0x40920000: "UncertainSensorNotAccurate",
    0x80000000: "Bad",
    0x80050000: "BadCommunicationError",
    0x80310000: "BadNoCommunication",
    0x80320000: "BadWaitingForInitialData",
    0x80890000: "BadConfigurationError",
    0x808A0000: "BadNotConnected",
    0x808B0000: "BadDeviceFailure",
    0x808C0000: "BadSensorFailure",
    0x808D0000: "BadOutOfService",
    0x80AB0000: "BadOutOfRange",
}


@dataclass(frozen=True, slots=True)
class Quality:
    """An OPC UA status code plus an optional human detail (e.g. a Modbus exception).

    Only ``code`` is stored in the vectorized columns of the tag database; ``detail``
    explains a Bad value to operators ("modbus exception 02 illegal data address").
    """

    code: int
    detail: str = ""

    @property
    def severity(self) -> Severity:
        """Good, Uncertain or Bad."""
        top = (self.code & _SEVERITY_MASK) >> 30
        return Severity.BAD if top >= 2 else Severity(top)

    @property
    def is_good(self) -> bool:
        """True for any Good code."""
        return self.severity is Severity.GOOD

    @property
    def is_bad(self) -> bool:
        """True for any Bad code."""
        return self.severity is Severity.BAD

    @property
    def is_uncertain(self) -> bool:
        """True for any Uncertain code."""
        return self.severity is Severity.UNCERTAIN

    @property
    def name(self) -> str:
        """The OPC UA symbolic name of the code (without info bits)."""
        return quality_name(self.code)

    def with_detail(self, detail: str) -> "Quality":
        """The same code with an explanation attached."""
        return Quality(self.code, detail)

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


def quality_name(code: int) -> str:
    """The OPC UA symbolic name of a status code, or its hex value when unknown."""
    return _NAMES.get(code & _CODE_MASK, f"0x{code:08X}")


GOOD = Quality(0x00000000)
UNCERTAIN = Quality(0x40000000)
UNCERTAIN_LAST_USABLE = Quality(0x40900000)
BAD = Quality(0x80000000)
BAD_COMM_FAILURE = Quality(0x80050000)
BAD_NO_COMMUNICATION = Quality(0x80310000)
BAD_NOT_YET_READ = Quality(0x80320000)
BAD_CONFIG_ERROR = Quality(0x80890000)
BAD_NOT_CONNECTED = Quality(0x808A0000)
BAD_DEVICE_FAILURE = Quality(0x808B0000)
BAD_SENSOR_FAILURE = Quality(0x808C0000)
BAD_OUT_OF_SERVICE = Quality(0x808D0000)


def data_type_of(value: Scalar) -> str | None:
    """The tag data type a Python value implies (``bool``, ``int64``, ``float64``,
    ``string``), or None for any other type so each caller decides what that means.

    ``bool`` is checked before ``int`` because ``True`` is an ``int`` in Python.
    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return None


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime; naive input is refused, not guessed."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: timestamps must carry a timezone")
    return ts.astimezone(timezone.utc)


def ns_to_datetime(ns: int) -> datetime:
    """Convert integer nanoseconds since the epoch to an aware UTC datetime."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def datetime_to_ns(ts: datetime) -> int:
    """Convert an aware datetime to integer nanoseconds since the epoch (µs exact)."""
    delta = utc(ts) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class TagValue:
    """One tag's value as it crosses a package boundary.

    ``source_ts`` is when the device (or its OPC UA server) says the value was
    sampled; ``server_ts`` is when this tag server received it. Both are UTC.
    """

    path: str
    value: Scalar
    quality: Quality
    source_ts: datetime
    server_ts: datetime


class WriteStatus(enum.Enum):
    """Outcome of a write routed to a device."""

    OK = "ok"
    NO_SUCH_TAG = "no_such_tag"
    READ_ONLY = "read_only"
    OUT_OF_RANGE = "out_of_range"
    BAD_TYPE = "bad_type"
    DEVICE_UNREACHABLE = "device_unreachable"
    DEVICE_EXCEPTION = "device_exception"
    NOT_AUTHORIZED = "not_authorized"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The typed answer to a write: ``status`` OK or the reason it failed."""

    path: str
    value: Scalar
    status: WriteStatus
    message: str = ""
    device_status: str = ""  # protocol-level code, e.g. "modbus exception 02" or "BadTypeMismatch"

    @property
    def ok(self) -> bool:
        """True when the device accepted the write."""
        return self.status is WriteStatus.OK


@dataclass(frozen=True, slots=True)
class WriteAudit:
    """One audited write attempt (who, when, old value, new value, result)."""

    ts: datetime
    user: str
    path: str
    old_value: Scalar
    new_value: Scalar
    status: WriteStatus
    message: str = ""
    reason: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
