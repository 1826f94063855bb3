"""The alarm engine: conditions from tag changes, delays, operator actions, transitions.

One instance watches the tag database (one subscription, batches per reactor
turn), evaluates the compiled rules (limit rules vectorized, see
:mod:`alarms.limits`), applies on/off delays with the injected clock, drives
each alarm's ISA-18.2 state machine and hands every transition to its
listeners (journal, event bus, historian, notifications, KPIs) in order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from tagdb.values import TagValue

from .errors import InvalidOperationError, MissingIdentityError, UnknownAlarmError
from .evaluators import Evaluators
from .events import AlarmState, AlarmTransition, TransitionKind
from .model import AlarmDef, AlarmRecord
from .rules import RuleSet
from .system import SystemRules
from .validate import SYSTEM_PREFIX

log = logging.getLogger(__name__)

Listener = Callable[[AlarmTransition], None]


class StateStore:
    """Where current alarm states are persisted (the journal store implements it)."""

    def load_states(self) -> list[dict]:
        """Every saved alarm state row."""
        return []

    def save_state(self, row: dict) -> None:
        """Insert or replace one alarm's state row."""


class AlarmEngine:
    """Evaluates the rules of a :class:`RuleSet` and owns every alarm's state."""

    def __init__(self, rules: RuleSet, clock, store: StateStore | None = None,
                 max_shelve: float = 7 * 86400.0) -> None:
        self.rules = rules
        self.clock = clock
        self.store = store or StateStore()
        self.max_shelve = max_shelve
        self.records: dict[str, AlarmRecord] = {aid: AlarmRecord(d) for aid, d in rules.defs.items()}
        self._listeners: list[Listener] = []
        self._raw: dict[str, bool] = {}
        self._pending: dict[str, Any] = {}
        self._shelve_calls: dict[str, Any] = {}
        self._limit_rows = rules.limit_rule_index()
        self.eval = Evaluators(self)
        self.tags = None                       # the tag store, once started
        self._saved: dict[str, dict] = {}      # persisted states of _system/ alarms not attached yet
        self.system = SystemRules(self)
        self._subscription = None
        for rec in self.records.values():
            if not rec.definition.enabled:
                rec.out_of_service = True

    # ------------------------------------------------------------------ wiring

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(transition)`` for every transition, in registration order."""
        self._listeners.append(listener)

    def restore(self) -> int:
        """Load persisted states (after a restart); returns how many alarms were restored."""
        n = 0
        now = self.clock.seconds()
        for row in self.store.load_states():
            aid = row.get("alarm_id")
            rec = self.records.get(aid)
            if rec is None:
                if isinstance(aid, str) and aid.startswith(SYSTEM_PREFIX):
                    self._saved[aid] = row   # restored when its run-time tag appears
                continue  # otherwise the rule was removed from the configuration
            self._restore_row(rec, row, now)
            n += 1
        return n

    def _restore_row(self, rec: AlarmRecord, row: dict, now: float) -> None:
        enabled_oos = not rec.definition.enabled
        rec.restore(row)
        rec.out_of_service = rec.out_of_service or enabled_oos
        self._raw[rec.id] = rec.active
        row_idx = self._limit_rows.get(rec.id)
        if row_idx is not None:
            self.rules.limits.set_condition(row_idx, rec.active)
        self.eval.seed(rec)
        if rec.shelved_until is not None:
            self._schedule_shelve_expiry(rec, max(0.0, rec.shelved_until - now))

    def define_system_alarm(self, tag: str, rule: Mapping[str, Any], origin: str = "component") -> None:
        """Raise ISA-18.2 alarms on a run-time ``_system/...`` tag (path or glob) without site configuration.

        ``rule`` has the fields of a tag rule, e.g. ``{"type": "digital", "name":
        "BAD_PV", "priority": "high", "message": "..."}``. The alarm exists from
        the tag's first value on; a site rule of the same alarm name wins.
        Raises :class:`AlarmConfigError` (naming ``origin``) for a malformed rule.
        """
        self.system.define(tag, rule, origin)

    def add_alarm(self, d: AlarmDef) -> AlarmRecord:
        """Create the record of an alarm defined at run time (its rule is already in ``rules``)."""
        rec = self.records[d.id] = AlarmRecord(d)
        rec.out_of_service = not d.enabled
        groups = self.eval.groups_of
        for name, g in self.rules.groups.items():
            if g.covers(d):
                g.members.add(d.id)
                groups.setdefault(d.id, []).append(name)
        row = self._saved.pop(d.id, None)
        if row is not None:
            self._restore_row(rec, row, self.clock.seconds())
        if not rec.suppressed and any(self.eval.group_active.get(g) for g in groups.get(d.id, ())):
            self.set_suppressed(d.id, True, "suppression group active")
        return rec

    def start(self, tags) -> None:
        """Subscribe to the tag database (current values are delivered first)."""
        self.tags = tags
        self._subscription = tags.subscribe("**", self.process, initial=True)
        self.eval.start()

    def stop(self) -> None:
        """Cancel the subscription and every pending timer."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        for call in [*self._pending.values(), *self._shelve_calls.values()]:
            if call.active():
                call.cancel()
        self._pending.clear()
        self._shelve_calls.clear()
        self.eval.stop()

    # ------------------------------------------------------------------ evaluation

    def process(self, batch: Sequence[TagValue]) -> None:
        """Evaluate one batch of tag changes (the subscription callback)."""
        self.eval.process(batch)

    def evaluate_limits(self, tag_idx: np.ndarray, values: np.ndarray, by_value: dict[int, Any]) -> None:
        """Run the vectorized limit table and apply the rules that flipped."""
        changed, new = self.rules.limits.evaluate(tag_idx, values)
        tag_of = self.rules.limits.tag_idx
        for r, cond in zip(changed.tolist(), new.tolist()):
            self.condition(self.rules.limit_alarms[r], cond, by_value.get(int(tag_of[r])))

    def raw_condition(self, alarm_id: str) -> bool:
        """The last undelayed condition of an alarm (evaluators use it for hysteresis)."""
        return self._raw.get(alarm_id, self.records[alarm_id].active)

    def condition(self, alarm_id: str, raw: bool, value: Any = None) -> None:
        """A raw (undelayed) condition for one alarm; on/off delays apply here."""
        rec = self.records[alarm_id]
        if value is not None:
            rec.value = value
        if self._raw.get(alarm_id, rec.active) == raw:
            return
        self._raw[alarm_id] = raw
        call = self._pending.pop(alarm_id, None)
        if call is not None and call.active():
            call.cancel()
        if raw == rec.active:
            return  # bounced back within the delay: nothing happened
        delay = rec.definition.on_delay if raw else rec.definition.off_delay
        if delay > 0:
            self._pending[alarm_id] = self.clock.callLater(delay, self._apply, alarm_id, raw)
        else:
            self._apply(alarm_id, raw)

    def _apply(self, alarm_id: str, active: bool) -> None:
        self._pending.pop(alarm_id, None)
        rec = self.records[alarm_id]
        before = rec.state
        rec.set_condition(active)
        if active:
            rec.activated_at = self.clock.seconds()
        self._emit(rec, TransitionKind.ACTIVATE if active else TransitionKind.CLEAR, before)

    # ------------------------------------------------------------------ operator actions

    def acknowledge(self, alarm_id: str, user: str, comment: str) -> AlarmTransition:
        """Acknowledge an alarm (resets a latched one); needs a user and a comment."""
        rec = self._record(alarm_id)
        _identify(user, comment)
        before = rec.state
        rec.acknowledge()
        kind = TransitionKind.RESET if before is AlarmState.LATCHED else TransitionKind.ACK
        return self._emit(rec, kind, before, user=user, comment=comment)

    def shelve(self, alarm_id: str, user: str, comment: str, duration: float) -> AlarmTransition:
        """Shelve for ``duration`` seconds (at most ``max_shelve``); needs a user and a reason."""
        rec = self._record(alarm_id)
        _identify(user, comment)
        if not 0 < duration <= self.max_shelve:
            raise InvalidOperationError(f"shelve duration must be between 0 and {self.max_shelve:g} s")
        if rec.shelved:
            raise InvalidOperationError(f"alarm {alarm_id} is already shelved by {rec.shelved_by}")
        before = rec.state
        rec.shelve(user, self.clock.seconds() + duration, comment)
        self._schedule_shelve_expiry(rec, duration)
        return self._emit(rec, TransitionKind.SHELVE, before, user=user, comment=comment)

    def unshelve(self, alarm_id: str, user: str, comment: str) -> AlarmTransition:
        """End shelving early."""
        rec = self._record(alarm_id)
        _identify(user, comment)
        before = rec.state
        rec.unshelve()
        self._cancel_shelve(alarm_id)
        return self._emit(rec, TransitionKind.UNSHELVE, before, user=user, comment=comment)

    def set_out_of_service(self, alarm_id: str, out: bool, user: str, comment: str) -> AlarmTransition:
        """Take an alarm out of service (maintenance) or return it to service."""
        rec = self._record(alarm_id)
        _identify(user, comment)
        if rec.out_of_service == out:
            raise InvalidOperationError(f"alarm {alarm_id} is already {'out of' if out else 'in'} service")
        before = rec.state
        rec.set_out_of_service(out)
        if out:
            self._cancel_shelve(alarm_id)
        kind = TransitionKind.OUT_OF_SERVICE if out else TransitionKind.IN_SERVICE
        return self._emit(rec, kind, before, user=user, comment=comment)

    def set_suppressed(self, alarm_id: str, suppressed: bool, reason: str) -> None:
        """Suppression by design entered or left (called by the suppression groups)."""
        rec = self.records[alarm_id]
        if rec.suppressed == suppressed:
            return
        before = rec.state
        rec.set_suppressed(suppressed)
        kind = TransitionKind.SUPPRESS if suppressed else TransitionKind.UNSUPPRESS
        self._emit(rec, kind, before, comment=reason)

    def _schedule_shelve_expiry(self, rec: AlarmRecord, delay: float) -> None:
        self._cancel_shelve(rec.id)
        self._shelve_calls[rec.id] = self.clock.callLater(delay, self._expire_shelve, rec.id)

    def _cancel_shelve(self, alarm_id: str) -> None:
        call = self._shelve_calls.pop(alarm_id, None)
        if call is not None and call.active():
            call.cancel()

    def _expire_shelve(self, alarm_id: str) -> None:
        self._shelve_calls.pop(alarm_id, None)
        rec = self.records[alarm_id]
        if not rec.shelved:
            return
        before = rec.state
        user = rec.shelved_by
        rec.unshelve()
        self._emit(rec, TransitionKind.SHELVE_EXPIRED, before, comment=f"shelving by {user} expired")

    # ------------------------------------------------------------------ queries

    def get(self, alarm_id: str) -> AlarmRecord:
        """One alarm's record (UnknownAlarmError when absent)."""
        return self._record(alarm_id)

    def select(self, states: Iterable[AlarmState] | None = None, area: str | None = None,
               priority: str | None = None, equipment: str | None = None) -> list[AlarmRecord]:
        """Alarms filtered by state (default: the annunciated ones), area, priority, equipment."""
        wanted = set(states) if states is not None else None
        out = []
        for rec in self.records.values():
            st = rec.state
            if (st.annunciated if wanted is None else st in wanted) and \
                    (area is None or rec.definition.area == area) and \
                    (priority is None or rec.definition.priority == priority) and \
                    (equipment is None or rec.definition.equipment == equipment):
                out.append(rec)
        return out

    def _record(self, alarm_id: str) -> AlarmRecord:
        rec = self.records.get(alarm_id)
        if rec is None:
            raise UnknownAlarmError(f"no alarm {alarm_id!r}")
        return rec

    # ------------------------------------------------------------------ transitions

    def _emit(self, rec: AlarmRecord, kind: TransitionKind, before: AlarmState,
              user: str | None = None, comment: str | None = None) -> AlarmTransition:
        now = self.clock.seconds()
        after = rec.state
        if after is not before:
            rec.since = now
        d = rec.definition
        tr = AlarmTransition(
            alarm_id=rec.id, kind=kind, ts=datetime.fromtimestamp(now, tz=timezone.utc),
            state_before=before, state_after=after, priority=d.priority, rule_type=d.rule_type,
            tag=d.tag, area=d.area, equipment=d.equipment, building=d.building,
            value=_plain(rec.value), limit=_plain(d.limit), user=user, comment=comment,
            message=render_message(rec))
        try:
            self.store.save_state(rec.to_row())
        except Exception:
            log.exception("could not persist the state of alarm %s", rec.id)
        for listener in list(self._listeners):
            try:
                listener(tr)
            except Exception:
                log.exception("alarm listener %r failed on %s", listener, rec.id)
        return tr


def _identify(user: str, comment: str) -> None:
    if not user or not str(user).strip():
        raise MissingIdentityError("an identified user is required")
    if not comment or not str(comment).strip():
        raise MissingIdentityError("a comment is required")


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_message(rec: AlarmRecord) -> str:
    """The alarm's message template filled with its current facts."""
    d = rec.definition
    value = rec.value
    if isinstance(value, float):
        value = f"{value:.2f}".rstrip("0").rstrip(".")
    fields = _Blank(tag=d.tag or "", name=d.name, value="" if value is None else value,
                    limit="" if d.limit is None else d.limit, units=d.units, description=d.description,
                    equipment=d.equipment or "", area=d.area or "", priority=d.priority,
                    level=(d.params or {}).get("level", d.name) if isinstance(d.params, Mapping) else d.name,
                    state=rec.state.value, alarm=d.id)
    try:
        return d.message.format_map(fields).strip()
    except (ValueError, IndexError, AttributeError):
        return d.message
