"""The typed exceptions of the historian (one small hierarchy)."""

from __future__ import annotations


class HistorianError(Exception):
    """Base class of every error the historian raises."""


class SinkError(HistorianError):
    """A sink could not store a batch."""


class SinkUnavailable(SinkError):
    """The sink is down, slow or answering 5xx: keep the batch and retry later."""


class SinkRejected(SinkError):
    """The sink refused the batch as malformed (HTTP 400): bisect and quarantine the bad point."""


class SinkAuthError(SinkUnavailable):
    """The sink refused our credentials (401/403); retried, because an operator can fix it live."""


class QueryError(HistorianError):
    """A history query is invalid (unknown tag, bad range, too many points)."""

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


class QueryUnavailable(HistorianError):
    """The sink serving queries cannot answer right now."""


class BufferStoreError(HistorianError):
    """The local store-and-forward buffer cannot be opened or written."""

