"""The typed exceptions of the collectors package (one small hierarchy)."""

from __future__ import annotations


class CollectorError(Exception):
    """Base class of every error the collectors raise."""


class EncodeError(CollectorError, ValueError):
    """A value cannot be encoded for the device (type, range, length)."""


class PlanError(CollectorError, ValueError):
    """A tag cannot be read within the device's request limits."""


class DeviceUnreachable(CollectorError, ConnectionError):
    """The device's connection is down (refused, timed out, lost)."""


class DeviceException(CollectorError):
    """The device answered with a protocol exception (Modbus exception code, OPC UA Bad status)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class SimulatorError(CollectorError):
    """A simulator cannot start or a fault cannot be injected."""
