"""Periodic evaluation on the injected clock, shared by loops, rules, rotations and schedules."""

from __future__ import annotations

import logging
from typing import Any, Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall


def start_ticking(tick: Callable[[], object], clock: IReactorTime, interval: float,
                  log: logging.Logger, what: str) -> LoopingCall:
    """Call ``tick`` now and then every ``interval`` seconds on ``clock``.

    A tick that raises stops the LoopingCall; the errback logs that on the
    caller's logger as ``"<what> stopped: <traceback>"`` so a dead evaluator is
    never silent.
    """
    call = LoopingCall(tick)
    call.clock = clock
    call.start(interval, now=True).addErrback(
        lambda f: log.error("%s stopped: %s", what, f.getTraceback()))
    return call


def stop_ticking(call: LoopingCall | None) -> None:
    """Stop ``call`` if it is running (safe before start and after a failed tick)."""
    if call is not None and call.running:
        call.stop()


class SpecTicker:
    """Base of the per-spec evaluators (rules, rotations) that tick on ``spec.interval``.

    Subclasses set ``kind`` (the word in the "stopped" log line), ``log`` (their
    module's logger) and define ``tick``.
    """

    kind = "evaluator"
    log = logging.getLogger(__name__)

    def __init__(self, spec: Any, tags: Any, clock: Any, commands: Any, publisher: Any) -> None:
        self.spec = spec
        self.tags = tags
        self.clock = clock
        self.commands = commands
        self.publisher = publisher
        self._call: LoopingCall | None = None

    def start(self) -> None:
        """Evaluate now and every ``spec.interval`` seconds."""
        self._call = start_ticking(self.tick, self.clock, self.spec.interval, self.log,
                                   f"{self.kind} {self.spec.name}")

    def stop(self) -> None:
        """Stop evaluating."""
        stop_ticking(self._call)
