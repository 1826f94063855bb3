"""The estate: property → buildings → units, plus parking spaces and common areas."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Area, Base

UNIT_USES = ("residential", "commercial", "office")
UNIT_STATUSES = ("vacant", "occupied", "rented", "renovating")
BUILDING_USES = ("residential", "commercial", "office", "mixed", "plant", "parking")
PARKING_KINDS = ("owned", "rented", "visitor", "reserved")


class Property(Base):
    """A managed property (小区 / estate); ``code`` is the scope key ``property:<code>``."""

    __tablename__ = "properties"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")

    buildings: Mapped[list["Building"]] = relationship(back_populates="property")


class Building(Base):
    """A building; ``code`` matches the site's building id (``building:<code>`` scope)."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    use: Mapped[str] = mapped_column(String(32), default="residential")
    floors: Mapped[int] = mapped_column(Integer, default=1)
    basement_floors: Mapped[int] = mapped_column(Integer, default=0)

    property: Mapped[Property] = relationship(back_populates="buildings")


class Unit(Base):
    """A unit (room): apartment, shop or office, with gross (建筑面积) and inner area."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    floor: Mapped[int] = mapped_column(Integer)
    use: Mapped[str] = mapped_column(String(32), default="residential")
    gross_area: Mapped[Decimal] = mapped_column(Area())
    inner_area: Mapped[Decimal] = mapped_column(Area())
    status: Mapped[str] = mapped_column(String(32), default="vacant")

    building: Mapped[Building] = relationship()


class ParkingSpace(Base):
    """A parking space, optionally attached to a unit."""

    __tablename__ = "parking_spaces"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer, default=-1)
    kind: Mapped[str] = mapped_column(String(32), default="owned")
    area: Mapped[Decimal | None] = mapped_column(Area())


class CommonArea(Base):
    """A shared area (lobby, corridor, plant room, garden) used for cost allocation."""

    __tablename__ = "common_areas"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[Decimal] = mapped_column(Area())
