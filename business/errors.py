"""The typed exceptions of the business layer (one small hierarchy).

REST resources turn each into the shared JSON error shape
``{"error": {"code", "message", "fields"}}`` using ``code`` and ``http_status``.
"""

from __future__ import annotations


class BusinessError(Exception):
    """Base class of every error the business layer raises."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class ValidationError(BusinessError):
    """Input is invalid; ``fields`` maps each bad field to what is wrong with it."""

    code = "validation_error"
    http_status = 422


class BadRequest(BusinessError):
    """The request itself is malformed (not JSON, too large)."""

    code = "bad_request"
    http_status = 400


class NotFound(BusinessError):
    """The record does not exist, or is outside the caller's scope (never revealed)."""

    code = "not_found"
    http_status = 404


class PermissionDenied(BusinessError):
    """The caller lacks the permission (or the scope) for this action."""

    code = "forbidden"
    http_status = 403


class AuthenticationRequired(BusinessError):
    """No valid credentials were presented."""

    code = "unauthenticated"
    http_status = 401


class AccountLocked(AuthenticationRequired):
    """Too many failed logins: the account is locked until ``until``."""

    code = "account_locked"

    def __init__(self, message: str, until=None) -> None:
        super().__init__(message)
        self.until = until


class Conflict(BusinessError):
    """The change clashes with existing data (duplicate key, record still referenced)."""

    code = "conflict"
    http_status = 409


class DatabaseConfigError(BusinessError):
    """The database URL or migrations are unusable."""

    code = "database_config"
