"""Scheduled staff reviews (``service.reviews``): the service-management service computes the
previous month's reviews at the boundary on an injected ``Clock``, exactly once; a restart
after missed boundaries catches them up; opting out does nothing; failures are logged once
and the schedule keeps going. Database work runs on the real pool, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet.task import Clock

from business.database import Database
from business.models import AuditEntry, Property, Review
from business.service import reactor_clock
from business.service_mgmt import reviews as rv
from business.service_mgmt.schema import defaults
from business.service_mgmt.service import ServiceMgmt
from tagdb.site.loader import check_site

from .support import ADMIN, resident

SH = ZoneInfo("Asia/Shanghai")
LOGGER = "business.service_mgmt.reviews"


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def local(*a) -> datetime:
    return datetime(*a, tzinfo=SH)


@pytest.fixture
def pooled(db):
    """The migrated database with the real reactor behind its worker pool (the schedule uses a Clock)."""
    from twisted.internet import reactor

    db.reactor = reactor
    return db


def service(db, tclock, **reviews):
    # a tick nobody reaches: only the review schedule runs on this clock
    section = defaults({"tick": "10000d", "reviews": reviews} if reviews else {"tick": "10000d"})
    ctx = SimpleNamespace(tags=None, provides={}, reactor=tclock, events=None, site=None)
    return ServiceMgmt(ctx, SimpleNamespace(db=db, clock=reactor_clock(tclock)), section)


def clock_at(when: datetime) -> Clock:
    c = Clock()
    c.advance(when.timestamp())
    return c


async def advance_to(tclock: Clock, svc: ServiceMgmt, when: datetime) -> None:
    """Move the clock to ``when`` through every wake-up on the way, each pass finished before the next."""
    target = when.timestamp()
    while tclock.seconds() < target:
        due = svc.reviews.next_call if svc.reviews is not None else None
        tclock.advance(target - tclock.seconds() if due is None or due > target else max(due - tclock.seconds(), 0))
        if svc.reviews is not None:
            await svc.reviews.idle()


def ran(svc, prop="demo") -> list[dict]:
    """The periods the schedule computed for one property (the world has a second, staff-less one)."""
    return [r for r in svc.reviews.runs if r["property"] == prop]


def reviews_of(db, period: str) -> dict[int, Review]:
    return {r.staff_id: r for r in db.call(lambda s: list(s.scalars(select(Review).where(Review.period == period))))}


def markers(db) -> list[str]:
    return db.call(lambda s: list(s.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == rv.MARKER)
                                            .order_by(AuditEntry.id))))


def november_work(db, orders, world, clock):
    """sA: one repair done within its SLA and rated 4; both clock out of the 2 Nov day shift (sA came late)."""
    o = orders.call(orders.create_tx, resident(world), {"kind": "repair", "title": "电梯异响", "unit_id": world["uA"],
                                                         "asset_id": world["aA"]})[0]
    assert o["assignee_staff_id"] == world["sA"]
    for action in ("accept", "start", "complete"):
        clock.advance(minutes=20)
        orders.call(orders.act_tx, ADMIN, o["id"], action)
    orders.call(orders.rate_tx, resident(world), o["id"], {"score": 4, "comment": "好"})
    from business.crud import Crud
    from business.specs import SPECS

    crud = Crud(SPECS, clock)

    def work(s):
        crud.create(s, ADMIN, "attendance", {"staff_id": world["sA"], "kind": "out", "at": "2026-11-02T17:10:00+08:00"})
        crud.create(s, ADMIN, "attendance", {"staff_id": world["sB"], "kind": "out", "at": "2026-11-02T17:05:00+08:00"})
        # a manager already wrote sB's November review by hand: its score must stay
        crud.create(s, ADMIN, "reviews", {"staff_id": world["sB"], "period": "2026-11", "score": "77.00"})
    db.call(work)


# -- periods (pure) --------------------------------------------------------------------------------
def test_periods_boundaries_and_catch_up_limits():
    cfg = defaults({})["reviews"]
    assert cfg == {"enabled": True, "schedule": "monthly", "day": 1, "at": "02:00"}
    boundary = local(2026, 12, 1, 2, 0)
    assert rv.period_name("monthly", rv.latest_due(cfg, boundary, SH)) == "2026-11"
    assert rv.period_name("monthly", rv.latest_due(cfg, utc(2026, 11, 30, 17, 59, 59), SH)) == "2026-10"
    nov = rv.parse_period("monthly", "2026-11")
    assert rv.bounds("monthly", nov, SH) == (local(2026, 11, 1), local(2026, 12, 1))
    assert rv.run_at(cfg, nov, SH) == boundary
    q = dict(cfg, schedule="quarterly", day=5, at="08:30")
    q3 = rv.latest_due(q, local(2026, 10, 5, 8, 30), SH)
    assert rv.period_name("quarterly", q3) == "2026-Q3" and rv.parse_period("quarterly", "2026-Q3") == q3
    assert rv.bounds("quarterly", q3, SH) == (local(2026, 7, 1), local(2026, 10, 1))
    assert rv.period_name("quarterly", rv.latest_due(q, local(2026, 10, 5, 8, 29), SH)) == "2026-Q2"
    assert rv.parse_period("monthly", "2026-Q3") is None and rv.parse_period("quarterly", "2026-11") is None
    assert rv.to_run(100, set()) == [100]                       # first run: only the latest
    assert rv.to_run(100, {97}) == [98, 99, 100] and rv.to_run(100, {100}) == []
    assert rv.to_run(100, {50}) == list(range(100 - rv.MAX_CATCH_UP + 1, 101))


# -- the schedule on both backends -----------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_boundary_creates_last_months_reviews_exactly_once(pooled, world, orders, clock, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    november_work(pooled, orders, world, clock)
    tclock = clock_at(clock.now)                               # 2 Nov 2026, 09:xx Shanghai
    svc = service(pooled, tclock)
    await svc.startService()
    await svc.reviews.idle()
    # the first start computes the newest due month (October: nobody worked, so no review)
    assert [(r["period"], r["created"], r["without_figures"]) for r in ran(svc)] == [("2026-10", 0, 2)]
    assert reviews_of(pooled, "2026-10") == {}
    assert svc.reviews.next_at == local(2026, 12, 1, 2, 0)
    assert svc.reviews.next_call <= svc.reviews.next_at.timestamp() + 1

    await advance_to(tclock, svc, local(2026, 12, 1, 1, 59))
    assert len(ran(svc)) == 1 and set(reviews_of(pooled, "2026-11")) == {world["sB"]}

    await advance_to(tclock, svc, local(2026, 12, 1, 2, 5))
    assert [r["period"] for r in ran(svc)] == ["2026-10", "2026-11"]
    assert ran(svc)[-1]["created"] == 1 and ran(svc)[-1]["updated"] == 1
    nov = reviews_of(pooled, "2026-11")
    a, b = nov[world["sA"]], nov[world["sB"]]
    service_a = a.criteria["service"]
    assert service_a["completed"] == 1 and service_a["ratings"] == 1 and service_a["average_rating"] == 4.0
    assert service_a["completion_sla_pct"] == 100.0 and service_a["response_sla_pct"] == 100.0
    assert a.criteria["attendance"] == {"shifts": 1, "present": 0, "late": 1, "early_leave": 0, "absent": 0,
                                        "no_clock_out": 0, "late_minutes": 20, "on_time_pct": 0.0}
    # service 48 (rating 4) + 40 (all on time) = 88, weighted 80 %; attendance 0 % on time, 20 %
    assert a.score == Decimal("70.40") and a.reviewer == rv.ACTOR
    assert b.score == Decimal("77.00") and b.criteria["attendance"]["on_time_pct"] == 100.0
    assert "service" not in b.criteria                         # sB closed no order in November
    assert reviews_of(pooled, "2026-Q3")[world["sA"]].score == Decimal("88.50")   # other periods untouched
    assert sum("staff reviews 2026-11 of property demo: 1 created, 1 updated" in r.getMessage()
               for r in caplog.records if r.levelno == logging.INFO) == 1

    # again, on purpose and by a restart: nothing new
    before = {k: (v.id, v.score, v.criteria) for k, v in nov.items()}
    await svc.reviews.run_now()
    await svc.stopService()
    await svc.startService()
    await svc.reviews.idle()
    assert [r["period"] for r in ran(svc)] == ["2026-10", "2026-11"]
    assert {k: (v.id, v.score, v.criteria) for k, v in reviews_of(pooled, "2026-11").items()} == before
    prop = world["prop"]
    assert [m for m in markers(pooled) if m.startswith(f"{prop}:")] == [f"{prop}:2026-10", f"{prop}:2026-11"]
    assert pooled.call(rv.run_due_tx, utc(2026, 12, 1, 0, 0), svc.reviews.cfg)["runs"] == []
    await svc.stopService()


@pytest_twisted.ensureDeferred
async def test_restart_after_missed_boundaries_catches_up(pooled, world, orders, clock):
    november_work(pooled, orders, world, clock)
    tclock = clock_at(clock.now)
    svc = service(pooled, tclock)
    await svc.startService()
    await svc.reviews.idle()
    await svc.stopService()
    # the server is down over three month boundaries: nothing runs while it is stopped
    await advance_to(tclock, svc, local(2027, 2, 10, 12, 0))
    assert [r["period"] for r in ran(svc)] == ["2026-10"] and svc.reviews.next_call is None
    assert set(reviews_of(pooled, "2026-11")) == {world["sB"]}
    await svc.startService()
    await svc.reviews.idle()
    assert [r["period"] for r in ran(svc)] == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert reviews_of(pooled, "2026-11")[world["sA"]].score == Decimal("70.40")
    assert reviews_of(pooled, "2026-12") == {}                   # nobody worked: no invented scores
    assert svc.reviews.next_at == local(2027, 3, 1, 2, 0)
    await svc.stopService()


@pytest_twisted.ensureDeferred
async def test_opting_out_does_nothing(pooled, world, orders, clock):
    november_work(pooled, orders, world, clock)
    tclock = clock_at(clock.now)
    svc = service(pooled, tclock, enabled=False)
    assert svc.reviews is None
    await svc.startService()
    await advance_to(tclock, svc, local(2027, 1, 15))
    assert set(reviews_of(pooled, "2026-11")) == {world["sB"]} and reviews_of(pooled, "2026-12") == {}
    assert markers(pooled) == []
    await svc.stopService()


@pytest_twisted.ensureDeferred
async def test_failures_logged_once_and_the_schedule_keeps_going(db_url, caplog):
    """A database without tables fails every pass (ERROR once, DEBUG after); once migrated it runs (INFO)."""
    from twisted.internet import reactor

    caplog.set_level(logging.DEBUG, logger=LOGGER)
    db = Database(db_url, reactor=reactor)
    tclock = clock_at(utc(2026, 11, 2, 1, 0))
    svc = service(db, tclock)
    try:
        await svc.startService()
        await svc.reviews.idle()
        tclock.advance(rv.RETRY + 1)
        await svc.reviews.idle()
        assert svc.reviews.passes == 2 and svc.reviews.runs == []
        failed = [r for r in caplog.records if "scheduled staff reviews failed" in r.getMessage()]
        assert [r.levelno for r in failed] == [logging.ERROR, logging.DEBUG]
        db.migrate()
        db.call(lambda s: s.add_all([Property(code="p1", name="P1", timezone="Asia/Shanghai"),
                                     Property(code="p2", name="P2", timezone="Mars/Olympus")]))
        tclock.advance(rv.RETRY + 1)
        await svc.reviews.idle()
        assert [(r["property"], r["period"]) for r in svc.reviews.runs] == [("p1", "2026-10")]
        assert any(r.levelno == logging.INFO and "work again" in r.getMessage() for r in caplog.records)
        bad = [r.levelno for r in caplog.records if "property p2 skipped" in r.getMessage()]
        assert bad == [logging.ERROR]                          # one property's bad timezone stops no other
        await svc.reviews.run_now()
        assert [r.levelno for r in caplog.records if "property p2 skipped" in r.getMessage()] == \
            [logging.ERROR, logging.DEBUG]
        db.call(lambda s: setattr(s.scalar(select(Property).where(Property.code == "p2")), "timezone", "Asia/Tokyo"))
        await svc.reviews.run_now()
        assert [(r["property"], r["period"]) for r in svc.reviews.runs] == [("p1", "2026-10"), ("p2", "2026-10")]
        assert any(r.levelno == logging.INFO and "property p2 run again" in r.getMessage() for r in caplog.records)
    finally:
        await svc.stopService()
        db.stop()


# -- configuration ---------------------------------------------------------------------------------
def test_bad_reviews_settings_name_file_line_and_field(tmp_path):
    (tmp_path / "site.yaml").write_text("site: {name: t, timezone: Asia/Shanghai}\n")
    (tmp_path / "service.yaml").write_text(
        "service:\n"
        "  tick: 30s\n"
        "  reviews:\n"
        "    schedule: weekly\n"
        "    day: 31\n"
        "    at: 12:30\n"
        "    when: now\n")
    site, errors = check_site(tmp_path)
    assert site is None
    found = {e.field: (e.loc.file, e.loc.line, e.message) for e in errors}
    service_yaml = str(tmp_path / "service.yaml")
    assert {f: (file.endswith("service.yaml"), line) for f, (file, line, _) in found.items()} == {
        "service.reviews.schedule": (True, 4), "service.reviews.day": (True, 5), "service.reviews.at": (True, 6),
        "service.reviews.when": (True, 7)}, (service_yaml, errors)
    assert "weekly" in found["service.reviews.schedule"][2] and "28" in found["service.reviews.day"][2]
    assert "in quotes" in found["service.reviews.at"][2]
    (tmp_path / "service.yaml").write_text("service:\n  reviews: {enabled: false}\n")
    site, errors = check_site(tmp_path)
    assert errors == [] and site.section("service")["reviews"]["enabled"] is False


def test_demo_reviews_monthly():
    from collectors.sim.demo import load_demo

    assert load_demo(0).section("service")["reviews"] == {"enabled": True, "schedule": "monthly", "day": 1,
                                                          "at": "02:00"}
