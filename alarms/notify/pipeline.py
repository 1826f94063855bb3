"""Alarm notification pipelines: routing by priority/area, delay, escalation, ack/clear notices.

A pipeline matches alarms by priority, area and equipment. When a matching
alarm annunciates, step 0 notifies its roster after ``delay`` (skipped if the
alarm was acknowledged or cleared meanwhile); each later step fires ``after``
seconds after activation while the alarm is still unacknowledged (escalation).
Acknowledging stops escalation; ``notify_on`` adds notices on ack and clear to
everyone already told. Shelving, suppression and out-of-service cancel it all.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from ..events import AlarmState, AlarmTransition, TransitionKind
from .channels import recipient_for
from .grouping import Dispatcher
from .message import Message
from .roster import Roster

log = logging.getLogger(__name__)

_UNACKED = (AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK, AlarmState.LATCHED)
# A condition still present when shelving, suppression or out-of-service ends is a new alarm.
_ANNUNCIATE = (TransitionKind.ACTIVATE, TransitionKind.UNSHELVE, TransitionKind.SHELVE_EXPIRED,
               TransitionKind.UNSUPPRESS, TransitionKind.IN_SERVICE)
_CANCEL = (TransitionKind.SHELVE, TransitionKind.SUPPRESS, TransitionKind.OUT_OF_SERVICE)


@dataclass
class _Run:
    """One alarm going through one pipeline."""

    transition: AlarmTransition
    calls: list = field(default_factory=list)
    told: set = field(default_factory=set)       # (channel, recipient)
    step0_sent: bool = False

    def cancel(self) -> None:
        """Cancel every pending step."""
        for c in self.calls:
            if c.active():
                c.cancel()
        self.calls.clear()


class Pipeline:
    """One configured pipeline (validated ``alarms.pipelines.<name>``)."""

    def __init__(self, name: str, cfg: Mapping[str, Any], dispatcher: Dispatcher) -> None:
        self.name = name
        self.priorities = set(cfg["priorities"])
        self.areas = set(cfg["areas"])
        self.equipment = list(cfg["equipment"])
        self.delay = float(cfg["delay"])
        self.steps = [dict(s) for s in cfg["steps"]]
        self.notify_on = set(cfg["notify_on"])
        self.dispatcher = dispatcher

    def matches(self, tr: AlarmTransition) -> bool:
        """True when the alarm's priority, area and equipment fit."""
        return ((not self.priorities or tr.priority in self.priorities)
                and (not self.areas or tr.area in self.areas)
                and (not self.equipment or any(fnmatch.fnmatchcase(tr.equipment or "", p) for p in self.equipment)))


