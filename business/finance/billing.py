"""Billing runs: gather the estate, read meters at the period boundaries, compute, preview, post.

A run is three steps so the slow part (meter reads from the historian) runs on
the reactor and the database work in short transactions:

1. :func:`gather` (database): units, parking spaces, fee items, meters, subjects already billed;
2. :func:`compute` (pure): one :class:`BillPlan` per unit/space with explicit lines
   (charges, vacancy discounts, adjustments, held metered lines) and a summary;
3. :func:`post_run` (database): writes bills, lines and one balanced entry per bill;
   subjects already billed for the period are skipped, so a second run adds nothing.

A preview is steps 1–2 without 3.
"""

from __future__ import annotations

import calendar
from types import SimpleNamespace
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..models import Building, ParkingSpace, Unit
from .accounts import PREPAID, RECEIVABLE
from .errors import ValidationError
from .fees import LinePlan, area_charge, metered_price, price, tiered, vacancy_line
from .meters import Consumption, Reading, consumption, meter_for_units
from .bills import netting
from .models import Allocation, Bill, BillingRun, BillLine, Entry, FeeItem, Posting
from .money import allocate, dec, round_fen, yuan
from .periods import ensure_open


@dataclass
class UnitInfo:
    """What billing needs of a unit."""

    id: int
    code: str
    building_id: int
    building: str
    use: str
    status: str
    gross: Decimal
    inner: Decimal


@dataclass
class RunInput:
    """Everything a run computes from (gathered in one transaction)."""

    property_id: int
    period: str
    start: datetime
    end: datetime
    issued_on: date
    units: list[UnitInfo]
    spaces: list[tuple[int, str, int | None, int | None, str]]  # id, code, building_id, unit_id, kind
    items: list[dict]
    meters: dict[int, str]  # unit id → meter equipment id
    billed: set[str] = field(default_factory=set)


@dataclass
class BillPlan:
    """A bill to be posted for one subject."""

    subject: str
    unit_id: int | None
    space_id: int | None
    building_id: int | None
    lines: list[LinePlan]
    due_days: int = 15
    grace_days: int = 0

    @property
    def total(self) -> int:
        """Billed fen (held lines excluded)."""
        return sum(ln.amount for ln in self.lines if not ln.held)


def period_bounds(period: str, tz: str) -> tuple[datetime, datetime, date]:
    """``YYYY-MM`` → (start UTC, end UTC, first day after the period) in the property's time zone."""
    try:
        y, m = (int(x) for x in period.split("-"))
        first = date(y, m, 1)
    except (ValueError, TypeError):
        raise ValidationError(f"period {period!r} is not YYYY-MM", {"period": "expected YYYY-MM"}) from None
    last = date(y, m, calendar.monthrange(y, m)[1])
    nxt = last + timedelta(days=1)
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), zone).astimezone(timezone.utc)
    end = datetime.combine(nxt, time(0), zone).astimezone(timezone.utc)
    return start, end, nxt


def gather(session: Session, property_id: int, period: str, tz: str, equipment: Iterable[Any] = (),
           meter_overrides: dict[str, str] | None = None) -> RunInput:
    """Load what a run needs (see :class:`RunInput`)."""
    start, end, issued = period_bounds(period, tz)
    units = unit_infos(session, property_id)
    spaces = [tuple(r) for r in session.execute(select(ParkingSpace.id, ParkingSpace.code, ParkingSpace.building_id,
                                                       ParkingSpace.unit_id, ParkingSpace.kind)
                                                .where(ParkingSpace.property_id == property_id)
                                                .order_by(ParkingSpace.id))]
    items = [{"code": f.code, "name": f.name, "kind": f.kind, "params": dict(f.params or {}),
              "cycle_months": f.cycle_months, "due_days": f.due_days, "grace_days": f.grace_days,
              "account": f.account, "prepaid": bool(f.prepaid)}
             for f in session.scalars(select(FeeItem).where(FeeItem.property_id == property_id,
                                                            FeeItem.active.is_(True)).order_by(FeeItem.id))]
    by_key = meter_for_units(equipment, [(u.building, u.code) for u in units], meter_overrides)
    meters = {u.id: by_key[(u.building, u.code)] for u in units if (u.building, u.code) in by_key}
    billed = set(session.scalars(select(Bill.subject).where(Bill.property_id == property_id, Bill.period == period)))
    return RunInput(property_id, period, start, end, issued, units, spaces, items, meters, billed)


