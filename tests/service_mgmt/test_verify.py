"""Alarm → work order (one fault, one order) and telemetry-verified closure, with the real alarm
engine and live tag database of the demo site on an injected clock."""

from __future__ import annotations


import pytest
from sqlalchemy import select
from twisted.internet.task import Clock

from alarms.engine import AlarmEngine
from alarms.rules import compile_site
from business.models import MaintenanceRecord
from business.service_mgmt.alarmlink import AlarmLink
from business.service_mgmt.errors import VerificationBlocked
from business.service_mgmt.models import WorkOrder
from business.service_mgmt.orders import Orders
from business.service_mgmt.schema import defaults
from business.service_mgmt.telemetry import Telemetry, reliability
from collectors.sim.demo import load_demo
from tagdb.database import TagDatabase
from tagdb.values import GOOD, TagValue

from .support import ADMIN, resident

LIFT = "tower-a/elevator-1"


class Plant:
    """The demo's tag database and alarm engine on one injected clock kept in step with the business clock."""

    def __init__(self, clock, db) -> None:
        site = load_demo(0)
        self.clock = clock
        self.reactor = Clock()
        self.reactor.advance(clock.now.timestamp())
        self.tags = TagDatabase(site.tags, self.reactor)
        self.engine = AlarmEngine(compile_site(site), self.reactor)
        self.activations = []
        self.engine.add_listener(lambda tr: self.activations.append(tr) if tr.kind.value == "activate" else None)
        self.engine.start(self.tags)
        section = defaults({"alarm_rules": [dict(r) for r in site.section("service")["alarm_rules"]]})
        self.telemetry = Telemetry(section["alarm_rules"], self.tags, self.engine)
        self.orders = Orders(db, clock, section, telemetry=self.telemetry)
        self.link = AlarmLink(self.orders, self.telemetry)
        self.set(fault_code=0, in_service=True, emergency_call=False)

    def set(self, **values) -> None:
        now = self.clock.now
        self.tags.update([TagValue(f"{LIFT}/{k}", v, GOOD, now, now) for k, v in values.items()])
        self.tags.flush()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        self.reactor.advance(seconds)
        self.tags.flush()

    def deliver(self) -> list:
        """Hand the activations to the alarm link (what the event bus does in the server)."""
        out = []
        while self.activations:
            tr = self.activations.pop(0)
            rule = self.telemetry.rule_for_alarm(tr.alarm_id)
            if rule is not None:
                out.append(self.orders.call(self.link._open_tx, tr, rule)[0])
        return out

    def verify(self, order_id):
        o = self.orders.call(self.orders.get_tx, ADMIN, order_id)[0]
        live = self.telemetry.live(type("O", (), {"source": o["source"], "alarm_ids": o["alarm_ids"],
                                                  "equipment_id": o["equipment_id"]})())
        return self.orders.call(self.orders.act_tx, ADMIN, order_id, "verify", telemetry=live)[0]

    def sweep(self):
        with_ids = self.orders.call(lambda s: ([o for o in s.scalars(select(WorkOrder).where(
            WorkOrder.source == "alarm", WorkOrder.state == "completed"))], []))[0]
        verdicts = {o.id: self.telemetry.live(o) for o in with_ids}
        return self.orders.call(lambda s: (self.telemetry.sweep_tx(s, self.clock.now, verdicts), []))[0]


@pytest.fixture
def plant(clock, db, world):
    return Plant(clock, db)


