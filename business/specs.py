"""The REST collections of the business core, declared as :class:`~business.crud.Spec`.

Later modules (work orders, finance) add their own specs to the same registry
with :func:`register` and get pagination, validation, scoping, audit and the
OpenAPI entries for free.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from . import fields as v
from .crud import Spec
from .fields import F
from .models import (Asset, Building, ClockRecord, CommonArea, Department, Lease, MaintenanceRecord, ParkingSpace,
                     Person, Position, Property, Residency, Review, RosterEntry, Shift, Staff, Unit, Vehicle)
from .models.assets import ASSET_STATUSES, IMPORTANCE, MAINTENANCE_KINDS
from .models.people import CHANNELS, LEASE_STATUSES, RESIDENCY_ROLES
from .models.property import BUILDING_USES, PARKING_KINDS, UNIT_STATUSES, UNIT_USES
from .models.staff import CLOCK_KINDS, SKILLS
from .scopes import (building_chain, located, property_wide, located_chain, people_where, person_chain, property_chain,
                     staff_chain, unit_chain, via_staff, via_unit)

CODE = r"[A-Za-z0-9][A-Za-z0-9_.\-/]*"
PLATE = r"[\u4e00-\u9fffA-Z0-9]{5,10}"
AREA = v.decimal(0, 100000, exclusive_lo=True)
OPT_ID = v.optional(v.ref)
ID = v.ref


def _building_property(s, obj, errors):
    """Records in a building belong to that building's property."""
    if getattr(obj, "building_id", None):
        b = s.get(Building, obj.building_id)
        if b is not None:
            if obj.property_id and obj.property_id != b.property_id:
                errors["building_id"] = "building belongs to another property"
            obj.property_id = b.property_id
    if not obj.property_id:
        errors["property_id"] = "is required (or give building_id)"


def _unit_check(s, obj, errors):
    if obj.inner_area is not None and obj.gross_area is not None and obj.inner_area > obj.gross_area:
        errors["inner_area"] = "must not exceed gross_area"
    b = s.get(Building, obj.building_id)
    if b is not None and obj.floor is not None and not (-b.basement_floors <= obj.floor <= b.floors):
        errors["floor"] = f"building {b.code} has floors -{b.basement_floors}..{b.floors}"


def _parking_check(s, obj, errors):
    if obj.unit_id:
        u = s.get(Unit, obj.unit_id)
        if u is not None and u.property_id != obj.property_id:
            errors["unit_id"] = "unit belongs to another property"


def _residency_check(s, obj, errors):
    if obj.moved_out is not None and obj.moved_out < obj.moved_in:
        errors["moved_out"] = "must not be before moved_in"
    if obj.role == "owner":
        if obj.share is None:
            errors["share"] = "is required for owners"
        elif not (Decimal(0) < obj.share <= 1):
            errors["share"] = "must be > 0 and <= 1"
        else:
            stmt = select(func.coalesce(func.sum(Residency.share), 0)).where(
                Residency.unit_id == obj.unit_id, Residency.role == "owner", Residency.moved_out.is_(None))
            if obj.id is not None:
                stmt = stmt.where(Residency.id != obj.id)
            others = Decimal(str(s.scalar(stmt) or 0))
            if obj.moved_out is None and others + obj.share > 1:
                errors["share"] = f"owner shares of the unit would total {others + obj.share} (> 1)"
    elif obj.share is not None:
        errors["share"] = "only owners have a share"
    u, p = s.get(Unit, obj.unit_id), s.get(Person, obj.person_id)
    if u is not None and p is not None and u.property_id != p.property_id:
        errors["person_id"] = "person belongs to another property"


def _lease_check(s, obj, errors):
    if obj.end_date <= obj.start_date:
        errors["end_date"] = "must be after start_date"


def _vehicle_check(s, obj, errors):
    lives = s.scalar(select(Residency.id).where(Residency.person_id == obj.person_id,
                                                Residency.unit_id == obj.unit_id))
    if lives is None:
        errors["person_id"] = "person does not live in this unit"


