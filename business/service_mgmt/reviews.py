"""Scheduled staff reviews: each period's figures written into the reviews by themselves.

``service.reviews`` (``{schedule: monthly, day: 1, at: "02:00"}``) names when the
previous period is reviewed, in each property's own timezone. On that boundary the
:class:`ReviewSchedule` computes, for every active staff member of the property, the
service figures (orders completed, ratings, SLA compliance, reopens; see
:mod:`.ratings`) and the attendance of their rostered shifts
(:func:`business.attendance.summary`), and writes them into the ``reviews`` row of
the period (``2026-11`` or ``2026-Q4``).

Idempotent: each property and period that was computed leaves one row in the
append-only audit log (entity ``review_periods``); a period with that row is never
computed again, and reviews are unique per staff member and period anyway. At start
the periods whose boundary passed while the server was down are caught up (back to
the last one computed, at most :data:`MAX_CATCH_UP`; on a first run only the latest).
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred, succeed

from .. import attendance
from ..audit import record
from ..models import AuditEntry, Property, Review, Staff
from .ratings import review_score, staff_figures

log = logging.getLogger(__name__)

ACTOR = "system:reviews"
MARKER = "review_periods"
MAX_CATCH_UP = 12            # periods; a server down longer than a year is not back-filled further
RETRY = 300.0                # seconds after a failed pass
EMPTY_RECHECK = 300.0        # no property yet (the demo seeds it after we start)
MAX_SLEEP = 6 * 3600.0       # wake at least this often: new properties, changed timezones
SERVICE_WEIGHT = Decimal("0.8")
COUNTED = ("present", "late", "early_leave", "absent", "no_clock_out")   # shifts that are over


# -- periods ---------------------------------------------------------------------------------------
def _months(kind: str) -> int:
    return 3 if kind == "quarterly" else 1


def period_index(kind: str, d: date) -> int:
    """The period holding a local date, as a running number (months or quarters since year 0)."""
    return d.year * 12 + d.month - 1 if kind == "monthly" else d.year * 4 + (d.month - 1) // 3


def period_name(kind: str, idx: int) -> str:
    """``2026-11`` (monthly) or ``2026-Q4`` (quarterly): the ``reviews.period`` value."""
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}" if kind == "monthly" else f"{idx // 4:04d}-Q{idx % 4 + 1}"


def parse_period(kind: str, name: str) -> int | None:
    """The running number of a period name of this kind (None for another kind)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})" if kind == "monthly" else r"(\d{4})-Q([1-4])", name)
    if not m:
        return None
    return int(m[1]) * 12 + int(m[2]) - 1 if kind == "monthly" else int(m[1]) * 4 + int(m[2]) - 1


