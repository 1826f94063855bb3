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


__all__ = ["AlreadyReversed", "CallbackRefused", "Conflict", "FinanceError", "NotFound", "UnbalancedEntry",
           "ValidationError"]
