"""PID loops on the tag database: scheduling, modes, Bad-PV handling, cascade, state tags.

Each loop runs on its own interval (a ``LoopingCall`` on the injected clock),
reads PV, SP and output read-back from one ``snapshot`` and writes its output
through ``tags.write(..., user="control:<loop>")``. Those writes bypass the
command path, so a loop checks the interlocks guarding its output itself: while
one refuses the value the loop wants, the loop writes nothing (or its
``disabled_output`` when the interlock allows that), tracks the output's
read-back and resumes bumplessly once the interlock clears. State is published
under ``_system/control/loops/<name>/`` (mode, sp, pv, out, error, status,
alarm, write, interlock).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.internet.task import LoopingCall


from tagdb.values import TagValue

from . import _async
from .expr import BadInputError, Expression
from .interlocks import Interlocks
from .errors import InvalidCommandError
from .pid import PidController, PidParams
from .state import StatePublisher, state_path
from .ticking import start_ticking, stop_ticking

log = logging.getLogger(__name__)

MODES = ("auto", "manual", "cascade")
#: Loops start in this many phase groups per interval; a group computes in one
#: reactor turn and publishes its state in one database batch.
PHASES = 10


@dataclass(frozen=True)
class LoopSpec:
    """One configured PID loop."""

    name: str
    pv: str
    out: str | None                 # None for a cascade master that only feeds a slave's SP
    params: PidParams
    interval: float = 1.0
    sp: float | None = None         # local setpoint value
    sp_tag: str | None = None       # or a setpoint tag
    sp_loop: str | None = None      # cascade: this loop's SP is that loop's output
    sp_min: float = float("-inf")
    sp_max: float = float("inf")
    mode: str = "auto"
    bad_pv: str = "hold"            # "hold" the last output or go to "safe" output
    safe_output: float | None = None
    enable: Expression | None = None     # loop runs only while true (e.g. fan proven)
    disabled_output: float | None = None  # output written while disabled
    track: Expression | None = None      # output is forced from outside while true
    write_deadband: float = 0.0
    description: str = ""


@dataclass
class LoopState:
    """What a loop last did (published as tags)."""

    mode: str
    status: str = "starting"
    sp: float | None = None
    pv: float | None = None
    out: float | None = None
    error: float | None = None
    alarm: bool = False
    write: str = ""
    interlock: str = ""            # why an interlock holds the output ("" when none does)
    intervals: list[float] = field(default_factory=list)  # actual tick intervals, for the benchmark


class PidLoop:
    """One running loop: a PidController plus its I/O on the tag store."""

    def __init__(self, spec: LoopSpec, tags: Any, clock: Any, publisher: StatePublisher,
                 on_alarm: Callable[[str, bool, str], None] | None = None, *,
                 interlocks: Interlocks | None = None) -> None:
        self.spec = spec
        self.tags = tags
        self.clock = clock
        self.publisher = publisher
        self.on_alarm = on_alarm
        self.pid = PidController(spec.params)
        self.state = LoopState(mode=spec.mode)
        self.local_sp = spec.sp
        self.master: PidLoop | None = None     # set by the engine for cascade slaves
        self.slave: PidLoop | None = None
        self.last_written: float | None = None
        self.writing = False
        self.record_intervals = False
        self._last_tick: float | None = None
        self._call: LoopingCall | None = None
        self._starter: Any = None
        self._paths = self._inputs()
        self._step = _resolution(tags, spec.out)
        # Only the interlocks guarding this output, so that checking every cycle is cheap.
        guards = interlocks.guarding(spec.out) if interlocks is not None else None
        self.guards: Interlocks | None = guards if guards is not None and guards.items else None
        self._snap: dict[str, TagValue] = {}
        self._held = False

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        """Start ticking every ``interval`` seconds on the injected clock.

        Each loop starts in one of ``PHASES`` phase groups within the interval
        (derived from its name, so runs are repeatable): a thousand loops then
        spread over the interval instead of all computing in the same reactor
        turn, which keeps every loop's interval regular.
        """
        phase = (zlib.crc32(self.spec.name.encode()) % PHASES) / PHASES * self.spec.interval
        self._starter = self.clock.callLater(phase, self._begin)

    def _begin(self) -> None:
        self._starter = None
        self._call = start_ticking(self.tick, self.clock, self.spec.interval, log,
                                   f"loop {self.spec.name}")

    def stop(self) -> None:
        """Stop ticking."""
        if self._starter is not None and self._starter.active():
            self._starter.cancel()
        self._starter = None
        stop_ticking(self._call)
        self._call = None

    def _inputs(self) -> list[str]:
        s = self.spec
        paths = [s.pv]
        for extra in (s.sp_tag, s.out):
            if extra and extra not in paths:
                paths.append(extra)
        for expr in (s.enable, s.track):
            for p in expr.paths if expr else ():
                if p not in paths:
                    paths.append(p)
        return paths

    # -- operator commands -------------------------------------------------
    def set_mode(self, mode: str, output: float | None = None) -> None:
        """Switch Auto/Manual/Cascade; the controller is already tracking, so no bump."""
        if mode not in MODES:
            raise InvalidCommandError(f"loop {self.spec.name}: mode must be one of {', '.join(MODES)}")
        if mode == "cascade" and self.master is None:
            raise InvalidCommandError(f"loop {self.spec.name} has no cascade master (sp_loop)")
        if output is not None:
            self._set_manual_output(output)
        self.state.mode = mode

    def set_output(self, value: float) -> None:
        """Set the manual output (only in Manual mode)."""
        if self.state.mode != "manual":
            raise InvalidCommandError(f"loop {self.spec.name} is in {self.state.mode}: switch to manual first")
        self._set_manual_output(value)

    def _set_manual_output(self, value: float) -> None:
        p = self.spec.params
        if not p.out_min <= value <= p.out_max:
            raise InvalidCommandError(
                f"loop {self.spec.name}: output {value} outside {p.out_min}..{p.out_max}")
        # Refused now rather than written later when the interlock clears: nothing
        # an operator commands fires at a time they no longer expect it.
        why = self._refusal(value)
        if why:
            raise InvalidCommandError(f"loop {self.spec.name}: {why}")
        self.pid.track(value, self.pid.last_pv, self.pid.last_sp)

    def set_setpoint(self, value: float) -> None:
        """Change the local setpoint (bumpless: derivative is on PV; b weights P)."""
        if self.spec.sp_tag is not None:
            raise InvalidCommandError(f"loop {self.spec.name} takes its setpoint from {self.spec.sp_tag}")
        if not self.spec.sp_min <= value <= self.spec.sp_max:
            raise InvalidCommandError(
                f"loop {self.spec.name}: setpoint {value} outside {self.spec.sp_min}..{self.spec.sp_max}")
        self.local_sp = value

    # -- the cycle --------------------------------------------------------
    def tick(self) -> None:
        """One control cycle from one consistent snapshot (errors are logged, never stop the loop)."""
        try:
            self._tick()
        except Exception:
            log.exception("loop %s: cycle failed", self.spec.name)

    def _tick(self) -> None:
        now = self.clock.seconds()
        dt = self.spec.interval if self._last_tick is None else now - self._last_tick
        if self.record_intervals and self._last_tick is not None:
            self.state.intervals.append(dt)
        self._last_tick = now
        snap = self.tags.snapshot(self._paths)
        self._snap, self._held = snap, False
        self._cycle(snap, dt)
        if not self._held and self.state.interlock:
            log.info("loop %s: interlock cleared, output released", self.spec.name)
            self.state.interlock = ""
        self._publish()

    def _cycle(self, snap: dict[str, TagValue], dt: float) -> None:
        s, st = self.spec, self.state
        pv = _number(snap.get(s.pv))
        if pv is None:
            tv = snap.get(s.pv)
            if tv is not None and (tv.quality.code & 0xFFFF0000) == _WAITING and not st.alarm:
                st.status = "waiting"   # start-up: no first reading yet, nothing to alarm or act on
                return
            self._bad_input(f"PV {s.pv} is {tv.quality if tv is not None else 'missing'}")
            return
        if s.enable is not None:
            enabled = self._truth(s.enable, snap, default=None)
            if enabled is None:
                self._bad_input(f"enable condition {s.enable.source} has a Bad input")
                return
            if not enabled:
                st.status, st.error, st.pv = "disabled", None, pv
                self._set_alarm(False, "")
                out = s.disabled_output if s.disabled_output is not None else self.pid.output
                self.pid.track(out, None, None)
                self.pid.last_pv = None
                self._emit(out)
                return
        self._set_alarm(False, "")
        st.pv = pv
        sp = self._setpoint(snap)
        if sp is None:
            st.status = "bad_sp"
            self.pid.track(self.pid.output, pv, self.pid.last_sp)
            return
        st.sp = sp
        st.error = self.spec.params.sign * (sp - pv)
        if st.mode == "manual":
            st.status = "manual"
            self.pid.track(self.pid.output, pv, sp, dt)
            self._emit(self.pid.output)
        elif s.track is not None and self._truth(s.track, snap, default=True):
            st.status = "tracking"
            forced = _number(snap.get(s.out)) if s.out else None
            self.pid.track(forced if forced is not None else self.pid.output, pv, sp, dt)
            self.last_written = self.pid.output
        elif self.slave is not None and not self.slave.accepts_cascade():
            # The slave does not use our output: follow its setpoint so that
            # switching it back to cascade is bumpless.
            st.status = "tracking_slave"
            target = self.slave.state.sp if self.slave.state.sp is not None else self.pid.output
            self.pid.track(min(max(target, s.params.out_min), s.params.out_max), pv, sp, dt)
        else:
            st.status = "ok"
            self._emit(self.pid.update(pv, sp, dt))
        st.out = self.pid.output

    def accepts_cascade(self) -> bool:
        """True when this slave loop is computing from its master's output."""
        return self.state.mode == "cascade" and self.state.status == "ok"

    def _setpoint(self, snap: dict[str, TagValue]) -> float | None:
        s = self.spec
        if self.state.mode == "cascade" and self.master is not None:
            sp = self.master.pid.output
            # Remembered so that Auto (local SP) after Cascade starts where cascade left off.
            if s.sp_tag is None:
                self.local_sp = sp
        elif s.sp_tag is not None:
            sp = _number(snap.get(s.sp_tag))
            if sp is None:
                return None
        else:
            sp = self.local_sp
        if sp is None:
            return None
        return min(max(sp, s.sp_min), s.sp_max)

    def _bad_input(self, why: str) -> None:
        s, st = self.spec, self.state
        st.status = "bad_pv"
        st.pv = None
        st.error = None
        self._set_alarm(True, why)
        if s.bad_pv == "safe" and s.safe_output is not None and st.mode != "manual":
            out = s.safe_output
        else:
            out = self.pid.output   # hold (and an operator's manual output stays)
        # Never act on a Bad value: freeze the controller at the held/safe output.
        self.pid.track(out, None, None)
        self.pid.last_pv = None
        self._emit(out)

    def _set_alarm(self, active: bool, message: str) -> None:
        if active != self.state.alarm:
            self.state.alarm = active
            if active:
                log.error("loop %s: %s", self.spec.name, message)
            else:
                log.info("loop %s: inputs good again", self.spec.name)
            if self.on_alarm is not None:
                self.on_alarm(self.spec.name, active, message)

    def _truth(self, expr: Expression, snap: dict[str, TagValue], default: bool | None) -> bool | None:
        try:
            return bool(expr.evaluate(snap))
        except BadInputError:
            return default
        except Exception as exc:  # noqa: BLE001 - a type error in a config expression
            log.debug("loop %s: %s failed: %s", self.spec.name, expr, exc)
            return default

    # -- output -----------------------------------------------------------
    def _quantize(self, out: float) -> float:
        """The value written for ``out``: rounded to the output register's resolution."""
        value = round(round(out / self._step) * self._step, 6) if self._step else round(out, 6)
        return int(value) if self._step == 1.0 else value

    def _refusal(self, out: float) -> str | None:
        """Why an interlock refuses ``out`` on the output tag now (None: allowed)."""
        if self.guards is None or self.spec.out is None:
            return None
        return self.guards.check(self.spec.out, self._quantize(out))

    def _emit(self, out: float) -> None:
        self.state.out = out
        s = self.spec
        if s.out is None:
            return
        why = self._refusal(out)
        if why:
            self._hold(why)
            return
        self._write(self._quantize(out))

    def _hold(self, why: str) -> None:
        """An interlock refuses the output: it wins. Write the disabled output if it
        allows that, else nothing; track what the output tag reads so that the
        loop resumes from there, bumplessly, when the interlock clears."""
        s, st, p = self.spec, self.state, self.spec.params
        self._held = True
        if st.interlock != why:
            log.warning("loop %s: output held, %s", s.name, why)
        st.interlock = why
        if st.status != "bad_pv":       # the Bad-PV status (and alarm) stays visible
            st.status = "interlocked"
        if s.disabled_output is not None and not self._refusal(s.disabled_output):
            held = s.disabled_output
            self._write(self._quantize(held))
        else:
            read = _number(self._snap.get(s.out))
            held = read if read is not None else (
                self.last_written if self.last_written is not None else self.pid.output)
            # What the device holds is the reference for the write deadband once the
            # interlock clears; unknown, the first allowed value is written whatever it is.
            self.last_written = read
        held = min(max(held, p.out_min), p.out_max)
        self.pid.track(held, self.pid.last_pv, self.pid.last_sp)
        st.out = held

    def _write(self, value: float) -> None:
        s = self.spec
        if self.last_written is not None and abs(value - self.last_written) <= s.write_deadband:
            return
        if self.writing:
            return  # one write in flight per loop; the next cycle writes the newest value
        self.writing = True
        d = _async.start(self.tags.write(s.out, value, user=f"control:{s.name}", reason="pid output"))
        d.addCallbacks(lambda r: self._written(value, r), lambda f: self._write_failed(value, f))

    def _written(self, value: float, result: Any) -> None:
        self.writing = False
        if getattr(result, "ok", False):
            self.last_written = value
            self.state.write = "ok"
        else:
            self.last_written = None
            status = getattr(result, "status", "failed")
            self.state.write = f"{getattr(status, 'value', status)}: {getattr(result, 'message', '')}".strip()
            log.debug("loop %s: write %s failed: %s", self.spec.name, value, self.state.write)

    def _write_failed(self, value: float, failure: Any) -> None:
        self.writing = False
        self.last_written = None
        self.state.write = f"error: {failure.getErrorMessage()}"
        log.debug("loop %s: write %s raised %s", self.spec.name, value, self.state.write)

    def _publish(self) -> None:
        st, n = self.state, self.spec.name
        self.publisher.publish({
            state_path("loops", n, "mode"): st.mode,
            state_path("loops", n, "status"): st.status,
            state_path("loops", n, "sp"): _f(st.sp),
            state_path("loops", n, "pv"): _f(st.pv),
            state_path("loops", n, "out"): _f(st.out),
            state_path("loops", n, "error"): _f(st.error),
            state_path("loops", n, "alarm"): st.alarm,
            state_path("loops", n, "write"): st.write,
            state_path("loops", n, "interlock"): st.interlock,
        }, batch=True)


_WAITING = 0x80320000   # BadWaitingForInitialData: the collector has not read the tag yet
_INTEGER_TYPES = ("int16", "uint16", "int32", "uint32", "int64", "uint64")


def _resolution(tags: Any, path: str | None) -> float | None:
    """The smallest step the output tag can hold (integer registers), or None for floats."""
    spec_of = getattr(tags, "spec", None)
    if path is None or spec_of is None:
        return None
    try:
        spec = spec_of(path)
    except KeyError:
        return None
    if spec.data_type not in _INTEGER_TYPES:
        return None
    s = spec.scaling
    if s is None:
        return 1.0
    return abs((s.eng_hi - s.eng_lo) / (s.raw_hi - s.raw_lo)) or None


def _f(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _number(tv: TagValue | None) -> float | None:
    """The numeric value of a usable (not Bad) tag value, else None."""
    if tv is None or tv.quality.is_bad or isinstance(tv.value, (str, type(None))):
        return None
    value = float(tv.value)
    return None if value != value else value
