"""The typed exceptions raised by the control package (one small hierarchy)."""

from __future__ import annotations


class ControlError(Exception):
    """Base class of every error the control package raises."""


class UnknownLoopError(ControlError, KeyError):
    """A PID loop, schedule or rule name that is not configured."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown control object"


class InvalidCommandError(ControlError, ValueError):
    """A command (mode change, override, write) that is malformed."""