def _roster_check(s, obj, errors):
    st, sh = s.get(Staff, obj.staff_id), s.get(Shift, obj.shift_id)
    if st is not None and sh is not None and st.property_id != sh.property_id:
        errors["shift_id"] = "shift belongs to another property"


def _staff_check(s, obj, errors):
    if obj.position_id and obj.department_id:
        pos = s.get(Position, obj.position_id)
        if pos is not None and pos.department_id != obj.department_id:
            errors["position_id"] = "position belongs to another department"


SPECS: dict[str, Spec] = {}


def register(spec: Spec) -> Spec:
    """Add a collection (served at ``/api/v1/<name>``)."""
    SPECS[spec.name] = spec
    return spec


register(Spec(
    "properties", Property, title="Properties",
    fields={"code": F(v.text(64, 1, CODE), True), "name": F(v.text(200, 1), True), "address": F(v.text(400), default=""),
            "timezone": F(v.text(64, 1), default="Asia/Shanghai")},
    chain=lambda s, o: [f"property:{o.code}"], scope_filter=property_wide(Property.id), unique=(("code",),),
    search=(Property.name, Property.code)))
# Property-wide records (the property itself, departments, positions, shifts) are readable by any
# grant inside the property, but writable only with a grant on the whole property.

register(Spec(
    "buildings", Building, title="Buildings",
    fields={"property_id": F(ID, True, kind="integer"), "code": F(v.text(64, 1, CODE), True),
            "name": F(v.text(200, 1), True), "use": F(v.text(choices=BUILDING_USES), default="residential"),
            "floors": F(v.integer(1, 200), default=1, kind="integer"),
            "basement_floors": F(v.integer(0, 20), default=0, kind="integer")},
    chain=lambda s, o: property_chain(s, o.property_id) + [f"building:{o.code}"],
    create_chain=lambda s, o: property_chain(s, o.property_id),   # a new building needs a property grant
    scope_filter=located(Building.property_id, Building.id), unique=(("code",),), refs={"property_id": Property},
    filters={"property_id": (Building.property_id, ID), "use": (Building.use, str)},
    search=(Building.name, Building.code)))

register(Spec(
    "units", Unit, title="Units (rooms)",
    fields={"building_id": F(ID, True, kind="integer"), "property_id": F(OPT_ID, kind="integer"),
            "code": F(v.text(64, 1, CODE), True), "floor": F(v.integer(-20, 200), True, kind="integer"),
            "use": F(v.text(choices=UNIT_USES), default="residential"),
            "gross_area": F(AREA, True, kind="decimal"), "inner_area": F(AREA, True, kind="decimal"),
            "status": F(v.text(choices=UNIT_STATUSES), default="vacant")},
    chain=lambda s, o: located_chain(s, o.property_id, o.building_id, o.id),
    scope_filter=located(Unit.property_id, Unit.building_id, Unit.id),
    derive=_building_property, check=_unit_check, unique=(("building_id", "code"),),
    refs={"building_id": Building, "property_id": Property},
    filters={"building_id": (Unit.building_id, ID), "floor": (Unit.floor, v.integer()), "use": (Unit.use, str),
             "status": (Unit.status, str), "code": (Unit.code, str)},
    search=(Unit.code,)))

register(Spec(
    "parking", ParkingSpace, title="Parking spaces",
    fields={"property_id": F(OPT_ID, kind="integer"), "building_id": F(OPT_ID, kind="integer"),
            "unit_id": F(OPT_ID, kind="integer"), "code": F(v.text(64, 1, CODE), True),
            "level": F(v.integer(-10, 10), default=-1, kind="integer"),
            "kind": F(v.text(choices=PARKING_KINDS), default="owned"),
            "area": F(v.optional(AREA), kind="decimal")},
    chain=lambda s, o: located_chain(s, o.property_id, o.building_id, o.unit_id),
    scope_filter=located(ParkingSpace.property_id, ParkingSpace.building_id, ParkingSpace.unit_id),
    derive=_building_property, check=_parking_check, unique=(("property_id", "code"),),
    refs={"property_id": Property, "building_id": Building, "unit_id": Unit},
    filters={"building_id": (ParkingSpace.building_id, ID), "unit_id": (ParkingSpace.unit_id, ID),
             "kind": (ParkingSpace.kind, str)}, search=(ParkingSpace.code,)))

