"""Dunning: reminders before the due date, at it and at overdue steps, through the notification outbox.

:func:`due_reminders` (database) picks, for every open bill, the configured
steps reached by ``today`` that have not been sent, records each (unique per
bill and step, so a step is never sent twice) and returns the messages; the
caller hands them to ``ctx.provides["notify_outbox"]`` on the reactor.
Recipients are the unit's current owners and tenants on their preferred
channel (e-mail or SMS number).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Person, Residency, Unit
from .bills import open_lines
from .models import Reminder
from .money import yuan


def due_reminders(session: Session, property_id: int, today: date, steps: list[dict], now: datetime,
                  channels: set[str] | None = None) -> list[dict]:
    """New reminders to send (dicts with channel, recipient, subject, body, source, reminder_id)."""
    open_by_bill: dict[int, tuple] = {}
    for _line, bill, open_fen in open_lines(session, property_id=property_id):
        b, amount = open_by_bill.get(bill.id, (bill, 0))
        open_by_bill[bill.id] = (b, amount + open_fen)
    sent = {(r.bill_id, r.step) for r in session.scalars(select(Reminder).where(
        Reminder.bill_id.in_(list(open_by_bill) or [0])))}
    out = []
    ordered = sorted(steps, key=lambda s: s["days"])
    for bill_id, (bill, amount) in sorted(open_by_bill.items()):
        if amount <= 0 or bill.unit_id is None:
            continue
        reached = [s for s in ordered if today >= bill.due_on + timedelta(days=s["days"])]
        if not reached:
            continue
        step = reached[-1]  # only the latest step reached: no burst of old reminders after downtime
        if (bill_id, step["name"]) in sent:
            continue
        unit = session.get(Unit, bill.unit_id)
        people = session.execute(select(Person).join(Residency, Residency.person_id == Person.id).where(
            Residency.unit_id == bill.unit_id, Residency.role.in_(("owner", "tenant")),
            Residency.moved_out.is_(None))).scalars().all()
        rem = Reminder(bill_id=bill_id, step=step["name"], at=now, channel="none", recipient="")
        session.add(rem)
        session.flush()
        days = (today - bill.due_on).days
        when = f"due on {bill.due_on}" if days <= 0 else f"overdue by {days} days (due {bill.due_on})"
        recipients = []
        for person in people:
            channel = person.preferred_channel if person.preferred_channel in ("email", "sms") else \
                ("email" if person.email else "sms")
            if channels is not None and channel not in channels:
                channel = next(iter(sorted(channels)), channel)
            recipient = person.email if channel == "email" else person.phone
            if not recipient:
                continue
            recipients.append(f"{channel}:{recipient}")
            out.append({"reminder_id": rem.id, "channel": channel, "recipient": recipient,
                        "subject": f"物业账单提醒 Bill {bill.bill_no}: {yuan(amount)} {when}",
                        "body": (f"{person.name}，您好：单元 {unit.code if unit else ''} 账单 {bill.bill_no}"
                                 f"（{bill.period}）待缴 {yuan(amount)} 元，{when}。\n"
                                 f"Dear {person.name}, bill {bill.bill_no} for period {bill.period} has "
                                 f"{yuan(amount)} yuan open, {when}."),
                        "source": f"finance:bill:{bill_id}:{step['name']}"})
        rem.channel = ",".join(sorted({r.split(":", 1)[0] for r in recipients})) or "none"
        rem.recipient = ", ".join(recipients)[:200]
    session.flush()
    return out
