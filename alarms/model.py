"""Alarm definitions and the ISA-18.2 state machine of one alarm.

The state an operator sees is derived from a few independent facts: the
(delayed) process condition, whether it was acknowledged, whether a latching
alarm is holding, and three overlays that hide the alarm from operators:
out-of-service, suppressed-by-design and shelved (in that order of
precedence). Every operation returns the state before and after, and the
engine turns a difference (or an acknowledgement) into an ``AlarmTransition``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidOperationError
from .events import AlarmState


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """One configured alarm (a limit rule with HH and H gives two AlarmDefs)."""

    id: str                       # "<tag>:<name>", "<equipment>:<name>" or "comm:<device>"
    rule_type: str                # limit | digital | deviation | rate | quality | stale | expression
    name: str
    priority: str
    tag: str | None = None
    area: str | None = None
    equipment: str | None = None
    building: str | None = None
    message: str = ""
    latch: bool = False
    on_delay: float = 0.0
    off_delay: float = 0.0
    deadband: float = 0.0
    limit: Any = None              # limit value / digital state / deviation band / rate / seconds
    direction: int = 1             # +1 high, -1 low (limit, deviation)
    enabled: bool = True
    suppress: tuple[str, ...] = ()
    notify: bool = True
    units: str = ""
    description: str = ""
    params: Any = None             # kind-specific extras (setpoint, per, expression, inputs)


@dataclass(slots=True)
class AlarmRecord:
    """The runtime state of one alarm (mutable; owned by the engine)."""

    definition: AlarmDef
    active: bool = False           # the process condition after on/off delays
    acked: bool = True
    latched: bool = False
    shelved_by: str | None = None
    shelved_until: float | None = None   # epoch seconds
    shelve_reason: str | None = None
    suppressed: bool = False
    out_of_service: bool = False
    since: float = 0.0             # when the displayed state began
    activated_at: float | None = None
    value: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The alarm id."""
        return self.definition.id

    @property
    def shelved(self) -> bool:
        """True while shelved by an operator."""
        return self.shelved_by is not None

    @property
    def state(self) -> AlarmState:
        """The ISA-18.2 state shown to operators."""
        if self.out_of_service:
            return AlarmState.OUT_OF_SERVICE
        if self.suppressed:
            return AlarmState.SUPPRESSED
        if self.shelved:
            return AlarmState.SHELVED
        if self.active:
            return AlarmState.ACK_ACTIVE if self.acked else AlarmState.UNACK_ACTIVE
        if self.latched:
            return AlarmState.LATCHED
        return AlarmState.NORMAL if self.acked else AlarmState.RTN_UNACK

    @property
    def hidden(self) -> bool:
        """True while an overlay (out of service, suppressed, shelved) hides the alarm."""
        return self.out_of_service or self.suppressed or self.shelved

    # ---------------------------------------------------------------- process

    def set_condition(self, active: bool) -> bool:
        """Apply the delayed condition; True when this annunciates a new activation."""
        if active == self.active:
            return False
        self.active = active
        if active:
            if self.hidden:
                return False
            self.acked = False
            self.latched = False
            return True
        if self.definition.latch and not self.hidden:
            # A latching alarm holds until an operator resets it, even if acknowledged.
            self.latched = True
        return False

    # ---------------------------------------------------------------- operator

    def acknowledge(self) -> None:
        """Acknowledge (or reset, for a latched alarm)."""
        state = self.state
        if state in (AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK):
            self.acked = True
            if not self.active and self.definition.latch:
                self.latched = False
            return
        if state is AlarmState.LATCHED:
            self.latched = False
            self.acked = True
            return
        raise InvalidOperationError(f"alarm {self.id} is {state.value}: nothing to acknowledge")

    def shelve(self, user: str, until: float, reason: str) -> None:
        """Hide the alarm until ``until`` (epoch seconds)."""
        if self.out_of_service:
            raise InvalidOperationError(f"alarm {self.id} is out of service")
        self.shelved_by, self.shelved_until, self.shelve_reason = user, until, reason

    def unshelve(self) -> None:
        """End shelving; an alarm that is still active annunciates again."""
        if not self.shelved:
            raise InvalidOperationError(f"alarm {self.id} is not shelved")
        self.shelved_by = self.shelved_until = self.shelve_reason = None
        self._reveal()

    def set_suppressed(self, suppressed: bool) -> None:
        """Enter or leave suppression by design."""
        if suppressed == self.suppressed:
            return
        self.suppressed = suppressed
        if not suppressed:
            self._reveal()

    def set_out_of_service(self, oos: bool) -> None:
        """Take the alarm out of service (or return it)."""
        if oos == self.out_of_service:
            return
        self.out_of_service = oos
        if oos:
            self.shelved_by = self.shelved_until = self.shelve_reason = None
        else:
            self._reveal()

    def _reveal(self) -> None:
        if self.hidden:
            return
        # Whatever happened while hidden is forgotten: a condition that is still
        # present is a new, unacknowledged alarm; otherwise the alarm is normal.
        if self.active:
            self.acked = False
        else:
            self.acked = True
        self.latched = False

    # ---------------------------------------------------------------- persistence

    def to_row(self) -> dict:
        """The persisted fields (restored by :meth:`restore`)."""
        return {"alarm_id": self.id, "active": self.active, "acked": self.acked, "latched": self.latched,
                "shelved_by": self.shelved_by, "shelved_until": self.shelved_until,
                "shelve_reason": self.shelve_reason, "suppressed": self.suppressed,
                "out_of_service": self.out_of_service, "since": self.since,
                "activated_at": self.activated_at,
                "value": self.value if self.value is None or isinstance(self.value, (bool, int, float, str))
                else str(self.value)}

    def restore(self, row: dict) -> None:
        """Load persisted fields saved by :meth:`to_row`."""
        for key in ("active", "acked", "latched", "shelved_by", "shelved_until", "shelve_reason",
                    "suppressed", "out_of_service", "since", "activated_at"):
            if key in row:
                setattr(self, key, row[key])
        self.value = row.get("value")