register(Spec(
    "common_areas", CommonArea, title="Common areas",
    fields={"property_id": F(OPT_ID, kind="integer"), "building_id": F(OPT_ID, kind="integer"),
            "code": F(v.text(64, 1, CODE), True), "name": F(v.text(200, 1), True), "area": F(AREA, True, kind="decimal")},
    chain=lambda s, o: located_chain(s, o.property_id, o.building_id),
    scope_filter=located(CommonArea.property_id, CommonArea.building_id), derive=_building_property,
    unique=(("property_id", "code"),), refs={"property_id": Property, "building_id": Building},
    filters={"building_id": (CommonArea.building_id, ID)}, search=(CommonArea.name, CommonArea.code)))

register(Spec(
    "people", Person, title="People (owners, tenants, household members, contacts)",
    fields={"property_id": F(ID, True, kind="integer"), "name": F(v.text(200, 1), True),
            "phone": F(v.text(40, pattern=r"\+?[0-9 \-]{0,20}"), default=""),
            "email": F(v.text(200, pattern=r"([^@\s]+@[^@\s]+\.[^@\s]+)?"), default=""),
            "preferred_channel": F(v.text(choices=CHANNELS), default="sms"),
            "language": F(v.text(choices=("zh", "en")), default="zh"), "note": F(v.text(400), default="")},
    chain=person_chain, scope_filter=people_where, refs={"property_id": Property},
    # a new person is not in any unit yet: managers of any building of the property may create one
    filters={"property_id": (Person.property_id, ID), "phone": (Person.phone, str)},
    search=(Person.name, Person.phone, Person.email)))

register(Spec(
    "residencies", Residency, title="Residencies: owners (share), tenants, household members, move-in/out",
    fields={"unit_id": F(ID, True, kind="integer"), "person_id": F(ID, True, kind="integer"),
            "role": F(v.text(choices=RESIDENCY_ROLES), True),
            "share": F(v.optional(v.decimal(0, 1, places=4, exclusive_lo=True)), kind="decimal"),
            "relation": F(v.text(40), default=""), "moved_in": F(v.day, True, kind="date"),
            "moved_out": F(v.optional(v.day), kind="date")},
    chain=lambda s, o: unit_chain(s, o.unit_id), scope_filter=via_unit(Residency.unit_id), check=_residency_check,
    refs={"unit_id": Unit, "person_id": Person},
    filters={"unit_id": (Residency.unit_id, ID), "person_id": (Residency.person_id, ID), "role": (Residency.role, str)}))

register(Spec(
    "leases", Lease, title="Leases",
    fields={"unit_id": F(ID, True, kind="integer"), "person_id": F(ID, True, kind="integer"),
            "start_date": F(v.day, True, kind="date"), "end_date": F(v.day, True, kind="date"),
            "monthly_rent": F(v.decimal(0, 10_000_000), True, kind="decimal"),
            "deposit": F(v.decimal(0, 10_000_000), default=Decimal("0"), kind="decimal"),
            "status": F(v.text(choices=LEASE_STATUSES), default="active")},
    chain=lambda s, o: unit_chain(s, o.unit_id), scope_filter=via_unit(Lease.unit_id), check=_lease_check,
    refs={"unit_id": Unit, "person_id": Person},
    filters={"unit_id": (Lease.unit_id, ID), "person_id": (Lease.person_id, ID), "status": (Lease.status, str)}))

