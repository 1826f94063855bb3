"""Errors of the tag server's composition root (one small hierarchy)."""

from __future__ import annotations


class ServerError(Exception):
    """Base class of the tag server's own errors."""


class ComponentBuildError(ServerError):
    """A component's factory is missing or failed while building the service tree."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"component {component!r} could not be built: {reason}")


class ComponentStartError(ServerError):
    """A child service failed to start; the ones started before it were stopped again."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"component {component!r} failed to start: {reason}")
