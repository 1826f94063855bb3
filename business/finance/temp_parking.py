"""Temporary parking (临时停车) at the barrier: the tariff of a ``parking_temp`` fee item, quotes and sales.

The business layer records no parking sessions (the car park's SCADA points
count vehicles, they do not identify them), so a stay is given by its entry
and exit times. Times without a UTC offset are the site's local time. A sale
posts the fee as one balanced entry (Dr cash of the method / Cr the item's
revenue account) with a receipt, once per plate and entry time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ValidationError
from .fees import temp_parking_fee
from .models import FeeItem, Payment
from .money import yuan
from .payments import record_temp_parking

# a sale is for a stay that has ended; a little clock skew between the barrier and the server is tolerated
FUTURE_SKEW = timedelta(minutes=5)


def tariff(session: Session, property_id: int, code: str | None = None) -> FeeItem:
    """The active ``parking_temp`` fee item named ``code``, or the only one when ``code`` is not given."""
    if code is not None and not isinstance(code, str):
        raise ValidationError("fee_item must be a fee item code", {"fee_item": "must be a string"})
    q = select(FeeItem).where(FeeItem.property_id == property_id, FeeItem.kind == "parking_temp",
                              FeeItem.active.is_(True))
    if code:
        item = session.scalars(q.where(FeeItem.code == code)).first()
        if item is None:
            raise ValidationError(f"no active temporary-parking fee item {code!r}", {"fee_item": "unknown"})
        return item
    items = list(session.scalars(q.order_by(FeeItem.code)))
    if not items:
        raise ValidationError("no temporary-parking (parking_temp) fee item is configured",
                              {"fee_item": "none configured"})
    if len(items) > 1:
        raise ValidationError("several temporary-parking fee items: name one",
                              {"fee_item": "one of " + ", ".join(i.code for i in items)})
    return items[0]


def parse_time(value, field: str, tz: str) -> datetime:
    """An ISO 8601 timestamp (local site time when it has no offset), in the site's zone."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required (ISO 8601, e.g. 2026-11-20T09:00:00+08:00)", {field: "is required"})
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not an ISO 8601 timestamp", {field: "expected ISO 8601"}) from None
    zone = ZoneInfo(tz)
    return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)


def check_stay(entered: datetime, left: datetime) -> int:
    """Whole minutes of the stay; exit before entry is refused naming ``left``."""
    if left < entered:
        raise ValidationError("exit before entry", {"left": "must not be before entered"})
    return int((left - entered).total_seconds() // 60)


def quote(item: FeeItem, entered: datetime, left: datetime) -> dict:
    """What the stay costs under the item's tariff, explained."""
    minutes = check_stay(entered, left)
    fee, detail = temp_parking_fee(minutes, item.params or {})
    return {"fee_item": item.code, "entered": entered.isoformat(), "left": left.isoformat(), "minutes": minutes,
            "fee": yuan(fee), "detail": detail,
            "tariff": {k: (item.params or {}).get(k) for k in ("free_minutes", "first_minutes", "first_price",
                                                               "period_minutes", "period_price", "daily_cap")}}


def sell(session: Session, property_id: int, item: FeeItem, plate, entered: datetime, left: datetime, method: str,
         now: datetime, actor: str = "") -> tuple[dict, bool]:
    """Charge the stay: (quote with ``receipt``, created). Free stays post nothing (receipt None)."""
    if not isinstance(plate, str) or not plate.strip() or len(plate.strip()) > 16:
        raise ValidationError("plate is required (at most 16 characters)", {"plate": "1 to 16 characters"})
    plate = plate.strip().upper()
    if left > now.astimezone(left.tzinfo) + FUTURE_SKEW:
        raise ValidationError("the exit time is in the future: quote it instead", {"left": "must not be in the future"})
    out = quote(item, entered, left)
    existing = session.scalars(select(Payment).where(
        Payment.external_ref == f"parking:{plate}:{entered.isoformat()}")).first()
    fee, receipt = record_temp_parking(session, property_id, plate, entered, left, item.params or {}, method, now,
                                       account=item.account, actor=actor)
    from .payments import payment_json
    return {**out, "plate": plate, "fee": yuan(fee), "receipt": payment_json(receipt) if receipt else None}, \
        existing is None and receipt is not None


__all__ = ["FUTURE_SKEW", "check_stay", "parse_time", "quote", "sell", "tariff"]
