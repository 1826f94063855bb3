"""The business data contract, run on SQLite and on the real PostgreSQL (migrations included)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from business.database import Database, head_revision
from business.errors import Conflict, NotFound, PermissionDenied, ValidationError
from business.models import AuditEntry, Base, Lease, Unit
from business.permissions import principal_for

from .conftest import ADMIN


def test_migrations_upgrade_from_empty_and_downgrade_latest(db_url):
    db = Database(db_url)
    assert db.current_revision() is None
    db.migrate()
    assert db.current_revision() == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    db.downgrade("0001_core")            # undo the latest business revision (audit triggers)
    assert db.current_revision() == "0001_core"
    db.migrate()                         # and it re-applies cleanly
    assert db.current_revision() == head_revision()
    db.downgrade("base")
    assert not set(Base.metadata.tables) & set(inspect(db.engine).get_table_names())
    db.stop()


def test_decimal_money_and_area_are_exact(db, crud, world):
    def read(s):
        unit = s.get(Unit, world["uB"])
        lease = s.get(Lease, world["lA"])
        return unit.gross_area, unit.inner_area, lease.monthly_rent
    gross, inner, rent = db.call(read)
    assert (gross, inner, rent) == (Decimal("118.25"), Decimal("92.10"), Decimal("4500.00"))
    assert all(isinstance(x, Decimal) for x in (gross, inner, rent))
    got = db.call(lambda s: crud.get(s, ADMIN, "units", world["uB"]))
    assert got["gross_area"] == "118.25" and got["inner_area"] == "92.10"


def test_validation_names_every_bad_field_and_writes_nothing(db, crud, world):
    before = db.call(lambda s: crud.list(s, ADMIN, "units", {})["total"])
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: crud.create(s, ADMIN, "units", {
            "building_id": world["bA"], "code": "", "floor": "twelve", "gross_area": "-5",
            "inner_area": "1.234", "use": "castle", "colour": "red"}))
    assert set(exc.value.fields) == {"code", "floor", "gross_area", "inner_area", "use", "colour"}
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: crud.create(s, ADMIN, "units", {"building_id": world["bA"], "code": "9901", "floor": 99,
                                                          "gross_area": "50", "inner_area": "60"}))
    assert set(exc.value.fields) == {"inner_area", "floor"}
    assert db.call(lambda s: crud.list(s, ADMIN, "units", {})["total"]) == before


def test_unique_and_referenced_records(db, crud, world):
    with pytest.raises(Conflict) as exc:
        db.call(lambda s: crud.create(s, ADMIN, "units", {"building_id": world["bA"], "code": "1201", "floor": 12,
                                                          "gross_area": "80", "inner_area": "60"}))
    assert exc.value.fields == {"code": "already exists"}
    with pytest.raises(Conflict):
        db.call(lambda s: crud.delete(s, ADMIN, "buildings", world["bA"]))
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: crud.create(s, ADMIN, "units", {"building_id": 999999, "code": "X", "floor": 1,
                                                          "gross_area": "80", "inner_area": "60"}))
    assert "building_id" in exc.value.fields
    assert db.call(lambda s: crud.get(s, ADMIN, "buildings", world["bA"]))["code"] == "tower-a"


def test_owner_shares_cannot_exceed_one(db, crud, world):
    def add(share):
        return db.call(lambda s: crud.create(s, ADMIN, "residencies", {
            "unit_id": world["uA"], "person_id": world["pB"], "role": "owner", "share": share,
            "moved_in": "2022-01-01"}))
    with pytest.raises(ValidationError) as exc:
        add("0.5")
    assert "share" in exc.value.fields
    db.call(lambda s: crud.update(s, ADMIN, "residencies", world["rA"], {"share": "0.5"}))
    assert add("0.5")["share"] == "0.5000"


def test_scoped_lists_and_out_of_scope_reads(db, crud, world):
    manager_a = principal_for("mgr-a", [("manager", "building:tower-a")])
    owner_a = principal_for("res-a", [("owner", f"unit:{world['uA']}")])
    units = db.call(lambda s: crud.list(s, manager_a, "units", {}))
    assert {u["id"] for u in units["items"]} == {world["uA"], world["uA2"]}
    assert {u["id"] for u in db.call(lambda s: crud.list(s, owner_a, "units", {}))["items"]} == {world["uA"]}
    people = db.call(lambda s: crud.list(s, owner_a, "people", {}))["items"]
    assert [p["id"] for p in people] == [world["pA"]]
    with pytest.raises(NotFound):
        db.call(lambda s: crud.get(s, owner_a, "units", world["uB"]))
    with pytest.raises(NotFound):
        db.call(lambda s: crud.get(s, owner_a, "leases", world["lB"]))
    with pytest.raises(PermissionDenied):
        db.call(lambda s: crud.create(s, manager_a, "units", {"building_id": world["bB"], "code": "0101",
                                                              "floor": 1, "gross_area": "1", "inner_area": "1"}))
    with pytest.raises(PermissionDenied):   # moving a unit out of one's own building
        db.call(lambda s: crud.update(s, manager_a, "units", world["uA2"], {"building_id": world["bB"]}))


def test_filters_search_and_pagination(db, crud, world):
    page = db.call(lambda s: crud.list(s, ADMIN, "units", {"per_page": "2", "page": "2"}))
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2
    assert db.call(lambda s: crud.list(s, ADMIN, "units", {"building_id": str(world["bB"])}))["total"] == 1
    assert db.call(lambda s: crud.list(s, ADMIN, "people", {"q": "张"}))["total"] == 1
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: crud.list(s, ADMIN, "units", {"colour": "red", "per_page": "9999"}))
    assert set(exc.value.fields) == {"colour", "per_page"}


def test_audit_log_records_before_after_and_is_append_only(db, crud, world):
    db.call(lambda s: crud.update(s, ADMIN, "units", world["uA"], {"status": "occupied"}))
    entries = db.call(lambda s: [(e.actor, e.action, e.before, e.after) for e in s.scalars(
        select(AuditEntry).where(AuditEntry.entity == "units", AuditEntry.entity_id == str(world["uA"]))
        .order_by(AuditEntry.id))])
    assert [e[1] for e in entries] == ["create", "update"]
    actor, _, before, after = entries[-1]
    assert actor == "root" and before["status"] == "vacant" and after["status"] == "occupied"
    for stmt in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            db.call(lambda s: s.execute(text(stmt)))
    assert db.call(lambda s: s.scalar(text("SELECT count(*) FROM audit_log WHERE actor = 'mallory'"))) == 0
