"""SQLAlchemy models of the business layer; import this package to register every table."""

from .assets import Asset, MaintenanceRecord
from .base import Base, UTCDateTime
from .identity import ApiToken, AuditEntry, RoleGrant, User, WebSession
from .people import Lease, Person, Residency, Vehicle
from .property import Building, CommonArea, ParkingSpace, Property, Unit
from .staff import ClockRecord, Department, Position, Review, RosterEntry, Shift, Staff

__all__ = [
    "ApiToken", "Asset", "AuditEntry", "Base", "Building", "ClockRecord", "CommonArea", "Department",
    "Lease", "MaintenanceRecord", "ParkingSpace", "Person", "Position", "Property", "Residency",
    "Review", "RoleGrant", "RosterEntry", "Shift", "Staff", "UTCDateTime", "Unit", "User",
    "Vehicle", "WebSession",
]
