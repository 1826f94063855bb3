"""The control engine: builds loops, schedules, rules, interlocks and rotations from the site.

``ControlEngine`` owns one :class:`CommandService` shared by every control
object and by the REST API, so every write control makes (except PID outputs,
which go straight to ``tags.write`` with ``user="control:<loop>"`` every
cycle) is checked and audited the same way as an operator's. Each loop gets
the same interlocks and checks those guarding its output before every write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from tagdb.values import Scalar

from .calendar import Calendar, build_program, expand_days
from .commands import CommandService
from .errors import InvalidCommandError, UnknownLoopError
from .interlocks import Interlock, Interlocks
from .loops import LoopSpec, PidLoop
from .pid import PidParams
from .rotation import Member, Rotation, RotationSpec
from .rules import RuleRunner, RuleSpec, Step
from .schedules import DaylightSpec, ScheduleEngine, ScheduleSpec
from .state import PREFIX, StatePublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopAlarm:
    """Published on the event bus when a loop's PV goes Bad (active) or recovers."""

    loop: str
    active: bool
    message: str
    ts: datetime
    tag: str


def loop_spec(name: str, c: Mapping[str, Any], default_interval: float) -> LoopSpec:
    """A LoopSpec from one validated ``control.loops`` entry."""
    params = PidParams(kp=c["kp"], ti=c["ti"], td=c["td"], action=c["action"], out_min=c["out_min"],
                       out_max=c["out_max"], rate_limit=c["rate_limit"], d_filter=c["d_filter"],
                       tt=c["tt"], sp_weight=c["sp_weight"])
    mode = c["mode"]
    if mode == "auto" and c["sp_loop"] is not None and c["sp"] is None and c["sp_tag"] is None:
        mode = "cascade"  # a slave with no local setpoint can only run in cascade
    return LoopSpec(name=name, pv=c["pv"], out=c["out"], params=params,
                    interval=c["interval"] or default_interval, sp=c["sp"], sp_tag=c["sp_tag"],
                    sp_loop=c["sp_loop"], sp_min=c["sp_min"], sp_max=c["sp_max"], mode=mode,
                    bad_pv=c["bad_pv"], safe_output=c["safe_output"], enable=c["enable"],
                    disabled_output=c["disabled_output"], track=c["track"],
                    write_deadband=c["write_deadband"], description=c["description"])


def _steps(items: list) -> tuple[Step, ...]:
    out = []
    for s in items or []:
        if "write" in s:
            out.append(Step(write=s["write"], value=s.get("value"), expr=s.get("expr"), verify=s["verify"]))
        elif "delay" in s:
            out.append(Step(delay=s["delay"]))
        else:
            out.append(Step(wait=s["wait"], timeout=s["timeout"]))
    return tuple(out)


