"""Billing runs from fee items and meter readings: amounts line by line, held lines, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from business.finance import billing, ledger, statements
from business.finance.meters import read_boundaries
from business.finance.models import Bill, BillLine, Entry
from tagdb.values import BAD_COMM_FAILURE

from .conftest import NOW, FakeHistory, drive

START = datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)   # 2026-11-01 00:00 Asia/Shanghai
END = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
ROLL = Decimal("42949672.96")


class Meter:
    def __init__(self, eid):
        self.id, self.equipment_class = eid, "meter"


EQUIPMENT = [Meter("tower-a/meter-201"), Meter("tower-a/meter-202"), Meter("tower-a/meter-301"),
             Meter("tower-a/meter-302")]


def history(**override) -> FakeHistory:
    h = FakeHistory()
    values = {"tower-a/meter-201/energy_kwh": (1000, 1250.5), "tower-a/meter-202/energy_kwh": (500, 900),
              "tower-a/meter-301/energy_kwh": (10, 10), "tower-a/meter-302/energy_kwh": (2000, 2100),
              "tower-a/meter-201/water_m3": (10, 22.5), "tower-a/meter-202/water_m3": (5, 9),
              "tower-a/meter-301/water_m3": (1, 1), "tower-a/meter-302/water_m3": (3, 4),
              "tower-a/meter-master/energy_kwh": (10000, 11000)}
    values.update(override)
    for path, pair in values.items():
        if pair is None:
            continue
        for ts, v in zip((START, END), pair):
            if isinstance(v, tuple):
                h.add(path, ts - timedelta(minutes=5), v[0], v[1])
            elif v is not None:
                h.add(path, ts - timedelta(minutes=5), v)
    return h


def run(db, estate, h, post=True, **kw):
    inp = db.call(billing.gather, estate["property_id"], "2026-11", "Asia/Shanghai", EQUIPMENT)
    readings = drive(read_boundaries(h, billing.meter_paths(inp), inp.start, inp.end))
    rollover = {p: ROLL for p in readings if p.endswith("energy_kwh")}
    plans, summary = billing.compute(inp, readings, rollover=rollover, **kw)
    if post:
        db.call(billing.post_run, inp, plans, summary, NOW)
    return plans, summary


def lines_of(plans, subject):
    return {ln.fee_code + (":" + ln.kind if ln.kind != "charge" else ""): ln
            for p in plans if p.subject == subject for ln in p.lines}


def test_period_bounds_are_local_months():
    start, end, issued = billing.period_bounds("2026-11", "Asia/Shanghai")
    assert (start, end) == (START, END)
    assert issued.isoformat() == "2026-12-01"


def test_every_line_is_explained(db, estate):
    plans, summary = run(db, estate, history(), post=False)
    u1, u2, u3, u4 = (f"unit:{u}" for u in estate["units"])
    a = lines_of(plans, u1)
    # 89.50 m² × 2.85 = 255.075 → 255.08 (half-up)
    assert a["mgmt"].amount == 25508
    # 250.5 kWh over tiers: 200 × 0.55 + 50.5 × 0.60 = 110 + 30.30
    assert a["elec"].quantity == "250.500" and a["elec"].amount == 14030
    assert a["elec"].detail["start"]["value"] == "1000.000" and a["elec"].detail["end"]["ts"].startswith("2026-11-30")
    assert a["elec"].detail["start"]["quality"] == "Good"
    assert a["water"].amount == 5250            # 12.5 m³ × 4.20
    assert a["rubbish"].amount == 1500
    # shared: master 1000 − subs (250.5 + 400) = 349.5 kWh × 0.60 = 209.70, split by area over 4 units
    shared = [lines_of(plans, s)["common-elec"].amount for s in (u1, u2, u3, u4)]
    assert sum(shared) == 20970
    assert summary["shared"][0]["common"] == "349.500" and summary["shared"][0]["loss_pct"] == "34.95"
    # the vacant unit gets an explicit 50 % discount line, not a silently smaller charge
    c = lines_of(plans, u3)
    assert c["mgmt"].amount == 27431 and c["mgmt:discount"].amount == -13716
    # the rented space is billed on its own bill, to the unit it belongs to
    space = [p for p in plans if p.subject == f"space:{estate['spaces'][0]}"]
    assert len(space) == 1 and space[0].unit_id == estate["units"][0] and space[0].total == 30000
    assert not any(p.subject == f"space:{estate['spaces'][1]}" for p in plans)


@pytest.mark.parametrize("override,reason", [
    ({"tower-a/meter-202/energy_kwh": (500, (900, BAD_COMM_FAILURE))}, "quality"),
    ({"tower-a/meter-202/energy_kwh": (42949600.00, 30.25)}, "rollover"),
    ({"tower-a/meter-202/energy_kwh": (500, 400)}, "decreased"),
    ({"tower-a/meter-202/energy_kwh": (500, None)}, "stale"),      # end missing: the start reading is a month old
    ({"tower-a/meter-202/energy_kwh": None}, "missing"),
])
def test_bad_readings_hold_the_line(db, estate, override, reason):
    plans, summary = run(db, estate, history(**override))
    b = lines_of(plans, f"unit:{estate['units'][1]}")
    assert b["elec"].held and b["elec"].amount == 0 and reason in b["elec"].hold_reason
    # the other lines of the same bill are billed; the shared item depends on this sub-meter, so it is held too
    assert not b["mgmt"].held and b["mgmt"].amount > 0
    assert all(lines_of(plans, f"unit:{u}")["common-elec"].held for u in estate["units"])
    assert {h["fee"] for h in summary["held"]} >= {"elec", "common-elec"}

    def check(s):
        held = s.scalars(select(BillLine).where(BillLine.held.is_(True), BillLine.fee_code == "elec")).all()
        assert len(held) == 1 and held[0].entry_id is None
        # nothing held reached the ledger: receivables = billed lines only
        assert ledger.balance(s, "1122") == sum(p.total for p in plans)
    db.call(check)


def test_a_second_run_creates_nothing(db, estate):
    h = history()
    plans, _ = run(db, estate, h)
    counts = db.call(lambda s: (s.scalar(select(func.count()).select_from(Bill)),
                                s.scalar(select(func.count()).select_from(Entry))))
    plans2, summary2 = run(db, estate, h)
    assert plans2 == [] and summary2["skipped_already_billed"] == len(plans)
    assert db.call(lambda s: (s.scalar(select(func.count()).select_from(Bill)),
                              s.scalar(select(func.count()).select_from(Entry)))) == counts


def test_preview_writes_nothing_and_equals_the_posted_run(db, estate):
    h = history()
    preview, psum = run(db, estate, h, post=False)
    assert db.call(lambda s: s.scalar(select(func.count()).select_from(Bill))) == 0
    posted, ssum = run(db, estate, h)
    assert psum["total"] == ssum["total"]
    tb = db.call(lambda s: statements.trial_balance(s, NOW.date().replace(day=1), NOW.date()))
    assert tb["balanced"]


def test_adjustments_are_explicit_lines(db, estate):
    u = estate["units"][0]
    plans, _ = run(db, estate, history(), adjustments=[{"unit_id": u, "amount": "-20.00",
                                                         "description": "goodwill credit, lift outage"}])
    adj = lines_of(plans, f"unit:{u}")["adjustment:adjustment"]
    assert adj.amount == -2000 and "lift outage" in adj.description


def test_a_held_line_is_billed_after_review(db, estate):
    from business.finance.bills import open_lines, release_held
    from business.finance.errors import Conflict
    run(db, estate, history(**{"tower-a/meter-202/energy_kwh": (500, 400)}))
    held = db.call(lambda s: s.scalars(select(BillLine).where(BillLine.held.is_(True), BillLine.fee_code == "elec"))
                   .one().id)
    before = db.call(lambda s: ledger.balance(s, "1122"))
    line = db.call(lambda s: release_held(s, held, "300", "meter replaced on 11-15; old 500→620, new 0→180", NOW,
                                          "finance"))
    # 300 kWh: 200 × 0.55 + 100 × 0.60 = 170.00, as a new line with its own entry
    assert line.amount == 17000 and line.detail["held_line"] == held and line.detail["start"]["value"] == "500.000"
    assert db.call(lambda s: ledger.balance(s, "1122")) == before + 17000
    assert db.call(lambda s: ledger.balance(s, "1122")) == db.call(lambda s: sum(o for _l, _b, o in open_lines(s)))
    with pytest.raises(Conflict):
        db.call(lambda s: release_held(s, held, "300", "again", NOW, "finance"))


def test_held_shared_lines_are_billed_after_review_as_the_run_would(db, estate):
    from business.audit import AuditEntry
    from business.finance.bills import open_lines, release_held
    from business.finance.errors import Conflict
    from business.finance.setup import sync_fee_items
    from .conftest import FEE_ITEMS
    # a vacancy discount on the shared item too: the release gives it as the run does
    items = [dict(i, params={**i["params"], "vacancy_discount": "0.5"}) if i["code"] == "common-elec" else i
             for i in FEE_ITEMS]
    db.call(lambda s: sync_fee_items(s, estate["property_id"], items))
    # what a run with good readings bills: common 349.5 kWh × 0.60 = 209.70 split by area
    good, _ = run(db, estate, history(), post=False)
    expected = {u: {k: ln.amount for k, ln in lines_of(good, f"unit:{u}").items() if k.startswith("common-elec")}
                for u in estate["units"]}
    run(db, estate, history(**{"tower-a/meter-master/energy_kwh": (10000, (11000, BAD_COMM_FAILURE))}))
    held = db.call(lambda s: {b.unit_id: ln.id for ln, b in s.execute(
        select(BillLine, Bill).join(Bill, Bill.id == BillLine.bill_id)
        .where(BillLine.held.is_(True), BillLine.fee_code == "common-elec"))})
    assert set(held) == set(estate["units"])
    before = db.call(lambda s: ledger.balance(s, "1122"))
    first, *rest = estate["units"]
    line = db.call(lambda s: release_held(s, held[first], "349.5", "master read by hand on 12-01", NOW, "reviewer"))
    assert line.detail["held_line"] == held[first] and line.detail["master"]["end"]["quality"] != "Good"
    assert line.detail["confirmed_common"] == "349.5" and line.detail["reviewed_by"] == "reviewer"
    # the other lines must be released with the same common consumption, or the shares would not add up
    with pytest.raises(Conflict):
        db.call(lambda s: release_held(s, held[rest[0]], "350", "another figure", NOW, "reviewer"))
    for u in rest:
        db.call(lambda s: release_held(s, held[u], "349.500", "master read by hand on 12-01", NOW, "reviewer"))
    with pytest.raises(Conflict):
        db.call(lambda s: release_held(s, held[first], "349.5", "again", NOW, "reviewer"))

    def released(s):
        out = {}
        for ln, b in s.execute(select(BillLine, Bill).join(Bill, Bill.id == BillLine.bill_id).where(
                BillLine.held.is_(False), BillLine.fee_code == "common-elec")):
            out.setdefault(b.unit_id, {})["common-elec" + (":" + ln.kind if ln.kind != "charge" else "")] = ln.amount
        return out
    assert db.call(released) == expected
    assert sum(v["common-elec"] for v in expected.values()) == 20970
    assert expected[estate["units"][2]]["common-elec:discount"] < 0     # the vacant unit
    net = sum(sum(v.values()) for v in expected.values())
    assert db.call(lambda s: ledger.balance(s, "1122")) == before + net
    assert db.call(lambda s: ledger.balance(s, "1122")) == db.call(lambda s: sum(o for _l, _b, o in open_lines(s)))
    tb = db.call(lambda s: statements.trial_balance(s, NOW.date().replace(day=1), NOW.date()))
    assert tb["balanced"]
    audit = db.call(lambda s: [(a.actor, a.after["note"]) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.entity == "fin_bill_lines", AuditEntry.action == "release"))])
    assert audit == [("reviewer", "master read by hand on 12-01")] * 4


def test_prepaid_items_bill_the_next_period_in_advance(db, estate):
    from business.finance.models import FeeItem
    from business.finance.setup import sync_fee_items
    from .conftest import FEE_ITEMS
    items = [dict(i, prepaid=True, cycle_months=3) if i["code"] == "mgmt" else i for i in FEE_ITEMS]
    db.call(lambda s: sync_fee_items(s, estate["property_id"], items))
    # quarters start in Jan/Apr/Jul/Oct: a quarterly prepaid item is billed in the Dec, Mar, Jun and Sep
    # runs, for the quarter ahead (89.50 m² × 2.85 × 3 = 765.225 → 765.23), not in November's
    plans, _ = run(db, estate, history(), post=False)
    assert "mgmt" not in lines_of(plans, f"unit:{estate['units'][0]}")
    inp = db.call(billing.gather, estate["property_id"], "2026-12", "Asia/Shanghai", EQUIPMENT)
    plans, _ = billing.compute(inp, {})
    mgmt = lines_of(plans, f"unit:{estate['units'][0]}")["mgmt"]
    assert mgmt.amount == 76523 and "for 2027-01, in advance" in mgmt.description
    assert mgmt.detail["service_period"] == "2027-01"
