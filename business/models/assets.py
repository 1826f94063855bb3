"""The equipment ledger: assets (optionally linked to SCADA equipment) and their
maintenance and repair history (filled by the work-order module)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, Money, UTCDateTime

IMPORTANCE = ("critical", "high", "normal", "low")
ASSET_STATUSES = ("in_service", "standby", "under_repair", "retired")
MAINTENANCE_KINDS = ("maintenance", "repair", "inspection", "replacement")


class Asset(Base):
    """One asset; ``equipment_id`` is the site's equipment id (e.g. ``tower-a/elevator-1``)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100), default="")
    spec: Mapped[str] = mapped_column(String(1000), default="")
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    serial_no: Mapped[str] = mapped_column(String(100), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_price: Mapped[Decimal | None] = mapped_column(Money())
    warranty_end: Mapped[date | None] = mapped_column(Date)
    area: Mapped[str] = mapped_column(String(100), default="")
    importance: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="in_service")
    equipment_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    documents: Mapped[list] = mapped_column(JSONType, default=list)   # [{"title", "uri"}]


class MaintenanceRecord(Base):
    """One maintenance or repair job done on an asset."""

    __tablename__ = "maintenance_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(String(2000), default="")
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    work_order_ref: Mapped[str] = mapped_column(String(64), default="")
