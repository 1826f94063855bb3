"""Time schedules for lighting circuits and HVAC start/stop, with overrides and daylight control.

Each schedule evaluates its week program (with the calendar's holidays and
make-up working days) in the site's time zone every ``interval`` seconds and
commands its targets when the wanted state changes, through the command path
(interlocks, audit, read-back). An operator override forces on or off until it
expires. A lighting schedule with ``daylight`` switches its circuits on during
occupied hours only when the lux sensor reads below ``on_below`` and off again
above ``off_above`` (hysteresis), holding each state at least ``min_hold``.
State is published under ``_system/control/schedules/<name>/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet.task import LoopingCall

from tagdb.site.errors import Loc
from tagdb.site.schema import Duration
from tagdb.values import Scalar

from . import _async
from .calendar import WeekProgram
from .commands import SYSTEM, CommandService
from .errors import InvalidCommandError, UnknownLoopError
from .state import PREFIX, StatePublisher, state_path
from .ticking import start_ticking, stop_ticking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaylightSpec:
    """Lux-based switching inside occupied hours."""

    lux: str
    on_below: float
    off_above: float
    min_hold: float = 300.0


@dataclass(frozen=True)
class ScheduleSpec:
    """One configured schedule."""

    name: str
    program: WeekProgram
    targets: tuple[str, ...]
    on_value: Scalar = True
    off_value: Scalar = False
    daylight: DaylightSpec | None = None
    description: str = ""


@dataclass
class _Runtime:
    occupied: bool | None = None
    wanted: bool | None = None
    daylight_on: bool = True
    daylight_since: float = float("-inf")
    override: bool | None = None
    override_until: float | None = None
    override_user: str = ""
    applied: dict = field(default_factory=dict)     # target -> last value confirmed written
    busy: bool = False
    last_result: str = ""
    last_wanted: bool | None = None
    retry_at: float = float("-inf")   # after a failed command, back off before retrying
    backoff: float = 0.0


class ScheduleEngine:
    """Runs every schedule of the site on one ``LoopingCall``."""

    def __init__(self, specs: list[ScheduleSpec], tags: Any, clock: Any, tz: str,
                 commands: CommandService, publisher: StatePublisher, interval: float = 10.0) -> None:
        self.specs = {s.name: s for s in specs}
        self.tags = tags
        self.clock = clock
        self.tz = ZoneInfo(tz)
        self.commands = commands
        self.publisher = publisher
        self.interval = interval
        self.state = {name: _Runtime() for name in self.specs}
        self._call: LoopingCall | None = None
        commands.register_internal(f"{PREFIX}/schedules/", self._command)

    def start(self) -> None:
        """Evaluate now and then every ``interval`` seconds."""
        self._call = start_ticking(self.tick, self.clock, self.interval, log, "schedules")

    def stop(self) -> None:
        """Stop evaluating."""
        stop_ticking(self._call)

    def local_now(self) -> datetime:
        """The injected clock's time in the site's time zone."""
        return datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc).astimezone(self.tz)

    # -- operator overrides ------------------------------------------------
    def override(self, name: str, on: bool, duration: float, user: str) -> None:
        """Force the schedule on or off for ``duration`` seconds, then back to its program."""
        rt = self._rt(name)
        if duration <= 0:
            raise InvalidCommandError("an override needs a positive duration")
        rt.override, rt.override_until, rt.override_user = bool(on), self.clock.seconds() + duration, user
        log.info("schedule %s overridden %s for %.0f s by %s", name, "on" if on else "off", duration, user)
        self.evaluate(name)

    def clear_override(self, name: str) -> None:
        """Return the schedule to its program now."""
        rt = self._rt(name)
        rt.override, rt.override_until, rt.override_user = None, None, ""
        self.evaluate(name)

    def _rt(self, name: str) -> _Runtime:
        if name not in self.state:
            raise UnknownLoopError(f"no schedule {name!r}")
        return self.state[name]

    def _command(self, path: str, value: Scalar, user: str) -> str | None:
        """``_system/control/schedules/<name>/override`` = "on 2h" | "off 30m" | "auto"."""
        parts = path.split("/")
        if len(parts) != 5 or parts[4] != "override":
            return f"{path} cannot be commanded (only .../schedules/<name>/override)"
        text = str(value).strip().lower()
        if text == "auto":
            self.clear_override(parts[3])
            return None
        word, _, dur = text.partition(" ")
        if word not in ("on", "off") or not dur:
            return "override value is 'on <duration>', 'off <duration>' or 'auto' (e.g. 'on 2h')"
        seconds, errs = Duration(allow_zero=False).check(dur, "override", Loc("command"))
        if errs:
            return errs[0].message
        self.override(parts[3], word == "on", seconds, user)
        return None

    # -- evaluation --------------------------------------------------------
    def tick(self) -> None:
        """Evaluate every schedule."""
        for name in self.specs:
            self.evaluate(name)

    def evaluate(self, name: str) -> None:
        """Work out what the schedule wants now and command the targets that differ."""
        spec, rt = self.specs[name], self.state[name]
        now = self.clock.seconds()
        local = self.local_now()
        if rt.override_until is not None and now >= rt.override_until:
            log.info("schedule %s: override by %s expired", name, rt.override_user)
            rt.override, rt.override_until, rt.override_user = None, None, ""
        rt.occupied = spec.program.is_on(local)
        wanted = rt.occupied
        if spec.daylight is not None:
            wanted = rt.occupied and self._daylight(spec.daylight, rt, now)
        if rt.override is not None:
            wanted = rt.override
        rt.wanted = wanted
        value = spec.on_value if wanted else spec.off_value
        pending = [t for t in spec.targets if rt.applied.get(t) != value and not self._waiting(t)]
        if rt.wanted != rt.last_wanted:
            rt.retry_at = float("-inf")           # a new wanted state is tried at once
            rt.last_wanted = rt.wanted
        if pending and not rt.busy and now >= rt.retry_at:
            rt.busy = True
            _async.start(self._apply(spec, rt, pending, value, local)).addErrback(
                lambda f: log.error("schedule %s: %s", name, f.getErrorMessage()))
        self._publish(spec, rt, local)

    def _waiting(self, path: str) -> bool:
        """True while a target has not been read yet (start-up): command it once it has."""
        try:
            return (self.tags.get(path).quality.code & 0xFFFF0000) == 0x80320000
        except KeyError:
            return False

    def _daylight(self, d: DaylightSpec, rt: _Runtime, now: float) -> bool:
        try:
            tv = self.tags.get(d.lux)
        except KeyError:
            tv = None
        if tv is None or tv.quality.is_bad or not isinstance(tv.value, (int, float)):
            return True  # no trustworthy light reading: light the occupied space
        if now - rt.daylight_since < d.min_hold:
            return rt.daylight_on
        lux = float(tv.value)
        if rt.daylight_on and lux > d.off_above:
            rt.daylight_on, rt.daylight_since = False, now
        elif not rt.daylight_on and lux < d.on_below:
            rt.daylight_on, rt.daylight_since = True, now
        return rt.daylight_on

    async def _apply(self, spec: ScheduleSpec, rt: _Runtime, targets: list[str], value: Scalar,
                     local: datetime) -> None:
        why = "override" if rt.override is not None else f"program ({local:%a %H:%M})"
        results = []
        try:
            for target in targets:
                record = await self.commands.execute(SYSTEM, target, value, source=f"schedule:{spec.name}",
                                                     reason=f"schedule {spec.name}: {why}")
                if record.ok:
                    rt.applied[target] = value
                results.append(f"{target}: {record.status}" + (f" ({record.message})" if not record.ok else ""))
        finally:
            rt.busy = False
        rt.last_result = "; ".join(r for r in results if "done" not in r) or "ok"
        if rt.last_result == "ok":
            rt.backoff, rt.retry_at = 0.0, float("-inf")
        else:
            # Unreachable or refusing targets are retried, doubling the wait up to 5 minutes.
            rt.backoff = min(max(2 * rt.backoff, self.interval), 300.0)
            rt.retry_at = self.clock.seconds() + rt.backoff

    def _publish(self, spec: ScheduleSpec, rt: _Runtime, local: datetime) -> None:
        n = spec.name
        cal = spec.program.calendar
        self.publisher.publish({
            state_path("schedules", n, "occupied"): bool(rt.occupied),
            state_path("schedules", n, "state"): bool(rt.wanted),
            state_path("schedules", n, "override"): ("auto" if rt.override is None
                                                     else "on" if rt.override else "off"),
            state_path("schedules", n, "override_remaining_s"): (
                0.0 if rt.override_until is None else max(0.0, rt.override_until - self.clock.seconds())),
            state_path("schedules", n, "day"): cal.describe(local.date()) if cal else f"{local:%a}".lower(),
            state_path("schedules", n, "result"): rt.last_result,
        })
