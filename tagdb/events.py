"""An in-process event bus: modules publish typed events, others react.

Handlers run synchronously in the publisher's reactor turn, in subscription
order; a failing handler is logged and does not stop the others, because one
broken consumer (say, resident notices) must never block alarm handling.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Callable

log = logging.getLogger(__name__)


class EventBus:
    """Publish/subscribe keyed by event class (subclasses are delivered too)."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``handler(event)`` for every published ``event_type``; returns an unsubscribe function."""
        self._handlers[event_type].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)

        return unsubscribe

    def publish(self, event: Any) -> None:
        """Deliver ``event`` to the handlers of its class and of its base classes."""
        for cls in type(event).__mro__:
            for handler in list(self._handlers.get(cls, ())):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler %r failed for %r", handler, event)
