"""Online payment providers behind one neutral interface, and the callback handling.

A provider turns a raw notification (body + headers) into a verified
:class:`CallbackData` or raises :class:`CallbackRefused`. :class:`HmacProvider`
is the generic one: a JSON body signed with HMAC-SHA256 over the raw bytes
(hex digest in the ``X-Signature`` header), which is how the common Chinese
gateways' "notify URL" schemes work in substance (their field names differ;
an adapter maps them). :func:`settle_callback` records every callback
(accepted, duplicate or refused, with the reason), checks the amount against
the payment order, and posts the payment once per provider transaction id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import CallbackRefused, NotFound, ValidationError
from .models import Bill, Callback, Payment, PaymentOrder
from .money import to_fen_exact, yuan
from .payments import record_payment


@dataclass(frozen=True, slots=True)
class CallbackData:
    """A verified provider notification: which order, the provider's transaction id, the amount in fen."""

    order_no: str
    transaction_id: str
    amount: int
    paid_at: str = ""


class PaymentProvider(Protocol):
    """What every provider adapter offers."""

    name: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> CallbackData:
        """Check the signature and parse the body, or raise CallbackRefused."""

    def sign(self, body: bytes) -> str:
        """The signature the provider would send (tests, simulators)."""


class HmacProvider:
    """JSON ``{"order_no", "transaction_id", "amount": "12.34", "paid_at"}`` signed with HMAC-SHA256."""

    header = "x-signature"

    def __init__(self, name: str, secret: str) -> None:
        self.name = name
        self._key = secret.encode()

    def sign(self, body: bytes) -> str:
        """Hex HMAC-SHA256 of the raw body."""
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> CallbackData:
        """Constant-time signature check, then strict parsing (amount as a decimal string)."""
        got = {k.lower(): v for k, v in headers.items()}.get(self.header, "")
        if not got or not hmac.compare_digest(got.strip().lower(), self.sign(body)):
            raise CallbackRefused("bad or missing signature")
        try:
            data = json.loads(body)
            amount = data["amount"]
            if not isinstance(amount, str):
                raise CallbackRefused("amount must be a decimal string")
            return CallbackData(str(data["order_no"]), str(data["transaction_id"]), to_fen_exact(amount),
                                str(data.get("paid_at", "")))
        except CallbackRefused:
            raise
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise CallbackRefused(f"malformed notification: {exc}") from None


def create_order(session: Session, provider: str, property_id: int, unit_id: int, bill_ids: list[int],
                 amount: int | None, now: datetime, actor: str = "") -> PaymentOrder:
    """An online payment order for some of a unit's open bills (amount = what is open unless given)."""
    from .bills import open_lines
    bills = list(session.scalars(select(Bill).where(Bill.id.in_(bill_ids)))) if bill_ids else []
    if bill_ids and (len(bills) != len(set(bill_ids)) or any(b.unit_id != unit_id for b in bills)):
        raise NotFound("bill not found")
    due = sum(o for _l, _b, o in open_lines(session, unit_id=unit_id, bill_ids=bill_ids or None) if o > 0)
    amount = amount if amount is not None else due
    if amount <= 0:
        raise ValidationError("nothing to pay", {"amount": "must be > 0"})
    n = session.scalar(select(PaymentOrder.id).order_by(PaymentOrder.id.desc()).limit(1)) or 0
    order = PaymentOrder(order_no=f"PO{now:%Y%m%d}{n + 1:06d}", provider=provider, property_id=property_id,
                         unit_id=unit_id, bill_ids=list(bill_ids), amount=amount, status="pending",
                         created_at=now, actor=actor)
    session.add(order)
    session.flush()
    return order


def record_refused(session: Session, provider: str, body: bytes, reason: str, now: datetime,
                   order_no: str = "", txn: str = "") -> None:
    """Keep a refused callback for the finance team (bad signature, wrong amount, unknown order)."""
    session.add(Callback(provider=provider, at=now, order_no=order_no[:40], external_ref=txn[:120], outcome="refused",
                         reason=reason[:400], body=body[:8000].decode("utf-8", "replace")))
    session.flush()


def _duplicate(session: Session, provider: str, data: CallbackData, ext: str, raw: str, now: datetime,
               dup: Payment) -> dict:
    """Record a repeated notification and answer with the receipt it was first posted as."""
    session.add(Callback(provider=provider, at=now, order_no=data.order_no, external_ref=ext, outcome="duplicate",
                         reason=f"already posted as receipt {dup.receipt_no}", body=raw))
    return {"outcome": "duplicate", "receipt_no": dup.receipt_no}


def settle_callback(session: Session, provider: str, data: CallbackData, body: bytes, now: datetime) -> dict:
    """Post a verified callback once; a wrong amount or unknown order is refused (and recorded)."""
    ext = f"{provider}:{data.transaction_id}"
    raw = body[:8000].decode("utf-8", "replace")
    dup = session.scalars(select(Payment).where(Payment.external_ref == ext)).first()
    if dup is not None:
        return _duplicate(session, provider, data, ext, raw, now, dup)
    order = session.scalars(select(PaymentOrder).where(PaymentOrder.order_no == data.order_no,
                                                       PaymentOrder.provider == provider)).first()
    if order is None:
        raise CallbackRefused(f"unknown order {data.order_no!r}")
    if data.amount != order.amount:
        raise CallbackRefused(f"amount {yuan(data.amount)} does not match order {order.order_no} ({yuan(order.amount)})")
    payment, created = record_payment(session, order.property_id, order.unit_id, data.amount, "online", now,
                                bill_ids=order.bill_ids or None, external_ref=ext, provider=provider,
                                actor=f"provider:{provider}", memo=f"order {order.order_no}")
    if not created:
        # a concurrent delivery of the same notification committed between our check and
        # record_payment's (read committed sees it now): it was posted once, by the other one
        return _duplicate(session, provider, data, ext, raw, now, payment)
    if order.status == "pending":
        order.status = "paid"
        order.payment_id = payment.id
    session.add(Callback(provider=provider, at=now, order_no=data.order_no, external_ref=ext, outcome="accepted",
                         reason=f"receipt {payment.receipt_no}", body=raw))
    session.flush()
    return {"outcome": "accepted", "receipt_no": payment.receipt_no}