class ControlEngine:
    """Every control object of a site, sharing one command path and one state publisher."""

    def __init__(self, section: Mapping[str, Any], tags: Any, clock: Any, tz: str = "UTC", *,
                 data_dir: str | Path | None = None, events: Any = None,
                 on_alarm: Callable[[LoopAlarm], None] | None = None) -> None:
        self.tags = tags
        self.clock = clock
        self.events = events
        self.on_alarm = on_alarm
        self.publisher = StatePublisher(tags, clock)
        self.interlocks = Interlocks(
            [Interlock(n, tuple(i["tags"]), i["block"], i["message"]) for n, i in section["interlocks"].items()],
            tags)
        audit = Path(data_dir) / "audit" / "commands.jsonl" if data_dir is not None else None
        self.commands = CommandService(tags, clock, interlocks=self.interlocks, critical=section["critical"],
                                       readback_timeout=section["readback_timeout"],
                                       feedback=section["feedback"], audit_path=audit, events=events)
        self.loops: dict[str, PidLoop] = {}
        for name, c in section["loops"].items():
            self.loops[name] = PidLoop(loop_spec(name, c, section["interval"]), tags, clock,
                                       self.publisher, self._loop_alarm, interlocks=self.interlocks)
        for loop in self.loops.values():
            if loop.spec.sp_loop:
                master = self.loops[loop.spec.sp_loop]
                loop.master, master.slave = master, loop
        self.commands.register_internal(f"{PREFIX}/loops/", self._loop_command)
        self.inputs = {name: dict(c) for name, c in section.get("inputs", {}).items()}
        self._input_values = {name: _initial(c) for name, c in self.inputs.items()}
        self._input_resets: dict[str, Any] = {}
        self.commands.register_internal(f"{PREFIX}/inputs/", self._input_command)
        calendars = {n: Calendar(n, expand_days(_entries(c["holidays"])), expand_days(_entries(c["workdays"])))
                     for n, c in section["calendars"].items()}
        schedules = []
        for name, c in section["schedules"].items():
            d = c["daylight"]
            schedules.append(ScheduleSpec(
                name=name, program=build_program(c["week"], calendars.get(c["calendar"])),
                targets=tuple(c["targets"]), on_value=c["on_value"], off_value=c["off_value"],
                daylight=DaylightSpec(d["lux"], d["on_below"], d["off_above"], d["min_hold"]) if d else None,
                description=c["description"]))
        self.schedules = ScheduleEngine(schedules, tags, clock, tz, self.commands, self.publisher,
                                        section["schedule_interval"])
        self.rules = {name: RuleRunner(RuleSpec(name, c["when"], _steps(c["do"]), _steps(c["else"]), c["mode"],
                                                c["for"], c["interval"], c["description"]),
                                       tags, clock, self.commands, self.publisher)
                      for name, c in section["rules"].items()}
        self.rotations = {name: Rotation(RotationSpec(
            name, tuple(Member(m["name"], m["run_hours"], m["command"], m["on_value"], m["off_value"], m["fault"])
                        for m in c["members"]),
            c["rotate_after_hours"], c["demand"], c["interval"], c["description"]),
            tags, clock, self.commands, self.publisher) for name, c in section["rotations"].items()}

    def start(self) -> None:
        """Start every loop, schedule, rule and rotation on the injected clock."""
        if self._input_values:
            self.publisher.publish({f"{PREFIX}/inputs/{n}": v for n, v in self._input_values.items()})
        for loop in self.loops.values():
            loop.start()
        if self.schedules.specs:
            self.schedules.start()
        for rule in self.rules.values():
            rule.start()
        for rot in self.rotations.values():
            rot.start()

    def stop(self) -> None:
        """Stop everything (in reverse)."""
        for call in self._input_resets.values():
            if call.active():
                call.cancel()
        for rot in self.rotations.values():
            rot.stop()
        for rule in self.rules.values():
            rule.stop()
        self.schedules.stop()
        for loop in self.loops.values():
            loop.stop()

    def loop(self, name: str) -> PidLoop:
        """The loop called ``name`` (UnknownLoopError otherwise)."""
        try:
            return self.loops[name]
        except KeyError:
            raise UnknownLoopError(f"no loop {name!r}") from None

    def _loop_command(self, path: str, value: Scalar, user: str) -> str | None:
        """``_system/control/loops/<name>/{mode,sp,out}`` written through the command path."""
        parts = path.split("/")
        if len(parts) != 5 or parts[4] not in ("mode", "sp", "out"):
            return f"{path} cannot be commanded (only .../loops/<name>/mode, sp or out)"
        try:
            loop = self.loop(parts[3])
            if parts[4] == "mode":
                loop.set_mode(str(value))
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"{parts[4]} takes a number, got {value!r}"
            elif parts[4] == "sp":
                loop.set_setpoint(float(value))
            else:
                loop.set_output(float(value))
        except (InvalidCommandError, UnknownLoopError) as exc:
            return str(exc)
        log.info("loop %s: %s set to %r by %s", parts[3], parts[4], value, user)
        return None

    def _input_command(self, path: str, value: Scalar, user: str) -> str | None:
        """``_system/control/inputs/<name>`` = value (typed; a pulse input resets itself)."""
        name = path[len(f"{PREFIX}/inputs/"):]
        c = self.inputs.get(name)
        if c is None:
            return f"no control input {name!r} (known: {', '.join(sorted(self.inputs)) or 'none'})"
        from .validate import _fits
        if not _fits(c["type"], value):
            return f"input {name} takes a {c['type']}, got {value!r}"
        if c["type"] == "float":
            value = float(value)
        self._input_values[name] = value
        self.publisher.publish({path: value})
        old = self._input_resets.pop(name, None)
        if old is not None and old.active():
            old.cancel()
        if c.get("pulse"):
            self._input_resets[name] = self.clock.callLater(c["pulse"], self._reset_input, name)
        return None

    def _reset_input(self, name: str) -> None:
        self._input_resets.pop(name, None)
        self._input_values[name] = _initial(self.inputs[name])
        self.publisher.publish({f"{PREFIX}/inputs/{name}": self._input_values[name]})

    def _loop_alarm(self, name: str, active: bool, message: str) -> None:
        event = LoopAlarm(name, active, message or "PV good again", self.publisher.now(),
                          f"{PREFIX}/loops/{name}/alarm")
        if self.events is not None:
            self.events.publish(event)
        if self.on_alarm is not None:
            self.on_alarm(event)


def _initial(c: Mapping[str, Any]) -> Scalar:
    if c.get("initial") is not None:
        return float(c["initial"]) if c["type"] == "float" else c["initial"]
    return {"bool": False, "float": 0.0, "int": 0, "string": ""}[c["type"]]


def _entries(items: list) -> list:
    return [e if isinstance(e, dict) else {"date": e} for e in items]