def unit_infos(session: Session, property_id: int) -> list[UnitInfo]:
    """Every unit of the property as billing sees it (areas to the 0.01 m², ordered by id)."""
    bcode = dict(session.execute(select(Building.id, Building.code).where(Building.property_id == property_id)).all())
    return [UnitInfo(u.id, u.code, u.building_id, bcode.get(u.building_id, ""), u.use, u.status,
                     Decimal(u.gross_area).quantize(Decimal("0.01")), Decimal(u.inner_area).quantize(Decimal("0.01")))
            for u in session.scalars(select(Unit).where(Unit.property_id == property_id).order_by(Unit.id))]


def applies(item: dict, unit: UnitInfo) -> bool:
    """True when a fee item's ``buildings``/``uses`` filters include the unit."""
    p = item["params"]
    if p.get("buildings") and unit.building not in p["buildings"]:
        return False
    if p.get("uses") and unit.use not in p["uses"]:
        return False
    return True


def service_period(item: dict, period: str) -> str:
    """The period an item's charge is for: the next one for prepaid (billed in advance) items."""
    if not item.get("prepaid"):
        return period
    y, m = int(period[:4]), int(period[5:7])
    return f"{y + m // 12}-{m % 12 + 1:02d}"


def _due_this_period(item: dict, period: str) -> bool:
    month = int(service_period(item, period)[5:7])
    return (month - 1) % max(int(item.get("cycle_months") or 1), 1) == 0


def meter_paths(inp: RunInput) -> list[str]:
    """Every tag path whose boundary readings the run needs."""
    paths: list[str] = []
    for item in inp.items:
        p = item["params"]
        if item["kind"] == "metered":
            paths += [f"{inp.meters[u.id]}/{p.get('tag', 'energy_kwh')}" for u in inp.units
                      if u.id in inp.meters and applies(item, u)]
        elif item["kind"] == "shared":
            paths += [p["master"], *p.get("sub_meters", [])]
    return list(dict.fromkeys(paths))


Readings = dict[str, tuple[Reading, Reading]]


def _consumption(readings: Readings, path: str, inp: RunInput, max_age_s: float,
                 rollover: dict[str, Decimal]) -> Consumption:
    start, end = readings.get(path) or (Reading(path, None, None, "missing", False),) * 2
    return consumption(start, end, inp.start, inp.end, max_age_s, rollover.get(path))


def _metered_line(item: dict, c: Consumption) -> LinePlan:
    tiers = metered_price(item["params"])
    detail = {"start": c.start.json(), "end": c.end.json()}
    if c.held:
        return LinePlan(item["code"], f"{item['name']}: held for review ({c.hold_reason})", "", "", 0,
                        item["account"], held=True, hold_reason=c.hold_reason, detail=detail)
    amount, parts = tiered(c.quantity, tiers)
    detail["tiers"] = parts
    unit_price = tiers[0]["price"] if len(tiers) == 1 else "tiered"
    return LinePlan(item["code"], f"{item['name']}: {c.start.value} → {c.end.value}", str(c.quantity), unit_price,
                    amount, item["account"], detail=detail)


def _shared_lines(item: dict, inp: RunInput, readings: Readings, max_age_s: float, rollover, summary) -> dict[int, LinePlan]:
    p = item["params"]
    units = [u for u in inp.units if applies(item, u)]
    master = _consumption(readings, p["master"], inp, max_age_s, rollover)
    subs = [_consumption(readings, s, inp, max_age_s, rollover) for s in p.get("sub_meters", [])]
    held = [c for c in (master, *subs) if c.held]
    report = {"fee": item["code"], "master": master.start.path}
    if held:
        reason = f"{held[0].start.path}: {held[0].hold_reason}"
        report.update(held=reason)
        summary["shared"].append(report)
        return {u.id: LinePlan(item["code"], f"{item['name']}: held for review ({reason})", "", "", 0,
                               item["account"], held=True, hold_reason=reason,
                               detail={"master": master.start.json() | {"end": master.end.json()}}) for u in units}
    sub_total = sum((c.quantity for c in subs), Decimal(0))
    common = master.quantity - sub_total
    report.update(master_consumption=str(master.quantity), sub_meters=str(sub_total), common=str(common),
                  loss_pct=str((common / master.quantity * 100).quantize(Decimal("0.01"))) if master.quantity else "0")
    summary["shared"].append(report)
    return shared_allocation(item, units, common, {"master": {"start": master.start.json(), "end": master.end.json()},
                                                   "sub_meters_total": str(sub_total)})


