"""Community activities: publish, register with a capacity and a waiting list, cancel with
promotion of the first waiting resident, check in, and notices to registrants on changes.

Registration changes lock the activity row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite serializes writers) so two residents never take the last place together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from ..audit import jsonable, snapshot
from ..models import Building, Person, Residency, Unit
from .errors import ActivityError, NotFound, ValidationError
from .models import Activity, ActivityRegistration
from .notices import person_notice

FIELDS = ("title", "description", "place", "starts_at", "ends_at", "capacity", "building_id", "property_id")
NOTIFY_ON = ("starts_at", "ends_at", "place", "status")


def _parse(body: Any, creating: bool) -> dict:
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", {"body": "expected an object"})
    errors, out = {}, {}
    for key in body:
        if key not in FIELDS:
            errors[key] = "unknown field"
    for key in ("title", "place", "description"):
        if key in body:
            if not isinstance(body[key], str) or (key != "description" and not body[key].strip()):
                errors[key] = "expected a non-empty string" if key != "description" else "expected a string"
            else:
                out[key] = body[key].strip()
        elif creating and key != "description":
            errors[key] = "is required"
    for key in ("starts_at", "ends_at"):
        if key in body:
            try:
                t = datetime.fromisoformat(str(body[key]).replace("Z", "+00:00"))
                if t.tzinfo is None:
                    raise ValueError
                out[key] = t
            except ValueError:
                errors[key] = "an ISO 8601 time with an offset"
        elif creating:
            errors[key] = "is required"
    for key in ("capacity", "building_id", "property_id"):
        if key in body and body[key] is not None:
            v = body[key]
            if isinstance(v, bool) or not isinstance(v, int) or (key == "capacity" and v < 1):
                errors[key] = "a positive integer" if key == "capacity" else "an integer id"
            else:
                out[key] = v
        elif creating and key == "capacity":
            errors[key] = "is required"
    if not errors and "starts_at" in out and "ends_at" in out and out["ends_at"] <= out["starts_at"]:
        errors["ends_at"] = "must be after starts_at"
    if errors:
        raise ValidationError("invalid activity", errors)
    return out


def activity_json(s: Session, a: Activity) -> dict:
    """An activity with its counts."""
    d = snapshot(a)
    counts = dict(s.execute(select(ActivityRegistration.status, func.count()).where(
        ActivityRegistration.activity_id == a.id).group_by(ActivityRegistration.status)).all())
    d.update(confirmed=counts.get("confirmed", 0), waiting=counts.get("waiting", 0),
             places_left=max(0, a.capacity - counts.get("confirmed", 0)))
    return d


def load(s: Session, activity_id: Any, lock: bool = False) -> Activity:
    """An activity by id (row-locked for registration changes), or NotFound."""
    if not str(activity_id).isdigit():
        raise NotFound(f"activity {activity_id} not found")
    if lock:
        # a no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite, whose driver
        # would otherwise read outside the transaction) before anything is counted
        s.execute(sql_update(Activity).where(Activity.id == int(activity_id)).values(id=Activity.id))
    a = s.get(Activity, int(activity_id), with_for_update=lock)
    if a is None:
        raise NotFound(f"activity {activity_id} not found")
    return a


def create(s: Session, now: datetime, actor: str, body: Any, default_property: int | None = None) -> Activity:
    """Publish an activity (audience: its building, or the whole property)."""
    f = _parse(body, creating=True)
    if f.get("building_id") is not None:
        b = s.get(Building, f["building_id"])
        if b is None:
            raise ValidationError("invalid activity", {"building_id": "no such building"})
        f["property_id"] = b.property_id
    if f.get("property_id") is None:
        if default_property is None:
            raise ValidationError("invalid activity", {"property_id": "name a property or a building"})
        f["property_id"] = default_property
    a = Activity(status="published", created_by=actor, **f)
    s.add(a)
    s.flush()
    return a


def _registrants(s: Session, a: Activity) -> list[ActivityRegistration]:
    return list(s.scalars(select(ActivityRegistration).where(
        ActivityRegistration.activity_id == a.id, ActivityRegistration.status.in_(("confirmed", "waiting")))))


def update(s: Session, now: datetime, a: Activity, body: Any, channels: dict) -> tuple[Activity, list]:
    """Change an activity; registrants hear about changes of time, place or status."""
    f = _parse(body, creating=False)
    changed = {k: v for k, v in f.items() if getattr(a, k) != v}
    if "capacity" in changed and changed["capacity"] < a.capacity:
        confirmed = s.scalar(select(func.count()).select_from(ActivityRegistration).where(
            ActivityRegistration.activity_id == a.id, ActivityRegistration.status == "confirmed"))
        if changed["capacity"] < confirmed:
            raise ValidationError("invalid activity", {"capacity": f"{confirmed} residents are already confirmed"})
    for k, v in changed.items():
        setattr(a, k, v)
    if a.ends_at <= a.starts_at:
        raise ValidationError("invalid activity", {"ends_at": "must be after starts_at"})
    s.flush()
    notices = []
    if "capacity" in changed:
        notices += _promote(s, a, channels)
    if any(k in NOTIFY_ON for k in changed):
        text = f"'{a.title}' changed: {a.starts_at:%Y-%m-%d %H:%M} UTC at {a.place}"
        for r in _registrants(s, a):
            notices += person_notice(s, r.person_id, channels, f"Activity changed: {a.title}", text,
                                     f"business:activity:{a.id}")
    return a, notices


def cancel(s: Session, now: datetime, a: Activity, channels: dict, reason: str = "") -> list:
    """Cancel the whole activity and tell every registrant."""
    if a.status == "cancelled":
        raise ActivityError(f"activity {a.id} is already cancelled")
    a.status = "cancelled"
    s.flush()
    return [n for r in _registrants(s, a) for n in person_notice(
        s, r.person_id, channels, f"Activity cancelled: {a.title}", f"'{a.title}' is cancelled. {reason}".strip(),
        f"business:activity:{a.id}")]


def audience_ok(s: Session, a: Activity, person_id: int) -> bool:
    """True when the person lives in the activity's property (and building, when it has one)."""
    p = s.get(Person, person_id)
    if p is None or p.property_id != a.property_id:
        return False
    if a.building_id is None:
        return True
    return a.building_id in set(s.scalars(select(Unit.building_id).join(Residency, Residency.unit_id == Unit.id)
                                          .where(Residency.person_id == person_id, Residency.moved_out.is_(None))))


