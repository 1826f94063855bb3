"""The demo seed against the real demo site: every apartment, shop and piece of equipment, and the demo users."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from business.crud import Crud
from business.database import Database
from business.identity import LockoutPolicy, make_hasher, principal_of, verify_password
from business.models import Asset, Building, Lease, Property, Residency, Staff, Unit
from business.seed import seed_assets, seed_demo, seed_users, sync_site
from business.specs import SPECS

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from tagdb.site.loader import load_site
    site = load_site(DEMO)
    section = site.section("business")
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('seed') / 'b.db'}")
    db.migrate()
    hasher = make_hasher(fast=True)

    def work(s):
        prop = sync_site(s, site, section["property"], NOW)
        counts = seed_demo(s, site, prop, section["seed"], NOW)
        seed_assets(s, site, prop, NOW)
        seed_users(s, hasher, prop, section["seed"]["users"], NOW)
        return counts
    counts = db.call(work)
    yield site, db, hasher, counts
    db.stop()


def test_every_apartment_shop_and_equipment_is_registered(seeded):
    site, db, _, counts = seeded
    section = site.section("business")["seed"]
    expected = {}
    for b in site.buildings:
        if b.use == "residential":
            expected[b.id] = (b.floors - 1) * section["apartments_per_floor"]
        elif b.use == "commercial":
            expected[b.id] = b.floors * section["shops_per_floor"]
    got = db.call(lambda s: dict(s.execute(select(Building.code, func.count(Unit.id))
                                           .join(Unit, Unit.building_id == Building.id).group_by(Building.code)).all()))
    assert got == expected
    eq_ids = {e.id for e in site.equipment}
    assets = db.call(lambda s: set(s.scalars(select(Asset.equipment_id))))
    assert assets == eq_ids and len(eq_ids) > 0
    assert db.call(lambda s: s.scalar(select(func.count(Lease.id)))) > 0
    skills = db.call(lambda s: {k for st in s.scalars(select(Staff)) for k in st.skills})
    assert {"elevator", "hvac", "electrical", "plumbing", "cleaning", "security"} <= skills
    shares = db.call(lambda s: s.execute(select(Residency.unit_id, func.sum(Residency.share))
                                         .where(Residency.role == "owner").group_by(Residency.unit_id)).all())
    assert shares and all(total == 1 for _, total in shares)
    # idempotent: a second start adds nothing
    assert db.call(lambda s: seed_assets(s, site, s.scalar(select(Property)), NOW)) == 0
    assert db.call(lambda s: seed_demo(s, site, s.scalar(select(Property)), {}, NOW)) == {}


def test_demo_users_log_in_with_their_scopes(seeded):
    site, db, hasher, _ = seeded
    crud = Crud(SPECS, lambda: NOW)
    policy = LockoutPolicy()
    for cfg in site.section("business")["seed"]["users"]:
        p = db.call(lambda s: principal_of(s, verify_password(s, hasher, policy, cfg["username"], cfg["password"], NOW)))
        assert p.user == cfg["username"]
    resident = db.call(lambda s: principal_of(s, verify_password(s, hasher, policy, "resident", "resident-demo-2026",
                                                                 NOW)))
    units = db.call(lambda s: crud.list(s, resident, "units", {}))
    assert [u["code"] for u in units["items"]] == ["1201"]
    manager_a = db.call(lambda s: principal_of(s, verify_password(s, hasher, policy, "manager-a",
                                                                  "manager-a-demo-2026", NOW)))
    listed = db.call(lambda s: crud.list(s, manager_a, "assets", {"per_page": "500"}))["items"]
    tower_a = db.call(lambda s: s.scalar(select(Building.id).where(Building.code == "tower-a")))
    assert listed and all(a["building_id"] == tower_a for a in listed)
    auditor = db.call(lambda s: principal_of(s, verify_password(s, hasher, policy, "auditor", "auditor-demo-2026",
                                                                NOW)))
    assert auditor.roles == {"viewer"} and auditor.can("hmi.view", "building:tower-a")
    assert not [p for p in auditor.permissions if not (p.endswith(".read") or p == "hmi.view")]
    assert len(db.call(lambda s: crud.list(s, auditor, "assets", {"per_page": "500"}))["items"]) >= len(listed)


def test_site_changes_to_buildings_are_mirrored_and_audited(tmp_path):
    from dataclasses import replace

    from business.models import AuditEntry
    from tagdb.site.loader import load_site
    site = load_site(DEMO)
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    db.migrate()
    db.call(lambda s: sync_site(s, site, {"code": "hv"}, NOW))
    taller = replace(site, buildings=tuple(replace(b, floors=b.floors + 1) if b.id == "tower-a" else b
                                           for b in site.buildings))
    db.call(lambda s: sync_site(s, taller, {"code": "hv"}, NOW))
    db.call(lambda s: sync_site(s, taller, {"code": "hv"}, NOW))          # no change, no entry
    entries = db.call(lambda s: [(e.before, e.after) for e in s.scalars(
        select(AuditEntry).where(AuditEntry.entity == "buildings", AuditEntry.action == "update"))])
    a = next(b for b in site.buildings if b.id == "tower-a")
    assert entries == [({"code": "tower-a", "name": a.name, "use": a.use, "floors": a.floors,
                         "basement_floors": a.basement_floors},
                        {"code": "tower-a", "name": a.name, "use": a.use, "floors": a.floors + 1,
                         "basement_floors": a.basement_floors})]
    db.stop()


def test_technicians_of_the_running_shift_are_on_duty(seeded):
    # alarm work orders in the demo are assigned only to staff clocked in right now
    from business.attendance import on_duty
    _, db, _, _ = seeded
    elevator = db.call(lambda s: on_duty(s, NOW, "elevator"))
    hvac = db.call(lambda s: on_duty(s, NOW, "hvac"))
    assert elevator and hvac
    night = NOW.replace(hour=16)      # 00:00 in Shanghai: the day shift is not running
    assert db.call(lambda s: on_duty(s, night, "elevator")) == []
