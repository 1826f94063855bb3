"""The one command path for operators (HMI, REST API) and automation (rules, schedules).

``CommandService.execute`` checks permission, confirmation of critical writes,
interlocks and device reachability, writes through the tag database, then
waits for the device to confirm the new value (read-back through the tag
database) within a timeout. Every attempt, refused and failed ones included,
becomes one :class:`CommandRecord`: kept in memory for the API, appended to
``<data_dir>/audit/commands.jsonl`` and published on the event bus.

Commands to a device that cannot be reached fail at once with the reason;
nothing is queued to fire later, when the operator may no longer expect it.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from twisted.internet.defer import Deferred

from tagdb.auth import Principal
from tagdb.jsonl import JsonlAppender
from tagdb.patterns import compile_pattern
from tagdb.values import Scalar, TagValue, WriteStatus

from . import _async
from .interlocks import Interlocks

log = logging.getLogger(__name__)

# Quality codes that mean "the device is not answering" (OPC UA sub-status, info bits masked).
_UNREACHABLE = {0x80050000, 0x80310000, 0x808A0000, 0x808B0000, 0x808D0000}

#: Who automation writes as: rules, schedules and loops hold every permission.
SYSTEM = Principal(user="control", roles=frozenset({"system"}), permissions=frozenset({"*"}))

DONE, REFUSED, FAILED, CONFIRM = "done", "refused", "failed", "confirmation_required"


@dataclass(frozen=True)
class CommandRecord:
    """The audit record of one command (whatever its outcome)."""

    id: int
    ts: datetime                  # when the command was received
    user: str
    source: str                   # api, hmi, rule:<name>, schedule:<name>, rotation:<name>
    path: str
    old_value: Scalar
    new_value: Scalar
    reason: str
    status: str                   # done | refused | failed | confirmation_required
    message: str = ""
    write_status: str = ""        # the tag database's WriteStatus value, when a write was made
    readback: Scalar = None       # the value the device reported afterwards
    finished_ts: datetime | None = None

    @property
    def ok(self) -> bool:
        """True when the device confirmed the new value."""
        return self.status == DONE

    def to_dict(self) -> dict:
        """JSON-ready form (timestamps ISO 8601)."""
        d = asdict(self)
        d["ts"] = self.ts.isoformat()
        d["finished_ts"] = self.finished_ts.isoformat() if self.finished_ts else None
        for key in ("old_value", "new_value", "readback"):
            if isinstance(d[key], float) and not math.isfinite(d[key]):
                d[key] = None
        return d


InternalHandler = Callable[[str, Scalar, str], Awaitable[str | None] | str | None]


class CommandService:
    """Executes and audits commands; see the module docstring for the sequence."""

    def __init__(self, tags: Any, clock: Any, *, interlocks: Interlocks | None = None,
                 critical: Iterable[str] = (), readback_timeout: float = 5.0,
                 feedback: dict[str, str] | None = None, audit_path: str | os.PathLike | None = None,
                 events: Any = None, keep: int = 1000) -> None:
        self.tags = tags
        self.clock = clock
        self.interlocks = interlocks
        self.critical = tuple(critical)
        self.readback_timeout = readback_timeout
        self.feedback = dict(feedback or {})
        self.audit_path = Path(audit_path) if audit_path else None
        self._audit_file = JsonlAppender(self.audit_path, clock) if audit_path else None
        self.events = events
        self.records: deque[CommandRecord] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._internal: list[tuple[str, InternalHandler]] = []

    def register_internal(self, prefix: str, handler: InternalHandler) -> None:
        """Route commands to paths under ``prefix`` to ``handler(path, value, user)``.

        Control objects (loop modes, setpoints, schedule overrides) are commanded
        through the same path as device tags; the handler returns None on
        success or the reason it refused.
        """
        self._internal.append((prefix, handler))

    def is_critical(self, path: str) -> bool:
        """True when writes to ``path`` need ``confirm=True``."""
        return any(compile_pattern(p)(path) for p in self.critical)

    async def execute(self, principal: Principal, path: str, value: Scalar, *, reason: str = "",
                      confirm: bool = False, source: str = "api", verify: bool = True) -> CommandRecord:
        """Run one command and return its audit record (never raises for a refusal)."""
        received = self._now()
        ident = next(self._ids)
        old = self._current(path)

        def finish(status: str, message: str = "", write_status: str = "", readback: Scalar = None):
            record = CommandRecord(ident, received, principal.user, source, path, old, value, reason,
                                   status, message, write_status, readback, self._now())
            self._audit(record)
            return record

        permission = "hmi.command" if source == "hmi" else "tags.write"
        if not principal.can(permission):
            return finish(REFUSED, f"user {principal.user!r} lacks permission {permission!r}",
                          WriteStatus.NOT_AUTHORIZED.value)
        internal = next((h for prefix, h in self._internal if path.startswith(prefix)), None)
        spec = None if internal is not None else self._spec(path)
        if internal is None:
            if spec is None:
                return finish(REFUSED, f"no tag {path!r}", WriteStatus.NO_SUCH_TAG.value)
            if not spec.writable:
                return finish(REFUSED, f"{path} is read-only", WriteStatus.READ_ONLY.value)
        # Confirmation and interlocks apply to control objects (loop modes, inputs) too.
        # Confirmation is a person's second look: configured automation (schedules, rules,
        # rotation, acting as SYSTEM) was reviewed when the site was checked in, so it only
        # meets the interlocks, never a prompt no one is there to answer.
        if self.is_critical(path) and not confirm and principal is not SYSTEM:
            return finish(CONFIRM, f"{path} is critical: repeat the command with confirm=true")
        if self.interlocks is not None:
            why = self.interlocks.check(path, value)
            if why:
                return finish(REFUSED, why)
        if internal is not None:
            return finish(*await self._run_internal(internal, path, value, principal.user))
        unreachable = self._unreachable(path, spec)
        if unreachable:
            return finish(FAILED, unreachable, WriteStatus.DEVICE_UNREACHABLE.value)
        result = await self.tags.write(path, value, user=principal.user,
                                       reason=f"{reason} [{source}]" if reason else f"[{source}]")
        if not result.ok:
            return finish(FAILED, result.message or result.status.value, result.status.value)
        if not verify:
            return finish(DONE, "written (not verified)", result.status.value)
        fb = self._feedback_path(path)
        confirmed, seen = await self._confirm(fb, result.value, spec)
        if not confirmed:
            return finish(FAILED, f"device did not confirm {fb} = {result.value!r} within "
                                  f"{self.readback_timeout:g} s (reads {seen!r})", result.status.value, seen)
        return finish(DONE, "confirmed by the device" + (f" via {fb}" if fb != path else ""),
                      result.status.value, seen)

    def recent(self, n: int = 100, path: str | None = None, user: str | None = None) -> list[CommandRecord]:
        """The newest ``n`` records, newest first (optionally for one path or user)."""
        out = []
        for r in reversed(self.records):
            if (path is None or r.path == path) and (user is None or r.user == user):
                out.append(r)
                if len(out) >= n:
                    break
        return out

    # -- steps -------------------------------------------------------------
    async def _run_internal(self, handler: InternalHandler, path: str, value: Scalar, user: str):
        try:
            answer = handler(path, value, user)
            if hasattr(answer, "__await__"):
                answer = await answer
        except Exception as exc:  # noqa: BLE001 - the refusal reason goes to the audit
            return REFUSED, f"{type(exc).__name__}: {exc}"
        if answer:
            return REFUSED, str(answer)
        return DONE, "applied", "", value

    def _spec(self, path: str):
        try:
            return self.tags.spec(path)
        except KeyError:
            return None

    def _current(self, path: str) -> Scalar:
        try:
            return self.tags.get(path).value
        except KeyError:
            return None

    def _unreachable(self, path: str, spec: Any) -> str | None:
        tv: TagValue = self.tags.get(path)
        if (tv.quality.code & 0xFFFF0000) in _UNREACHABLE:
            detail = f" ({tv.quality.detail})" if tv.quality.detail else ""
            return f"device {spec.device or '?'} is unreachable: {path} is {tv.quality.name}{detail}"
        health = f"_system/devices/{spec.device}/connected"
        if spec.device and health in self.tags:
            h = self.tags.get(health)
            if h.quality.is_good and h.value is False:
                return f"device {spec.device} is not connected"
        return None

    def _feedback_path(self, path: str) -> str:
        for pattern, repl in self.feedback.items():
            if pattern.startswith("*") and path.endswith(pattern[1:]):
                candidate = path[: len(path) - len(pattern) + 1] + repl.lstrip("*")
            elif pattern == path:
                candidate = repl
            else:
                continue
            if candidate in self.tags:
                return candidate
        return path

    async def _confirm(self, path: str, expected: Scalar, spec: Any) -> tuple[bool, Scalar]:
        tol = _tolerance(spec, expected)

        def matches(tv: TagValue) -> bool:
            return tv.quality.is_good and _equal(tv.value, expected, tol)

        current = self.tags.get(path)
        if matches(current):
            # Already reading the commanded value (a repeated command, or a fast
            # device whose new value arrived with the write's answer).
            return True, current.value
        d: Deferred = Deferred()
        seen = [current.value]

        def on_change(batch) -> None:
            for tv in batch:
                if tv.path == path:
                    seen[0] = tv.value
                    if matches(tv) and not d.called:
                        d.callback(True)

        sub = self.tags.subscribe(path, on_change)
        timer = self.clock.callLater(self.readback_timeout, lambda: d.called or d.callback(False))
        try:
            ok = await _async.wait(d)
        finally:
            sub.cancel()
            if timer.active():
                timer.cancel()
        return ok, seen[0] if not ok else self.tags.get(path).value

    def _audit(self, record: CommandRecord) -> None:
        self.records.append(record)
        level = logging.INFO if record.status == DONE else logging.WARNING
        log.log(level, "command %s %s=%r by %s (%s): %s %s", record.id, record.path, record.new_value,
                record.user, record.source, record.status, record.message)
        if self._audit_file is not None:
            try:
                self._audit_file.append(record.to_dict())
            except OSError:
                log.exception("could not append command audit %s to %s", record.id, self.audit_path)
        if self.events is not None:
            self.events.publish(record)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)


def _tolerance(spec: Any, expected: Scalar) -> float:
    if isinstance(expected, (bool, str)) or expected is None:
        return 0.0
    tol = 1e-6 * max(1.0, abs(float(expected)))
    if spec.scaling is not None:
        s = spec.scaling
        tol = max(tol, abs((s.eng_hi - s.eng_lo) / (s.raw_hi - s.raw_lo)))
    if spec.data_type == "float32":
        tol = max(tol, 1e-5 * max(1.0, abs(float(expected))))
    return max(tol, spec.deadband.absolute(spec.eu_lo, spec.eu_hi))


def _equal(value: Scalar, expected: Scalar, tol: float) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return bool(value) == bool(expected) if value is not None else False
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return abs(float(value) - float(expected)) <= tol
    return value == expected
