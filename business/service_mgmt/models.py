"""Tables of service management: work orders and their timeline, costs, ratings,
preventive-maintenance plans, community activities and registrations.

The migration ``0201_service_mgmt`` is a frozen copy of these tables.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models.base import Base, JSONType, Money, UTCDateTime

KINDS = ("repair", "cleaning", "complaint", "inspection", "preventive", "emergency")
PRIORITIES = ("critical", "high", "normal", "low")
SOURCES = ("resident", "staff", "alarm", "plan")


class WorkOrder(Base):
    """One job. ``version`` is the optimistic lock: every change bumps it, a stale write fails."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    equipment_id: Mapped[str | None] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), index=True, default="new")
    skills: Mapped[list] = mapped_column(JSONType, default=list)
    photos: Mapped[list] = mapped_column(JSONType, default=list)          # references (URIs)
    preferred_visit: Mapped[str] = mapped_column(String(100), default="")
    reporter_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    reporter_user: Mapped[str] = mapped_column(String(64), default="")
    assignee_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    alarm_ids: Mapped[list] = mapped_column(JSONType, default=list)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("pm_plans.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completion_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fault_at: Mapped[datetime | None] = mapped_column(UTCDateTime())      # alarm activation
    healthy_since: Mapped[datetime | None] = mapped_column(UTCDateTime())  # telemetry healthy from
    downtime_s: Mapped[float | None] = mapped_column(Numeric(14, 1, asdecimal=False))
    escalated: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class WorkOrderEvent(Base):
    """One entry of an order's timeline: a transition (from → to) or a note, who, when, comment."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(String(2000), default="")
    data: Mapped[dict] = mapped_column(JSONType, default=dict)


class WorkOrderCost(Base):
    """A part or a labour line of an order (Decimal quantities and prices)."""

    __tablename__ = "work_order_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))           # part | labour
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))   # pieces or hours
    unit_price: Mapped[Decimal] = mapped_column(Money())
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkOrderRating(Base):
    """The resident's rating of a completed order (one per order)."""

    __tablename__ = "work_order_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class PmPlan(Base):
    """A preventive-maintenance plan for an asset or an asset category.

    ``trigger`` is ``calendar`` (``every`` N ``unit`` days/weeks/months from ``anchor``,
    or the ``dates`` list) or ``usage`` (``tag`` name on the equipment — run_hours,
    trips, starts — every ``threshold`` counts, warned ``lead`` counts before).
    ``state`` keeps per-asset progress: next due date / next usage mark.
    """

    __tablename__ = "pm_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    category: Mapped[str] = mapped_column(String(64), default="")
    trigger: Mapped[str] = mapped_column(String(16))
    every: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8), default="days")
    dates: Mapped[list] = mapped_column(JSONType, default=list)
    tag: Mapped[str] = mapped_column(String(100), default="")
    threshold: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    lead: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0)
    lead_days: Mapped[int] = mapped_column(Integer, default=7)
    skills: Mapped[list] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[dict] = mapped_column(JSONType, default=dict)


class Activity(Base):
    """A community activity: when, where, capacity, audience (whole property or one building)."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="published")   # published | cancelled
    created_by: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ActivityRegistration(Base):
    """A resident's place (or waiting-list position) at an activity."""

    __tablename__ = "activity_registrations"
    __table_args__ = (UniqueConstraint("activity_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))     # confirmed | waiting | cancelled
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
