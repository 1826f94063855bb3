"""The ``control`` component: PID loops, schedules, rules, rotations and the command API.

Started after ``alarms`` and before ``simulators``/``collectors``: loops and
rules only read the tag database and write through it, so they may start
before any device answers (their inputs are Bad/not-yet-read until then, and
nothing acts on a Bad input).
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.application.service import Service

from .api import OPERATIONS, CommandsResource
from .engine import ControlEngine
from .state import state_path

log = logging.getLogger(__name__)


class ControlService(Service):
    """Runs a :class:`ControlEngine` between ``startService`` and ``stopService``."""

    def __init__(self, engine: ControlEngine) -> None:
        self.engine = engine
        self.setName("control")

    def startService(self) -> None:
        """Start every loop, schedule, rule and rotation."""
        super().startService()
        self.engine.start()
        log.info("control: %d loops, %d schedules, %d rules, %d rotations, %d interlocks",
                 len(self.engine.loops), len(self.engine.schedules.specs), len(self.engine.rules),
                 len(self.engine.rotations), len(self.engine.interlocks.items))

    def stopService(self):
        """Stop them in reverse."""
        self.engine.stop()
        return super().stopService()


def loop_alarm_rule(name: str, bad_pv: str) -> dict:
    """The built-in ISA-18.2 alarm of a loop that stopped controlling on a Bad input (high priority)."""
    held = "safe output" if bad_pv == "safe" else "output held"
    return {"type": "digital", "name": "BAD_PV", "priority": "high",
            "message": f"Control loop {name.replace('{', '{{').replace('}', '}}')}: Bad PV or input, {held}"}


def from_config(ctx: Any) -> ControlService | None:
    """Build the engine from ``control:``; None when the site has no such section.

    Publishes the engine as ``ctx.provides["control"]`` and its command path as
    ``ctx.provides["commands"]`` (the HMI sends operator commands through it),
    and mounts ``/api/v1/commands``. With an alarm system, each loop gets the
    alarm ``_system/control/loops/<name>/alarm:BAD_PV``.
    """
    section = ctx.site.section("control")
    if section is None:
        return None
    if ctx.tags is None:
        raise RuntimeError("control needs the tag database (the tagdb component starts first)")
    engine = ControlEngine(section, ctx.tags, ctx.reactor, ctx.site.timezone,
                           data_dir=ctx.data_dir, events=ctx.events)
    ctx.provides["control"] = engine
    ctx.provides["commands"] = engine.commands
    alarms = ctx.provides.get("alarms")   # absent when the site runs no alarm system
    if alarms is not None:
        for name, loop in engine.loops.items():
            alarms.define_system_alarm(state_path("loops", name, "alarm"), loop_alarm_rule(name, loop.spec.bad_pv),
                                       origin="control")
    ctx.mount_api("commands", CommandsResource(ctx, engine), OPERATIONS)
    return ControlService(engine)