def first_day(kind: str, idx: int) -> date:
    """The local date a period starts on."""
    if kind == "monthly":
        return date(idx // 12, idx % 12 + 1, 1)
    return date(idx // 4, (idx % 4) * 3 + 1, 1)


def bounds(kind: str, idx: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of a period: local midnights in the property's timezone."""
    return (datetime.combine(first_day(kind, idx), time(0), tz),
            datetime.combine(first_day(kind, idx + 1), time(0), tz))


def run_at(cfg: dict, idx: int, tz: ZoneInfo) -> datetime:
    """When period ``idx`` is reviewed: ``day`` of the next period's first month at ``at``, local."""
    hh, mm = (int(x) for x in cfg["at"].split(":"))
    day = first_day(cfg["schedule"], idx + 1) + timedelta(days=cfg["day"] - 1)
    return datetime.combine(day, time(hh, mm), tz)


def latest_due(cfg: dict, now: datetime, tz: ZoneInfo) -> int:
    """The newest period whose review time has come at ``now``."""
    current = period_index(cfg["schedule"], now.astimezone(tz).date())
    return current - 1 if now >= run_at(cfg, current - 1, tz) else current - 2


def to_run(latest: int, done: set[int]) -> list[int]:
    """Periods to compute now: those after the last computed one up to ``latest`` (first run: ``latest``)."""
    if not done:
        return [latest]
    last = max(done)
    return [i for i in range(max(last + 1, latest - MAX_CATCH_UP + 1), latest + 1) if i not in done]


# -- figures and reviews ---------------------------------------------------------------------------
def attendance_figures(rows: list[dict]) -> dict:
    """Shifts rostered (and over), each status counted, minutes late, the share on time."""
    counted = [r for r in rows if r["status"] in COUNTED]
    out = {"shifts": len(counted), **{st: sum(r["status"] == st for r in counted) for st in COUNTED},
           "late_minutes": sum(r["late_minutes"] for r in counted)}
    out["on_time_pct"] = round(100.0 * out["present"] / len(counted), 1) if counted else None
    return out


def period_score(service: dict | None, att: dict | None) -> Decimal | None:
    """0–100: the service score (see ``review_score``) 80 %, shifts on time 20 %; either alone if only one."""
    parts = []
    if service is not None:
        parts.append((SERVICE_WEIGHT, review_score(service)))
    if att is not None:
        parts.append((1 - SERVICE_WEIGHT, Decimal(str(att["on_time_pct"]))))
    if not parts:
        return None
    total = sum(w for w, _ in parts)
    return (sum(w * v for w, v in parts) / total).quantize(Decimal("0.01"))


def review_period(s: Session, now: datetime, prop: Property, kind: str, idx: int, tz: ZoneInfo,
                  actor: str = ACTOR) -> dict:
    """Write the period's figures into every active staff member's review; mark the period done.

    A review that already exists (entered by a manager, or fed by ``POST /workorders/reviews``)
    keeps its score and reviewer; only its ``criteria.service`` and ``criteria.attendance``
    are written. Staff with neither work orders nor rostered shifts get no review.
    """
    name = period_name(kind, idx)
    start, end = bounds(kind, idx, tz)
    staff = list(s.scalars(select(Staff).where(Staff.property_id == prop.id, Staff.active.is_(True))
                           .order_by(Staff.id)))
    ids = [st.id for st in staff]
    service = {f["staff_id"]: f for f in staff_figures(s, start, end, ids)} if ids else {}
    shifts: dict[int, list[dict]] = {}
    if ids:
        for row in attendance.summary(s, now, start.date(), end.date() - timedelta(days=1), ids):
            shifts.setdefault(row["staff_id"], []).append(row)
    created, updated, skipped = [], [], []
    for st in staff:
        fig = service.get(st.id)
        fig = fig if fig and (fig["completed"] or fig["ratings"]) else None
        att = attendance_figures(shifts.get(st.id, []))
        att = att if att["shifts"] else None
        score = period_score(fig, att)
        if score is None:
            skipped.append(st.id)
            continue
        rv = s.scalar(select(Review).where(Review.staff_id == st.id, Review.period == name))
        if rv is None:
            rv = Review(staff_id=st.id, period=name, score=score, criteria={}, reviewer=actor,
                        comment=f"{kind} review from work orders and attendance")
            s.add(rv)
            created.append(st.id)
        else:
            updated.append(st.id)
        criteria = dict(rv.criteria or {})
        if fig is not None:     # what is missing is left as it was, not blanked
            criteria["service"] = {k: v for k, v in fig.items() if k not in ("name", "employee_no")}
        if att is not None:
            criteria["attendance"] = att
        rv.criteria = criteria
    s.flush()
    out = {"property": prop.code, "period": name, "from": start.isoformat(), "to": end.isoformat(),
           "created": len(created), "updated": len(updated), "without_figures": len(skipped)}
    record(s, actor, "scheduled", MARKER, f"{prop.id}:{name}", None,
           {**out, "created_staff": created, "updated_staff": updated}, now)
    return out


def done_periods(s: Session, property_id: int, kind: str) -> set[int]:
    """Periods of this kind already computed for a property (from the audit log)."""
    prefix = f"{property_id}:"
    rows = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity == MARKER,
                                                        AuditEntry.entity_id.startswith(prefix)))
    return {i for i in (parse_period(kind, r[len(prefix):]) for r in rows) if i is not None}


def run_due_tx(s: Session, now: datetime, cfg: dict, actor: str = ACTOR) -> dict:
    """Compute every due period of every property; returns the runs, per-property errors, next time.

    Properties are locked (``FOR UPDATE`` on PostgreSQL) while they are checked, so two
    servers on one database cannot compute the same period twice.
    """
    kind = cfg["schedule"]
    runs, errors, next_at = [], {}, None
    for prop in s.scalars(select(Property).order_by(Property.id).with_for_update()):
        try:
            tz = ZoneInfo(prop.timezone)
        except (ValueError, KeyError, OSError) as exc:     # ZoneInfoNotFoundError is a KeyError
            errors[prop.code] = f"unknown timezone {prop.timezone!r} ({exc.__class__.__name__})"
            continue
        latest = latest_due(cfg, now, tz)
        for idx in to_run(latest, done_periods(s, prop.id, kind)):
            runs.append(review_period(s, now, prop, kind, idx, tz, actor))
        nxt = run_at(cfg, latest + 1, tz)
        next_at = nxt if next_at is None or nxt < next_at else next_at
    return {"runs": runs, "errors": errors, "next_at": next_at}


# -- the schedule ----------------------------------------------------------------------------------
class ReviewSchedule:
    """Runs :func:`run_due_tx` at start and at each period boundary on the injected reactor.

    The work runs on the database pool (``db.run``); the reactor only keeps the timer.
    A failed pass is logged once at ERROR (repeats at DEBUG) and retried after :data:`RETRY`.
    """

    def __init__(self, db: Any, clock: Callable[[], datetime], reactor: Any, cfg: dict) -> None:
        self.db, self.clock, self.reactor, self.cfg = db, clock, reactor, cfg
        self.runs: list[dict] = []           # periods computed by this process, oldest first
        self.passes = 0
        self.next_at: datetime | None = None     # the next boundary, as the last pass saw it
        self._call = None
        self._busy = False
        self._stopped = True
        self._waiters: list[Deferred] = []
        self._failing = False
        self._bad: dict[str, str] = {}        # property code → error already logged

    def start(self) -> None:
        """Catch up what is due now, then wake at the next boundary."""
        self._stopped = False
        self._fire()

    def stop(self) -> Deferred:
        """Cancel the timer; a Deferred that fires when a pass in flight has finished."""
        self._stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        return self.idle()

    def run_now(self) -> Deferred:
        """A pass now instead of at the next wake-up (while started); fires when it has finished."""
        if not self._stopped and not self._busy:
            if self._call is not None and self._call.active():
                self._call.cancel()
            self._fire()
        return self.idle()

    def idle(self) -> Deferred:
        """A Deferred that fires once no pass is running."""
        if not self._busy:
            return succeed(None)
        d: Deferred = Deferred()
        self._waiters.append(d)
        return d

    @property
    def next_call(self) -> float | None:
        """Reactor time of the next pass (None when stopped or running)."""
        return self._call.getTime() if self._call is not None and self._call.active() else None

    def _fire(self) -> None:
        self._call = None
        if self._busy or self._stopped:
            return
        self._busy = True
        Deferred.fromCoroutine(self._pass()).addBoth(self._finished)

    def _finished(self, result) -> None:
        self._busy = False
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    async def _pass(self) -> None:
        now = self.clock()
        try:
            out = await self.db.run(run_due_tx, now, self.cfg)
            self._report(out)
            self.next_at = out["next_at"]
            delay = EMPTY_RECHECK if out["next_at"] is None else (out["next_at"] - now).total_seconds()
        except Exception as exc:        # keep the schedule alive whatever went wrong
            if not self._failing:
                log.error("scheduled staff reviews failed (retry in %.0f s): %s", RETRY, exc, exc_info=True)
            else:
                log.debug("scheduled staff reviews failed again: %s", exc)
            self._failing = True
            delay = RETRY
        self.passes += 1
        if not self._stopped:
            # one second past the boundary, so float rounding of the clock cannot land just before it
            self._call = self.reactor.callLater(min(max(delay, 0.0), MAX_SLEEP) + 1.0, self._fire)

    def _report(self, out: dict) -> None:
        if self._failing:
            log.info("scheduled staff reviews work again")
            self._failing = False
        for run in out["runs"]:
            self.runs.append(run)
            log.info("staff reviews %s of property %s: %d created, %d updated, %d staff without figures",
                     run["period"], run["property"], run["created"], run["updated"], run["without_figures"])
        if not out["runs"]:
            log.debug("scheduled staff reviews: nothing due (next %s)", out["next_at"])
        for code, message in out["errors"].items():
            if self._bad.get(code) != message:
                log.error("staff reviews of property %s skipped: %s", code, message)
            else:
                log.debug("staff reviews of property %s skipped again: %s", code, message)
        for code in set(self._bad) - set(out["errors"]):
            log.info("staff reviews of property %s run again", code)
        self._bad = dict(out["errors"])