register(Spec(
    "vehicles", Vehicle, title="Vehicles",
    fields={"person_id": F(ID, True, kind="integer"), "unit_id": F(ID, True, kind="integer"),
            "plate": F(v.text(16, 1, PLATE), True), "description": F(v.text(200), default=""),
            "parking_space_id": F(OPT_ID, kind="integer")},
    chain=lambda s, o: unit_chain(s, o.unit_id), scope_filter=via_unit(Vehicle.unit_id), check=_vehicle_check,
    unique=(("plate",),), refs={"person_id": Person, "unit_id": Unit, "parking_space_id": ParkingSpace},
    filters={"unit_id": (Vehicle.unit_id, ID), "plate": (Vehicle.plate, str)}, search=(Vehicle.plate,)))

register(Spec(
    "departments", Department, title="Departments",
    fields={"property_id": F(ID, True, kind="integer"), "code": F(v.text(64, 1, CODE), True),
            "name": F(v.text(200, 1), True)},
    chain=lambda s, o: property_chain(s, o.property_id), scope_filter=property_wide(Department.property_id),
    unique=(("property_id", "code"),), refs={"property_id": Property}, search=(Department.name,)))

register(Spec(
    "positions", Position, title="Positions",
    fields={"department_id": F(ID, True, kind="integer"), "code": F(v.text(64, 1, CODE), True),
            "name": F(v.text(200, 1), True)},
    chain=lambda s, o: property_chain(s, getattr(s.get(Department, o.department_id), "property_id", None)),
    scope_filter=lambda vis: Position.department_id.in_(
        select(Department.id).where(property_wide(Department.property_id)(vis))),
    unique=(("department_id", "code"),), refs={"department_id": Department},
    filters={"department_id": (Position.department_id, ID)}))

register(Spec(
    "staff", Staff, title="Staff",
    fields={"property_id": F(OPT_ID, kind="integer"), "building_id": F(OPT_ID, kind="integer"),
            "employee_no": F(v.text(32, 1, CODE), True), "name": F(v.text(200, 1), True),
            "phone": F(v.text(40, pattern=r"\+?[0-9 \-]{0,20}"), default=""), "email": F(v.text(200), default=""),
            "department_id": F(OPT_ID, kind="integer"), "position_id": F(OPT_ID, kind="integer"),
            "skills": F(v.string_list(SKILLS), default=list, kind="array"), "hired": F(v.optional(v.day), kind="date"),
            "active": F(v.boolean, default=True, kind="boolean")},
    chain=lambda s, o: located_chain(s, o.property_id, o.building_id),
    scope_filter=located(Staff.property_id, Staff.building_id), derive=_building_property, check=_staff_check,
    unique=(("employee_no",),),
    refs={"property_id": Property, "building_id": Building, "department_id": Department, "position_id": Position},
    filters={"building_id": (Staff.building_id, ID), "department_id": (Staff.department_id, ID),
             "active": (Staff.active, v.boolean)}, search=(Staff.name, Staff.employee_no)))

register(Spec(
    "shifts", Shift, title="Shifts",
    fields={"property_id": F(ID, True, kind="integer"), "code": F(v.text(32, 1, CODE), True),
            "name": F(v.text(100, 1), True), "start": F(v.clock_time, True, kind="time"),
            "end": F(v.clock_time, True, kind="time"), "grace_minutes": F(v.integer(0, 120), default=5, kind="integer")},
    chain=lambda s, o: property_chain(s, o.property_id), scope_filter=property_wide(Shift.property_id),
    unique=(("property_id", "code"),), refs={"property_id": Property}))

register(Spec(
    "roster", RosterEntry, title="Roster (who works which shift on which day)",
    fields={"staff_id": F(ID, True, kind="integer"), "shift_id": F(ID, True, kind="integer"),
            "day": F(v.day, True, kind="date")},
    chain=lambda s, o: staff_chain(s, o.staff_id), scope_filter=via_staff(RosterEntry.staff_id),
    check=_roster_check, unique=(("staff_id", "day", "shift_id"),), refs={"staff_id": Staff, "shift_id": Shift},
    filters={"staff_id": (RosterEntry.staff_id, ID), "day": (RosterEntry.day, v.day)}))