def shared_allocation(item: dict, units: list[UnitInfo], common: Decimal, detail: dict) -> dict[int, LinePlan]:
    """A shared item's common consumption × price, split over ``units`` by gross area (sums exactly).

    Used by the billing run and by the release of held shared lines after
    review, so a reviewed line is what the run would have billed.
    """
    unit_price = price(item["params"])
    total = round_fen(max(common, Decimal(0)) * unit_price * 100)
    shares = allocate(total, [u.gross for u in units])
    area_sum = sum((u.gross for u in units), Decimal(0))
    out = {}
    for u, fen in zip(units, shares):
        qty = (max(common, Decimal(0)) * u.gross / area_sum).quantize(Decimal("0.001")) if area_sum else Decimal(0)
        out[u.id] = LinePlan(item["code"], f"{item['name']}: {u.gross} m² of {area_sum} m², common {common}",
                             str(qty), str(unit_price), fen, item["account"],
                             detail={**detail, "common": str(common), "area_m2": str(u.gross),
                                     "area_total_m2": str(area_sum)})
    return out


def compute(inp: RunInput, readings: Readings, max_age_s: float = 86400.0,
            rollover: dict[str, Decimal] | None = None, adjustments: list[dict] | None = None,
            progress: Callable[[int, int], None] | None = None) -> tuple[list[BillPlan], dict]:
    """Plans for every subject not yet billed this period, and the run summary (totals, held lines, losses)."""
    rollover = rollover or {}
    summary: dict[str, Any] = {"period": inp.period, "bills": 0, "lines": 0, "held": [], "shared": [],
                               "total": "0.00", "skipped_already_billed": 0}
    shared = {it["code"]: _shared_lines(it, inp, readings, max_age_s, rollover, summary)
              for it in inp.items if it["kind"] == "shared" and _due_this_period(it, inp.period)}
    adj_by_unit: dict[int, list[dict]] = {}
    for a in adjustments or ():
        adj_by_unit.setdefault(int(a["unit_id"]), []).append(a)
    plans: list[BillPlan] = []
    total_subjects = len(inp.units) + len(inp.spaces)
    for n, u in enumerate(inp.units, 1):
        subject = f"unit:{u.id}"
        if subject in inp.billed:
            summary["skipped_already_billed"] += 1
            continue
        lines: list[LinePlan] = []
        due, grace = [], []
        for item in inp.items:
            if not applies(item, u) or not _due_this_period(item, inp.period):
                continue
            kind, p, months = item["kind"], item["params"], int(item.get("cycle_months") or 1)
            line = None
            if kind in ("gross_area", "inner_area"):
                area = u.gross if kind == "gross_area" else u.inner
                amount, detail = area_charge(area, price(p), months)
                line = LinePlan(item["code"], f"{item['name']}: {area} m² × {price(p)} × {months}", str(area * months),
                                str(price(p)), amount, item["account"], detail=detail)
            elif kind == "fixed":
                amount = round_fen(price(p, "amount") * months * 100)
                line = LinePlan(item["code"], item["name"], str(months), str(price(p, "amount")), amount,
                                item["account"])
            elif kind == "metered" and u.id in inp.meters:
                path = f"{inp.meters[u.id]}/{p.get('tag', 'energy_kwh')}"
                line = _metered_line(item, _consumption(readings, path, inp, max_age_s, rollover))
            elif kind == "shared" and u.id in shared.get(item["code"], {}):
                line = shared[item["code"]][u.id]
            if line is None:
                continue
            if item.get("prepaid") and kind not in ("metered", "shared"):
                line.description = f"{line.description} (for {service_period(item, inp.period)}, in advance)"
                line.detail = {**line.detail, "service_period": service_period(item, inp.period)}
            lines.append(line)
            due.append(int(item.get("due_days", 15)))
            grace.append(int(item.get("grace_days", 0)))
            if u.status == "vacant" and p.get("vacancy_discount") and not line.held and line.amount:
                lines.append(vacancy_line(line, dec(p["vacancy_discount"], "vacancy_discount")))
        for a in adj_by_unit.get(u.id, ()):
            amount = a["amount"] if isinstance(a["amount"], int) else round_fen(dec(a["amount"]) * 100)
            lines.append(LinePlan(a.get("fee_code", "adjustment"), a.get("description", "adjustment"), "1",
                                  yuan(amount), amount, a.get("account", "5107"), kind="adjustment"))
        if lines:
            plans.append(BillPlan(subject, u.id, None, u.building_id, lines, min(due or [15]), min(grace or [0])))
        if progress and n % 200 == 0:
            progress(n, total_subjects)
    parking = [it for it in inp.items if it["kind"] == "parking_monthly" and _due_this_period(it, inp.period)]
    for sid, code, bid, uid, kind in inp.spaces:
        subject = f"space:{sid}"
        if subject in inp.billed:
            summary["skipped_already_billed"] += 1
            continue
        lines = []
        for item in parking:
            if kind not in (item["params"].get("kinds") or ["rented"]):
                continue
            months = int(item.get("cycle_months") or 1)
            amount = round_fen(price(item["params"]) * months * 100)
            lines.append(LinePlan(item["code"], f"{item['name']}: space {code}", str(months),
                                  str(price(item["params"])), amount, item["account"]))
        if lines:
            plans.append(BillPlan(subject, uid, sid, bid, lines, int(parking[0].get("due_days", 15)),
                                  int(parking[0].get("grace_days", 0))))
    if progress:
        progress(total_subjects, total_subjects)
    for plan in plans:
        for ln in plan.lines:
            if ln.held:
                summary["held"].append({"subject": plan.subject, "fee": ln.fee_code, "reason": ln.hold_reason})
    summary["bills"] = len(plans)
    summary["lines"] = sum(len(p.lines) for p in plans)
    summary["total"] = yuan(sum(p.total for p in plans))
    return plans, summary


