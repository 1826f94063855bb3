"""CSV import of units, owners and staff, the way property companies keep them in spreadsheets.

Every row goes through the same validation, permission checks and audit as the
REST API, inside one transaction. Any bad row (reported with its line number
in the file, header = line 1) rolls the whole file back; a dry run always rolls
back and returns the same report. Rows are matched on natural keys (building +
unit code; property + phone or name; employee number), so importing the same
file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagdb.auth import Principal

from .crud import Crud, to_json
from .errors import BusinessError, NotFound, ValidationError
from .models import Building, Department, Person, Position, Property, Residency, Staff, Unit

COLUMNS = {
    "units": (("building", "code", "floor", "gross_area", "inner_area"), ("use", "status")),
    "owners": (("building", "unit", "name", "share", "moved_in"), ("phone", "email", "preferred_channel")),
    "staff": (("employee_no", "name"), ("phone", "email", "department", "position", "skills", "building", "hired",
                                        "active")),
}
KINDS = tuple(COLUMNS)


class _Rollback(Exception):
    def __init__(self, report: dict) -> None:
        super().__init__("rollback")
        self.report = report


def run_import(db, crud: Crud, principal: Principal, kind: str, text: str, dry_run: bool,
               property_code: str | None = None) -> dict:
    """Import ``text`` (CSV with a header line) of ``kind``; returns the report (blocking)."""
    if kind not in COLUMNS:
        raise ValidationError(f"unknown import kind {kind!r}", {"kind": f"one of {', '.join(KINDS)}"})
    try:
        with db.transaction() as s:
            report = _import(s, crud, principal, kind, text, property_code)
            report["dry_run"] = dry_run
            report["written"] = not dry_run and not report["errors"]
            if not report["written"]:
                raise _Rollback(report)
            return report
    except _Rollback as rb:
        return rb.report


def _import(s: Session, crud: Crud, principal: Principal, kind: str, text: str, property_code: str | None) -> dict:
    report: dict[str, Any] = {"kind": kind, "rows": 0, "created": 0, "updated": 0, "unchanged": 0, "errors": []}
    errors = report["errors"]
    text = text.lstrip("\ufeff")   # Excel writes a BOM into UTF-8 CSV
    reader = csv.DictReader(io.StringIO(text))
    required, optional = COLUMNS[kind]
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required + optional]
    for c in missing:
        errors.append({"row": 1, "field": c, "message": "required column is missing"})
    for c in unknown:
        errors.append({"row": 1, "field": c, "message": f"unknown column (known: {', '.join(required + optional)})"})
    prop = _property(s, property_code, errors)
    if errors:
        return report
    handler = {"units": _unit_row, "owners": _owner_row, "staff": _staff_row}[kind]
    for row in reader:
        line = reader.line_num
        report["rows"] += 1
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        blank = [c for c in required if not row.get(c)]
        if blank:
            errors += [{"row": line, "field": c, "message": "is required"} for c in blank]
            continue
        # PostgreSQL aborts the whole transaction on a failed statement: a savepoint per row keeps
        # the other rows checkable. (SQLite's driver mishandles savepoints; there a bad row only
        # means the file is rolled back at the end, which happens anyway.)
        savepoint = s.begin_nested() if s.get_bind().dialect.name == "postgresql" else None
        try:
            with s.no_autoflush:
                outcome = handler(s, crud, principal, prop, row)
            s.flush()
            if savepoint is not None:
                savepoint.commit()
            report[outcome] += 1
        except BusinessError as exc:
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
            if exc.fields:
                errors += [{"row": line, "field": f, "message": m} for f, m in exc.fields.items()]
            else:
                errors.append({"row": line, "field": "", "message": exc.message})
    return report


def _property(s: Session, code: str | None, errors: list) -> Property | None:
    if code:
        prop = s.scalar(select(Property).where(Property.code == code))
        if prop is None:
            errors.append({"row": 0, "field": "property", "message": f"no property {code!r}"})
        return prop
    props = list(s.scalars(select(Property).limit(2)))
    if len(props) != 1:
        errors.append({"row": 0, "field": "property", "message": "give the property code (there is not exactly one)"})
        return None
    return props[0]


def _upsert(s, crud, principal, name: str, existing, body: dict) -> str:
    if existing is None:
        crud.create(s, principal, name, body)
        return "created"
    current = to_json(existing)
    converted = crud._convert(crud.spec(name), body, creating=False)
    if all(to_json_value(converted[k]) == current.get(k) for k in converted):
        return "unchanged"
    crud.update(s, principal, name, existing.id, body)
    return "updated"


def to_json_value(v: Any) -> Any:
    """Compare converted values with stored JSON snapshots."""
    from .audit import jsonable
    return jsonable(v)


def _building(s: Session, prop: Property, code: str) -> Building:
    b = s.scalar(select(Building).where(Building.code == code, Building.property_id == prop.id))
    if b is None:
        raise ValidationError("unknown building", {"building": f"no building {code!r} in {prop.code}"})
    return b


def _unit_row(s, crud, principal, prop, row) -> str:
    b = _building(s, prop, row["building"])
    existing = s.scalar(select(Unit).where(Unit.building_id == b.id, Unit.code == row["code"]))
    body = {"building_id": b.id, "code": row["code"], "floor": row["floor"], "gross_area": row["gross_area"],
            "inner_area": row["inner_area"]}
    for opt in ("use", "status"):
        if row.get(opt):
            body[opt] = row[opt]
    if existing is not None:
        body.pop("building_id")
    return _upsert(s, crud, principal, "units", existing, body)


def _owner_row(s, crud, principal, prop, row) -> str:
    b = _building(s, prop, row["building"])
    unit = s.scalar(select(Unit).where(Unit.building_id == b.id, Unit.code == row["unit"]))
    if unit is None:
        raise ValidationError("unknown unit", {"unit": f"no unit {row['unit']!r} in building {b.code}"})
    key = Person.phone == row["phone"] if row.get("phone") else Person.name == row["name"]
    person = s.scalar(select(Person).where(Person.property_id == prop.id, key))
    pbody = {"name": row["name"]}
    for opt in ("phone", "email", "preferred_channel"):
        if row.get(opt):
            pbody[opt] = row[opt]
    outcome = "unchanged"
    if person is None:
        person_id = crud.create(s, principal, "people", {"property_id": prop.id, **pbody})["id"]
        outcome = "created"
    else:
        person_id = person.id
        if _upsert(s, crud, principal, "people", person, pbody) == "updated":
            outcome = "updated"
    res = s.scalar(select(Residency).where(Residency.unit_id == unit.id, Residency.person_id == person_id,
                                           Residency.role == "owner", Residency.moved_out.is_(None)))
    rbody = {"share": row["share"], "moved_in": row["moved_in"]}
    if res is None:
        crud.create(s, principal, "residencies", {"unit_id": unit.id, "person_id": person_id, "role": "owner", **rbody})
        return "created" if outcome == "created" else "updated"
    r = _upsert(s, crud, principal, "residencies", res, rbody)
    return "updated" if r == "updated" else outcome


def _code_ref(s, crud, principal, model, name: str, where: dict, body: dict):
    found = s.scalar(select(model).where(*[getattr(model, k) == v for k, v in where.items()]))
    return found.id if found is not None else crud.create(s, principal, name, body)["id"]


def _staff_row(s, crud, principal, prop, row) -> str:
    body: dict[str, Any] = {"employee_no": row["employee_no"], "name": row["name"]}
    for opt in ("phone", "email", "skills", "hired", "active"):
        if row.get(opt):
            body[opt] = row[opt]
    if row.get("building"):
        body["building_id"] = _building(s, prop, row["building"]).id
    else:
        body["property_id"] = prop.id
    if row.get("department"):
        dep = _code_ref(s, crud, principal, Department, "departments", {"property_id": prop.id, "code": row["department"]},
                        {"property_id": prop.id, "code": row["department"], "name": row["department"]})
        body["department_id"] = dep
        if row.get("position"):
            body["position_id"] = _code_ref(s, crud, principal, Position, "positions",
                                            {"department_id": dep, "code": row["position"]},
                                            {"department_id": dep, "code": row["position"], "name": row["position"]})
    elif row.get("position"):
        raise ValidationError("position without department", {"position": "needs a department"})
    existing = s.scalar(select(Staff).where(Staff.employee_no == row["employee_no"]))
    return _upsert(s, crud, principal, "staff", existing, body)


__all__ = ["KINDS", "run_import", "NotFound"]
