"""The finance application object: what the REST API, the CLI and the periodic jobs call.

Database work goes through ``db.run`` (worker pool) from the reactor, or
``db.call`` from the CLI; meter reads go to the historian (``history.value_at``)
between the two database steps of a billing run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Property
from . import billing, bills, dunning
from .accounts import ensure_chart
from .errors import NotFound
from .meters import read_boundaries, rollover_of
from .providers import HmacProvider
from .setup import sync_budgets, sync_fee_items

log = logging.getLogger(__name__)


@dataclass
class FinanceApp:
    """Configuration plus the collaborators every finance operation needs."""

    db: Any
    site: Any
    section: dict
    clock: Callable[[], datetime]
    property_code: str
    history: Callable[[], Any] = lambda: None
    outbox: Callable[[], Any] = lambda: None
    providers: dict = field(default_factory=dict)
    _ready: int | None = None

    @classmethod
    def from_site(cls, db, site, clock, history=lambda: None, outbox=lambda: None) -> "FinanceApp":
        """Build from the site's ``finance:`` and ``business.property`` sections."""
        section = site.section("finance") or {}
        code = ((site.section("business") or {}).get("property") or {}).get("code") or "site"
        providers = {name: HmacProvider(name, p["secret"]) for name, p in (section.get("providers") or {}).items()}
        return cls(db, site, section, clock, code, history, outbox, providers)

    # -- set-up ----------------------------------------------------------------------------------

    def prepare(self, s: Session) -> int:
        """The property id, after applying the chart, fee items and budgets once (lazy, idempotent)."""
        if self._ready is not None:
            return self._ready
        pid = s.scalar(select(Property.id).where(Property.code == self.property_code))
        if pid is None:
            raise NotFound(f"property {self.property_code!r} is not in the business database yet")
        ensure_chart(s)
        sync_fee_items(s, pid, self.section.get("fee_items") or [])
        sync_budgets(s, pid, self.section.get("budgets") or [])
        self._ready = pid
        return pid

    @property
    def timezone(self) -> str:
        """The site's time zone (billing periods are local months)."""
        return getattr(self.site, "timezone", None) or "Asia/Shanghai"

    def today(self) -> date:
        """Local date now."""
        return self.clock().astimezone(ZoneInfo(self.timezone)).date()

    # -- billing runs ----------------------------------------------------------------------------

    def _rollovers(self) -> dict[str, Decimal]:
        out = {}
        for tag in getattr(self.site, "tags", ()) or ():
            r = rollover_of(tag)
            if r is not None:
                out[tag.path] = r
        return out

    def gather(self, s: Session, period: str) -> billing.RunInput:
        """Step 1 of a run (in a transaction)."""
        pid = self.prepare(s)
        overrides = (self.section.get("meters") or {}).get("overrides") or {}
        return billing.gather(s, pid, period, self.timezone, getattr(self.site, "equipment", ()), overrides)

    def compute(self, inp, readings, adjustments=None, progress=None):
        """Step 2 (pure)."""
        max_age = float((self.section.get("meters") or {}).get("max_age") or 86400.0)
        return billing.compute(inp, readings, max_age, self._rollovers(), adjustments, progress)

    async def billing_run(self, period: str, preview: bool, actor: str, adjustments: list | None = None,
                          window: tuple[datetime, datetime] | None = None) -> dict:
        """A billing run from the server: preview (nothing written) or post (idempotent).

        ``window`` replaces the period's meter-reading boundaries (a move-out
        final bill, or a test that cannot wait a month).
        """
        inp = await self.db.run(self.gather, period)
        if window is not None:
            inp.start, inp.end = window
        readings = await read_boundaries(self.history(), billing.meter_paths(inp), inp.start, inp.end)
        plans, summary = self.compute(inp, readings, adjustments)
        if preview:
            return {"preview": True, "summary": summary, "bills": billing.plans_json(plans)}
        from sqlalchemy.exc import IntegrityError
        try:
            run = await self.db.run(billing.post_run, inp, plans, summary, self.clock(), actor)
        except IntegrityError:
            # another run of the same period posted first: gather again, post what is left (nothing)
            inp = await self.db.run(self.gather, period)
            if window is not None:
                inp.start, inp.end = window
            plans, summary = self.compute(inp, readings, adjustments)
            run = await self.db.run(billing.post_run, inp, plans, summary, self.clock(), actor)
        await self.db.run(self.energy_costs, inp, summary)
        return {"preview": False, "run": billing.run_json(run)}

    def energy_costs(self, s: Session, inp: billing.RunInput, summary: dict) -> int:
        """Book the utility cost of each shared item's master meter (items with ``cost_price``)."""
        from .expenses import record_energy_cost
        items = {it["code"]: it for it in inp.items}
        n = 0
        for sh in summary.get("shared", ()):
            price = (items.get(sh["fee"], {}).get("params") or {}).get("cost_price")
            if price is None or sh.get("held"):
                continue
            if record_energy_cost(s, inp.property_id, inp.period, sh["master"], sh["master_consumption"], price,
                                  inp.issued_on, self.clock(), supplier=(items[sh["fee"]]["params"].get("supplier")
                                                                         or "grid")):
                n += 1
        return n

    # -- periodic jobs ---------------------------------------------------------------------------

    def late_fees(self, s: Session, as_of: date | None = None, actor: str = "system") -> int:
        """Bring late fees up to ``as_of`` (default today); returns the number of new late-fee lines."""
        cfg = self.section.get("late_fee") or {}
        if cfg.get("enabled") is False:
            return 0
        pid = self.prepare(s)
        made = bills.assess_late_fees(s, pid, as_of or self.today(), Decimal(cfg.get("daily_rate", "0.003")),
                                      Decimal(cfg.get("cap", "1")), self.clock(), actor)
        return len(made)

    def reminders(self, s: Session, today: date | None = None) -> list[dict]:
        """Reminder messages due now (recorded; the caller enqueues them)."""
        cfg = self.section.get("dunning") or {}
        if cfg.get("enabled") is False:
            return []
        pid = self.prepare(s)
        outbox = self.outbox()
        channels = set(getattr(outbox, "channels", {}) or {}) or None
        return dunning.due_reminders(s, pid, today or self.today(), cfg.get("steps") or [], self.clock(), channels)

    async def daily(self) -> dict:
        """Late fees then dunning reminders through the notification outbox."""
        n = await self.db.run(self.late_fees)
        msgs = await self.db.run(self.reminders)
        sent = self.enqueue(msgs)
        return {"late_fee_lines": n, "reminders": len(msgs), "queued": sent}

    def enqueue(self, msgs: list[dict]) -> int:
        """Hand reminder messages to the outbox (on the reactor thread); returns how many were queued."""
        outbox = self.outbox()
        if outbox is None or not msgs:
            if msgs:
                log.warning("finance: %d reminder(s) recorded but no notification outbox is configured", len(msgs))
            return 0
        from alarms.notify import Message
        n = 0
        for m in msgs:
            try:
                outbox.enqueue(Message(channel=m["channel"], recipient=m["recipient"], subject=m["subject"],
                                       body=m["body"], source=m["source"]))
                n += 1
            except KeyError as exc:
                log.warning("finance: reminder %s not queued: %s", m["source"], exc)
        return n




__all__ = ["FinanceApp", "timedelta"]
