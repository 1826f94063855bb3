"""The work-order state machine: explicit transitions, nothing else is allowed.

::

    new → assigned → accepted → in_progress ⇄ on_hold
                                   in_progress → completed → verified → closed
    assigned → new (declined by the assignee); new/assigned → rejected
    new/assigned/accepted/in_progress/on_hold → cancelled
    completed/verified/closed/rejected → new (reopen, counted)
    open → completed (resolve: a grouped report completed with its parent order)
"""

from __future__ import annotations

from .errors import InvalidTransition

STATES = ("new", "assigned", "accepted", "in_progress", "on_hold", "completed", "verified", "closed",
          "rejected", "cancelled")
OPEN_STATES = ("new", "assigned", "accepted", "in_progress", "on_hold")
DONE_STATES = ("completed", "verified", "closed")
FINAL_STATES = ("closed", "rejected", "cancelled")

#: action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "assign": (("new", "assigned", "accepted"), "assigned"),
    "accept": (("assigned",), "accepted"),
    "decline": (("assigned",), "new"),
    "start": (("accepted",), "in_progress"),
    "hold": (("in_progress",), "on_hold"),
    "resume": (("on_hold",), "in_progress"),
    "complete": (("in_progress",), "completed"),
    "verify": (("completed",), "verified"),
    "close": (("verified",), "closed"),
    "reject": (("new", "assigned"), "rejected"),
    "cancel": (("new", "assigned", "accepted", "in_progress", "on_hold"), "cancelled"),
    "reopen": (("completed", "verified", "closed", "rejected"), "new"),
    # a report grouped under an alarm order is completed together with it (system only)
    "resolve": (("new", "assigned", "accepted", "in_progress", "on_hold"), "completed"),
}
SYSTEM_ACTIONS = ("resolve",)
ACTIONS = tuple(TRANSITIONS)


def allowed_actions(state: str) -> tuple[str, ...]:
    """Actions allowed from ``state``, in table order."""
    return tuple(a for a, (froms, _to) in TRANSITIONS.items() if state in froms)


def next_state(state: str, action: str) -> str:
    """The state ``action`` leads to from ``state``, or :class:`InvalidTransition`."""
    if action not in TRANSITIONS:
        raise InvalidTransition(action, state, allowed_actions(state))
    froms, to = TRANSITIONS[action]
    if state not in froms:
        raise InvalidTransition(action, state, allowed_actions(state))
    return to
