"""The typed exceptions of the finance package (subclasses of the business hierarchy)."""

from __future__ import annotations

from ..errors import BusinessError, Conflict, NotFound, ValidationError


class FinanceError(BusinessError):
    """Base class of finance errors."""

    code = "finance_error"
    http_status = 400


class UnbalancedEntry(FinanceError):
    """A journal entry whose debits and credits differ (never posted)."""

    code = "unbalanced_entry"
    http_status = 422


class AlreadyReversed(Conflict):
    """The entry has been reversed already (an entry is reversed at most once)."""


class CallbackRefused(FinanceError):
    """A payment-provider callback failed its signature or amount check (recorded, not posted)."""

    code = "callback_refused"
    http_status = 400


class PeriodClosed(Conflict):
    """A posting dated in a closed fiscal year: post the correction in an open year (or reopen the year)."""

    code = "period_closed"

    def __init__(self, on, year: int, property_id: int | None = None, message: str | None = None) -> None:
        self.on, self.year, self.property_id = on, year, property_id
        super().__init__(message or (f"cannot post on {on.isoformat()}: fiscal year {year} is closed"
                                     + (f" for property {property_id}" if property_id is not None else "")
                                     + "; post the correction in an open year or reopen the year"),
                         {"date": f"in closed fiscal year {year}"})


__all__ = ["AlreadyReversed", "CallbackRefused", "Conflict", "FinanceError", "NotFound", "PeriodClosed",
           "UnbalancedEntry", "ValidationError"]
