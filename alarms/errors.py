"""The typed exceptions of the alarm package (one small hierarchy)."""

from __future__ import annotations


class AlarmError(Exception):
    """Base class of every error the alarm package raises."""


class ExpressionError(AlarmError, ValueError):
    """An alarm or suppression expression is malformed or uses something not allowed."""


class UnknownAlarmError(AlarmError, KeyError):
    """No alarm with this id exists."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown alarm"


class InvalidOperationError(AlarmError):
    """An operator action does not fit the alarm's current state (e.g. ack of a Normal alarm)."""


class MissingIdentityError(AlarmError):
    """Acknowledge, shelve and similar actions need an identified user and a comment."""


class NotificationError(AlarmError):
    """A notification channel failed to deliver; the outbox retries it."""


class JournalError(AlarmError):
    """The alarm journal store failed."""


class AlarmConfigError(AlarmError):
    """The alarm configuration has cross-reference errors (each names file, line and field)."""

    def __init__(self, errors: list) -> None:
        self.errors = list(errors)
        super().__init__("alarm configuration errors:\n" + "\n".join(f"  {e}" for e in self.errors))