def post_run(session: Session, inp: RunInput, plans: list[BillPlan], summary: dict, now: datetime,
             actor: str = "", progress: Callable[[int, int], None] | None = None) -> BillingRun:
    """Write the run, its bills, lines and entries; subjects billed meanwhile are skipped (idempotent)."""
    billed = set(session.scalars(select(Bill.subject).where(Bill.property_id == inp.property_id,
                                                            Bill.period == inp.period)))
    todo = [p for p in plans if p.subject not in billed]
    if todo:
        # the bulk inserts below bypass ledger.post, so the period lock is checked here
        ensure_open(session, inp.property_id, inp.issued_on, "bill")
    run = BillingRun(property_id=inp.property_id, period=inp.period, at=now, actor=actor,
                     summary=dict(summary, posted_bills=len(todo)))
    session.add(run)
    session.flush()
    from .bills import next_bill_no
    seq = next_bill_no(session)
    chunk = 1000
    # Core bulk inserts: the ORM unit of work costs ~5 ms a bill
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        nos = [f"B{seq + i:08d}" for i in range(len(part))]
        seq += len(part)
        posted = [any(ln.amount and not ln.held for ln in plan.lines) for plan in part]
        entry_rows = [{"ref": f"bill:{inp.property_id}:{inp.period}:{plan.subject}", "kind": "bill",
                       "date": inp.issued_on, "posted_at": now, "property_id": inp.property_id,
                       "memo": f"bill {no}", "actor": actor}
                      for plan, no, ok in zip(part, nos, posted) if ok]
        # RETURNING without parameter order keeps the insert batched; rows are matched on their unique keys
        by_ref = dict((r, i) for i, r in session.execute(insert(Entry).returning(Entry.id, Entry.ref),
                                                          entry_rows).all()) if entry_rows else {}
        entries = [by_ref[f"bill:{inp.property_id}:{inp.period}:{plan.subject}"] if ok else None
                   for plan, ok in zip(part, posted)]
        bill_rows = [{"bill_no": no, "run_id": run.id, "property_id": inp.property_id, "building_id": plan.building_id,
                      "unit_id": plan.unit_id, "space_id": plan.space_id, "subject": plan.subject, "period": inp.period,
                      "issued_on": inp.issued_on, "due_on": inp.issued_on + timedelta(days=plan.due_days),
                      "grace_until": inp.issued_on + timedelta(days=plan.due_days + plan.grace_days),
                      "status": "open" if plan.total else "held", "entry_id": eid}
                     for plan, no, eid in zip(part, nos, entries)]
        by_no = dict((no, i) for i, no in session.execute(insert(Bill).returning(Bill.id, Bill.bill_no), bill_rows).all())
        bill_ids = [by_no[no] for no in nos]
        line_rows, postings = [], []
        for plan, bill_id, eid in zip(part, bill_ids, entries):
            for ln in plan.lines:
                on_ledger = eid is not None and not ln.held and ln.amount != 0
                line_rows.append({"bill_id": bill_id, "fee_code": ln.fee_code, "kind": ln.kind,
                                  "description": ln.description[:400], "quantity": ln.quantity,
                                  "unit_price": ln.unit_price, "amount": ln.amount, "account": ln.account,
                                  "held": ln.held, "hold_reason": ln.hold_reason[:200], "detail": ln.detail,
                                  "entry_id": eid if on_ledger else None})
                if on_ledger:
                    common = {"entry_id": eid, "date": inp.issued_on, "property_id": inp.property_id,
                              "building_id": plan.building_id, "unit_id": plan.unit_id}
                    postings.append({**common, "account": RECEIVABLE, "amount": ln.amount})
                    postings.append({**common, "account": ln.account, "amount": -ln.amount})
        if line_rows:
            session.execute(insert(BillLine), line_rows)
        if postings:
            session.execute(insert(Posting), postings)
        credited = sorted({r["bill_id"] for r in line_rows if r["amount"] < 0 and r["entry_id"] is not None})
        nets = netting([SimpleNamespace(id=i, bill_id=b, entry_id=e, amount=a) for i, b, e, a in session.execute(
            select(BillLine.id, BillLine.bill_id, BillLine.entry_id, BillLine.amount)
            .where(BillLine.bill_id.in_(credited)).order_by(BillLine.id))]) if credited else []
        if nets:
            session.execute(insert(Allocation), [{"line_id": a.line_id, "entry_id": a.entry_id, "payment_id": None,
                                                  "source": a.source, "amount": a.amount} for a in nets])
        if progress:
            progress(min(start + chunk, len(todo)), len(todo))
    _apply_prepaid_after(session, inp.property_id, {p.unit_id for p in todo if p.unit_id}, now)
    return run


