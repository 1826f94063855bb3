"""The property company's own people: departments, positions, staff, skills, shifts,
rosters, clock-in/out records and performance reviews."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime

SKILLS = ("elevator", "hvac", "electrical", "plumbing", "cleaning", "security", "landscaping", "it")
CLOCK_KINDS = ("in", "out")


class Department(Base):
    """A department (engineering, customer service, security, cleaning...)."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Position(Base):
    """A job position inside a department."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("department_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Staff(Base):
    """An employee; ``skills`` (list of names from :data:`SKILLS`) drive work-order assignment."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    employee_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    skills: Mapped[list] = mapped_column(JSONType, default=list)
    hired: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Shift(Base):
    """A shift pattern; ``end`` before ``start`` means it ends the next day (night shift)."""

    __tablename__ = "shifts"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=5)


class RosterEntry(Base):
    """One staff member working one shift on one (local) date."""

    __tablename__ = "roster"
    __table_args__ = (UniqueConstraint("staff_id", "day", "shift_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"))
    day: Mapped[date] = mapped_column(Date, index=True)


class ClockRecord(Base):
    """A clock-in or clock-out event (UTC)."""

    __tablename__ = "clock_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(32), default="terminal")


class Review(Base):
    """A performance review for a period, with a 0–100 score and per-criterion scores."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("staff_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    period: Mapped[str] = mapped_column(String(16))        # e.g. 2026-Q3 or 2026-11
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    criteria: Mapped[dict] = mapped_column(JSONType, default=dict)
    reviewer: Mapped[str] = mapped_column(String(64), default="")
    comment: Mapped[str] = mapped_column(String(1000), default="")
