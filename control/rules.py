"""Declarative interlock and sequence rules: conditions over tags, actions as writes.

A rule has a ``when`` condition (a safe expression over ``{tag}`` references),
an optional ``for`` delay the condition must hold, and steps to run:

* ``once`` (edge) rules run ``do`` once each time the condition becomes true
  and ``else`` once when it becomes false again;
* ``continuous`` (level) rules keep the targets of ``do`` (while true) or
  ``else`` (while false) at their values, re-running the steps whenever a target
  reads something else.

Steps are ``write`` (a value or an ``expr``), ``delay`` and ``wait`` (for a
condition, with a timeout that aborts the sequence). Every write goes through
the command path, so interlocks, audit and read-back apply to rules too. A
condition with a Bad input is unknown: nothing runs and the timer restarts.
State is published under ``_system/control/rules/<name>/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from tagdb.values import Scalar

from . import _async
from .commands import SYSTEM, CommandService, _equal
from .expr import BadInputError, Expression
from .state import StatePublisher, state_path
from .ticking import SpecTicker

log = logging.getLogger(__name__)

_WAITING = 0x80320000   # BadWaitingForInitialData


@dataclass(frozen=True)
class Step:
    """One step of a sequence: exactly one of write / delay / wait is set."""

    write: str | None = None
    value: Scalar = None
    expr: Expression | None = None
    verify: bool = True
    delay: float | None = None
    wait: Expression | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class RuleSpec:
    """One configured rule."""

    name: str
    when: Expression
    do: tuple[Step, ...]
    otherwise: tuple[Step, ...] = ()
    mode: str = "once"             # once | continuous
    hold: float = 0.0              # the "for:" delay
    interval: float = 1.0
    description: str = ""

    @property
    def paths(self) -> list[str]:
        """Every tag the rule reads (for its snapshot)."""
        out = list(self.when.paths)
        for step in (*self.do, *self.otherwise):
            for expr in (step.expr, step.wait):
                out += list(expr.paths) if expr else []
            if step.write:
                out.append(step.write)
        return list(dict.fromkeys(out))


@dataclass
class _Runtime:
    active: bool = False
    since: float | None = None
    running: Deferred | None = None
    status: str = "idle"
    runs: int = 0
    last_error: str = ""
    known: bool = True
    retry_at: float = float("-inf")   # continuous rules back off after an aborted run
    backoff: float = 0.0


class RuleRunner(SpecTicker):
    """Evaluates one rule on its own interval and runs its sequences."""

    kind = "rule"
    log = log

    def __init__(self, spec: RuleSpec, tags: Any, clock: Any, commands: CommandService,
                 publisher: StatePublisher) -> None:
        super().__init__(spec, tags, clock, commands, publisher)
        self.rt = _Runtime()
        self._paths = [p for p in spec.paths]
        self._targets = list(dict.fromkeys(st.write for st in (*spec.do, *spec.otherwise) if st.write))

    def stop(self) -> None:
        """Stop evaluating and cancel a running sequence."""
        super().stop()
        if self.rt.running is not None:
            self.rt.running.cancel()

    def tick(self) -> None:
        """One evaluation from one snapshot (an unexpected error is logged, never stops the rule)."""
        try:
            self._tick()
        except Exception:
            log.exception("rule %s: evaluation failed", self.spec.name)

    def _snapshot(self, paths) -> dict:
        # Control state tags appear once their owner first publishes them.
        return self.tags.snapshot([p for p in paths if p in self.tags])

    def _tick(self) -> None:
        s, rt = self.spec, self.rt
        now = self.clock.seconds()
        snap = self._snapshot(self._paths)
        waiting = [p for p in self._targets if p in snap and (snap[p].quality.code & 0xFFFF0000) == _WAITING]
        if waiting:
            # Start-up: nothing is commanded before its device has been read once.
            rt.known, rt.since = False, None
            rt.last_error = f"waiting for the first reading of {waiting[0]}"
            self._publish()
            return
        try:
            raw = bool(s.when.evaluate(snap))
            rt.known = True
        except BadInputError as exc:
            rt.known, rt.since = False, None
            rt.last_error = f"input {exc} not usable"
            self._publish()
            return
        except Exception as exc:  # noqa: BLE001 - e.g. comparing a string to a number
            rt.known, rt.since = False, None
            rt.last_error = f"{type(exc).__name__}: {exc}"
            self._publish()
            return
        if raw:
            rt.since = now if rt.since is None else rt.since
            held = now - rt.since >= s.hold
        else:
            rt.since, held = None, False
        if s.mode == "once":
            if held and not rt.active:
                rt.active = True
                self._run(s.do, "do")
            elif not raw and rt.active:
                rt.active = False
                if s.otherwise:
                    self._run(s.otherwise, "else")
        else:
            rt.active = held
            steps = s.do if held else s.otherwise
            if steps and rt.running is None and now >= rt.retry_at and self._needs(steps, snap):
                self._run(steps, "do" if held else "else")
        self._publish()

    def _needs(self, steps: tuple[Step, ...], snap: dict) -> bool:
        """True when some write target does not read its wanted value."""
        for step in steps:
            if step.write is None:
                continue
            tv = snap.get(step.write)
            try:
                wanted = step.expr.evaluate(snap) if step.expr is not None else step.value
            except BadInputError:
                return False
            if tv is None or tv.quality.is_bad or not _equal(tv.value, wanted, 1e-6):
                return True
        return False

    def _run(self, steps: tuple[Step, ...], which: str) -> None:
        if self.rt.running is not None:
            self.rt.running.cancel()
        self.rt.runs += 1
        self.rt.status = f"running {which}"
        d = _async.start(self._sequence(steps, which))
        self.rt.running = d
        d.addBoth(self._finished, d)

    def _finished(self, result: Any, d: Deferred) -> None:
        if self.rt.running is d:
            self.rt.running = None
        if hasattr(result, "check") and result.check(CancelledError):
            return None
        if hasattr(result, "getErrorMessage"):
            self.rt.status = "failed"
            self.rt.last_error = result.getErrorMessage()
            log.error("rule %s failed: %s", self.spec.name, self.rt.last_error)
        self._publish()
        return None

    def _aborted(self) -> None:
        # A refused or failed step is retried by a continuous rule, but not every
        # interval: back off (up to five minutes) so an interlock that holds for
        # hours does not fill the audit trail.
        rt = self.rt
        rt.backoff = min(max(2 * rt.backoff, 10.0 * self.spec.interval), 300.0)
        rt.retry_at = self.clock.seconds() + rt.backoff

    async def _sequence(self, steps: tuple[Step, ...], which: str) -> None:
        name = self.spec.name
        for i, step in enumerate(steps):
            if step.delay is not None:
                await _async.wait(_async.sleep(self.clock, step.delay))
            elif step.wait is not None:
                if not await self._wait_for(step.wait, step.timeout):
                    self.rt.status = "aborted"
                    self.rt.last_error = f"step {i + 1}: {step.wait.source} not true within {step.timeout:g} s"
                    log.warning("rule %s: %s", name, self.rt.last_error)
                    self._aborted()
                    return
            elif step.write is not None:
                snap = self._snapshot(step.expr.paths if step.expr else ())
                value = step.expr.evaluate(snap) if step.expr is not None else step.value
                record = await self.commands.execute(SYSTEM, step.write, value, source=f"rule:{name}",
                                                     reason=f"rule {name} ({which})", verify=step.verify)
                if not record.ok:
                    self.rt.status = "aborted"
                    self.rt.last_error = f"step {i + 1}: {step.write}={value!r} {record.status}: {record.message}"
                    log.warning("rule %s: %s", name, self.rt.last_error)
                    self._aborted()
                    return
        self.rt.status = f"done {which}"
        self.rt.last_error = ""
        self.rt.backoff, self.rt.retry_at = 0.0, float("-inf")

    async def _wait_for(self, cond: Expression, timeout: float) -> bool:
        deadline = self.clock.seconds() + timeout
        step = min(self.spec.interval, max(timeout, 0.01))
        while True:
            try:
                if cond.evaluate(self._snapshot(cond.paths)):
                    return True
            except BadInputError:
                pass
            if self.clock.seconds() >= deadline:
                return False
            await _async.wait(_async.sleep(self.clock, step))

    def _publish(self) -> None:
        rt, n = self.rt, self.spec.name
        self.publisher.publish({
            state_path("rules", n, "active"): rt.active,
            state_path("rules", n, "known"): rt.known,
            state_path("rules", n, "status"): rt.status,
            state_path("rules", n, "runs"): rt.runs,
            state_path("rules", n, "last_error"): rt.last_error,
        })
