"""Residents: people, their link to units (owner share, tenant, household), leases, vehicles.

A :class:`Residency` row is one person's stay in one unit in one role; its
``moved_in``/``moved_out`` dates are the move-in/move-out history.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Money

CHANNELS = ("sms", "email", "phone", "wechat", "app")
RESIDENCY_ROLES = ("owner", "tenant", "member")
LEASE_STATUSES = ("active", "ended", "terminated")


class Person(Base):
    """A resident or other contact of a property."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    preferred_channel: Mapped[str] = mapped_column(String(16), default="sms")
    language: Mapped[str] = mapped_column(String(8), default="zh")
    note: Mapped[str] = mapped_column(String(400), default="")


class Residency(Base):
    """A person's stay in a unit: owner (with share of ownership), tenant or household member."""

    __tablename__ = "residencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    share: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))   # owners: fraction 0 < share <= 1
    relation: Mapped[str] = mapped_column(String(40), default="")  # members: spouse, child, ...
    moved_in: Mapped[date] = mapped_column(Date)
    moved_out: Mapped[date | None] = mapped_column(Date)


class Lease(Base):
    """A tenancy contract for a unit: dates and monthly rent."""

    __tablename__ = "leases"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    monthly_rent: Mapped[Decimal] = mapped_column(Money())
    deposit: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(16), default="active")


class Vehicle(Base):
    """A resident's vehicle, by plate number, optionally on a parking space."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    parking_space_id: Mapped[int | None] = mapped_column(ForeignKey("parking_spaces.id"))