def _apply_prepaid_after(session: Session, property_id: int, unit_ids: set[int], now: datetime) -> None:
    from sqlalchemy import func
    from .payments import apply_prepaid
    if not unit_ids:
        return
    rows = session.execute(select(Posting.unit_id, func.sum(Posting.amount)).where(
        Posting.account == PREPAID, Posting.unit_id.is_not(None)).group_by(Posting.unit_id)).all()
    for unit_id, bal in rows:
        if unit_id in unit_ids and bal < 0:
            apply_prepaid(session, property_id, unit_id, now)


def run_json(run: BillingRun) -> dict:
    """A posted run."""
    return {"id": run.id, "period": run.period, "at": run.at.isoformat(), "actor": run.actor, "summary": run.summary}


def plans_json(plans: list[BillPlan], limit: int = 200) -> list[dict]:
    """The preview of the first ``limit`` bills."""
    return [{"subject": p.subject, "unit_id": p.unit_id, "space_id": p.space_id, "total": yuan(p.total),
             "lines": [{"fee_code": ln.fee_code, "kind": ln.kind, "description": ln.description, "quantity": ln.quantity,
                        "unit_price": ln.unit_price, "amount": yuan(ln.amount), "held": ln.held,
                        "hold_reason": ln.hold_reason, "detail": ln.detail} for ln in p.lines]} for p in plans[:limit]]
