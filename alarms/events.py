"""The alarm transition event published on the event bus, and the state names.

Work orders, resident notices, the journal, the historian and notifications all
react to :class:`AlarmTransition`; it is a frozen value so a consumer can keep
it, queue it or serialize it (:meth:`AlarmTransition.to_dict`) safely.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

Scalar = Any


class AlarmState(str, enum.Enum):
    """ISA-18.2 alarm states (the value is the name used in the journal and the API)."""

    NORMAL = "normal"
    UNACK_ACTIVE = "unack_active"
    ACK_ACTIVE = "ack_active"
    RTN_UNACK = "rtn_unack"
    LATCHED = "latched"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"          # suppressed by design (state-based)
    OUT_OF_SERVICE = "out_of_service"

    @property
    def annunciated(self) -> bool:
        """True for the states an operator sees in the active alarm list."""
        return self in (AlarmState.UNACK_ACTIVE, AlarmState.ACK_ACTIVE, AlarmState.RTN_UNACK,
                        AlarmState.LATCHED)


class TransitionKind(str, enum.Enum):
    """What caused a transition."""

    ACTIVATE = "activate"        # condition became true
    CLEAR = "clear"              # condition returned to normal
    ACK = "ack"                  # operator acknowledged
    RESET = "reset"              # operator reset a latched alarm
    SHELVE = "shelve"
    UNSHELVE = "unshelve"        # by an operator
    SHELVE_EXPIRED = "shelve_expired"
    SUPPRESS = "suppress"        # suppression-by-design began
    UNSUPPRESS = "unsuppress"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One change of one alarm, as journaled and published.

    ``value``/``limit`` are the process value and the limit that applied (None
    for operator actions on non-analog alarms); ``user``/``comment`` are set for
    operator actions; ``message`` is the rendered alarm message.
    """

    alarm_id: str
    kind: TransitionKind
    ts: datetime
    state_before: AlarmState
    state_after: AlarmState
    priority: str
    rule_type: str
    tag: str | None = None
    area: str | None = None
    equipment: str | None = None
    building: str | None = None
    value: Scalar = None
    limit: Scalar = None
    user: str | None = None
    comment: str | None = None
    message: str = ""

    @property
    def is_comm(self) -> bool:
        """True for communication (Bad quality) alarms."""
        return self.rule_type == "quality"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (enums as their values, timestamp as ISO 8601)."""
        d = asdict(self)
        d["kind"] = self.kind.value
        d["state_before"] = self.state_before.value
        d["state_after"] = self.state_after.value
        d["ts"] = self.ts.isoformat()
        return d
