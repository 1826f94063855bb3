"""Community activities: capacity and waiting list, promotion on cancellation, concurrent
registrations never overbook, check-in, audience by building, notices on changes."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from business.models import Person, Residency
from business.service_mgmt import activities as acts
from business.service_mgmt.errors import ActivityError, NotFound

T0 = datetime(2026, 11, 10, 6, 0, tzinfo=timezone.utc)
CH = {"sms": "sms", "email": "email"}


def run(orders, fn, *args):
    """One retried transaction returning fn's result."""
    return orders.call(lambda s: (fn(s, *args), []))[0]


def publish(orders, clock, **extra):
    body = {"title": "中秋游园会", "place": "Clubhouse", "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=2)).isoformat(), "capacity": 2, **extra}
    return run(orders, lambda s: acts.activity_json(s, acts.create(s, clock.now, "mgr", body)))


def reg(orders, clock, activity_id, person_id):
    return run(orders, lambda s: acts.register(s, clock.now, acts.load(s, activity_id, lock=True), person_id))


def residents(db, world, n):
    def work(s):
        ids = []
        for i in range(n):
            p = Person(property_id=world["prop"], name=f"居民{i}", phone=f"1390000{i:04d}", preferred_channel="sms")
            s.add(p)
            s.flush()
            s.add(Residency(unit_id=world["uA"], person_id=p.id, role="member", moved_in=date(2024, 1, 1)))
            ids.append(p.id)
        return ids
    return db.call(work)


def test_capacity_waiting_list_and_promotion(orders, world, clock):
    a = publish(orders, clock, property_id=world["prop"])
    first, second, third = (reg(orders, clock, a["id"], world[k]) for k in ("pA", "pA2", "pB"))
    assert [first["status"], second["status"], third["status"]] == ["confirmed", "confirmed", "waiting"]
    assert third["position"] == 1
    with pytest.raises(ActivityError):
        reg(orders, clock, a["id"], world["pA"])            # already registered
    out, notices = orders.call(lambda s: acts.unregister(s, clock.now, acts.load(s, a["id"], lock=True),
                                                         world["pA"], CH))
    assert out["status"] == "cancelled"
    regs = run(orders, lambda s: {r.person_id: r.status for r in s.scalars(
        acts.select(acts.ActivityRegistration).where(acts.ActivityRegistration.activity_id == a["id"]))})
    assert regs == {world["pA"]: "cancelled", world["pA2"]: "confirmed", world["pB"]: "confirmed"}
    assert [(n["channel"], n["recipient"]) for n in notices] == [("sms", "13800000002")]   # pB promoted
    # check-in: only confirmed registrants
    assert run(orders, lambda s: acts.check_in(s, clock.now, acts.load(s, a["id"]), world["pB"]))["checked_in_at"]
    with pytest.raises(ActivityError):
        run(orders, lambda s: acts.check_in(s, clock.now, acts.load(s, a["id"]), world["pA"]))
    # a change of time reaches every registrant; cancelling the activity too
    later = (T0 + timedelta(days=1)).isoformat()
    _, notices = orders.call(lambda s: acts.update(s, clock.now, acts.load(s, a["id"], lock=True),
                                                   {"starts_at": later, "ends_at": later.replace("06:00", "09:00")},
                                                   CH))
    assert sorted(n["recipient"] for n in notices) == ["13800000002", "13800000003"]
    notices = orders.call(lambda s: (acts.cancel(s, clock.now, acts.load(s, a["id"], lock=True), CH), []))[0]
    assert len(notices) == 2
    with pytest.raises(ActivityError):
        reg(orders, clock, a["id"], world["pA"])


def test_building_audience(orders, world, clock):
    a = publish(orders, clock, building_id=world["bA"])
    assert reg(orders, clock, a["id"], world["pA"])["status"] == "confirmed"
    with pytest.raises(NotFound):
        reg(orders, clock, a["id"], world["pB"])             # lives in tower B


def test_concurrent_registrations_never_overbook(orders, world, clock, db):
    a = publish(orders, clock, property_id=world["prop"], capacity=3)
    people = residents(db, world, 8)
    results, lock = [], threading.Lock()

    def worker(pid):
        r = reg(orders, clock, a["id"], pid)
        with lock:
            results.append(r["status"])
    threads = [threading.Thread(target=worker, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["confirmed"] * 3 + ["waiting"] * 5
    counts = run(orders, lambda s: acts.activity_json(s, acts.load(s, a["id"])))
    assert counts["confirmed"] == 3 and counts["waiting"] == 5 and counts["places_left"] == 0


def test_bad_input_is_named(orders, world, clock):
    with pytest.raises(acts.ValidationError) as exc:
        run(orders, lambda s: acts.create(s, clock.now, "mgr", {"title": "", "starts_at": "tomorrow",
                                                                "capacity": 0, "colour": "red"}))
    assert set(exc.value.fields) >= {"title", "starts_at", "capacity", "colour", "place", "ends_at"}