register(Spec(
    "attendance", ClockRecord, title="Clock-in/clock-out records",
    fields={"staff_id": F(ID, True, kind="integer"), "kind": F(v.text(choices=CLOCK_KINDS), True),
            "at": F(v.timestamp, True, kind="datetime"), "source": F(v.text(32), default="terminal")},
    chain=lambda s, o: staff_chain(s, o.staff_id), scope_filter=via_staff(ClockRecord.staff_id),
    refs={"staff_id": Staff}, filters={"staff_id": (ClockRecord.staff_id, ID), "kind": (ClockRecord.kind, str)}))

register(Spec(
    "reviews", Review, title="Performance reviews",
    fields={"staff_id": F(ID, True, kind="integer"), "period": F(v.text(16, 1, r"\d{4}(-Q[1-4]|-\d{2})?"), True),
            "score": F(v.decimal(0, 100), True, kind="decimal"), "criteria": F(v.criteria, default=dict, kind="object"),
            "reviewer": F(v.text(64), default=""), "comment": F(v.text(1000), default="")},
    chain=lambda s, o: staff_chain(s, o.staff_id), scope_filter=via_staff(Review.staff_id),
    unique=(("staff_id", "period"),), refs={"staff_id": Staff},
    filters={"staff_id": (Review.staff_id, ID), "period": (Review.period, str)}))

register(Spec(
    "assets", Asset, title="Equipment ledger",
    fields={"property_id": F(OPT_ID, kind="integer"), "building_id": F(OPT_ID, kind="integer"),
            "code": F(v.text(64, 1, CODE), True), "name": F(v.text(200, 1), True),
            "category": F(v.text(64, 1), True), "model": F(v.text(100), default=""), "spec": F(v.text(1000), default=""),
            "manufacturer": F(v.text(200), default=""), "serial_no": F(v.text(100), default=""),
            "purchase_date": F(v.optional(v.day), kind="date"),
            "purchase_price": F(v.optional(v.decimal(0, 1_000_000_000)), kind="decimal"),
            "warranty_end": F(v.optional(v.day), kind="date"), "area": F(v.text(100), default=""),
            "importance": F(v.text(choices=IMPORTANCE), default="normal"),
            "status": F(v.text(choices=ASSET_STATUSES), default="in_service"),
            "equipment_id": F(v.optional(v.text(200, 1)), doc="SCADA equipment id, e.g. tower-a/elevator-1"),
            "documents": F(v.documents, default=list, kind="array")},
    chain=lambda s, o: located_chain(s, o.property_id, o.building_id),
    scope_filter=located(Asset.property_id, Asset.building_id), derive=_building_property,
    unique=(("code",), ("equipment_id",)), refs={"property_id": Property, "building_id": Building},
    filters={"building_id": (Asset.building_id, ID), "category": (Asset.category, str),
             "status": (Asset.status, str), "importance": (Asset.importance, str),
             "equipment_id": (Asset.equipment_id, str)},
    search=(Asset.name, Asset.code, Asset.serial_no, Asset.model)))

register(Spec(
    "maintenance", MaintenanceRecord, title="Maintenance and repair history",
    fields={"asset_id": F(ID, True, kind="integer"), "kind": F(v.text(choices=MAINTENANCE_KINDS), True),
            "performed_at": F(v.timestamp, True, kind="datetime"), "description": F(v.text(2000), default=""),
            "cost": F(v.decimal(0, 100_000_000), default=Decimal("0"), kind="decimal"),
            "staff_id": F(OPT_ID, kind="integer"), "work_order_ref": F(v.text(64), default="")},
    chain=lambda s, o: (lambda a: located_chain(s, a.property_id, a.building_id) if a else [])(s.get(Asset, o.asset_id)),
    scope_filter=lambda vis: MaintenanceRecord.asset_id.in_(
        select(Asset.id).where(located(Asset.property_id, Asset.building_id)(vis))),
    refs={"asset_id": Asset, "staff_id": Staff}, filters={"asset_id": (MaintenanceRecord.asset_id, ID)}))

__all__ = ["SPECS", "register", "building_chain"]