def test_fault_opens_one_order_and_verification_waits_for_health(plant, world, db):
    plant.set(fault_code=1)                      # door fault; FAULT has a 10 s on-delay
    plant.advance(5)
    assert plant.deliver() == []
    plant.advance(6)
    opened = plant.deliver()
    assert [o["deduplicated"] for o in opened] == [False]
    oid = opened[0]["id"]
    o = plant.orders.call(plant.orders.get_tx, ADMIN, oid)[0]
    assert o["source"] == "alarm" and o["kind"] == "repair" and o["priority"] == "high"
    assert o["assignee_staff_id"] == world["sA"] and o["skills"] == ["elevator"]
    assert o["alarm_ids"] == [f"{LIFT}/fault_code:FAULT"] and o["fault_at"] is not None
    for action in ("accept", "start", "complete"):
        plant.orders.call(plant.orders.act_tx, ADMIN, oid, action)

    with pytest.raises(VerificationBlocked, match="not returned to normal"):
        plant.verify(oid)
    plant.sweep()

    plant.set(fault_code=0)                      # repaired: alarm clears, values healthy
    plant.advance(1)
    assert plant.sweep() == {"healthy": 1, "unhealthy": 0}
    plant.advance(300)
    with pytest.raises(VerificationBlocked, match="healthy for 300 s of the required 600 s"):
        plant.verify(oid)

    plant.set(fault_code=2)                      # it fails again before the healthy period is over
    plant.advance(1)
    assert plant.sweep() == {"healthy": 0, "unhealthy": 1}
    plant.advance(10)
    again = plant.deliver()                      # the re-activation joins the same order
    assert again == [{"id": oid, "deduplicated": True}]
    plant.set(fault_code=0)
    plant.advance(1)
    plant.sweep()
    healthy_from = plant.clock.now
    plant.advance(600)
    done = plant.verify(oid)
    assert done["state"] == "verified"
    fault_at = plant.orders.call(lambda s: (s.get(WorkOrder, oid).fault_at, []))[0]
    assert done["downtime_s"] == pytest.approx((healthy_from - fault_at).total_seconds(), abs=0.2)
    assert db.call(lambda s: [r.work_order_ref for r in s.scalars(select(MaintenanceRecord).where(
        MaintenanceRecord.asset_id == world["aA"]))])[-1] == done["number"]
    rel = db.call(lambda s: reliability(s, world["aA"], plant.clock.now))
    assert rel["failures"] == 1 and rel["mttr_hours"] == pytest.approx(done["downtime_s"] / 3600, abs=1e-3)
    assert rel["mtbf_hours"] is not None and rel["mtbf_hours"] > 0


def test_entrapment_and_emergency_call_make_one_emergency_order(plant, world):
    plant.set(fault_code=3)
    plant.advance(1)
    first = plant.deliver()
    plant.advance(20)
    plant.set(emergency_call=True)
    plant.advance(1)
    second = plant.deliver()
    assert [o["deduplicated"] for o in first + second] == [False, True]
    o = plant.orders.call(plant.orders.get_tx, ADMIN, first[0]["id"])[0]
    assert o["kind"] == "emergency" and o["priority"] == "critical"
    assert len(o["alarm_ids"]) == 2 and {a.split(":")[0] for a in o["alarm_ids"]} == {
        f"{LIFT}/fault_code", f"{LIFT}/emergency_call"}
    assert plant.orders.call(lambda s: (len(list(s.scalars(select(WorkOrder)))), []))[0] == 1
    # the latched entrapment alarm keeps the order unverifiable even with healthy values
    plant.set(fault_code=0, emergency_call=False)
    plant.advance(1)
    ok, why = plant.telemetry.live(plant.orders.call(lambda s: (s.get(WorkOrder, o["id"]), []))[0])
    assert not ok and "ENTRAPMENT" in why


def test_resident_report_is_grouped_under_the_alarm_order(plant, world):
    plant.set(fault_code=1)
    plant.advance(11)
    oid = plant.deliver()[0]["id"]
    report = plant.orders.call(plant.orders.create_tx, resident(world), {
        "kind": "repair", "title": "电梯门坏了", "unit_id": world["uA"], "equipment_id": LIFT,
        "photos": ["photo://1.jpg"], "preferred_visit": "evening"})[0]
    assert report["parent_id"] == oid and report["state"] == "new" and report["reporter_person_id"] == world["pA"]
    assert report["photos"] == ["photo://1.jpg"] and report["preferred_visit"] == "evening"
    parent = plant.orders.call(plant.orders.get_tx, ADMIN, oid)[0]
    assert parent["grouped"] == [{"id": report["id"], "number": report["number"], "state": "new"}]
    for action in ("accept", "start", "complete"):
        plant.orders.call(plant.orders.act_tx, ADMIN, oid, action)
    child = plant.orders.call(plant.orders.get_tx, resident(world), report["id"])[0]
    assert child["state"] == "completed" and child["assignee_staff_id"] == world["sA"]
    assert child["timeline"][-1]["action"] == "resolve"
