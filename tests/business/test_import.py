"""CSV import of units, owners and staff: dry run, row-numbered errors, atomic, idempotent."""

from __future__ import annotations

from business.importer import run_import
from business.models import AuditEntry, Residency, Staff, Unit
from business.permissions import principal_for
from sqlalchemy import func, select

from .conftest import ADMIN

UNITS = """building,code,floor,use,gross_area,inner_area
tower-a,0301,3,residential,89.50,71.20
tower-a,0302,3,residential,96.00,75.00
tower-b,0301,3,residential,118.25,92.10
"""
OWNERS = """building,unit,name,phone,email,share,moved_in,preferred_channel
tower-a,0301,陈静,13900000001,chen@example.com,0.5,2021-01-01,wechat
tower-a,0301,陈强,13900000002,,0.5,2021-01-01,sms
tower-b,0301,周敏,13900000003,,1,2022-06-01,email
"""
STAFF = """employee_no,name,phone,department,position,skills,building,hired
E1001,孙师傅,13700000001,engineering,elevator-tech,elevator;electrical,tower-a,2020-03-01
E1002,吴师傅,13700000002,engineering,hvac-tech,hvac,,2019-07-15
E1003,郑阿姨,13700000003,cleaning,cleaner,cleaning,tower-b,
"""


def counts(db):
    return db.call(lambda s: (s.scalar(select(func.count(Unit.id))), s.scalar(select(func.count(Residency.id))),
                              s.scalar(select(func.count(Staff.id))), s.scalar(select(func.count(AuditEntry.id)))))


def test_dry_run_then_import_then_idempotent_reimport(db, crud, world):
    before = counts(db)
    dry = run_import(db, crud, ADMIN, "units", UNITS, dry_run=True, property_code="demo")
    assert dry["errors"] == [] and dry["created"] == 3 and not dry["written"]
    assert counts(db) == before
    real = run_import(db, crud, ADMIN, "units", UNITS, dry_run=False, property_code="demo")
    assert real["written"] and real["created"] == 3
    again = run_import(db, crud, ADMIN, "units", UNITS, dry_run=False, property_code="demo")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    after_units = counts(db)
    assert after_units[0] == before[0] + 3
    changed = UNITS.replace("96.00,75.00", "96.50,75.00")
    upd = run_import(db, crud, ADMIN, "units", changed, dry_run=False, property_code="demo")
    assert (upd["updated"], upd["unchanged"]) == (1, 2)

    owners = run_import(db, crud, ADMIN, "owners", OWNERS, dry_run=False, property_code="demo")
    assert owners["errors"] == [] and owners["created"] == 3
    mid = counts(db)
    owners2 = run_import(db, crud, ADMIN, "owners", OWNERS, dry_run=False, property_code="demo")
    assert owners2["unchanged"] == 3 and counts(db) == mid     # no new rows, not even audit entries

    staff = run_import(db, crud, ADMIN, "staff", STAFF, dry_run=False, property_code="demo")
    assert staff["errors"] == [] and staff["created"] == 3
    assert run_import(db, crud, ADMIN, "staff", STAFF, dry_run=False, property_code="demo")["unchanged"] == 3


def test_bad_rows_are_reported_by_line_and_nothing_is_written(db, crud, world):
    bad = UNITS + "tower-c,0101,1,residential,50,40\ntower-a,0401,4,castle,abc,40\ntower-a,0402,,residential,50,60\n"
    before = counts(db)
    report = run_import(db, crud, ADMIN, "units", bad, dry_run=False, property_code="demo")
    assert not report["written"]
    errs = {(e["row"], e["field"]) for e in report["errors"]}
    assert errs == {(5, "building"), (6, "use"), (6, "gross_area"), (7, "floor")}
    assert counts(db) == before                            # the three good rows were not written either
    over = OWNERS.replace("陈强,13900000002,,0.5", "陈强,13900000002,,0.6")
    report = run_import(db, crud, ADMIN, "owners", over, dry_run=False, property_code="demo")
    assert not report["written"]
    report = run_import(db, crud, ADMIN, "units", "building,code\ntower-a,1\n", dry_run=True, property_code="demo")
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(1, "floor"), (1, "gross_area"), (1, "inner_area")}
    report = run_import(db, crud, ADMIN, "staff", STAFF.replace("hvac,", "flying,"), dry_run=False,
                        property_code="demo")
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "skills")]
    assert counts(db) == before


def test_import_respects_scope(db, crud, world):
    manager_a = principal_for("mgr-a", [("manager", "building:tower-a")])
    report = run_import(db, crud, manager_a, "units", UNITS, dry_run=True, property_code="demo")
    assert [(e["row"], e["message"].startswith("units.write")) for e in report["errors"]] == [(4, True)]
