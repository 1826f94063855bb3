"""Periodic evaluation on the injected clock, shared by loops, rules, rotations and schedules."""

from __future__ import annotations

import logging
from typing import Callable

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
