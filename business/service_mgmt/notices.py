"""Notices to staff and residents through the alarms package's durable outbox.

Recipients are resolved inside the database transaction (``*_notices``
functions return plain dicts); :class:`Notices` then enqueues them on the
reactor thread into ``ctx.provides["notify_outbox"]``, so the outbox, its
channels, retries and delivery records are the same as for alarms. A
resident's ``preferred_channel`` picks the channel (mapped to an outbox channel
by ``service.notify.channels``); without an address on it, the other mapped
channels are tried in order.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from sqlalchemy.orm import Session

from ..models import Person, Staff
from .models import WorkOrder

log = logging.getLogger(__name__)

_ADDRESS = {"sms": "phone", "phone": "phone", "email": "email", "wechat": "phone", "app": "phone"}
RESIDENT_ACTIONS = ("assign", "accept", "start", "hold", "complete", "resolve", "verify", "close", "reopen",
                    "reject", "cancel")


def _target(obj: Any, preferred: str, channels: dict[str, str]) -> tuple[str, str] | None:
    order = [preferred] + [k for k in channels if k != preferred]
    for pref in order:
        outbox_channel = channels.get(pref)
        address = getattr(obj, _ADDRESS.get(pref, pref), "") if outbox_channel else ""
        if outbox_channel and address:
            return outbox_channel, address
    return None


def person_notice(s: Session, person_id: int | None, channels: dict, subject: str, body: str, source: str) -> list[dict]:
    """One notice to a resident on their preferred channel (nothing when they have no address)."""
    p = s.get(Person, person_id) if person_id else None
    target = _target(p, p.preferred_channel or "sms", channels) if p else None
    if target is None:
        return []
    return [{"channel": target[0], "recipient": target[1], "subject": subject, "body": body, "source": source}]


def staff_notice(s: Session, staff_id: int | None, notify: dict, subject: str, body: str, source: str) -> list[dict]:
    """One notice to a staff member (``notify.staff_channel`` first)."""
    st = s.get(Staff, staff_id) if staff_id else None
    target = _target(st, notify.get("staff_channel") or "sms", notify.get("channels") or {}) if st else None
    if target is None:
        return []
    return [{"channel": target[0], "recipient": target[1], "subject": subject, "body": body, "source": source}]


def manager_notices(notify: dict, subject: str, body: str, source: str) -> list[dict]:
    """The configured managers (escalations, overdue plans)."""
    return [{"channel": m["channel"], "recipient": m["recipient"], "subject": subject, "body": body, "source": source}
            for m in notify.get("managers") or []]


def order_notices(s: Session, notify: dict, order: WorkOrder, action: str, comment: str = "") -> list[dict]:
    """Who hears about ``action`` on ``order``: the assignee, the reporter, grouped reporters."""
    if not notify.get("enabled", True):
        return []
    src = f"business:workorder:{order.number}"
    where = order.equipment_id or (f"building {order.building_id}" if order.building_id else "")
    out: list[dict] = []
    if action in ("assign",) and order.assignee_staff_id:
        out += staff_notice(s, order.assignee_staff_id, notify, f"[{order.priority.upper()}] {order.number} assigned",
                            f"{order.title} ({where}); accept by {order.response_due:%Y-%m-%d %H:%M} UTC. {comment}",
                            src)
    if action == "escalate":
        out += manager_notices(notify, f"[ESCALATED] {order.number} not accepted",
                               f"{order.title} ({where}) was not accepted by {order.response_due:%Y-%m-%d %H:%M} UTC "
                               f"(escalation {order.escalated}). {comment}", src)
    if action in RESIDENT_ACTIONS and order.reporter_person_id:
        out += person_notice(s, order.reporter_person_id, notify.get("channels") or {},
                             f"{order.number}: {action.replace('_', ' ')}",
                             f"Your request '{order.title}' is now {order.state.replace('_', ' ')}. {comment}".strip(),
                             src)
    return out


class Notices:
    """Enqueues notice dicts into the shared outbox (logs once when it is missing)."""

    def __init__(self, outbox: Any | None) -> None:
        self.outbox = outbox
        self.sent: list[dict] = []
        self._warned = False

    def send(self, notices: Iterable[dict]) -> int:
        """Enqueue each notice; returns how many were stored."""
        from alarms.notify import Message

        n = 0
        for d in notices:
            self.sent.append(d)
            if self.outbox is None:
                if not self._warned:
                    log.warning("service notices: no notification outbox (alarms section absent); notices are dropped")
                    self._warned = True
                continue
            try:
                self.outbox.enqueue(Message(channel=d["channel"], recipient=d["recipient"], subject=d["subject"],
                                            body=d["body"], source=d["source"]))
                n += 1
            except KeyError as exc:
                log.error("service notice to %s not stored: %s", d["recipient"], exc)
            except Exception:
                log.exception("service notice to %s not stored", d["recipient"])
        return n
