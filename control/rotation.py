"""Lead/lag rotation of duty equipment (chillers, pumps) by run hours.

The member with the fewest run hours starts as lead. When the lead has run
``rotate_after_hours`` since it became lead, the standby with the fewest run
hours takes over and the old lead goes to the back of the order. A member whose ``fault``
condition is true (or unknown) leaves duty at once: it is commanded off and
the healthiest standby takes over. ``demand``
(a number or an expression) says how many members must run; the first that
many in the order are commanded on, the rest off, starting the new units
before stopping the old so that duty is never lost during a swap. State is
published under ``_system/control/rotations/<name>/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import _async
from .commands import SYSTEM, CommandService
from .expr import BadInputError, Expression
from .state import StatePublisher, state_path
from .ticking import SpecTicker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One piece of duty equipment: its run-hours tag and its run command tag."""

    name: str
    run_hours: str
    command: str
    on_value: Any = True
    off_value: Any = False
    fault: Expression | None = None    # true (or unknown): out of duty, commanded off


@dataclass(frozen=True)
class RotationSpec:
    """One configured lead/lag group."""

    name: str
    members: tuple[Member, ...]
    rotate_after_hours: float
    demand: Expression | float = 1
    interval: float = 60.0
    description: str = ""


class Rotation(SpecTicker):
    """Runs one lead/lag group on its own interval."""

    kind = "rotation"
    log = log

    def __init__(self, spec: RotationSpec, tags: Any, clock: Any, commands: CommandService,
                 publisher: StatePublisher) -> None:
        super().__init__(spec, tags, clock, commands, publisher)
        self.order: list[Member] = []
        self.lead_start: float | None = None     # the lead's run hours when it became lead
        self.swaps = 0
        self.running: dict[str, Any] = {}         # command -> last value confirmed
        self.busy = False
        self.status = "starting"

    @property
    def lead(self) -> Member | None:
        """The current lead member (None before the first good run-hours reading)."""
        return self.order[0] if self.order else None

    def _hours(self) -> dict[str, float | None]:
        snap = self.tags.snapshot([m.run_hours for m in self.spec.members])
        out: dict[str, float | None] = {}
        for m in self.spec.members:
            tv = snap[m.run_hours]
            ok = not tv.quality.is_bad and isinstance(tv.value, (int, float)) and not isinstance(tv.value, bool)
            out[m.name] = float(tv.value) if ok else None
        return out

    def tick(self) -> None:
        """Rotate when due and command the members that differ from what demand needs."""
        hours = self._hours()
        if not self.order:
            if any(h is None for h in hours.values()):
                self.status = "waiting for run hours"
                self._publish(hours)
                return
            self.order = sorted(self.spec.members, key=lambda m: (hours[m.name], m.name))
            self.lead_start = hours[self.order[0].name]
            log.info("rotation %s: lead %s", self.spec.name, self.order[0].name)
        faulted = self._faulted()
        if self.order[0].name in faulted:
            self._swap(hours, faulted, why="fault")
        lead_hours = hours[self.order[0].name]
        if lead_hours is not None and self.lead_start is not None:
            if lead_hours < self.lead_start:
                self.lead_start = lead_hours   # counter reset on the unit: start counting again
            elif lead_hours - self.lead_start >= self.spec.rotate_after_hours:
                self._swap(hours, faulted)
        demand = self._demand()
        if demand is None:
            self.status = "demand unknown: holding"
            self._publish(hours)
            return
        duty = [m for m in self.order if m.name not in faulted]
        wanted = {m.command: (m.on_value if i < demand else m.off_value) for i, m in enumerate(duty)}
        wanted.update({m.command: m.off_value for m in self.order if m.name in faulted})
        # Starts first, then stops: never fewer running units than demand during a swap.
        plan = [c for c, v in wanted.items() if v is not False and v != 0 and self.running.get(c) != v]
        plan += [c for c, v in wanted.items() if (v is False or v == 0) and self.running.get(c) != v]
        if plan and not self.busy:
            self.busy = True
            _async.start(self._apply([(c, wanted[c]) for c in plan])).addErrback(
                lambda f: log.error("rotation %s: %s", self.spec.name, f.getErrorMessage()))
        self.status = "ok" if not faulted else f"faulted: {', '.join(sorted(faulted))}"
        self._publish(hours)

    def _faulted(self) -> set[str]:
        out = set()
        for m in self.spec.members:
            if m.fault is None:
                continue
            try:
                bad = bool(m.fault.evaluate(self.tags.snapshot(m.fault.paths)))
            except BadInputError:
                bad = True     # cannot tell: keep it out of duty, the standby covers
            if bad:
                out.add(m.name)
        return out

    def _swap(self, hours: dict[str, float | None], faulted: set[str] = frozenset(), why: str = "") -> None:
        old = self.order[0]
        standby = [m for m in self.order[1:] if hours[m.name] is not None and m.name not in faulted]
        if not standby:
            return
        new = min(standby, key=lambda m: (hours[m.name], self.order.index(m)))
        self.order = [new] + [m for m in self.order[1:] if m is not new] + [old]
        self.lead_start = hours[new.name]
        self.swaps += 1
        if why:
            log.warning("rotation %s: lead %s -> %s (%s)", self.spec.name, old.name, new.name, why)
        else:
            log.info("rotation %s: lead %s -> %s after %.1f h", self.spec.name, old.name, new.name,
                     self.spec.rotate_after_hours)

    def _demand(self) -> int | None:
        d = self.spec.demand
        if isinstance(d, Expression):
            try:
                d = d.evaluate(self.tags.snapshot(d.paths))
            except BadInputError:
                return None
        try:
            return max(0, min(len(self.order), int(d)))
        except (TypeError, ValueError):
            return None

    async def _apply(self, plan: list[tuple[str, Any]]) -> None:
        try:
            for command, value in plan:
                record = await self.commands.execute(SYSTEM, command, value, source=f"rotation:{self.spec.name}",
                                                     reason=f"lead/lag: lead {self.order[0].name}")
                if record.ok:
                    self.running[command] = value
                else:
                    self.running.pop(command, None)
        finally:
            self.busy = False

    def _publish(self, hours: dict[str, float | None]) -> None:
        n = self.spec.name
        lead = self.lead
        self.publisher.publish({
            state_path("rotations", n, "lead"): lead.name if lead else "",
            state_path("rotations", n, "order"): ",".join(m.name for m in self.order),
            state_path("rotations", n, "lead_hours"): (
                float("nan") if lead is None or hours.get(lead.name) is None or self.lead_start is None
                else hours[lead.name] - self.lead_start),
            state_path("rotations", n, "swaps"): self.swaps,
            state_path("rotations", n, "status"): self.status,
        })
