"""Typed errors of service management (subclasses of the business hierarchy, so the REST
layer maps them to the shared JSON error shape)."""

from __future__ import annotations

from ..errors import BusinessError, Conflict, NotFound, PermissionDenied, ValidationError

__all__ = ["ServiceError", "InvalidTransition", "ConcurrentUpdate", "VerificationBlocked", "RatingRefused",
           "ActivityError", "NotFound", "PermissionDenied", "ValidationError"]


class ServiceError(Conflict):
    """Base of the service-management conflicts (HTTP 409)."""

    code = "service_conflict"


class InvalidTransition(ServiceError):
    """The action is not allowed from the order's current state."""

    code = "invalid_transition"

    def __init__(self, action: str, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"cannot {action} a work order that is {state}; allowed from {state}: "
                         f"{', '.join(allowed) or 'nothing'}", {"action": f"not allowed in state {state}"})
        self.action, self.state, self.allowed = action, state, allowed


class ConcurrentUpdate(ServiceError):
    """The record changed since the caller read it (stale ``version``)."""

    code = "concurrent_update"


class VerificationBlocked(ServiceError):
    """An alarm-sourced order cannot be verified: the alarm or the equipment is not healthy yet."""

    code = "verification_blocked"


class RatingRefused(ServiceError):
    """The order cannot be rated (not completed, already rated, not the reporter)."""

    code = "rating_refused"


class ActivityError(ServiceError):
    """Registration or change refused (cancelled activity, already registered...)."""

    code = "activity_conflict"


def is_business_error(exc: BaseException) -> bool:
    """True for errors that the REST layer reports as they are."""
    return isinstance(exc, BusinessError)