def register(s: Session, now: datetime, a: Activity, person_id: int) -> dict:
    """A place if one is left, else the waiting list."""
    if a.status != "published":
        raise ActivityError(f"activity {a.id} is {a.status}")
    if a.starts_at <= now:
        raise ActivityError(f"activity {a.id} has already started")
    if not audience_ok(s, a, person_id):
        raise NotFound(f"activity {a.id} not found")
    reg = s.scalar(select(ActivityRegistration).where(ActivityRegistration.activity_id == a.id,
                                                      ActivityRegistration.person_id == person_id))
    if reg is not None and reg.status != "cancelled":
        raise ActivityError(f"already registered ({reg.status})", {"person_id": reg.status})
    confirmed = s.scalar(select(func.count()).select_from(ActivityRegistration).where(
        ActivityRegistration.activity_id == a.id, ActivityRegistration.status == "confirmed"))
    status = "confirmed" if confirmed < a.capacity else "waiting"
    if reg is None:
        reg = ActivityRegistration(activity_id=a.id, person_id=person_id, status=status, registered_at=now)
        s.add(reg)
    else:
        reg.status, reg.registered_at, reg.checked_in_at = status, now, None
    s.flush()
    return registration_json(s, reg)


def registration_json(s: Session, reg: ActivityRegistration) -> dict:
    """A registration with its waiting-list position."""
    d = jsonable({"id": reg.id, "activity_id": reg.activity_id, "person_id": reg.person_id, "status": reg.status,
                  "registered_at": reg.registered_at, "checked_in_at": reg.checked_in_at})
    if reg.status == "waiting":
        d["position"] = 1 + s.scalar(select(func.count()).select_from(ActivityRegistration).where(
            ActivityRegistration.activity_id == reg.activity_id, ActivityRegistration.status == "waiting",
            (ActivityRegistration.registered_at < reg.registered_at)
            | ((ActivityRegistration.registered_at == reg.registered_at) & (ActivityRegistration.id < reg.id))))
    return d


def _promote(s: Session, a: Activity, channels: dict) -> list:
    notices = []
    while True:
        confirmed = s.scalar(select(func.count()).select_from(ActivityRegistration).where(
            ActivityRegistration.activity_id == a.id, ActivityRegistration.status == "confirmed"))
        if confirmed >= a.capacity:
            return notices
        nxt = s.scalar(select(ActivityRegistration).where(ActivityRegistration.activity_id == a.id,
                                                          ActivityRegistration.status == "waiting")
                       .order_by(ActivityRegistration.registered_at, ActivityRegistration.id).limit(1))
        if nxt is None:
            return notices
        nxt.status = "confirmed"
        s.flush()
        notices += person_notice(s, nxt.person_id, channels, f"You have a place: {a.title}",
                                 f"A place at '{a.title}' ({a.starts_at:%Y-%m-%d %H:%M} UTC, {a.place}) is yours.",
                                 f"business:activity:{a.id}")


def unregister(s: Session, now: datetime, a: Activity, person_id: int, channels: dict) -> tuple[dict, list]:
    """Cancel a registration; a freed place goes to the first on the waiting list."""
    reg = s.scalar(select(ActivityRegistration).where(ActivityRegistration.activity_id == a.id,
                                                      ActivityRegistration.person_id == person_id,
                                                      ActivityRegistration.status.in_(("confirmed", "waiting"))))
    if reg is None:
        raise NotFound("no registration to cancel")
    reg.status = "cancelled"
    s.flush()
    return registration_json(s, reg), _promote(s, a, channels)


def check_in(s: Session, now: datetime, a: Activity, person_id: int) -> dict:
    """Mark a confirmed registrant as present."""
    reg = s.scalar(select(ActivityRegistration).where(ActivityRegistration.activity_id == a.id,
                                                      ActivityRegistration.person_id == person_id))
    if reg is None or reg.status != "confirmed":
        raise ActivityError("only confirmed registrants can check in",
                            {"person_id": reg.status if reg else "not registered"})
    if reg.checked_in_at is None:
        reg.checked_in_at = now
    s.flush()
    return registration_json(s, reg)