class Notifier:
    """An engine listener that turns transitions into messages through the pipelines."""

    def __init__(self, section: Mapping[str, Any], send: Callable[[Message], Any], clock, site_tz: str,
                 should_notify: Callable[[str], bool] = lambda alarm_id: True,
                 channel_types: Mapping[str, str] | None = None) -> None:
        self.clock = clock
        self.tz = ZoneInfo(site_tz)
        self.contacts = dict(section["contacts"])
        self.rosters = {n: Roster.from_config(n, r, site_tz) for n, r in section["rosters"].items()}
        self.channel_types = dict(channel_types or {n: c["type"] for n, c in section["channels"].items()})
        self.should_notify = should_notify
        self.pipelines = [
            Pipeline(n, p, Dispatcher(send, clock, p["group_window"], p["group_threshold"], p.get("max_per_hour")))
            for n, p in section["pipelines"].items()]
        self._runs: dict[tuple[str, str], _Run] = {}

    def __call__(self, tr: AlarmTransition) -> None:
        """Handle one transition (engine listener)."""
        if not self.should_notify(tr.alarm_id):
            return
        if tr.kind in _ANNUNCIATE and tr.state_after is AlarmState.UNACK_ACTIVE:
            for p in self.pipelines:
                if p.matches(tr):
                    self._start(p, tr)
            return
        for p in self.pipelines:
            run = self._runs.get((p.name, tr.alarm_id))
            if run is None:
                continue
            if tr.kind in (TransitionKind.ACK, TransitionKind.RESET):
                run.cancel()
                if "ack" in p.notify_on:
                    self._notice(p, run, tr, f"acknowledged by {tr.user}")
                if tr.state_after is AlarmState.NORMAL or "clear" not in p.notify_on:
                    self._runs.pop((p.name, tr.alarm_id), None)
            elif tr.kind is TransitionKind.CLEAR:
                if "clear" in p.notify_on and run.step0_sent:
                    self._notice(p, run, tr, "returned to normal")
                if tr.state_after is AlarmState.NORMAL:
                    run.cancel()
                    self._runs.pop((p.name, tr.alarm_id), None)
            elif tr.kind in _CANCEL:
                run.cancel()
                self._runs.pop((p.name, tr.alarm_id), None)

    def stop(self) -> None:
        """Cancel every pending step and flush grouped messages."""
        for run in self._runs.values():
            run.cancel()
        self._runs.clear()
        for p in self.pipelines:
            p.dispatcher.cancel()

    # ------------------------------------------------------------------ steps

    def _start(self, p: Pipeline, tr: AlarmTransition) -> None:
        old = self._runs.pop((p.name, tr.alarm_id), None)
        if old is not None:
            old.cancel()
        run = _Run(tr)
        self._runs[(p.name, tr.alarm_id)] = run
        for i, step in enumerate(p.steps):
            at = p.delay + (float(step["after"]) if i else 0.0)
            run.calls.append(self.clock.callLater(at, self._fire, p, tr.alarm_id, i))

    def _fire(self, p: Pipeline, alarm_id: str, index: int) -> None:
        run = self._runs.get((p.name, alarm_id))
        if run is None:
            return
        if index == 0:
            if "activate" not in p.notify_on:
                run.step0_sent = True
                return
            run.step0_sent = True
            self._send_step(p, run, index, "")
        elif "escalate" in p.notify_on and run.step0_sent:
            self._send_step(p, run, index, f"ESCALATION {index}: not acknowledged. ")

    def _send_step(self, p: Pipeline, run: _Run, index: int, prefix: str) -> None:
        step = p.steps[index]
        tr = run.transition
        roster = self.rosters[step["roster"]]
        now = datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)
        for contact_id in roster.on_call(now):
            contact = self.contacts.get(contact_id, {})
            for ch in step["channels"]:
                to = recipient_for(self.channel_types.get(ch, ""), contact)
                if to is None:
                    continue
                run.told.add((ch, to))
                p.dispatcher.submit(self._message(ch, to, tr, prefix, index))

    def _notice(self, p: Pipeline, run: _Run, tr: AlarmTransition, what: str) -> None:
        for ch, to in sorted(run.told):
            msg = Message(channel=ch, recipient=to, subject=f"[{tr.priority.upper()}] {what}: {tr.message}",
                          body=f"{_describe(tr, self.tz)}\n\nThe alarm was {what}.",
                          payload=tr.to_dict(), source=tr.alarm_id)
            p.dispatcher.submit(msg)

    def _message(self, ch: str, to: str, tr: AlarmTransition, prefix: str, index: int) -> Message:
        return Message(channel=ch, recipient=to, subject=f"{prefix}[{tr.priority.upper()}] {tr.message}",
                       body=f"{prefix}{_describe(tr, self.tz)}", payload={**tr.to_dict(), "step": index},
                       source=tr.alarm_id)


def _describe(tr: AlarmTransition, tz: ZoneInfo) -> str:
    when = tr.ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    lines = [tr.message, "", f"Alarm:     {tr.alarm_id}", f"Priority:  {tr.priority}", f"Time:      {when}"]
    if tr.value is not None:
        lines.append(f"Value:     {tr.value}" + (f" (limit {tr.limit})" if tr.limit is not None else ""))
    for label, v in (("Equipment", tr.equipment), ("Area", tr.area), ("Building", tr.building)):
        if v:
            lines.append(f"{label + ':':<10} {v}")
    return "\n".join(lines)
